//! **Records** (reference §6.1, §6.4; UNCONFIRMED as a whole): Customer Session Records
//! (one per session, the item) and Customer Activity Records (one per state interval),
//! how they are queried and paged, and how they map onto the Contact Center model the
//! §2.4 rules read ([`wfo_webex_cc2::segment`]): one rule set for 1.0 and 2.0.
//!
//! - `GET {api_url}/csrs?q={"dateBegin":[ms],"dateEnd":[ms],"activityType":"CSR",
//!   "numberOfRecords":n,"timezone":"UTC"}` → `{"datasetMetadata":{"numberOfRecordsFound",
//!   "isComplete",…},"data":[CSR]}`. The window is on the session's **start** (`cstts`).
//!   An incomplete dataset is paged by moving `dateBegin` up to the last `cstts` seen
//!   (not past it: sessions sharing that millisecond would be lost), de-duplicated by `sid`.
//! - `GET {api_url}/cars?q={"sid":"…","activityType":"CAR"}` → the session's CARs.
//!
//! The mapping ([`task_file`], WXCC1-Axx in `docs/webex-cc1-assumptions.md`):
//! - WXCC1-A01: `sid` is the task id and every contact's associated call id; `cstts` /
//!   `cetts` the task's and each CAR's interval; `ani`, `dnis`, `callDirection`,
//!   `channelType` as 2.0's origin, destination, direction, channelType.
//! - WXCC1-A02: a CAR's `event` is 2.0's `eventName`; `agentId` and
//!   `destinationAgentId` are the agent ids user sync writes (the auxiliary-data user `id`).
//! - WXCC1-A03: one recording per session, `recordingId` = `sid`, from the earliest
//!   `connected` CAR with an `agentId` to the session's `cetts`, mono.
//! - WXCC1-A04: a telephony session is expected to have a recording (audio pending until
//!   the media API has it); a digital one has none.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use wfo_domain::Secret;
use wfo_domain::json_fields::{as_obj, get, wrong};
use wfo_domain::segment::SegmentError;
use wfo_domain::timeline::EpochMs;
use wfo_webex_cc2::segment::{Capture, CaptureSet, CarNode, CcTask, CcTaskFile, NamedRef, id_field, text, time};

use crate::client::Cc1Client;
use crate::error::Cc1Error;

/// Records asked for per CSR query (the simulator, like the Analyzer, answers at most 500).
pub const PAGE_RECORDS: usize = 500;
/// CSR queries per listing window before the walk gives up on it (a tenant whose
/// `isComplete` never turns true).
pub const MAX_CSR_PAGES: usize = 200;
/// CARs of one session, at most: a session with more is refused (a bound on memory).
pub const MAX_CARS: usize = 5_000;
/// The CSR query windows on the session's **start**: a listing of sessions ended in
/// `[from, to)` asks for those started from `from − MAX_SESSION`, so a session longer
/// than this that started before it is not listed by the poller (data recapture and
/// `backfill` use the same rule; stated in the README).
pub const MAX_SESSION: Duration = Duration::hours(8);

/// One page of a CSR query.
#[derive(Debug, Clone, Default)]
pub struct CsrPage {
    pub records: Vec<Value>,
    /// `datasetMetadata.isComplete`: no more records matched.
    pub complete: bool,
}

