//! Targeted tests of the Webex Calling metadata parser and of the rules it feeds.

mod fixtures;

use fixtures::*;
use serde_json::{Value, json};
use wfo_domain::segment::{SegmentContext, SegmentError};
use wfo_domain::timeline::{FeatureKind, Party, RedirectKind};
use wfo_domain::wfo::{Direction, EventType};
use wfo_webex_calling::{ASSUMPTIONS, parse_webex_calling};
use wfo_webex_calling::{segment_webex_calling, segment_webex_calling_detailed};

const ALICE: &str = "3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11";
const BOB: &str = "7a2d9e44-1c3b-4f58-a6e0-2b9c8d7e6f22";
const QUEUE: &str = "5c0d7e3a-2b19-4f6e-9a8d-1e4c3b2a7f55";

fn ctx() -> SegmentContext {
    SegmentContext {
        acd_server_id: 7,
        metadata: vec![],
    }
}

fn user(id: &str) -> Value {
    json!({"actor": {"type": "USER", "id": id}, "number": "sip:1001@10.0.0.1;user=phone"})
}

fn participant(id: &str) -> Value {
    json!({"actor": {"type": "USER", "id": id}, "aor": "sip:x@10.0.0.1", "send": "s"})
}

fn customer() -> Value {
    json!({"aor": "tel:+14155550123", "send": "s"})
}

/// A small, valid USER-owned inbound recording of 10:00:00–10:05:00.
fn doc() -> Value {
    json!({
        "id": "rec-1",
        "ownerId": ALICE,
        "ownerType": "USER",
        "serviceData": {
            "callSessionId": "sess-1",
            "personality": "terminator",
            "callingParty": {"number": "tel:+14155550123"},
            "calledParty": user(ALICE),
            "session": {"startTime": "2026-04-01T10:00:00Z", "stopTime": "2026-04-01T10:05:00Z"},
            "callActivity": [{"timeStamp": "2026-04-01T10:00:01Z", "participants": [customer(), participant(ALICE)]}]
        }
    })
}

const T0: i64 = 1_775_037_600_000; // 2026-04-01T10:00:00Z

#[test]
fn the_openapi_example_parses_and_segments_its_masked_owner_from_the_calling_party() {
    let d = read_json(&fixtures().join("reference/openapi-metadata-example.json"));
    let s = segment_webex_calling_detailed(&d, &ctx()).unwrap();
    assert_eq!(
        s.timeline.recording.owner.user_id(),
        Some("c2335e53-c41b-423d-a41e-da0bf56e2038")
    );
    assert_eq!(s.contacts.len(), 1);
    let c = &s.contacts[0];
    assert_eq!(c.contact.external_id, "wxc:81bb582c-e93e-40aa-abf6-962b620f6db4:0");
    assert_eq!(c.contact.assoc_call_id, "fe2f5688-91a8-4799-a867-a396bb2b024a");
    assert_eq!(c.contact.direction, Direction::Internal, "both parties are users");
    assert_eq!(c.contact.ani.as_deref(), Some("####PII-EXPOSURE####"));
    assert_eq!(c.contact.dnis.as_deref(), Some("4060"));
    assert_eq!(c.contact.call_duration, 298_000);
    // PAUSE at +2 s, never resumed: the audio is 2 s long.
    assert_eq!(
        (
            c.media.as_ref().unwrap().offset_ms,
            c.media.as_ref().unwrap().duration_ms
        ),
        (0, 2000)
    );
    assert_eq!(c.contact.events.len(), 1);
    assert_eq!(c.contact.events[0].event_type, EventType::Pause);
    assert_eq!(c.contact.agent.acd_server_id, 7);
}

#[test]
fn malformed_documents_fail_with_an_error_naming_the_field_and_the_problem() {
    let dir = fixtures().join("malformed");
    let expected = read_json(&dir.join("expected-errors.json"));
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= 10);
    for (file, message) in expected {
        let d = read_json(&dir.join(file));
        let err = segment_webex_calling(&d, &ctx()).expect_err(file);
        assert_eq!(err.to_string(), message.as_str().unwrap(), "{file}");
        assert!(
            err.is_permanent(),
            "{file}: a malformed document never becomes valid by retrying"
        );
        assert!(message.as_str().unwrap().starts_with(err.path()), "{file}");
    }
}

#[test]
fn a_document_without_call_activity_segments_the_owner_over_the_whole_session() {
    let mut d = doc();
    d["serviceData"].as_object_mut().unwrap().remove("callActivity");
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].contact.start_time, c[0].contact.call_duration), (T0, 300_000));
    assert_eq!(
        c[0].contact.direction,
        Direction::Inbound,
        "the remote party is the PSTN caller"
    );
}

