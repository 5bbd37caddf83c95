//! The user sync job: a source's users kept in step with WFO persons, as deltas.
//!
//! One run ([`sync_connector`]):
//! 1. **Source**: the connector's source lists its users with their eligibility
//!    ([`wfo_ports::Source::list_users`]; Webex Calling: licenses, recording roster,
//!    People, per-user recording settings — see that crate's `users` module). A listing
//!    that could not read every page is *partial*: nobody is deactivated.
//! 2. **WFO**: persons, teams and roles (three reads).
//! 3. **Plan** with the pure engine `wfo_domain::sync` (rules documented there), under
//!    the source's policy.
//! 4. **Write** only the plan: one `PUT` per changed person; creates under the same
//!    per-agent lock as the contact import (`wfo-person:{connector}:{server}:{acd}`),
//!    with a fresh lookup after the lock is taken and another after any create whose
//!    outcome is unknown (never a second person for one ACD id).
//! 5. Store the run's result (status shows it).
//!
//! WFO: 3 reads + 1 read per chunk of creates (+1 per create with an unknown outcome),
//! and exactly one write per change. Source calls are counted by kind
//! ([`SourceCalls`]); the run lock is renewed between them.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use wfo_client::{WfoApi, WfoError, ensure::MAX_CREATE_ATTEMPTS};
use wfo_domain::config::ConnectorKind;
use wfo_domain::sync::{PersonCreate, PlanCounts, SyncDefaults, SyncInput, UpdateKind, canonical_acd_id};
use wfo_domain::wfo::{Person, RoleRef};
use wfo_ports::{AuthError, KeepAlive, SourceError, UserListingRequest, UserSyncProfile};

use crate::connections::{Connection, Connections};
use crate::ports::{Store, StoreError, StoredConnector};

pub use wfo_ports::{SourceCalls, SyncSettings};

/// Where the last run's result is kept (per connector).
pub const STATUS_KEY: &str = "user-sync:status";
/// Concurrent calls are set up this many at a time (bounds memory on big runs).
const BATCH: usize = 1000;

/// The lock the contact import and the sync both take before creating the WFO person of
/// one ACD user (`KvStore::try_lock`).
pub fn person_lock_name(connector_id: &str, acd_server_id: i64, acd_id: &str) -> String {
    format!("wfo-person:{connector_id}:{acd_server_id}:{acd_id}")
}

/// The lock that keeps two runs of one connector's sync apart.
pub fn run_lock_name(connector_id: &str) -> String {
    format!("user-sync:{connector_id}")
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Every listing read and every planned write made.
    pub complete: bool,
    /// Writes done, by kind (a failed write is not counted here).
    pub counts: PlanCounts,
    pub people_listed: u64,
    pub candidates: u64,
    pub source_calls: SourceCalls,
    /// WFO `POST`/`PUT` requests made (failed ones included).
    pub wfo_writes: u64,
    pub wfo_reads: u64,
    pub write_failures: u64,
    /// Creates left for the next run: another process held the agent's lock, or the
    /// person appeared meanwhile.
    pub creates_deferred: u64,
    pub warnings: u64,
    /// The first warnings, for the operator.
    pub warning_samples: Vec<String>,
    pub error: Option<String>,
    /// Contact center: what the run did to teams and queues (written before the users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<crate::org_sync::KindRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<crate::org_sync::KindRun>,
}

/// What `wfo-connect status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub last_run: SyncRun,
    pub last_complete_at: Option<DateTime<Utc>>,
}

/// Why a run did not happen or stopped before writing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("connector '{0}' has features.user_sync = false")]
    Disabled(String),
    #[error("user sync of kind {0} is not available (its source has no users to sync)")]
    Unsupported(ConnectorKind),
    #[error("a user sync of connector '{0}' is already running")]
    Busy(String),
    #[error(
        "the connector's token lacks the scopes the user sync needs: {0}; add them to source.scopes and authorize again"
    )]
    MissingScopes(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("reading users from the source failed: {0}")]
    Source(SourceError),
    #[error("WFO: {0}")]
    Wfo(#[from] WfoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SourceError> for SyncError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Credentials(a) => SyncError::Auth(a),
            other => SyncError::Source(other),
        }
    }
}

impl SyncError {
    /// Nothing changes without an operator (re-authorize, grant a scope, enable).
    pub fn needs_operator(&self) -> bool {
        match self {
            SyncError::Disabled(_) | SyncError::Unsupported(_) | SyncError::MissingScopes(_) => true,
            SyncError::Auth(e) => e.needs_operator(),
            SyncError::Source(e) => e.needs_operator(),
            _ => false,
        }
    }
}

