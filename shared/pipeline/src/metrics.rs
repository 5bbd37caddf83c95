//! Metrics an alarm can watch, as CloudWatch Embedded Metric Format (EMF) lines.
//!
//! One JSON object per line on stdout: on Lambda, CloudWatch Logs turns each line into a
//! metric data point without any API call (and `serve` prints the same lines, so a log
//! shipper can do the same; the CLI's other commands do not, see [`set_stdout`]).
//! Namespace `wfo-connect`, dimension `Connector` (and `Kind`, or `Queue`, below).
//!
//! ```json
//! {"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"wfo-connect",
//!   "Dimensions":[["Connector"]],"Metrics":[{"Name":"ReauthorizationRequired","Unit":"Count"}]}]},
//!  "Connector":"acme-calling","ReauthorizationRequired":1,"Reason":"invalid_grant: …"}
//! ```
//!
//! Lines carry no secret: only connector ids, item ids, counts and reasons the source gave.
//!
//! | metric | unit | dimensions | emitted | by |
//! |---|---|---|---|---|
//! | `ReauthorizationRequired` | Count | Connector | 1 as the connector moves to re-authorization required | [`reauthorization_required`] |
//! | `OperatorNeeded` | Count | Connector | 1 as the connector's items are held for an operator | [`operator_needed`] |
//! | `ItemsDead` | Count | Connector | 1 as an item is given up | [`item_dead`] |
//! | `ContactsImported` | Count | Connector | 1 as a contact is recorded as created in WFO | [`contact_imported`] |
//! | `ImportLatency` | Seconds | Connector | with it: seconds from the call's end to that moment | [`contact_imported`] |
//! | `AudioBytesUploaded` | Bytes | Connector | bytes WFO stored, as a contact's audio is recorded as uploaded | [`audio_uploaded`] |
//! | `ItemsWaiting`, `ItemsFailed`, `ItemsHeld` | Count | Connector | gauges: open items by health, each monitor run | [`open_items`] |
//! | `TokenHealthy` | Count | Connector | gauge: 1 usable, 0 re-authorization required or never authorized, each token run | [`token_health`] |
//! | `RefreshTokenSecondsLeft` | Seconds | Connector | with it, when the source gave the refresh token's expiry | [`token_health`] |
//! | `SyncCreated`, `SyncUpdated`, `SyncDeactivated`, `SyncFailed`, `SyncIncomplete` | Count | Connector, Kind | per sync run and kind (persons, teams, queues) | [`sync_run`] |
//! | `NoRecentImport` | Count | Connector | gauge: 1 when nothing was imported for the quiet period within business hours | [`no_recent_import`] |
//! | `DeadLetterDepth` | Count | Queue | gauge: messages in a dead-letter queue, each monitor run | [`dead_letter_depth`] |
//!
//! Events are emitted once, where the ledger records them (after the write that makes
//! them true), never per retry; gauges by the scheduler's `monitor` run (`serve`'s own
//! timer locally).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// 1 each time a contact is recorded as created in WFO (with [`IMPORT_LATENCY`]).
pub const CONTACTS_IMPORTED: &str = "ContactsImported";
/// Seconds from the call's end to its contact recorded in WFO, one value per contact:
/// CloudWatch gives its percentiles (p50, p95).
pub const IMPORT_LATENCY: &str = "ImportLatency";
/// Bytes of audio WFO stored for a contact, as the upload is recorded.
pub const AUDIO_BYTES_UPLOADED: &str = "AudioBytesUploaded";
/// Gauge: open items waiting for their source (audio not there yet).
pub const ITEMS_WAITING: &str = "ItemsWaiting";
/// Gauge: open items whose last attempt failed (they are retried).
pub const ITEMS_FAILED: &str = "ItemsFailed";
/// Gauge: open items held for an operator.
pub const ITEMS_HELD: &str = "ItemsHeld";
/// Gauge: 1 when the connector's credentials are usable, 0 when re-authorization is
/// required or it was never authorized.
pub const TOKEN_HEALTHY: &str = "TokenHealthy";
/// Gauge: seconds until the refresh token's horizon (Webex: 60 days after consent,
/// renewed with use); 0 once passed.
pub const REFRESH_TOKEN_SECONDS_LEFT: &str = "RefreshTokenSecondsLeft";
/// Per sync run and kind: writes done (created, updated or reactivated, deactivated),
/// writes failed, and 1 when the run was not complete.
pub const SYNC_CREATED: &str = "SyncCreated";
pub const SYNC_UPDATED: &str = "SyncUpdated";
pub const SYNC_DEACTIVATED: &str = "SyncDeactivated";
pub const SYNC_FAILED: &str = "SyncFailed";
pub const SYNC_INCOMPLETE: &str = "SyncIncomplete";
/// Gauge: 1 when the connector imported nothing for the quiet period within business
/// hours (`crate::monitor`), else 0.
pub const NO_RECENT_IMPORT: &str = "NoRecentImport";
/// Gauge: messages in a dead-letter queue (visible and in flight).
pub const DEAD_LETTER_DEPTH: &str = "DeadLetterDepth";
/// The sync metrics' second dimension: `persons`, `teams` or `queues`.
pub const KIND_DIMENSION: &str = "Kind";
/// The dead-letter metric's dimension (not per connector: a message may name none).
pub const QUEUE_DIMENSION: &str = "Queue";