/// The `data` of a dataset answer, and whether it is complete. `isComplete` missing:
/// complete unless `numberOfRecordsFound` says more matched than came.
pub fn read_dataset(operation: &'static str, v: Value) -> Result<CsrPage, Cc1Error> {
    let Value::Object(mut o) = v else {
        return Err(Cc1Error::Malformed {
            operation,
            message: "the answer is not a JSON object".to_owned(),
        });
    };
    let records = match o.remove("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Cc1Error::Malformed {
                operation,
                message: format!("data is {}, not an array", kind_of(&other)),
            });
        }
    };
    let meta = o.get("datasetMetadata");
    let complete = match meta.and_then(|m| m.get("isComplete")) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        _ => meta
            .and_then(|m| m.get("numberOfRecordsFound"))
            .and_then(Value::as_u64)
            .is_none_or(|found| found <= records.len() as u64),
    };
    Ok(CsrPage { records, complete })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Cc1Client {
    /// Sessions started in `[from, to)`, one page (at most [`PAGE_RECORDS`]).
    pub async fn csr_page(&self, key: &Secret, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CsrPage, Cc1Error> {
        const OP: &str = "query CSRs";
        let q = json!({
            "dateBegin": [from.timestamp_millis()],
            "dateEnd": [to.timestamp_millis()],
            "activityType": "CSR",
            "numberOfRecords": PAGE_RECORDS,
            "timezone": "UTC",
        });
        let url = self.url("csrs", &[("q", &q.to_string())])?;
        read_dataset(OP, self.get_json(OP, url, key).await?)
    }

    /// The CARs of session `sid`, as the API sends them.
    pub async fn cars(&self, key: &Secret, sid: &str) -> Result<Vec<Value>, Cc1Error> {
        const OP: &str = "query CARs";
        let q = json!({ "sid": sid, "activityType": "CAR" });
        let url = self.url("cars", &[("q", &q.to_string())])?;
        let page = read_dataset(OP, self.get_json(OP, url, key).await?)?;
        if page.records.len() > MAX_CARS {
            return Err(Cc1Error::Malformed {
                operation: OP,
                message: format!("session {sid} has {} CARs, more than {MAX_CARS}", page.records.len()),
            });
        }
        if !page.complete {
            tracing::warn!(
                sid,
                cars = page.records.len(),
                "CAR dataset marked incomplete; segmenting what came"
            );
        }
        Ok(page.records)
    }
}

/// What a CSR listing needs of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrKey {
    pub sid: String,
    pub start: Option<EpochMs>,
    /// `None`: the session has not ended.
    pub end: Option<EpochMs>,
    pub tenant: Option<String>,
}

/// Reads the listing fields of one CSR. `Err((sid, reason))` for a record that cannot be
/// read (the sid when it has one).
pub fn csr_key(v: &Value) -> Result<CsrKey, (Option<String>, String)> {
    let o = as_obj(v, "csr").map_err(|e| (None, e.to_string()))?;
    let sid = text(o, "csr", "sid").map_err(|e| (None, e.to_string()))?;
    let Some(sid) = sid else {
        return Err((None, "a CSR without sid".to_owned()));
    };
    let read = || -> Result<CsrKey, SegmentError> {
        Ok(CsrKey {
            sid: sid.clone(),
            start: time(o, "csr", "cstts")?,
            end: time(o, "csr", "cetts")?.filter(|ms| *ms > 0),
            tenant: text(o, "csr", "tid")?,
        })
    };
    read().map_err(|e| (Some(sid.clone()), e.to_string()))
}

/// What is known of a session's recording when it is segmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingState {
    /// The media API has it (or, offline, it is taken to exist): contacts get slices.
    Available,
    /// Not there yet: contacts are planned with their audio to come.
    Awaited,
    /// There will be none (media import off, the wait given up): no audio.
    None,
}

/// The mapped session and what the mapping noticed.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub file: CcTaskFile,
    pub notes: Vec<String>,
    /// WXCC1-A03: the recording's first instant, when an agent connected.
    pub recording_start: Option<EpochMs>,
}

fn parse_car(v: &Value, path: &str) -> Result<(Option<String>, CarNode), SegmentError> {
    let o = as_obj(v, path)?;
    Ok((
        text(o, path, "sid")?,
        CarNode {
            id: text(o, path, "id")?,
            event_name: text(o, path, "event")?
                .or(text(o, path, "eventName")?)
                .unwrap_or_default(),
            agent_id: id_field(o, path, "agentId")?,
            agent_name: text(o, path, "agentName")?,
            destination_agent_id: id_field(o, path, "destinationAgentId")?,
            created_time: time(o, path, "cstts")?,
            ended_time: time(o, path, "cetts")?.filter(|ms| *ms > 0),
            transfer_type: None,
        },
    ))
}

