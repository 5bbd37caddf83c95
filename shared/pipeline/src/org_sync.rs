//! The contact-center half of the sync: teams and queues, written before the users
//! (persons reference teams). The rules are `wfo_domain::org_sync`'s; this module reads
//! WFO, applies the plan and counts.
//!
//! WFO: one read per kind (teams are read once for the whole run) and exactly one write
//! per change. Creates are not idempotent at WFO: a create whose outcome is unknown is
//! not repeated in the run — the next run's listing finds it by (`acdServerId`, `acdId`)
//! if it was made, so nothing is ever created twice.

use serde::{Deserialize, Serialize};
use wfo_client::{WfoApi, WfoError};
use wfo_domain::org_sync::{KindCounts, plan_queues, plan_teams};
use wfo_domain::wfo::Team;
use wfo_ports::KindListing;

/// What the run did to one kind (teams or queues).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindRun {
    /// Writes done, by kind (a failed write is not counted here).
    pub counts: KindCounts,
    /// Entries the source listed (readable ones).
    pub listed: u64,
    pub wfo_writes: u64,
    pub write_failures: u64,
    /// Why this kind's listing was partial (nothing of it was deactivated).
    pub incomplete: Option<String>,
    /// Entries the source listed that could not be read, with the reason.
    pub rejected: Vec<String>,
    /// The first failed write.
    pub first_error: Option<String>,
}

impl KindRun {
    fn start<T>(listing: &KindListing<T>) -> Self {
        KindRun {
            listed: listing.items.len() as u64,
            incomplete: listing.incomplete.clone(),
            rejected: listing.rejected.clone(),
            ..KindRun::default()
        }
    }

    fn failed(&mut self, what: &str, e: &WfoError) {
        self.write_failures += 1;
        self.first_error.get_or_insert_with(|| format!("{what}: {e}"));
    }

    /// Problems that make the run incomplete.
    pub fn problems(&self, kind: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(i) = &self.incomplete {
            out.push(format!("{kind}: {i}; nothing was deactivated"));
        }
        if self.write_failures > 0 {
            out.push(format!(
                "{kind}: {} WFO writes failed (first: {}); the next run retries them",
                self.write_failures,
                self.first_error.as_deref().unwrap_or("-")
            ));
        }
        out
    }
}

/// Keep the teams in step. `wfo_teams` is every WFO team (read once by the caller).
pub async fn sync_teams(
    wfo: &dyn WfoApi,
    listing: &KindListing<wfo_domain::org_sync::SourceTeam>,
    wfo_teams: &[Team],
    acd_server_id: i64,
) -> KindRun {
    let mut run = KindRun::start(listing);
    let plan = plan_teams(&listing.items, wfo_teams, acd_server_id, listing.listing);
    run.counts.unchanged = plan.counts.unchanged;
    run.counts.skipped = plan.counts.skipped;
    for t in &plan.updates {
        run.wfo_writes += 1;
        match wfo.update_team(t).await {
            Ok(()) => run.counts.updated += 1,
            Err(e) => run.failed(&format!("renaming team {}", t.id), &e),
        }
    }
    for t in &plan.creates {
        run.wfo_writes += 1;
        match wfo.create_team(t).await {
            Ok(_) => run.counts.created += 1,
            Err(e) => run.failed(&format!("creating team '{}'", t.name), &e),
        }
    }
    run
}

/// Keep the queues in step (one read of this ACD server's queues, then the plan).
pub async fn sync_queues(
    wfo: &dyn WfoApi,
    listing: &KindListing<wfo_domain::org_sync::SourceQueue>,
    acd_server_id: i64,
) -> Result<KindRun, WfoError> {
    let mut run = KindRun::start(listing);
    let existing = wfo.list_queues(acd_server_id).await?;
    let plan = plan_queues(&listing.items, &existing, acd_server_id, listing.listing);
    run.counts.unchanged = plan.counts.unchanged;
    run.counts.skipped = plan.counts.skipped;
    let before: std::collections::HashMap<i64, bool> = existing.iter().map(|q| (q.id, q.active)).collect();
    for q in &plan.updates {
        run.wfo_writes += 1;
        match wfo.update_queue(q).await {
            Ok(()) => match (before.get(&q.id).copied(), q.active) {
                (Some(true), false) => run.counts.deactivated += 1,
                (Some(false), true) => run.counts.reactivated += 1,
                _ => run.counts.updated += 1,
            },
            Err(e) => run.failed(&format!("updating queue {}", q.id), &e),
        }
    }
    for q in &plan.creates {
        run.wfo_writes += 1;
        match wfo.create_queue(q).await {
            Ok(_) => run.counts.created += 1,
            Err(e) => run.failed(&format!("creating queue '{}'", q.name), &e),
        }
    }
    Ok(run)
}
