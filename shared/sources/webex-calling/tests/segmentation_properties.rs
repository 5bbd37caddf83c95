//! Properties of the segmentation rules over random timelines, and of the parser over
//! random but equivalent renderings of the same payload.

mod fixtures;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::Value;
use wfo_domain::segment::{SegmentOptions, SegmentedContact, segment_timeline};
use wfo_domain::timeline::{
    CallDirection, CallTimeline, FeatureKind, Hold, Party, Pause, RecordingInfo, Redirect, RedirectKind, Snapshot,
};
use wfo_webex_calling::parser::{normalize_user_id, parse_timestamp};
use wfo_webex_calling::segment_webex_calling;

const START: i64 = 1_780_000_000_000;
const USERS: [&str; 4] = [
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003",
    "00000000-0000-4000-8000-000000000004",
];

/// Party pool: 0..=3 agents, 4 external, 5 call queue.
fn party(i: usize) -> Party {
    match i {
        0..=3 => Party::agent(USERS[i]),
        4 => Party::external("+14155550123"),
        _ => Party::Feature {
            feature: FeatureKind::CallQueue,
            id: Some("q".into()),
            number: None,
        },
    }
}

fn at(len: i64, permille: i64) -> i64 {
    START + len * permille / 1000
}

prop_compose! {
    fn arb_timeline()(
        len in 1_000i64..600_000,
        user_owned in any::<bool>(),
        inbound in any::<bool>(),
        snaps in prop::collection::vec((0i64..=1000, prop::collection::vec(0usize..6, 0..4)), 0..8),
        pauses in prop::collection::vec((0i64..=1000, prop::option::of(0i64..=1000), prop::option::of(0usize..6)), 0..4),
        holds in prop::collection::vec((0i64..=1000, prop::option::of(0i64..=1000), prop::option::of(0usize..6)), 0..4),
        parks in prop::collection::vec((0i64..=1000, any::<bool>()), 0..4),
    ) -> CallTimeline {
        let owner = if user_owned { party(0) } else { party(5) };
        CallTimeline {
            interaction_key: "session-1".into(),
            recording: RecordingInfo {
                id: "rec-1".into(),
                owner,
                owner_name: None,
                owner_email: None,
                start: START,
                stop: START + len,
                pauses: pauses.iter().map(|(s, e, by)| Pause {
                    start: at(len, *s),
                    end: e.map(|e| at(len, *s + e * (1000 - *s) / 1000)),
                    by: by.map(party),
                }).collect(),
            },
            direction: if inbound { CallDirection::Inbound } else { CallDirection::Outbound },
            ani: Some("+14155550123".into()),
            dnis: Some("1001".into()),
            remote_party: Some(party(4)),
            answerer: None,
            managed_by: None,
            snapshots: snaps.iter().map(|(t, ps)| Snapshot { at: at(len, *t), participants: ps.iter().copied().map(party).collect() }).collect(),
            holds: holds.iter().map(|(s, e, by)| Hold {
                start: at(len, *s),
                end: e.map(|e| at(len, *s + e * (1000 - *s) / 1000)),
                by: by.map(party),
            }).collect(),
            redirects: parks.iter().map(|(t, park)| Redirect {
                at: at(len, *t),
                kind: if *park { RedirectKind::Park } else { RedirectKind::Retrieve },
                by: None, target: None, related_call: None,
            }).collect(),
            notes: vec![],
        }
    }
}

fn segment(tl: &CallTimeline) -> Vec<SegmentedContact> {
    let md = BTreeMap::from([("k".to_string(), "v".to_string())]);
    segment_timeline(
        tl,
        &SegmentOptions {
            external_id_prefix: "wxc",
            acd_server_id: 3,
            metadata: &md,
        },
    )
}