/// Every metric this module emits (the dashboard test checks each is shown).
pub const ALL: &[&str] = &[
    REAUTHORIZATION_REQUIRED,
    ITEMS_DEAD,
    OPERATOR_NEEDED,
    CONTACTS_IMPORTED,
    IMPORT_LATENCY,
    AUDIO_BYTES_UPLOADED,
    ITEMS_WAITING,
    ITEMS_FAILED,
    ITEMS_HELD,
    TOKEN_HEALTHY,
    REFRESH_TOKEN_SECONDS_LEFT,
    SYNC_CREATED,
    SYNC_UPDATED,
    SYNC_DEACTIVATED,
    SYNC_FAILED,
    SYNC_INCOMPLETE,
    NO_RECENT_IMPORT,
    DEAD_LETTER_DEPTH,
];

/// CloudWatch metric units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One value of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: Unit,
    pub value: f64,
}

impl<'a> Metric<'a> {
    pub fn new(name: &'a str, unit: Unit, value: f64) -> Self {
        Self { name, unit, value }
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
    emf_record(
        &[Metric::new(name, unit, value)],
        &[(CONNECTOR_DIMENSION, connector)],
        properties,
        at,
    )
}

/// Several metric values sharing one set of dimensions (one dimension set of all the
/// given names), with extra properties. Dimensions and values win over properties of the
/// same name; a value that is not finite is written as 0 (JSON has no NaN).
pub fn emf_record(
    metrics: &[Metric<'_>],
    dimensions: &[(&str, &str)],
    properties: &[(&str, &str)],
    at: DateTime<Utc>,
) -> String {
    let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let declared: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": declared,
            }],
        }),
    );
    for (k, v) in properties {
        root.insert((*k).to_owned(), Value::from(*v));
    }
    for (k, v) in dimensions {
        root.insert((*k).to_owned(), Value::from(*v));
    }
    for m in metrics {
        let value = if m.value.is_finite() { m.value } else { 0.0 };
        root.insert(m.name.to_owned(), json!(value));
    }
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

static TO_STDOUT: AtomicBool = AtomicBool::new(true);

/// Whether [`emit`] writes to stdout: yes by default (Lambda, `wfo-connect serve`).
/// One-shot commands whose stdout is for people (`demo`, `backfill`, `sync`) switch it
/// off: nobody turns their output into metrics. The tap still sees every line.
pub fn set_stdout(on: bool) {
    TO_STDOUT.store(on, Ordering::Relaxed);
}

