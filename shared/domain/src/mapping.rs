//! Metadata mapping: `[[metadata_mapping]]` entries (`acd_field` path + WFO label) are
//! resolved once against the tenant's metadata keys, then applied to every source
//! document to fill a contact's `metadata`.
//!
//! Paths are case-sensitive, dot separated, relative to the document root
//! (`serviceData.callRecordingId`). A segment that is a plain number indexes into an
//! array (`serviceData.recordingActions.0.action`).

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

use crate::wfo::{self, MetadataKeyType};

/// A resolved mapping: copy the value at `acd_field` into WFO metadata key `wfo_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRule {
    pub acd_field: String,
    pub wfo_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    #[error("metadata mapping acd_field '{acd_field}': {problem}")]
    InvalidPath { acd_field: String, problem: String },
    #[error("label '{label}' matches no WFO metadata key (neither a label nor the key '{derived_key}')")]
    UnknownLabel { label: String, derived_key: String },
    #[error("label '{label}' matches several WFO metadata keys when case is ignored: {candidates}")]
    AmbiguousLabel { label: String, candidates: String },
    #[error("label '{label}' is a {key_type} key; only TEXT keys can receive ACD metadata")]
    NotText { label: String, key_type: String },
}

/// Checks the syntax of an `acd_field` path: non-empty, dot separated, no empty segment,
/// no surrounding or inner whitespace.
pub fn validate_path(acd_field: &str) -> Result<(), MappingError> {
    let bad = |problem: &str| MappingError::InvalidPath {
        acd_field: acd_field.to_owned(),
        problem: problem.to_owned(),
    };
    if acd_field.is_empty() {
        return Err(bad("is empty"));
    }
    if acd_field.chars().any(char::is_whitespace) {
        return Err(bad("contains whitespace"));
    }
    if acd_field.split('.').any(str::is_empty) {
        return Err(bad("has an empty segment (write field.subfield)"));
    }
    Ok(())
}

fn key_type_name(t: MetadataKeyType) -> &'static str {
    match t {
        MetadataKeyType::Text => "TEXT",
        MetadataKeyType::Date => "DATE",
        MetadataKeyType::Number => "NUMBER",
        MetadataKeyType::Hyperlink => "HYPERLINK",
    }
}

fn find_key<'k>(label: &str, keys: &'k [wfo::MetadataKey]) -> Result<&'k wfo::MetadataKey, MappingError> {
    if let Some(k) = keys.iter().find(|k| k.label == label) {
        return Ok(k);
    }
    let ci: Vec<&wfo::MetadataKey> = keys
        .iter()
        .filter(|k| k.label.to_lowercase() == label.to_lowercase())
        .collect();
    match ci.as_slice() {
        [one] => return Ok(one),
        [] => {}
        many => {
            let candidates = many
                .iter()
                .map(|k| format!("'{}'", k.label))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(MappingError::AmbiguousLabel {
                label: label.to_owned(),
                candidates,
            });
        }
    }
    let derived_key = wfo::metadata_key_from_label(label);
    keys.iter()
        .find(|k| k.key == derived_key)
        .ok_or(MappingError::UnknownLabel {
            label: label.to_owned(),
            derived_key,
        })
}

/// Resolves `(acd_field, label)` pairs against the tenant's metadata keys.
///
/// A label is matched exactly, then ignoring case, then through the documented
/// label → key rule ([`wfo::metadata_key_from_label`]). Only TEXT keys are accepted.
pub fn resolve_rules(
    mappings: &[(String, String)],
    keys: &[wfo::MetadataKey],
) -> Result<Vec<MetadataRule>, MappingError> {
    mappings
        .iter()
        .map(|(acd_field, label)| {
            validate_path(acd_field)?;
            let key = find_key(label, keys)?;
            if key.key_type != MetadataKeyType::Text {
                return Err(MappingError::NotText {
                    label: label.clone(),
                    key_type: key_type_name(key.key_type).to_owned(),
                });
            }
            Ok(MetadataRule {
                acd_field: acd_field.clone(),
                wfo_key: key.key.clone(),
            })
        })
        .collect()
}

/// The value at a dot path, `None` when any step is missing.
pub fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(doc, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Applies the rules to one source document. Strings are copied as they are, numbers
/// and booleans stringified; null or missing values are left out; objects and arrays are
/// left out with a warning.
pub fn extract_metadata(doc: &Value, rules: &[MetadataRule]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    for rule in rules {
        let value = match lookup(doc, &rule.acd_field) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(other @ (Value::Object(_) | Value::Array(_))) => {
                let what = if other.is_object() { "an object" } else { "an array" };
                warnings.push(format!(
                    "metadata field '{}' is {what}; only text, numbers and booleans are mapped (key '{}' left empty)",
                    rule.acd_field, rule.wfo_key
                ));
                continue;
            }
        };
        out.insert(rule.wfo_key.clone(), value);
    }
    (out, warnings)
}