/// What a run needs from outside.
pub struct SyncDeps<'a> {
    pub connections: &'a Connections,
    pub wfo: &'a dyn WfoApi,
}

/// The stored status of a connector's sync, if it ever ran.
pub async fn load_status(store: &dyn Store, connector_id: &str) -> Result<Option<SyncStatus>, StoreError> {
    Ok(store
        .get_value(connector_id, STATUS_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// Run the sync of `connector` once and record the outcome (see the module docs).
///
/// `Err` when the run did not get to planning (disabled, busy, auth, licenses/roster or
/// WFO unreadable); the error is recorded as the last run's error unless the run was
/// disabled or busy. `Ok` runs may still be incomplete (`complete == false`, `error` set).
pub fn sync_connector<'a>(
    deps: &'a SyncDeps<'a>,
    connector: &'a StoredConnector,
    settings: &'a SyncSettings,
) -> futures::future::BoxFuture<'a, Result<SyncRun, SyncError>> {
    // Boxed as `Send` here, where the lifetimes are concrete (spawned tasks need it).
    Box::pin(sync_once(deps, connector, settings))
}

async fn sync_once(
    deps: &SyncDeps<'_>,
    connector: &StoredConnector,
    settings: &SyncSettings,
) -> Result<SyncRun, SyncError> {
    let cfg = &connector.config;
    if !cfg.features.user_sync {
        return Err(SyncError::Disabled(cfg.id.clone()));
    }
    let conn = deps.connections.get(connector).await?;
    let Some(profile) = conn.source.user_sync() else {
        return Err(SyncError::Unsupported(cfg.kind));
    };
    let store = deps.connections.store().as_ref();
    let owner = format!("sync-{}", uuid::Uuid::new_v4());
    let lock = run_lock_name(&cfg.id);
    if !store.try_lock(&lock, &owner, settings.run_lock_ttl, Utc::now()).await? {
        return Err(SyncError::Busy(cfg.id.clone()));
    }
    let started = Utc::now();
    let result = Run {
        deps,
        store,
        conn: &conn,
        profile,
        connector,
        settings,
        owner: owner.clone(),
        calls: std::sync::Mutex::default(),
        lock_renewed: Mutex::new(std::time::Instant::now()),
    }
    .run(started)
    .await;
    if let Err(e) = store.unlock(&lock, &owner).await {
        tracing::warn!(connector = %cfg.id, error = %e, "cannot release the sync lock (it expires)");
    }
    let previous = load_status(store, &cfg.id).await.ok().flatten().unwrap_or_default();
    let (run, outcome) = match result {
        Ok(run) => (run.clone(), Ok(run)),
        Err((calls, e)) => {
            let run = SyncRun {
                started_at: Some(started),
                finished_at: Some(Utc::now()),
                source_calls: calls,
                error: Some(e.to_string()),
                ..SyncRun::default()
            };
            (run, Err(e))
        }
    };
    emit_metrics(&cfg.id, &run, Utc::now());
    let status = SyncStatus {
        last_complete_at: if run.complete {
            run.finished_at
        } else {
            previous.last_complete_at
        },
        last_run: run,
    };
    store
        .put_value(&cfg.id, STATUS_KEY, &serde_json::to_value(&status).unwrap_or_default())
        .await?;
    match &outcome {
        Ok(r) if r.complete => {
            tracing::info!(connector = %cfg.id, created = r.counts.created, updated = r.counts.updated,
            reactivated = r.counts.reactivated, deactivated = r.counts.deactivated, unchanged = r.counts.unchanged,
            source_calls = r.source_calls.total(), wfo_writes = r.wfo_writes, "user sync done")
        }
        Ok(r) => tracing::warn!(connector = %cfg.id, error = r.error.as_deref().unwrap_or(""), "user sync incomplete"),
        Err(e) => tracing::warn!(connector = %cfg.id, error = %e, "user sync failed"),
    }
    outcome
}

/// The run's results as metrics, once per run: persons, and teams and queues when the
/// run wrote them. A run that failed as a whole is an incomplete persons run.
fn emit_metrics(connector_id: &str, run: &SyncRun, at: DateTime<Utc>) {
    let c = &run.counts;
    crate::metrics::sync_run(
        connector_id,
        "persons",
        crate::metrics::SyncCounts {
            created: c.created,
            updated: c.updated + c.reactivated,
            deactivated: c.deactivated,
            failed: run.write_failures,
            incomplete: !run.complete,
        },
        at,
    );
    for (kind, k) in [("teams", &run.teams), ("queues", &run.queues)] {
        if let Some(k) = k {
            crate::metrics::sync_run(
                connector_id,
                kind,
                crate::metrics::SyncCounts {
                    created: k.counts.created,
                    updated: k.counts.updated + k.counts.reactivated,
                    deactivated: k.counts.deactivated,
                    failed: k.write_failures,
                    incomplete: k.incomplete.is_some() || k.write_failures > 0,
                },
                at,
            );
        }
    }
}

/// One run's state.
struct Run<'a> {
    deps: &'a SyncDeps<'a>,
    store: &'a dyn Store,
    conn: &'a Connection,
    profile: UserSyncProfile,
    connector: &'a StoredConnector,
    settings: &'a SyncSettings,
    owner: String,
    calls: std::sync::Mutex<SourceCalls>,
    /// When the run lock was last extended.
    lock_renewed: Mutex<std::time::Instant>,
}

