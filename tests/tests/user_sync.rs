//! The user sync against both simulators: Webex Calling users kept in step with WFO
//! persons (issue 4). Each test starts its own simulators and store on 127.0.0.1 and
//! shuts them down.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use wfo_client::{AudioBody, NewAgent, WfoApi, WfoClient, WfoClientConfig, WfoError};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::wfo::{
    AudioFormat, AudioUploaded, Contact, ContactImport, MetadataKey, Person, PersonInput, Queue, QueueInput, Role,
    Team, TeamInput,
};
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::SourceError;
use wfo_pipeline::ports::{ConnectorStore, KvStore, Store, StoredConnector, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::sync::{SyncDeps, SyncError, SyncRun, SyncSettings, load_status, person_lock_name, sync_connector};
use wfo_sim_webex::people::{BASIC_LICENSE, PROFESSIONAL_LICENSE};
use wfo_sim_webex::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Fault, RunningWebexSim, SimLicense, SimPerson, SimRecording,
    SyntheticOrg, WebexSim, WebexSimConfig,
};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;
use wfo_webex_calling::{CHANGE_FEED_KEY, NO_PROFESSIONAL_LICENSE, REQUIRED_SCOPES, RetryPolicy, SCOPE_AUDIT_EVENTS};

const CONNECTOR: &str = "acme-calling";
const SERVER: i64 = 3;
const WFO_USER: &str = "api-user@acme.example";
const WFO_PASSWORD: &str = "wfo-pass-9";
/// The cast of `fixtures/webex-calling/users.json`.
const ALICE: &str = "3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11";
const BOB: &str = "7a2d9e44-1c3b-4f58-a6e0-2b9c8d7e6f22";
const CAROL: &str = "b5e81f03-6d2a-47c9-8b14-9e3f0a2c5d33";
const DAVE: &str = "e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44";
const NEWBIE: &str = "0a0b0c0d-1111-4222-8333-444455556666";

/// Two simulators, a store with one authorized connector, and the clients of a run.
struct World {
    wfo: RunningSim,
    webex: RunningWebexSim,
    store: Arc<SqliteStore>,
    connector: StoredConnector,
    connections: Arc<Connections>,
    wfo_client: Arc<dyn WfoApi>,
    _dir: tempfile::TempDir,
}

impl World {
    /// With the scopes the sync needs and the audit-events scope of its change feed.
    async fn start() -> Self {
        let mut scopes = REQUIRED_SCOPES.to_vec();
        scopes.push(SCOPE_AUDIT_EVENTS);
        Self::start_with(&[], &scopes).await
    }

    async fn start_with(teams: &[TeamInput], scopes: &[&str]) -> Self {
        let wfo = WfoSim::start(SimConfig {
            users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
            teams: teams.to_vec(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let config = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CONNECTOR}"
acd_name = "Acme Webex Calling"
kind = "webex-calling"
acd_server_id = {SERVER}

[source]
api_url = "{webex}"
identity_url = "{webex}"
tenant_id = "{org}"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

# These tests exercise the sync's own creates (the guide's default leaves creation to
# the first recording's import: see user_sync_rules.rs).
[sync]
create_persons = "all_eligible"
"#,
            webex = webex.base_url(),
            wfo = wfo.base_url(),
            org = webex.org_id(),
        ))
        .unwrap();
        let connector = store.put_connector(&config, Utc::now()).await.unwrap();
        let granted = webex.issue_tokens(DEFAULT_CLIENT_ID, scopes).unwrap();
        let now = Utc::now();
        let record = TokenRecord {
            tokens: Some(TokenSet {
                access_token: Secret::new(granted.access_token),
                access_expires_at: now + chrono::Duration::seconds(granted.expires_in as i64),
                refresh_token: Some(Secret::new(granted.refresh_token)),
                refresh_expires_at: Some(now + chrono::Duration::seconds(granted.refresh_token_expires_in as i64)),
                scopes: granted.scope.split(' ').map(str::to_owned).collect(),
                obtained_at: now,
            }),
            reauth_required: None,
            version: 0,
        };
        store.put_tokens(CONNECTOR, &record, 0).await.unwrap();
        let http = reqwest::Client::new();
        let connections = Connections::with_clients(
            store.clone(),
            wfo_sources::Sources::shared(),
            RetryPolicy::fast(),
            http.clone(),
            http.clone(),
        );
        let mut wfo_cfg = WfoClientConfig::new(wfo.base_url(), WFO_USER, Secret::new(WFO_PASSWORD));
        wfo_cfg.policy = RetryPolicy::fast();
        let wfo_client: Arc<dyn WfoApi> = Arc::new(WfoClient::with_http_client(wfo_cfg, http.clone()));
        Self {
            wfo,
            webex,
            store,
            connector,
            connections,
            wfo_client,
            _dir: dir,
        }
    }

    async fn sync_with(&self, wfo: &dyn WfoApi, settings: &SyncSettings) -> Result<SyncRun, SyncError> {
        let deps = SyncDeps {
            connections: &self.connections,
            wfo,
        };
        sync_connector(&deps, &self.connector, settings).await
    }

    async fn sync(&self) -> SyncRun {
        self.sync_with(self.wfo_client.as_ref(), &SyncSettings::fast())
            .await
            .unwrap()
    }

