//! Webex Calling recording metadata → [`CallTimeline`].
//!
//! Input: one `GET /v1/convergedRecordings/{id}/metadata?showAllTypes=true` document
//! (reference `webex-calling-api.md` §2). Parsing is lenient: unknown fields are ignored,
//! unknown enum values tolerated (and noted), timestamps accepted in several forms. A
//! field we rely on that is missing or has the wrong JSON type is a [`SegmentError`]
//! naming its path.
//!
//! **This module is the ONE place for every unconfirmed payload assumption.** Cisco does
//! not publish the metadata of transfers, consults, conferences, parks, holds or queues
//! (§2.5). Each guess is registered in [`ASSUMPTIONS`] with an id (`WXC-Axx`), named in a
//! comment where the code relies on it, and listed in `docs/webex-calling-assumptions.md`
//! with what to change once real payloads are captured. The segmentation rules
//! (`segment.rs`) never look at Webex fields.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;
use wfo_domain::json_fields::{Obj, as_obj, get, join, wrong};
use wfo_domain::mapping::extract_metadata;
use wfo_domain::segment::{SegmentContext, SegmentError, SegmentOptions, SegmentedContact, segment_timeline};
use wfo_domain::timeline::{
    CallDirection, CallTimeline, EpochMs, FeatureKind, Hold, Party, Pause, RecordingInfo, Redirect, RedirectKind,
    Snapshot,
};

/// One registered working assumption about the Webex Calling metadata payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assumption {
    pub id: &'static str,
    /// The field(s) the assumption is about.
    pub field: &'static str,
    pub statement: &'static str,
}

/// Every working assumption this parser makes (mirrored in `docs/webex-calling-assumptions.md`).
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        id: "WXC-A01",
        field: "serviceData.callActivity[]",
        statement: "each entry is a snapshot of everybody on the owner's call (owner included), valid until the next entry; the first entry also covers the time since session.startTime",
    },
    Assumption {
        id: "WXC-A02",
        field: "participants[].actor.type / callingParty.actor.type",
        statement: "USER (also PEOPLE/PERSON) with a UUID id is an internal agent; CALL_QUEUE, HUNT_GROUP, VIRTUAL_LINE, PLACE/WORKSPACE, AUTO_ATTENDANT are features; no actor, or EXTERNAL/PSTN/UNKNOWN, is an external party known by its number or aor",
    },
    Assumption {
        id: "WXC-A03",
        field: "callActivity[].redirectInfo",
        statement: "shape {reason, redirectingParty{actor,number}, redirectTarget{actor,number}}; reason uses the CDR 'Related reason' names (§6.3): CallPark, CallParkRetrieve, ConsultativeTransfer, Deflection (blind transfer), CallQueue, HuntGroup, CallForward*",
    },
    Assumption {
        id: "WXC-A04",
        field: "callActivity[].redirectedCall",
        statement: "shape {callSessionId, callId}: the other call involved in the redirect (the held call of a consult transfer); informational only",
    },
    Assumption {
        id: "WXC-A05",
        field: "callActivity[].holdInfo",
        statement: "an entry carrying holdInfo {heldBy{actor,number}} means the call is on hold for that entry's span, put on hold by heldBy; the first later entry without holdInfo is the retrieve",
    },
    Assumption {
        id: "WXC-A06",
        field: "serviceData.recordingActions[]",
        statement: "actions PAUSE and RESUME (other values ignored); a PAUSE never resumed lasts until session.stopTime; an optional actor{type,id} names who paused, else the USER owner paused",
    },
    Assumption {
        id: "WXC-A07",
        field: "serviceData.personality",
        statement: "terminator = the owner received the call (INBOUND), originator = placed it (OUTBOUND); when missing, inferred from which of callingParty/calledParty is the owner, else terminator",
    },
    Assumption {
        id: "WXC-A08",
        field: "ownerType",
        statement: "compared case- and style-insensitively (USER, user, VIRTUAL_LINE, virtualLine, CALL_QUEUE, callQueue, ...); everything but USER is a non-user owner",
    },
    Assumption {
        id: "WXC-A09",
        field: "ownerId",
        statement: "a masked ownerId (only '*', as in the §2.4 example) is replaced by the calling (originator) or called (terminator) party when that party is a user",
    },
    Assumption {
        id: "WXC-A10",
        field: "serviceData.answererInfo",
        statement: "the user who answered; used as the agent of a non-user-owned recording that carries no participants (showAllTypes=false)",
    },
    Assumption {
        id: "WXC-A11",
        field: "serviceData.managedBy",
        statement: "the feature or user the call was handled for (queue, hunt group); kept for display, never an agent",
    },
    Assumption {
        id: "WXC-A12",
        field: "serviceData.callSessionId",
        statement: "every recording of one customer interaction (transferred, consulted, conferenced, parked and retrieved legs) carries the same callSessionId; a document without it uses its recording id",
    },
    Assumption {
        id: "WXC-A13",
        field: "serviceData.callActivity (absent)",
        statement: "without participant data (showAllTypes=false) the owner (or, for non-user owners, the answerer) is on the call with the remote party for the whole session",
    },
    Assumption {
        id: "WXC-A14",
        field: "participants[] (owner not listed)",
        statement: "if no entry lists the USER owner, the list is taken to show only the other parties and the owner is added to every entry",
    },
    Assumption {
        id: "WXC-A15",
        field: "callingParty / calledParty of transferred, retrieved and consulted legs",
        statement: "each leg reports its own calling and called party (a consulted agent's leg is called by the consulting agent); a parked call retrieved by another user keeps the parked call's parties and personality",
    },
    Assumption {
        id: "WXC-A16",
        field: "one recording per recorded owner (§2.6)",
        statement: "each recording is segmented on its own; an agent whose part is covered by two recordings (for example a recorded call queue and the agent's own recording) gets a contact from each",
    },
];

