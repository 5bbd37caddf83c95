//! Properties of the Contact Center segmenter: node order, `eventName` case and id
//! spellings change nothing; bad input never panics and is named.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use wfo_domain::segment::{SegmentContext, SegmentError};
use wfo_webex_cc2::segment::{segment_webex_cc2, segment_webex_cc2_detailed};

fn ctx() -> SegmentContext {
    SegmentContext {
        acd_server_id: 3,
        metadata: Vec::new(),
    }
}

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../fixtures/webex-cc-2/{name}/task.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const NAMES: &[&str] = &[
    "guide-consult",
    "guide-transfer",
    "guide-conference",
    "transfer-back",
    "pause-in-conference",
    "hold",
];

fn nodes(doc: &mut Value) -> &mut Vec<Value> {
    doc["task"]["activities"]["nodes"].as_array_mut().unwrap()
}

fn upper_hex_without_hyphens(id: &str) -> String {
    id.replace('-', "").to_ascii_uppercase()
}

proptest! {
    #[test]
    fn node_order_does_not_matter(k in 0..NAMES.len(), seed in any::<u64>()) {
        let doc = fixture(NAMES[k]);
        let expected = segment_webex_cc2(&doc, &ctx()).unwrap();
        let mut shuffled = doc.clone();
        let list = nodes(&mut shuffled);
        // Fisher–Yates with a small LCG: reproducible from the seed.
        let mut s = seed;
        for i in (1..list.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (s >> 33) as usize % (i + 1);
            list.swap(i, j);
        }
        prop_assert_eq!(segment_webex_cc2(&shuffled, &ctx()).unwrap(), expected);
    }

    #[test]
    fn event_name_case_does_not_matter(k in 0..NAMES.len(), mask in any::<u64>()) {
        let doc = fixture(NAMES[k]);
        let expected = segment_webex_cc2(&doc, &ctx()).unwrap();
        let mut cased = doc.clone();
        for (i, n) in nodes(&mut cased).iter_mut().enumerate() {
            let e = n["eventName"].as_str().unwrap().to_owned();
            let e = if mask >> (i % 64) & 1 == 1 { e.to_ascii_uppercase() } else { e.to_ascii_lowercase() };
            n["eventName"] = json!(e);
        }
        prop_assert_eq!(segment_webex_cc2(&cased, &ctx()).unwrap(), expected);
    }

    #[test]
    fn agent_id_spellings_do_not_matter(k in 0..NAMES.len(), mask in any::<u64>()) {
        let doc = fixture(NAMES[k]);
        let expected = segment_webex_cc2(&doc, &ctx()).unwrap();
        let mut spelled = doc.clone();
        for (i, n) in nodes(&mut spelled).iter_mut().enumerate() {
            if mask >> (i % 64) & 1 == 0 {
                continue;
            }
            for field in ["agentId", "destinationAgentId"] {
                if let Some(id) = n[field].as_str().map(upper_hex_without_hyphens) {
                    n[field] = json!(id);
                }
            }
        }
        prop_assert_eq!(segment_webex_cc2(&spelled, &ctx()).unwrap(), expected);
    }

    #[test]
    fn arbitrary_nodes_never_panic_and_contacts_stay_inside_the_task(
        raw in prop::collection::vec((0usize..12, 0i64..300_000, -1_000i64..200_000, 0usize..3, 0usize..3), 0..30)
    ) {
        const EVENTS: &[&str] = &["connected", "on-hold", "hold-done", "consult", "consulting", "Conference",
            "conferencing", "paused", "resumed", "WrapUp", "blind-transfer", "connect"];
        const AGENTS: &[Option<&str>] = &[None, Some("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"),
            Some("7b2e1d3f-4c5e-4f60-9bac-1d2e3f4a5b6c")];
        let nodes: Vec<Value> = raw.iter().map(|(e, start, len, a, d)| json!({
            "eventName": EVENTS[*e], "createdTime": start, "endedTime": start + len,
            "agentId": AGENTS[*a], "destinationAgentId": AGENTS[*d],
        })).collect();
        let doc = json!({"task": {"id": "t", "createdTime": 0, "endedTime": 250_000, "direction": "inbound",
            "captureRequested": true, "activities": {"nodes": nodes}},
            "captures": {"taskId": "t", "recording": [{"id": "m", "attributes": {"callType": "main",
            "startTime": 1_000, "stopTime": 240_000, "channel2": "Agent"}}]}});
        let out = segment_webex_cc2(&doc, &ctx()).unwrap();
        for c in &out {
            prop_assert!(c.contact.start_time >= 0 && c.contact.start_time + c.contact.call_duration <= 250_000);
            prop_assert!(c.contact.call_duration > 0);
            if let Some(m) = &c.media {
                prop_assert!(m.offset_ms >= 0 && m.duration_ms > 0 && m.offset_ms + m.duration_ms <= 239_000);
            }
        }
        // Contacts of one agent never overlap and are at least 2 s apart.
        for a in &out {
            for b in &out {
                if a.contact.external_id < b.contact.external_id && a.contact.agent == b.contact.agent {
                    let (x, y) = if a.contact.start_time <= b.contact.start_time { (a, b) } else { (b, a) };
                    prop_assert!(y.contact.start_time - (x.contact.start_time + x.contact.call_duration) >= 2_000);
                }
            }
        }
    }
}

