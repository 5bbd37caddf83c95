//! The user sync job: Webex Calling users kept in step with WFO persons, as deltas.
//!
//! One run ([`sync_connector`]):
//! 1. **Source** (Webex, admin token): `GET /v1/licenses` → the ids of every license named
//!    "Webex Calling - Professional" (none → the run stops before any write: a license
//!    list without Professional must not deactivate everybody); the call-recording
//!    roster `GET /v1/telephony/config/callRecording/vendorUsers` (people assigned to the
//!    org's recording vendor, 2,000 a page); `GET /v1/people?callingData=true&max=100&
//!    excludeStatus=true` through every `Link rel="next"`.
//!    A *candidate* holds a Professional license and is on the roster. The roster does
//!    not carry the `record` mode, so a candidate's `GET /v1/people/{id}/features/
//!    callRecording` is read only when the stored snapshot has no verdict for them or
//!    it is older than [`SyncSettings::record_mode_ttl`] (staggered per user between
//!    half and all of it, so verdicts do not expire together), at most
//!    [`SyncSettings::max_setting_reads`] per run. Eligible = candidate and `record` is
//!    not `Never`.
//! 2. **WFO**: persons, teams and roles (three reads).
//! 3. **Plan** with the pure engine `wfo_domain::sync` (rules documented there).
//! 4. **Write** only the plan: one `PUT` per changed person; creates under the same
//!    per-agent lock as the contact import (`wfo-person:{connector}:{server}:{acd}`),
//!    with a fresh lookup after the lock is taken and another after any create whose
//!    outcome is unknown (never a second person for one ACD id).
//! 5. Store the run's result (status shows it) and the verdict snapshot.
//!
//! Source calls per run for an org of N people, R of them on the recording roster:
//! `1 + ⌈R/2000⌉ + ⌈N/100⌉ + V`, V = setting reads: every candidate on the first run
//! (bounded per run by `max_setting_reads`), then only new candidates plus about
//! `C × interval / (0.75 × ttl)` re-checks (C candidates). Retries of a page are extra.
//! WFO: 3 reads + 1 read per chunk of creates (+1 per create with an unknown outcome),
//! and exactly one write per change.
//!
//! Listing failures: each page is retried (429 `Retry-After` honoured, backoff on 5xx,
//! one token refresh on 401) before it counts as failed. Licenses or roster not read →
//! the run fails with no write. A People page that still fails after earlier pages →
//! the listing is *partial*: users already read are created and updated, **nobody is
//! deactivated**, and the run is recorded as failed; the next run starts again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use wfo_client::{WfoApi, WfoError, ensure::MAX_CREATE_ATTEMPTS};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_domain::sync::{
    Eligibility, Listing, PersonCreate, PlanCounts, SourceUser, SyncDefaults, SyncInput, SyncPolicy, UpdateKind,
    canonical_acd_id,
};
use wfo_domain::wfo::{Person, RoleRef};
use wfo_webex_calling::{
    CallRecordingSetting, Page, ROSTER_PAGE_SIZE, WebexCallingClient, WebexError, WebexPerson, professional_license_ids,
};

use crate::auth::{self, AuthError};
use crate::ports::{Store, StoreError, StoredConnector};

/// Where the last run's result is kept (per connector).
pub const STATUS_KEY: &str = "user-sync:status";
/// Manifest of the record-mode verdict snapshot; chunks are `{VERDICTS_KEY}:{n}`.
pub const VERDICTS_KEY: &str = "user-sync:verdicts";
/// Verdicts per snapshot chunk, at most (keeps one stored value well under 400 KB).
const VERDICTS_PER_CHUNK: usize = 2000;
/// Concurrent calls are set up this many at a time (bounds memory on big runs).
const BATCH: usize = 1000;

/// Scopes the sync needs besides those of the importer.
pub const REQUIRED_SCOPES: &[&str] = &[
    "spark-admin:people_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
];

/// The lock the contact import and the sync both take before creating the WFO person of
/// one ACD user (`KvStore::try_lock`).
pub fn person_lock_name(connector_id: &str, acd_server_id: i64, acd_id: &str) -> String {
    format!("wfo-person:{connector_id}:{acd_server_id}:{acd_id}")
}