/// WXCC1-A01..A04: one CSR and its CARs as the task the §2.4 rules segment.
pub fn task_file(csr: &Value, cars: &[Value], recording: RecordingState) -> Result<Mapped, SegmentError> {
    const P: &str = "csr";
    let o = as_obj(csr, P)?;
    let sid = text(o, P, "sid")?.ok_or_else(|| SegmentError::Missing {
        path: "csr.sid".to_owned(),
    })?;
    let mut notes = Vec::new();
    let mut nodes = Vec::with_capacity(cars.len());
    let mut seen = HashSet::new();
    let (mut other_sid, mut repeated) = (0usize, 0usize);
    let mut previous: Option<EpochMs> = None;
    let mut out_of_order = false;
    for (i, v) in cars.iter().enumerate() {
        let (car_sid, node) = parse_car(v, &format!("cars[{i}]"))?;
        if car_sid.as_deref().is_some_and(|s| s != sid) {
            other_sid += 1;
            continue;
        }
        if let Some(id) = &node.id
            && !seen.insert(id.clone())
        {
            repeated += 1;
            continue;
        }
        if let (Some(p), Some(t)) = (previous, node.created_time)
            && t < p
        {
            out_of_order = true;
        }
        previous = node.created_time.or(previous);
        nodes.push(node);
    }
    if other_sid > 0 {
        notes.push(format!("{other_sid} CAR(s) of another session than {sid}; not used"));
    }
    if repeated > 0 {
        notes.push(format!("{repeated} CAR(s) repeated (same id); each used once"));
    }
    if out_of_order {
        notes.push("CARs came out of order; read in cstts order".to_owned());
    }
    nodes.sort_by_key(|n| (n.created_time.is_none(), n.created_time, n.ended_time));
    let created = time(o, P, "cstts")?;
    let ended = time(o, P, "cetts")?.filter(|ms| *ms > 0);
    let channel = text(o, P, "channelType")?;
    let voice = channel
        .as_deref()
        .is_none_or(|c| matches!(c.to_ascii_lowercase().as_str(), "telephony" | "voice"));
    // WXCC1-A03
    let recording_start = nodes
        .iter()
        .filter(|n| n.event() == "connected" && n.agent_id.is_some())
        .filter_map(|n| n.created_time)
        .min();
    let (capture_requested, captures) = match (voice, recording) {
        (false, _) | (_, RecordingState::None) => (Some(false), None),
        (true, RecordingState::Awaited) => (None, None),
        (true, RecordingState::Available) => match (recording_start, ended) {
            (Some(start), Some(end)) if start <= end => (
                Some(true),
                Some(CaptureSet {
                    task_id: Some(sid.clone()),
                    recording: vec![Capture {
                        id: sid.clone(),
                        segment: false,
                        call_type: Some("main".to_owned()),
                        start_time: Some(start),
                        stop_time: Some(end),
                        participants: Vec::new(),
                        channel1: Some("mono".to_owned()),
                        channel2: None,
                        file_name: None,
                        file_path: None,
                    }],
                }),
            ),
            _ => {
                notes.push(format!(
                    "session {sid}: no connected CAR with an agent before its end, so its recording's start is unknown; no audio"
                ));
                (Some(false), None)
            }
        },
    };
    let file = CcTaskFile {
        task: CcTask {
            id: sid,
            created_time: created,
            ended_time: ended,
            origin: text(o, P, "ani")?,
            destination: text(o, P, "dnis")?,
            direction: text(o, P, "callDirection")?,
            channel_type: channel,
            capture_requested,
            owner: text(o, P, "agentName")?.map(|name| NamedRef {
                id: None,
                name: Some(name),
            }),
            last_queue: match (text(o, P, "queueId")?, text(o, P, "queueName")?) {
                (None, None) => None,
                (id, name) => Some(NamedRef { id, name }),
            },
            nodes: Some(nodes),
            more_nodes: false,
        },
        captures,
    };
    Ok(Mapped {
        file,
        notes,
        recording_start,
    })
}

