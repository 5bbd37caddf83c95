//! Stalled connections cost an attempt, never a worker: Webex stops sending the first
//! downloads half-way and WFO reads the first audio uploads but never answers, and still
//! every contact arrives once, with its audio, within a few minutes.

mod common;

use std::time::{Duration, Instant};

use wfo_domain::ledger::Health;
use wfo_harness::{Harness, HarnessConfig};
use wfo_pipeline::ports::Ledger;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_downloads_and_wfo_holding_uploads_open_still_import_every_contact_once_with_audio() {
    common::init_tracing();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(HarnessConfig::new(dir.path().to_owned())).await.unwrap();
    h.authorize().await.unwrap();
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");
    h.webex.stall_downloads(3);
    h.wfo.hold_audio_uploads(3);

    let names = h.scenario_names();
    let base = chrono::Utc::now() - chrono::Duration::minutes(names.len() as i64 * 4 + 30);
    let instances: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            h.instantiate(name, base + chrono::Duration::minutes(i as i64 * 4))
                .unwrap()
        })
        .collect();
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    h.webex.publish_all(&instances).await;

    let pending = h.wait_settled(&ids, Duration::from_secs(150)).await;
    assert!(pending.is_empty(), "not settled: {pending:?}");
    for id in &ids {
        let item = h.store.get(&h.connector.id, id).await.unwrap().unwrap();
        assert_ne!(item.health, Health::Dead, "{id}: {:?}", item.last_error);
    }
    assert_eq!(h.webex.stalls_left(), 0, "every download stall happened");
    assert_eq!(h.wfo.holds_left(), 0, "every held upload happened");

    let mut problems = Vec::new();
    for inst in &instances {
        problems.extend(h.check(inst).into_iter().map(|p| format!("{}: {p}", inst.scenario)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let expected: usize = instances
        .iter()
        .map(|i| i.expected.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(h.received(&ids).len(), expected);
    assert!(
        h.received(&ids).iter().all(|r| r.audio_bytes.is_some_and(|b| b > 0)),
        "every contact has audio"
    );
    let (dup_ext, dup_agents) = common::wfo_duplicates(&h).await;
    assert!(
        dup_ext.is_empty() && dup_agents.is_empty(),
        "{dup_ext:?} {dup_agents:?}"
    );
    assert_eq!(
        h.wfo.stats().creates.contacts as usize,
        expected,
        "each contact created once"
    );
    assert!(started.elapsed() < Duration::from_secs(180), "{:?}", started.elapsed());
    h.shutdown().await;
}
