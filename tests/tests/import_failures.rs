//! Bad inputs and failing dependencies, one case per test, each with its outcome:
//! retried, waiting (attempts not counted) or dead (with a reason naming the problem),
//! and never a duplicate contact in WFO.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{FaultyStore, PutFailure};
use wfo_domain::Secret;
use wfo_domain::config::MetadataMapping;
use wfo_domain::ledger::{Discovery, Health, LedgerItem, Stage};
use wfo_harness::{CLIENT_ID, Harness, HarnessConfig, WfoFaults};
use wfo_pipeline::import::{ImportSettings, Importer, Outcome};
use wfo_pipeline::ports::{ConnectorStore, Ledger, Store, TokenStore};
use wfo_sim_webex::{Fault, FaultConfig, ScenarioInstance};

async fn start(tweak: impl FnOnce(&mut HarnessConfig)) -> (Harness, tempfile::TempDir) {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().join("state"));
    tweak(&mut cfg);
    let h = Harness::start(cfg).await.unwrap();
    (h, dir)
}

/// Authorized, webhook registered: published recordings are delivered at once.
async fn start_live(tweak: impl FnOnce(&mut HarnessConfig)) -> (Harness, tempfile::TempDir) {
    let (h, dir) = start(tweak).await;
    h.authorize().await.unwrap();
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");
    (h, dir)
}

/// Authorized, but the harness's own runtime never sees an item (no webhook, no poller):
/// the test drives an `Importer` over a private store.
async fn start_quiet() -> (Harness, tempfile::TempDir) {
    let (h, dir) = start(|c| {
        c.webhook = false;
        c.poller_enabled = false;
    })
    .await;
    h.authorize().await.unwrap();
    (h, dir)
}

fn importer(store: &Arc<FaultyStore>, lease: Duration) -> Importer {
    let dyn_store: Arc<dyn Store> = store.clone();
    let settings = ImportSettings {
        lease,
        ..ImportSettings::fast()
    };
    let connections = wfo_pipeline::connections::Connections::new(
        dyn_store,
        wfo_sources::Sources::shared(),
        settings.http_policy.clone(),
    )
    .unwrap();
    Importer::new(connections, settings)
}

fn instance(h: &Harness, scenario: &str, minutes_ago: i64) -> ScenarioInstance {
    h.instantiate(scenario, Utc::now() - chrono::Duration::minutes(minutes_ago))
        .unwrap()
}

async fn items(h: &Harness, ids: &[String]) -> Vec<LedgerItem> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(item) = h.store.get(&h.connector.id, id).await.unwrap() {
            out.push(item);
        }
    }
    out
}

/// Waits until every item exists and satisfies `pred`; returns them.
async fn wait_items(
    h: &Harness,
    ids: &[String],
    timeout: Duration,
    pred: impl Fn(&LedgerItem) -> bool,
) -> Vec<LedgerItem> {
    let got = common::eventually(timeout, || async {
        let now = items(h, ids).await;
        (now.len() == ids.len() && now.iter().all(&pred)).then_some(now)
    })
    .await;
    match got {
        Some(v) => v,
        None => panic!("items never reached the expected state: {:#?}", items(h, ids).await),
    }
}

