//! The local worker never silently drops a queue message it cannot use: a message naming
//! no ledger item is moved to the dead letters, kept and visible. (Malformed bodies are
//! covered where raw bodies can be produced: the Lambda worker's batch tests.)

use std::time::Duration;

use wfo_harness::{Harness, HarnessConfig};
use wfo_pipeline::ports::{WorkMessage, WorkQueue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_naming_no_ledger_item_end_in_the_dead_letters_not_acked_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().join("state"));
    cfg.webhook = false;
    cfg.poller_enabled = false;
    let h = Harness::start(cfg).await.unwrap();

    let unknown = WorkMessage {
        connector_id: h.connector.id.clone(),
        item_id: "no-such-recording".into(),
    };
    h.store.send(&unknown, Duration::ZERO).await.unwrap();
    let other = WorkMessage {
        connector_id: "no-such-connector".into(),
        item_id: "r1".into(),
    };
    h.store.send(&other, Duration::ZERO).await.unwrap();
    h.runtime.work_ready.notify_one();

    let mut dead = Vec::new();
    for _ in 0..100 {
        dead = h.store.dead_letters(10).await.unwrap();
        if dead.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.len(), 2, "both messages are kept as dead letters: {dead:?}");
    let reasons: Vec<String> = dead.iter().filter_map(|d| d.dead_reason.clone()).collect();
    assert!(
        reasons.iter().all(|r| r.contains("names no ledger item")),
        "{reasons:?}"
    );
    assert!(dead.iter().any(|d| d.body.contains("no-such-recording")));
    assert_eq!(
        h.store.depth().await.unwrap(),
        0,
        "nothing is left to redeliver forever"
    );
    h.shutdown().await;
}