fn end(c: &SegmentedContact) -> i64 {
    c.contact.start_time + c.contact.call_duration
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn contacts_of_one_agent_never_overlap_within_a_recording(tl in arb_timeline()) {
        let contacts = segment(&tl);
        for user in USERS {
            let mine: Vec<&SegmentedContact> = contacts.iter().filter(|c| c.contact.agent.acd_id == user).collect();
            for w in mine.windows(2) {
                prop_assert!(end(w[0]) <= w[1].contact.start_time);
            }
        }
    }

    #[test]
    fn media_slices_stay_inside_the_audio(tl in arb_timeline()) {
        let audio = tl.audio_length_ms();
        for c in segment(&tl) {
            prop_assert!(c.media.as_ref().unwrap().offset_ms >= 0);
            prop_assert!(c.media.as_ref().unwrap().duration_ms >= 0);
            prop_assert!(c.media.as_ref().unwrap().offset_ms + c.media.as_ref().unwrap().duration_ms <= audio);
            prop_assert!(c.media.as_ref().unwrap().duration_ms <= c.contact.call_duration);
            prop_assert_eq!(&c.media.as_ref().unwrap().recording_id, "rec-1");
        }
    }

    #[test]
    fn contacts_lie_inside_the_recording_and_are_not_empty(tl in arb_timeline()) {
        for c in segment(&tl) {
            prop_assert!(c.contact.call_duration > 0);
            prop_assert!(c.contact.start_time >= tl.recording.start);
            prop_assert!(end(&c) <= tl.recording.stop);
        }
    }

    #[test]
    fn output_is_deterministic_with_unique_sequential_external_ids_in_start_order(tl in arb_timeline()) {
        let a = segment(&tl);
        prop_assert_eq!(&a, &segment(&tl));
        let ids: BTreeSet<&str> = a.iter().map(|c| c.contact.external_id.as_str()).collect();
        prop_assert_eq!(ids.len(), a.len());
        for (n, c) in a.iter().enumerate() {
            prop_assert_eq!(&c.contact.external_id, &format!("wxc:rec-1:{n}"));
        }
        for w in a.windows(2) {
            prop_assert!(w[0].contact.start_time <= w[1].contact.start_time);
        }
    }

    #[test]
    fn every_contact_shares_the_interaction_key_as_assoc_call_id(tl in arb_timeline()) {
        for c in segment(&tl) {
            prop_assert_eq!(&c.contact.assoc_call_id, "session-1");
            prop_assert_eq!(c.contact.metadata.get("k").map(String::as_str), Some("v"));
        }
    }

    #[test]
    fn contacts_go_only_to_internal_agents_and_only_to_the_owner_when_a_user_owns_the_recording(tl in arb_timeline()) {
        for c in segment(&tl) {
            prop_assert!(USERS.contains(&c.contact.agent.acd_id.as_str()));
            if let Some(owner) = tl.recording.owner.user_id() {
                prop_assert_eq!(c.contact.agent.acd_id.as_str(), owner);
            }
        }
    }

    #[test]
    fn events_are_sorted_and_inside_their_contact(tl in arb_timeline()) {
        for c in segment(&tl) {
            for w in c.contact.events.windows(2) {
                prop_assert!(w[0].time <= w[1].time);
            }
            for e in &c.contact.events {
                prop_assert!(e.time >= c.contact.start_time && e.time < end(&c));
            }
        }
    }

    #[test]
    fn no_contact_overlaps_a_parked_window(tl in arb_timeline()) {
        let parked = tl.parked_windows();
        for c in segment(&tl) {
            let span = wfo_domain::timeline::Interval::new(c.contact.start_time, end(&c));
            for p in &parked {
                prop_assert!(span.intersect(p).is_none());
            }
        }
    }

    #[test]
    fn timestamp_spellings_of_one_instant_parse_to_the_same_millisecond(secs in 1_600_000_000i64..1_900_000_000, ms in 0i64..1000, off_h in -12i32..=12) {
        let utc = chrono::DateTime::from_timestamp(secs, (ms * 1_000_000) as u32).unwrap();
        let want = Some(secs * 1000 + ms);
        let offset = chrono::FixedOffset::east_opt(off_h * 3600).unwrap();
        prop_assert_eq!(parse_timestamp(&utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()), want);
        prop_assert_eq!(parse_timestamp(&utc.with_timezone(&offset).to_rfc3339()), want);
        prop_assert_eq!(parse_timestamp(&utc.format("%Y-%m-%d %H:%M:%S%.3f").to_string()), want);
    }

    #[test]
    fn a_user_id_in_any_spelling_normalises_to_the_same_plain_uuid(bytes in prop::array::uniform16(any::<u8>()), pad in any::<bool>()) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let uuid = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
        let b64 = base64_url(format!("ciscospark://us/PEOPLE/{uuid}").as_bytes(), pad);
        for spelling in [uuid.clone(), uuid.to_uppercase(), hex.clone(), b64] {
            let got = normalize_user_id(&spelling);
            prop_assert_eq!(got, Some(uuid.clone()), "{}", spelling);
        }
    }
}

fn base64_url(data: &[u8], pad: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if pad {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

fn all_fixture_docs() -> Vec<Value> {
    fixtures::scenario_names()
        .iter()
        .flat_map(|n| fixtures::scenario_docs(n))
        .map(|(_, d)| d)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_order_of_call_activity_entries_and_recording_actions_in_a_document_does_not_matter(idx in 0usize..64, seed in any::<u64>()) {
        let docs = all_fixture_docs();
        let original = &docs[idx % docs.len()];
        let ctx = fixtures::fixture_context();
        let mut shuffled = original.clone();
        for field in ["callActivity", "recordingActions"] {
            if let Some(list) = shuffled["serviceData"][field].as_array_mut() {
                shuffle(list, seed);
            }
        }
        prop_assert_eq!(segment_webex_calling(&shuffled, &ctx).unwrap(), segment_webex_calling(original, &ctx).unwrap());
    }
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}
