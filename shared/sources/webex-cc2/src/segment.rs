//! Contact Center 2.0 segmentation: one task (Search `taskDetails` element with its CAR
//! `activities.nodes`) and its captures → the WFO contacts it becomes, one per span in
//! which an agent is on the call, each with its slice of a capture's audio.
//!
//! Input: the `wfo-connect segment --kind webex-cc-2` file shape (`specs/interfaces.md`
//! §3): `{"task": <taskDetails.tasks[] element>, "captures": <captures/query data[]
//! element, or null>}`. Parsing is lenient: unknown fields are ignored, times are read
//! from numbers or strings, ids in any spelling. A field we rely on with the wrong JSON
//! type is a [`SegmentError`] naming its path; anything tolerated or guessed is a note.
//!
//! **This module is the ONE place that reads CAR nodes.** The rules are the working
//! assumption of the reference `webex-contact-center-api.md` §2.4 (UNCONFIRMED: no real
//! payload has been captured). Each is registered in [`ASSUMPTIONS`] (`WXCC-Axx`), named
//! in a comment where the code relies on it, and listed in `docs/webex-cc2-assumptions.md`.
//!
//! Why not the domain's [`wfo_domain::timeline::CallTimeline`]: a timeline is one
//! recording whose paused time is cut out of the audio, and whose participants are
//! snapshots. A Contact Center task is the other way round: per-agent state intervals,
//! several captures (main, consult) that keep wall-clock time through a pause, and
//! contacts that exist without any capture (not recorded, a chat). So this module builds
//! per-agent intervals itself and produces the domain's [`SegmentedContact`]s directly;
//! the pipeline treats them like Webex Calling's.
//!
//! Audio is expressed to the caller in two ways: the plain output ([`segment_webex_cc2`])
//! has `media: null` for a contact without a slice, with `audio.expected: true` when the
//! audio is still to come and `audio: null` when there will be none; the detailed output
//! ([`segment_webex_cc2_detailed`]) says the same as an [`AudioState`] per contact.

use std::collections::BTreeMap;

use serde_json::Value;
use wfo_domain::json_fields::{Obj, as_obj, get, join, wrong};
use wfo_domain::mapping::extract_metadata;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentError, SegmentedContact};
use wfo_domain::sync::canonical_acd_id;
use wfo_domain::timeline::{EpochMs, Interval};
use wfo_domain::wfo::{
    AgentRef, AudioFormat, AudioSpec, ContactEvent, ContactImport, ContactType, Direction, EventType,
};

/// One registered working assumption about Contact Center payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assumption {
    pub id: &'static str,
    /// The field(s) the assumption is about.
    pub field: &'static str,
    pub statement: &'static str,
}

/// Every working assumption of this module (mirrored in `docs/webex-cc2-assumptions.md`).
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        id: "WXCC-A01",
        field: "activities.nodes[].createdTime / endedTime",
        statement: "each CAR node is a state interval [createdTime, endedTime]; a node without endedTime is still open and ends at the task's endedTime",
    },
    Assumption {
        id: "WXCC-A02",
        field: "activities.nodes[].eventName",
        statement: "matched case-insensitively; connected, on-hold, hold-done, consulting, consult, conferencing, conference, paused, resumed with an agentId put that agent on the call for the node's interval; every other event (connect/ringing, WrapUp, transfers, IVR, queue) does not",
    },
    Assumption {
        id: "WXCC-A03",
        field: "activities.nodes[].destinationAgentId",
        statement: "a consulting or conferencing node also puts its destinationAgentId on the call for its interval; consult and Conference (the request phases) do not",
    },
    Assumption {
        id: "WXCC-A04",
        field: "per-agent intervals",
        statement: "one contact per maximal span an agent is continuously on the call: overlapping intervals merge, and so do intervals less than 2 s apart (hand-overs leave millisecond gaps)",
    },
    Assumption {
        id: "WXCC-A05",
        field: "on-hold / hold-done / paused / resumed",
        statement: "become HOLD / RETRIEVE / PAUSE / RESUME at the node's createdTime, on the contact of the node's agentId only",
    },
    Assumption {
        id: "WXCC-A06",
        field: "task id, origin, destination, direction",
        statement: "assocCallId = task id; ani = origin; dnis = destination; direction inbound → INBOUND, outbound and outdial → OUTBOUND",
    },
    Assumption {
        id: "WXCC-A07",
        field: "activities.nodes[].agentId",
        statement: "the agent's CI user id, the same id user sync writes as the person's acdId (canonicalised: lowercase hyphenated UUID)",
    },
    Assumption {
        id: "WXCC-A08",
        field: "captures recording[].attributes.startTime / callType main",
        statement: "a main capture covers the task from its startTime in wall-clock time (a pause is silence, not cut out): a contact's slice starts at contact start − startTime",
    },
    Assumption {
        id: "WXCC-A09",
        field: "captures recording[].attributes.callType consult",
        statement: "a consulted agent (on the call through a consulting/conferencing destination) whose contact lies within a consult capture (2 s tolerance) gets that capture instead of the main one",
    },
    Assumption {
        id: "WXCC-A10",
        field: "captureRequested",
        statement: "false → contacts without audio; null → not known yet (audio pending unless captures are given); true without captures → audio pending",
    },
    Assumption {
        id: "WXCC-A11",
        field: "channelType",
        statement: "telephony is a CALL with audio; chat, email, social, sms are digital contacts (CHAT, EMAIL, SOCIAL, SMS) without audio, segmented by the same rules",
    },
];

