//! `wfo-connect status` on a Contact Center connector whose contacts are in WFO and whose
//! audio waits for its capture: shown apart from failures, with the next check. The
//! running system (simulators, store, runtime) is the harness's, on 127.0.0.1.

use std::time::Duration;

use chrono::Utc;
use wfo_harness::{CC_CONNECTOR_ID, Harness, HarnessConfig};
use wfo_pipeline::ports::Ledger;

mod common;
use common::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_shows_tasks_waiting_for_their_capture_apart_from_failures_with_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    // Checks as the source schedules them (the first one minutes away), not the tests' 500 ms.
    cfg.import.audio_check_cap = None;
    let h = Harness::start(cfg).await.unwrap();
    let cc = h.add_contact_center(4, 1, 1).await.unwrap();
    cc.sim.tasks().unwrap().set_capture_delay(Duration::from_secs(2 * 3600));
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    let agents = cc.agents(2);
    let id = cc
        .play("blind-transfer", Utc::now() - chrono::Duration::minutes(6), &agents)
        .unwrap();
    let mut waiting = false;
    for _ in 0..400 {
        if let Ok(Some(item)) = h.store.get(CC_CONNECTOR_ID, &id).await
            && item.audio_wait.is_some()
            && item.health == wfo_domain::ledger::Health::Waiting
        {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting, "the task's contacts are imported and its audio waits");
    let out = run(&["status", CC_CONNECTOR_ID], dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("waiting for their capture: 1"), "{text}");
    println!("{text}");
    let line = text
        .lines()
        .find(|l| l.contains(&id) && l.contains("next check"))
        .unwrap_or_else(|| panic!("a line for the waiting task: {text}"));
    assert!(line.contains("contacts in WFO 2/2, 2 without audio"), "{line}");
    assert!(line.contains("(recorded: a capture is expected)"), "{line}");
    assert!(
        !text.lines().any(|l| l.contains(&id) && l.contains("/waiting")),
        "not listed among failures: {text}"
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}
