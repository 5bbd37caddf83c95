//! Webex recording metadata, list objects and ids: the parts of Webex answers that are
//! decoded without HTTP in the way.
//!
//! - `webex_metadata`: bytes → `serde_json::Value` (as the client decodes the metadata
//!   answer) → [`parse_webex_calling`], [`segment_webex_calling_detailed`],
//!   [`segment_webex_calling`] and the registry's `SourceKind::segment_file`. The contacts
//!   must respect the segmentation contract: inside the recording, audio slices inside the
//!   audio, events inside their contact and in order, distinct external ids.
//! - `webex_models`: the objects the client decodes from list pages and single answers
//!   (`RecordingSummary`, `RecordingDetails`, `WebexPerson`, `License`, `RosterMember`,
//!   `CallRecordingSetting`, `Me`, `Webhook`) and the helpers the source calls on them.
//! - `webex_ids`: the id and number spellings every Webex source compares
//!   ([`canonical_webex_id`], [`decode_webex_id`], [`normalize_user_id`],
//!   [`normalize_number`], [`parse_timestamp`], [`parse_datetime`], …).

use std::collections::BTreeSet;

use serde_json::Value;
use wfo_domain::mapping::MetadataRule;
use wfo_domain::segment::{SegmentContext, SegmentError};
use wfo_domain::webex_id::{WebexId, canonical_webex_id, decode_webex_id, normalize_user_id};
use wfo_ports::SourceKind;
use wfo_webex_calling::parser::{normalize_number, parse_timestamp, upper_snake};
use wfo_webex_calling::{
    CallRecordingSetting, License, Me, RecordingDetails, RecordingSummary, RosterMember, WebexCallingKind, WebexPerson,
    Webhook, is_calling_professional, parse_datetime, parse_webex_calling, professional_license_ids,
    segment_webex_calling, segment_webex_calling_detailed, webex_id_to_uuid,
};

use crate::seeds;

/// The segmentation context of the fixtures (`fixtures/webex-calling/context.json`), plus
/// rules that reach into arrays and at objects.
pub fn context() -> SegmentContext {
    let rule = |acd_field: &str, wfo_key: &str| MetadataRule {
        acd_field: acd_field.to_owned(),
        wfo_key: wfo_key.to_owned(),
    };
    SegmentContext {
        acd_server_id: 3,
        metadata: vec![
            rule("serviceData.callRecordingId", "Recording-Id-key"),
            rule("ownerName", "Recording-Owner-key"),
            rule("serviceData.recordingActions.0.action", "first-action-key"),
            rule("serviceData.callActivity", "activity-key"),
            rule("serviceData.session.startTime", "start-key"),
        ],
    }
}

/// A class of error for corpus feedback: the variant and the path without indices.
fn error_class(e: &SegmentError) -> String {
    let path: String = e.path().chars().filter(|c| !c.is_ascii_digit()).collect();
    let variant = match e {
        SegmentError::Missing { .. } => "missing",
        SegmentError::WrongType { .. } => "type",
        SegmentError::Invalid { .. } => "invalid",
    };
    format!("err:{variant}:{path}")
}

pub fn webex_metadata(input: &[u8]) -> String {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        return "not-json".to_owned();
    };
    let ctx = context();
    let parsed = parse_webex_calling(&doc);
    let detailed = segment_webex_calling_detailed(&doc, &ctx);
    let plain = segment_webex_calling(&doc, &ctx);
    let via_kind = WebexCallingKind.segment_file(&doc, &ctx);
    let seg = match (parsed, detailed) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "parse and segment disagree on the error");
            assert!(plain.is_err() && via_kind.is_err());
            assert!(!a.path().is_empty(), "an error names its field");
            return error_class(&a);
        }
        (Ok(tl), Ok(seg)) => {
            assert_eq!(tl, seg.timeline, "the timeline depends on the call");
            seg
        }
        (a, b) => panic!("parse ok={} but segment ok={}", a.is_ok(), b.is_ok()),
    };
    assert_eq!(plain.as_ref().ok(), Some(&seg.contacts));
    assert_eq!(via_kind.as_ref().ok(), Some(&seg.contacts));

    let tl = &seg.timeline;
    let (start, stop) = (tl.recording.start, tl.recording.stop);
    assert!(start <= stop);
    let audio = tl.audio_length_ms();
    assert!((0..=stop - start).contains(&audio), "audio length {audio}");
    let mut ids = BTreeSet::new();
    for c in &seg.contacts {
        let imp = &c.contact;
        let media = c.media.as_ref().expect("a Webex Calling contact has audio");
        assert!(ids.insert(imp.external_id.clone()), "duplicate externalId");
        assert!(imp.external_id.starts_with("wxc:"));
        assert_eq!(imp.assoc_call_id, tl.interaction_key);
        assert!(!imp.agent.acd_id.is_empty());
        assert_eq!(imp.agent.acd_server_id, 3);
        assert!(imp.call_duration > 0, "an empty contact");
        assert!(start <= imp.start_time && imp.start_time + imp.call_duration <= stop);
        assert!(media.offset_ms >= 0 && media.duration_ms >= 0);
        assert!(media.offset_ms + media.duration_ms <= audio, "slice past the audio");
        assert!(media.duration_ms <= imp.call_duration);
        let end = imp.start_time + imp.call_duration;
        assert!(
            imp.events.windows(2).all(|w| w[0].time <= w[1].time),
            "events out of order"
        );
        assert!(imp.events.iter().all(|e| imp.start_time <= e.time && e.time < end));
        // What the pipeline stores and sends.
        assert!(serde_json::to_vec(c).is_ok());
    }
    format!("ok:{}:{}", seg.contacts.len().min(4), tl.notes.len().min(3))
}

