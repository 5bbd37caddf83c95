//! Reporting records (reference §6.1, §6.4): sessions as a CSR (one per session) with its
//! CARs (one per state interval), the `GET /csrs` and `GET /cars` queries that serve them,
//! and the conversion of a 2.0 simulator task ([`SimTask`]) into a 1.0 session, so the same
//! call shapes can be played through either version.
//!
//! `GET /csrs?q={"dateBegin":[ms],"dateEnd":[ms],"activityType":"CSR","numberOfRecords":n,
//! "timezone":"UTC"}` answers the sessions whose **start (`cstts`)** lies in
//! `[dateBegin, dateEnd)`, ordered by `cstts` then `sid`, at most
//! `min(numberOfRecords, MAX_RECORDS)` of them; `datasetMetadata.isComplete` is `false`
//! when more matched (the client pages by moving `dateBegin` up to the last `cstts` seen
//! and de-duplicating by `sid`). `GET /cars?q={"sid":"…","activityType":"CAR"}` answers the
//! session's CARs ordered by `cstts` (none for an unknown session). A malformed `q`
//! answers `400` naming what is wrong.
//!
//! UNCONFIRMED choices:
//! - A session appears in either query only once it has ended (`cetts` on or before the
//!   simulator clock): the simulator has no partial records.
//! - `dateEnd` is exclusive; `timezone`, when given, must be `UTC`; `numberOfRecords` must
//!   be a positive integer and is capped at [`MAX_RECORDS`].
//! - `numberOfRecordsInDataset` is the number of records in `data`; `lastAccessTimestamp`
//!   is the simulator's now (epoch ms).
//! - Absent values are JSON `null`.
//! - Conversion: `agentId` is the 2.0 CI user id string (1.0 ids are integers, §6.1); CAR
//!   events keep the 2.0 event names; `ani`/`dnis` are the task's origin/destination;
//!   `callDirection` is `outdial` for 2.0 `outbound`/`outdial`, `inbound` otherwise; CSR
//!   `cetts` is the task's end (after the last wrap-up). The recording starts at the
//!   earliest `connected` CAR with an `agentId` and runs to `cetts`; its audio is the 2.0
//!   main capture's signal, silent after that capture stopped (the caller hung up) and
//!   wherever it was paused. A task without a main capture (or `captureRequested` not
//!   true) gives a session without a recording.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wfo_sim_wxcc::wav::WavSource;
use wfo_sim_wxcc::{CallType, SimTask};

use crate::error::ApiError;
use crate::state::{Route, SharedRef};

/// The most records one query answers, whatever `numberOfRecords` asks.
pub const MAX_RECORDS: usize = 500;

/// A Customer Session Record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Csr {
    pub sid: String,
    /// Tenant id.
    pub tid: String,
    pub ani: String,
    pub dnis: String,
    /// Start, epoch ms.
    pub cstts: i64,
    /// End, epoch ms.
    pub cetts: i64,
    /// `inbound` or `outdial`.
    pub call_direction: String,
    pub channel_type: String,
    pub agent_name: Option<String>,
    pub queue_id: Option<String>,
    pub team_id: Option<String>,
}

/// A Customer Activity Record: one state interval of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Car {
    /// `{sid}-{cstts}-{event}`.
    pub id: String,
    pub sid: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub event: String,
    pub cstts: i64,
    pub cetts: i64,
    pub destination_agent_id: Option<String>,
}

/// The one recording of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// First instant, epoch ms: the earliest `connected` CAR with an agent.
    pub start_ms: i64,
    /// End, epoch ms: the session's `cetts`.
    pub end_ms: i64,
    /// The signal (two channels, mixed to mono when served).
    pub source: WavSource,
}

/// A session: its CSR, its CARs (ordered by `cstts`) and its recording, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub csr: Csr,
    pub cars: Vec<Car>,
    pub recording: Option<Recording>,
}