fn assert_imported(h: &Harness, instances: &[&ScenarioInstance]) {
    for inst in instances {
        let problems = h.check(inst);
        assert!(problems.is_empty(), "{}: {problems:#?}", inst.scenario);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_link_refused_once_is_replaced_by_fresh_details_within_the_same_attempt() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let call = instance(&h, "basic-inbound", 30);
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store
        .discover(&h.connector.id, &id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();

    // Requests of one attempt, in order: metadata, the agent's eligibility (person,
    // licenses, recording setting), details, audio link, (details, audio link). Only the
    // first audio download is refused, as an expired ticket is.
    h.webex.set_faults(FaultConfig {
        include_media: true,
        ..FaultConfig::default()
    });
    h.webex.push_faults([
        Fault::Slow(Duration::ZERO),
        Fault::Slow(Duration::ZERO),
        Fault::Slow(Duration::ZERO),
        Fault::Slow(Duration::ZERO),
        Fault::Slow(Duration::ZERO),
        Fault::Status(403),
    ]);

    let outcome = importer(&store, Duration::from_secs(60))
        .process(&h.connector.id, &id)
        .await;
    assert_eq!(
        outcome,
        Outcome::Done,
        "{:?}",
        store.get(&h.connector.id, &id).await.unwrap()
    );
    // Every forced fault was used: an unauthenticated request now gets the real 401.
    let status = reqwest::get(format!("{}/v1/convergedRecordings/{id}", h.webex.base_url()))
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401, "the refused download consumed the forced 403");
    assert_imported(&h, &[&call]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_links_refused_for_a_while_are_retried_not_dead_and_the_audio_arrives_afterwards() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let call = instance(&h, "park-retrieve-same-user", 30);
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store
        .discover(&h.connector.id, &id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();

    h.webex.set_link_expired(true);
    let worker = importer(&store, Duration::from_secs(60));
    let outcome = worker.process(&h.connector.id, &id).await;
    assert!(matches!(outcome, Outcome::Later(_)), "{outcome:?}");
    let item = store.get(&h.connector.id, &id).await.unwrap().unwrap();
    assert_eq!(item.stage, Stage::ContactsImported, "contacts are in WFO, audio is not");
    assert_eq!(item.health, Health::Failed);
    assert_eq!(item.attempts, 1);
    assert!(
        item.last_error
            .as_deref()
            .unwrap_or("")
            .contains("download link expired"),
        "{:?}",
        item.last_error
    );
    assert!(
        h.received(std::slice::from_ref(&id))
            .iter()
            .all(|r| r.audio_bytes.is_none())
    );

    h.webex.set_link_expired(false);
    assert_eq!(worker.process(&h.connector.id, &id).await, Outcome::Done);
    assert_imported(&h, &[&call]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_metadata_is_dead_with_a_reason_naming_the_field_and_nothing_reaches_wfo() {
    let (h, _dir) = start_live(|_| {}).await;
    // Owned by a place although ownerType says USER.
    let mut place_owned = instance(&h, "basic-inbound", 60);
    place_owned.recordings[0].metadata["ownerId"] =
        "Y2lzY29zcGFyazovL3VzL1BMQUNFLzlhMWIyYzNkLTRlNWYtNGE2Yi04YzdkLTBlMWYyYTNiNGM1ZA".into();
    // No session start.
    let mut no_start = instance(&h, "hold-resume", 50);
    no_start.recordings[0].metadata["serviceData"]["session"]
        .as_object_mut()
        .unwrap()
        .remove("startTime");
    // A good call published alongside still imports.
    let good = instance(&h, "basic-outbound", 40);
    h.webex
        .publish_all(&[place_owned.clone(), no_start.clone(), good.clone()])
        .await;

    let ids: Vec<String> = [&place_owned, &no_start, &good]
        .iter()
        .flat_map(|i| i.recording_ids())
        .collect();
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());

    for (inst, field) in [(&place_owned, "ownerId"), (&no_start, "serviceData.session.startTime")] {
        let id = &inst.recording_ids()[0];
        let item = h.store.get(&h.connector.id, id).await.unwrap().unwrap();
        assert_eq!(item.health, Health::Dead, "{id}");
        assert_eq!(item.stage, Stage::Discovered);
        let reason = item.last_error.clone().unwrap_or_default();
        assert!(reason.contains(field), "the reason names {field}: {reason}");
        assert!(
            h.received(std::slice::from_ref(id)).is_empty(),
            "nothing in WFO for {id}"
        );
        // An operator sees it: listed with its reason, counted as dead.
        let listed = h.store.list(&h.connector.id, false, 100).await.unwrap();
        assert!(
            listed
                .iter()
                .any(|i| &i.item_id == id && i.health == Health::Dead && i.last_error.is_some())
        );
    }
    let counts = h.store.counts(&h.connector.id).await.unwrap();
    assert_eq!(counts.by_state.get("discovered/dead"), Some(&2), "{counts:?}");
    assert_imported(&h, &[&good]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_not_ready_waits_without_counting_attempts_then_imports() {
    let (h, _dir) = start_live(|_| {}).await;
    h.webex.set_metadata_delay(Duration::from_secs(3));
    let a = instance(&h, "basic-inbound", 60);
    let b = instance(&h, "blind-transfer", 50);
    h.webex.publish_all(&[a.clone(), b.clone()]).await;
    let ids: Vec<String> = a.recording_ids().into_iter().chain(b.recording_ids()).collect();

    let waiting = wait_items(&h, &ids, Duration::from_secs(3), |i| i.health == Health::Waiting).await;
    for item in &waiting {
        assert_eq!(item.stage, Stage::Discovered);
        assert_eq!(item.attempts, 0, "waiting for the source does not count as a failure");
        assert!(
            item.last_error.as_deref().unwrap_or("").contains("not ready"),
            "{:?}",
            item.last_error
        );
    }
    // While it waits, no attempt is ever counted.
    let watch_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < watch_until {
        for item in items(&h, &ids).await {
            // (A step in progress has counted its attempt; the wait gives it back.)
            if item.stage == Stage::Discovered && item.health == Health::Waiting {
                assert_eq!(item.attempts, 0, "{item:?}");
            }
            assert_ne!(item.health, Health::Dead);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());
    assert_imported(&h, &[&a, &b]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mapping_to_a_number_key_holds_items_with_a_reason_naming_the_label_until_fixed() {
    let (h, _dir) = start_live(|_| {}).await;
    let mut bad = h.connector.clone();
    bad.metadata_mapping.push(MetadataMapping {
        acd_field: "serviceData.callId".into(),
        label: "Hold Count".into(),
    });
    h.store.put_connector(&bad, Utc::now()).await.unwrap();

    let call = instance(&h, "basic-inbound", 60);
    h.webex.publish(&call).await;
    let ids = call.recording_ids();
    let held = wait_items(&h, &ids, Duration::from_secs(5), |i| i.health == Health::NeedsOperator).await;
    let reason = held[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("Hold Count"), "the reason names the label: {reason}");
    assert!(reason.contains("NUMBER"), "and says why: {reason}");
    // It stays held (a connector problem, not the item's): never dead, no attempts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for item in items(&h, &ids).await {
        assert_eq!(
            (item.stage, item.health, item.attempts),
            (Stage::Discovered, Health::NeedsOperator, 0),
            "{item:?}"
        );
    }
    assert!(h.received(&ids).is_empty(), "nothing imported with a broken mapping");

    h.store.put_connector(&h.connector, Utc::now()).await.unwrap();
    assert!(h.wait_settled(&ids, Duration::from_secs(15)).await.is_empty());
    assert_imported(&h, &[&call]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wfo_failing_or_dropping_every_import_still_yields_exactly_one_contact_per_external_id() {
    let (h, _dir) = start_live(|c| {
        // Every import fails: 30 % before WFO processes it, 70 % after (the contact is
        // saved, the answer is lost). Other routes fail 30 % of the time.
        c.wfo_faults = WfoFaults {
            server_error: 0.1,
            unavailable: 0.1,
            drop_connection: 0.1,
            processed_then_dropped: 0.7,
            ..WfoFaults::default()
        };
    })
    .await;
    let names = h.scenario_names();
    let calls: Vec<ScenarioInstance> = names
        .iter()
        .enumerate()
        .map(|(i, n)| instance(&h, n, 120 - 5 * i as i64))
        .collect();
    h.webex.publish_all(&calls).await;
    let ids: Vec<String> = calls.iter().flat_map(|c| c.recording_ids()).collect();
    let pending = h.wait_settled(&ids, Duration::from_secs(40)).await;
    assert!(pending.is_empty(), "not settled: {pending:?}");
    for item in items(&h, &ids).await {
        assert_eq!(item.stage, Stage::Done, "{item:?}");
    }
    assert_imported(&h, &calls.iter().collect::<Vec<_>>());

    let (dup_ext, dup_agents) = common::wfo_duplicates(&h).await;
    assert!(
        dup_ext.is_empty() && dup_agents.is_empty(),
        "{dup_ext:?} {dup_agents:?}"
    );
    let stats = h.wfo.stats();
    let import = stats
        .routes
        .get("POST /api/rest/wfo/contact/import")
        .cloned()
        .unwrap_or_default();
    let expected: u64 = calls
        .iter()
        .map(|c| c.expected.as_array().map_or(0, Vec::len) as u64)
        .sum();
    assert!(import.dropped > 0, "{import:?}");
    assert_eq!(
        import.statuses.get("200").copied().unwrap_or(0),
        0,
        "no import was ever answered: {import:?}"
    );
    assert_eq!(
        stats.creates.contacts, expected,
        "each contact created once: {import:?}"
    );
    println!("{expected} contacts; import route: {import:?}");
    h.shutdown().await;
}

/// Ledger writes of one item's whole life (healthy run), counted on a two-contact call.
const CRASH_SCENARIO: &str = "call-queue";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_or_lost_write_at_any_ledger_write_resumes_to_one_contact_each_with_audio() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let cid = h.connector.id.clone();

    // Baseline: how many ledger writes a healthy life takes.
    let base = instance(&h, CRASH_SCENARIO, 300);
    let base_id = base.recording_ids()[0].clone();
    h.webex.publish(&base).await;
    store
        .discover(&cid, &base_id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();
    store.heal();
    assert_eq!(
        importer(&store, Duration::from_secs(60)).process(&cid, &base_id).await,
        Outcome::Done
    );
    let writes = store.puts();
    // Step starts and results go together; the last contact id and the last upload go
    // with their step's result: start, metadata, contact id 1, contacts imported (with id
    // 2), audio 1, done (with audio 2).
    assert!(
        writes >= 6,
        "start, metadata, contact id 1, contacts imported, audio 1, done: got {writes}"
    );
    println!("a healthy {CRASH_SCENARIO} item takes {writes} ledger writes; failing each in turn");
    assert_imported(&h, &[&base]);

    let mut minutes_ago = 290;
    for n in 1..=writes {
        for mode in [PutFailure::Crash, PutFailure::Once] {
            let call = instance(&h, CRASH_SCENARIO, minutes_ago);
            minutes_ago -= 5;
            let id = call.recording_ids()[0].clone();
            h.webex.publish(&call).await;
            store.discover(&cid, &id, Discovery::Webhook, Utc::now()).await.unwrap();

            store.fail_put(n, mode);
            // A lease this short lets the next process take over at once.
            let first = importer(&store, Duration::from_millis(1)).process(&cid, &id).await;
            if mode == PutFailure::Crash {
                assert_ne!(
                    first,
                    Outcome::Done,
                    "the process died at write #{n}, so the item cannot be done yet"
                );
            }
            store.heal();
            tokio::time::sleep(Duration::from_millis(5)).await;

            let second = importer(&store, Duration::from_secs(60)).process(&cid, &id).await;
            assert_eq!(
                second,
                Outcome::Done,
                "after write #{n} ({mode:?}) failed: {:?}",
                store.get(&cid, &id).await
            );
            let item = store.get(&cid, &id).await.unwrap().unwrap();
            assert_eq!(
                (item.stage, item.health),
                (Stage::Done, Health::Ok),
                "after write #{n} ({mode:?}) failed: {item:?}"
            );
            assert!(
                item.contacts
                    .iter()
                    .all(|c| c.contact_id.is_some() && c.audio_bytes.is_some()),
                "{item:?}"
            );
            let problems = h.check(&call);
            assert!(problems.is_empty(), "after write #{n} ({mode:?}) failed: {problems:#?}");
        }
    }
    let (dup_ext, dup_agents) = common::wfo_duplicates(&h).await;
    assert!(
        dup_ext.is_empty() && dup_agents.is_empty(),
        "{dup_ext:?} {dup_agents:?}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_wfo_credentials_hold_items_naming_the_settings_until_the_password_is_fixed() {
    let (h, _dir) = start_live(|_| {}).await;
    let mut wrong = h.connector.clone();
    wrong.wfo.password = Secret::new("not-the-password");
    h.store.put_connector(&wrong, Utc::now()).await.unwrap();

    let a = instance(&h, "basic-inbound", 60);
    let b = instance(&h, "consult-transfer", 50);
    h.webex.publish_all(&[a.clone(), b.clone()]).await;
    let ids: Vec<String> = a.recording_ids().into_iter().chain(b.recording_ids()).collect();
    let held = wait_items(&h, &ids, Duration::from_secs(5), |i| i.health == Health::NeedsOperator).await;
    for item in &held {
        let reason = item.last_error.clone().unwrap_or_default();
        assert!(
            reason.contains("wfo.username") && reason.contains("wfo.password"),
            "{reason}"
        );
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for item in items(&h, &ids).await {
        assert_eq!(
            (item.health, item.attempts),
            (Health::NeedsOperator, 0),
            "held, not failing: {item:?}"
        );
    }
    assert!(h.received(&ids).is_empty());

    h.store.put_connector(&h.connector, Utc::now()).await.unwrap();
    assert!(h.wait_settled(&ids, Duration::from_secs(15)).await.is_empty());
    assert_imported(&h, &[&a, &b]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_token_refresh_pauses_items_for_reauthorization_and_they_import_after_it() {
    let (h, _dir) = start_live(|_| {}).await;
    // The source forgets every token of the integration, and ours is about to expire, so
    // the next use refreshes, and the refresh is refused.
    assert!(h.webex.revoke_integration(CLIENT_ID) > 0);
    let mut record = h.store.get_tokens(&h.connector.id).await.unwrap();
    let version = record.version;
    if let Some(t) = record.tokens.as_mut() {
        t.access_expires_at = Utc::now() - chrono::Duration::minutes(1);
    }
    h.store.put_tokens(&h.connector.id, &record, version).await.unwrap();

    let a = instance(&h, "basic-inbound", 60);
    let b = instance(&h, "conference", 50);
    h.webex.publish_all(&[a.clone(), b.clone()]).await;
    let ids: Vec<String> = a.recording_ids().into_iter().chain(b.recording_ids()).collect();
    let held = wait_items(&h, &ids, Duration::from_secs(5), |i| i.health == Health::NeedsOperator).await;
    for item in &held {
        let reason = item.last_error.clone().unwrap_or_default();
        assert!(reason.contains("re-authorization"), "{reason}");
    }
    let tokens = h.store.get_tokens(&h.connector.id).await.unwrap();
    assert!(
        tokens.reauth_required.is_some(),
        "the connector is marked: {:?}",
        tokens.reauth_required
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for item in items(&h, &ids).await {
        assert_eq!(
            (item.stage, item.health, item.attempts),
            (Stage::Discovered, Health::NeedsOperator, 0),
            "{item:?}"
        );
    }

    h.authorize().await.unwrap();
    assert!(h.wait_settled(&ids, Duration::from_secs(15)).await.is_empty());
    assert!(
        h.store
            .get_tokens(&h.connector.id)
            .await
            .unwrap()
            .reauth_required
            .is_none()
    );
    assert_imported(&h, &[&a, &b]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_lived_tokens_refreshed_by_many_workers_at_once_never_require_reauthorization() {
    let (h, _dir) = start(|_| {}).await;
    // Every use of a token this short-lived refreshes it first (it is always within the
    // refresh margin), and every refresh rotates the refresh token.
    h.webex.set_token_policy(wfo_sim_webex::TokenPolicy {
        access_lifetime: Duration::from_secs(120),
        ..wfo_sim_webex::TokenPolicy::default()
    });
    h.authorize().await.unwrap();
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");
    let names = h.scenario_names();
    let calls: Vec<ScenarioInstance> = names
        .iter()
        .enumerate()
        .map(|(i, n)| instance(&h, n, 120 - 5 * i as i64))
        .collect();
    h.webex.publish_all(&calls).await;
    let ids: Vec<String> = calls.iter().flat_map(|c| c.recording_ids()).collect();
    let pending = h.wait_settled(&ids, Duration::from_secs(20)).await;
    let tokens = h.store.get_tokens(&h.connector.id).await.unwrap();
    assert!(
        tokens.reauth_required.is_none(),
        "falsely marked: {:?}",
        tokens.reauth_required
    );
    assert!(pending.is_empty(), "not settled: {:#?}", items(&h, &pending).await);
    assert_imported(&h, &calls.iter().collect::<Vec<_>>());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_metadata_key_removed_in_wfo_after_planning_holds_the_item_and_it_heals_when_the_key_returns() {
    let (h, _dir) = start_live(|_| {}).await;
    // A first call resolves (and caches) the mapping against the tenant's keys.
    let first = instance(&h, "basic-inbound", 90);
    h.webex.publish(&first).await;
    assert!(
        h.wait_settled(&first.recording_ids(), Duration::from_secs(15))
            .await
            .is_empty()
    );

    // An administrator deletes a mapped key; the next call is planned with the cached
    // rules, so WFO answers its import with a 422 naming the key.
    let keys = h.wfo.handle().metadata_keys();
    let without: Vec<_> = keys.iter().filter(|k| k.key != "Recording-Id-key").cloned().collect();
    h.wfo.handle().set_metadata_keys(without).await.unwrap();
    let second = instance(&h, "basic-outbound", 60);
    h.webex.publish(&second).await;
    let ids = second.recording_ids();
    let held = wait_items(&h, &ids, Duration::from_secs(10), |i| i.health == Health::NeedsOperator).await;
    let reason = held[0].last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("Recording"),
        "the reason names the missing key or label: {reason}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for item in items(&h, &ids).await {
        assert_eq!(
            (item.health, item.attempts),
            (Health::NeedsOperator, 0),
            "held, never dead: {item:?}"
        );
        assert!(
            item.contacts.iter().all(|c| c.contact_id.is_none()),
            "nothing imported meanwhile"
        );
    }
    assert!(h.received(&ids).is_empty());
    let import_422s = h
        .wfo
        .stats()
        .routes
        .get("POST /api/rest/wfo/contact/import")
        .and_then(|r| r.statuses.get("422").copied());
    assert_eq!(
        import_422s,
        Some(1),
        "WFO refused the planned import once; the item then waited instead of repeating it"
    );

    // The key comes back: the item is planned again with the current keys and imports once.
    h.wfo.handle().set_metadata_keys(keys).await.unwrap();
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());
    assert_imported(&h, &[&second]);
    let got = h.received(&ids);
    assert_eq!(got.len(), 1);
    let stored = h
        .wfo
        .contacts()
        .into_iter()
        .find(|c| c.contact.id == got[0].contact_id)
        .unwrap();
    assert!(
        stored.contact.import.metadata.contains_key("Recording-Id-key"),
        "the mapped value arrived"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_still_running_at_the_invocation_deadline_is_cut_off_with_the_item_saved_and_the_attempt_counted() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let call = instance(&h, "basic-inbound", 30);
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store
        .discover(&h.connector.id, &id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();
    // WFO reads the audio and never answers: only the deadline ends the step.
    h.wfo.hold_audio_uploads(10);
    let imp = importer(&store, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(7);
    let outcome = imp.process_until(&h.connector.id, &id, Some(deadline)).await;
    assert!(matches!(outcome, Outcome::Later(_)), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "stopped at the deadline: {:?}",
        started.elapsed()
    );
    let item = store.get(&h.connector.id, &id).await.unwrap().unwrap();
    assert_eq!(
        item.stage,
        Stage::ContactsImported,
        "the steps before were saved: {item:?}"
    );
    assert_eq!(item.attempts, 1, "{item:?}");
    assert!(
        item.last_error.as_deref().unwrap_or("").contains("deadline"),
        "{item:?}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_off_by_a_crash_is_a_counted_attempt_with_a_reason_not_a_silent_repeat() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let call = instance(&h, "basic-inbound", 30);
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store
        .discover(&h.connector.id, &id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();
    h.wfo.hold_audio_uploads(10);
    let imp = importer(&store, Duration::from_secs(1));
    // The process "dies" mid-upload: the future is dropped.
    let _ = tokio::time::timeout(Duration::from_secs(2), imp.process(&h.connector.id, &id)).await;
    let item = store.get(&h.connector.id, &id).await.unwrap().unwrap();
    assert_eq!(item.attempts, 1, "{item:?}");
    assert!(item.in_step, "{item:?}");
    assert!(item.next_attempt_at.is_some(), "retried after a backoff: {item:?}");
    // Once the dead process's lease expires, the next run goes on from what was saved.
    h.wfo.hold_audio_uploads(0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _ = imp.process(&h.connector.id, &id).await;
    let item = store.get(&h.connector.id, &id).await.unwrap().unwrap();
    assert_eq!(item.stage, Stage::Done, "{item:?}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compliance_role_taken_away_holds_items_for_an_operator_and_they_heal_once_it_is_granted() {
    let (h, _dir) = start_live(|_| {}).await;
    h.webex.set_compliance_role(false);
    let call = instance(&h, "consult-transfer", 60);
    h.webex.publish(&call).await;
    let ids = call.recording_ids();

    let held = wait_items(&h, &ids, Duration::from_secs(10), |i| i.health == Health::NeedsOperator).await;
    let reason = held[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("403"), "the reason says what Webex answered: {reason}");
    let mark = wfo_pipeline::attention::load(h.store.as_ref(), &h.connector.id)
        .await
        .unwrap()
        .expect("the connector is marked as needing an operator");
    assert!(mark.reason.contains("Compliance Officer"), "{mark:?}");
    // Held for longer than many retry cycles: never counted, never dead.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for item in items(&h, &ids).await {
        assert_eq!((item.health, item.attempts), (Health::NeedsOperator, 0), "{item:?}");
    }
    assert!(h.received(&ids).is_empty());

    // The administrator grants the role again; nobody touches the connector.
    h.webex.set_compliance_role(true);
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());
    assert_imported(&h, &[&call]);
    assert_eq!(
        wfo_pipeline::attention::load(h.store.as_ref(), &h.connector.id)
            .await
            .unwrap(),
        None,
        "the mark is cleared by the first step that succeeds"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ineligible_agent_on_a_call_queue_recording_gets_no_person_and_no_contact() {
    let (h, _dir) = start_live(|_| {}).await;
    // Carol answers the queue call first; her recording was switched off (the guide's
    // way to leave someone out of WFO). Dave, who takes the transfer, is recorded.
    const CAROL: &str = "b5e81f03-6d2a-47c9-8b14-9e3f0a2c5d33";
    const DAVE: &str = "e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44";
    h.webex
        .update_person(CAROL, |p| p.recording = wfo_sim_webex::SimRecording::off())
        .unwrap();
    let call = instance(&h, "call-queue", 60);
    h.webex.publish(&call).await;
    let ids = call.recording_ids();
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());

    let received = h.received(&ids);
    assert!(
        received.iter().all(|c| c.agent_acd_id != CAROL),
        "no contact for Carol: {received:#?}"
    );
    assert!(
        received.iter().any(|c| c.agent_acd_id == DAVE),
        "Dave's contact arrives: {received:#?}"
    );
    let carol_persons = h
        .wfo
        .persons()
        .into_iter()
        .filter(|p| p.input.acd_id.as_deref() == Some(CAROL))
        .count();
    assert_eq!(carol_persons, 0, "no WFO person is created for an excluded agent");
    let item = h.store.get(&h.connector.id, &ids[0]).await.unwrap().unwrap();
    assert_eq!(item.stage, Stage::Done);
    assert!(
        item.notes
            .iter()
            .any(|n| n.contains(CAROL) && n.contains("recording is off")),
        "the item says which segment was skipped and why: {:?}",
        item.notes
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_an_html_or_a_cut_download_is_never_counted_as_uploaded() {
    let (h, dir) = start_quiet().await;
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let call = instance(&h, "basic-inbound", 30);
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store
        .discover(&h.connector.id, &id, Discovery::Webhook, Utc::now())
        .await
        .unwrap();
    let importer = importer(&store, Duration::from_secs(60));

    for (bad, says) in [
        (wfo_sim_webex::BadDownload::Empty, "empty"),
        (wfo_sim_webex::BadDownload::Html, "HTML"),
        (wfo_sim_webex::BadDownload::Truncated, ""),
    ] {
        // Bad every time the step tries (it tries a few downloads before it gives up).
        h.webex.serve_bad_downloads([bad; 3]);
        let outcome = importer.process(&h.connector.id, &id).await;
        let item = store.get(&h.connector.id, &id).await.unwrap().unwrap();
        assert!(matches!(outcome, Outcome::Later(_)), "{bad:?}: {outcome:?} {item:?}");
        assert_eq!(item.health, Health::Failed, "{bad:?}: retried, counted");
        assert!(
            item.contacts.iter().all(|c| c.audio_bytes.is_none()),
            "{bad:?}: not counted as uploaded: {item:?}"
        );
        let error = item.last_error.clone().unwrap_or_default();
        assert!(error.contains(says), "{bad:?}: the reason names it: {error}");
        // What WFO holds for the contact is not a recording either.
        let contact = h
            .wfo
            .contacts()
            .into_iter()
            .find(|c| c.contact.import.external_id.starts_with("wxc:"));
        if let Some(c) = contact {
            assert!(
                h.wfo
                    .audio_bytes(c.contact.id)
                    .is_none_or(|b| b.len() > 1000 && b[0] == 0xFF || b.starts_with(b"ID3")),
                "{bad:?}: WFO holds no empty or HTML audio"
            );
        }
        // Make the item due again at once.
        let mut again = store.get(&h.connector.id, &id).await.unwrap().unwrap();
        again.next_attempt_at = Some(Utc::now());
        store.put(&again).await.unwrap();
    }
    assert_eq!(importer.process(&h.connector.id, &id).await, Outcome::Done);
    assert_imported(&h, &[&call]);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_racing_through_a_70_second_person_listing_create_one_person() {
    // No user sync: the import is the only creator of the agent's person.
    let (h, dir) = start(|c| {
        c.webhook = false;
        c.poller_enabled = false;
        c.user_sync = false;
    })
    .await;
    h.authorize().await.unwrap();
    let store = common::private_store(&h, &dir.path().join("private")).await;
    // Two calls answered by the same agent, one per worker.
    let a = instance(&h, "basic-inbound", 40);
    let b = instance(&h, "basic-inbound", 30);
    h.webex.publish_all(&[a.clone(), b.clone()]).await;
    let (id_a, id_b) = (a.recording_ids()[0].clone(), b.recording_ids()[0].clone());
    for id in [&id_a, &id_b] {
        store
            .discover(&h.connector.id, id, Discovery::Webhook, Utc::now())
            .await
            .unwrap();
    }
    // WFO takes 70 s to list its persons: longer than the 60 s person lock.
    h.wfo
        .set_faults(WfoFaults {
            slow: 1.0,
            slow_delay_ms: 70_000,
            // The listing shows the directory as it was when asked.
            slow_answer: true,
            only_paths: vec!["/api/rest/org/common/person/permission".into()],
            ..WfoFaults::default()
        })
        .unwrap();
    // Two workers: separate importers (owners, WFO sessions) over one store.
    let worker = || Arc::new(importer(&store, ImportSettings::fast().lease));
    let (w1, w2) = (worker(), worker());
    let started = std::time::Instant::now();
    let run = |w: Arc<Importer>, id: String, connector: String| async move {
        // Keep at it, as the worker loop would, until the item is done.
        loop {
            match w.process(&connector, &id).await {
                Outcome::Done => return,
                Outcome::Dead(e) => panic!("{id} dead: {e}"),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    };
    let healer = {
        let wfo = h.wfo.handle();
        async move {
            // Only the first listing (the first lock holder's) is slow: once it is under
            // way, WFO answers quickly again, so a second worker that took an expired
            // lock would find no person and create one while the first is still waiting.
            tokio::time::sleep(Duration::from_secs(5)).await;
            wfo.set_faults(WfoFaults::default()).unwrap();
        }
    };
    let ((), (), ()) = tokio::join!(
        run(w1, id_a.clone(), h.connector.id.clone()),
        run(w2, id_b.clone(), h.connector.id.clone()),
        healer
    );
    println!("both calls imported after {:?}", started.elapsed());
    assert!(
        started.elapsed() >= Duration::from_secs(70),
        "the slow listing was really waited for"
    );
    let agent = h.received(&[id_a.clone(), id_b.clone()])[0].agent_acd_id.clone();
    let persons: Vec<_> = h
        .wfo
        .persons()
        .into_iter()
        .filter(|p| p.input.acd_id.as_deref() == Some(agent.as_str()))
        .map(|p| p.id)
        .collect();
    assert_eq!(
        persons.len(),
        1,
        "one person for the agent, whatever the timing: {persons:?}"
    );
    assert_imported(&h, &[&a, &b]);
    h.shutdown().await;
}

/// A connector held for an operator heals through its preflight: while a check fails it
/// stays held (the check is named), and once every check passes the mark is cleared and
/// the held items resume at once — not at their next look, ten minutes away here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_connector_resumes_as_soon_as_its_preflight_passes() {
    use wfo_pipeline::preflight::{Healing, PreflightSettings, heal};
    let (h, _dir) = start_live(|c| c.import.paused_delay = chrono::Duration::minutes(10)).await;
    let default = h.wfo.teams().into_iter().find(|t| t.is_default).unwrap();
    assert!(h.wfo.handle().set_team_default(default.id, false).await.unwrap());

    let a = instance(&h, "basic-inbound", 60);
    let b = instance(&h, "consult-transfer", 50);
    h.webex.publish_all(&[a.clone(), b.clone()]).await;
    let ids: Vec<String> = a.recording_ids().into_iter().chain(b.recording_ids()).collect();
    wait_items(&h, &ids, Duration::from_secs(10), |i| i.health == Health::NeedsOperator).await;
    let connector = h.store.get_connector(&h.connector.id).await.unwrap().unwrap();
    let connections = h.runtime.connections.clone();
    let settings = PreflightSettings::default();

    match heal(&connections, &connector, &settings, Utc::now()).await.unwrap() {
        Healing::StillNeeded(line) => assert!(line.contains("Default Team"), "{line}"),
        other => panic!("the tenant still has no Default Team: {other:?}"),
    }
    assert!(h.received(&ids).is_empty());

    assert!(h.wfo.handle().set_team_default(default.id, true).await.unwrap());
    match heal(&connections, &connector, &settings, Utc::now()).await.unwrap() {
        Healing::Healed(n) => assert_eq!(n, ids.len(), "every held item resumes"),
        other => panic!("every check passes now: {other:?}"),
    }
    assert_eq!(
        wfo_pipeline::attention::load(h.store.as_ref(), &h.connector.id)
            .await
            .unwrap(),
        None,
        "the mark is cleared"
    );
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());
    assert_imported(&h, &[&a, &b]);
    assert_eq!(
        heal(&connections, &connector, &settings, Utc::now()).await.unwrap(),
        Healing::NotMarked
    );
    h.shutdown().await;
}
