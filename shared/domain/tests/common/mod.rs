//! Fixture loading shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use wfo_domain::mapping::resolve_rules;
use wfo_domain::segment::{SegmentContext, SegmentedContact, segment_webex_calling};
use wfo_domain::wfo::MetadataKey;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/webex-calling")
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextFile {
    acd_server_id: i64,
    metadata_keys: Vec<MetadataKey>,
    metadata_mapping: Vec<Mapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mapping {
    acd_field: String,
    label: String,
}

/// The connector context every `expected.json` assumes (`fixtures/webex-calling/context.json`).
pub fn fixture_context() -> SegmentContext {
    let file: ContextFile = serde_json::from_value(read_json(&fixtures().join("context.json"))).unwrap();
    let pairs: Vec<(String, String)> = file
        .metadata_mapping
        .into_iter()
        .map(|m| (m.acd_field, m.label))
        .collect();
    SegmentContext {
        acd_server_id: file.acd_server_id,
        metadata: resolve_rules(&pairs, &file.metadata_keys).unwrap(),
    }
}

pub fn scenario_dir(name: &str) -> PathBuf {
    fixtures().join("scenarios").join(name)
}

pub fn scenario_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The recording metadata documents of a scenario, by file name order.
pub fn scenario_docs(name: &str) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|f| f != "expected.json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), read_json(&p)))
        .collect()
}

pub fn expected_contacts(name: &str) -> Vec<SegmentedContact> {
    serde_json::from_value(read_json(&scenario_dir(name).join("expected.json"))).unwrap()
}

/// Every document of the scenario segmented, in file order.
pub fn segment_scenario(name: &str) -> Vec<SegmentedContact> {
    let ctx = fixture_context();
    scenario_docs(name)
        .iter()
        .flat_map(|(file, doc)| segment_webex_calling(doc, &ctx).unwrap_or_else(|e| panic!("{name}/{file}: {e}")))
        .collect()
}