/// WXCC-A04: intervals of one agent closer than this merge into one contact.
pub const MERGE_GAP_MS: i64 = 2_000;

/// WXCC-A09: how far a consulted agent's contact may stick out of a consult capture.
pub const CONSULT_TOLERANCE_MS: i64 = 2_000;

/// WXCC-A02: events (lower case) that put the node's `agentId` on the call.
pub const ON_CALL_EVENTS: &[&str] = &[
    "connected",
    "on-hold",
    "hold-done",
    "consulting",
    "consult",
    "conferencing",
    "conference",
    "paused",
    "resumed",
];

/// WXCC-A03: events (lower case) that also put the `destinationAgentId` on the call.
pub const DESTINATION_EVENTS: &[&str] = &["consulting", "conferencing"];

/// Hand-over events (lower case): informational only; the new agent's own `connected`
/// node starts their part.
pub const TRANSFER_EVENTS: &[&str] = &["transferred", "blind-transfer", "consulttransfer", "vt-transfer"];

/// `externalId` prefix of Contact Center 2.0 contacts: `wxcc2:{taskId}:{n}`.
pub const WEBEX_CC2_EXTERNAL_ID_PREFIX: &str = "wxcc2";

/// WXCC-A05: the marker a node's event becomes on its agent's contact.
fn marker(event: &str) -> Option<EventType> {
    match event {
        "on-hold" => Some(EventType::Hold),
        "hold-done" => Some(EventType::Retrieve),
        "paused" => Some(EventType::Pause),
        "resumed" => Some(EventType::Resume),
        _ => None,
    }
}

// ---- input models ------------------------------------------------------------------

/// An `{id, name}` reference (`owner`, `lastQueue`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One CAR node (`activities.nodes[]`), the fields segmentation reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CarNode {
    pub id: Option<String>,
    /// As sent (mixed case is real).
    pub event_name: String,
    /// Canonical ACD id (WXCC-A07), `None` when absent or blank.
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// Canonical ACD id of the consulted / added / transferred-to agent.
    pub destination_agent_id: Option<String>,
    pub created_time: Option<EpochMs>,
    pub ended_time: Option<EpochMs>,
    pub transfer_type: Option<String>,
}

impl CarNode {
    /// `eventName` in lower case, trimmed (WXCC-A02).
    pub fn event(&self) -> String {
        self.event_name.trim().to_ascii_lowercase()
    }
}

/// One `taskDetails.tasks[]` element, the fields segmentation reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CcTask {
    pub id: String,
    pub created_time: Option<EpochMs>,
    pub ended_time: Option<EpochMs>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub direction: Option<String>,
    pub channel_type: Option<String>,
    /// `None`: null or absent, "not known yet".
    pub capture_requested: Option<bool>,
    pub owner: Option<NamedRef>,
    pub last_queue: Option<NamedRef>,
    /// `None` when the task carries no `activities` at all.
    pub nodes: Option<Vec<CarNode>>,
    /// `activities.pageInfo.hasNextPage` was true: nodes are missing.
    pub more_nodes: bool,
}

/// One `recording[]` element of `captures/query`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capture {
    pub id: String,
    pub segment: bool,
    /// Lower case (`main`, `consult`, `va-main`, `va-consult`); `None` when absent.
    pub call_type: Option<String>,
    pub start_time: Option<EpochMs>,
    pub stop_time: Option<EpochMs>,
    pub participants: Vec<String>,
    pub channel1: Option<String>,
    pub channel2: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
}

/// One `data[]` element of `captures/query`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureSet {
    pub task_id: Option<String>,
    pub recording: Vec<Capture>,
}