#[test]
fn a_queue_recording_without_participants_belongs_to_the_answerer() {
    let mut d = doc();
    d["ownerType"] = json!("callQueue");
    d["ownerId"] = json!(QUEUE);
    d["serviceData"].as_object_mut().unwrap().remove("callActivity");
    d["serviceData"]["answererInfo"] = user(BOB);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].contact.agent.acd_id, BOB);
}

#[test]
fn a_queue_recording_with_no_participants_and_no_answerer_yields_no_contact() {
    let mut d = doc();
    d["ownerType"] = json!("CALL_QUEUE");
    d["ownerId"] = json!(QUEUE);
    d["serviceData"].as_object_mut().unwrap().remove("callActivity");
    let s = segment_webex_calling_detailed(&d, &ctx()).unwrap();
    assert!(s.contacts.is_empty());
    assert!(s.timeline.notes.iter().any(|n| n.contains("no contact")));
}

#[test]
fn owner_types_in_list_api_spelling_are_accepted() {
    for (t, expect_user) in [
        ("user", true),
        ("USER", true),
        ("virtualLine", false),
        ("VIRTUAL_LINE", false),
        ("place", false),
    ] {
        let mut d = doc();
        d["ownerType"] = json!(t);
        let tl = parse_webex_calling(&d).unwrap();
        assert_eq!(tl.recording.owner.is_agent(), expect_user, "{t}");
    }
    let mut d = doc();
    d["ownerType"] = json!("callQueue");
    d["ownerId"] = json!(QUEUE);
    let tl = parse_webex_calling(&d).unwrap();
    assert!(matches!(
        tl.recording.owner,
        Party::Feature {
            feature: FeatureKind::CallQueue,
            ..
        }
    ));
}

#[test]
fn a_base64_people_owner_id_becomes_the_plain_lowercase_uuid() {
    let mut d = doc();
    // ciscospark://us/PEOPLE/3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11
    d["ownerId"] = json!("Y2lzY29zcGFyazovL3VzL1BFT1BMRS8zZjZjMmExZS04YjRkLTRjN2EtOWUyMS01ZDBiN2YzYTljMTE");
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c[0].contact.agent.acd_id, ALICE);
    d["ownerId"] = json!(ALICE.to_uppercase());
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c[0].contact.agent.acd_id, ALICE);
}

#[test]
fn unknown_fields_and_unknown_enum_values_are_tolerated_and_noted() {
    let mut d = doc();
    d["futureTopLevel"] = json!({"x": 1});
    d["serviceData"]["recordingActions"] = json!([{"action": "START", "time": "2026-04-01T10:00:00Z"}]);
    d["serviceData"]["callActivity"][0]["redirectInfo"] = json!({"reason": "SomethingNew"});
    d["serviceData"]["callActivity"][0]["participants"][0]["actor"] = json!({"type": "ROBOT"});
    d["serviceData"]["callActivity"][0]["somethingElse"] = json!([1, 2]);
    let s = segment_webex_calling_detailed(&d, &ctx()).unwrap();
    assert_eq!(s.contacts.len(), 1);
    assert_eq!(s.timeline.redirects[0].kind, RedirectKind::Other("SomethingNew".into()));
    assert!(s.timeline.notes.iter().any(|n| n.contains("'START' ignored")));
    assert!(
        s.timeline.snapshots[0].participants[0].is_external(),
        "an unknown actor type without id is external"
    );
}

#[test]
fn timestamps_without_t_or_zone_are_read_as_utc() {
    let mut d = doc();
    d["serviceData"]["session"] =
        json!({"startTime": "2026-04-01 10:00:00.000", "stopTime": "2026-04-01T12:05:00+02:00"});
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!((c[0].contact.start_time, c[0].contact.call_duration), (T0, 300_000));
}

#[test]
fn participants_that_never_list_the_user_owner_leave_the_owner_on_for_the_whole_recording() {
    let mut d = doc();
    d["serviceData"]["callActivity"][0]["participants"] = json!([customer()]);
    let s = segment_webex_calling_detailed(&d, &ctx()).unwrap();
    assert_eq!(s.contacts.len(), 1);
    assert_eq!(s.contacts[0].contact.call_duration, 300_000);
    assert!(s.timeline.notes.iter().any(|n| n.contains("WXC-A14")));
}

#[test]
fn call_activity_out_of_order_is_read_in_time_order() {
    let mut d = doc();
    d["serviceData"]["callActivity"] = json!([
        {"timeStamp": "2026-04-01T10:03:00Z", "participants": [customer(), participant(ALICE)]},
        {"timeStamp": "2026-04-01T10:02:00Z", "participants": [customer()]},
        {"timeStamp": "2026-04-01T10:00:00Z", "participants": [customer(), participant(ALICE)]}
    ]);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    let spans: Vec<(i64, i64)> = c
        .iter()
        .map(|c| (c.contact.start_time - T0, c.contact.call_duration))
        .collect();
    assert_eq!(spans, [(0, 120_000), (180_000, 120_000)]);
    assert_eq!(c[1].contact.external_id, "wxc:rec-1:1");
}

