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
pub fn plan_teams(source: &[SourceTeam], wfo: &[Team], acd_server_id: i64, listing: Listing) -> TeamPlan {
    let _ = (source, wfo, acd_server_id, listing);
    todo!("org_sync::plan_teams")
}

/// Plan the queue writes (see the module rules). `wfo` is this ACD server's queues.
pub fn plan_queues(source: &[SourceQueue], wfo: &[Queue], acd_server_id: i64, listing: Listing) -> QueuePlan {
    let _ = (source, wfo, acd_server_id, listing);
    todo!("org_sync::plan_queues")
}
