//! Oracle tests: every scenario folder under `fixtures/webex-calling/scenarios/` holds the
//! metadata documents of every recording of one call plus `expected.json`, the contacts
//! the connector must import. The simulator and the end-to-end tests play the same files.

mod fixtures;

use std::collections::{BTreeMap, BTreeSet};

use fixtures::*;
use wfo_domain::segment::SegmentedContact;
use wfo_domain::wfo::{Direction, EventType};
use wfo_webex_calling::parse_webex_calling;

fn assert_scenario(name: &str) -> Vec<SegmentedContact> {
    let actual = segment_scenario(name);
    let expected = expected_contacts(name);
    if actual != expected {
        let a = serde_json::to_string_pretty(&actual).unwrap();
        let e = serde_json::to_string_pretty(&expected).unwrap();
        panic!("scenario {name}: contacts differ\n--- actual ---\n{a}\n--- expected ---\n{e}");
    }
    actual
}

fn agents(contacts: &[SegmentedContact]) -> Vec<&str> {
    contacts.iter().map(|c| c.contact.agent.acd_id.as_str()).collect()
}

const ALICE: &str = "3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11";
const BOB: &str = "7a2d9e44-1c3b-4f58-a6e0-2b9c8d7e6f22";
const CAROL: &str = "b5e81f03-6d2a-47c9-8b14-9e3f0a2c5d33";
const DAVE: &str = "e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44";

/// The scenarios the brief requires; each has its own test below.
const SCENARIOS: &[&str] = &[
    "basic-inbound",
    "basic-outbound",
    "blind-transfer",
    "consult-transfer",
    "consult-no-transfer",
    "conference",
    "park-retrieve-same-user",
    "park-retrieve-other-user",
    "hold-resume",
    "pause-resume",
    "call-queue",
    "external-transfer",
];

#[test]
fn every_scenario_folder_is_a_required_scenario_and_none_is_missing() {
    let on_disk: BTreeSet<String> = scenario_names().into_iter().collect();
    let required: BTreeSet<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, required);
}

#[test]
fn basic_inbound_call_gives_one_inbound_contact_spanning_the_whole_recording() {
    let c = assert_scenario("basic-inbound");
    assert_eq!(agents(&c), [ALICE]);
    assert_eq!(c[0].contact.direction, Direction::Inbound);
    assert_eq!(c[0].contact.ani.as_deref(), Some("+14155550123"));
    assert_eq!(c[0].media.as_ref().unwrap().offset_ms, 0);
    assert_eq!(c[0].media.as_ref().unwrap().duration_ms, c[0].contact.call_duration);
}

#[test]
fn basic_outbound_call_gives_one_outbound_contact_even_with_offset_timestamps() {
    let c = assert_scenario("basic-outbound");
    assert_eq!(agents(&c), [BOB]);
    assert_eq!(c[0].contact.direction, Direction::Outbound);
    assert_eq!(c[0].contact.dnis.as_deref(), Some("+13125550187"));
}

#[test]
fn blind_transfer_gives_each_agent_a_contact_for_their_own_part() {
    let c = assert_scenario("blind-transfer");
    assert_eq!(agents(&c), [ALICE, BOB]);
    let alice_end = c[0].contact.start_time + c[0].contact.call_duration;
    assert!(alice_end <= c[1].contact.start_time, "parts do not overlap");
}

#[test]
fn consult_transfer_first_agent_keeps_the_call_until_the_transfer_and_the_target_from_the_consult_on() {
    let c = assert_scenario("consult-transfer");
    assert_eq!(agents(&c), [ALICE, BOB]);
    let alice_end = c[0].contact.start_time + c[0].contact.call_duration;
    assert!(
        c[1].contact.start_time < alice_end,
        "Bob's part starts with the consult, before Alice leaves"
    );
    // Alice was still holding the customer when the transfer completed: no RETRIEVE.
    let kinds: Vec<EventType> = c[0].contact.events.iter().map(|e| e.event_type).collect();
    assert_eq!(kinds, [EventType::Hold]);
}

#[test]
fn consult_without_transfer_first_agent_spans_the_whole_call_and_the_consulted_agent_only_the_consult() {
    let c = assert_scenario("consult-no-transfer");
    assert_eq!(agents(&c), [CAROL, DAVE]);
    let (carol, dave) = (&c[0].contact, &c[1].contact);
    assert!(carol.start_time < dave.start_time);
    assert!(dave.start_time + dave.call_duration < carol.start_time + carol.call_duration);
    assert_eq!(dave.direction, Direction::Internal, "the consult is agent to agent");
}

#[test]
fn conference_first_agent_spans_the_whole_call_and_the_added_agent_from_join_to_leave() {
    let c = assert_scenario("conference");
    assert_eq!(agents(&c), [ALICE, CAROL]);
    assert_eq!(
        c[1].contact.direction,
        Direction::Inbound,
        "the customer is on the conference"
    );
}

