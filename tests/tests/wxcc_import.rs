//! The Contact Center 2.0 contact import end to end: tasks played on the simulator become
//! per-agent WFO contacts first and get their audio when the capture is ready, through
//! the same runtime, webhook route and worker as Webex Calling. Each test starts its own
//! simulators and store on 127.0.0.1 and shuts them down.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use wfo_harness::{CC_CONNECTOR_ID, ContactCenter, Harness, HarnessConfig, Received};
use wfo_pipeline::ports::Ledger;

/// Contacts §2.4 derives from each simulator scenario (its module doc).
const SCENARIOS: &[(&str, usize)] = &[
    ("basic-inbound", 1),
    ("hold", 1),
    ("pause-resume", 1),
    ("blind-transfer", 2),
    ("consult-transfer", 2),
    ("conference", 2),
    ("outbound", 1),
    ("abandoned", 0),
];

async fn wait_subscribed(cc: &ContactCenter) {
    for _ in 0..200 {
        if cc.sim.subscriptions().len() >= 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the capture and task subscriptions were not registered: {:?}",
        cc.sim.subscriptions()
    );
}

fn by_task(received: &[Received]) -> BTreeMap<String, Vec<Received>> {
    let mut out: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for r in received {
        out.entry(r.assoc_call_id.clone()).or_default().push(r.clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_becomes_its_agents_contacts_with_their_audio_exactly_once() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(HarnessConfig::new(dir.path().to_owned())).await.unwrap();
    let cc = h.add_contact_center(6, 2, 2).await.unwrap();
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    wait_subscribed(&cc).await;
    let agents = cc.agents(2);
    let base = Utc::now() - chrono::Duration::minutes(10);
    let mut tasks = Vec::new();
    for (k, (scenario, n)) in SCENARIOS.iter().enumerate() {
        let id = cc
            .play(scenario, base + chrono::Duration::seconds(k as i64), &agents)
            .unwrap();
        tasks.push((scenario, id, *n));
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id, _)| id.clone()).collect();
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(60)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    let received = by_task(&h.received(&ids));
    for (scenario, id, n) in &tasks {
        let item = h.store.get(CC_CONNECTOR_ID, id).await.unwrap().unwrap();
        assert!(
            item.health != wfo_domain::ledger::Health::Dead,
            "{scenario}: dead: {:?}",
            item.last_error
        );
        let got = received.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(got.len(), *n, "{scenario}: contacts {got:#?}");
        for r in &got {
            assert!(
                r.audio_bytes.is_some_and(|b| b > 44),
                "{scenario}: {} has no audio",
                r.external_id
            );
            assert_eq!(&r.assoc_call_id, id);
        }
    }
    cc.sim.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contacts_come_first_and_their_audio_when_the_capture_appears_hours_later() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(HarnessConfig::new(dir.path().to_owned())).await.unwrap();
    let cc = h.add_contact_center(6, 2, 2).await.unwrap();
    let plane = cc.sim.tasks().unwrap();
    plane.set_capture_delay(Duration::from_secs(3 * 3600));
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    wait_subscribed(&cc).await;
    let agents = cc.agents(2);
    let base = Utc::now() - chrono::Duration::minutes(10);
    let id = cc.play("consult-transfer", base, &agents).unwrap();
    let ids = vec![id.clone()];
    // Both contacts arrive without audio, and the item waits for its capture.
    let mut waiting = None;
    for _ in 0..300 {
        let item = h.store.get(CC_CONNECTOR_ID, &id).await.unwrap();
        if let Some(item) = item
            && item.health == wfo_domain::ledger::Health::Waiting
            && item.audio_wait.is_some()
        {
            waiting = Some(item);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let item = waiting.expect("the item waits for its capture");
    assert_eq!(item.contacts_awaiting_audio(), 2);
    assert!(item.audio_wait.as_ref().unwrap().requested);
    let before = h.received(&ids);
    assert_eq!(before.len(), 2, "{before:#?}");
    assert!(before.iter().all(|r| r.audio_bytes.is_none()));
    // Three hours pass at the source: the capture is announced, the audio follows.
    cc.sim.advance_clock(Duration::from_secs(3 * 3600 + 60));
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(30)).await;
    assert!(left.is_empty(), "not settled");
    let after = h.received(&ids);
    assert_eq!(after.len(), 2, "no duplicate contacts: {after:#?}");
    assert!(
        after.iter().all(|r| r.audio_bytes.is_some_and(|b| b > 44)),
        "{after:#?}"
    );
    let item = h.store.get(CC_CONNECTOR_ID, &id).await.unwrap().unwrap();
    assert!(
        item.audio_wait.is_none() && item.source_state.is_none(),
        "nothing left over: {item:?}"
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// The promise under faults: deliveries lost, doubled and reordered; captures appearing
/// three hours (simulated) after the calls; WFO failing a fifth of its calls and dropping
/// the connection after some imports; the source answering 429 storms and 5xx on Search,
/// captures and downloads; capture links dying long before the time they advertise.
/// Every expected contact arrives exactly once, with the audio of its own span.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_doubled_reordered_deliveries_late_captures_and_failing_services_still_give_every_contact_once_with_its_audio()
 {
    use wfo_sim_wxcc::{DeliveryPolicy, TaskFault, TaskRoute};
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.wfo_faults = wfo_harness::WfoFaults {
        server_error: 0.1,
        unavailable: 0.1,
        processed_then_dropped: 0.15,
        ..wfo_harness::WfoFaults::default()
    };
    let h = Harness::start(cfg).await.unwrap();
    let cc = h.add_contact_center(6, 2, 2).await.unwrap();
    let plane = cc.sim.tasks().unwrap();
    plane.set_capture_delay(Duration::from_secs(3 * 3600));
    plane.set_link_lifetime(Some(Duration::from_secs(2)));
    cc.sim.set_delivery_policy(DeliveryPolicy {
        duplicate_share: 1.0,
        drop_share: 0.3,
        reorder: true,
        delay: Duration::ZERO,
    });
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    wait_subscribed(&cc).await;
    cc.sim.push_429(6, 1);
    for (route, status) in [
        (TaskRoute::Search, 500),
        (TaskRoute::Captures, 503),
        (TaskRoute::Media, 500),
    ] {
        plane.push_fault(TaskFault {
            route,
            skip: 1,
            times: 2,
            status,
        });
    }
    let agents = cc.agents(3);
    let base = Utc::now() - chrono::Duration::minutes(30);
    let mut tasks = Vec::new();
    for copy in 0..2 {
        for (k, (scenario, n)) in SCENARIOS.iter().enumerate() {
            let at = base + chrono::Duration::seconds((copy * SCENARIOS.len() + k) as i64 * 20);
            let who = if copy == 0 { &agents[..2] } else { &agents[1..] };
            tasks.push((*scenario, cc.play(scenario, at, who).unwrap(), *n));
        }
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id, _)| id.clone()).collect();
    // Contacts first: every expected contact is in WFO before any capture exists.
    let expected: usize = tasks.iter().map(|(_, _, n)| n).sum();
    let mut in_wfo = 0;
    for _ in 0..600 {
        in_wfo = h.received(&ids).len();
        if in_wfo >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(in_wfo, expected, "every contact is imported before its audio exists");
    assert!(h.received(&ids).iter().all(|r| r.audio_bytes.is_none()));
    cc.sim.advance_clock(Duration::from_secs(3 * 3600 + 60));
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(90)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    let received = h.received(&ids);
    let mut seen = std::collections::BTreeSet::new();
    for r in &received {
        assert!(seen.insert(r.external_id.clone()), "{} twice in WFO", r.external_id);
    }
    let by = by_task(&received);
    for (scenario, id, n) in &tasks {
        let item = h.store.get(CC_CONNECTOR_ID, id).await.unwrap().unwrap();
        assert_ne!(item.health, wfo_domain::ledger::Health::Dead, "{scenario}: {:?}", item.last_error);
        let got = by.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(got.len(), *n, "{scenario}: {got:#?}");
        for r in &got {
            // 8 kHz, 16-bit stereo: the slice is the contact's span, to the frame.
            let frames = (r.duration_ms * 8_000 + 500) / 1_000;
            let want = 44 + frames * 4;
            let bytes = r.audio_bytes.unwrap_or(0);
            assert!(
                (bytes - want).abs() <= 8,
                "{scenario} {}: {bytes} bytes of audio for {} ms (want {want})",
                r.external_id,
                r.duration_ms
            );
        }
    }
    assert!(
        cc.sim.deliveries().len() > ids.len(),
        "deliveries were sent (and doubled)"
    );
    let injected = cc.sim.injected_faults();
    assert!(injected.get(&429).copied().unwrap_or(0) >= 6, "the 429 storm was met: {injected:?}");
    cc.sim.shutdown().await;
    h.shutdown().await;
}