// ---- field names and values that rest on the assumptions above -------------------

/// WXC-A03.
pub const REDIRECT_INFO: &str = "redirectInfo";
/// WXC-A03.
pub const REDIRECT_REASON: &str = "reason";
/// WXC-A03.
pub const REDIRECTING_PARTY: &str = "redirectingParty";
/// WXC-A03.
pub const REDIRECT_TARGET: &str = "redirectTarget";
/// WXC-A04.
pub const REDIRECTED_CALL: &str = "redirectedCall";
/// WXC-A05.
pub const HOLD_INFO: &str = "holdInfo";
/// WXC-A05.
pub const HELD_BY: &str = "heldBy";
/// WXC-A06: optional, names who paused.
pub const ACTION_ACTOR: &str = "actor";
/// WXC-A06 (PAUSE is documented in §2.4; RESUME is assumed).
pub const ACTION_PAUSE: &str = "PAUSE";
/// WXC-A06.
pub const ACTION_RESUME: &str = "RESUME";

/// WXC-A03: `reason` → kind. Reasons are compared after [`loose_key`].
fn redirect_kind(reason: &str) -> RedirectKind {
    match loose_key(reason).as_str() {
        "callpark" | "park" => RedirectKind::Park,
        "callparkretrieve" | "parkretrieve" | "retrieve" => RedirectKind::Retrieve,
        "consultativetransfer" | "consulttransfer" | "attendedtransfer" => RedirectKind::ConsultTransfer,
        "deflection" | "blindtransfer" | "transfer" => RedirectKind::Transfer,
        "callqueue" | "queue" => RedirectKind::Queue,
        "huntgroup" => RedirectKind::HuntGroup,
        k if k.starts_with("callforward") || k == "forward" => RedirectKind::Forward,
        _ => RedirectKind::Other(reason.to_owned()),
    }
}

// ---- small helpers: paths, types ----------------------------------------------------

fn opt_obj<'a>(obj: &'a Obj, parent: &str, name: &str) -> Result<Option<&'a Obj>, SegmentError> {
    get(obj, name).map(|v| as_obj(v, &join(parent, name))).transpose()
}

fn req_obj<'a>(obj: &'a Obj, parent: &str, name: &str) -> Result<&'a Obj, SegmentError> {
    opt_obj(obj, parent, name)?.ok_or_else(|| SegmentError::Missing {
        path: join(parent, name),
    })
}