    /// Persons of our ACD server by ACD id.
    fn persons(&self) -> BTreeMap<String, Person> {
        self.wfo
            .persons()
            .into_iter()
            .filter(|p| p.input.acd_server_id == Some(SERVER))
            .map(|p| (p.input.acd_id.clone().unwrap_or_default(), p))
            .collect()
    }

    fn active(&self) -> Vec<String> {
        self.persons()
            .into_iter()
            .filter(|(_, p)| p.input.deactivated.is_none())
            .map(|(id, _)| id)
            .collect()
    }

    /// `POST`/`PUT` person requests WFO received so far.
    fn wfo_writes(&self) -> u64 {
        let stats = self.wfo.stats();
        [
            "POST /api/rest/org/common/person",
            "PUT /api/rest/org/common/person/{id}",
        ]
        .iter()
        .map(|r| stats.routes.get(*r).map_or(0, |s| s.calls))
        .sum()
    }

    async fn shutdown(self) {
        self.wfo.shutdown().await.unwrap();
        self.webex.shutdown().await;
    }
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

// ---- eligibility --------------------------------------------------------------------------

#[tokio::test]
async fn only_professional_users_with_recording_on_get_a_person_named_and_keyed_like_the_import_expects() {
    let w = World::start().await;
    let mut basic = SimPerson::recorded(
        "11111111-0000-4000-8000-000000000001",
        "Basil",
        "Basic",
        "basil@acme.example",
    );
    basic.licenses = vec![BASIC_LICENSE.into()];
    let mut off = SimPerson::recorded(
        "11111111-0000-4000-8000-000000000002",
        "Olive",
        "Off",
        "olive@acme.example",
    );
    off.recording = SimRecording::off();
    let mut never = SimPerson::recorded(
        "11111111-0000-4000-8000-000000000003",
        "Neve",
        "Never",
        "neve@acme.example",
    );
    never.recording = SimRecording {
        enabled: true,
        record: "Never".into(),
    };
    let mut bot = SimPerson::recorded(
        "11111111-0000-4000-8000-000000000004",
        "Robo",
        "Bot",
        "bot@acme.example",
    );
    bot.person_type = "bot".into();
    w.webex.upsert_people([basic, off, never, bot]);

    let run = w.sync().await;

    assert!(run.complete, "{run:?}");
    assert_eq!(w.active(), sorted(&[ALICE, BOB, CAROL, DAVE]));
    let alice = &w.persons()[ALICE];
    assert_eq!(
        (alice.input.first_name.as_str(), alice.input.last_name.as_str()),
        ("Alice", "Nguyen")
    );
    assert_eq!(alice.input.email.as_deref(), Some("alice.nguyen@acme-demo.example"));
    let default_team = w.wfo.teams().into_iter().find(|t| t.is_default).unwrap();
    assert_eq!(alice.input.group_id, default_team.id);
    assert_eq!(
        alice.input.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["Agent"]
    );
    assert_eq!(
        (run.counts.created, run.counts.not_eligible),
        (4, 3),
        "the bot is not a user"
    );
    assert_eq!(run.wfo_writes, 4);
    assert_eq!(w.wfo_writes(), 4);
    w.shutdown().await;
}

#[tokio::test]
async fn several_professional_subscriptions_all_count_and_a_renamed_license_list_without_professional_changes_nothing()
{
    let w = World::start().await;
    let mut licenses = w.webex.licenses();
    licenses.push(SimLicense::new(
        "wxc-professional-2",
        " webex calling - professional",
        "Sub-B",
    ));
    w.webex.set_licenses(licenses);
    let mut second = SimPerson::recorded(NEWBIE, "Nia", "Second", "nia@acme.example");
    second.licenses = vec!["wxc-professional-2".into()];
    w.webex.upsert_people([second]);
    w.sync().await;
    assert_eq!(w.active().len(), 5);

    w.webex
        .set_licenses(vec![SimLicense::new(BASIC_LICENSE, "Webex Calling - Basic", "Sub-A")]);
    let writes = w.wfo_writes();
    let e = w
        .sync_with(w.wfo_client.as_ref(), &SyncSettings::fast())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SyncError::Source(SourceError::Permanent(m)) if m == NO_PROFESSIONAL_LICENSE),
        "{e}"
    );
    assert_eq!(w.wfo_writes(), writes, "nobody deactivated");
    assert_eq!(w.active().len(), 5);
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(status.last_run.error.unwrap().contains("Professional"));
    assert!(status.last_complete_at.is_some());
    w.shutdown().await;
}

