//! `[[metadata_mapping]]` resolution against WFO keys and extraction from documents.

mod fixtures;

use fixtures::*;
use serde_json::json;
use wfo_domain::mapping::{MappingError, MetadataRule, extract_metadata, resolve_rules, validate_path};
use wfo_domain::segment::SegmentContext;
use wfo_domain::wfo::{MetadataKey, MetadataKeyType};
use wfo_webex_calling::segment_webex_calling;

fn key(key: &str, label: &str, t: MetadataKeyType) -> MetadataKey {
    MetadataKey {
        key: key.into(),
        label: label.into(),
        key_type: t,
        exportable: true,
        encrypted: false,
        read_only: false,
    }
}

fn keys() -> Vec<MetadataKey> {
    vec![
        key("Recording-Id-key", "Recording Id", MetadataKeyType::Text),
        key("Customer-Tier-key", "Customer Tier", MetadataKeyType::Text),
        key("legacy-location", "Legacy Location", MetadataKeyType::Text),
        key("Hold-Count-key", "Hold Count", MetadataKeyType::Number),
        key("Case-Link-key", "Case Link", MetadataKeyType::Hyperlink),
        key("dup-a", "Team", MetadataKeyType::Text),
        key("dup-b", "TEAM", MetadataKeyType::Text),
    ]
}

fn m(field: &str, label: &str) -> (String, String) {
    (field.to_owned(), label.to_owned())
}

fn rule(field: &str, key: &str) -> MetadataRule {
    MetadataRule {
        acd_field: field.into(),
        wfo_key: key.into(),
    }
}

#[test]
fn a_label_is_matched_exactly_then_ignoring_case() {
    let rules = resolve_rules(
        &[
            m("serviceData.callRecordingId", "Recording Id"),
            m("ownerName", "customer tier"),
        ],
        &keys(),
    );
    assert_eq!(
        rules.unwrap(),
        [
            rule("serviceData.callRecordingId", "Recording-Id-key"),
            rule("ownerName", "Customer-Tier-key")
        ]
    );
}

#[test]
fn a_label_matching_no_label_resolves_through_the_documented_key_rule() {
    let ks = vec![key("Queue-Name-key", "Queue (display)", MetadataKeyType::Text)];
    let rules = resolve_rules(&[m("ownerName", "Queue Name")], &ks).unwrap();
    assert_eq!(rules, [rule("ownerName", "Queue-Name-key")]);
}

#[test]
fn a_label_of_a_non_text_key_is_refused_naming_the_label_and_type() {
    let err = resolve_rules(&[m("serviceData.callId", "Hold Count")], &keys()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "label 'Hold Count' is a NUMBER key; only TEXT keys can receive ACD metadata"
    );
    let err = resolve_rules(&[m("serviceData.callId", "case link")], &keys()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "label 'case link' is a HYPERLINK key; only TEXT keys can receive ACD metadata"
    );
}

#[test]
fn a_label_matching_nothing_is_refused_naming_it() {
    let err = resolve_rules(&[m("serviceData.callId", "Nope")], &keys()).unwrap_err();
    assert!(matches!(&err, MappingError::UnknownLabel { label, .. } if label == "Nope"));
    assert!(err.to_string().starts_with("label 'Nope' matches no WFO metadata key"));
}

#[test]
fn a_label_matching_two_keys_only_by_case_is_refused_as_ambiguous() {
    let err = resolve_rules(&[m("a", "team ")], &keys()).unwrap_err();
    assert!(
        matches!(err, MappingError::UnknownLabel { .. }),
        "'team ' differs by more than case"
    );
    let err = resolve_rules(&[m("a", "tEaM")], &keys()).unwrap_err();
    assert!(matches!(err, MappingError::AmbiguousLabel { .. }));
    assert_eq!(
        resolve_rules(&[m("a", "TEAM")], &keys()).unwrap(),
        [rule("a", "dup-b")],
        "exact match wins"
    );
}

#[test]
fn paths_with_empty_segments_or_whitespace_are_refused() {
    for bad in ["", ".", "a..b", ".a", "a.", "service Data.x"] {
        let err = validate_path(bad).unwrap_err();
        assert!(matches!(err, MappingError::InvalidPath { .. }), "{bad:?}");
        assert!(resolve_rules(&[m(bad, "Recording Id")], &keys()).is_err(), "{bad:?}");
    }
    for good in [
        "id",
        "serviceData.callRecordingId",
        "serviceData.recordingActions.0.action",
    ] {
        validate_path(good).unwrap();
    }
}

#[test]
fn extraction_copies_strings_stringifies_numbers_and_booleans_and_skips_null_and_missing() {
    let doc = json!({"a": "text", "b": {"n": 42, "f": 1.5, "t": true, "z": null}, "list": [{"x": "first"}]});
    let rules = vec![
        rule("a", "A"),
        rule("b.n", "N"),
        rule("b.f", "F"),
        rule("b.t", "T"),
        rule("b.z", "Z"),
        rule("b.missing", "M"),
        rule("A", "case-sensitive"),
        rule("list.0.x", "IDX"),
    ];
    let (md, warnings) = extract_metadata(&doc, &rules);
    let got: Vec<(&str, &str)> = md.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        [
            ("A", "text"),
            ("F", "1.5"),
            ("IDX", "first"),
            ("N", "42"),
            ("T", "true")
        ]
    );
    assert!(warnings.is_empty());
}

#[test]
fn extraction_skips_objects_and_arrays_with_a_warning() {
    let doc = json!({"o": {"k": 1}, "l": [1, 2]});
    let (md, warnings) = extract_metadata(&doc, &[rule("o", "O"), rule("l", "L")]);
    assert!(md.is_empty());
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].contains("'o' is an object"));
    assert!(warnings[1].contains("'l' is an array"));
}

#[test]
fn segmentation_puts_the_mapped_metadata_on_every_contact_of_the_recording() {
    let d = &scenario_docs("call-queue")[0].1;
    let ctx = SegmentContext {
        acd_server_id: 3,
        metadata: vec![
            rule("serviceData.callId", "Call-Id-key"),
            rule("serviceData.locationId", "Location-key"),
        ],
    };
    let contacts = segment_webex_calling(d, &ctx).unwrap();
    assert_eq!(contacts.len(), 2);
    for c in contacts {
        assert_eq!(c.contact.metadata.len(), 2);
        assert_eq!(
            c.contact.metadata["Call-Id-key"],
            d["serviceData"]["callId"].as_str().unwrap()
        );
    }
}

#[test]
fn the_fixture_context_resolves_its_mappings_to_text_keys() {
    let ctx = fixture_context();
    assert_eq!(ctx.acd_server_id, 3);
    assert_eq!(
        ctx.metadata,
        [
            rule("serviceData.callRecordingId", "Recording-Id-key"),
            rule("ownerName", "Recording-Owner-key")
        ]
    );
}
