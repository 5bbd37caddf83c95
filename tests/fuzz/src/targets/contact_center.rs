//! Contact Center payloads: what Search, captures, CSR/CAR queries and auxiliary-data
//! lists send, decoded without HTTP in the way.
//!
//! - `wxcc2_task`: bytes → JSON → `WebexCc2Kind::segment_file` (the `segment --kind
//!   webex-cc-2` shape `{"task", "captures"}`) and `segment_webex_cc2_detailed`.
//! - `wxcc1_session`: bytes → JSON → `WebexCc1Kind::segment_file` (`{"csr", "cars"}`),
//!   the CSR/CAR mapping under every recording state, the dataset envelope reader and the
//!   auxiliary-data page reader on the same document.
//!
//! Both check the segmentation contract: contacts in order, distinct external ids with the
//! version's prefix, one associated call id, slices never negative, events inside their
//! contact.

use std::collections::BTreeSet;

use serde_json::Value;
use wfo_domain::segment::{SegmentContext, SegmentedContact};
use wfo_ports::SourceKind;
use wfo_webex_cc1::WebexCc1Kind;
use wfo_webex_cc1::config::{Resource, read_page};
use wfo_webex_cc1::records::{RecordingState, read_dataset, task_file};
use wfo_webex_cc2::WebexCc2Kind;
use wfo_webex_cc2::segment::segment_webex_cc2_detailed;

use crate::seeds;

fn ctx() -> SegmentContext {
    SegmentContext {
        acd_server_id: 4,
        metadata: Vec::new(),
    }
}

fn check(contacts: &[SegmentedContact], prefix: &str) {
    let mut ids = BTreeSet::new();
    let assoc: BTreeSet<&str> = contacts.iter().map(|c| c.contact.assoc_call_id.as_str()).collect();
    assert!(assoc.len() <= 1, "one call, one associated call id");
    for c in contacts {
        let imp = &c.contact;
        assert!(ids.insert(imp.external_id.clone()), "duplicate externalId");
        assert!(imp.external_id.starts_with(prefix), "{}", imp.external_id);
        assert!(imp.call_duration >= 0);
        if let Some(m) = &c.media {
            assert!(m.offset_ms >= 0 && m.duration_ms >= 0, "{m:?}");
            assert!(m.duration_ms <= imp.call_duration);
        }
        let end = imp.start_time.saturating_add(imp.call_duration);
        assert!(
            imp.events.windows(2).all(|w| w[0].time <= w[1].time),
            "events out of order"
        );
        assert!(imp.events.iter().all(|e| imp.start_time <= e.time && e.time <= end));
        assert!(serde_json::to_vec(c).is_ok());
    }
    assert!(
        contacts
            .windows(2)
            .all(|w| w[0].contact.start_time <= w[1].contact.start_time),
        "contacts ordered by start"
    );
}

pub fn wxcc2_task(input: &[u8]) -> String {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        return "not-json".to_owned();
    };
    let via_kind = WebexCc2Kind.segment_file(&doc, &ctx());
    match segment_webex_cc2_detailed(&doc, &ctx()) {
        Ok(seg) => {
            let contacts: Vec<SegmentedContact> = seg.contacts.into_iter().map(|c| c.contact).collect();
            assert_eq!(via_kind.as_ref().ok(), Some(&contacts));
            check(&contacts, "wxcc2:");
            format!("ok:{}:{}", contacts.len().min(4), seg.notes.len().min(3))
        }
        Err(e) => {
            assert!(via_kind.is_err());
            assert!(!e.path().is_empty(), "an error names its field");
            let path: String = e.path().chars().filter(|c| !c.is_ascii_digit()).collect();
            format!("err:{path}")
        }
    }
}

pub fn wxcc1_session(input: &[u8]) -> String {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        return "not-json".to_owned();
    };
    let _ = read_dataset("fuzz", doc.clone());
    let _ = read_page(Resource::User, doc.clone());
    let mut class = match WebexCc1Kind.segment_file(&doc, &ctx()) {
        Ok(contacts) => {
            check(&contacts, "wxcc1:");
            format!("ok:{}", contacts.len().min(4))
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            format!(
                "err:{}",
                text.split(':')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(24)
                    .collect::<String>()
            )
        }
    };
    if let (Some(csr), Some(Value::Array(cars))) = (doc.get("csr"), doc.get("cars")) {
        for state in [RecordingState::Available, RecordingState::Awaited, RecordingState::None] {
            if let Ok(m) = task_file(csr, cars, state) {
                let n = m.file.task.nodes.as_ref().map_or(0, Vec::len);
                assert!(n <= cars.len(), "the mapping invents no CAR");
                if state != RecordingState::Available {
                    assert!(m.file.captures.is_none());
                }
            }
        }
        class.push_str(":mapped");
    }
    class
}

pub fn wxcc2_seeds() -> Vec<Vec<u8>> {
    seeds::contact_center_documents("webex-cc-2")
}

pub fn wxcc1_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds::contact_center_documents("webex-cc-1");
    out.push(
        br#"{"csr":{"sid":"s1","tid":"t","ani":"+1","dnis":"+2","cstts":1000,"cetts":90000,"callDirection":"inbound","channelType":"telephony"},
"cars":[{"id":"s1-1000-parked","sid":"s1","event":"parked","cstts":1000,"cetts":10000},
{"id":"s1-10000-connected","sid":"s1","event":"connected","agentId":"a1","agentName":"Ann A","cstts":10000,"cetts":40000},
{"id":"s1-40000-consulting","sid":"s1","event":"consulting","agentId":"a1","destinationAgentId":"b2","cstts":40000,"cetts":60000},
{"id":"s1-60000-connected","sid":"s1","event":"connected","agentId":"b2","cstts":60000,"cetts":90000}]}"#
            .to_vec(),
    );
    out.push(br#"{"datasetMetadata":{"isComplete":false,"numberOfRecordsFound":3},"data":[{"sid":"x"}],"auxiliaryDataList":[{"id":"u","attributes":{"active__b":"true"}}]}"#.to_vec());
    out
}