/// Per-user recording-setting reads the simulator answered since the last reset.
fn setting_reads(w: &World) -> u64 {
    w.webex
        .request_counts()
        .get("GET /v1/people/{id}/features/callRecording")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_user_switched_to_recording_never_is_not_eligible_at_the_next_sync() {
    let w = World::start().await;
    w.sync().await;
    // Control Hub: recording stays enabled (Bob stays on the vendor roster), mode Never.
    w.webex
        .update_person(BOB, |p| p.recording.record = "Never".into())
        .unwrap();
    assert!(w.webex.person(BOB).unwrap().recording.enabled);
    w.webex.reset_request_counts();

    let run = w.sync().await;

    assert_eq!(run.counts.deactivated, 1, "{run:?}");
    assert!(w.persons()[BOB].input.deactivated.is_some());
    assert_eq!(w.active(), sorted(&[ALICE, CAROL, DAVE]));
    assert_eq!(
        (run.source_calls.change_feed_pages, run.source_calls.setting_reads),
        (1, 1),
        "one audit-events page, and only Bob's setting read again"
    );
    assert_eq!(setting_reads(&w), 1);
    assert!(run.complete && run.warnings == 0, "{run:?}");

    // Once read, the verdict holds: the next run reads no setting and writes nothing.
    let again = w.sync().await;
    assert_eq!((again.source_calls.setting_reads, again.wfo_writes), (0, 0));
    w.shutdown().await;
}

#[tokio::test]
async fn a_user_switched_back_to_recording_always_is_reactivated_at_the_next_sync() {
    let w = World::start().await;
    w.sync().await;
    w.webex
        .update_person(CAROL, |p| p.recording.record = "Never".into())
        .unwrap();
    assert_eq!(w.sync().await.counts.deactivated, 1);

    w.webex
        .update_person(CAROL, |p| p.recording.record = "Always".into())
        .unwrap();
    let run = w.sync().await;

    assert_eq!(
        (
            run.counts.reactivated,
            run.counts.created,
            run.source_calls.setting_reads
        ),
        (1, 0, 1),
        "{run:?}"
    );
    assert!(w.persons()[CAROL].input.deactivated.is_none());
    w.shutdown().await;
}

#[tokio::test]
async fn without_the_audit_events_every_candidates_mode_is_read_each_run_and_the_run_says_so() {
    // The token lacks audit:events_read: the feed answers 403.
    let w = World::start_with(&[], REQUIRED_SCOPES).await;
    let first = w.sync().await;
    assert_eq!(
        (first.source_calls.setting_reads, first.source_calls.change_feed_pages),
        (4, 0),
        "a first run reads every mode and needs no feed"
    );
    w.webex
        .update_person(DAVE, |p| p.recording.record = "Never".into())
        .unwrap();
    w.webex.reset_request_counts();

    let run = w.sync().await;

    assert_eq!(run.counts.deactivated, 1, "{run:?}");
    assert!(w.persons()[DAVE].input.deactivated.is_some());
    assert_eq!(run.source_calls.setting_reads, 4, "every candidate read again");
    assert_eq!(setting_reads(&w), 4);
    assert!(run.complete, "a fallback is not a failure: {run:?}");
    assert_eq!(run.warnings, 1);
    assert!(
        run.warning_samples[0].contains("recording modes read again for 4 of 4 candidates")
            && run.warning_samples[0].contains("audit:events_read"),
        "{:?}",
        run.warning_samples
    );

    // With fewer reads allowed than candidates, the oldest verdicts go first and the
    // run says the rest wait.
    let settings = SyncSettings {
        max_setting_reads: 2,
        ..SyncSettings::fast()
    };
    let run = w.sync_with(w.wfo_client.as_ref(), &settings).await.unwrap();
    assert_eq!(run.source_calls.setting_reads, 2);
    assert!(run.warning_samples[0].contains("2 of 4 candidates") && run.warning_samples[0].contains("next runs"));
    w.shutdown().await;
}

#[tokio::test]
async fn a_store_without_a_feed_position_reads_every_mode_oldest_first_then_trusts_the_feed() {
    let w = World::start().await;
    w.sync().await;
    // A snapshot of verdicts from before the change feed: no position stored.
    w.store
        .put_value(CONNECTOR, CHANGE_FEED_KEY, &serde_json::Value::Null)
        .await
        .unwrap();
    let two = SyncSettings {
        max_setting_reads: 2,
        ..SyncSettings::fast()
    };

    // Two runs of two reads: every verdict read again after the catch-up began.
    let run = w.sync_with(w.wfo_client.as_ref(), &two).await.unwrap();
    assert_eq!(
        (run.source_calls.setting_reads, run.source_calls.change_feed_pages),
        (2, 0)
    );
    assert!(
        run.warning_samples[0].contains("no change-feed position"),
        "{:?}",
        run.warning_samples
    );
    let run = w.sync_with(w.wfo_client.as_ref(), &two).await.unwrap();
    assert_eq!(run.source_calls.setting_reads, 2);
    assert!(
        run.warning_samples[0].contains("catching up"),
        "{:?}",
        run.warning_samples
    );

    // From now on the feed decides: only the user it names is read.
    w.webex
        .update_person(BOB, |p| p.recording.record = "Never".into())
        .unwrap();
    let run = w.sync_with(w.wfo_client.as_ref(), &two).await.unwrap();
    assert_eq!(
        (run.source_calls.setting_reads, run.counts.deactivated, run.warnings),
        (1, 1, 0),
        "{run:?}"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn an_audit_feed_that_answers_404_falls_back_to_reading_every_mode_and_the_feed_is_used_again_after() {
    let w = World::start().await;
    w.sync().await;
    w.webex
        .update_person(ALICE, |p| p.recording.record = "Never".into())
        .unwrap();
    w.webex
        .push_route_fault("GET /v1/adminAudit/events", 0, 1, Fault::Status(404));

    let run = w.sync().await;
    assert_eq!(
        (run.counts.deactivated, run.source_calls.setting_reads),
        (1, 4),
        "{run:?}"
    );
    assert!(
        run.warning_samples[0].contains("could not be read"),
        "{:?}",
        run.warning_samples
    );

    // The feed answers again: back to reading only what it names. Alice's event is in
    // the overlap of this read but was not acted on by a feed read yet: read once more.
    let run = w.sync().await;
    assert_eq!((run.source_calls.setting_reads, run.wfo_writes), (1, 0), "{run:?}");
    let run = w.sync().await;
    assert_eq!(
        (
            run.source_calls.setting_reads,
            run.source_calls.change_feed_pages,
            run.warnings
        ),
        (0, 1, 0),
        "{run:?}"
    );
    w.shutdown().await;
}

// ---- deltas -------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_run_without_source_changes_makes_zero_wfo_writes_and_reads_no_settings() {
    let w = World::start().await;
    w.sync().await;
    let writes = w.wfo_writes();
    w.webex.reset_request_counts();

    let run = w.sync().await;

    assert_eq!(w.wfo_writes(), writes);
    assert_eq!((run.wfo_writes, run.counts.unchanged), (0, 4));
    assert!(run.complete && run.error.is_none(), "{run:?}");
    let calls = w.webex.request_counts();
    assert_eq!(
        calls.get("GET /v1/people/{id}/features/callRecording"),
        None,
        "verdicts come from the snapshot"
    );
    assert_eq!(
        calls.values().sum::<u64>(),
        4,
        "licenses, one roster page, one people page, one audit-events page: {calls:?}"
    );
    assert_eq!(calls.get("GET /v1/adminAudit/events"), Some(&1));
    w.shutdown().await;
}

#[tokio::test]
async fn each_source_change_becomes_exactly_one_wfo_write() {
    let w = World::start().await;
    w.sync().await;
    let before = w.wfo_writes();

    w.webex
        .update_person(ALICE, |p| p.first_name = Some("Alicia".into()))
        .unwrap(); // rename
    assert!(w.webex.remove_person(BOB)); // deleted
    w.webex
        .update_person(CAROL, |p| p.licenses = vec![BASIC_LICENSE.into()])
        .unwrap(); // license gone
    w.webex
        .update_person(DAVE, |p| p.recording = SimRecording::off())
        .unwrap(); // recording off
    w.webex
        .upsert_people([SimPerson::recorded(NEWBIE, "Nia", "New", "nia@acme.example")]); // new
    let run = w.sync().await;

    assert_eq!(w.wfo_writes() - before, 5);
    assert_eq!(
        (
            run.counts.created,
            run.counts.updated,
            run.counts.deactivated,
            run.counts.unchanged
        ),
        (1, 1, 3, 0)
    );
    let persons = w.persons();
    assert_eq!(persons[ALICE].input.display_name, "Alicia Nguyen");
    for gone in [BOB, CAROL, DAVE] {
        assert!(
            persons[gone].input.deactivated.is_some(),
            "{gone} deactivated, the record stays"
        );
    }
    assert_eq!(w.active(), sorted(&[ALICE, NEWBIE]));

    // Bob comes back: the same person is reactivated, not created again.
    w.webex.upsert_people([SimPerson::recorded(
        BOB,
        "Bob",
        "Martins",
        "bob.martins@acme-demo.example",
    )]);
    let run = w.sync().await;
    assert_eq!((run.counts.reactivated, run.counts.created, run.wfo_writes), (1, 0, 1));
    assert_eq!(w.persons()[BOB].id, persons[BOB].id);
    assert!(w.persons()[BOB].input.deactivated.is_none());
    w.shutdown().await;
}

// ---- listing failures ------------------------------------------------------------------------

#[tokio::test]
async fn a_429_in_the_middle_of_the_people_listing_is_waited_out_and_the_run_completes() {
    let w = World::start().await;
    w.webex.generate_people(&SyntheticOrg {
        count: 296,
        seed: 5,
        ..SyntheticOrg::default()
    });
    w.webex.push_route_fault("GET /v1/people", 2, 1, Fault::Status(429));
    let run = w.sync().await;
    assert!(run.complete, "{run:?}");
    assert_eq!(run.counts.created, 300);
    assert_eq!(
        w.webex.request_counts().get("GET /v1/people"),
        Some(&4),
        "3 pages and one repeat"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_roster_of_whole_pages_is_read_once_with_one_probe_past_its_end() {
    let w = World::start().await;
    w.webex.generate_people(&SyntheticOrg {
        count: 3_996,
        seed: 2,
        ..SyntheticOrg::default()
    });
    let run = w
        .sync_with(
            w.wfo_client.as_ref(),
            &SyncSettings {
                record_mode_ttl: None,
                ..SyncSettings::fast()
            },
        )
        .await
        .unwrap();
    assert!(run.complete, "{run:?}");
    assert_eq!(run.counts.created, 4_000);
    assert_eq!(
        run.source_calls.roster_pages, 3,
        "2000 + 2000 members, then an empty page at start=4000"
    );
    assert_eq!(
        run.source_calls.setting_reads, 0,
        "roster membership alone when record_mode_ttl is None"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_page_that_fails_after_earlier_pages_deactivates_nobody_and_the_next_run_does() {
    let w = World::start().await;
    w.webex.generate_people(&SyntheticOrg {
        count: 296,
        seed: 5,
        ..SyntheticOrg::default()
    });
    w.sync().await;
    let ids: Vec<String> = w.webex.people().into_iter().map(|p| p.id).collect();
    let (early, late) = (ids[10].clone(), ids[250].clone());
    assert!(w.webex.remove_person(&early) && w.webex.remove_person(&late));
    let renamed = ids[20].clone();
    w.webex
        .update_person(&renamed, |p| p.last_name = Some("Renamed".into()))
        .unwrap();
    w.webex.push_route_fault("GET /v1/people", 1, 1000, Fault::Status(500));
    let writes = w.wfo_writes();

    let run = w.sync().await;

    assert!(!run.complete);
    assert_eq!(
        run.counts.deactivated, 0,
        "nobody deactivated on a partial listing: {run:?}"
    );
    assert!(run.counts.deactivation_deferred >= 2);
    assert_eq!(run.counts.updated, 1, "users that were read are still updated");
    assert_eq!(w.wfo_writes() - writes, 1);
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    let error = status.last_run.error.clone().unwrap();
    assert!(
        error.contains("page 2") && error.contains("nobody was deactivated"),
        "{error}"
    );

    w.webex.clear_route_faults();
    let run = w.sync().await;
    assert!(run.complete, "{run:?}");
    assert_eq!(run.counts.deactivated, 2);
    let persons = w.persons();
    assert!(persons[&early].input.deactivated.is_some() && persons[&late].input.deactivated.is_some());
    w.shutdown().await;
}

#[tokio::test]
async fn a_roster_that_cannot_be_read_fails_the_run_before_any_write() {
    let w = World::start().await;
    w.webex.push_route_fault(
        "GET /v1/telephony/config/callRecording/vendorUsers",
        0,
        1000,
        Fault::Status(500),
    );
    let e = w
        .sync_with(w.wfo_client.as_ref(), &SyncSettings::fast())
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::Source(_)), "{e}");
    assert_eq!(w.wfo_writes(), 0);
    assert!(w.wfo.stats().routes.is_empty() || w.wfo.stats().routes.keys().all(|r| !r.contains("person")));
    w.shutdown().await;
}

#[tokio::test]
async fn missing_scopes_stop_the_sync_before_any_source_call() {
    let w = World::start_with(&[], &["spark-admin:people_read"]).await;
    let e = w
        .sync_with(w.wfo_client.as_ref(), &SyncSettings::fast())
        .await
        .unwrap_err();
    assert!(
        matches!(e, SyncError::MissingScopes(ref s) if s.contains("licenses_read")),
        "{e}"
    );
    assert!(e.needs_operator());
    assert!(w.webex.request_counts().is_empty());
    w.shutdown().await;
}

// ---- one person per ACD id ------------------------------------------------------------------

/// A WFO client whose first `swallow` person creates time out: they reach WFO when
/// `reach` (the answer is lost) or not at all. Counts the creates sent.
struct LostAnswers {
    inner: Arc<dyn WfoApi>,
    swallow: AtomicUsize,
    reach: bool,
    creates: AtomicUsize,
}

fn lost() -> WfoError {
    WfoError::Http(wfo_http::HttpError::Transport {
        service: "wfo",
        message: "operation timed out".into(),
    })
}

#[async_trait]
impl WfoApi for LostAnswers {
    async fn list_teams(&self) -> Result<Vec<Team>, WfoError> {
        self.inner.list_teams().await
    }
    async fn create_team(&self, team: &TeamInput) -> Result<i64, WfoError> {
        self.inner.create_team(team).await
    }
    async fn update_team(&self, team: &Team) -> Result<(), WfoError> {
        self.inner.update_team(team).await
    }
    async fn list_queues(&self, acd_server_id: i64) -> Result<Vec<Queue>, WfoError> {
        self.inner.list_queues(acd_server_id).await
    }
    async fn create_queue(&self, q: &QueueInput) -> Result<i64, WfoError> {
        self.inner.create_queue(q).await
    }
    async fn update_queue(&self, q: &Queue) -> Result<(), WfoError> {
        self.inner.update_queue(q).await
    }
    async fn list_roles(&self) -> Result<Vec<Role>, WfoError> {
        self.inner.list_roles().await
    }
    async fn list_persons(&self) -> Result<Vec<Person>, WfoError> {
        self.inner.list_persons().await
    }
    async fn get_person(&self, id: i64) -> Result<Option<Person>, WfoError> {
        self.inner.get_person(id).await
    }
    async fn create_person(&self, person: &PersonInput) -> Result<i64, WfoError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        let swallowed = self
            .swallow
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if swallowed && !self.reach {
            return Err(lost());
        }
        let id = self.inner.create_person(person).await?;
        if swallowed {
            return Err(lost());
        }
        Ok(id)
    }
    async fn update_person(&self, person: &Person) -> Result<(), WfoError> {
        self.inner.update_person(person).await
    }
    async fn list_metadata_keys(&self) -> Result<Vec<MetadataKey>, WfoError> {
        self.inner.list_metadata_keys().await
    }
    async fn import_contact(&self, contact: &ContactImport) -> Result<i64, WfoError> {
        self.inner.import_contact(contact).await
    }
    async fn find_contacts_by_external_id(&self, external_id: &str) -> Result<Vec<Contact>, WfoError> {
        self.inner.find_contacts_by_external_id(external_id).await
    }
    async fn get_contact(&self, id: i64) -> Result<Option<Contact>, WfoError> {
        self.inner.get_contact(id).await
    }
    async fn put_contact_metadata(&self, id: i64, metadata: &BTreeMap<String, String>) -> Result<(), WfoError> {
        self.inner.put_contact_metadata(id, metadata).await
    }
    async fn upload_audio(&self, id: i64, format: AudioFormat, body: AudioBody) -> Result<AudioUploaded, WfoError> {
        self.inner.upload_audio(id, format, body).await
    }
}

#[tokio::test]
async fn creates_whose_answers_are_lost_are_looked_up_and_never_made_twice() {
    let w = World::start().await;
    let flaky = LostAnswers {
        inner: w.wfo_client.clone(),
        swallow: AtomicUsize::new(4),
        reach: true,
        creates: AtomicUsize::new(0),
    };

    let run = w.sync_with(&flaky, &SyncSettings::fast()).await.unwrap();

    assert_eq!(
        flaky.creates.load(Ordering::SeqCst),
        4,
        "every lost answer was looked up, none re-sent"
    );
    assert_eq!(run.counts.created, 4);
    assert!(run.complete && run.error.is_none(), "{run:?}");
    assert_eq!(w.wfo.persons().len(), 4);
    let second = w.sync_with(&flaky, &SyncSettings::fast()).await.unwrap();
    assert_eq!((second.wfo_writes, w.wfo.persons().len()), (0, 4));
    w.shutdown().await;
}

#[tokio::test]
async fn a_create_that_never_reaches_wfo_is_tried_three_times_then_reported_and_never_duplicated() {
    let w = World::start().await;
    w.webex
        .upsert_people([SimPerson::recorded(NEWBIE, "Nia", "New", "nia@acme.example")]);
    // Let the cast in first, so that only Nia's creates time out.
    w.webex
        .update_person(NEWBIE, |p| p.recording = SimRecording::off())
        .unwrap();
    w.sync().await;
    w.webex
        .update_person(NEWBIE, |p| p.recording = SimRecording::always())
        .unwrap();
    let flaky = LostAnswers {
        inner: w.wfo_client.clone(),
        swallow: AtomicUsize::new(99),
        reach: false,
        creates: AtomicUsize::new(0),
    };

    let run = w.sync_with(&flaky, &SyncSettings::fast()).await.unwrap();

    assert_eq!(
        flaky.creates.load(Ordering::SeqCst),
        3,
        "looked up after each, at most 3 attempts"
    );
    assert!(!run.complete);
    assert!(
        run.error.as_deref().unwrap_or("").contains("unknown outcome"),
        "{run:?}"
    );
    assert!(!w.persons().contains_key(NEWBIE));
    let run = w.sync().await;
    assert_eq!(run.counts.created, 1, "the next run makes it");
    assert_eq!(w.wfo.persons().len(), 5);
    w.shutdown().await;
}

#[tokio::test]
async fn the_sync_leaves_a_person_to_the_contact_import_holding_its_lock_and_adopts_what_the_import_created() {
    let w = World::start().await;
    let lock = person_lock_name(CONNECTOR, SERVER, ALICE);
    let store: &dyn Store = w.store.as_ref();
    assert!(
        store
            .try_lock(&lock, "import-worker", Duration::from_secs(60), Utc::now())
            .await
            .unwrap()
    );
    // What the import does under that lock: a person with its placeholder name.
    wfo_client::ensure_agent_person(
        w.wfo_client.as_ref(),
        &NewAgent {
            acd_id: ALICE.into(),
            acd_server_id: SERVER,
            first_name: "Webex".into(),
            last_name: "User 3f6c2a1e".into(),
            email: None,
        },
    )
    .await
    .unwrap();
    // The sync read WFO before the import created it: simulate by a sync whose plan
    // still wants the create while the lock is held.
    let blind = Blind {
        inner: w.wfo_client.clone(),
        hide: ALICE,
    };
    let run = w.sync_with(&blind, &SyncSettings::fast()).await.unwrap();
    assert_eq!(run.creates_deferred, 1, "{run:?}");
    assert!(!run.complete && run.error.as_deref().unwrap_or("").contains("next run"));
    assert_eq!(w.persons().len(), 4, "never a second person for Alice");
    store.unlock(&lock, "import-worker").await.unwrap();

    let run = w.sync().await;
    assert!(run.complete);
    assert_eq!(
        (run.counts.updated, run.counts.created),
        (1, 0),
        "the import's person gets the real name"
    );
    assert_eq!(w.persons()[ALICE].input.display_name, "Alice Nguyen");
    assert_eq!(w.wfo.persons().len(), 4);
    w.shutdown().await;
}

/// A WFO client whose first person listing misses one ACD id (a listing taken just
/// before the contact import created that person).
struct Blind {
    inner: Arc<dyn WfoApi>,
    hide: &'static str,
}

#[async_trait]
impl WfoApi for Blind {
    async fn list_teams(&self) -> Result<Vec<Team>, WfoError> {
        self.inner.list_teams().await
    }
    async fn create_team(&self, team: &TeamInput) -> Result<i64, WfoError> {
        self.inner.create_team(team).await
    }
    async fn update_team(&self, team: &Team) -> Result<(), WfoError> {
        self.inner.update_team(team).await
    }
    async fn list_queues(&self, acd_server_id: i64) -> Result<Vec<Queue>, WfoError> {
        self.inner.list_queues(acd_server_id).await
    }
    async fn create_queue(&self, q: &QueueInput) -> Result<i64, WfoError> {
        self.inner.create_queue(q).await
    }
    async fn update_queue(&self, q: &Queue) -> Result<(), WfoError> {
        self.inner.update_queue(q).await
    }
    async fn list_roles(&self) -> Result<Vec<Role>, WfoError> {
        self.inner.list_roles().await
    }
    async fn list_persons(&self) -> Result<Vec<Person>, WfoError> {
        let all = self.inner.list_persons().await?;
        Ok(all
            .into_iter()
            .filter(|p| p.input.acd_id.as_deref() != Some(self.hide))
            .collect())
    }
    async fn get_person(&self, id: i64) -> Result<Option<Person>, WfoError> {
        self.inner.get_person(id).await
    }
    async fn create_person(&self, person: &PersonInput) -> Result<i64, WfoError> {
        self.inner.create_person(person).await
    }
    async fn update_person(&self, person: &Person) -> Result<(), WfoError> {
        self.inner.update_person(person).await
    }
    async fn list_metadata_keys(&self) -> Result<Vec<MetadataKey>, WfoError> {
        self.inner.list_metadata_keys().await
    }
    async fn import_contact(&self, contact: &ContactImport) -> Result<i64, WfoError> {
        self.inner.import_contact(contact).await
    }
    async fn find_contacts_by_external_id(&self, external_id: &str) -> Result<Vec<Contact>, WfoError> {
        self.inner.find_contacts_by_external_id(external_id).await
    }
    async fn get_contact(&self, id: i64) -> Result<Option<Contact>, WfoError> {
        self.inner.get_contact(id).await
    }
    async fn put_contact_metadata(&self, id: i64, metadata: &BTreeMap<String, String>) -> Result<(), WfoError> {
        self.inner.put_contact_metadata(id, metadata).await
    }
    async fn upload_audio(&self, id: i64, format: AudioFormat, body: AudioBody) -> Result<AudioUploaded, WfoError> {
        self.inner.upload_audio(id, format, body).await
    }
}

#[tokio::test]
async fn a_person_the_import_created_while_the_sync_was_planning_is_found_by_the_lookup_under_the_lock() {
    let w = World::start().await;
    // The sync's first listing misses Alice; she exists by the time it takes her lock.
    wfo_client::ensure_agent_person(
        w.wfo_client.as_ref(),
        &NewAgent {
            acd_id: ALICE.into(),
            acd_server_id: SERVER,
            first_name: "A".into(),
            last_name: "N".into(),
            email: None,
        },
    )
    .await
    .unwrap();
    let once = OnceBlind {
        inner: w.wfo_client.clone(),
        hide: ALICE,
        calls: AtomicUsize::new(0),
    };
    let run = w.sync_with(&once, &SyncSettings::fast()).await.unwrap();
    assert_eq!((run.counts.created, run.creates_deferred), (3, 1));
    assert_eq!(w.wfo.persons().len(), 4);
    w.shutdown().await;
}

/// Like [`Blind`] for the first listing only.
struct OnceBlind {
    inner: Arc<dyn WfoApi>,
    hide: &'static str,
    calls: AtomicUsize,
}

#[async_trait]
impl WfoApi for OnceBlind {
    async fn list_teams(&self) -> Result<Vec<Team>, WfoError> {
        self.inner.list_teams().await
    }
    async fn create_team(&self, team: &TeamInput) -> Result<i64, WfoError> {
        self.inner.create_team(team).await
    }
    async fn update_team(&self, team: &Team) -> Result<(), WfoError> {
        self.inner.update_team(team).await
    }
    async fn list_queues(&self, acd_server_id: i64) -> Result<Vec<Queue>, WfoError> {
        self.inner.list_queues(acd_server_id).await
    }
    async fn create_queue(&self, q: &QueueInput) -> Result<i64, WfoError> {
        self.inner.create_queue(q).await
    }
    async fn update_queue(&self, q: &Queue) -> Result<(), WfoError> {
        self.inner.update_queue(q).await
    }
    async fn list_roles(&self) -> Result<Vec<Role>, WfoError> {
        self.inner.list_roles().await
    }
    async fn list_persons(&self) -> Result<Vec<Person>, WfoError> {
        let all = self.inner.list_persons().await?;
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(all
                .into_iter()
                .filter(|p| p.input.acd_id.as_deref() != Some(self.hide))
                .collect());
        }
        Ok(all)
    }
    async fn get_person(&self, id: i64) -> Result<Option<Person>, WfoError> {
        self.inner.get_person(id).await
    }
    async fn create_person(&self, person: &PersonInput) -> Result<i64, WfoError> {
        self.inner.create_person(person).await
    }
    async fn update_person(&self, person: &Person) -> Result<(), WfoError> {
        self.inner.update_person(person).await
    }
    async fn list_metadata_keys(&self) -> Result<Vec<MetadataKey>, WfoError> {
        self.inner.list_metadata_keys().await
    }
    async fn import_contact(&self, contact: &ContactImport) -> Result<i64, WfoError> {
        self.inner.import_contact(contact).await
    }
    async fn find_contacts_by_external_id(&self, external_id: &str) -> Result<Vec<Contact>, WfoError> {
        self.inner.find_contacts_by_external_id(external_id).await
    }
    async fn get_contact(&self, id: i64) -> Result<Option<Contact>, WfoError> {
        self.inner.get_contact(id).await
    }
    async fn put_contact_metadata(&self, id: i64, metadata: &BTreeMap<String, String>) -> Result<(), WfoError> {
        self.inner.put_contact_metadata(id, metadata).await
    }
    async fn upload_audio(&self, id: i64, format: AudioFormat, body: AudioBody) -> Result<AudioUploaded, WfoError> {
        self.inner.upload_audio(id, format, body).await
    }
}

// ---- hand edits and bad input ------------------------------------------------------------------

#[tokio::test]
async fn hand_edits_of_synced_fields_are_overwritten_and_team_moves_and_extra_roles_stick() {
    let sales = TeamInput {
        name: "Sales".into(),
        acd_id: None,
        acd_server_id: None,
        read_only: false,
    };
    let w = World::start_with(&[sales], REQUIRED_SCOPES).await;
    w.sync().await;
    let sales_id = w.wfo.teams().into_iter().find(|t| t.name == "Sales").unwrap().id;
    let supervisor = w
        .wfo_client
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.is_supervisor_default)
        .unwrap();
    let persons = w.persons();
    let admin = w.wfo_client.as_ref();
    let mut alice = persons[ALICE].clone();
    alice.input.first_name = "Ally".into();
    alice.input.group_id = sales_id;
    admin.update_person(&alice).await.unwrap();
    let mut bob = persons[BOB].clone();
    bob.input.roles = vec![wfo_domain::wfo::RoleRef {
        id: supervisor.id,
        name: supervisor.name.clone(),
    }];
    admin.update_person(&bob).await.unwrap();
    let mut carol = persons[CAROL].clone();
    carol.input.deactivated = Some(1);
    admin.update_person(&carol).await.unwrap();
    let writes = w.wfo_writes();

    let run = w.sync().await;

    assert_eq!(w.wfo_writes() - writes, 2);
    assert_eq!((run.counts.updated, run.counts.reactivated), (1, 1));
    let after = w.persons();
    assert_eq!(after[ALICE].input.first_name, "Alice", "names are the source's");
    assert_eq!(after[ALICE].input.group_id, sales_id, "the team is WFO's");
    let bob_roles: Vec<&str> = after[BOB].input.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        bob_roles,
        vec!["Supervisor"],
        "Webex Calling: the agent role is given at creation; an administrator's role change stands"
    );
    assert!(after[CAROL].input.deactivated.is_none(), "an eligible user is active");
    w.shutdown().await;
}