/// The `segment --kind webex-cc-2` file: a task and its captures (`None`: null or absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CcTaskFile {
    pub task: CcTask,
    pub captures: Option<CaptureSet>,
}

// ---- lenient field readers ------------------------------------------------------------

/// A text field: a string (blank counts as absent) or a number.
pub fn text(obj: &Obj, parent: &str, name: &str) -> Result<Option<String>, SegmentError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(wrong(join(parent, name), "a string", v)),
    }
}

pub fn id_field(obj: &Obj, parent: &str, name: &str) -> Result<Option<String>, SegmentError> {
    Ok(text(obj, parent, name)?
        .map(|s| canonical_acd_id(&s))
        .filter(|s| !s.is_empty()))
}

/// Epoch milliseconds from a number, a numeric string (captures send `"1661785612510"`)
/// or an RFC 3339 string.
pub fn time(obj: &Obj, parent: &str, name: &str) -> Result<Option<EpochMs>, SegmentError> {
    let path = || join(parent, name);
    match get(obj, name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(ms) => Ok(Some(ms)),
            // Whole milliseconds; a fraction is dropped (saturating for absurd values).
            None => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| Some(f as i64))
                .ok_or_else(|| SegmentError::Invalid {
                    path: path(),
                    problem: format!("{n} is not a time in epoch milliseconds"),
                }),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            if let Ok(ms) = s.parse::<i64>() {
                return Ok(Some(ms));
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| Some(d.timestamp_millis()))
                .map_err(|_| SegmentError::Invalid {
                    path: path(),
                    problem: format!("'{s}' is not a time (expected epoch milliseconds or RFC 3339)"),
                })
        }
        Some(v) => Err(wrong(path(), "a time in epoch milliseconds", v)),
    }
}

/// A boolean, also from the strings `true`/`false`.
pub fn flag(obj: &Obj, parent: &str, name: &str) -> Result<Option<bool>, SegmentError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(wrong(join(parent, name), "a boolean", v)),
    }
}

fn named(obj: &Obj, parent: &str, name: &str) -> Result<Option<NamedRef>, SegmentError> {
    let Some(v) = get(obj, name) else {
        return Ok(None);
    };
    let path = join(parent, name);
    let o = as_obj(v, &path)?;
    Ok(Some(NamedRef {
        id: text(o, &path, "id")?,
        name: text(o, &path, "name")?,
    }))
}

// ---- parsing ----------------------------------------------------------------------------

fn parse_node(v: &Value, path: &str) -> Result<CarNode, SegmentError> {
    let o = as_obj(v, path)?;
    Ok(CarNode {
        id: text(o, path, "id")?,
        event_name: text(o, path, "eventName")?.unwrap_or_default(),
        agent_id: id_field(o, path, "agentId")?,
        agent_name: text(o, path, "agentName")?,
        destination_agent_id: id_field(o, path, "destinationAgentId")?,
        created_time: time(o, path, "createdTime")?,
        ended_time: time(o, path, "endedTime")?,
        transfer_type: text(o, path, "transferType")?,
    })
}

