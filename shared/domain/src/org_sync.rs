//! Contact Center teams and queues kept in step with WFO, as deltas (pure).
//!
//! The rules (WxCC integration guide, "Core Configuration Data";
//! `specs/wfo-ingest-api.md` §3, §3a):
//! - an active source team of any type becomes a read-only WFO team with the same name,
//!   `acdId` = the team id and this connector's `acdServerId`; a rename follows; a team
//!   deleted (or made inactive) at the source changes nothing; membership is not kept;
//! - a source queue becomes a WFO queue keyed on (`acdServerId`, `acdId`): created,
//!   renamed, deactivated (`active: false`) when gone or inactive, reactivated when
//!   restored; never a second queue for one pair;
//! - a `Partial` listing deactivates nothing.
//!
//! `plan_teams` / `plan_queues` return the writes; a run with no source change plans none.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::sync::Listing;
use crate::wfo::{ChannelType, Queue, QueueInput, Team, TeamInput};

/// A team as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceTeam {
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// A queue as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceQueue {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub channel_type: ChannelType,
}

/// What a run did (or plans to do) to one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindCounts {
    pub created: u64,
    pub updated: u64,
    pub deactivated: u64,
    pub reactivated: u64,
    pub unchanged: u64,
    /// Source entries left alone, with a reason given elsewhere (inactive team never
    /// seen, malformed entry).
    pub skipped: u64,
}

/// The team writes of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamPlan {
    pub creates: Vec<TeamInput>,
    /// Whole objects to `PUT` (a rename).
    pub updates: Vec<Team>,
    pub counts: KindCounts,
}

/// The queue writes of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuePlan {
    pub creates: Vec<QueueInput>,
    /// Whole objects to `PUT` (rename, deactivation, reactivation).
    pub updates: Vec<Queue>,
    pub counts: KindCounts,
}

/// Plan the team writes (see the module rules). `wfo` is every WFO team.
///
/// Source entries: an empty id, a repeated id (the first wins) or a blank name is skipped;
/// names are trimmed.
///
/// A team is ours when its `acdServerId` is `acd_server_id` and its `acdId` is the source
/// id, compared exactly; of several such teams (an earlier duplicate) the first listed is
/// kept in step and the others are left alone. An active source team without one is
/// created read-only; one whose name differs, or that is not read-only, is `PUT` whole
/// with the source name and `readOnly: true`. An inactive source team, and a WFO team the
/// source no longer lists, change nothing, so `listing` makes no difference to teams: it
/// is taken for symmetry with [`plan_queues`].
pub fn plan_teams(source: &[SourceTeam], wfo: &[Team], acd_server_id: i64, listing: Listing) -> TeamPlan {
    // Teams are never deactivated, so a partial listing plans exactly what a complete one does.
    let _ = listing;
    let mut ours: BTreeMap<&str, &Team> = BTreeMap::new();
    for t in wfo {
        if t.acd_server_id == Some(acd_server_id)
            && let Some(acd_id) = t.acd_id.as_deref()
        {
            ours.entry(acd_id).or_insert(t);
        }
    }
    let mut out = TeamPlan::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for s in source {
        // A listed id is present even when its entry is unusable: it is never "gone".
        if s.id.is_empty() || !seen.insert(s.id.as_str()) || s.name.trim().is_empty() {
            out.counts.skipped += 1;
            continue;
        }
        let name = s.name.trim();
        match (ours.get(s.id.as_str()), s.active) {
            (None, true) => {
                out.creates.push(TeamInput {
                    name: name.to_owned(),
                    acd_id: Some(s.id.clone()),
                    acd_server_id: Some(acd_server_id),
                    read_only: true,
                });
                out.counts.created += 1;
            }
            (None, false) => out.counts.skipped += 1,
            (Some(t), true) if t.name != name || !t.read_only => {
                let mut next = (*t).clone();
                next.name = name.to_owned();
                next.read_only = true;
                out.updates.push(next);
                out.counts.updated += 1;
            }
            // Equal, or inactive at the source: a deleted team changes nothing.
            (Some(_), _) => out.counts.unchanged += 1,
        }
    }
    out
}

/// Plan the queue writes (see the module rules). `wfo` is this ACD server's queues.
///
/// A queue is ours when its `acdServerId` is `acd_server_id` (entries of another server are
/// ignored) and its `acdId` is the source id, compared exactly; of several (an earlier
/// duplicate) the first listed is kept in step and the others are left alone. The WFO queue is `PUT` whole when its name,
/// channel type or `active` differs from the source; the write counts as a deactivation or
/// reactivation when `active` flips, else as an update. An active source queue without one
/// is created active; an inactive one is skipped (nothing to deactivate). An active WFO
/// queue of this server whose `acdId` the source no longer lists is deactivated. With a [`Listing::Partial`] nothing is
/// deactivated: an inactive source queue keeps its state (its rename still applies; with no
/// other change it is counted skipped) and unlisted queues are left alone.
pub fn plan_queues(source: &[SourceQueue], wfo: &[Queue], acd_server_id: i64, listing: Listing) -> QueuePlan {
    let mut ours: BTreeMap<&str, &Queue> = BTreeMap::new();
    for q in wfo.iter().filter(|q| q.acd_server_id == acd_server_id) {
        ours.entry(q.acd_id.as_str()).or_insert(q);
    }
    let complete = listing == Listing::Complete;
    let mut out = QueuePlan::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for s in source {
        // A listed id is present even when its entry is unusable: it is never "gone".
        if s.id.is_empty() || !seen.insert(s.id.as_str()) || s.name.trim().is_empty() {
            out.counts.skipped += 1;
            continue;
        }
        let name = s.name.trim();
        let Some(q) = ours.get(s.id.as_str()) else {
            if s.active {
                out.creates.push(QueueInput {
                    name: name.to_owned(),
                    acd_id: s.id.clone(),
                    acd_server_id,
                    channel_type: s.channel_type,
                    active: true,
                });
                out.counts.created += 1;
            } else {
                out.counts.skipped += 1;
            }
            continue;
        };
        let deferred = q.active && !s.active && !complete;
        let next = Queue {
            name: name.to_owned(),
            channel_type: s.channel_type,
            active: if deferred { true } else { s.active },
            ..(*q).clone()
        };
        if next == **q {
            if deferred {
                out.counts.skipped += 1;
            } else {
                out.counts.unchanged += 1;
            }
            continue;
        }
        match (q.active, next.active) {
            (true, false) => out.counts.deactivated += 1,
            (false, true) => out.counts.reactivated += 1,
            _ => out.counts.updated += 1,
        }
        out.updates.push(next);
    }
    if complete {
        let gone = wfo
            .iter()
            .filter(|q| q.acd_server_id == acd_server_id && q.active && !seen.contains(q.acd_id.as_str()));
        for q in gone {
            out.updates.push(Queue {
                active: false,
                ..(*q).clone()
            });
            out.counts.deactivated += 1;
        }
    }
    out
}