#[tokio::test]
async fn users_without_names_or_emails_and_users_sharing_an_email_are_all_synced() {
    let w = World::start().await;
    let nameless = SimPerson {
        id: "22222222-0000-4000-8000-000000000001".into(),
        first_name: None,
        last_name: None,
        display_name: None,
        emails: Vec::new(),
        licenses: vec![PROFESSIONAL_LICENSE.into()],
        recording: SimRecording::always(),
        person_type: "person".into(),
    };
    let twin_a = SimPerson::recorded(
        "22222222-0000-4000-8000-000000000002",
        "Twin",
        "A",
        "shared@acme.example",
    );
    let twin_b = SimPerson::recorded(
        "22222222-0000-4000-8000-000000000003",
        "Twin",
        "B",
        "shared@acme.example",
    );
    w.webex.upsert_people([nameless, twin_a, twin_b]);

    let run = w.sync().await;

    assert!(run.complete, "{run:?}");
    assert_eq!(run.counts.created, 7);
    let persons = w.persons();
    let n = &persons["22222222-0000-4000-8000-000000000001"];
    assert_eq!(
        (
            n.input.first_name.as_str(),
            n.input.last_name.as_str(),
            n.input.email.as_deref()
        ),
        ("Webex", "User 22222222", None)
    );
    let emails: Vec<Option<&str>> = [
        "22222222-0000-4000-8000-000000000002",
        "22222222-0000-4000-8000-000000000003",
    ]
    .iter()
    .map(|id| persons[*id].input.email.as_deref())
    .collect();
    assert_eq!(emails, vec![Some("shared@acme.example"), None]);
    assert!(run.warnings >= 2);
    assert_eq!(w.sync().await.wfo_writes, 0, "and the next run is quiet");
    w.shutdown().await;
}