/// The lock that keeps two runs of one connector's sync apart.
pub fn run_lock_name(connector_id: &str) -> String {
    format!("user-sync:{connector_id}")
}

/// How the sync behaves; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Attempts per source call at this level (each after the HTTP layer's own retries).
    pub page_attempts: u32,
    /// Wait between those attempts when the error names none (doubled each time).
    pub page_retry_wait: Duration,
    /// Longest wait for one `Retry-After` at this level; longer → the call fails.
    pub max_page_wait: Duration,
    /// How long a `record` verdict is trusted. `None`: roster membership alone means
    /// "recording on" (no per-person reads).
    pub record_mode_ttl: Option<chrono::Duration>,
    /// Per-person setting reads per run, at most.
    pub max_setting_reads: usize,
    /// Per-person setting reads in flight.
    pub read_concurrency: usize,
    /// WFO writes in flight.
    pub write_concurrency: usize,
    /// Creates per lock-and-lookup round.
    pub create_chunk: usize,
    /// Expiry of the per-agent create locks (covers one chunk).
    pub create_lock_ttl: Duration,
    /// Expiry of the per-connector run lock.
    pub run_lock_ttl: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            page_attempts: 4,
            page_retry_wait: Duration::from_secs(2),
            max_page_wait: Duration::from_secs(120),
            record_mode_ttl: Some(chrono::Duration::days(7)),
            max_setting_reads: 5_000,
            read_concurrency: 4,
            write_concurrency: 4,
            create_chunk: 500,
            create_lock_ttl: Duration::from_secs(600),
            run_lock_ttl: Duration::from_secs(15 * 60),
        }
    }
}

impl SyncSettings {
    /// Short waits for tests and the demo.
    pub fn fast() -> Self {
        Self {
            page_attempts: 3,
            page_retry_wait: Duration::from_millis(10),
            max_page_wait: Duration::from_secs(2),
            read_concurrency: 8,
            write_concurrency: 8,
            ..Self::default()
        }
    }
}

/// Source calls one run made (each an API call, not counting the HTTP layer's retries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceCalls {
    pub licenses: u64,
    pub roster_pages: u64,
    pub people_pages: u64,
    pub setting_reads: u64,
    /// Calls repeated at this level after a failure (included above).
    pub retried: u64,
}

impl SourceCalls {
    pub fn total(&self) -> u64 {
        self.licenses + self.roster_pages + self.people_pages + self.setting_reads
    }
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
    #[error("user sync of kind {0} is not available yet (its source arrives with the Contact Center connector)")]
    Unsupported(ConnectorKind),
    #[error("a user sync of connector '{0}' is already running")]
    Busy(String),
    #[error(
        "the connector's token lacks the scopes the user sync needs: {0}; add them to source.scopes and authorize again"
    )]
    MissingScopes(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("reading users from Webex failed: {0}")]
    Source(#[from] WebexError),
    #[error(
        "the org's license list has no \"Webex Calling - Professional\" license; nothing was changed (every synced user would be deactivated)"
    )]
    NoProfessionalLicense,
    #[error("WFO: {0}")]
    Wfo(#[from] WfoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Nothing changes without an operator (re-authorize, grant a scope, enable).
    pub fn needs_operator(&self) -> bool {
        match self {
            SyncError::Disabled(_) | SyncError::Unsupported(_) | SyncError::MissingScopes(_) => true,
            SyncError::Auth(e) => e.needs_operator(),
            _ => false,
        }
    }
}