#[async_trait]
impl KeepAlive for Run<'_> {
    async fn renew(&self) -> Result<(), SourceError> {
        self.renew_lock()
            .await
            .map_err(|e| SourceError::retry(format!("the sync lost its run lock: {e}")))
    }
}

impl Run<'_> {
    fn calls(&self) -> SourceCalls {
        self.calls.lock().map(|c| *c).unwrap_or_default()
    }

    async fn run(&self, started: DateTime<Utc>) -> Result<SyncRun, (SourceCalls, SyncError)> {
        match self.run_inner(started).await {
            Ok(r) => Ok(r),
            Err(e) => Err((self.calls(), e)),
        }
    }

    async fn run_inner(&self, started: DateTime<Utc>) -> Result<SyncRun, SyncError> {
        let cfg = &self.connector.config;
        self.check_scopes().await?;
        // Contact center: teams and queues first (persons go to teams).
        let org = self
            .conn
            .source
            .list_org(UserListingRequest {
                connector: self.connector,
                kv: self.store,
                settings: self.settings,
                keep_alive: self,
                calls: &self.calls,
                now: started,
            })
            .await?;
        let wfo = self.deps.wfo;
        // Read once: the team sync and the users' default team both use it (creating
        // source teams never changes which team is the default).
        let teams = wfo.list_teams().await?;
        let mut org_runs = None;
        if let Some(org) = &org {
            let team_run = crate::org_sync::sync_teams(wfo, &org.teams, &teams, cfg.acd_server_id).await;
            let queue_run = crate::org_sync::sync_queues(wfo, &org.queues, cfg.acd_server_id).await?;
            org_runs = Some((team_run, queue_run));
        }
        let source = self
            .conn
            .source
            .list_users(UserListingRequest {
                connector: self.connector,
                kv: self.store,
                settings: self.settings,
                keep_alive: self,
                calls: &self.calls,
                now: started,
            })
            .await?;

        // WFO state: three reads (persons, roles, and the teams read above).
        let persons = wfo.list_persons().await?;
        let roles = wfo.list_roles().await?;
        let team = wfo_client::ensure::default_team(&teams)?;
        let role = wfo_client::ensure::default_agent_role(&roles)?;
        let defaults = SyncDefaults {
            team_id: team.id,
            agent_role: RoleRef {
                id: role.id,
                name: role.name.clone(),
            },
        };
        let now = Utc::now();
        let today = now.format("%Y-%m-%d").to_string();
        let plan = wfo_domain::sync::plan(&SyncInput {
            acd_server_id: cfg.acd_server_id,
            users: &source.users,
            listing: source.listing,
            persons: &persons,
            defaults: &defaults,
            policy: self.profile.policy.with_create_persons(cfg.sync.create_persons),
            now_ms: now.timestamp_millis(),
            today: &today,
        });
        for w in &plan.warnings {
            tracing::info!(connector = %cfg.id, warning = %w, "user sync");
        }

        let mut run = SyncRun {
            started_at: Some(started),
            people_listed: source.people_listed,
            candidates: source.candidates,
            wfo_reads: 3,
            warnings: plan.warnings.len() as u64 + source.setting_failures + source.notes.len() as u64,
            warning_samples: source
                .notes
                .iter()
                .cloned()
                .chain(plan.warnings.iter().map(ToString::to_string))
                .take(10)
                .collect(),
            ..SyncRun::default()
        };
        for r in &source.rejected {
            tracing::warn!(connector = %cfg.id, reason = %r, "user sync: a listed user could not be read");
            if run.warning_samples.len() < 20 {
                run.warning_samples.push(format!("skipped: {r}"));
            }
        }
        run.warnings += source.rejected.len() as u64;
        if let Some((teams, queues)) = org_runs {
            run.wfo_reads += 1; // the queues (teams are among the three reads)
            run.wfo_writes += teams.wfo_writes + queues.wfo_writes;
            for r in teams.rejected.iter().chain(&queues.rejected) {
                tracing::warn!(connector = %cfg.id, reason = %r, "sync: a listed entry could not be read");
                if run.warning_samples.len() < 20 {
                    run.warning_samples.push(format!("skipped: {r}"));
                }
            }
            run.warnings += (teams.rejected.len() + queues.rejected.len()) as u64;
            run.teams = Some(teams);
            run.queues = Some(queues);
        }
        run.counts.unchanged = plan.counts.unchanged;
        run.counts.not_eligible = plan.counts.not_eligible;
        run.counts.skipped = plan.counts.skipped;
        run.counts.deactivation_deferred = plan.counts.deactivation_deferred;
        // The first failed write, described.
        let mut first_error: Option<String> = None;
        // Why the run stopped writing early.
        let mut aborted: Option<String> = None;

        // Updates: one PUT each.
        // (Futures collected first: a closure over borrowed items inside the stream
        // trips rustc's higher-ranked `Send` check of the spawned task.)
        let mut results: Vec<(UpdateKind, Result<(), WfoError>)> = Vec::with_capacity(plan.updates.len());
        for batch in plan.updates.chunks(BATCH) {
            let writes: Vec<_> = batch
                .iter()
                .map(|u| async move { (u.kind(), wfo.update_person(&u.person).await) })
                .collect();
            let done: Vec<_> = futures::stream::iter(writes)
                .buffer_unordered(self.settings.write_concurrency.max(1))
                .collect()
                .await;
            results.extend(done);
        }
        for (kind, r) in results {
            run.wfo_writes += 1;
            match r {
                Ok(()) => match kind {
                    UpdateKind::Updated => run.counts.updated += 1,
                    UpdateKind::Reactivated => run.counts.reactivated += 1,
                    UpdateKind::Deactivated => run.counts.deactivated += 1,
                },
                Err(e) => {
                    run.write_failures += 1;
                    first_error.get_or_insert_with(|| format!("updating a WFO person failed: {e}"));
                }
            }
        }

        // Creates: locked, looked up, then made.
        for chunk in plan.creates.chunks(self.settings.create_chunk.max(1)) {
            if let Err(e) = self.renew_lock().await {
                aborted = Some(format!("creates stopped: {e}"));
                break;
            }
            if let Err(e) = self.create_chunk(chunk, &mut run, &mut first_error).await {
                run.write_failures += 1;
                first_error.get_or_insert_with(|| format!("creating WFO persons failed: {e}"));
            }
        }

        run.finished_at = Some(Utc::now());
        run.source_calls = self.calls();
        let mut problems: Vec<String> = Vec::new();
        if let Some(t) = &run.teams {
            problems.extend(t.problems("teams"));
        }
        if let Some(q) = &run.queues {
            problems.extend(q.problems("queues"));
        }
        problems.extend(source.incomplete.clone());
        if source.setting_failures > 0 {
            problems.push(format!(
                "{} recording settings could not be read; those users were left as they are",
                source.setting_failures
            ));
        }
        if run.write_failures > 0 {
            problems.push(format!(
                "{} WFO writes failed (first: {}); the next run retries them",
                run.write_failures,
                first_error
                    .as_deref()
                    .unwrap_or("outcome still unknown after looking it up")
            ));
        }
        if run.creates_deferred > 0 {
            problems.push(format!(
                "{} creates left for the next run: another process was creating those persons",
                run.creates_deferred
            ));
        }
        problems.extend(aborted);
        run.complete = problems.is_empty();
        run.error = (!problems.is_empty()).then(|| problems.join("; "));
        Ok(run)
    }

    /// Extend the run lock when a third of its expiry has passed (a run that is killed
    /// leaves the lock to expire within `run_lock_ttl`).
    async fn renew_lock(&self) -> Result<(), SyncError> {
        let mut renewed = self.lock_renewed.lock().await;
        if renewed.elapsed() < self.settings.run_lock_ttl / 3 {
            return Ok(());
        }
        let name = run_lock_name(&self.connector.config.id);
        if !self
            .store
            .try_lock(&name, &self.owner, self.settings.run_lock_ttl, Utc::now())
            .await?
        {
            return Err(SyncError::Busy(self.connector.config.id.clone()));
        }
        *renewed = std::time::Instant::now();
        Ok(())
    }

    async fn check_scopes(&self) -> Result<(), SyncError> {
        let Some(granted) = self.conn.credentials.granted_scopes().await? else {
            return Ok(());
        };
        let missing: Vec<&str> = self
            .profile
            .required_scopes
            .iter()
            .copied()
            .filter(|s| !granted.iter().any(|t| t == s))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SyncError::MissingScopes(missing.join(", ")))
        }
    }

    /// Lock the chunk's agents, look WFO up once, create those still absent, resolve
    /// unknown outcomes by looking up again, unlock. Failed creates are counted in `run`
    /// and the first one described in `first_error`.
    async fn create_chunk(
        &self,
        chunk: &[PersonCreate],
        run: &mut SyncRun,
        first_error: &mut Option<String>,
    ) -> Result<(), SyncError> {
        let cfg = &self.connector.config;
        let store = self.store;
        let mut locked: Vec<&PersonCreate> = Vec::new();
        for c in chunk {
            let name = person_lock_name(&cfg.id, cfg.acd_server_id, &c.acd_id);
            if store
                .try_lock(&name, &self.owner, self.settings.create_lock_ttl, Utc::now())
                .await?
            {
                locked.push(c);
            } else {
                run.creates_deferred += 1;
            }
        }
        let result = self.create_locked(&locked, run, first_error).await;
        for c in &locked {
            if let Err(e) = store
                .unlock(&person_lock_name(&cfg.id, cfg.acd_server_id, &c.acd_id), &self.owner)
                .await
            {
                tracing::debug!(error = %e, "cannot release a person lock (it expires)");
            }
        }
        result
    }

    async fn create_locked(
        &self,
        locked: &[&PersonCreate],
        run: &mut SyncRun,
        first_error: &mut Option<String>,
    ) -> Result<(), SyncError> {
        if locked.is_empty() {
            return Ok(());
        }
        let wfo = self.deps.wfo;
        let server = self.connector.config.acd_server_id;
        let existing = |persons: &[Person]| -> HashSet<String> {
            persons
                .iter()
                .filter(|p| p.input.acd_server_id == Some(server))
                .filter_map(|p| p.input.acd_id.as_deref().map(canonical_acd_id))
                .collect()
        };
        run.wfo_reads += 1;
        let present = existing(&wfo.list_persons().await?);
        let mut pending: Vec<&PersonCreate> = Vec::new();
        for c in locked {
            if present.contains(&c.acd_id) {
                // Created by the contact import since this run read WFO: the next run
                // brings it in line.
                run.creates_deferred += 1;
            } else {
                pending.push(c);
            }
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let creates: Vec<_> = pending
                .iter()
                .map(|c| async move { (*c, wfo.create_person(&c.input).await) })
                .collect();
            let results: Vec<(&PersonCreate, Result<i64, WfoError>)> = futures::stream::iter(creates)
                .buffer_unordered(self.settings.write_concurrency.max(1))
                .collect()
                .await;
            let mut unknown: Vec<&PersonCreate> = Vec::new();
            for (c, r) in results {
                run.wfo_writes += 1;
                match r {
                    Ok(id) => {
                        run.counts.created += 1;
                        tracing::debug!(acd_id = %c.acd_id, person_id = id, "created WFO person");
                    }
                    Err(e) if e.outcome_unknown() => {
                        tracing::warn!(acd_id = %c.acd_id, attempt, error = %e, "person create outcome unknown; looking it up before any new attempt");
                        unknown.push(c);
                    }
                    Err(e) => {
                        run.write_failures += 1;
                        first_error.get_or_insert_with(|| format!("creating WFO person {} failed: {e}", c.acd_id));
                    }
                }
            }
            if unknown.is_empty() {
                break;
            }
            run.wfo_reads += 1;
            let present = existing(&wfo.list_persons().await?);
            pending = Vec::new();
            for c in unknown {
                if present.contains(&c.acd_id) {
                    run.counts.created += 1;
                } else if attempt < MAX_CREATE_ATTEMPTS {
                    pending.push(c);
                } else {
                    run.write_failures += 1;
                    first_error.get_or_insert_with(|| {
                        format!("creating WFO person {} kept ending with an unknown outcome", c.acd_id)
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_person_lock_is_named_like_the_contact_imports() {
        assert_eq!(person_lock_name("acme", 3, "u-1"), "wfo-person:acme:3:u-1");
    }
}