fn parse_task(v: &Value) -> Result<CcTask, SegmentError> {
    const P: &str = "task";
    let o = as_obj(v, P)?;
    let id = text(o, P, "id")?.ok_or_else(|| SegmentError::Missing {
        path: "task.id".to_owned(),
    })?;
    // `activities.nodes` as Search returns it; a bare array is accepted too.
    let (nodes, more_nodes) = match get(o, "activities") {
        None => (None, false),
        Some(Value::Array(list)) => (Some((list.as_slice(), "task.activities")), false),
        Some(Value::Object(a)) => {
            let more = match get(a, "pageInfo") {
                Some(p) => flag(
                    as_obj(p, "task.activities.pageInfo")?,
                    "task.activities.pageInfo",
                    "hasNextPage",
                )?
                .unwrap_or(false),
                None => false,
            };
            match get(a, "nodes") {
                None => (Some((&[][..], "task.activities.nodes")), more),
                Some(Value::Array(list)) => (Some((list.as_slice(), "task.activities.nodes")), more),
                Some(v) => return Err(wrong("task.activities.nodes".to_owned(), "an array", v)),
            }
        }
        Some(v) => return Err(wrong("task.activities".to_owned(), "an object", v)),
    };
    let nodes = nodes
        .map(|(list, path)| {
            list.iter()
                .enumerate()
                .map(|(i, n)| parse_node(n, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(CcTask {
        id,
        created_time: time(o, P, "createdTime")?,
        ended_time: time(o, P, "endedTime")?,
        origin: text(o, P, "origin")?,
        destination: text(o, P, "destination")?,
        direction: text(o, P, "direction")?,
        channel_type: text(o, P, "channelType")?,
        capture_requested: flag(o, P, "captureRequested")?,
        owner: named(o, P, "owner")?,
        last_queue: named(o, P, "lastQueue")?.or(named(o, P, "queue")?),
        nodes,
        more_nodes,
    })
}

fn parse_capture(v: &Value, path: &str) -> Result<Capture, SegmentError> {
    let o = as_obj(v, path)?;
    let attrs = match get(o, "attributes") {
        Some(a) => Some(as_obj(a, &join(path, "attributes"))?),
        None => None,
    };
    let apath = join(path, "attributes");
    let empty = Obj::new();
    let a = attrs.unwrap_or(&empty);
    let participants = match get(a, "participants") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(v) => return Err(wrong(join(&apath, "participants"), "an array", v)),
    };
    Ok(Capture {
        id: text(o, path, "id")?.unwrap_or_default(),
        segment: flag(o, path, "segment")?.unwrap_or(false),
        call_type: text(a, &apath, "callType")?.map(|s| s.to_ascii_lowercase()),
        start_time: time(a, &apath, "startTime")?,
        stop_time: time(a, &apath, "stopTime")?,
        participants,
        channel1: text(a, &apath, "channel1")?,
        channel2: text(a, &apath, "channel2")?,
        file_name: text(a, &apath, "fileName")?,
        file_path: text(a, &apath, "filePath")?,
    })
}

fn parse_captures(v: &Value) -> Result<CaptureSet, SegmentError> {
    const P: &str = "captures";
    let o = as_obj(v, P)?;
    let recording = match get(o, "recording") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, r)| parse_capture(r, &format!("captures.recording[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(wrong("captures.recording".to_owned(), "an array", v)),
    };
    Ok(CaptureSet {
        task_id: text(o, P, "taskId")?,
        recording,
    })
}

/// Reads a `segment --kind webex-cc-2` file (`{"task": …, "captures": … | null}`).
pub fn parse_task_file(doc: &Value) -> Result<CcTaskFile, SegmentError> {
    let root =
        as_obj(doc, "").map_err(|_| wrong("(document)".to_owned(), "an object {\"task\", \"captures\"}", doc))?;
    let task = get(root, "task").ok_or_else(|| SegmentError::Missing {
        path: "task".to_owned(),
    })?;
    let task = parse_task(task)?;
    let captures = get(root, "captures").map(parse_captures).transpose()?;
    if let Some(other) = captures.as_ref().and_then(|c| c.task_id.as_deref())
        && canonical_acd_id(other) != canonical_acd_id(&task.id)
    {
        return Err(SegmentError::Invalid {
            path: "captures.taskId".to_owned(),
            problem: format!("'{other}' is not this task ('{}')", task.id),
        });
    }
    Ok(CcTaskFile { task, captures })
}

// ---- segmentation -------------------------------------------------------------------------

/// Whether a contact's audio exists, will come, or never will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioState {
    /// No audio will come: not recorded (`captureRequested: false`), a digital task, or no
    /// capture covers the contact. `media` is null and `audio` is null.
    None,
    /// The audio may still come (`captureRequested` true or not known yet, and no capture
    /// given): plan again when the capture is available. `media` is null and
    /// `audio.expected` is true.
    Pending,
    /// The contact's slice of a capture (the same as `media`).
    Ready(MediaSlice),
}

/// One contact and what is known of its audio.
#[derive(Debug, Clone, PartialEq)]
pub struct CcContact {
    pub contact: SegmentedContact,
    pub audio: AudioState,
}

/// Everything the segmenter derived from one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Cc2Segmentation {
    pub task_id: String,
    /// Ordered by start, end, agent: the order that numbers the `externalId`s.
    pub contacts: Vec<CcContact>,
    /// What the segmenter tolerated or guessed, for operators (never errors).
    pub notes: Vec<String>,
    /// Metadata mapping warnings.
    pub warnings: Vec<String>,
}

/// One agent's contact before it becomes a [`SegmentedContact`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct AgentSpan {
    agent: String,
    span: Interval,
    /// On the call (partly) as a consult/conference destination (WXCC-A09).
    consulted: bool,
}

