//! The acceptance test: every scenario, several calls each, with webhooks duplicated,
//! reordered and partly lost, and WFO failing a fifth of the calls (and dropping the
//! connection after processing some imports). Every expected contact must arrive in WFO
//! exactly once, with its audio and the segmentation's agent, start, duration and
//! assocCallId.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use wfo_domain::ledger::{Discovery, Health};
use wfo_harness::{DeliveryPolicy, Harness, HarnessConfig, WfoFaults};
use wfo_pipeline::ports::Ledger;
use wfo_sim_webex::DeliveryOutcome;

const COPIES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicated_reordered_and_lost_webhooks_with_failing_wfo_still_import_every_contact_exactly_once() {
    common::init_tracing();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.delivery = DeliveryPolicy {
        duplicate_share: 1.0,
        drop_share: 0.3,
        reorder: true,
        delay: Duration::ZERO,
        ..DeliveryPolicy::default()
    };
    cfg.wfo_faults = WfoFaults {
        server_error: 0.1,
        unavailable: 0.1,
        // Imports only: the contact is created, then the connection drops.
        processed_then_dropped: 0.15,
        ..WfoFaults::default()
    };
    cfg.poll_interval = Duration::from_secs(1);
    // Another fault pattern: `WFO_TESTS_SEED=n cargo test -p wfo-tests --test e2e_faults`.
    if let Some(seed) = std::env::var("WFO_TESTS_SEED").ok().and_then(|s| s.parse().ok()) {
        cfg.seed = seed;
    }
    let h = Harness::start(cfg).await.unwrap();

    h.authorize().await.unwrap();
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");

    let names = h.scenario_names();
    assert_eq!(names.len(), 12, "every fixture scenario is played: {names:?}");
    // Calls 4 minutes apart, all in the past (a recording listed as created in the
    // future is not due for the poller yet).
    let base = chrono::Utc::now() - chrono::Duration::minutes((COPIES * names.len()) as i64 * 4 + 30);
    let mut instances = Vec::new();
    for copy in 0..COPIES {
        for (i, name) in names.iter().enumerate() {
            let at = base + chrono::Duration::minutes((copy * names.len() + i) as i64 * 4);
            instances.push(h.instantiate(name, at).unwrap());
        }
    }
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    h.webex.publish_all(&instances).await;

    let pending = h.wait_settled(&ids, Duration::from_secs(50)).await;
    if !pending.is_empty() {
        let mut states = Vec::new();
        for id in &pending {
            let item = h.store.get(&h.connector.id, id).await.unwrap();
            states.push(item.map_or_else(
                || format!("{id}: never discovered"),
                |i| format!("{id}: {} attempts {} {:?}", i.state_label(), i.attempts, i.last_error),
            ));
        }
        panic!(
            "{} of {} recordings not settled:\n{}",
            pending.len(),
            ids.len(),
            states.join("\n")
        );
    }

    // Nothing gave up.
    let mut dead = Vec::new();
    for id in &ids {
        let item = h.store.get(&h.connector.id, id).await.unwrap().unwrap();
        if item.health == Health::Dead {
            dead.push(format!("{id}: {}", item.last_error.unwrap_or_default()));
        }
    }
    assert!(dead.is_empty(), "dead items: {dead:#?}");

    // Every expected contact exactly once, with audio and the expected fields.
    let mut problems = Vec::new();
    for inst in &instances {
        for p in h.check(inst) {
            problems.push(format!("{}: {p}", inst.scenario));
        }
    }
    assert!(
        problems.is_empty(),
        "differences from the expected contacts:\n{}",
        problems.join("\n")
    );
    let expected_total: usize = instances
        .iter()
        .map(|i| i.expected.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(h.received(&ids).len(), expected_total);

    // WFO's own view: no externalId twice, no ACD user with two persons.
    let (dup_ext, dup_agents) = common::wfo_duplicates(&h).await;
    assert!(dup_ext.is_empty(), "duplicate externalIds in WFO: {dup_ext:?}");
    assert!(dup_agents.is_empty(), "duplicate persons in WFO: {dup_agents:?}");
    let mut per_acd: BTreeMap<String, usize> = BTreeMap::new();
    for p in h.wfo.persons() {
        if let Some(acd) = p.input.acd_id {
            *per_acd.entry(acd).or_default() += 1;
        }
    }
    assert!(per_acd.values().all(|n| *n == 1), "persons per acdId: {per_acd:?}");

    // The faults really happened.
    let deliveries = h.webex.deliveries();
    let dropped: BTreeSet<&str> = deliveries
        .iter()
        .filter(|d| d.outcome == DeliveryOutcome::Dropped)
        .map(|d| d.recording_id.as_str())
        .collect();
    let sent: BTreeSet<&str> = deliveries
        .iter()
        .filter(|d| d.outcome != DeliveryOutcome::Dropped)
        .map(|d| d.recording_id.as_str())
        .collect();
    assert!(!dropped.is_empty(), "some deliveries were dropped");
    assert!(
        deliveries.iter().any(|d| d.duplicate),
        "some deliveries were sent twice"
    );
    // A recording whose only event was dropped can only have been found by the poller.
    for id in dropped.difference(&sent) {
        let item = h.store.get(&h.connector.id, id).await.unwrap().unwrap();
        assert_eq!(
            item.discovered_by,
            Discovery::Poller,
            "{id} was never delivered, so the poller found it"
        );
    }
    let stats = h.wfo.stats();
    let faults: u64 = stats.routes.values().map(|r| r.faults).sum();
    let import = stats
        .routes
        .get("POST /api/rest/wfo/contact/import")
        .cloned()
        .unwrap_or_default();
    assert!(faults > 0, "WFO injected 5xx answers: {stats:?}");
    assert!(
        import.dropped > 0,
        "some imports were processed and then dropped: {import:?}"
    );
    assert_eq!(
        stats.creates.contacts as usize, expected_total,
        "WFO created each contact once"
    );

    println!(
        "{} calls, {} recordings, {expected_total} contacts; {} webhook events lost, {} WFO faults, {} imports dropped after processing; {:.1} s",
        instances.len(),
        ids.len(),
        dropped.difference(&sent).count(),
        faults,
        import.dropped,
        started.elapsed().as_secs_f64()
    );
    h.shutdown().await;
}