// ---- the timer ---------------------------------------------------------------------------------

#[tokio::test]
async fn serve_runs_the_sync_once_the_connector_is_authorized() {
    use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};
    let w = World::start().await;
    let store: Arc<dyn Store> = w.store.clone();
    let rt = RunningRuntime::start(
        store,
        wfo_sources::Sources::shared(),
        RuntimeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            poller_enabled: false,
            ..RuntimeConfig::default()
        },
    )
    .await
    .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut status = None;
    while status.is_none() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap();
    }
    assert!(
        status.is_some_and(|s| s.last_run.complete),
        "the timer ran a complete sync"
    );
    assert_eq!(w.active(), sorted(&[ALICE, BOB, CAROL, DAVE]));
    rt.shutdown().await;
    w.shutdown().await;
}

#[tokio::test]
async fn a_connector_with_user_sync_off_is_not_synced() {
    let w = World::start().await;
    let mut c = w.connector.clone();
    c.config.features.user_sync = false;
    let store: &dyn Store = w.store.as_ref();
    let deps = SyncDeps {
        connections: &w.connections,
        wfo: w.wfo_client.as_ref(),
    };
    let e = sync_connector(&deps, &c, &SyncSettings::fast()).await.unwrap_err();
    assert!(matches!(e, SyncError::Disabled(_)), "{e}");
    assert!(w.webex.request_counts().is_empty());
    assert!(
        store
            .get_value(CONNECTOR, wfo_pipeline::sync::STATUS_KEY)
            .await
            .unwrap()
            .is_none()
    );
    w.shutdown().await;
}
