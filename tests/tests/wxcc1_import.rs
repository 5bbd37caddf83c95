//! The Contact Center 1.0 contact import end to end, and against 2.0: the same tasks
//! played through the 2.0 simulator (Search, captures, deliveries) and the 1.0 simulator
//! (CSRs and CARs polled, the media API's mono WAV) become the same contacts in one WFO.
//! 1.0 sends no webhooks: sessions come through the poller, audio through the audio wait.
//! Each test starts its own simulators and store on 127.0.0.1 and shuts them down.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use wfo_domain::ledger::{Health, LedgerItem, Stage};
use wfo_domain::wfo::ContactType;
use wfo_harness::{
    CC_CONNECTOR_ID, CC1_CONNECTOR_ID, Cc1Org, ContactCenter, ContactCenter1, Harness, HarnessConfig, Received,
    play_in_both, synthetic_agents,
};
use wfo_pipeline::ports::{ConnectorStore, Ledger};
use wfo_sim_wxcc::{Scenario, expected_contacts};
use wfo_sim_wxcc1::{Fault, Route};
use wfo_webex_cc1::WEBEX_CC1_EXTERNAL_ID_PREFIX;
use wfo_webex_cc2::segment::WEBEX_CC2_EXTERNAL_ID_PREFIX;

/// The 1.0 org of the tests that need no 2.0 org: 4 agents, 2 teams, 2 queues.
async fn world_1(cfg: HarnessConfig) -> (Harness, ContactCenter1) {
    common::init_tracing();
    let wfo_fails = cfg.wfo_faults != wfo_harness::WfoFaults::default();
    let h = Harness::start(cfg).await.unwrap();
    let cc1 = h
        .add_contact_center_1(&Cc1Org {
            agents: synthetic_agents(4, 21),
            teams: 2,
            queues: 2,
        })
        .await
        .unwrap();
    synced(&h, !wfo_fails).await;
    (h, cc1)
}

/// The 1.0 connector's first sync (teams, queues, users) is done (and `complete`, unless
/// WFO is made to fail: then its next runs retry what failed).
async fn synced(h: &Harness, complete: bool) {
    let status = h
        .wait_for_sync_of(CC1_CONNECTOR_ID, Duration::from_secs(30))
        .await
        .expect("the Contact Center 1.0 sync runs");
    assert!(
        !complete || status.last_run.error.is_none(),
        "{:?}",
        status.last_run.error
    );
}

/// Every contact of the 1.0 `sessions` exactly once, each as its scenario says
/// ([`Harness::check_session`]).
fn problems_1(h: &Harness, cc1: &ContactCenter1, sessions: &[(Scenario, String)]) -> Vec<String> {
    let ids: Vec<String> = sessions.iter().map(|(_, id)| id.clone()).collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in h.received_of(WEBEX_CC1_EXTERNAL_ID_PREFIX, &ids) {
        if !seen.insert(r.external_id.clone()) {
            out.push(format!("{} twice in WFO", r.external_id));
        }
    }
    for (scenario, id) in sessions {
        out.extend(h.check_session(cc1, *scenario, id));
    }
    out
}

/// Contacts the 1.0 sessions should give, in all.
fn expected_1(cc1: &ContactCenter1, sessions: &[(Scenario, String)]) -> usize {
    sessions
        .iter()
        .map(|(s, id)| expected_contacts(*s, &cc1.task(id).unwrap()).len())
        .sum()
}

/// Contacts in WFO, audio awaited (between checks the item is `Waiting`, during one `Ok`).
fn waits_for_audio(item: &LedgerItem) -> bool {
    item.stage == Stage::ContactsImported
        && item.health != Health::Dead
        && item.audio_wait.is_some()
        && item.contacts_awaiting_audio() > 0
}

/// One contact as the versions are compared: agent, span, audio or not.
fn shape(r: &Received) -> (i64, i64, String, bool) {
    (
        r.start_time,
        r.duration_ms,
        r.agent_acd_id.to_ascii_lowercase(),
        r.audio_bytes.is_some_and(|b| b > 0),
    )
}

