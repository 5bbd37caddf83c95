//! Segmentation rules: one [`CallTimeline`] (one recording) → WFO contacts, one per agent
//! segment, each with the slice of the recording's audio it gets.
//!
//! The rules work only on the timeline (no source fields):
//! - a recording owned by an internal agent yields contacts for that agent only, one per
//!   span in which the snapshots list them (so the contact splits wherever the owner
//!   leaves the call);
//! - a recording owned by anything else (call queue, hunt group, virtual line, place)
//!   yields a contact for every internal agent in each span they are on the call — never
//!   for the feature itself; spans with no internal agent yield nothing (which is how a
//!   leg transferred to an external party produces no contact);
//! - a park ends every span and a retrieve starts a new one (the parked time belongs to
//!   nobody);
//! - holds and pauses are events inside a contact: HOLD/RETRIEVE go only to the contact of
//!   the agent who held (to every contact in whose span they fall when the source does not
//!   say who); PAUSE/RESUME markers go only to the contact of the person who paused — the
//!   guide: they "only appear in the media player of the person who manually triggered"
//!   the pause — and to none when the source does not say who (the paused audio is cut out
//!   all the same);
//! - every contact of the interaction carries `assocCallId` = the interaction key.
//!
//! Consult, conference and transfer rules come out of each agent's own recording: the
//! first agent's recording spans their whole part, the consulted or added agent's
//! recording spans only their part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::mapping::MetadataRule;
use crate::timeline::{CallDirection, CallTimeline, Interval, Party, subtract_intervals};
use crate::wfo::{AgentRef, AudioFormat, AudioSpec, ContactEvent, ContactImport, ContactType, Direction, EventType};

/// A contact to import plus the slice of audio it gets (`wfo-connect segment` prints these).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegmentedContact {
    #[serde(flatten)]
    pub contact: ContactImport,
    /// `None`: the contact gets no audio from this plan — a Contact Center task that was
    /// not recorded, a digital (chat, email) task, or a capture not there yet (then
    /// `contact.audio.expected` is true: the audio comes with a later plan). Webex
    /// Calling contacts always have a slice.
    pub media: Option<MediaSlice>,
}

/// Which part of which recording's audio belongs to a contact.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MediaSlice {
    pub recording_id: String,
    pub offset_ms: i64,
    pub duration_ms: i64,
}

/// Per-connector settings the segmenter needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentContext {
    pub acd_server_id: i64,
    pub metadata: Vec<MetadataRule>,
}

/// What is wrong with a source document. Every variant names the field path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SegmentError {
    #[error("{path}: missing")]
    Missing { path: String },
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl SegmentError {
    /// Whether retrying with the same document can never succeed. Every current variant
    /// describes a malformed document, so all are permanent; a source that can answer
    /// "not ready yet" would add a transient variant.
    pub fn is_permanent(&self) -> bool {
        match self {
            SegmentError::Missing { .. } | SegmentError::WrongType { .. } | SegmentError::Invalid { .. } => true,
        }
    }

    /// The field path the error is about.
    pub fn path(&self) -> &str {
        match self {
            SegmentError::Missing { path }
            | SegmentError::WrongType { path, .. }
            | SegmentError::Invalid { path, .. } => path,
        }
    }
}

/// Source-independent options of [`segment_timeline`].
#[derive(Debug, Clone, Copy)]
pub struct SegmentOptions<'a> {
    /// `externalId` = `{prefix}:{recordingId}:{n}`.
    pub external_id_prefix: &'a str,
    pub acd_server_id: i64,
    /// Metadata copied onto every contact of the recording.
    pub metadata: &'a BTreeMap<String, String>,
}

/// One agent's part of a recording (wall clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpan {
    pub user_id: String,
    pub span: Interval,
}