fn opt_array<'a>(obj: &'a Obj, parent: &str, name: &str) -> Result<Option<&'a Vec<Value>>, SegmentError> {
    get(obj, name)
        .map(|v| v.as_array().ok_or_else(|| wrong(join(parent, name), "an array", v)))
        .transpose()
}

/// A string field; an empty or blank string counts as absent.
fn opt_str<'a>(obj: &'a Obj, parent: &str, name: &str) -> Result<Option<&'a str>, SegmentError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(v) => Err(wrong(join(parent, name), "a string", v)),
    }
}

fn req_str<'a>(obj: &'a Obj, parent: &str, name: &str) -> Result<&'a str, SegmentError> {
    opt_str(obj, parent, name)?.ok_or_else(|| SegmentError::Missing {
        path: join(parent, name),
    })
}

fn opt_time(obj: &Obj, parent: &str, name: &str) -> Result<Option<EpochMs>, SegmentError> {
    opt_str(obj, parent, name)?
        .map(|s| {
            parse_timestamp(s).ok_or_else(|| SegmentError::Invalid {
                path: join(parent, name),
                problem: format!("'{s}' is not a timestamp (expected RFC 3339, e.g. 2026-03-02T14:05:12Z)"),
            })
        })
        .transpose()
}

fn req_time(obj: &Obj, parent: &str, name: &str) -> Result<EpochMs, SegmentError> {
    opt_time(obj, parent, name)?.ok_or_else(|| SegmentError::Missing {
        path: join(parent, name),
    })
}

/// Lower case with `_`, `-`, spaces and other punctuation removed: `CALL_PARK` and
/// `CallPark` both become `callpark`.
fn loose_key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `callQueue`, `call-queue`, `CALL_QUEUE` → `CALL_QUEUE` (WXC-A08).
pub fn upper_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower = false;
    for c in s.trim().chars() {
        if c == '-' || c == ' ' || c == '_' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_uppercase());
    }
    out
}

// ---- timestamps -------------------------------------------------------------------

/// Lenient timestamp parser: RFC 3339 with offset or `Z` (fractional seconds allowed),
/// and the CDR style `2023-10-12 21:22:32.621` (space or `T`, no zone) read as UTC.
pub fn parse_timestamp(s: &str) -> Option<EpochMs> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp_millis());
        }
    }
    let no_z = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')).unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(no_z, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    None
}

// ---- ids ------------------------------------------------------------------------

use wfo_domain::webex_id::canonical_webex_id as normalize_any_id;
pub use wfo_domain::webex_id::{WebexId, decode_webex_id, normalize_user_id};