fn shapes(mut v: Vec<Received>) -> Vec<(i64, i64, String, bool)> {
    let mut out: Vec<_> = v.drain(..).map(|r| shape(&r)).collect();
    out.sort();
    out
}

/// (a) Every scenario, one task each, played through 2.0 and 1.0 with the same agents:
/// the same contacts — count, start and duration to the millisecond, agent, audio
/// presence — each version's grouped by the call's id as assocCallId; each as its
/// scenario says, and the guide's consult, transfer and conference durations in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_gives_the_same_contacts_through_contact_center_1_and_2() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(HarnessConfig::new(dir.path().to_owned())).await.unwrap();
    let cc: ContactCenter = h.add_contact_center(6, 2, 2).await.unwrap();
    h.authorize_connector(CC_CONNECTOR_ID).await.unwrap();
    // The same people in both orgs: the 1.0 users' aux-data ids are the 2.0 CI user ids.
    let agents = cc.agents(2);
    let cc1 = h
        .add_contact_center_1(&Cc1Org {
            agents: agents.clone(),
            teams: 1,
            queues: 1,
        })
        .await
        .unwrap();
    synced(&h, true).await;
    let base = Utc::now() - chrono::Duration::minutes(10);
    let mut tasks = Vec::new();
    for (k, scenario) in Scenario::ALL.into_iter().enumerate() {
        let task = play_in_both(
            &cc,
            &cc1,
            scenario,
            base + chrono::Duration::seconds(k as i64),
            &agents,
            k as u64,
        )
        .unwrap();
        tasks.push((scenario, task.id));
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id)| id.clone()).collect();
    let left = h.wait_settled_of(CC_CONNECTOR_ID, &ids, Duration::from_secs(60)).await;
    assert!(left.is_empty(), "2.0 not settled: {left:?}");
    let left = h.wait_sessions(&cc1, &tasks, Duration::from_secs(60)).await;
    assert!(left.is_empty(), "1.0 not imported: {left:?}");
    let mut problems = Vec::new();
    for (scenario, id) in &tasks {
        problems.extend(h.check_task(&cc, *scenario, id));
    }
    problems.extend(problems_1(&h, &cc1, &tasks));
    assert!(problems.is_empty(), "{problems:#?}");
    // Version against version, contact by contact.
    let mut differences = Vec::new();
    let mut table = Vec::new();
    for (scenario, id) in &tasks {
        let v2 = h.received_of(WEBEX_CC2_EXTERNAL_ID_PREFIX, std::slice::from_ref(id));
        let v1 = h.received_of(WEBEX_CC1_EXTERNAL_ID_PREFIX, std::slice::from_ref(id));
        assert!(
            v1.iter().chain(&v2).all(|r| &r.assoc_call_id == id),
            "{}: assocCallId groups one call: {v1:#?} {v2:#?}",
            scenario.name()
        );
        table.push(format!(
            "{:<17} 2.0: {} contact(s), {} with audio; 1.0: {} contact(s), {} with audio",
            scenario.name(),
            v2.len(),
            v2.iter().filter(|r| r.audio_bytes.is_some()).count(),
            v1.len(),
            v1.iter().filter(|r| r.audio_bytes.is_some()).count()
        ));
        let (s2, s1) = (shapes(v2), shapes(v1));
        if s2 != s1 {
            differences.push(format!("{}: 2.0 {s2:?} vs 1.0 {s1:?}", scenario.name()));
        }
    }
    println!("{}", table.join("\n"));
    assert!(differences.is_empty(), "{differences:#?}");
    // The guide's examples through 1.0: consult 2:21 and 0:42, transfer 0:44 and 1:14,
    // conference 2:09 and 1:00.
    for (name, durations) in [
        ("guide-consult", [141_000, 42_000]),
        ("guide-transfer", [44_000, 74_000]),
        ("guide-conference", [129_000, 60_000]),
    ] {
        let (_, id) = tasks.iter().find(|(s, _)| s.name() == name).unwrap();
        let mut got = h.received_of(WEBEX_CC1_EXTERNAL_ID_PREFIX, std::slice::from_ref(id));
        got.sort_by_key(|r| (r.start_time, r.external_id.clone()));
        let got: Vec<i64> = got.iter().map(|r| r.duration_ms).collect();
        assert_eq!(got, durations, "{name}");
    }
    // The 1.0 agents are the persons of ACD server 5, the 2.0 ones of server 4.
    let servers: BTreeMap<i64, usize> = h.wfo.contacts().iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.contact.import.agent.acd_server_id).or_default() += 1;
        m
    });
    assert_eq!(
        servers.get(&wfo_harness::CC1_ACD_SERVER_ID),
        Some(&expected_1(&cc1, &tasks)),
        "{servers:?}"
    );
    cc1.sim.shutdown().await;
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// (b) Contacts first, audio when the media API has it: with recordings not ready (the
/// simulator's capture delay a day) every contact of every scenario arrives without
/// audio and the items wait; once the recordings are ready (the delay lowered, the
/// simulator's clock still real time) the audio wait's checks bring each contact its
/// own slice of the session's mono recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contacts_come_first_and_the_audio_follows_when_the_media_api_has_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (h, cc1) = world_1(HarnessConfig::new(dir.path().to_owned())).await;
    cc1.set_capture_delay(Duration::from_secs(24 * 3600));
    let agents = cc1.agents(2);
    let ended = Utc::now() - chrono::Duration::minutes(5);
    let mut sessions = Vec::new();
    for (k, scenario) in Scenario::ALL.into_iter().enumerate() {
        let at = ended + chrono::Duration::milliseconds(300 * k as i64);
        sessions.push((scenario, cc1.play_ending_at(scenario.name(), at, &agents).unwrap()));
    }
    let ids: Vec<String> = sessions.iter().map(|(_, id)| id.clone()).collect();
    let expected = expected_1(&cc1, &sessions);
    let mut in_wfo = 0;
    for _ in 0..600 {
        in_wfo = h.received_of(WEBEX_CC1_EXTERNAL_ID_PREFIX, &ids).len();
        if in_wfo >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        in_wfo, expected,
        "every contact is imported before its recording exists"
    );
    // Seconds of audio checks: all of them 404.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = h.received_of(WEBEX_CC1_EXTERNAL_ID_PREFIX, &ids);
    assert_eq!(before.len(), expected);
    assert!(before.iter().all(|r| r.audio_bytes.is_none()), "{before:#?}");
    let mut waiting = 0;
    for (scenario, id) in &sessions {
        let item = h.store.get(CC1_CONNECTOR_ID, id).await.unwrap().unwrap();
        let voice_with_agents = !matches!(scenario, Scenario::Chat | Scenario::Abandoned);
        if voice_with_agents && !expected_contacts(*scenario, &cc1.task(id).unwrap()).is_empty() {
            assert!(waits_for_audio(&item), "{}: {item:?}", scenario.name());
            waiting += 1;
        } else {
            assert_eq!(item.stage, Stage::Done, "{}: {item:?}", scenario.name());
        }
    }
    let media_before = cc1.sim.request_counts().get(&Route::Media).copied().unwrap_or(0);
    assert!(media_before > 0, "the media API was asked");
    // The recordings are ready now (their sessions ended five minutes ago).
    cc1.set_capture_delay(Duration::from_secs(60));
    let left = h.wait_sessions(&cc1, &sessions, Duration::from_secs(40)).await;
    assert!(left.is_empty(), "the audio did not come: {left:?}");
    let problems = problems_1(&h, &cc1, &sessions);
    assert!(problems.is_empty(), "{problems:#?}");
    for (scenario, id) in &sessions {
        let item = h.store.get(CC1_CONNECTOR_ID, id).await.unwrap().unwrap();
        if *scenario != Scenario::NotRecorded {
            assert!(
                item.audio_wait.is_none() && item.source_state.is_none(),
                "{}: nothing left over: {item:?}",
                scenario.name()
            );
        }
    }
    println!(
        "{waiting} sessions waited for their recording; {expected} contacts; media API asked {} times",
        cc1.sim.request_counts().get(&Route::Media).copied().unwrap_or(0)
    );
    cc1.sim.shutdown().await;
    h.shutdown().await;
}