/// Write one EMF line to stdout (unless switched off) and to the tap, if any.
pub fn emit(line: &str) {
    if TO_STDOUT.load(Ordering::Relaxed) {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take the connector down; the log line says it anyway.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
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

/// A contact was recorded as created in WFO: [`CONTACTS_IMPORTED`] 1 and, when the
/// call's end is known, [`IMPORT_LATENCY`] (never negative: clocks differ).
pub fn contact_imported(connector: &str, item: &str, call_end: Option<DateTime<Utc>>, at: DateTime<Utc>) {
    emit(&contact_imported_line(connector, item, call_end, at));
}

fn contact_imported_line(connector: &str, item: &str, call_end: Option<DateTime<Utc>>, at: DateTime<Utc>) -> String {
    let mut metrics = vec![Metric::new(CONTACTS_IMPORTED, Unit::Count, 1.0)];
    if let Some(end) = call_end {
        let seconds = (at - end).num_milliseconds().max(0) as f64 / 1000.0;
        metrics.push(Metric::new(IMPORT_LATENCY, Unit::Seconds, seconds));
    }
    emf_record(&metrics, &[(CONNECTOR_DIMENSION, connector)], &[("Item", item)], at)
}

/// A contact's audio was recorded as uploaded: the bytes WFO stored.
pub fn audio_uploaded(connector: &str, item: &str, bytes: u64, at: DateTime<Utc>) {
    emit(&audio_uploaded_line(connector, item, bytes, at));
}

fn audio_uploaded_line(connector: &str, item: &str, bytes: u64, at: DateTime<Utc>) -> String {
    emf_record(
        &[Metric::new(AUDIO_BYTES_UPLOADED, Unit::Bytes, bytes as f64)],
        &[(CONNECTOR_DIMENSION, connector)],
        &[("Item", item)],
        at,
    )
}

/// Open items of a connector by health (gauges).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenItems {
    pub waiting: u64,
    pub failed: u64,
    pub held: u64,
}

pub fn open_items(connector: &str, items: OpenItems, at: DateTime<Utc>) {
    emit(&open_items_line(connector, items, at));
}

fn open_items_line(connector: &str, items: OpenItems, at: DateTime<Utc>) -> String {
    emf_record(
        &[
            Metric::new(ITEMS_WAITING, Unit::Count, items.waiting as f64),
            Metric::new(ITEMS_FAILED, Unit::Count, items.failed as f64),
            Metric::new(ITEMS_HELD, Unit::Count, items.held as f64),
        ],
        &[(CONNECTOR_DIMENSION, connector)],
        &[],
        at,
    )
}

/// The connector's token health (gauges): usable or not, and the seconds left until the
/// refresh token's horizon when known.
pub fn token_health(connector: &str, healthy: bool, refresh_expires_at: Option<DateTime<Utc>>, at: DateTime<Utc>) {
    emit(&token_health_line(connector, healthy, refresh_expires_at, at));
}

fn token_health_line(
    connector: &str,
    healthy: bool,
    refresh_expires_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> String {
    let mut metrics = vec![Metric::new(TOKEN_HEALTHY, Unit::Count, if healthy { 1.0 } else { 0.0 })];
    if let Some(until) = refresh_expires_at {
        let left = (until - at).num_seconds().max(0) as f64;
        metrics.push(Metric::new(REFRESH_TOKEN_SECONDS_LEFT, Unit::Seconds, left));
    }
    emf_record(&metrics, &[(CONNECTOR_DIMENSION, connector)], &[], at)
}

/// What one sync run did to one kind (`persons`, `teams`, `queues`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub created: u64,
    pub updated: u64,
    pub deactivated: u64,
    pub failed: u64,
    pub incomplete: bool,
}

pub fn sync_run(connector: &str, kind: &str, counts: SyncCounts, at: DateTime<Utc>) {
    emit(&sync_run_line(connector, kind, counts, at));
}

fn sync_run_line(connector: &str, kind: &str, c: SyncCounts, at: DateTime<Utc>) -> String {
    emf_record(
        &[
            Metric::new(SYNC_CREATED, Unit::Count, c.created as f64),
            Metric::new(SYNC_UPDATED, Unit::Count, c.updated as f64),
            Metric::new(SYNC_DEACTIVATED, Unit::Count, c.deactivated as f64),
            Metric::new(SYNC_FAILED, Unit::Count, c.failed as f64),
            Metric::new(SYNC_INCOMPLETE, Unit::Count, if c.incomplete { 1.0 } else { 0.0 }),
        ],
        &[(CONNECTOR_DIMENSION, connector), (KIND_DIMENSION, kind)],
        &[],
        at,
    )
}

/// Whether the connector imported nothing for the quiet period within business hours.
pub fn no_recent_import(connector: &str, quiet: bool, at: DateTime<Utc>) {
    emit(&no_recent_import_line(connector, quiet, at));
}

fn no_recent_import_line(connector: &str, quiet: bool, at: DateTime<Utc>) -> String {
    emf_line(
        NO_RECENT_IMPORT,
        Unit::Count,
        if quiet { 1.0 } else { 0.0 },
        connector,
        &[],
        at,
    )
}

/// Messages in a dead-letter queue (`queue` names it: `import`).
pub fn dead_letter_depth(queue: &str, depth: u64, at: DateTime<Utc>) {
    emit(&dead_letter_depth_line(queue, depth, at));
}

fn dead_letter_depth_line(queue: &str, depth: u64, at: DateTime<Utc>) -> String {
    emf_record(
        &[Metric::new(DEAD_LETTER_DEPTH, Unit::Count, depth as f64)],
        &[(QUEUE_DIMENSION, queue)],
        &[],
        at,
    )
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

    /// The line parsed, checked to be one EMF record of `dimensions` declaring exactly
    /// `metrics` (name, unit) each with its value as a top-level member.
    fn check(line: &str, dimensions: &[(&str, &str)], metrics: &[(&str, &str, f64)]) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        let v: Value = serde_json::from_str(line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "wfo-connect");
        let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
        assert_eq!(directive["Dimensions"], json!([names]));
        for (k, value) in dimensions {
            assert_eq!(v[*k], *value, "dimension {k}");
        }
        let declared: Vec<Value> = metrics.iter().map(|(n, u, _)| json!({"Name": n, "Unit": u})).collect();
        assert_eq!(directive["Metrics"], Value::Array(declared));
        for (name, _, value) in metrics {
            assert_eq!(v[*name].as_f64(), Some(*value), "value of {name}");
        }
        v
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    #[test]
    fn a_contact_import_counts_one_and_carries_the_seconds_since_the_call_ended() {
        let end = at() - chrono::Duration::milliseconds(93_500);
        let v = check(
            &contact_imported_line("c1", "rec-1", Some(end), at()),
            &[("Connector", "c1")],
            &[("ContactsImported", "Count", 1.0), ("ImportLatency", "Seconds", 93.5)],
        );
        assert_eq!(v["Item"], "rec-1");
        // Without a known end: the count only. A call end "after" now (clocks) is 0 s.
        check(
            &contact_imported_line("c1", "rec-1", None, at()),
            &[("Connector", "c1")],
            &[("ContactsImported", "Count", 1.0)],
        );
        check(
            &contact_imported_line("c1", "rec-1", Some(at() + chrono::Duration::seconds(5)), at()),
            &[("Connector", "c1")],
            &[("ContactsImported", "Count", 1.0), ("ImportLatency", "Seconds", 0.0)],
        );
    }

    #[test]
    fn an_audio_upload_is_its_bytes() {
        let v = check(
            &audio_uploaded_line("c1", "rec-1", 480_044, at()),
            &[("Connector", "c1")],
            &[("AudioBytesUploaded", "Bytes", 480_044.0)],
        );
        assert_eq!(v["Item"], "rec-1");
    }

    #[test]
    fn open_items_are_three_gauges_in_one_line() {
        check(
            &open_items_line(
                "c1",
                OpenItems {
                    waiting: 3,
                    failed: 2,
                    held: 1,
                },
                at(),
            ),
            &[("Connector", "c1")],
            &[
                ("ItemsWaiting", "Count", 3.0),
                ("ItemsFailed", "Count", 2.0),
                ("ItemsHeld", "Count", 1.0),
            ],
        );
    }

    #[test]
    fn token_health_is_one_or_zero_with_the_refresh_horizon_when_known() {
        check(
            &token_health_line("c1", true, Some(at() + chrono::Duration::days(59)), at()),
            &[("Connector", "c1")],
            &[
                ("TokenHealthy", "Count", 1.0),
                ("RefreshTokenSecondsLeft", "Seconds", 59.0 * 86_400.0),
            ],
        );
        check(
            &token_health_line("c1", false, Some(at() - chrono::Duration::days(1)), at()),
            &[("Connector", "c1")],
            &[
                ("TokenHealthy", "Count", 0.0),
                ("RefreshTokenSecondsLeft", "Seconds", 0.0),
            ],
        );
        check(
            &token_health_line("c1", false, None, at()),
            &[("Connector", "c1")],
            &[("TokenHealthy", "Count", 0.0)],
        );
    }

    #[test]
    fn a_sync_run_is_five_counts_per_connector_and_kind() {
        let counts = SyncCounts {
            created: 4,
            updated: 7,
            deactivated: 1,
            failed: 2,
            incomplete: true,
        };
        check(
            &sync_run_line("c1", "teams", counts, at()),
            &[("Connector", "c1"), ("Kind", "teams")],
            &[
                ("SyncCreated", "Count", 4.0),
                ("SyncUpdated", "Count", 7.0),
                ("SyncDeactivated", "Count", 1.0),
                ("SyncFailed", "Count", 2.0),
                ("SyncIncomplete", "Count", 1.0),
            ],
        );
    }

    #[test]
    fn no_recent_import_and_the_dead_letter_depth_are_gauges() {
        check(
            &no_recent_import_line("c1", true, at()),
            &[("Connector", "c1")],
            &[("NoRecentImport", "Count", 1.0)],
        );
        check(
            &no_recent_import_line("c1", false, at()),
            &[("Connector", "c1")],
            &[("NoRecentImport", "Count", 0.0)],
        );
        check(
            &dead_letter_depth_line("import", 12, at()),
            &[("Queue", "import")],
            &[("DeadLetterDepth", "Count", 12.0)],
        );
    }

    #[test]
    fn a_value_that_is_not_finite_is_written_as_zero() {
        let line = emf_record(
            &[Metric::new("X", Unit::Seconds, f64::NAN)],
            &[(CONNECTOR_DIMENSION, "c1")],
            &[],
            at(),
        );
        check(&line, &[("Connector", "c1")], &[("X", "Seconds", 0.0)]);
    }

    #[test]
    fn every_emitted_metric_is_listed_once() {
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