/// `sip:+14085550101@10.0.0.1;user=phone` → `+14085550101`; `tel:+1415…` → `+1415…`.
/// Strips the `sip:`/`sips:`/`tel:` scheme, the `@host` part and `;params`.
pub fn normalize_number(raw: &str) -> Option<String> {
    let s = raw.trim();
    let lower = s.to_ascii_lowercase();
    let s = ["sips:", "sip:", "tel:"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map_or(s, |p| &s[p.len()..]);
    let s = s.split(';').next().unwrap_or_default();
    let s = s.split('@').next().unwrap_or_default().trim();
    (!s.is_empty()).then(|| s.to_owned())
}

// ---- parties ----------------------------------------------------------------------

fn feature_kind(upper: &str) -> Option<FeatureKind> {
    Some(match upper {
        "CALL_QUEUE" | "QUEUE" | "CALLQUEUE" => FeatureKind::CallQueue,
        "HUNT_GROUP" | "HUNTGROUP" => FeatureKind::HuntGroup,
        "VIRTUAL_LINE" | "VIRTUALLINE" | "VIRTUAL_USER" => FeatureKind::VirtualLine,
        "PLACE" | "WORKSPACE" => FeatureKind::Place,
        "AUTO_ATTENDANT" | "AUTOATTENDANT" => FeatureKind::AutoAttendant,
        _ => return None,
    })
}

/// WXC-A02: classify an `actor` (optional) plus a number.
fn classify(
    actor: Option<&Obj>,
    number: Option<String>,
    path: &str,
    notes: &mut Vec<String>,
) -> Result<Party, SegmentError> {
    let Some(actor) = actor else {
        return Ok(Party::External { number });
    };
    let apath = join(path, "actor");
    let kind = upper_snake(opt_str(actor, &apath, "type")?.unwrap_or_default());
    let id = opt_str(actor, &apath, "id")?;
    match kind.as_str() {
        "USER" | "PEOPLE" | "PERSON" => match id.and_then(normalize_user_id) {
            Some(user_id) => Ok(Party::Agent { user_id, number }),
            None => {
                notes.push(format!(
                    "{apath}: a USER without a usable user id ({id:?}); treated as an external party"
                ));
                Ok(Party::External { number })
            }
        },
        "" | "EXTERNAL" | "PSTN" | "UNKNOWN" => Ok(Party::External { number }),
        other => match feature_kind(other) {
            Some(feature) => Ok(Party::Feature {
                feature,
                id: id.map(normalize_any_id),
                number,
            }),
            None if id.is_some() => {
                notes.push(format!(
                    "{apath}.type: unknown actor type '{other}'; treated as a feature"
                ));
                Ok(Party::Feature {
                    feature: FeatureKind::Other(other.to_owned()),
                    id: id.map(normalize_any_id),
                    number,
                })
            }
            None => Ok(Party::External { number }),
        },
    }
}

/// `{actor, number}` objects: callingParty, calledParty, answererInfo, managedBy, ...
fn endpoint(obj: &Obj, path: &str, notes: &mut Vec<String>) -> Result<Party, SegmentError> {
    let number = opt_str(obj, path, "number")?.and_then(normalize_number);
    classify(opt_obj(obj, path, "actor")?, number, path, notes)
}

fn opt_endpoint(obj: &Obj, parent: &str, name: &str, notes: &mut Vec<String>) -> Result<Option<Party>, SegmentError> {
    opt_obj(obj, parent, name)?
        .map(|o| endpoint(o, &join(parent, name), notes))
        .transpose()
}

/// `participants[]` items: `{actor, aor, send}`.
fn participant(v: &Value, path: &str, notes: &mut Vec<String>) -> Result<Party, SegmentError> {
    let obj = as_obj(v, path)?;
    let number = opt_str(obj, path, "aor")?.and_then(normalize_number);
    classify(opt_obj(obj, path, "actor")?, number, path, notes)
}

// ---- the parser ---------------------------------------------------------------------

/// A redirect: kind, redirecting party, target, the related call (`redirectedCall`).
type RedirectInfo = (RedirectKind, Option<Party>, Option<Party>, Option<String>);

struct Entry {
    at: EpochMs,
    participants: Option<Vec<Party>>,
    /// `Some(by)` when the entry says the call is held (WXC-A05).
    held: Option<Option<Party>>,
    redirect: Option<RedirectInfo>,
}

fn parse_entry(v: &Value, path: &str, notes: &mut Vec<String>) -> Result<Entry, SegmentError> {
    let obj = as_obj(v, path)?;
    let at = req_time(obj, path, "timeStamp")?;
    let participants = opt_array(obj, path, "participants")?
        .map(|ps| {
            ps.iter()
                .enumerate()
                .map(|(i, p)| participant(p, &format!("{}[{i}]", join(path, "participants")), notes))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    // WXC-A05
    let held = opt_obj(obj, path, HOLD_INFO)?
        .map(|h| opt_endpoint(h, &join(path, HOLD_INFO), HELD_BY, notes))
        .transpose()?;
    // WXC-A03, WXC-A04
    let redirect = match opt_obj(obj, path, REDIRECT_INFO)? {
        None => None,
        Some(r) => {
            let rpath = join(path, REDIRECT_INFO);
            let kind = match opt_str(r, &rpath, REDIRECT_REASON)? {
                Some(reason) => redirect_kind(reason),
                None => RedirectKind::Other("unspecified".to_owned()),
            };
            if let RedirectKind::Other(reason) = &kind {
                notes.push(format!(
                    "{rpath}.{REDIRECT_REASON}: unknown reason '{reason}'; kept for display only"
                ));
            }
            let by = opt_endpoint(r, &rpath, REDIRECTING_PARTY, notes)?;
            let target = opt_endpoint(r, &rpath, REDIRECT_TARGET, notes)?;
            let related = match opt_obj(obj, path, REDIRECTED_CALL)? {
                Some(c) => {
                    let cpath = join(path, REDIRECTED_CALL);
                    opt_str(c, &cpath, "callId")?
                        .or(opt_str(c, &cpath, "callSessionId")?)
                        .map(str::to_owned)
                }
                None => None,
            };
            Some((kind, by, target, related))
        }
    };
    Ok(Entry {
        at,
        participants,
        held,
        redirect,
    })
}

fn is_masked(raw: &str) -> bool {
    !raw.is_empty() && raw.chars().all(|c| c == '*')
}

/// Parses one recording metadata document into a [`CallTimeline`].
pub fn parse_webex_calling(doc: &Value) -> Result<CallTimeline, SegmentError> {
    let mut notes = Vec::new();
    let root = as_obj(doc, "(document)")?;
    let sd = req_obj(root, "", "serviceData")?;
    const SD: &str = "serviceData";

    let recording_id = match opt_str(root, "", "id")? {
        Some(id) => id.to_owned(),
        None => opt_str(sd, SD, "callRecordingId")?
            .map(str::to_owned)
            .ok_or_else(|| SegmentError::Missing { path: "id".to_owned() })?,
    };

    let session = req_obj(sd, SD, "session")?;
    let start = req_time(session, "serviceData.session", "startTime")?;
    let stop = req_time(session, "serviceData.session", "stopTime")?;
    if stop < start {
        return Err(SegmentError::Invalid {
            path: "serviceData.session.stopTime".to_owned(),
            problem: "is before serviceData.session.startTime".to_owned(),
        });
    }

    // WXC-A12
    let interaction_key = match opt_str(sd, SD, "callSessionId")? {
        Some(s) => s.to_owned(),
        None => {
            notes
                .push("serviceData.callSessionId: missing; the recording id is used as the interaction key".to_owned());
            recording_id.clone()
        }
    };

    let calling = opt_endpoint(sd, SD, "callingParty", &mut notes)?;
    let called = opt_endpoint(sd, SD, "calledParty", &mut notes)?;

    // WXC-A07 (first half: the documented values)
    let personality = match opt_str(sd, SD, "personality")? {
        Some(p) => match loose_key(p).as_str() {
            "originator" => Some(CallDirection::Outbound),
            "terminator" => Some(CallDirection::Inbound),
            _ => {
                notes.push(format!("serviceData.personality: unknown value '{p}'"));
                None
            }
        },
        None => None,
    };

    // Owner (WXC-A08, WXC-A09)
    let owner_type = upper_snake(req_str(root, "", "ownerType")?);
    let owner_id = opt_str(root, "", "ownerId")?;
    let owner = if owner_type == "USER" {
        let raw = owner_id.ok_or_else(|| SegmentError::Invalid {
            path: "ownerId".to_owned(),
            problem: "missing; a recording owned by a USER must name its user".to_owned(),
        })?;
        if is_masked(raw) {
            let (name, party) = match personality {
                Some(CallDirection::Outbound) => ("callingParty", &calling),
                Some(CallDirection::Inbound) => ("calledParty", &called),
                None => ("personality", &None),
            };
            match party {
                Some(p @ Party::Agent { .. }) => {
                    notes.push(format!(
                        "ownerId: masked; the owner is taken from serviceData.{name} (WXC-A09)"
                    ));
                    p.clone()
                }
                _ => {
                    return Err(SegmentError::Invalid {
                        path: "ownerId".to_owned(),
                        problem: format!("masked ('{raw}') and serviceData.{name} names no user to stand in for it"),
                    });
                }
            }
        } else {
            match decode_webex_id(raw) {
                Some(WebexId::Uuid(user_id)) => Party::agent(user_id),
                Some(WebexId::Typed { kind, uuid }) if kind == "PEOPLE" => Party::agent(uuid),
                Some(WebexId::Typed { kind, .. }) => {
                    return Err(SegmentError::Invalid {
                        path: "ownerId".to_owned(),
                        problem: format!("'{raw}' is a {kind} id, not a user, but ownerType is USER"),
                    });
                }
                None => {
                    return Err(SegmentError::Invalid {
                        path: "ownerId".to_owned(),
                        problem: format!(
                            "'{raw}' is not a Webex user id (expected a UUID or a base64 ciscospark://…/PEOPLE/<uuid> id)"
                        ),
                    });
                }
            }
        }
    } else {
        let feature = feature_kind(&owner_type).unwrap_or_else(|| {
            notes.push(format!(
                "ownerType: unknown value '{owner_type}'; treated as a non-user owner"
            ));
            FeatureKind::Other(owner_type.clone())
        });
        Party::Feature {
            feature,
            id: owner_id.map(normalize_any_id),
            number: None,
        }
    };

    // WXC-A07 (second half: inference)
    let direction = personality.unwrap_or_else(|| {
        let is_owner = |p: &Option<Party>| p.as_ref().is_some_and(|p| p.same_party(&owner));
        if is_owner(&calling) {
            CallDirection::Outbound
        } else if is_owner(&called) {
            CallDirection::Inbound
        } else {
            notes.push("serviceData.personality: missing; the owner is taken as the terminator (INBOUND)".to_owned());
            CallDirection::Inbound
        }
    });
    let ani = calling.as_ref().and_then(|p| p.number().map(str::to_owned));
    let dnis = called.as_ref().and_then(|p| p.number().map(str::to_owned));
    let remote_party = match direction {
        CallDirection::Outbound => called.clone(),
        CallDirection::Inbound => calling.clone(),
    }
    .filter(|p| !p.same_party(&owner));

    let answerer = opt_endpoint(sd, SD, "answererInfo", &mut notes)?; // WXC-A10
    let managed_by = opt_endpoint(sd, SD, "managedBy", &mut notes)?; // WXC-A11

    // Recording actions (WXC-A06)
    let mut marks: Vec<(EpochMs, bool, Option<Party>)> = Vec::new();
    for (i, a) in opt_array(sd, SD, "recordingActions")?.into_iter().flatten().enumerate() {
        let path = format!("serviceData.recordingActions[{i}]");
        let obj = as_obj(a, &path)?;
        let action = req_str(obj, &path, "action")?;
        let time = req_time(obj, &path, "time")?;
        let by = opt_obj(obj, &path, ACTION_ACTOR)?
            .map(|actor| classify(Some(actor), None, &path, &mut notes))
            .transpose()?
            .or_else(|| owner.is_agent().then(|| owner.clone()));
        match action.to_ascii_uppercase().as_str() {
            ACTION_PAUSE => marks.push((time, true, by)),
            ACTION_RESUME => marks.push((time, false, by)),
            other => notes.push(format!("{path}.action: '{other}' ignored")),
        }
    }
    marks.sort_by_key(|m| m.0);
    let mut pauses = Vec::new();
    let mut open: Option<(EpochMs, Option<Party>)> = None;
    for (t, is_pause, by) in marks {
        match (is_pause, open.take()) {
            (true, None) => open = Some((t, by)),
            (false, Some((s, by))) => pauses.push(Pause {
                start: s,
                end: Some(t),
                by,
            }),
            (true, Some(o)) => {
                notes.push("serviceData.recordingActions: PAUSE while already paused ignored".to_owned());
                open = Some(o);
            }
            (false, None) => notes.push("serviceData.recordingActions: RESUME while not paused ignored".to_owned()),
        }
    }
    if let Some((s, by)) = open {
        pauses.push(Pause {
            start: s,
            end: None,
            by,
        });
    }

    // Call activity (WXC-A01 .. WXC-A05)
    let mut entries = Vec::new();
    match opt_array(sd, SD, "callActivity")? {
        Some(list) => {
            for (i, e) in list.iter().enumerate() {
                entries.push(parse_entry(e, &format!("serviceData.callActivity[{i}]"), &mut notes)?);
            }
        }
        None => notes.push("serviceData.callActivity: missing (was showAllTypes=true sent?)".to_owned()),
    }
    entries.sort_by_key(|e| e.at);
    for e in &mut entries {
        if e.at < start || e.at > stop {
            notes.push(format!(
                "serviceData.callActivity: timeStamp {} outside the session; clamped",
                e.at
            ));
            e.at = e.at.clamp(start, stop);
        }
    }

    let mut snapshots: Vec<Snapshot> = Vec::new();
    let mut holds: Vec<Hold> = Vec::new();
    let mut redirects: Vec<Redirect> = Vec::new();
    let mut current_hold: Option<Hold> = None;
    for e in entries {
        if let Some((kind, by, target, related_call)) = e.redirect {
            redirects.push(Redirect {
                at: e.at,
                kind,
                by,
                target,
                related_call,
            });
        }
        let Some(participants) = e.participants else {
            continue;
        };
        // WXC-A01: the first snapshot also covers the time since the session start.
        let at = if snapshots.is_empty() { start } else { e.at };
        // WXC-A05
        match (e.held, current_hold.take()) {
            (Some(by), None) => {
                current_hold = Some(Hold {
                    start: at,
                    end: None,
                    by,
                })
            }
            (Some(by), Some(h)) if h.by == by => current_hold = Some(h),
            (Some(by), Some(mut h)) => {
                h.end = Some(at);
                holds.push(h);
                current_hold = Some(Hold {
                    start: at,
                    end: None,
                    by,
                });
            }
            (None, Some(mut h)) => {
                h.end = Some(at);
                holds.push(h);
            }
            (None, None) => {}
        }
        snapshots.push(Snapshot { at, participants });
    }
    holds.extend(current_hold);

    if snapshots.is_empty() {
        // WXC-A13: no participant data. The agent is the USER owner, or the answerer.
        let agent = if owner.is_agent() {
            Some(owner.clone())
        } else {
            answerer.clone().filter(Party::is_agent)
        };
        if let Some(agent) = agent {
            let mut participants = vec![agent];
            participants.extend(remote_party.clone());
            snapshots.push(Snapshot {
                at: start,
                participants,
            });
        } else {
            notes.push("no participant data and no answering user: this recording yields no contact".to_owned());
        }
    } else if let Some(owner_id) = owner.user_id() {
        // WXC-A14
        if !snapshots.iter().any(|s| s.has_user(owner_id)) {
            notes.push(
                "participants never list the owner; the owner is taken as present throughout (WXC-A14)".to_owned(),
            );
            for s in &mut snapshots {
                s.participants.insert(0, owner.clone());
            }
        }
    }

    Ok(CallTimeline {
        interaction_key,
        recording: RecordingInfo {
            id: recording_id,
            owner,
            // Names only label a new person: a name of the wrong type is left out, not an error.
            owner_name: opt_str(root, "", "ownerName").ok().flatten().map(str::to_owned),
            owner_email: opt_str(root, "", "ownerEmail").ok().flatten().map(str::to_owned),
            start,
            stop,
            pauses,
        },
        direction,
        ani,
        dnis,
        remote_party,
        answerer,
        managed_by,
        snapshots,
        holds,
        redirects,
        notes,
    })
}

// ---- segmentation ------------------------------------------------------------------

/// `externalId` prefix of Webex Calling contacts: `wxc:{recordingId}:{n}`.
pub const WEBEX_CALLING_EXTERNAL_ID_PREFIX: &str = "wxc";

/// Everything the segmenter derived from one Webex Calling document.
#[derive(Debug, Clone, PartialEq)]
pub struct WebexSegmentation {
    pub timeline: CallTimeline,
    pub contacts: Vec<SegmentedContact>,
    /// Metadata mapping warnings (the parser's own remarks are in `timeline.notes`).
    pub warnings: Vec<String>,
}

/// Like [`segment_webex_calling`], also returning the timeline and warnings.
pub fn segment_webex_calling_detailed(
    doc: &serde_json::Value,
    ctx: &SegmentContext,
) -> Result<WebexSegmentation, SegmentError> {
    let timeline = parse_webex_calling(doc)?;
    let (metadata, warnings) = extract_metadata(doc, &ctx.metadata);
    let opts = SegmentOptions {
        external_id_prefix: WEBEX_CALLING_EXTERNAL_ID_PREFIX,
        acd_server_id: ctx.acd_server_id,
        metadata: &metadata,
    };
    let contacts = segment_timeline(&timeline, &opts);
    Ok(WebexSegmentation {
        timeline,
        contacts,
        warnings,
    })
}

/// One `GET /v1/convergedRecordings/{id}/metadata?showAllTypes=true` document → the WFO
/// contacts it becomes.
pub fn segment_webex_calling(
    doc: &serde_json::Value,
    ctx: &SegmentContext,
) -> Result<Vec<SegmentedContact>, SegmentError> {
    segment_webex_calling_detailed(doc, ctx).map(|s| s.contacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_scheme_host_and_parameters() {
        assert_eq!(normalize_number("sip:4060@X.X.X.X;user=phone").as_deref(), Some("4060"));
        assert_eq!(normalize_number("tel:+14155550123").as_deref(), Some("+14155550123"));
        assert_eq!(normalize_number("SIP:+1408@host").as_deref(), Some("+1408"));
        assert_eq!(normalize_number("+1408;ext=1").as_deref(), Some("+1408"));
        assert_eq!(normalize_number("sip:@host"), None);
    }

    #[test]
    fn owner_types_are_compared_whatever_their_style() {
        assert_eq!(upper_snake("callQueue"), "CALL_QUEUE");
        assert_eq!(upper_snake("VIRTUAL_LINE"), "VIRTUAL_LINE");
        assert_eq!(upper_snake("virtualLine"), "VIRTUAL_LINE");
        assert_eq!(upper_snake("call-queue"), "CALL_QUEUE");
        assert_eq!(upper_snake("user"), "USER");
        assert_eq!(upper_snake("HuntGroup"), "HUNT_GROUP");
    }

    #[test]
    fn uuids_without_hyphens_or_in_upper_case_are_normalised() {
        assert_eq!(
            normalize_user_id("BAA93E55C62E4663AE24F13FBFDB247F").as_deref(),
            Some("baa93e55-c62e-4663-ae24-f13fbfdb247f")
        );
        assert_eq!(normalize_user_id("not-a-uuid"), None);
    }

    #[test]
    fn base64_people_ids_decode_and_place_ids_are_not_users() {
        let people = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY";
        assert_eq!(
            normalize_user_id(people).as_deref(),
            Some("f5b36187-c8dd-4727-8b2f-f9c447f29046")
        );
        // ciscospark://us/PLACE/f5b36187-c8dd-4727-8b2f-f9c447f29046
        let place = "Y2lzY29zcGFyazovL3VzL1BMQUNFL2Y1YjM2MTg3LWM4ZGQtNDcyNy04YjJmLWY5YzQ0N2YyOTA0Ng";
        assert_eq!(normalize_user_id(place), None);
        assert_eq!(
            decode_webex_id(place),
            Some(WebexId::Typed {
                kind: "PLACE".into(),
                uuid: "f5b36187-c8dd-4727-8b2f-f9c447f29046".into()
            })
        );
    }

    #[test]
    fn timestamps_are_read_with_offset_with_z_and_without_zone() {
        let z = parse_timestamp("2023-11-07T08:50:21Z");
        assert_eq!(z, Some(1_699_347_021_000));
        assert_eq!(parse_timestamp("2023-11-07T16:50:21+08:00"), z);
        assert_eq!(parse_timestamp("2023-11-07 08:50:21"), z);
        assert_eq!(parse_timestamp("2023-10-12 21:22:32.621"), Some(1_697_145_752_621));
        assert_eq!(parse_timestamp("2023-10-12T21:22:32.621Z"), Some(1_697_145_752_621));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn redirect_reasons_accept_cdr_and_screaming_spellings() {
        assert_eq!(redirect_kind("CallPark"), RedirectKind::Park);
        assert_eq!(redirect_kind("CALL_PARK_RETRIEVE"), RedirectKind::Retrieve);
        assert_eq!(redirect_kind("Deflection"), RedirectKind::Transfer);
        assert_eq!(redirect_kind("ConsultativeTransfer"), RedirectKind::ConsultTransfer);
        assert_eq!(redirect_kind("CallForwardNoAnswer"), RedirectKind::Forward);
        assert_eq!(redirect_kind("Whatever"), RedirectKind::Other("Whatever".into()));
    }
}