/// (c) A chat session is one CHAT contact with the configured fallback language and no
/// audio, done at once (a digital session has no recording to wait for).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chat_session_becomes_a_chat_contact_without_audio() {
    let dir = tempfile::tempdir().unwrap();
    let (h, cc1) = world_1(HarnessConfig::new(dir.path().to_owned())).await;
    // Recordings never ready: a chat must not wait for one.
    cc1.set_capture_delay(Duration::from_secs(24 * 3600));
    let agents = cc1.agents(1);
    let sid = cc1
        .play_ending_at("chat", Utc::now() - chrono::Duration::minutes(3), &agents)
        .unwrap();
    let left = h
        .wait_settled_of(CC1_CONNECTOR_ID, std::slice::from_ref(&sid), Duration::from_secs(30))
        .await;
    assert!(left.is_empty(), "{:?}", h.store.get(CC1_CONNECTOR_ID, &sid).await);
    let contacts: Vec<_> = h
        .wfo
        .contacts()
        .into_iter()
        .filter(|c| c.contact.import.assoc_call_id == sid)
        .collect();
    assert_eq!(contacts.len(), 1);
    let c = &contacts[0].contact;
    assert_eq!(c.import.contact_type, ContactType::Chat);
    assert_eq!(c.import.language.as_deref(), Some("en-US"));
    assert!(c.import.audio.is_none() && !c.audio_uploaded);
    let problems = problems_1(&h, &cc1, &[(Scenario::Chat, sid.clone())]);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        cc1.sim.request_counts().get(&Route::Media).copied().unwrap_or(0),
        0,
        "nobody asked the media API for a chat"
    );
    cc1.sim.shutdown().await;
    h.shutdown().await;
}