/// The `segment --kind webex-cc-1` file: `{"csr": <one CSR>, "cars": [<its CARs>]}`.
pub fn parse_session_file(doc: &Value) -> Result<(&Value, &[Value]), SegmentError> {
    let root = as_obj(doc, "").map_err(|_| wrong("(document)".to_owned(), "an object {\"csr\", \"cars\"}", doc))?;
    let csr = get(root, "csr").ok_or_else(|| SegmentError::Missing { path: "csr".to_owned() })?;
    let cars = match get(root, "cars") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(v) => return Err(wrong("cars".to_owned(), "an array", v)),
    };
    Ok((csr, cars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dataset_without_is_complete_is_complete_unless_more_were_found() {
        let p = read_dataset(
            "t",
            json!({"datasetMetadata": {"numberOfRecordsFound": 3}, "data": [1, 2]}),
        )
        .unwrap();
        assert!(!p.complete);
        let p = read_dataset("t", json!({"data": [1, 2]})).unwrap();
        assert!(p.complete);
        let p = read_dataset("t", json!({"datasetMetadata": {"isComplete": false}, "data": []})).unwrap();
        assert!(!p.complete);
        assert!(matches!(
            read_dataset("t", json!({"data": {"a": 1}})),
            Err(Cc1Error::Malformed { message, .. }) if message.contains("not an array")
        ));
        assert!(read_dataset("t", json!([1])).is_err());
    }

    fn car(sid: &str, event: &str, agent: Option<&str>, a: i64, b: i64) -> Value {
        json!({"id": format!("{sid}-{a}-{event}"), "sid": sid, "event": event, "agentId": agent, "cstts": a, "cetts": b})
    }

    fn csr() -> Value {
        json!({"sid": "s1", "tid": "t", "ani": "+1", "dnis": "+2", "cstts": 1000, "cetts": 90_000,
               "callDirection": "inbound", "channelType": "telephony"})
    }

    #[test]
    fn the_recording_starts_at_the_first_agent_connect_and_runs_to_the_session_end() {
        let cars = [
            car("s1", "connected", Some("a2"), 30_000, 60_000),
            car("s1", "parked", None, 1_000, 10_000),
            car("s1", "connected", Some("a1"), 10_000, 30_000),
            car("s1", "connected", Some("a1"), 10_000, 30_000),
            car("s2", "connected", Some("zz"), 0, 5),
        ];
        let m = task_file(&csr(), &cars, RecordingState::Available).unwrap();
        assert_eq!(m.recording_start, Some(10_000));
        let cap = &m.file.captures.as_ref().unwrap().recording[0];
        assert_eq!(
            (cap.id.as_str(), cap.start_time, cap.stop_time),
            ("s1", Some(10_000), Some(90_000))
        );
        assert!(cap.channel2.is_none(), "mono");
        let nodes = m.file.task.nodes.as_ref().unwrap();
        assert_eq!(nodes.len(), 3, "the other session's CAR and the repeat are dropped");
        assert!(nodes.windows(2).all(|w| w[0].created_time <= w[1].created_time));
        for n in ["another session", "repeated", "out of order"] {
            assert!(m.notes.iter().any(|x| x.contains(n)), "{n}: {:?}", m.notes);
        }
    }

    #[test]
    fn audio_is_awaited_for_voice_and_never_for_digital_sessions() {
        let cars = [car("s1", "connected", Some("a1"), 10_000, 30_000)];
        let m = task_file(&csr(), &cars, RecordingState::Awaited).unwrap();
        assert_eq!(m.file.task.capture_requested, None);
        assert!(m.file.captures.is_none());
        let mut chat = csr();
        chat["channelType"] = json!("chat");
        let m = task_file(&chat, &cars, RecordingState::Available).unwrap();
        assert_eq!(m.file.task.capture_requested, Some(false));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let cars = [json!({"sid": "s1", "event": "connected", "cstts": {"x": 1}})];
        let e = task_file(&csr(), &cars, RecordingState::Available).unwrap_err();
        assert!(e.to_string().contains("cars[0].cstts"), "{e}");
    }
}
