//! What each scenario should become: `expected_contacts` against the module doc's
//! statement (numbers written out here), against a reading of the built nodes by the
//! reference §2.4 rules, and against the hand-worked fixtures of `fixtures/webex-cc-2`
//! (the WFO guide's three examples among them).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use wfo_sim_wxcc::scenario::build;
use wfo_sim_wxcc::{
    CallType, ExpectedContact, Scenario, ScenarioAgent, ScenarioIds, SimTask, expected_contacts, generate_tasks,
};

fn agents() -> Vec<ScenarioAgent> {
    [
        "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "7b2e1d3f-4c5e-4f60-9bac-1d2e3f4a5b6c",
    ]
    .iter()
    .enumerate()
    .map(|(i, id)| ScenarioAgent {
        ci_user_id: (*id).to_owned(),
        name: format!("Agent {i}"),
    })
    .collect()
}

fn base() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_767_261_600_000).unwrap()
}

fn built(s: Scenario, seed: u64) -> SimTask {
    build(
        s,
        base(),
        &agents(),
        &ScenarioIds::default(),
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

/// (agent index, start, end, has audio, consult capture, markers), ms after the base.
type Row = (usize, i64, i64, bool, bool, Vec<(&'static str, i64)>);

/// The module doc's statement, scenario by scenario.
fn doc_statement(s: Scenario) -> Vec<Row> {
    let hold = |t| vec![("HOLD", t)];
    match s {
        Scenario::BasicInbound => vec![(0, 26_000, 206_000, true, false, vec![])],
        Scenario::Hold => vec![(
            0,
            26_000,
            206_000,
            true,
            false,
            vec![("HOLD", 86_000), ("RETRIEVE", 116_000)],
        )],
        Scenario::PauseResume => vec![(
            0,
            26_000,
            206_000,
            true,
            false,
            vec![("PAUSE", 86_000), ("RESUME", 101_000)],
        )],
        Scenario::BlindTransfer => vec![
            (0, 26_000, 96_000, true, false, vec![]),
            (1, 101_000, 206_000, true, false, vec![]),
        ],
        Scenario::ConsultTransfer => vec![
            (0, 26_000, 101_000, true, false, hold(68_000)),
            (1, 72_000, 206_000, true, false, vec![]),
        ],
        Scenario::Conference => vec![
            (0, 26_000, 206_000, true, false, hold(68_000)),
            (1, 72_000, 146_000, true, false, vec![]),
        ],
        Scenario::TransferBack => vec![
            (0, 26_000, 101_000, true, false, hold(68_000)),
            (1, 72_000, 146_000, true, false, vec![]),
            (0, 151_000, 206_000, true, false, vec![]),
        ],
        Scenario::Outbound => vec![(0, 8_000, 128_000, true, false, vec![])],
        Scenario::Abandoned => vec![],
        Scenario::NotRecorded => vec![(0, 26_000, 206_000, false, false, vec![])],
        Scenario::Chat => vec![(0, 5_000, 185_000, false, false, vec![])],
        Scenario::GuideConsult => vec![
            (
                0,
                26_000,
                167_000,
                true,
                false,
                vec![("HOLD", 68_000), ("RETRIEVE", 110_000)],
            ),
            (1, 68_000, 110_000, true, true, vec![]),
        ],
        Scenario::GuideTransfer => vec![
            (0, 26_000, 70_000, true, false, vec![]),
            (1, 75_000, 149_000, true, false, vec![]),
        ],
        Scenario::GuideConference => vec![
            (0, 26_000, 155_000, true, false, hold(58_000)),
            (1, 60_000, 120_000, true, false, vec![]),
        ],
    }
}

fn rows(got: &[ExpectedContact], t0: i64) -> Vec<Row> {
    let ag = agents();
    got.iter()
        .map(|c| {
            let who = ag.iter().position(|a| a.ci_user_id == c.agent_ci_id).unwrap();
            let events = c
                .events
                .iter()
                .map(|(k, t)| {
                    let k: &'static str = match k.as_str() {
                        "HOLD" => "HOLD",
                        "RETRIEVE" => "RETRIEVE",
                        "PAUSE" => "PAUSE",
                        "RESUME" => "RESUME",
                        other => panic!("unknown marker {other}"),
                    };
                    (k, t - t0)
                })
                .collect();
            (
                who,
                c.start_ms - t0,
                c.start_ms - t0 + c.duration_ms,
                c.has_audio,
                c.consult_capture,
                events,
            )
        })
        .collect()
}

#[test]
fn every_scenario_states_the_contacts_the_module_doc_gives() {
    let t0 = base().timestamp_millis();
    for s in Scenario::ALL {
        let task = built(s, 1);
        assert_eq!(task.scenario, Some(s), "{}", s.name());
        assert_eq!(rows(&expected_contacts(s, &task), t0), doc_statement(s), "{}", s.name());
        assert_eq!(Scenario::from_name(s.name()), Ok(s));
        let unknown = Scenario::from_name("nope").unwrap_err().to_string();
        assert!(
            unknown.contains(&format!(" {},", s.name())) || unknown.ends_with(&format!(" {}", s.name())),
            "{unknown}"
        );
    }
}

#[test]
fn guide_scenarios_give_exactly_the_guides_durations() {
    let ag = agents();
    for (s, want) in [
        (Scenario::GuideConsult, [141_000, 42_000]),
        (Scenario::GuideTransfer, [44_000, 74_000]),
        (Scenario::GuideConference, [129_000, 60_000]),
    ] {
        let got = expected_contacts(s, &built(s, 2));
        let got: Vec<(&str, i64)> = got.iter().map(|c| (c.agent_ci_id.as_str(), c.duration_ms)).collect();
        assert_eq!(
            got,
            vec![
                (ag[0].ci_user_id.as_str(), want[0]),
                (ag[1].ci_user_id.as_str(), want[1])
            ],
            "{}",
            s.name()
        );
    }
}

/// The §2.4 rules applied to a built task (written out here, independently of both the
/// builder and `expected_contacts`): epoch-ms contacts, ordered by start, end, agent.
fn read_by_section_2_4(task: &SimTask) -> Vec<ExpectedContact> {
    const ON: &[&str] = &[
        "connected",
        "on-hold",
        "hold-done",
        "consulting",
        "consult",
        "conferencing",
        "conference",
        "paused",
        "resumed",
    ];
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    // agent → (start, end, through a consulting/conferencing destination)
    let mut spans: BTreeMap<String, Vec<(i64, i64, bool)>> = BTreeMap::new();
    let mut markers: Vec<(String, &'static str, i64)> = Vec::new();
    for n in &task.activities {
        let name = n.event_name.to_lowercase();
        let Some(agent) = &n.agent else { continue };
        let span = (ms(n.created_time), ms(n.ended_time));
        if ON.contains(&name.as_str()) {
            spans.entry(agent.id.clone()).or_default().push((span.0, span.1, false));
        }
        if (name == "consulting" || name == "conferencing")
            && let Some(d) = &n.destination_agent
        {
            spans.entry(d.id.clone()).or_default().push((span.0, span.1, true));
        }
        let marker = match name.as_str() {
            "on-hold" => Some("HOLD"),
            "hold-done" => Some("RETRIEVE"),
            "paused" => Some("PAUSE"),
            "resumed" => Some("RESUME"),
            _ => None,
        };
        if let Some(m) = marker {
            markers.push((agent.id.clone(), m, span.0));
        }
    }
    let digital = task.channel_type != "telephony";
    let has_audio = !digital
        && task.capture_requested == Some(true)
        && task.recordings.iter().any(|r| r.call_type == CallType::Main);
    let consults: Vec<(i64, i64)> = task
        .recordings
        .iter()
        .filter(|r| r.call_type == CallType::Consult)
        .map(|r| (ms(r.start_time), ms(r.stop_time)))
        .collect();
    let mut out = Vec::new();
    for (agent, mut v) in spans {
        v.sort();
        let mut merged: Vec<(i64, i64, bool)> = Vec::new();
        for (a, b, dest) in v {
            match merged.last_mut() {
                Some(last) if a - last.1 < 2_000 => {
                    last.1 = last.1.max(b);
                    last.2 |= dest;
                }
                _ => merged.push((a, b, dest)),
            }
        }
        for (a, b, dest) in merged {
            let within = consults.iter().any(|(s, e)| a >= s - 2_000 && b <= e + 2_000);
            let mut events: Vec<(String, i64)> = markers
                .iter()
                .filter(|(who, _, t)| *who == agent && *t >= a && *t <= b)
                .map(|(_, m, t)| ((*m).to_owned(), *t))
                .collect();
            events.sort_by_key(|e| e.1);
            out.push(ExpectedContact {
                agent_ci_id: agent.clone(),
                start_ms: a,
                duration_ms: b - a,
                has_audio,
                consult_capture: has_audio && dest && within,
                events,
            });
        }
    }
    out.sort_by(|x, y| {
        (x.start_ms, x.start_ms + x.duration_ms, &x.agent_ci_id).cmp(&(
            y.start_ms,
            y.start_ms + y.duration_ms,
            &y.agent_ci_id,
        ))
    });
    out
}

#[test]
fn built_nodes_read_by_section_2_4_give_the_expected_contacts() {
    for s in Scenario::ALL {
        let task = built(s, 3);
        assert_eq!(read_by_section_2_4(&task), expected_contacts(s, &task), "{}", s.name());
    }
    // Generated tasks too, with the agents drawn at random among four.
    let four: Vec<ScenarioAgent> = (0..4)
        .map(|i| ScenarioAgent {
            ci_user_id: format!("1a2b3c4d-0000-4000-8000-00000000000{i}"),
            name: format!("Agent {i}"),
        })
        .collect();
    let window = (base(), base() + chrono::Duration::hours(6));
    let tasks = generate_tasks(400, window, &four, 11);
    let mut seen = std::collections::BTreeSet::new();
    for task in &tasks {
        let s = task.scenario.unwrap();
        seen.insert(s.name());
        assert!(
            task.created_time >= window.0 && task.ended_time <= window.1,
            "{}",
            s.name()
        );
        assert_eq!(read_by_section_2_4(task), expected_contacts(s, task), "{}", s.name());
    }
    assert_eq!(seen.len(), Scenario::ALL.len(), "every scenario drawn: {seen:?}");
}

#[test]
fn new_scenarios_have_the_right_task_fields() {
    let chat = built(Scenario::Chat, 4);
    assert_eq!(chat.channel_type, "chat");
    assert_eq!(chat.capture_requested, Some(false));
    assert!(chat.recordings.is_empty() && !chat.expects_capture());
    assert!(chat.origin.ends_with("@example.com"), "{}", chat.origin);
    let not_recorded = built(Scenario::NotRecorded, 4);
    assert_eq!(not_recorded.capture_requested, Some(false));
    assert!(not_recorded.recordings.is_empty());
    assert!(
        not_recorded
            .activities
            .iter()
            .all(|n| n.event_name != "recording-started")
    );
    let ag = agents();
    let back = built(Scenario::TransferBack, 4);
    assert_eq!(
        back.owner.as_ref().map(|a| a.id.as_str()),
        Some(ag[0].ci_user_id.as_str())
    );
    assert_eq!(
        back.previous_agent.as_ref().map(|a| a.id.as_str()),
        Some(ag[1].ci_user_id.as_str())
    );
    let main = &back.recordings[0];
    let splits: Vec<i64> = main
        .segment_starts
        .iter()
        .map(|t| (*t - base()).num_milliseconds())
        .collect();
    assert_eq!(splits, vec![101_003, 146_003]);
    assert_eq!(back.recordings[1].call_type, CallType::Consult);
    // A scenario that needs two agents refuses one.
    assert!(
        build(
            Scenario::GuideConsult,
            base(),
            &ag[..1],
            &ScenarioIds::default(),
            &mut StdRng::seed_from_u64(0)
        )
        .is_err()
    );
}

fn fixture(name: &str, file: &str) -> Value {
    let path = format!("{}/../../fixtures/webex-cc-2/{name}/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Fixture agent id → role (A = 0, B = 1), by the fixtures' two fixed ids.
fn role(id: &Value) -> Option<usize> {
    let ag = agents();
    id.as_str()
        .map(|id| ag.iter().position(|a| a.ci_user_id == id).unwrap())
}

/// (event, start, end, agent role, destination role, transferType), ms after the base.
type NodeRow = (String, i64, i64, Option<usize>, Option<usize>, Value);

#[test]
fn scenarios_reproduce_the_hand_worked_fixtures() {
    // The fixtures leave the `recording-started` marker out; nothing else differs.
    for (s, name) in [
        (Scenario::GuideConsult, "guide-consult"),
        (Scenario::GuideTransfer, "guide-transfer"),
        (Scenario::GuideConference, "guide-conference"),
        (Scenario::BasicInbound, "basic-inbound"),
        (Scenario::Hold, "hold"),
        (Scenario::NotRecorded, "not-recorded"),
        (Scenario::Outbound, "outbound"),
        (Scenario::Abandoned, "abandoned-no-agent"),
    ] {
        let doc = fixture(name, "task.json");
        let t0 = doc["task"]["createdTime"].as_i64().unwrap();
        let want_nodes: Vec<NodeRow> = doc["task"]["activities"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["eventName"].as_str().unwrap().to_owned(),
                    n["createdTime"].as_i64().unwrap() - t0,
                    n["endedTime"].as_i64().unwrap() - t0,
                    role(&n["agentId"]),
                    role(&n["destinationAgentId"]),
                    n["transferType"].clone(),
                )
            })
            .collect();
        let task = built(s, 5);
        let ag = agents();
        let idx = |id: &str| ag.iter().position(|a| a.ci_user_id == id);
        let got_nodes: Vec<NodeRow> = task
            .activities
            .iter()
            .filter(|n| n.event_name != "recording-started")
            .map(|n| {
                (
                    n.event_name.clone(),
                    (n.created_time - base()).num_milliseconds(),
                    (n.ended_time - base()).num_milliseconds(),
                    n.agent.as_ref().and_then(|a| idx(&a.id)),
                    n.destination_agent.as_ref().and_then(|a| idx(&a.id)),
                    n.transfer_type.clone().map_or(Value::Null, Value::String),
                )
            })
            .collect();
        assert_eq!(got_nodes, want_nodes, "{name}: nodes");
        assert_eq!(
            (task.ended_time - base()).num_milliseconds(),
            doc["task"]["endedTime"].as_i64().unwrap() - t0,
            "{name}"
        );
        assert_eq!(
            Some(task.capture_requested == Some(true)),
            doc["task"]["captureRequested"].as_bool(),
            "{name}"
        );

        let want_caps: Vec<(String, i64, i64)> = doc["captures"]["recording"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|r| {
                        let a = &r["attributes"];
                        (
                            a["callType"].as_str().unwrap().to_owned(),
                            a["startTime"].as_i64().unwrap() - t0,
                            a["stopTime"].as_i64().unwrap() - t0,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let got_caps: Vec<(String, i64, i64)> = task
            .recordings
            .iter()
            .map(|r| {
                (
                    match r.call_type {
                        CallType::Main => "main",
                        CallType::Consult => "consult",
                    }
                    .to_owned(),
                    (r.start_time - base()).num_milliseconds(),
                    (r.stop_time - base()).num_milliseconds(),
                )
            })
            .collect();
        assert_eq!(got_caps, want_caps, "{name}: captures");

        // The fixture's hand-worked contacts: which capture's audio, if any, each gets.
        let consult_ids: Vec<&str> = doc["captures"]["recording"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|r| r["attributes"]["callType"] == "consult")
                    .filter_map(|r| r["id"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<Row> = fixture(name, "expected.json")
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let start = c["startTime"].as_i64().unwrap() - t0;
                let events = c["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        let k: &'static str = match e["type"].as_str().unwrap() {
                            "HOLD" => "HOLD",
                            "RETRIEVE" => "RETRIEVE",
                            "PAUSE" => "PAUSE",
                            _ => "RESUME",
                        };
                        (k, e["time"].as_i64().unwrap() - t0)
                    })
                    .collect();
                (
                    role(&c["agent"]["acdId"]).unwrap(),
                    start,
                    start + c["callDuration"].as_i64().unwrap(),
                    !c["audio"].is_null(),
                    c["media"]["recordingId"]
                        .as_str()
                        .is_some_and(|id| consult_ids.contains(&id)),
                    events,
                )
            })
            .collect();
        assert_eq!(
            rows(&expected_contacts(s, &task), base().timestamp_millis()),
            want,
            "{name}: contacts"
        );
    }
}