pub fn metadata_seeds() -> Vec<Vec<u8>> {
    seeds::metadata_documents()
}

/// Decodes `input` as `T`; `Some` on success.
fn decode<T: serde::de::DeserializeOwned>(input: &[u8]) -> Option<T> {
    serde_json::from_slice(input).ok()
}

pub fn webex_models(input: &[u8]) -> String {
    let mut decoded = String::new();
    let mut mark = |ok: bool| decoded.push(if ok { '1' } else { '0' });
    let summary = decode::<RecordingSummary>(input);
    if let Some(s) = &summary {
        let _ = s.call_session_id();
    }
    mark(summary.is_some());
    let details = decode::<RecordingDetails>(input);
    if let Some(d) = &details {
        if let Some(link) = d.audio_link() {
            assert!(!link.is_empty() && link.trim() == link);
        }
        assert!(d.links_expire_at() >= d.fetched_at || d.temporary_direct_download_links.is_some());
    }
    mark(details.is_some());
    let person = decode::<WebexPerson>(input);
    if let Some(p) = &person {
        let _ = p.is_person();
        if let Some(e) = p.email() {
            assert!(!e.is_empty() && e.trim() == e);
        }
    }
    mark(person.is_some());
    let license = decode::<License>(input);
    if let Some(l) = &license {
        let pro = l.name.as_deref().is_some_and(is_calling_professional);
        assert_eq!(
            professional_license_ids(std::slice::from_ref(l)).len(),
            usize::from(pro)
        );
    }
    mark(license.is_some());
    let licenses = decode::<Vec<License>>(input);
    if let Some(ls) = &licenses {
        assert!(professional_license_ids(ls).len() <= ls.len());
    }
    mark(licenses.is_some());
    let member = decode::<RosterMember>(input);
    if let Some(m) = &member {
        let _ = m.is_person();
    }
    mark(member.is_some());
    let setting = decode::<CallRecordingSetting>(input);
    if let Some(s) = &setting
        && s.enabled == Some(false)
    {
        assert!(!s.records());
    }
    mark(setting.is_some());
    mark(decode::<Me>(input).is_some());
    let hook = decode::<Webhook>(input);
    if let Some(h) = &hook {
        let _ = h.is_active();
    }
    mark(hook.is_some());
    mark(decode::<Vec<Webhook>>(input).is_some());
    decoded
}

pub fn model_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds::all_json();
    out.extend(
        [
            r#"{"id":"baa93e55c62e4663ae24f13fbfdb247f","topic":"call","createTime":"2023-10-31T16:24:12+08:00","timeRecorded":"2023-10-31T10:41:28+08:00","ownerId":"d7468402-e95f-42a9-92c8-dd65f45d40ba","ownerType":"virtualLine","ownerEmail":"a@b.example","format":"MP3","durationSeconds":60,"sizeBytes":244333,"serviceType":"calling","storageRegion":"US","status":"available","serviceData":{"locationId":"US","callSessionId":"7ba2967530164bf0af1966cf2854b000"}}"#,
            r#"{"id":"r1","createTime":"2026-03-02T14:10:00Z","durationSeconds":"59.6","temporaryDirectDownloadLinks":{"audioDownloadLink":" https://x.example/a?ticket=T ","expiration":"2026-03-02T17:10:00Z"}}"#,
            r#"{"id":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY","emails":["ann@x.example",7],"displayName":"Ann A","firstName":"Ann","lastName":12,"licenses":["LIC-PRO"],"type":"person","loginEnabled":"true"}"#,
            r#"[{"id":"LIC-PRO","name":"Webex Calling - Professional","subscriptionId":"s"},{"id":"L2","name":"webex  calling professional"}]"#,
            r#"{"id":"m1","firstName":"Bo","type":"PEOPLE","licenseType":"PROFESSIONAL_USER"}"#,
            r#"{"enabled":"false","record":"Always with Pause/Resume"}"#,
            r#"{"id":"me","emails":["admin@x.example"],"orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8w"}"#,
            r#"[{"id":"w1","name":"n","targetUrl":"https://t.example/webhooks/c","resource":"convergedRecordings","event":"created","secret":"s","status":"inactive","created":"2026-01-01T00:00:00.000Z","ownedBy":"org"}]"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec()),
    );
    out
}