/// (d) The promise under faults: the 1.0 API answering 500 and 429 on CSRs, CARs, the
/// media API and the auxiliary data, WFO failing a fifth of its calls and dropping the
/// connection after some imports. Every expected contact arrives exactly once, with the
/// audio of its own span.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_1_0_apis_and_a_failing_wfo_still_give_every_contact_once_with_its_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.wfo_faults = wfo_harness::WfoFaults {
        server_error: 0.1,
        unavailable: 0.1,
        processed_then_dropped: 0.15,
        ..wfo_harness::WfoFaults::default()
    };
    let (h, cc1) = world_1(cfg).await;
    for (route, status, skip, times) in [
        (Route::Csrs, 500, 0, 2),
        (Route::Csrs, 429, 1, 2),
        (Route::Cars, 500, 1, 3),
        (Route::Cars, 429, 2, 2),
        (Route::Media, 500, 0, 3),
        (Route::Media, 429, 2, 2),
        (Route::AuxData, 503, 0, 2),
    ] {
        cc1.sim.push_fault(Fault {
            route,
            skip,
            times,
            status,
        });
    }
    let agents = cc1.agents(3);
    let ended = Utc::now() - chrono::Duration::minutes(4);
    let mut sessions = Vec::new();
    let all = Scenario::ALL;
    for copy in 0..2 {
        for (k, scenario) in all.iter().enumerate() {
            let at = ended + chrono::Duration::milliseconds((copy * all.len() + k) as i64 * 300);
            let who = if copy == 0 { &agents[..2] } else { &agents[1..] };
            sessions.push((*scenario, cc1.play_ending_at(scenario.name(), at, who).unwrap()));
        }
    }
    let left = h.wait_sessions(&cc1, &sessions, Duration::from_secs(90)).await;
    assert!(left.is_empty(), "not imported: {left:?}");
    for (scenario, id) in &sessions {
        let item = h.store.get(CC1_CONNECTOR_ID, id).await.unwrap().unwrap();
        assert_ne!(item.health, Health::Dead, "{}: {:?}", scenario.name(), item.last_error);
    }
    let problems = problems_1(&h, &cc1, &sessions);
    assert!(problems.is_empty(), "{problems:#?}");
    let (external_ids, agents_twice) = common::wfo_duplicates(&h).await;
    assert!(external_ids.is_empty(), "{external_ids:#?}");
    assert!(agents_twice.is_empty(), "{agents_twice:#?}");
    println!(
        "{} sessions, {} contacts; requests {:?}",
        sessions.len(),
        expected_1(&cc1, &sessions),
        cc1.sim.request_counts()
    );
    cc1.sim.shutdown().await;
    h.shutdown().await;
}

