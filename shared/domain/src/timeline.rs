//! The normalized call timeline: one customer interaction as seen by ONE recording.
//!
//! Source parsers (Webex Calling today, Contact Center later) turn their payloads into a
//! [`CallTimeline`]; the segmentation rules in [`crate::segment`] work only on this type.
//! Nothing here knows about Webex field names.
//!
//! Semantics every producer must respect:
//! - all times are epoch milliseconds (UTC);
//! - the recording covers `recording.start .. recording.stop` of wall-clock time; the
//!   paused intervals are cut out of the audio, so the audio is shorter than the span;
//! - `snapshots` are ordered by time; snapshot *k* says who is on the call from its `at`
//!   until the next snapshot's `at` (or the recording stop for the last one). Before the
//!   first snapshot nobody is known to be on the call;
//! - a hold or pause with `end: None` was never ended inside the recording (it runs to the
//!   recording stop, and no RETRIEVE/RESUME marker exists);
//! - `redirects` are the moments the call moved (transfer, park, retrieve, queue
//!   delivery). Only park and retrieve change segmentation; the rest is kept for display.

use serde::{Deserialize, Serialize};

/// Epoch milliseconds, UTC.
pub type EpochMs = i64;

/// A half-open wall-clock interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub start: EpochMs,
    pub end: EpochMs,
}

impl Interval {
    pub fn new(start: EpochMs, end: EpochMs) -> Self {
        Self { start, end }
    }

    /// Length in ms; 0 for an empty or inverted interval.
    pub fn len_ms(&self) -> i64 {
        (self.end - self.start).max(0)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `start <= t < end`.
    pub fn contains(&self, t: EpochMs) -> bool {
        self.start <= t && t < self.end
    }

    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        let i = Interval::new(self.start.max(other.start), self.end.min(other.end));
        (!i.is_empty()).then_some(i)
    }

    pub fn overlap_ms(&self, other: &Interval) -> i64 {
        self.intersect(other).map_or(0, |i| i.len_ms())
    }
}

/// Sorts, drops empty intervals and merges overlapping or touching ones.
pub fn merge_intervals(mut v: Vec<Interval>) -> Vec<Interval> {
    v.retain(|i| !i.is_empty());
    v.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for i in v {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// `a` minus every interval of `b` (both need not be merged).
pub fn subtract_intervals(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let cuts = merge_intervals(b.to_vec());
    let mut out = Vec::new();
    for piece in merge_intervals(a.to_vec()) {
        let mut cursor = piece.start;
        for c in &cuts {
            if c.end <= cursor || c.start >= piece.end {
                continue;
            }
            if c.start > cursor {
                out.push(Interval::new(cursor, c.start));
            }
            cursor = cursor.max(c.end);
        }
        if cursor < piece.end {
            out.push(Interval::new(cursor, piece.end));
        }
    }
    out
}

/// Non-agent parties that a call can be delivered to or owned by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeatureKind {
    CallQueue,
    HuntGroup,
    VirtualLine,
    Place,
    AutoAttendant,
    /// A feature type the source named but we do not know (kept verbatim).
    Other(String),
}

/// One party on a call, classified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Party {
    /// An internal user who can be a WFO agent; `user_id` is a plain lowercase UUID.
    Agent {
        user_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<String>,
    },
    /// Somebody outside the organisation (PSTN, other company), known by number at most.
    External {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<String>,
    },
    /// A call-routing feature or shared line: call queue, hunt group, virtual line, place.
    Feature {
        feature: FeatureKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<String>,
    },
}

impl Party {
    pub fn agent(user_id: impl Into<String>) -> Self {
        Party::Agent {
            user_id: user_id.into(),
            number: None,
        }
    }

    pub fn external(number: impl Into<String>) -> Self {
        Party::External {
            number: Some(number.into()),
        }
    }

    /// The user id when this party is an internal agent.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Party::Agent { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    pub fn is_agent(&self) -> bool {
        matches!(self, Party::Agent { .. })
    }

    pub fn is_external(&self) -> bool {
        matches!(self, Party::External { .. })
    }

    pub fn is_feature(&self) -> bool {
        matches!(self, Party::Feature { .. })
    }

    pub fn number(&self) -> Option<&str> {
        match self {
            Party::Agent { number, .. } | Party::External { number } | Party::Feature { number, .. } => {
                number.as_deref()
            }
        }
    }

    /// Identity comparison: agents by user id, features by kind and id, externals by number.
    pub fn same_party(&self, other: &Party) -> bool {
        match (self, other) {
            (Party::Agent { user_id: a, .. }, Party::Agent { user_id: b, .. }) => a == b,
            (
                Party::Feature {
                    feature: fa, id: ia, ..
                },
                Party::Feature {
                    feature: fb, id: ib, ..
                },
            ) => fa == fb && ia == ib,
            (Party::External { number: a }, Party::External { number: b }) => a == b,
            _ => false,
        }
    }
}

