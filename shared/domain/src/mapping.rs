//! Metadata mapping: `[[metadata_mapping]]` entries (`acd_field` path + WFO label) are
//! resolved once against the tenant's metadata keys, then applied to every source
//! document to fill a contact's `metadata`.
//!
//! Paths are case-sensitive, dot separated, relative to the document root
//! (`serviceData.callRecordingId`). A segment that is a plain number indexes into an
//! array (`serviceData.recordingActions.0.action`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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

/// A mapping path that found no field in one document, with the existing field whose
/// name is nearest (paths are case-sensitive, so `serviceData.callid` finds nothing where
/// `serviceData.callId` exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedPath {
    pub path: String,
    pub nearest: Option<String>,
}

/// The rules whose path names no field of `doc` (a `null` value is a field: it matched).
pub fn unmatched_paths(doc: &Value, rules: &[MetadataRule]) -> Vec<UnmatchedPath> {
    let mut fields: Option<Vec<String>> = None;
    rules
        .iter()
        .filter(|r| lookup(doc, &r.acd_field).is_none())
        .map(|r| {
            let all = fields.get_or_insert_with(|| field_paths(doc));
            UnmatchedPath {
                path: r.acd_field.clone(),
                nearest: nearest(&r.acd_field, all),
            }
        })
        .collect()
}

/// Dot paths of a document's object fields, breadth first, bounded in depth and count
/// (a document from outside cannot make this walk without end).
fn field_paths(doc: &Value) -> Vec<String> {
    const MAX_PATHS: usize = 5_000;
    const MAX_DEPTH: usize = 8;
    let mut out = Vec::new();
    let mut level: Vec<(String, &Value)> = vec![(String::new(), doc)];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for (prefix, v) in level {
            if let Value::Object(m) = v {
                for (k, child) in m {
                    if out.len() >= MAX_PATHS {
                        return out;
                    }
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.push(path.clone());
                    next.push((path, child));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    out
}

/// The field path nearest to `path`: the same but for letter case first, else the least
/// edit distance when it is small against the path's length.
fn nearest(path: &str, fields: &[String]) -> Option<String> {
    if let Some(same) = fields.iter().find(|f| f.eq_ignore_ascii_case(path)) {
        return Some(same.clone());
    }
    let limit = (path.chars().count() / 3).max(2);
    fields
        .iter()
        .map(|f| (edit_distance(&path.to_ascii_lowercase(), &f.to_ascii_lowercase()), f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, f)| (*d, f.len()))
        .map(|(_, f)| f.clone())
}

/// Levenshtein distance (two rows; inputs are field paths, short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().take(256).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().take(256).enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod unmatched_tests {
    use super::*;

    fn rule(path: &str) -> MetadataRule {
        MetadataRule {
            acd_field: path.into(),
            wfo_key: format!("{path}-key"),
        }
    }

    #[test]
    fn a_path_in_the_wrong_case_names_the_field_it_meant() {
        let doc = serde_json::json!({"serviceData": {"callId": "x", "callRecordingId": "r", "empty": null}});
        let misses = unmatched_paths(
            &doc,
            &[
                rule("serviceData.callid"),
                rule("serviceData.callRecordingId"),
                rule("serviceData.empty"),
            ],
        );
        assert_eq!(
            misses,
            vec![UnmatchedPath {
                path: "serviceData.callid".into(),
                nearest: Some("serviceData.callId".into())
            }]
        );
    }

    #[test]
    fn a_typo_finds_the_nearest_field_and_nonsense_finds_none() {
        let doc = serde_json::json!({"serviceData": {"callingNumber": "1", "calledNumber": "2"}});
        let misses = unmatched_paths(&doc, &[rule("serviceData.calingNumber"), rule("totally.different")]);
        assert_eq!(misses[0].nearest.as_deref(), Some("serviceData.callingNumber"));
        assert_eq!(misses[1].nearest, None);
    }
}