/// `backfill` finds sessions months back by their CSRs (once, however often it runs), and
/// the daily data recapture walks yesterday again: a session whose record changed at the
/// source gets its metadata written again, and a session nobody listed is imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_months_back_and_the_daily_recapture_find_sessions_and_follow_their_changes() {
    use wfo_domain::config::MetadataMapping;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    // Only backfill and the recapture discover sessions here.
    cfg.poller_enabled = false;
    let (h, cc1) = world_1(cfg).await;
    let mut config = cc1.connector.clone();
    config.metadata_mapping.push(MetadataMapping {
        acd_field: "agentName".into(),
        label: "Wrap Up Code".into(),
    });
    h.store.put_connector(&config, Utc::now()).await.unwrap();
    let agents = cc1.agents(2);
    let discover = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| {
        let h = &h;
        async move {
            let connector = h.store.get_connector(CC1_CONNECTOR_ID).await.unwrap().unwrap();
            wfo_pipeline::reconcile::discover_window(
                &h.runtime.connections,
                &connector,
                from,
                to,
                wfo_domain::ledger::Discovery::Backfill,
                |_| {},
            )
            .await
            .unwrap()
            .0
        }
    };

    // Months back, twice: listed both times, new once.
    let long_ago = Utc::now() - chrono::Duration::days(200);
    let old = cc1.play_ending_at("consult-transfer", long_ago, &agents).unwrap();
    for round in 0..2 {
        let report = discover(
            long_ago - chrono::Duration::days(3),
            long_ago + chrono::Duration::days(3),
        )
        .await;
        assert_eq!((report.listed, report.new), (1, 1 - round), "round {round}: {report:?}");
        let left = h
            .wait_settled_of(CC1_CONNECTOR_ID, std::slice::from_ref(&old), Duration::from_secs(30))
            .await;
        assert!(left.is_empty(), "round {round}: not settled");
    }

    // Yesterday: one session imported by a backfill, then changed at the source; one
    // more that nothing listed.
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let yesterday_noon = midnight - chrono::Duration::hours(12);
    let changed = cc1.play_ending_at("hold", yesterday_noon, &agents).unwrap();
    let report = discover(midnight - chrono::Duration::days(1), midnight).await;
    assert_eq!(report.new, 1, "{report:?}");
    let left = h
        .wait_settled_of(
            CC1_CONNECTOR_ID,
            std::slice::from_ref(&changed),
            Duration::from_secs(30),
        )
        .await;
    assert!(left.is_empty(), "the backfilled session is imported");
    let mapped = |h: &Harness, id: &str| -> Vec<Option<String>> {
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
    let before = mapped(&h, &changed);
    assert_eq!(before.len(), 1);
    assert!(before[0].is_some(), "the CSR's agentName is mapped");
    let mut session = cc1.sim.session(&changed).unwrap();
    session.csr.agent_name = Some("Escalated to billing".into());
    cc1.sim.insert_session(session);
    let missed = cc1
        .play_ending_at("blind-transfer", yesterday_noon - chrono::Duration::hours(3), &agents)
        .unwrap();

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
    let ids = vec![changed.clone(), missed.clone()];
    let left = h.wait_settled_of(CC1_CONNECTOR_ID, &ids, Duration::from_secs(30)).await;
    assert!(left.is_empty(), "not settled: {left:?}");
    assert_eq!(mapped(&h, &changed), vec![Some("Escalated to billing".to_owned())]);
    let problems = problems_1(
        &h,
        &cc1,
        &[
            (Scenario::ConsultTransfer, old),
            (Scenario::Hold, changed),
            (Scenario::BlindTransfer, missed),
        ],
    );
    assert!(problems.is_empty(), "{problems:#?}");
    cc1.sim.shutdown().await;
    h.shutdown().await;
}