/// Direction of the call from the recording owner's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CallDirection {
    /// The owner received the call (Webex `personality: terminator`).
    Inbound,
    /// The owner placed the call (Webex `personality: originator`).
    Outbound,
}

/// Who is on the call from `at` until the next snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub at: EpochMs,
    pub participants: Vec<Party>,
}

impl Snapshot {
    pub fn has_user(&self, user_id: &str) -> bool {
        self.participants.iter().any(|p| p.user_id() == Some(user_id))
    }
}

/// A recording pause: the audio between `start` and `end` (or the stop) is cut out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    pub start: EpochMs,
    /// `None`: never resumed inside this recording.
    pub end: Option<EpochMs>,
    /// Who paused; `None` when the source does not say.
    pub by: Option<Party>,
}

/// The call was on hold from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub start: EpochMs,
    /// `None`: not retrieved inside this recording (for example, transferred while held).
    pub end: Option<EpochMs>,
    /// Who put the call on hold; `None` when the source does not say.
    pub by: Option<Party>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectKind {
    /// The call was parked: every agent's part ends here.
    Park,
    /// A parked call was picked up: a new part starts here.
    Retrieve,
    /// Blind transfer.
    Transfer,
    /// Consultative (attended) transfer.
    ConsultTransfer,
    /// Delivered by a call queue.
    Queue,
    /// Delivered by a hunt group.
    HuntGroup,
    /// Any call forward.
    Forward,
    /// A reason the source named that we do not know (kept verbatim).
    Other(String),
}

/// A moment the call moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    pub at: EpochMs,
    pub kind: RedirectKind,
    /// Who caused it (the transferring or parking party, the retriever).
    pub by: Option<Party>,
    /// Where the call went, when known.
    pub target: Option<Party>,
    /// The source's id of the other call involved (for example the held call merged by a
    /// consult transfer), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_call: Option<String>,
}

/// One recording of one customer interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    pub id: String,
    pub owner: Party,
    /// The owner's display name and email as the payload gives them (a person the import
    /// creates is named with them until the user sync knows better).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    pub start: EpochMs,
    pub stop: EpochMs,
    pub pauses: Vec<Pause>,
}