/// A lowercase hyphenated UUID.
fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_digit() || ('a'..='f').contains(&c)
            }
        })
}

pub fn webex_ids(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let s = text.as_ref();
    let canonical = canonical_webex_id(s);
    assert_eq!(webex_id_to_uuid(s), canonical);
    assert_eq!(wfo_domain::sync::canonical_acd_id(s), canonical);
    // Ids are compared and stored in canonical form: canonical again must not change it.
    assert_eq!(
        canonical_webex_id(&canonical),
        canonical,
        "the canonical form is not a fixed point"
    );
    let decoded = decode_webex_id(s);
    match &decoded {
        Some(WebexId::Uuid(u)) => {
            assert!(is_canonical_uuid(u), "{u:?}");
            assert_eq!(&canonical, u);
        }
        Some(WebexId::Typed { kind, uuid }) => {
            assert!(is_canonical_uuid(uuid), "{uuid:?}");
            assert_eq!(kind, &kind.to_ascii_uppercase());
            assert_eq!(&canonical, uuid);
        }
        None => {}
    }
    if let Some(u) = normalize_user_id(s) {
        assert!(is_canonical_uuid(&u), "{u:?}");
    }
    if let Some(n) = normalize_number(s) {
        assert!(!n.is_empty() && n.trim() == n);
    }
    let _ = upper_snake(s);
    let _ = parse_timestamp(s);
    let _ = parse_datetime(s);
    let _ = wfo_domain::ledger::AgentName::from_display(s, None);
    let _ = wfo_domain::wfo::metadata_key_from_label(s);
    let _ = wfo_domain::sync::placeholder_names(s);
    match decoded {
        Some(WebexId::Uuid(_)) => "uuid".to_owned(),
        Some(WebexId::Typed { .. }) => "typed".to_owned(),
        None if canonical.len() == s.trim().len() => "other".to_owned(),
        None => "shortened".to_owned(),
    }
}

pub fn id_seeds() -> Vec<Vec<u8>> {
    [
        "f5b36187-c8dd-4727-8b2f-f9c447f29046",
        "F5B36187C8DD47278B2FF9C447F29046",
        " f5b36187-c8dd-4727-8b2f-f9c447f29046 ",
        "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY",
        "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY=",
        "Y2lzY29zcGFyazovL3VzL1BMQUNFL2Y1YjM2MTg3LWM4ZGQtNDcyNy04YjJmLWY5YzQ0N2YyOTA0Ng",
        "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvTVNfMWEyYg",
        "ZjViMzYxODctYzhkZC00NzI3LThiMmYtZjljNDQ3ZjI5MDQ2",
        "sip:+14085550101@10.0.0.1;user=phone",
        "tel:+14155550123",
        "callQueue",
        "VIRTUAL_LINE",
        "2023-10-12 21:22:32.621",
        "2023-11-07T16:50:21+08:00",
        "Alice  Nguyen",
        "Recording Id",
        "aGVsbG8",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_document_segments_within_the_contract() {
        let outcomes: Vec<String> = metadata_seeds().iter().map(|d| webex_metadata(d)).collect();
        assert!(
            outcomes.iter().filter(|o| o.starts_with("ok:")).count() >= 10,
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|o| o.starts_with("err:")),
            "the malformed documents fail"
        );
    }

    #[test]
    fn id_seeds_cover_both_id_forms() {
        let outcomes: Vec<String> = id_seeds().iter().map(|s| webex_ids(s)).collect();
        assert!(outcomes.contains(&"uuid".to_owned()) && outcomes.contains(&"typed".to_owned()));
    }
}