#[test]
fn a_task_without_activities_gives_no_contact_and_a_note() {
    let d = segment_webex_cc2_detailed(
        &json!({"task": {"id": "t", "createdTime": 0}, "captures": null}),
        &ctx(),
    )
    .unwrap();
    assert!(d.contacts.is_empty());
    assert!(d.notes[0].contains("task.activities: missing"), "{:?}", d.notes);
}

#[test]
fn a_document_without_task_or_id_is_refused_naming_the_field() {
    let e = segment_webex_cc2(&json!({"captures": null}), &ctx()).unwrap_err();
    assert_eq!(e, SegmentError::Missing { path: "task".into() });
    let e = segment_webex_cc2(&json!({"task": {"createdTime": 1}}), &ctx()).unwrap_err();
    assert_eq!(e.path(), "task.id");
    let e = segment_webex_cc2(
        &json!({"task": {"id": "t", "activities": {"nodes": [{"eventName": "connected", "agentId": {"x": 1}}]}}}),
        &ctx(),
    )
    .unwrap_err();
    assert_eq!(e.path(), "task.activities.nodes[0].agentId");
}

#[test]
fn captures_of_another_task_are_refused() {
    let mut doc = fixture("basic-inbound");
    doc["captures"]["taskId"] = json!("someone-else");
    assert_eq!(segment_webex_cc2(&doc, &ctx()).unwrap_err().path(), "captures.taskId");
}

#[test]
fn a_capture_reaching_outside_the_task_is_clipped_with_a_note() {
    let mut doc = fixture("basic-inbound");
    let start = doc["captures"]["recording"][0]["attributes"]["startTime"]
        .as_i64()
        .unwrap();
    // Starts 30 s before the task was created: offsets still count from the capture start.
    doc["captures"]["recording"][0]["attributes"]["startTime"] = json!((start - 56_000).to_string());
    let d = segment_webex_cc2_detailed(&doc, &ctx()).unwrap();
    let m = d.contacts[0].contact.media.as_ref().unwrap();
    assert_eq!((m.offset_ms, m.duration_ms), (56_000, 180_000));
    assert!(d.notes.iter().any(|n| n.contains("clipped")), "{:?}", d.notes);
}

#[test]
fn nodes_without_end_run_to_the_task_end_and_out_of_order_nodes_are_moments() {
    let doc = json!({"task": {"id": "t", "createdTime": 0, "endedTime": 100_000, "direction": "inbound",
        "captureRequested": false, "activities": {"nodes": [
            {"eventName": "connected", "agentId": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "createdTime": 10_000},
            {"eventName": "connected", "agentId": "7b2e1d3f-4c5e-4f60-9bac-1d2e3f4a5b6c", "createdTime": 50_000, "endedTime": 40_000},
        ]}}, "captures": null});
    let d = segment_webex_cc2_detailed(&doc, &ctx()).unwrap();
    assert_eq!(d.contacts.len(), 1);
    assert_eq!(d.contacts[0].contact.contact.call_duration, 90_000);
    assert!(
        d.notes.iter().any(|n| n.contains("before createdTime")),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_missing_task_end_is_taken_from_the_latest_node() {
    let doc = json!({"task": {"id": "t", "createdTime": "0", "direction": "inbound", "activities": {"nodes": [
        {"eventName": "connected", "agentId": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "createdTime": 10_000, "endedTime": 70_000},
    ]}}, "captures": null});
    let d = segment_webex_cc2_detailed(&doc, &ctx()).unwrap();
    assert_eq!(d.contacts[0].contact.contact.call_duration, 60_000);
    assert!(
        d.notes.iter().any(|n| n.contains("task.endedTime: missing")),
        "{:?}",
        d.notes
    );
}
