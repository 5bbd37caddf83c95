//! Metrics an alarm can watch, as CloudWatch Embedded Metric Format (EMF) lines.
//!
//! One JSON object per line on stdout: on Lambda, CloudWatch Logs turns each line into a
//! metric data point without any API call (and `serve` prints the same lines, so a log
//! shipper can do the same). Namespace `wfo-connect`, dimension `Connector`.
//!
//! ```json
//! {"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"wfo-connect",
//!   "Dimensions":[["Connector"]],"Metrics":[{"Name":"ReauthorizationRequired","Unit":"Count"}]}]},
//!  "Connector":"acme-calling","ReauthorizationRequired":1,"Reason":"invalid_grant: …"}
//! ```
//!
//! Lines carry no secret: only connector ids, counts and reasons the source gave.

use std::io::Write;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "wfo-connect";
pub const CONNECTOR_DIMENSION: &str = "Connector";
/// 1 each time a connector moves to "re-authorization required" (alarm: sum ≥ 1).
pub const REAUTHORIZATION_REQUIRED: &str = "ReauthorizationRequired";
/// 1 each time an item is given up (`dead`): a recording that will not reach WFO
/// without an operator (alarm: sum ≥ 1).
pub const ITEMS_DEAD: &str = "ItemsDead";
/// 1 each time a connector moves to "needs operator" (permissions, roles, credentials,
/// configuration): its items are held, not lost (alarm: sum ≥ 1).
pub const OPERATOR_NEEDED: &str = "OperatorNeeded";

/// CloudWatch metric units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One metric value of one connector, with extra (non-dimension) properties that land in
/// the log event for whoever reads the alarm.
pub fn emf_line(
    name: &str,
    unit: Unit,
    value: f64,
    connector: &str,
    properties: &[(&str, &str)],
    at: DateTime<Utc>,
) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[CONNECTOR_DIMENSION]],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}],
            }],
        }),
    );
    for (k, v) in properties {
        root.insert((*k).to_owned(), Value::from(*v));
    }
    root.insert(CONNECTOR_DIMENSION.into(), Value::from(connector));
    root.insert(name.into(), json!(value));
    Value::Object(root).to_string()
}

type Tap = Arc<dyn Fn(&str) + Send + Sync>;
static TAP: RwLock<Option<Tap>> = RwLock::new(None);

/// Also hand every emitted line to `tap` (tests; a local runner that wants to count).
/// `None` removes it.
pub fn set_tap(tap: Option<Tap>) {
    if let Ok(mut t) = TAP.write() {
        *t = tap;
    }
}

/// Write one EMF line to stdout (and the tap, if any).
pub fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not take the connector down; the log line says it anyway.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    drop(out);
    if let Ok(t) = TAP.read()
        && let Some(tap) = t.as_ref()
    {
        tap(line);
    }
}

/// The connector just moved to "re-authorization required".
pub fn reauthorization_required(connector: &str, reason: &str, at: DateTime<Utc>) {
    emit(&emf_line(
        REAUTHORIZATION_REQUIRED,
        Unit::Count,
        1.0,
        connector,
        &[("Reason", reason)],
        at,
    ));
}

/// An item was given up.
pub fn item_dead(connector: &str, item: &str, reason: &str, at: DateTime<Utc>) {
    emit(&emf_line(
        ITEMS_DEAD,
        Unit::Count,
        1.0,
        connector,
        &[("Item", item), ("Reason", reason)],
        at,
    ));
}

/// The connector's items are now held by a problem an operator must fix.
pub fn operator_needed(connector: &str, reason: &str, at: DateTime<Utc>) {
    emit(&emf_line(
        OPERATOR_NEEDED,
        Unit::Count,
        1.0,
        connector,
        &[("Reason", reason)],
        at,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reauthorization_line_is_embedded_metric_format_with_the_connector_dimension() {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let line = emf_line(
            REAUTHORIZATION_REQUIRED,
            Unit::Count,
            1.0,
            "acme-calling",
            &[("Reason", "invalid_grant")],
            at,
        );
        assert!(!line.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_767_225_600_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "wfo-connect");
        assert_eq!(directive["Dimensions"], json!([["Connector"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "ReauthorizationRequired", "Unit": "Count"}])
        );
        // Every dimension and metric named in the directive is a top-level member.
        assert_eq!(v["Connector"], "acme-calling");
        assert_eq!(v["ReauthorizationRequired"], 1.0);
        assert_eq!(v["Reason"], "invalid_grant");
    }

    #[test]
    fn a_property_cannot_overwrite_the_dimension_or_the_value() {
        let line = emf_line(
            "X",
            Unit::Seconds,
            2.5,
            "c1",
            &[("Connector", "evil"), ("X", "nope")],
            Utc::now(),
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!((v["Connector"].as_str(), v["X"].as_f64()), (Some("c1"), Some(2.5)));
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Seconds");
    }
}