/// WXCC-A04: sort, drop empty intervals, merge overlapping ones and those less than
/// [`MERGE_GAP_MS`] apart. The flag of a merged span is true when any piece had it.
fn merge_close(mut v: Vec<(Interval, bool)>) -> Vec<(Interval, bool)> {
    v.retain(|(i, _)| !i.is_empty());
    v.sort_by_key(|(i, _)| (i.start, i.end));
    let mut out: Vec<(Interval, bool)> = Vec::with_capacity(v.len());
    for (i, flag) in v {
        match out.last_mut() {
            Some((last, f)) if i.start - last.end < MERGE_GAP_MS => {
                last.end = last.end.max(i.end);
                *f |= flag;
            }
            _ => out.push((i, flag)),
        }
    }
    out
}

fn contact_type(channel: Option<&str>, notes: &mut Vec<String>) -> ContactType {
    // WXCC-A11
    match channel.map(str::to_ascii_lowercase).as_deref() {
        None | Some("telephony") | Some("voice") => ContactType::Call,
        Some("chat") => ContactType::Chat,
        Some("email") => ContactType::Email,
        Some("social") | Some("messaging") => ContactType::Social,
        Some("sms") => ContactType::Sms,
        Some(other) => {
            notes.push(format!("task.channelType: unknown value '{other}'; taken as a call"));
            ContactType::Call
        }
    }
}

fn direction(raw: Option<&str>, notes: &mut Vec<String>) -> Direction {
    // WXCC-A06
    match raw.map(str::to_ascii_lowercase).as_deref() {
        Some("inbound") => Direction::Inbound,
        Some("outbound") | Some("outdial") => Direction::Outbound,
        Some(other) => {
            notes.push(format!("task.direction: unknown value '{other}'; taken as inbound"));
            Direction::Inbound
        }
        None => {
            notes.push("task.direction: missing; taken as inbound".to_owned());
            Direction::Inbound
        }
    }
}

/// The task's wall-clock span: `createdTime .. endedTime`, each falling back to the
/// earliest / latest node time (with a note). `None` when no time is known at all.
fn task_span(task: &CcTask, nodes: &[CarNode], notes: &mut Vec<String>) -> Option<Interval> {
    let earliest = nodes.iter().filter_map(|n| n.created_time).min();
    let latest = nodes
        .iter()
        .flat_map(|n| [n.created_time, n.ended_time])
        .flatten()
        .max();
    let start = task.created_time.or_else(|| {
        if earliest.is_some() {
            notes.push("task.createdTime: missing; the earliest node time is used".to_owned());
        }
        earliest
    })?;
    let end = match task.ended_time {
        Some(e) => e,
        None => {
            let e = latest.unwrap_or(start).max(start);
            notes.push(format!(
                "task.endedTime: missing (task still open?); open nodes end at the latest node time {e}"
            ));
            e
        }
    };
    if end < start {
        notes.push(format!(
            "task.endedTime {end} is before task.createdTime {start}; the task is taken to end when it starts"
        ));
        return Some(Interval::new(start, start));
    }
    Some(Interval::new(start, end))
}

/// Per-agent on-call intervals (WXCC-A01..A03) and markers (WXCC-A05) of the nodes.
#[allow(clippy::type_complexity)]
fn agent_intervals(
    nodes: &[CarNode],
    span: Interval,
    notes: &mut Vec<String>,
) -> (BTreeMap<String, Vec<(Interval, bool)>>, Vec<(String, ContactEvent)>) {
    let mut on_call: BTreeMap<String, Vec<(Interval, bool)>> = BTreeMap::new();
    let mut markers = Vec::new();
    let mut clipped = 0usize;
    for (i, n) in nodes.iter().enumerate() {
        let event = n.event();
        let Some(created) = n.created_time else {
            if ON_CALL_EVENTS.contains(&event.as_str()) {
                notes.push(format!(
                    "activities.nodes[{i}] ({}): no createdTime; ignored",
                    n.event_name
                ));
            }
            continue;
        };
        // WXCC-A01: an open node ends with the task.
        let ended = n.ended_time.unwrap_or(span.end);
        let raw = if ended < created {
            notes.push(format!(
                "activities.nodes[{i}] ({}): endedTime {ended} before createdTime {created}; taken as a moment",
                n.event_name
            ));
            Interval::new(created, created)
        } else {
            Interval::new(created, ended)
        };
        let interval = Interval::new(
            raw.start.clamp(span.start, span.end),
            raw.end.clamp(span.start, span.end),
        );
        if interval != raw && ON_CALL_EVENTS.contains(&event.as_str()) {
            clipped += 1;
        }
        if !ON_CALL_EVENTS.contains(&event.as_str()) {
            continue;
        }
        match &n.agent_id {
            Some(agent) => {
                on_call.entry(agent.clone()).or_default().push((interval, false));
                if let Some(event_type) = marker(&event) {
                    markers.push((
                        agent.clone(),
                        ContactEvent {
                            event_type,
                            time: interval.start,
                        },
                    ));
                }
            }
            None => notes.push(format!(
                "activities.nodes[{i}] ({}): no agentId; puts nobody on the call",
                n.event_name
            )),
        }
        // WXCC-A03
        if DESTINATION_EVENTS.contains(&event.as_str())
            && let Some(dest) = &n.destination_agent_id
        {
            on_call.entry(dest.clone()).or_default().push((interval, true));
        }
    }
    if clipped > 0 {
        notes.push(format!(
            "{clipped} on-call node(s) reach outside the task's span {}..{}; clipped",
            span.start, span.end
        ));
    }
    (on_call, markers)
}