#[test]
fn a_user_owned_recording_gives_contacts_only_to_its_owner_even_when_other_users_are_on_the_call() {
    let mut d = doc();
    d["serviceData"]["callActivity"][0]["participants"] = json!([customer(), participant(ALICE), participant(BOB)]);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].contact.agent.acd_id, ALICE);
}

#[test]
fn a_hold_by_one_agent_goes_only_on_that_agents_contact_in_a_shared_recording() {
    let mut d = doc();
    d["ownerType"] = json!("VIRTUAL_LINE");
    d["ownerId"] = json!(QUEUE);
    d["serviceData"]["callActivity"] = json!([
        {"timeStamp": "2026-04-01T10:00:00Z", "participants": [customer(), participant(ALICE), participant(BOB)]},
        {"timeStamp": "2026-04-01T10:01:00Z", "participants": [customer(), participant(ALICE), participant(BOB)],
         "holdInfo": {"heldBy": user(BOB)}},
        {"timeStamp": "2026-04-01T10:02:00Z", "participants": [customer(), participant(ALICE), participant(BOB)]}
    ]);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c.len(), 2);
    let alice = c.iter().find(|c| c.contact.agent.acd_id == ALICE).unwrap();
    let bob = c.iter().find(|c| c.contact.agent.acd_id == BOB).unwrap();
    assert!(alice.contact.events.is_empty());
    let kinds: Vec<EventType> = bob.contact.events.iter().map(|e| e.event_type).collect();
    assert_eq!(kinds, [EventType::Hold, EventType::Retrieve]);
}

#[test]
fn pause_markers_appear_only_for_the_person_who_paused_so_an_unknown_pauser_marks_no_contact_but_the_audio_is_still_cut()
 {
    let mut d = doc();
    d["ownerType"] = json!("PLACE");
    d["ownerId"] = json!(QUEUE);
    d["serviceData"]["callActivity"][0]["participants"] = json!([customer(), participant(ALICE), participant(BOB)]);
    d["serviceData"]["recordingActions"] = json!([
        {"action": "PAUSE", "time": "2026-04-01T10:01:00Z"},
        {"action": "RESUME", "time": "2026-04-01T10:02:00Z"}
    ]);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c.len(), 2);
    for c in &c {
        assert!(c.contact.events.is_empty(), "{:?}", c.contact.events);
        assert_eq!(
            c.media.as_ref().unwrap().duration_ms,
            240_000,
            "the paused minute is still cut out"
        );
    }
}

#[test]
fn a_call_between_two_users_is_internal_and_ani_dnis_are_the_bare_numbers() {
    let mut d = doc();
    d["serviceData"]["callingParty"] =
        json!({"actor": {"type": "USER", "id": BOB}, "number": "sip:1002@10.0.0.1;user=phone"});
    d["serviceData"]["callActivity"][0]["participants"] = json!([participant(BOB), participant(ALICE)]);
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c[0].contact.direction, Direction::Internal);
    assert_eq!(c[0].contact.ani.as_deref(), Some("1002"));
    assert_eq!(c[0].contact.dnis.as_deref(), Some("1001"));
}

#[test]
fn a_missing_personality_is_inferred_from_which_party_is_the_owner() {
    let mut d = doc();
    d["serviceData"].as_object_mut().unwrap().remove("personality");
    d["serviceData"]["callingParty"] = user(ALICE);
    d["serviceData"]["calledParty"] = json!({"number": "tel:+13125550187"});
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c[0].contact.direction, Direction::Outbound);
}

#[test]
fn a_missing_call_session_id_falls_back_to_the_recording_id() {
    let mut d = doc();
    d["serviceData"].as_object_mut().unwrap().remove("callSessionId");
    let c = segment_webex_calling(&d, &ctx()).unwrap();
    assert_eq!(c[0].contact.assoc_call_id, "rec-1");
}

#[test]
fn a_masked_owner_whose_party_is_not_a_user_is_an_error_naming_owner_id() {
    let mut d = doc();
    d["ownerId"] = json!("****");
    d["serviceData"]["calledParty"] = json!({"number": "tel:+14085550101"});
    let err = segment_webex_calling(&d, &ctx()).unwrap_err();
    assert_eq!(err.path(), "ownerId");
    assert!(matches!(err, SegmentError::Invalid { .. }));
}

#[test]
fn every_registered_assumption_is_documented_in_the_assumptions_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../docs/webex-calling-assumptions.md");
    let text = std::fs::read_to_string(&path).unwrap();
    for a in ASSUMPTIONS {
        assert!(text.contains(a.id), "{} is not in {}", a.id, path.display());
    }
    let ids: std::collections::BTreeSet<&str> = ASSUMPTIONS.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), ASSUMPTIONS.len(), "assumption ids are unique");
}
