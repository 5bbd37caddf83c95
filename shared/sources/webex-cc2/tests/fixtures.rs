//! Every scenario folder under `fixtures/webex-cc-2/` segments to its hand-written
//! `expected.json` (reference §2.4; the guide's consult, transfer and conference examples).

use std::path::{Path, PathBuf};

use wfo_domain::segment::{SegmentContext, SegmentedContact};
use wfo_webex_cc2::segment::{AudioState, segment_webex_cc2, segment_webex_cc2_detailed};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/webex-cc-2")
}

fn ctx() -> SegmentContext {
    SegmentContext {
        acd_server_id: 3,
        metadata: Vec::new(),
    }
}

fn read(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn scenarios() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("task.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn segment(name: &str) -> Vec<SegmentedContact> {
    segment_webex_cc2(&read(&root().join(name).join("task.json")), &ctx()).unwrap()
}

fn mmss(ms: i64) -> String {
    format!("{}:{:02}", ms / 60_000, (ms / 1000) % 60)
}

#[test]
fn every_scenario_segments_to_its_expected_contacts() {
    let dirs = scenarios();
    assert!(dirs.len() >= 12, "scenarios found: {dirs:?}");
    for dir in dirs {
        let got = segment_webex_cc2(&read(&dir.join("task.json")), &ctx())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let got = serde_json::to_value(&got).unwrap();
        let expected = read(&dir.join("expected.json"));
        assert_eq!(
            got,
            expected,
            "{}:\n got {}\n",
            dir.display(),
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}

/// The "Done when": each pair shares one associated call id.
#[test]
fn the_guide_examples_give_the_guide_durations() {
    for (name, durations) in [
        ("guide-consult", ["2:21", "0:42"]),
        ("guide-transfer", ["0:44", "1:14"]),
        ("guide-conference", ["2:09", "1:00"]),
    ] {
        let c = segment(name);
        let got: Vec<String> = c.iter().map(|c| mmss(c.contact.call_duration)).collect();
        assert_eq!(got, durations, "{name}");
        assert_eq!(c[0].contact.assoc_call_id, c[1].contact.assoc_call_id, "{name}");
        assert_ne!(c[0].contact.agent.acd_id, c[1].contact.agent.acd_id, "{name}");
        for k in &c {
            let media = k.media.as_ref().expect("recorded");
            assert_eq!(
                media.duration_ms, k.contact.call_duration,
                "{name}: the slice is the contact"
            );
        }
    }
}

#[test]
fn the_consulted_agent_gets_the_consult_capture_and_the_conference_guest_the_main_one() {
    let consult = segment("guide-consult");
    assert_eq!(consult[1].media.as_ref().unwrap().recording_id, "rec-consult-consult");
    let conference = segment("guide-conference");
    assert_eq!(conference[1].media.as_ref().unwrap().recording_id, "rec-conf-main");
}

#[test]
fn pause_markers_appear_only_on_the_contact_of_the_agent_who_paused() {
    let c = segment("pause-in-conference");
    assert!(
        c[0].contact
            .events
            .iter()
            .any(|e| format!("{:?}", e.event_type) == "Pause")
    );
    assert!(c[1].contact.events.is_empty(), "{:?}", c[1].contact.events);
}

#[test]
fn audio_states_say_none_pending_or_ready() {
    let state = |name: &str| {
        let d = segment_webex_cc2_detailed(&read(&root().join(name).join("task.json")), &ctx()).unwrap();
        d.contacts.into_iter().map(|c| c.audio).collect::<Vec<_>>()
    };
    assert_eq!(state("not-recorded"), vec![AudioState::None]);
    assert_eq!(state("chat"), vec![AudioState::None]);
    assert_eq!(state("audio-pending"), vec![AudioState::Pending]);
    assert!(matches!(state("basic-inbound")[..], [AudioState::Ready(_)]));
}

#[test]
fn a_task_without_an_agent_gives_no_contact_and_says_why() {
    let d = segment_webex_cc2_detailed(&read(&root().join("abandoned-no-agent/task.json")), &ctx()).unwrap();
    assert!(d.contacts.is_empty());
    assert!(d.notes.iter().any(|n| n.contains("no agent")), "{:?}", d.notes);
}

#[test]
fn every_assumption_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../docs/webex-cc2-assumptions.md"))
            .unwrap();
    for a in wfo_webex_cc2::segment::ASSUMPTIONS {
        assert!(
            doc.contains(a.id),
            "{} missing from docs/webex-cc2-assumptions.md",
            a.id
        );
    }
}