/// A capture usable for slicing: its kind, its raw start (offsets count from it) and the
/// part of the task it covers.
struct UsableCapture<'a> {
    capture: &'a Capture,
    consult: bool,
    /// Raw `startTime`: offsets count from it.
    start: EpochMs,
    /// The capture clipped to the task.
    window: Interval,
}

fn usable_captures<'a>(set: &'a CaptureSet, span: Interval, notes: &mut Vec<String>) -> Vec<UsableCapture<'a>> {
    let mut out = Vec::new();
    for (i, c) in set.recording.iter().enumerate() {
        let path = format!("captures.recording[{i}]");
        if c.id.is_empty() {
            notes.push(format!("{path}: no id; not used"));
            continue;
        }
        let consult = match c.call_type.as_deref() {
            Some("main") => false,
            Some("consult") => true,
            None => {
                notes.push(format!("{path}.attributes.callType: missing; taken as main"));
                false
            }
            Some(other) => {
                // va-main, va-consult: a virtual agent's recording is nobody's contact.
                notes.push(format!("{path}: callType '{other}' is not an agent's audio; not used"));
                continue;
            }
        };
        let Some(start) = c.start_time else {
            notes.push(format!(
                "{path}.attributes.startTime: missing; the capture cannot be sliced"
            ));
            continue;
        };
        let stop = match c.stop_time {
            Some(s) => s,
            None => {
                notes.push(format!(
                    "{path}.attributes.stopTime: missing; taken to run to the task's end"
                ));
                span.end.max(start)
            }
        };
        if stop < start {
            notes.push(format!("{path}: stopTime {stop} before startTime {start}; not used"));
            continue;
        }
        let raw = Interval::new(start, stop);
        let Some(window) = raw.intersect(&span) else {
            notes.push(format!(
                "{path}: {start}..{stop} lies outside the task {}..{}; not used",
                span.start, span.end
            ));
            continue;
        };
        if window != raw {
            notes.push(format!(
                "{path}: {start}..{stop} reaches outside the task {}..{}; clipped",
                span.start, span.end
            ));
        }
        out.push(UsableCapture {
            capture: c,
            consult,
            start,
            window,
        });
    }
    out
}

/// WXCC-A08, WXCC-A09: the capture and slice a contact gets, `None` when no capture covers it.
fn slice_for(s: &AgentSpan, captures: &[UsableCapture<'_>], notes: &mut Vec<String>) -> Option<(MediaSlice, u8)> {
    let consult = s
        .consulted
        .then(|| {
            captures
                .iter()
                .filter(|c| c.consult)
                .filter(|c| {
                    c.window.start - CONSULT_TOLERANCE_MS <= s.span.start
                        && s.span.end <= c.window.end + CONSULT_TOLERANCE_MS
                })
                .max_by_key(|c| (c.window.overlap_ms(&s.span), std::cmp::Reverse(c.start)))
        })
        .flatten()
        .filter(|c| c.window.overlap_ms(&s.span) > 0);
    // A stitched main capture wins over segments; then the largest overlap, then the earliest.
    let main = || {
        captures
            .iter()
            .filter(|c| !c.consult && c.window.overlap_ms(&s.span) > 0)
            .max_by_key(|c| {
                (
                    !c.capture.segment,
                    c.window.overlap_ms(&s.span),
                    std::cmp::Reverse(c.start),
                )
            })
    };
    let chosen = consult.or_else(main)?;
    let piece = s.span.intersect(&chosen.window)?;
    if piece != s.span {
        notes.push(format!(
            "agent {} {}..{}: capture {} covers only {}..{}",
            s.agent, s.span.start, s.span.end, chosen.capture.id, piece.start, piece.end
        ));
    }
    let channels = if chosen.capture.channel2.is_some() { 2 } else { 1 };
    Some((
        MediaSlice {
            recording_id: chosen.capture.id.clone(),
            offset_ms: piece.start - chosen.start,
            duration_ms: piece.len_ms(),
        },
        channels,
    ))
}

/// Like [`segment_webex_cc2`], also returning each contact's [`AudioState`] and the notes.
pub fn segment_webex_cc2_detailed(doc: &Value, ctx: &SegmentContext) -> Result<Cc2Segmentation, SegmentError> {
    let file = parse_task_file(doc)?;
    Ok(segment_task(&file, doc.get("task").unwrap_or(doc), ctx, &Spelling::CC2))
}

/// How one Contact Center version spells its contacts; the §2.4 rules are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling {
    /// `externalId` = `{prefix}:{task id}:{n}`.
    pub external_id_prefix: &'static str,
    /// Channels announced for audio still to come (2.0 captures are stereo, 1.0
    /// recordings mono); a contact with its slice takes the capture's own.
    pub pending_channels: u8,
}