/// What a run needs from outside.
pub struct SyncDeps<'a> {
    pub store: &'a dyn Store,
    pub webex: &'a WebexCallingClient,
    pub wfo: &'a dyn WfoApi,
    pub token_http: &'a reqwest::Client,
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
    if cfg.kind != ConnectorKind::WebexCalling {
        return Err(SyncError::Unsupported(cfg.kind));
    }
    let owner = format!("sync-{}", uuid::Uuid::new_v4());
    let lock = run_lock_name(&cfg.id);
    if !deps
        .store
        .try_lock(&lock, &owner, settings.run_lock_ttl, Utc::now())
        .await?
    {
        return Err(SyncError::Busy(cfg.id.clone()));
    }
    let started = Utc::now();
    let result = Run {
        deps,
        connector,
        settings,
        owner: owner.clone(),
        token: Mutex::new(None),
        calls: Mutex::default(),
        lock_renewed: Mutex::new(std::time::Instant::now()),
    }
    .run(started)
    .await;
    if let Err(e) = deps.store.unlock(&lock, &owner).await {
        tracing::warn!(connector = %cfg.id, error = %e, "cannot release the sync lock (it expires)");
    }
    let previous = load_status(deps.store, &cfg.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
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
    let status = SyncStatus {
        last_complete_at: if run.complete {
            run.finished_at
        } else {
            previous.last_complete_at
        },
        last_run: run,
    };
    deps.store
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

/// One run's state.
struct Run<'a> {
    deps: &'a SyncDeps<'a>,
    connector: &'a StoredConnector,
    settings: &'a SyncSettings,
    owner: String,
    token: Mutex<Option<Secret>>,
    calls: Mutex<SourceCalls>,
    /// When the run lock was last extended.
    lock_renewed: Mutex<std::time::Instant>,
}

/// Which counter a source call goes to.
#[derive(Clone, Copy)]
enum CallKind {
    Licenses,
    Roster,
    People,
    Setting,
}

/// What the source listed.
struct SourceListing {
    users: Vec<SourceUser>,
    listing: Listing,
    incomplete: Option<String>,
    people_listed: u64,
    candidates: u64,
    setting_failures: u64,
}

