//! The Contact Center 2.0 contact import end to end: tasks played on the simulator become
//! per-agent WFO contacts first and get their audio when the capture is ready, through
//! the same runtime, webhook route and worker as Webex Calling. Each test starts its own
//! simulators and store on 127.0.0.1 and shuts them down.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use wfo_domain::ledger::Health;
use wfo_harness::{CC_CONNECTOR_ID, ContactCenter, Harness, HarnessConfig, Received};
use wfo_pipeline::ports::{ConnectorStore, Ledger};
use wfo_sim_wxcc::{Scenario, expected_contacts};

/// Every scenario the simulator plays (the guide's three examples among them).
fn scenarios() -> Vec<Scenario> {
    Scenario::ALL.to_vec()
}

/// Every contact of `tasks` exactly once, each as its scenario says
/// ([`Harness::check_task`]).
fn problems(h: &Harness, cc: &ContactCenter, tasks: &[(Scenario, String)]) -> Vec<String> {
    let ids: Vec<String> = tasks.iter().map(|(_, id)| id.clone()).collect();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in h.received(&ids) {
        if !seen.insert(r.external_id.clone()) {
            out.push(format!("{} twice in WFO", r.external_id));
        }
    }
    for (scenario, id) in tasks {
        out.extend(h.check_task(cc, *scenario, id));
    }
    out
}