impl Spelling {
    pub const CC2: Spelling = Spelling {
        external_id_prefix: WEBEX_CC2_EXTERNAL_ID_PREFIX,
        pending_channels: 2,
    };
}

/// The §2.4 rules over a task already read (2.0: [`parse_task_file`]; 1.0: its CSR and
/// CARs mapped onto the same model). `metadata_doc` is what the metadata mapping's paths
/// are relative to.
pub fn segment_task(
    file: &CcTaskFile,
    metadata_doc: &Value,
    ctx: &SegmentContext,
    spelling: &Spelling,
) -> Cc2Segmentation {
    let task = &file.task;
    let mut notes = Vec::new();
    let (metadata, warnings) = extract_metadata(metadata_doc, &ctx.metadata);
    let done = |notes: Vec<String>| Cc2Segmentation {
        task_id: task.id.clone(),
        contacts: Vec::new(),
        notes,
        warnings: warnings.clone(),
    };

    let Some(nodes) = task.nodes.as_deref() else {
        notes.push("task.activities: missing; without CAR nodes no agent is known, so no contact".to_owned());
        return done(notes);
    };
    if task.more_nodes {
        notes.push(
            "task.activities.pageInfo.hasNextPage: true; only the nodes given are segmented (send every page)"
                .to_owned(),
        );
    }
    let Some(span) = task_span(task, nodes, &mut notes) else {
        notes.push("task: no createdTime and no node time; no contact".to_owned());
        return done(notes);
    };
    let (on_call, markers) = agent_intervals(nodes, span, &mut notes);
    let mut spans: Vec<AgentSpan> = on_call
        .into_iter()
        .flat_map(|(agent, v)| {
            merge_close(v).into_iter().map(move |(span, consulted)| AgentSpan {
                agent: agent.clone(),
                span,
                consulted,
            })
        })
        .collect();
    spans.sort_by(|a, b| (a.span.start, a.span.end, &a.agent).cmp(&(b.span.start, b.span.end, &b.agent)));
    if spans.is_empty() {
        notes.push(
            "no agent was on the call (no connected, hold, consult or conference node with an agent): no contact"
                .to_owned(),
        );
        return done(notes);
    }

    // Markers (WXCC-A05) go to the contact of their agent that contains them.
    let mut events: Vec<Vec<ContactEvent>> = vec![Vec::new(); spans.len()];
    for (agent, e) in markers {
        let at = spans
            .iter()
            .position(|s| s.agent == agent && s.span.start <= e.time && e.time <= s.span.end);
        match at {
            Some(k) => events[k].push(e),
            None => notes.push(format!(
                "{:?} of agent {agent} at {} lies in none of their contacts; dropped",
                e.event_type, e.time
            )),
        }
    }
    for v in &mut events {
        v.sort_by_key(|e| (e.time, e.event_type));
        v.dedup();
    }

    let kind = contact_type(task.channel_type.as_deref(), &mut notes);
    let dir = direction(task.direction.as_deref(), &mut notes);
    // WXCC-A10, WXCC-A11: what audio the task can have.
    enum Source<'a> {
        None,
        Pending,
        Captures(Vec<UsableCapture<'a>>),
    }
    let source = if kind != ContactType::Call {
        Source::None
    } else if task.capture_requested == Some(false) {
        if file.captures.as_ref().is_some_and(|c| !c.recording.is_empty()) {
            notes.push("captureRequested is false: the captures given are not used".to_owned());
        }
        Source::None
    } else {
        match &file.captures {
            Some(set) if !set.recording.is_empty() => Source::Captures(usable_captures(set, span, &mut notes)),
            _ => Source::Pending,
        }
    };

    let contacts = spans
        .iter()
        .zip(events)
        .enumerate()
        .map(|(n, (s, events))| {
            let (audio, channels) = match &source {
                Source::None => (AudioState::None, spelling.pending_channels),
                Source::Pending => (AudioState::Pending, spelling.pending_channels),
                Source::Captures(c) => match slice_for(s, c, &mut notes) {
                    Some((slice, channels)) => (AudioState::Ready(slice), channels),
                    None => {
                        notes.push(format!(
                            "agent {} {}..{}: no capture covers this contact; no audio",
                            s.agent, s.span.start, s.span.end
                        ));
                        (AudioState::None, spelling.pending_channels)
                    }
                },
            };
            let (media, spec) = match &audio {
                AudioState::None => (None, None),
                AudioState::Pending => (None, Some(true)),
                AudioState::Ready(m) => (Some(m.clone()), Some(true)),
            };
            CcContact {
                contact: SegmentedContact {
                    contact: ContactImport {
                        external_id: format!("{}:{}:{n}", spelling.external_id_prefix, task.id),
                        assoc_call_id: task.id.clone(),
                        contact_type: kind,
                        start_time: s.span.start,
                        call_duration: s.span.len_ms(),
                        ani: task.origin.clone(),
                        dnis: task.destination.clone(),
                        direction: dir,
                        agent: AgentRef {
                            acd_id: s.agent.clone(),
                            acd_server_id: ctx.acd_server_id,
                        },
                        language: None,
                        events,
                        metadata: metadata.clone(),
                        audio: spec.map(|expected| AudioSpec {
                            expected,
                            format: AudioFormat::Wav,
                            channels,
                        }),
                    },
                    media,
                },
                audio,
            }
        })
        .collect();
    Cc2Segmentation {
        task_id: task.id.clone(),
        contacts,
        notes,
        warnings,
    }
}

