//! `docs/openapi/wfo-ingest-api.yaml` covers the whole contract of
//! `shared/specs/wfo-ingest-api.md`. No YAML parser is available to the workspace, so
//! this reads the document's indentation structure (paths at 2 spaces, methods at 4,
//! component sections at 2 and entries at 4), which is enough to check coverage and
//! dangling references. Full validation: `openapi-spec-validator` (Python), see the doc.

use std::collections::{BTreeMap, BTreeSet};

/// Every call of the spec, as (method, path).
const SPEC_CALLS: &[(&str, &str)] = &[
    ("post", "/api/rest/authorize"),
    ("delete", "/api/rest/authorize"),
    ("get", "/api/rest/org/common/team/permission/ViewOrg"),
    ("post", "/api/rest/org/common/team"),
    ("put", "/api/rest/org/common/team/{id}"),
    ("get", "/api/rest/org/acd/queue"),
    ("post", "/api/rest/org/acd/queue"),
    ("put", "/api/rest/org/acd/queue/{id}"),
    ("get", "/api/rest/org/common/role"),
    ("get", "/api/rest/org/common/person/permission/ViewOrg"),
    ("get", "/api/rest/org/common/person/{id}"),
    ("post", "/api/rest/org/common/person"),
    ("put", "/api/rest/org/common/person/{id}"),
    ("get", "/api/rest/recording/metadatakey"),
    ("post", "/api/rest/wfo/contact/import"),
    ("get", "/api/rest/recording/contact"),
    ("get", "/api/rest/recording/contact/{contactId}"),
    ("put", "/api/rest/recording/contact/{contactId}/metadata"),
    ("put", "/api/rest/wfo/contact/{contactId}/audio"),
];

fn document() -> String {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/wfo-ingest-api.yaml");
    std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Top-level section → its lines.
fn section<'a>(doc: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("{name}:");
    doc.lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .collect()
}

/// (method, path) → the lines of that operation.
fn operations(doc: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut ops: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut path = String::new();
    let mut current: Option<(String, String)> = None;
    for line in section(doc, "paths") {
        let t = line.trim();
        if indent(line) == 2 && t.starts_with('/') {
            path = t.trim_end_matches(':').to_owned();
            current = None;
        } else if indent(line) == 4 && ["get:", "post:", "put:", "delete:", "patch:"].contains(&t) {
            current = Some((t.trim_end_matches(':').to_owned(), path.clone()));
            ops.entry((t.trim_end_matches(':').to_owned(), path.clone()))
                .or_default();
        } else if indent(line) <= 4 && !t.is_empty() {
            current = None;
        } else if let Some(key) = &current {
            ops.entry(key.clone()).or_default().push(t.to_owned());
        }
    }
    ops
}

#[test]
fn document_is_openapi_3_1_without_tabs() {
    let doc = document();
    assert!(doc.starts_with("openapi: 3.1."), "must declare OpenAPI 3.1");
    assert!(!doc.contains('\t'), "YAML indentation must not use tabs");
}

#[test]
fn every_call_of_the_spec_is_documented_and_nothing_else() {
    let documented: BTreeSet<(String, String)> = operations(&document()).into_keys().collect();
    let spec: BTreeSet<(String, String)> = SPEC_CALLS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, spec);
}

#[test]
fn every_operation_has_an_operation_id_and_answers_401_429_and_5xx() {
    for ((m, p), lines) in operations(&document()) {
        let has = |needle: &str| lines.iter().any(|l| l.starts_with(needle));
        assert!(has("operationId:"), "{m} {p}: operationId");
        assert!(has("\"429\":"), "{m} {p}: 429");
        assert!(has("\"5XX\":"), "{m} {p}: 5XX");
        assert!(has("\"401\":"), "{m} {p}: 401");
    }
}

#[test]
fn non_idempotent_creates_are_marked_and_login_needs_no_session() {
    let ops = operations(&document());
    for create in [
        "/api/rest/org/common/team",
        "/api/rest/org/acd/queue",
        "/api/rest/org/common/person",
        "/api/rest/wfo/contact/import",
    ] {
        let lines = &ops[&("post".to_owned(), create.to_owned())];
        assert!(lines.iter().any(|l| l == "x-idempotent: false"), "{create}");
    }
    let login = &ops[&("post".to_owned(), "/api/rest/authorize".to_owned())];
    assert!(login.iter().any(|l| l == "security: []"));
}

#[test]
fn session_cookie_throttling_header_and_audio_bodies_are_described() {
    let doc = document();
    let components = section(&doc, "components").join("\n");
    assert!(components.contains("type: apiKey\n      in: cookie\n      name: hazelcast.sessionId"));
    assert!(doc.contains("security:\n  - sessionCookie: []"));
    assert!(components.contains("Retry-After: { $ref: \"#/components/headers/Retry-After\" }"));
    let audio = &operations(&doc)[&("put".to_owned(), "/api/rest/wfo/contact/{contactId}/audio".to_owned())];
    for media in ["audio/mpeg:", "audio/wav:"] {
        assert!(audio.iter().any(|l| l == media), "{media}");
    }
    for status in ["400", "401", "403", "404", "409", "413", "422", "429"] {
        assert!(doc.contains(&format!("\"{status}\":")), "status {status}");
    }
}

#[test]
fn error_messages_the_client_matches_are_the_documented_ones() {
    let doc = document();
    for example in [
        wfo_client::messages::unknown_agent_message(3, "agent-7"),
        wfo_client::messages::unknown_metadata_key_message("queue-key"),
        wfo_client::messages::metadata_key_not_text_message("date-key"),
    ] {
        assert!(doc.contains(&example), "{example}");
    }
}

#[test]
fn every_reference_points_at_a_defined_component() {
    let doc = document();
    let mut defined = BTreeSet::new();
    let mut kind = String::new();
    for line in section(&doc, "components") {
        let t = line.trim();
        if indent(line) == 2 && t.ends_with(':') {
            kind = t.trim_end_matches(':').to_owned();
        } else if indent(line) == 4 && t.ends_with(':') {
            defined.insert(format!("#/components/{kind}/{}", t.trim_end_matches(':')));
        }
    }
    let refs: BTreeSet<&str> = doc
        .split("$ref: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(refs.len() > 20, "found only {} references", refs.len());
    for r in refs {
        assert!(defined.contains(r), "dangling $ref {r}");
    }
}