/// The harness with a Contact Center org (6 agents, 2 teams, 2 queues), authorized and
/// subscribed.
async fn world(cfg: HarnessConfig) -> (Harness, ContactCenter) {
    common::init_tracing();
    let h = Harness::start(cfg).await.unwrap();
    let cc = h.add_contact_center(6, 2, 2).await.unwrap();
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    wait_subscribed(&cc).await;
    (h, cc)
}

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
    let dir = tempfile::tempdir().unwrap();
    let (h, cc) = world(HarnessConfig::new(dir.path().to_owned())).await;
    let agents = cc.agents(2);
    let base = Utc::now() - chrono::Duration::minutes(10);
    let mut tasks = Vec::new();
    for (k, scenario) in scenarios().into_iter().enumerate() {
        let id = cc
            .play(scenario.name(), base + chrono::Duration::seconds(k as i64), &agents)
            .unwrap();
        tasks.push((scenario, id));
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id)| id.clone()).collect();
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(60)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    for (scenario, id) in &tasks {
        let item = h.store.get(CC_CONNECTOR_ID, id).await.unwrap().unwrap();
        assert_ne!(item.health, Health::Dead, "{}: {:?}", scenario.name(), item.last_error);
    }
    let problems = problems(&h, &cc, &tasks);
    assert!(problems.is_empty(), "{problems:#?}");
    // The guide's examples, through the whole pipeline: consult 2:21 and 0:42, transfer
    // 0:44 and 1:14, conference 2:09 and 1:00, each pair sharing the task id.
    let received = by_task(&h.received(&ids));
    for (name, durations) in [
        ("guide-consult", [141_000, 42_000]),
        ("guide-transfer", [44_000, 74_000]),
        ("guide-conference", [129_000, 60_000]),
    ] {
        let (_, id) = tasks.iter().find(|(s, _)| s.name() == name).unwrap();
        let got: Vec<i64> = received[id.as_str()].iter().map(|r| r.duration_ms).collect();
        assert_eq!(got, durations, "{name}");
    }
    // A chat is a CHAT contact with the configured fallback language and no audio.
    let (_, chat) = tasks.iter().find(|(s, _)| *s == Scenario::Chat).unwrap();
    let contact = h
        .wfo
        .contacts()
        .into_iter()
        .find(|c| &c.contact.import.assoc_call_id == chat)
        .unwrap();
    assert_eq!(contact.contact.import.contact_type, wfo_domain::wfo::ContactType::Chat);
    assert_eq!(contact.contact.import.language.as_deref(), Some("en-US"));
    assert!(contact.contact.import.audio.is_none());
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// A capture that appears hours after its call (the task ended 2 h 50 min ago; its capture
/// appears once its contacts are in WFO, 2 h 50 min after the end): the contacts are in
/// WFO first, and the `capture:available` delivery brings the audio — the next scheduled
/// check is ten minutes away, so nothing else could.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contacts_come_first_and_the_capture_delivery_brings_their_audio_hours_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.import.audio_check_cap = None;
    let (h, cc) = world(cfg).await;
    let delay = chrono::Duration::minutes(170);
    // Not before the contacts are in (then the delay is 2 h 50 min: the capture appears).
    let plane = cc.sim.tasks().unwrap();
    plane.set_capture_delay(Duration::from_secs(24 * 3600));
    let agents = cc.agents(2);
    let id = cc
        .play_ending_at("consult-transfer", Utc::now() - delay, &agents)
        .unwrap();
    let ids = vec![id.clone()];
    // Both contacts arrive without audio, and the item waits for its capture.
    let mut waiting = None;
    for _ in 0..100 {
        let item = h.store.get(CC_CONNECTOR_ID, &id).await.unwrap();
        if let Some(item) = item
            && item.health == Health::Waiting
            && item.audio_wait.is_some()
        {
            waiting = Some(item);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let item = waiting.expect("the item waits for its capture");
    assert_eq!(item.contacts_awaiting_audio(), 2);
    let wait = item.audio_wait.clone().unwrap();
    assert!(wait.requested);
    assert!(
        wait.next_check > Utc::now() + chrono::Duration::minutes(5),
        "the next scheduled check is far: {wait:?}"
    );
    let before = h.received(&ids);
    assert_eq!(before.len(), 2, "{before:#?}");
    assert!(before.iter().all(|r| r.audio_bytes.is_none()));
    plane.set_capture_delay(delay.to_std().unwrap());
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(40)).await;
    assert!(
        left.is_empty(),
        "the delivery did not bring the audio: {:?}",
        h.store.get(CC_CONNECTOR_ID, &id).await
    );
    assert!(
        cc.sim
            .deliveries()
            .iter()
            .any(|d| d.event_type == "capture:available" && d.succeeded()),
        "the capture was announced"
    );
    let problems = problems(&h, &cc, &[(Scenario::ConsultTransfer, id.clone())]);
    assert!(problems.is_empty(), "{problems:#?}");
    let item = h.store.get(CC_CONNECTOR_ID, &id).await.unwrap().unwrap();
    assert!(
        item.audio_wait.is_none() && item.source_state.is_none(),
        "nothing left over: {item:?}"
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// The promise under faults: deliveries lost, doubled and reordered; captures appearing
/// three hours after the calls (the calls ended three hours ago; their captures appear
/// once every contact is in WFO); WFO failing a fifth of its calls and dropping
/// the connection after some imports; the source answering 429 storms and 5xx on Search,
/// captures and downloads; capture links dying long before the time they advertise.
/// Every expected contact arrives exactly once, with the audio of its own span.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_doubled_reordered_deliveries_late_captures_and_failing_services_still_give_every_contact_once_with_its_audio()
 {
    use wfo_sim_wxcc::{DeliveryPolicy, TaskFault, TaskRoute};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.wfo_faults = wfo_harness::WfoFaults {
        server_error: 0.1,
        unavailable: 0.1,
        processed_then_dropped: 0.15,
        ..wfo_harness::WfoFaults::default()
    };
    let (h, cc) = world(cfg).await;
    let plane = cc.sim.tasks().unwrap();
    // No capture before every contact is in WFO; then three hours after each call.
    plane.set_capture_delay(Duration::from_secs(24 * 3600));
    plane.set_link_lifetime(Some(Duration::from_secs(2)));
    cc.sim.set_delivery_policy(DeliveryPolicy {
        duplicate_share: 1.0,
        drop_share: 0.3,
        reorder: true,
        delay: Duration::ZERO,
    });
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
    let first_ready = Utc::now() - chrono::Duration::hours(3) - chrono::Duration::seconds(20);
    let mut tasks = Vec::new();
    let all = scenarios();
    for copy in 0..2 {
        for (k, scenario) in all.iter().enumerate() {
            let at = first_ready + chrono::Duration::milliseconds((copy * all.len() + k) as i64 * 300);
            let who = if copy == 0 { &agents[..2] } else { &agents[1..] };
            tasks.push((*scenario, cc.play_ending_at(scenario.name(), at, who).unwrap()));
        }
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id)| id.clone()).collect();
    // Contacts first: every expected contact is in WFO before any capture exists.
    let plane_ref = cc.sim.tasks().unwrap();
    let expected: usize = tasks
        .iter()
        .map(|(s, id)| expected_contacts(*s, &plane_ref.task(id).unwrap()).len())
        .sum();
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
    plane.set_capture_delay(Duration::from_secs(3 * 3600));
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(90)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    for (scenario, id) in &tasks {
        let item = h.store.get(CC_CONNECTOR_ID, id).await.unwrap().unwrap();
        assert_ne!(item.health, Health::Dead, "{}: {:?}", scenario.name(), item.last_error);
    }
    let problems = problems(&h, &cc, &tasks);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        cc.sim.deliveries().len() > ids.len(),
        "deliveries were sent (and doubled)"
    );
    let injected = cc.sim.injected_faults();
    assert!(
        injected.get(&429).copied().unwrap_or(0) >= 6,
        "the 429 storm was met: {injected:?}"
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// "Enable Data Recapture": the previous day is walked again. A task whose data changed
/// since it was imported gets its contacts' metadata written again (no new contact), a
/// task that was never imported (no delivery, no poll found it) is imported, and nothing
/// is doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_data_recapture_walks_the_previous_day_again_updating_changed_tasks_and_importing_missed_ones() {
    use rand::SeedableRng;
    use wfo_domain::config::MetadataMapping;
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    // Only deliveries and the recapture discover tasks here.
    cfg.poller_enabled = false;
    let h = Harness::start(cfg).await.unwrap();
    let cc = h.add_contact_center(6, 2, 2).await.unwrap();
    let mut config = cc.connector.clone();
    config.metadata_mapping.push(MetadataMapping {
        acd_field: "lastWrapupCodeName".into(),
        label: "Wrap Up Code".into(),
    });
    h.store.put_connector(&config, Utc::now()).await.unwrap();
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    wait_subscribed(&cc).await;
    let plane = cc.sim.tasks().unwrap();
    let agents = cc.agents(2);
    let yesterday_noon = (Utc::now().date_naive() - chrono::Days::new(1))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let changed = cc.play_ending_at("hold", yesterday_noon, &agents).unwrap();
    let left = h
        .wait_settled_of(CC_CONNECTOR_ID, std::slice::from_ref(&changed), Duration::from_secs(30))
        .await;
    assert!(left.is_empty(), "the delivered task is imported");
    let wrap_up = |h: &Harness, id: &str| -> Vec<Option<String>> {
        h.wfo
            .contacts()
            .into_iter()
            .filter(|c| c.contact.import.assoc_call_id == id)
            .map(|c| {
                c.contact
                    .import
                    .metadata
                    .get(&wfo_domain::wfo::metadata_key_from_label("Wrap Up Code"))
                    .cloned()
            })
            .collect()
    };
    let before = wrap_up(&h, &changed);
    assert_eq!(before.len(), 1);
    assert_ne!(before[0].as_deref(), Some("Escalated to billing"));
    // After the import: the wrap-up code is set at the source, and a task nobody told us
    // about is in yesterday's history.
    let mut task = (*plane.task(&changed).unwrap()).clone();
    task.last_wrapup_code_name = Some("Escalated to billing".into());
    plane.insert_task(task);
    let mut missed = wfo_sim_wxcc::scenario::build(
        Scenario::BlindTransfer,
        yesterday_noon - chrono::Duration::hours(3),
        &agents,
        &wfo_sim_wxcc::ScenarioIds::default(),
        &mut rand::rngs::StdRng::seed_from_u64(5),
    )
    .unwrap();
    missed.scenario = Some(Scenario::BlindTransfer);
    let missed_id = missed.id.clone();
    plane.insert_history([missed]);
    // The recapture runs once a day, after its time.
    config.sync.data_recapture = true;
    config.sync.recapture_time = "00:00".into();
    let stored = h.store.put_connector(&config, Utc::now()).await.unwrap();
    let poll = wfo_pipeline::reconcile::PollSettings::default();
    let report = wfo_pipeline::reconcile::recapture_if_due(&h.runtime.connections, &stored, &poll, Utc::now())
        .await
        .unwrap()
        .expect("due: the recapture time has passed today");
    assert_eq!((report.new, report.replanned), (1, 1), "{report:?}");
    assert!(
        wfo_pipeline::reconcile::recapture_if_due(&h.runtime.connections, &stored, &poll, Utc::now())
            .await
            .unwrap()
            .is_none(),
        "once a day"
    );
    let ids = vec![changed.clone(), missed_id.clone()];
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(30)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    assert_eq!(wrap_up(&h, &changed), vec![Some("Escalated to billing".to_owned())]);
    let problems = problems(
        &h,
        &cc,
        &[(Scenario::Hold, changed.clone()), (Scenario::BlindTransfer, missed_id)],
    );
    assert!(problems.is_empty(), "{problems:#?}");
    let item = h.store.get(CC_CONNECTOR_ID, &changed).await.unwrap().unwrap();
    assert!(
        item.notes.iter().any(|n| n.contains("data recapture")),
        "{:?}",
        item.notes
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// `backfill` reaches as far back as Search keeps tasks: a task that ended months ago
/// (beyond the 30 days Search answers activities for in one window) is found by its end
/// time and imported with its audio; a second backfill of the same window changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backfill_months_back_imports_old_tasks_once() {
    use rand::SeedableRng;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.poller_enabled = false;
    let (h, cc) = world(cfg).await;
    let plane = cc.sim.tasks().unwrap();
    let agents = cc.agents(2);
    let ended_long_ago = Utc::now() - chrono::Duration::days(200);
    let mut old = wfo_sim_wxcc::scenario::build(
        Scenario::ConsultTransfer,
        ended_long_ago,
        &agents,
        &wfo_sim_wxcc::ScenarioIds::default(),
        &mut rand::rngs::StdRng::seed_from_u64(9),
    )
    .unwrap();
    old.scenario = Some(Scenario::ConsultTransfer);
    let id = old.id.clone();
    plane.insert_history([old]);
    let connector = h.store.get_connector(CC_CONNECTOR_ID).await.unwrap().unwrap();
    let window = (
        ended_long_ago - chrono::Duration::days(3),
        ended_long_ago + chrono::Duration::days(3),
    );
    for round in 0..2 {
        let (report, _) = wfo_pipeline::reconcile::discover_window(
            &h.runtime.connections,
            &connector,
            window.0,
            window.1,
            wfo_domain::ledger::Discovery::Backfill,
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!((report.listed, report.new), (1, 1 - round), "round {round}: {report:?}");
        let left = h
            .wait_settled_of(CC_CONNECTOR_ID, std::slice::from_ref(&id), Duration::from_secs(30))
            .await;
        assert!(left.is_empty(), "round {round}: not settled");
    }
    let problems = problems(&h, &cc, &[(Scenario::ConsultTransfer, id)]);
    assert!(problems.is_empty(), "{problems:#?}");
    cc.sim.shutdown().await;
    h.shutdown().await;
}