/// The normalized timeline. See the module documentation for its semantics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallTimeline {
    /// Key shared by every recording of the interaction (Webex: `callSessionId`); it
    /// becomes the `assocCallId` of every contact.
    pub interaction_key: String,
    pub recording: RecordingInfo,
    pub direction: CallDirection,
    /// Calling number, normalised.
    pub ani: Option<String>,
    /// Called number, normalised.
    pub dnis: Option<String>,
    /// The far end from the owner's point of view, when known.
    pub remote_party: Option<Party>,
    /// Who answered (the agent, for queue and hunt-group calls).
    pub answerer: Option<Party>,
    /// The feature or user the call was handled for (queue, hunt group).
    pub managed_by: Option<Party>,
    pub snapshots: Vec<Snapshot>,
    pub holds: Vec<Hold>,
    pub redirects: Vec<Redirect>,
    /// Things the parser tolerated or guessed, for operators (never errors).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl CallTimeline {
    /// The recorded wall-clock span (empty if stop is not after start).
    pub fn span(&self) -> Interval {
        Interval::new(self.recording.start, self.recording.stop)
    }

    /// Paused intervals clipped to the span, sorted and merged.
    pub fn paused_intervals(&self) -> Vec<Interval> {
        let span = self.span();
        merge_intervals(
            self.recording
                .pauses
                .iter()
                .filter_map(|p| Interval::new(p.start, p.end.unwrap_or(span.end)).intersect(&span))
                .collect(),
        )
    }

    /// Length of the audio file: the span minus the paused time.
    pub fn audio_length_ms(&self) -> i64 {
        let paused: i64 = self.paused_intervals().iter().map(Interval::len_ms).sum();
        (self.span().len_ms() - paused).max(0)
    }

    /// Position in the audio of wall-clock moment `t`: time since the recording start
    /// minus the paused time before `t`, clamped to `[0, audio length]`.
    pub fn audio_offset_ms(&self, t: EpochMs) -> i64 {
        let span = self.span();
        let t = t.clamp(span.start, span.end.max(span.start));
        let before = Interval::new(span.start, t);
        let paused: i64 = self.paused_intervals().iter().map(|p| p.overlap_ms(&before)).sum();
        (before.len_ms() - paused).clamp(0, self.audio_length_ms())
    }

    /// Snapshots in time order, each with the interval it is valid for (clipped to the
    /// span; snapshots outside the span or superseded at the same instant are dropped).
    pub fn snapshot_intervals(&self) -> Vec<(Interval, &Snapshot)> {
        let span = self.span();
        let mut ordered: Vec<&Snapshot> = self.snapshots.iter().collect();
        ordered.sort_by_key(|s| s.at);
        let mut out = Vec::with_capacity(ordered.len());
        for (k, s) in ordered.iter().enumerate() {
            let end = ordered.get(k + 1).map_or(span.end, |n| n.at);
            if let Some(valid) = Interval::new(s.at, end).intersect(&span) {
                out.push((valid, *s));
            }
        }
        out
    }

    /// Windows during which the call was parked: from each park to the next retrieve (or
    /// the recording stop).
    pub fn parked_windows(&self) -> Vec<Interval> {
        let span = self.span();
        let mut marks: Vec<(EpochMs, bool)> = self
            .redirects
            .iter()
            .filter_map(|r| match r.kind {
                RedirectKind::Park => Some((r.at, true)),
                RedirectKind::Retrieve => Some((r.at, false)),
                _ => None,
            })
            .collect();
        marks.sort();
        let mut out = Vec::new();
        let mut parked_at: Option<EpochMs> = None;
        for (at, is_park) in marks {
            match (is_park, parked_at) {
                (true, None) => parked_at = Some(at),
                (false, Some(p)) => {
                    out.push(Interval::new(p, at));
                    parked_at = None;
                }
                _ => {}
            }
        }
        if let Some(p) = parked_at {
            out.push(Interval::new(p, span.end));
        }
        merge_intervals(out.into_iter().filter_map(|w| w.intersect(&span)).collect())
    }

    /// Intervals during which the snapshots list user `user_id`, merged.
    pub fn listed_presence(&self, user_id: &str) -> Vec<Interval> {
        merge_intervals(
            self.snapshot_intervals()
                .into_iter()
                .filter(|(_, s)| s.has_user(user_id))
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// Every internal agent any snapshot lists, sorted and unique.
    pub fn listed_agents(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .snapshots
            .iter()
            .flat_map(|s| s.participants.iter().filter_map(|p| p.user_id().map(str::to_owned)))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Parties other than `user_id` that are on the call during `span` (per snapshots).
    pub fn others_during(&self, user_id: &str, span: &Interval) -> Vec<&Party> {
        let mut out: Vec<&Party> = Vec::new();
        for (valid, s) in self.snapshot_intervals() {
            if valid.intersect(span).is_none() {
                continue;
            }
            for p in &s.participants {
                if p.user_id() != Some(user_id) && !out.iter().any(|o| o.same_party(p)) {
                    out.push(p);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl(start: i64, stop: i64, pauses: Vec<Pause>) -> CallTimeline {
        CallTimeline {
            interaction_key: "s".into(),
            recording: RecordingInfo {
                id: "r".into(),
                owner: Party::agent("u"),
                owner_name: None,
                owner_email: None,
                start,
                stop,
                pauses,
            },
            direction: CallDirection::Inbound,
            ani: None,
            dnis: None,
            remote_party: None,
            answerer: None,
            managed_by: None,
            snapshots: vec![],
            holds: vec![],
            redirects: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn merging_joins_overlapping_and_touching_intervals_and_drops_empty_ones() {
        let v = merge_intervals(vec![
            Interval::new(5, 7),
            Interval::new(0, 2),
            Interval::new(2, 3),
            Interval::new(6, 9),
            Interval::new(4, 4),
        ]);
        assert_eq!(v, vec![Interval::new(0, 3), Interval::new(5, 9)]);
    }

    #[test]
    fn subtracting_cuts_holes_and_trims_ends() {
        let v = subtract_intervals(&[Interval::new(0, 10)], &[Interval::new(2, 4), Interval::new(8, 12)]);
        assert_eq!(v, vec![Interval::new(0, 2), Interval::new(4, 8)]);
    }

    #[test]
    fn audio_offset_skips_paused_time_and_an_open_pause_runs_to_the_stop() {
        let t = tl(
            1000,
            11_000,
            vec![
                Pause {
                    start: 3000,
                    end: Some(5000),
                    by: None,
                },
                Pause {
                    start: 9000,
                    end: None,
                    by: None,
                },
            ],
        );
        assert_eq!(t.audio_length_ms(), 10_000 - 2000 - 2000);
        assert_eq!(t.audio_offset_ms(1000), 0);
        assert_eq!(t.audio_offset_ms(4000), 2000);
        assert_eq!(t.audio_offset_ms(6000), 3000);
        assert_eq!(t.audio_offset_ms(10_000), 6000);
        assert_eq!(t.audio_offset_ms(50_000), 6000);
        assert_eq!(t.audio_offset_ms(0), 0);
    }

    #[test]
    fn a_park_without_retrieve_parks_until_the_recording_stops() {
        let mut t = tl(0, 100, vec![]);
        t.redirects = vec![
            Redirect {
                at: 10,
                kind: RedirectKind::Park,
                by: None,
                target: None,
                related_call: None,
            },
            Redirect {
                at: 20,
                kind: RedirectKind::Retrieve,
                by: None,
                target: None,
                related_call: None,
            },
            Redirect {
                at: 70,
                kind: RedirectKind::Park,
                by: None,
                target: None,
                related_call: None,
            },
        ];
        assert_eq!(t.parked_windows(), vec![Interval::new(10, 20), Interval::new(70, 100)]);
    }
}