#[test]
fn park_and_retrieve_by_the_same_user_split_one_recording_into_two_contacts() {
    let c = assert_scenario("park-retrieve-same-user");
    assert_eq!(agents(&c), [BOB, BOB]);
    assert!(c[0].contact.external_id.ends_with(":0") && c[1].contact.external_id.ends_with(":1"));
    assert!(
        c[1].media.as_ref().unwrap().offset_ms
            > c[0].media.as_ref().unwrap().offset_ms + c[0].media.as_ref().unwrap().duration_ms,
        "parked audio belongs to nobody"
    );
}

#[test]
fn park_and_retrieve_by_another_user_gives_each_their_own_contact() {
    let c = assert_scenario("park-retrieve-other-user");
    assert_eq!(agents(&c), [ALICE, DAVE]);
}

#[test]
fn hold_and_resume_stay_inside_one_contact_as_hold_and_retrieve_events() {
    let c = assert_scenario("hold-resume");
    assert_eq!(c.len(), 1);
    let kinds: Vec<EventType> = c[0].contact.events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        [
            EventType::Hold,
            EventType::Retrieve,
            EventType::Hold,
            EventType::Retrieve
        ]
    );
}

#[test]
fn pause_and_resume_become_events_and_the_paused_time_is_cut_from_the_media_slice() {
    let c = assert_scenario("pause-resume");
    let kinds: Vec<EventType> = c[0].contact.events.iter().map(|e| e.event_type).collect();
    assert_eq!(kinds, [EventType::Pause, EventType::Resume]);
    assert_eq!(
        c[0].contact.call_duration - c[0].media.as_ref().unwrap().duration_ms,
        75_000
    );
}

#[test]
fn call_queue_recording_gives_contacts_to_the_answering_agents_never_to_the_queue() {
    let c = assert_scenario("call-queue");
    assert_eq!(agents(&c), [CAROL, DAVE]);
    assert!(
        !c[1].contact.events.iter().any(|e| e.event_type == EventType::Pause),
        "Carol paused, not Dave"
    );
}

#[test]
fn transfer_to_an_external_party_gives_no_contact_for_the_external_leg() {
    let c = assert_scenario("external-transfer");
    assert_eq!(agents(&c), [BOB]);
}

#[test]
fn every_contact_of_a_scenario_shares_the_call_session_id_as_assoc_call_id() {
    for name in SCENARIOS {
        let docs = scenario_docs(name);
        let sessions: BTreeSet<&str> = docs
            .iter()
            .map(|(_, d)| d["serviceData"]["callSessionId"].as_str().unwrap())
            .collect();
        assert_eq!(sessions.len(), 1, "{name}: one callSessionId per call");
        for c in expected_contacts(name) {
            assert!(
                sessions.contains(c.contact.assoc_call_id.as_str()),
                "{name}: {}",
                c.contact.external_id
            );
        }
    }
}

#[test]
fn every_fixture_recording_has_audio_consistent_with_its_session_and_pauses() {
    for name in SCENARIOS {
        let docs = scenario_docs(name);
        let mut audio: BTreeMap<String, i64> = BTreeMap::new();
        for (file, doc) in &docs {
            let tl = parse_webex_calling(doc).unwrap();
            let len = tl.audio_length_ms();
            assert!(
                (60_000..=6 * 60_000).contains(&tl.span().len_ms()),
                "{name}/{file}: calls last 1-6 minutes"
            );
            assert!(len > 0 && len <= tl.span().len_ms(), "{name}/{file}");
            audio.insert(tl.recording.id.clone(), len);
        }
        for c in expected_contacts(name) {
            let len = audio[&c.media.as_ref().unwrap().recording_id];
            assert!(
                c.media.as_ref().unwrap().offset_ms >= 0
                    && c.media.as_ref().unwrap().offset_ms + c.media.as_ref().unwrap().duration_ms <= len,
                "{name}"
            );
        }
    }
}

#[test]
fn every_agent_in_the_expected_contacts_is_in_the_fixture_user_list() {
    let users = read_json(&fixtures().join("users.json"));
    let ids: BTreeSet<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    for name in SCENARIOS {
        for c in expected_contacts(name) {
            assert!(
                ids.contains(c.contact.agent.acd_id.as_str()),
                "{name}: {}",
                c.contact.agent.acd_id
            );
        }
    }
}

#[test]
fn scenario_output_serialises_to_the_documented_cli_shape() {
    let c = segment_scenario("pause-resume");
    let v = serde_json::to_value(&c).unwrap();
    let first = &v[0];
    for key in [
        "externalId",
        "assocCallId",
        "contactType",
        "startTime",
        "callDuration",
        "ani",
        "dnis",
        "direction",
        "agent",
        "language",
        "events",
        "metadata",
        "audio",
        "media",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        first["media"]["recordingId"],
        first["externalId"].as_str().unwrap().split(':').nth(1).unwrap()
    );
    assert_eq!(
        first["audio"],
        serde_json::json!({"expected": true, "format": "MP3", "channels": 1})
    );
    assert_eq!(first["language"], serde_json::Value::Null);
    assert_eq!(first["agent"]["acdServerId"], 3);
}