impl Run<'_> {
    async fn run(&self, started: DateTime<Utc>) -> Result<SyncRun, (SourceCalls, SyncError)> {
        match self.run_inner(started).await {
            Ok(r) => Ok(r),
            Err(e) => Err((*self.calls.lock().await, e)),
        }
    }

    async fn run_inner(&self, started: DateTime<Utc>) -> Result<SyncRun, SyncError> {
        let cfg = &self.connector.config;
        self.check_scopes().await?;
        let source = self.read_source(started).await?;

        // WFO state: three reads.
        let wfo = self.deps.wfo;
        let persons = wfo.list_persons().await?;
        let teams = wfo.list_teams().await?;
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
            policy: SyncPolicy::webex_calling(),
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
            warnings: plan.warnings.len() as u64 + source.setting_failures,
            warning_samples: plan.warnings.iter().take(10).map(ToString::to_string).collect(),
            ..SyncRun::default()
        };
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
        run.source_calls = *self.calls.lock().await;
        let mut problems: Vec<String> = Vec::new();
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
            .deps
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
        let id = &self.connector.config.id;
        let record = self.deps.store.get_tokens(id).await?;
        let Some(tokens) = record.tokens else {
            return Err(AuthError::NotAuthorized(id.clone()).into());
        };
        let missing: Vec<&str> = REQUIRED_SCOPES
            .iter()
            .copied()
            .filter(|s| !tokens.scopes.iter().any(|t| t == s))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SyncError::MissingScopes(missing.join(", ")))
        }
    }

    async fn token(&self, refresh: bool) -> Result<Secret, SyncError> {
        let mut slot = self.token.lock().await;
        if refresh {
            auth::refresh(self.deps.store, self.connector, self.deps.token_http, Utc::now()).await?;
            *slot = None;
        }
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = auth::access_token(self.deps.store, self.connector, self.deps.token_http, Utc::now()).await?;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// One source call with this level's retries: `Retry-After` honoured (up to
    /// `max_page_wait`), doubling waits otherwise, one token refresh on `401`.
    async fn call<T, F, Fut>(&self, kind: CallKind, mut f: F) -> Result<T, SyncError>
    where
        F: FnMut(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, WebexError>>,
    {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.renew_lock().await?;
            let token = self.token(false).await?;
            {
                let mut c = self.calls.lock().await;
                match kind {
                    CallKind::Licenses => c.licenses += 1,
                    CallKind::Roster => c.roster_pages += 1,
                    CallKind::People => c.people_pages += 1,
                    CallKind::Setting => c.setting_reads += 1,
                }
                if attempt > 1 {
                    c.retried += 1;
                }
            }
            match f(token).await {
                Ok(v) => return Ok(v),
                Err(WebexError::Unauthorized { .. }) if !refreshed => {
                    refreshed = true;
                    self.token(true).await?;
                }
                Err(e) if e.is_retryable() && attempt < self.settings.page_attempts => {
                    let backoff = self.settings.page_retry_wait.saturating_mul(1 << (attempt - 1).min(8));
                    let wait = e.retry_after().unwrap_or(backoff);
                    if wait > self.settings.max_page_wait {
                        return Err(e.into());
                    }
                    tracing::debug!(connector = %self.connector.config.id, attempt, wait_ms = wait.as_millis() as u64, error = %e, "source call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn read_source(&self, now: DateTime<Utc>) -> Result<SourceListing, SyncError> {
        let webex = self.deps.webex;
        let licenses = self
            .call(CallKind::Licenses, |t| async move { webex.list_licenses(&t).await })
            .await?;
        let professional: HashSet<String> = professional_license_ids(&licenses)
            .iter()
            .map(|id| license_key(id))
            .collect();
        if professional.is_empty() {
            return Err(SyncError::NoProfessionalLicense);
        }
        let roster = self.read_roster().await?;

        // People: page by page; a page that keeps failing makes the listing partial.
        let mut people: Vec<WebexPerson> = Vec::new();
        let mut incomplete = None;
        match self
            .call(CallKind::People, |t| async move { webex.list_people_page(&t).await })
            .await
        {
            Err(e) => incomplete = Some(format!("the People listing failed on page 1: {e}")),
            Ok(first) => {
                let mut page: Page<WebexPerson> = first;
                let mut n = 1;
                loop {
                    people.append(&mut page.items);
                    if !page.has_next() {
                        break;
                    }
                    n += 1;
                    let current = &page;
                    match self
                        .call(CallKind::People, |t| async move { webex.next_page(&t, current).await })
                        .await
                    {
                        Ok(Some(next)) => page = next,
                        Ok(None) => break,
                        Err(e) => {
                            incomplete = Some(format!(
                                "the People listing failed on page {n} after {} people were read; nobody was deactivated: {e}",
                                people.len()
                            ));
                            break;
                        }
                    }
                }
            }
        }
        let complete = incomplete.is_none();

        // Candidates and their record-mode verdicts.
        let mut verdicts = Verdicts::load(self.deps.store, &self.connector.config.id).await;
        let mut users = Vec::with_capacity(people.len());
        let mut candidates: Vec<(String, String)> = Vec::new(); // (canonical id, REST id)
        for p in people.iter().filter(|p| p.is_person()) {
            let id = canonical_acd_id(&p.id);
            let pro = p.licenses.iter().any(|l| professional.contains(&license_key(l)));
            if pro && roster.contains(&id) {
                candidates.push((id.clone(), p.id.clone()));
            }
            users.push(SourceUser {
                acd_id: id,
                first_name: p.first_name.clone().unwrap_or_default(),
                last_name: p.last_name.clone().unwrap_or_default(),
                display_name: p
                    .display_name
                    .clone()
                    .or_else(|| p.nick_name.clone())
                    .unwrap_or_default(),
                email: p.email().map(str::to_owned),
                eligibility: Eligibility::NotEligible,
            });
        }
        let mut setting_failures = 0;
        let recording: BTreeMap<String, Option<bool>> = match self.settings.record_mode_ttl {
            None => candidates.iter().map(|(id, _)| (id.clone(), Some(true))).collect(),
            Some(ttl) => {
                let due = verdicts.due(&candidates, now, ttl, self.settings.max_setting_reads);
                let mut read: Vec<(String, Result<CallRecordingSetting, SyncError>)> = Vec::with_capacity(due.len());
                for batch in due.chunks(BATCH) {
                    let reads: Vec<_> = batch
                        .iter()
                        .map(|(id, rest_id)| async move {
                            let r = self
                                .call(CallKind::Setting, |t| async move {
                                    webex.person_call_recording(&t, rest_id).await
                                })
                                .await;
                            (id.clone(), r)
                        })
                        .collect();
                    let done: Vec<_> = futures::stream::iter(reads)
                        .buffer_unordered(self.settings.read_concurrency.max(1))
                        .collect()
                        .await;
                    read.extend(done);
                }
                for (id, r) in read {
                    match r {
                        Ok(setting) => verdicts.set(&id, setting.records(), now),
                        Err(e @ SyncError::Auth(_)) => return Err(e),
                        Err(e) => {
                            setting_failures += 1;
                            tracing::debug!(acd_id = %id, error = %e, "cannot read the recording setting; keeping the last verdict");
                        }
                    }
                }
                candidates
                    .iter()
                    .map(|(id, _)| (id.clone(), verdicts.get(id)))
                    .collect()
            }
        };
        for u in &mut users {
            u.eligibility = match recording.get(&u.acd_id) {
                None => Eligibility::NotEligible,
                Some(Some(true)) => Eligibility::Eligible,
                Some(Some(false)) => Eligibility::NotEligible,
                Some(None) => Eligibility::Skipped,
            };
        }
        if complete {
            let keep: BTreeSet<&str> = candidates.iter().map(|(id, _)| id.as_str()).collect();
            verdicts.retain(&keep);
        }
        if let Err(e) = verdicts.save(self.deps.store, &self.connector.config.id).await {
            tracing::warn!(connector = %self.connector.config.id, error = %e, "cannot store the recording verdicts (next run reads them again)");
        }
        Ok(SourceListing {
            people_listed: people.len() as u64,
            candidates: candidates.len() as u64,
            users,
            listing: if complete { Listing::Complete } else { Listing::Partial },
            incomplete,
            setting_failures,
        })
    }

    /// Every member of the call-recording roster (canonical ids of people). `Link` is
    /// followed; without one, a full page is followed by the next `start` offset.
    async fn read_roster(&self) -> Result<HashSet<String>, SyncError> {
        let webex = self.deps.webex;
        let mut out = HashSet::new();
        // Members read so far = the offset of the next page.
        let mut read = 0u32;
        let mut page = self
            .call(CallKind::Roster, |t| async move {
                webex.recording_roster_page(&t, 0, ROSTER_PAGE_SIZE).await
            })
            .await?;
        loop {
            let len = page.items.len() as u32;
            read += len;
            out.extend(
                page.items
                    .iter()
                    .filter(|m| m.is_person())
                    .map(|m| canonical_acd_id(&m.id)),
            );
            if page.has_next() {
                let current = &page;
                match self
                    .call(CallKind::Roster, |t| async move { webex.next_page(&t, current).await })
                    .await?
                {
                    Some(next) => page = next,
                    None => break,
                }
            } else if len >= ROSTER_PAGE_SIZE {
                // A full page without `Link`: ask for the next offset explicitly.
                let start = read;
                page = self
                    .call(CallKind::Roster, |t| async move {
                        webex.recording_roster_page(&t, start, ROSTER_PAGE_SIZE).await
                    })
                    .await?;
            } else {
                break;
            }
        }
        Ok(out)
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
        let store = self.deps.store;
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

/// A license id compared across the listing and `person.licenses` (decoded when it is a
/// base64 REST id, so two encodings of one id match).
fn license_key(id: &str) -> String {
    wfo_webex_calling::webex_id_to_uuid(id)
}

/// The stored `record` verdicts: canonical id → (recording on, checked at, epoch s).
struct Verdicts {
    entries: BTreeMap<String, (bool, i64)>,
    /// The chunks as loaded, to write back only what changed.
    loaded: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    chunks: usize,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Verdicts {
    async fn load(store: &dyn Store, connector_id: &str) -> Self {
        let mut out = Self {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        let chunks = match store.get_value(connector_id, VERDICTS_KEY).await {
            Ok(Some(v)) => serde_json::from_value::<Manifest>(v).map(|m| m.chunks).unwrap_or(0),
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!(connector = connector_id, error = %e, "cannot read the recording verdicts; reading settings again");
                0
            }
        };
        for n in 0..chunks {
            let v = store
                .get_value(connector_id, &format!("{VERDICTS_KEY}:{n}"))
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if let Ok(map) = serde_json::from_value::<BTreeMap<String, (bool, i64)>>(v.clone()) {
                out.entries.extend(map);
            }
            out.loaded.push(v);
        }
        out
    }

    fn get(&self, id: &str) -> Option<bool> {
        self.entries.get(id).map(|(on, _)| *on)
    }

    fn set(&mut self, id: &str, on: bool, now: DateTime<Utc>) {
        self.entries.insert(id.to_owned(), (on, now.timestamp()));
    }

    fn retain(&mut self, keep: &BTreeSet<&str>) {
        self.entries.retain(|id, _| keep.contains(id.as_str()));
    }

    /// Candidates whose verdict is missing (first, in listing order) or stale (oldest
    /// first), at most `budget`. A verdict is stale after `ttl × (0.5 + 0.5 × h)`, h a
    /// per-user hash fraction, so the verdicts of one big first run expire spread out.
    fn due(
        &self,
        candidates: &[(String, String)],
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        budget: usize,
    ) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        let mut stale = Vec::new();
        for (id, rest) in candidates {
            match self.entries.get(id) {
                None => missing.push((id.clone(), rest.clone())),
                Some((_, at)) => {
                    let h = (fnv1a(id) % 1000) as f64 / 1000.0;
                    let limit = ttl.num_seconds() as f64 * (0.5 + 0.5 * h);
                    if (now.timestamp() - at) as f64 >= limit {
                        stale.push((*at, id.clone(), rest.clone()));
                    }
                }
            }
        }
        stale.sort();
        missing
            .into_iter()
            .chain(stale.into_iter().map(|(_, id, rest)| (id, rest)))
            .take(budget)
            .collect()
    }

    async fn save(&self, store: &dyn Store, connector_id: &str) -> Result<(), StoreError> {
        let chunks = self
            .entries
            .len()
            .div_ceil(VERDICTS_PER_CHUNK)
            .max(1)
            .next_power_of_two();
        let mut parts: Vec<BTreeMap<&str, (bool, i64)>> = vec![BTreeMap::new(); chunks];
        for (id, v) in &self.entries {
            parts[(fnv1a(id) % chunks as u64) as usize].insert(id, *v);
        }
        for (n, part) in parts.iter().enumerate() {
            let v = serde_json::to_value(part).unwrap_or_default();
            if self.loaded.get(n) != Some(&v) || self.loaded.len() != chunks {
                store
                    .put_value(connector_id, &format!("{VERDICTS_KEY}:{n}"), &v)
                    .await?;
            }
        }
        if self.loaded.len() != chunks {
            store
                .put_value(connector_id, VERDICTS_KEY, &serde_json::json!({ "chunks": chunks }))
                .await?;
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

    #[test]
    fn missing_verdicts_come_first_then_stale_ones_oldest_first_within_the_budget() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let ttl = chrono::Duration::days(7);
        let mut v = Verdicts {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        v.set("fresh", true, now - chrono::Duration::hours(1));
        v.set("old", true, now - chrono::Duration::days(8));
        v.set("older", true, now - chrono::Duration::days(9));
        let c = |ids: &[&str]| {
            ids.iter()
                .map(|i| ((*i).to_owned(), format!("rest-{i}")))
                .collect::<Vec<_>>()
        };
        let due = v.due(&c(&["fresh", "old", "new", "older"]), now, ttl, 10);
        let ids: Vec<&str> = due.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["new", "older", "old"]);
        assert_eq!(v.due(&c(&["fresh", "old", "new", "older"]), now, ttl, 2).len(), 2);
    }

    #[test]
    fn verdicts_expire_spread_between_half_and_all_of_the_ttl() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let ttl = chrono::Duration::days(8);
        let mut v = Verdicts {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        let ids: Vec<(String, String)> = (0..1000).map(|i| (format!("user-{i}"), String::new())).collect();
        for (id, _) in &ids {
            v.set(id, true, now - chrono::Duration::days(6));
        }
        let due = v.due(&ids, now, ttl, usize::MAX).len();
        assert!(
            (300..700).contains(&due),
            "about half are due after 3/4 of the ttl: {due}"
        );
        assert!(
            v.due(&ids, now - chrono::Duration::days(3), ttl, usize::MAX).is_empty(),
            "none before half"
        );
    }
}