impl Session {
    /// The 1.0 view of a 2.0 task (see the module doc for the mapping).
    pub fn from_task(task: &SimTask, tenant_id: &str) -> Session {
        let sid = task.id.clone();
        let cetts = task.ended_time.timestamp_millis();
        let mut cars: Vec<Car> = task
            .activities
            .iter()
            .map(|a| {
                let cstts = a.created_time.timestamp_millis();
                Car {
                    id: format!("{sid}-{cstts}-{}", a.event_name),
                    sid: sid.clone(),
                    agent_id: a.agent.as_ref().map(|x| x.id.clone()),
                    agent_name: a.agent.as_ref().map(|x| x.name.clone()),
                    event: a.event_name.clone(),
                    cstts,
                    cetts: a.ended_time.timestamp_millis(),
                    destination_agent_id: a.destination_agent.as_ref().map(|x| x.id.clone()),
                }
            })
            .collect();
        cars.sort_by_key(|c| c.cstts);
        let call_direction = match task.direction.as_str() {
            "outbound" | "outdial" => "outdial",
            _ => "inbound",
        };
        let csr = Csr {
            sid: sid.clone(),
            tid: tenant_id.to_owned(),
            ani: task.origin.clone(),
            dnis: task.destination.clone(),
            cstts: task.created_time.timestamp_millis(),
            cetts,
            call_direction: call_direction.to_owned(),
            channel_type: task.channel_type.clone(),
            agent_name: task.owner.as_ref().map(|a| a.name.clone()),
            queue_id: task.last_queue.as_ref().map(|q| q.id.clone()),
            team_id: task.last_team.as_ref().map(|t| t.id.clone()),
        };
        let main = task.recordings.iter().find(|r| r.call_type == CallType::Main);
        let first_connected = cars
            .iter()
            .find(|c| c.event == "connected" && c.agent_id.is_some())
            .map(|c| c.cstts);
        let recording = match (task.expects_capture(), main, first_connected) {
            (true, Some(main), Some(start_ms)) if start_ms <= cetts => {
                let start = chrono::DateTime::from_timestamp_millis(start_ms).unwrap_or(main.start_time);
                let mut source = main.wav_source(start, task.ended_time);
                let stopped = main.stop_time.timestamp_millis();
                if stopped < cetts {
                    source.silences.push((stopped, cetts));
                }
                Some(Recording {
                    start_ms,
                    end_ms: cetts,
                    source,
                })
            }
            _ => None,
        };
        Session { csr, cars, recording }
    }

    pub fn sid(&self) -> &str {
        &self.csr.sid
    }

    /// The session as `wfo-connect segment --kind webex-cc-1` reads it:
    /// `{"csr": <its CSR>, "cars": [<its CARs>]}`, as the queries answer them.
    pub fn session_file(&self) -> Value {
        json!({ "csr": self.csr, "cars": self.cars })
    }
}

/// The `q` parameter of both queries.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryParam {
    q: Option<String>,
}

/// A parsed CSR query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrQuery {
    pub date_begin: i64,
    pub date_end: i64,
    /// Already capped at [`MAX_RECORDS`].
    pub number_of_records: usize,
}

fn missing_q() -> String {
    "missing query parameter q".to_owned()
}

fn parse_q(q: &str) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(q) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("q must be a JSON object".to_owned()),
        Err(e) => Err(format!("q is not JSON: {e}")),
    }
}

fn activity_type(map: &serde_json::Map<String, Value>, want: &str) -> Result<(), String> {
    match map.get("activityType") {
        Some(Value::String(s)) if s == want => Ok(()),
        Some(other) => Err(format!("activityType must be \"{want}\" on this resource, got {other}")),
        None => Err("missing activityType".to_owned()),
    }
}

/// `[ms]`: an array of exactly one integer.
fn one_ms(map: &serde_json::Map<String, Value>, key: &str) -> Result<i64, String> {
    match map.get(key) {
        Some(Value::Array(items)) if items.len() == 1 => items[0]
            .as_i64()
            .ok_or_else(|| format!("{key} must hold an epoch-ms integer, got {}", items[0])),
        Some(other) => Err(format!("{key} must be an array of one epoch-ms integer, got {other}")),
        None => Err(format!("missing {key}")),
    }
}

/// Parses and checks a CSR query's JSON.
pub fn parse_csr_query(q: &str) -> Result<CsrQuery, String> {
    let map = parse_q(q)?;
    activity_type(&map, "CSR")?;
    let date_begin = one_ms(&map, "dateBegin")?;
    let date_end = one_ms(&map, "dateEnd")?;
    if date_end <= date_begin {
        return Err(format!("dateEnd ({date_end}) must be after dateBegin ({date_begin})"));
    }
    let n = match map.get("numberOfRecords") {
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("numberOfRecords must be a positive integer, got {v}"))?,
        None => return Err("missing numberOfRecords".to_owned()),
    };
    match map.get("timezone") {
        None => {}
        Some(Value::String(tz)) if tz == "UTC" => {}
        Some(other) => return Err(format!("timezone must be \"UTC\", got {other}")),
    }
    Ok(CsrQuery {
        date_begin,
        date_end,
        number_of_records: usize::try_from(n).unwrap_or(MAX_RECORDS).min(MAX_RECORDS),
    })
}

/// Parses a CAR query's JSON: the session id.
pub fn parse_car_query(q: &str) -> Result<String, String> {
    let map = parse_q(q)?;
    activity_type(&map, "CAR")?;
    match map.get("sid") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(format!("sid must be a non-empty string, got {other}")),
        None => Err("missing sid".to_owned()),
    }
}