/// One `segment --kind webex-cc-2` file (`{"task", "captures"}`) → the WFO contacts it
/// becomes; `media` is null for a contact without a slice (see [`AudioState`]).
pub fn segment_webex_cc2(doc: &Value, ctx: &SegmentContext) -> Result<Vec<SegmentedContact>, SegmentError> {
    segment_webex_cc2_detailed(doc, ctx).map(|s| s.contacts.into_iter().map(|c| c.contact).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: i64, b: i64) -> (Interval, bool) {
        (Interval::new(a, b), false)
    }

    #[test]
    fn intervals_closer_than_two_seconds_merge_and_farther_ones_do_not() {
        let merged = merge_close(vec![iv(5_000, 6_000), iv(0, 1_000), iv(3_001, 4_000), iv(1_000, 1_001)]);
        assert_eq!(merged, vec![iv(0, 1_001), iv(3_001, 6_000)]);
        assert_eq!(
            merge_close(vec![iv(0, 1_000), iv(2_999, 4_000)]),
            vec![iv(0, 4_000)],
            "1.999 s apart"
        );
        assert_eq!(
            merge_close(vec![iv(0, 1_000), iv(3_000, 4_000)]).len(),
            2,
            "exactly 2 s apart"
        );
    }

    #[test]
    fn a_merged_span_is_consulted_when_any_piece_came_from_a_destination() {
        let merged = merge_close(vec![(Interval::new(0, 10), true), iv(10, 20)]);
        assert_eq!(merged, vec![(Interval::new(0, 20), true)]);
    }

    #[test]
    fn times_are_read_from_numbers_numeric_strings_and_rfc3339() {
        let o = serde_json::json!({"a": 1661785612510_i64, "b": "1661785612510", "c": "2022-08-29T15:06:52.510Z", "d": true});
        let o = o.as_object().unwrap();
        assert_eq!(time(o, "x", "a").unwrap(), Some(1_661_785_612_510));
        assert_eq!(time(o, "x", "b").unwrap(), Some(1_661_785_612_510));
        assert_eq!(time(o, "x", "c").unwrap(), Some(1_661_785_612_510));
        assert_eq!(time(o, "x", "missing").unwrap(), None);
        assert!(matches!(time(o, "x", "d"), Err(SegmentError::WrongType { path, .. }) if path == "x.d"));
    }

    #[test]
    fn every_assumption_id_is_unique_and_numbered_in_order() {
        for (k, a) in ASSUMPTIONS.iter().enumerate() {
            assert_eq!(a.id, format!("WXCC-A{:02}", k + 1));
        }
    }
}