/// The agent spans a timeline yields, ordered by start (then end, then user id): this
/// order numbers the contacts.
pub fn agent_spans(tl: &CallTimeline) -> Vec<AgentSpan> {
    let span = tl.span();
    let parked = tl.parked_windows();
    let agents: Vec<String> = match tl.recording.owner.user_id() {
        Some(owner) => vec![owner.to_owned()],
        None => tl.listed_agents(),
    };
    let mut out: Vec<AgentSpan> = agents
        .iter()
        .flat_map(|user| {
            subtract_intervals(&tl.listed_presence(user), &parked)
                .into_iter()
                .filter_map(|piece| piece.intersect(&span))
                .map(|piece| AgentSpan {
                    user_id: user.clone(),
                    span: piece,
                })
        })
        .collect();
    out.sort_by(|a, b| (a.span.start, a.span.end, &a.user_id).cmp(&(b.span.start, b.span.end, &b.user_id)));
    out
}

fn base_direction(d: CallDirection) -> Direction {
    match d {
        CallDirection::Inbound => Direction::Inbound,
        CallDirection::Outbound => Direction::Outbound,
    }
}

/// INTERNAL when the people the agent deals with in this span are all internal users;
/// otherwise INBOUND/OUTBOUND after the owner's side of the call. Features don't count.
fn contact_direction(tl: &CallTimeline, user: &str, span: &Interval) -> Direction {
    let people: Vec<&Party> = tl
        .others_during(user, span)
        .into_iter()
        .filter(|p| !p.is_feature())
        .collect();
    let people: Vec<&Party> = if people.is_empty() {
        tl.remote_party
            .iter()
            .filter(|p| !p.is_feature() && p.user_id() != Some(user))
            .collect()
    } else {
        people
    };
    if people.iter().any(|p| p.is_external()) || people.is_empty() {
        base_direction(tl.direction)
    } else {
        Direction::Internal
    }
}

/// Whether a marker made `by` someone belongs on `user`'s contact.
fn made_by(by: &Option<Party>, user: &str) -> bool {
    match by {
        Some(Party::Agent { user_id, .. }) => user_id == user,
        _ => true,
    }
}

fn contact_events(tl: &CallTimeline, user: &str, span: &Interval) -> Vec<ContactEvent> {
    let mut events = Vec::new();
    let mut add = |t: i64, event_type: EventType| {
        if span.contains(t) {
            events.push(ContactEvent { event_type, time: t });
        }
    };
    // Pause markers: only the person who paused sees them; an unknown pauser marks nobody.
    let paused_by = |by: &Option<Party>| matches!(by, Some(Party::Agent { user_id, .. }) if user_id == user);
    for p in tl.recording.pauses.iter().filter(|p| paused_by(&p.by)) {
        add(p.start, EventType::Pause);
        if let Some(end) = p.end {
            add(end, EventType::Resume);
        }
    }
    for h in tl.holds.iter().filter(|h| made_by(&h.by, user)) {
        add(h.start, EventType::Hold);
        if let Some(end) = h.end {
            add(end, EventType::Retrieve);
        }
    }
    events.sort_by_key(|e| (e.time, e.event_type));
    events
}

/// Applies the segmentation rules to one timeline.
pub fn segment_timeline(tl: &CallTimeline, opts: &SegmentOptions<'_>) -> Vec<SegmentedContact> {
    agent_spans(tl)
        .into_iter()
        .enumerate()
        .map(|(n, AgentSpan { user_id, span })| {
            let offset_ms = tl.audio_offset_ms(span.start);
            let duration_ms = tl.audio_offset_ms(span.end) - offset_ms;
            SegmentedContact {
                contact: ContactImport {
                    external_id: format!("{}:{}:{n}", opts.external_id_prefix, tl.recording.id),
                    assoc_call_id: tl.interaction_key.clone(),
                    contact_type: ContactType::Call,
                    start_time: span.start,
                    call_duration: span.len_ms(),
                    ani: tl.ani.clone(),
                    dnis: tl.dnis.clone(),
                    direction: contact_direction(tl, &user_id, &span),
                    events: contact_events(tl, &user_id, &span),
                    agent: AgentRef {
                        acd_id: user_id,
                        acd_server_id: opts.acd_server_id,
                    },
                    language: None,
                    metadata: opts.metadata.clone(),
                    audio: Some(AudioSpec {
                        expected: true,
                        format: AudioFormat::Mp3,
                        channels: 1,
                    }),
                },
                media: Some(MediaSlice {
                    recording_id: tl.recording.id.clone(),
                    offset_ms,
                    duration_ms,
                }),
            }
        })
        .collect()
}