fn dataset(found: usize, data: Vec<Value>, now_ms: i64) -> Value {
    json!({
        "datasetMetadata": {
            "numberOfRecordsFound": found,
            "numberOfRecordsInDataset": data.len(),
            "isComplete": data.len() == found,
            "lastAccessTimestamp": now_ms,
        },
        "data": data,
    })
}

fn fault(status: StatusCode, route: Route) -> Response {
    ApiError::new(status, format!("injected fault on {}", route.as_str())).into_response()
}

/// `GET /csrs?q=…`
pub(crate) async fn csrs(State(shared): State<SharedRef>, Query(p): Query<QueryParam>) -> Response {
    if let Some(status) = shared.admit(Route::Csrs) {
        return fault(status, Route::Csrs);
    }
    let query = match p.q.as_deref().ok_or_else(missing_q).and_then(parse_csr_query) {
        Ok(q) => q,
        Err(why) => return ApiError::bad_request(why).into_response(),
    };
    let now = shared.clock.now().timestamp_millis();
    let mut matching: Vec<Arc<Session>> = shared
        .lock()
        .sessions
        .values()
        .filter(|s| s.csr.cetts <= now && s.csr.cstts >= query.date_begin && s.csr.cstts < query.date_end)
        .cloned()
        .collect();
    matching.sort_by(|a, b| (a.csr.cstts, a.sid()).cmp(&(b.csr.cstts, b.sid())));
    let found = matching.len();
    let data = matching
        .iter()
        .take(query.number_of_records)
        .map(|s| serde_json::to_value(&s.csr).unwrap_or(Value::Null))
        .collect();
    axum::Json(dataset(found, data, now)).into_response()
}

/// `GET /cars?q=…`
pub(crate) async fn cars(State(shared): State<SharedRef>, Query(p): Query<QueryParam>) -> Response {
    if let Some(status) = shared.admit(Route::Cars) {
        return fault(status, Route::Cars);
    }
    let sid = match p.q.as_deref().ok_or_else(missing_q).and_then(parse_car_query) {
        Ok(sid) => sid,
        Err(why) => return ApiError::bad_request(why).into_response(),
    };
    let now = shared.clock.now().timestamp_millis();
    let session = shared.lock().sessions.get(&sid).cloned();
    let data: Vec<Value> = session
        .filter(|s| s.csr.cetts <= now)
        .map(|s| {
            s.cars
                .iter()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .collect()
        })
        .unwrap_or_default();
    axum::Json(dataset(data.len(), data, now)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_query_errors_name_the_field() {
        let ok = r#"{"dateBegin":[1],"dateEnd":[2],"activityType":"CSR","numberOfRecords":9000,"timezone":"UTC"}"#;
        assert_eq!(
            parse_csr_query(ok),
            Ok(CsrQuery {
                date_begin: 1,
                date_end: 2,
                number_of_records: MAX_RECORDS
            })
        );
        for (q, needle) in [
            ("nope", "not JSON"),
            ("[]", "JSON object"),
            (r#"{"dateBegin":[1],"dateEnd":[2],"numberOfRecords":1}"#, "activityType"),
            (
                r#"{"dateBegin":1,"dateEnd":[2],"activityType":"CSR","numberOfRecords":1}"#,
                "dateBegin",
            ),
            (
                r#"{"dateBegin":[1],"activityType":"CSR","numberOfRecords":1}"#,
                "dateEnd",
            ),
            (
                r#"{"dateBegin":[3],"dateEnd":[2],"activityType":"CSR","numberOfRecords":1}"#,
                "dateEnd",
            ),
            (
                r#"{"dateBegin":[1],"dateEnd":[2],"activityType":"CSR","numberOfRecords":0}"#,
                "numberOfRecords",
            ),
            (
                r#"{"dateBegin":[1],"dateEnd":[2],"activityType":"CSR","numberOfRecords":1,"timezone":"CET"}"#,
                "timezone",
            ),
            (
                r#"{"dateBegin":[1],"dateEnd":[2],"activityType":"CAR","numberOfRecords":1}"#,
                "activityType",
            ),
        ] {
            let err = parse_csr_query(q).unwrap_err();
            assert!(err.contains(needle), "{q}: {err}");
        }
    }

    #[test]
    fn car_query_needs_a_sid_and_the_car_type() {
        assert_eq!(
            parse_car_query(r#"{"sid":"s1","activityType":"CAR"}"#),
            Ok("s1".to_owned())
        );
        assert!(
            parse_car_query(r#"{"activityType":"CAR"}"#)
                .unwrap_err()
                .contains("sid")
        );
        assert!(
            parse_car_query(r#"{"sid":"s1","activityType":"CSR"}"#)
                .unwrap_err()
                .contains("activityType")
        );
    }
}
