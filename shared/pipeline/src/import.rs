//! The import worker: advances one ledger item (a recording, a task) one idempotent step
//! at a time, whatever its source: the item's connector names its [`Source`] through the
//! registry, and every source failure arrives as a [`SourceError`] that says what to do.
//!
//! ```text
//! discovered       --Source::plan (payloads, segmentation)--> metadata_fetched (plan stored)
//! metadata_fetched --persons, contacts (ids written back)--> contacts_imported
//! contacts_imported --Source::open_media, slice, upload--> audio_uploaded -> done
//! ```
//!
//! Each step writes its result to the ledger before the next begins, so a crash between
//! any two steps repeats at most the step that was running, and every repeat is safe:
//! contacts are created through lookup-before-create on a deterministic `externalId`,
//! persons under a cross-process lock, audio uploads replace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::Mutex;
use wfo_client::{AudioBody, NewAgent, WfoApi, WfoClient, WfoClientConfig, WfoError};
use wfo_domain::ledger::{AgentName, Health, LedgerItem, RetrySchedule, Stage};
use wfo_domain::mapping::{MetadataRule, resolve_rules};
use wfo_domain::segment::SegmentContext;
use wfo_domain::sync::placeholder_names;
use wfo_domain::wfo::{AudioFormat, ContactImport};
use wfo_http::RetryPolicy;
use wfo_ports::SourceError;

use crate::connections::{Connection, Connections};
use crate::ports::{Store, StoreError, StoredConnector};

/// Audio transfers one step tries before a transient failure costs the item an attempt.
const AUDIO_TRIES_PER_STEP: u32 = 3;

/// The least time a step is started with before a deadline.
pub const MIN_STEP_TIME: Duration = Duration::from_secs(5);

/// How the worker behaves; tests shorten the delays.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub retry: RetrySchedule,
    /// Retry policy of the HTTP clients (in-call retries).
    pub http_policy: RetryPolicy,
    /// How long an item is leased to one worker; renewed every third of it while a step
    /// runs, so a worker that dies (SIGKILL, a lost Lambda) frees its items within one
    /// lease and the sweeper's next pass.
    pub lease: Duration,
    /// How long the per-agent person lock is taken for; renewed the same way while the
    /// person is looked up and created.
    pub person_lock: Duration,
    /// How long to wait before looking again when the source says "not ready yet".
    pub not_ready_delay: chrono::Duration,
    /// How long an item may stay "not ready" before it is declared dead.
    pub not_ready_limit: chrono::Duration,
    /// How long to wait before looking again while the connector needs an operator.
    pub paused_delay: chrono::Duration,
    /// How long resolved metadata rules are reused before asking WFO again.
    pub rules_ttl: chrono::Duration,
    /// The longest wait between checks for audio that comes after its contacts, whatever
    /// the source's schedule says (`None`: the source's schedule; tests and the demo
    /// shorten it, since their simulated hours pass in seconds).
    pub audio_check_cap: Option<chrono::Duration>,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            http_policy: RetryPolicy::default(),
            lease: Duration::from_secs(30),
            person_lock: Duration::from_secs(60),
            not_ready_delay: chrono::Duration::minutes(5),
            // As long as the retry schedule keeps trying: a recording whose metadata is
            // late is not given up before the source would have dropped it anyway.
            not_ready_limit: chrono::Duration::days(7),
            paused_delay: chrono::Duration::minutes(5),
            rules_ttl: chrono::Duration::minutes(10),
            audio_check_cap: None,
        }
    }
}

impl ImportSettings {
    /// Short delays for tests and the demo.
    pub fn fast() -> Self {
        Self {
            retry: RetrySchedule {
                max_attempts: 12,
                base: chrono::Duration::milliseconds(20),
                max: chrono::Duration::milliseconds(300),
                keep_trying_for: chrono::Duration::zero(),
            },
            http_policy: RetryPolicy::fast(),
            lease: Duration::from_secs(60),
            person_lock: Duration::from_secs(60),
            not_ready_delay: chrono::Duration::milliseconds(200),
            not_ready_limit: chrono::Duration::minutes(2),
            paused_delay: chrono::Duration::milliseconds(500),
            rules_ttl: chrono::Duration::seconds(30),
            audio_check_cap: Some(chrono::Duration::milliseconds(500)),
        }
    }
}

/// What one call of [`Importer::process`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished (or already finished before).
    Done,
    /// Will be looked at again at this time (retry, not ready, paused).
    Later(DateTime<Utc>),
    /// Gave up; the reason is on the ledger item.
    Dead(String),
    /// Another worker holds the item right now.
    Busy,
    /// The ledger has no such item.
    Unknown,
}

/// A step's failure, classified.
enum StepError {
    /// Transient: count an attempt, back off (at least `retry_after`).
    Retry(String, Option<Duration>),
    /// Not our failure: wait without counting (audio not ready yet).
    Wait(String, chrono::Duration),
    /// A problem an operator can fix (credentials, permissions, roles, default team,
    /// configuration): the connector is marked as needing an operator, the item is held
    /// without counting and looked at again after `paused_delay`, so it resumes by
    /// itself once the problem is gone.
    Operator(String),
    /// Permanent: nothing will change without an operator.
    Permanent(String),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            StepError::Retry(e.to_string(), None)
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

/// What a WFO failure means for the item.
fn wfo_step(e: WfoError) -> StepError {
    match e {
        // Problems of the whole connector an operator fixes in WFO: hold items, lose none.
        WfoError::Unauthorized | WfoError::MissingDefault { .. } | WfoError::Rejected { status: 401 | 403, .. } => {
            StepError::Operator(e.to_string())
        }
        ref other if other.is_retryable() => StepError::Retry(other.to_string(), other.retry_after()),
        // The person was created by someone else between our check and the import.
        WfoError::UnknownAgent { .. } => StepError::Retry(e.to_string(), None),
        other => StepError::Permanent(other.to_string()),
    }
}

/// Per-connector WFO clients, built once and reused (WFO session, connection pools).
struct WfoCtx {
    /// The WFO settings it was built from (rebuilt when they change).
    config: wfo_domain::config::WfoConfig,
    wfo: Arc<dyn WfoApi>,
    rules: Mutex<Option<(DateTime<Utc>, Vec<MetadataRule>)>>,
}

/// The import worker.
pub struct Importer {
    connections: Arc<Connections>,
    store: Arc<dyn Store>,
    settings: ImportSettings,
    owner: String,
    contexts: Mutex<HashMap<String, Arc<WfoCtx>>>,
    marks: crate::attention::Marks,
    /// Persons this process has seen in WFO: their agents' next contacts skip the person
    /// lock and the directory listing (a contact naming a person that is gone is refused
    /// with `UnknownAgent`, which forgets it).
    known_persons: std::sync::Mutex<std::collections::HashSet<String>>,
    /// One async gate per agent whose person is being ensured by this process: the
    /// process's other tasks for that agent wait on it (woken the moment it opens, then
    /// finding the person known) instead of polling the store's cross-process lock.
    person_gates: std::sync::Mutex<HashMap<String, std::sync::Weak<Mutex<()>>>>,
    /// Per connector: which mapping paths matched lately, and when it was last written.
    mapping_watch: Mutex<HashMap<String, (crate::mapping_watch::PathWatch, DateTime<Utc>)>>,
    /// Per connector: when this process last wrote its `last-import` mark.
    imports_noted: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
}

/// How often a connector's `last-import` mark is written at most, per process.
const LAST_IMPORT_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How long a task waits for this process's other task ensuring the same person.
const PERSON_GATE_WAIT: Duration = Duration::from_secs(5);

/// Persons remembered at most (the set starts over beyond it; memory stays bounded).
const MAX_KNOWN_PERSONS: usize = 200_000;

fn person_key(connector_id: &str, contact: &ContactImport) -> String {
    crate::sync::person_lock_name(
        connector_id,
        contact.agent.acd_server_id,
        &wfo_domain::sync::canonical_acd_id(&contact.agent.acd_id),
    )
}

impl Importer {
    pub fn new(connections: Arc<Connections>, settings: ImportSettings) -> Self {
        Self {
            store: connections.store().clone(),
            connections,
            settings,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            contexts: Mutex::new(HashMap::new()),
            marks: crate::attention::Marks::default(),
            known_persons: Default::default(),
            person_gates: Default::default(),
            mapping_watch: Mutex::new(HashMap::new()),
            imports_noted: Default::default(),
        }
    }

    /// Record which mapping paths one planned item's payload lacked; log and store the
    /// paths that matched nothing for a day (see [`crate::mapping_watch`]).
    async fn watch_mapping(
        &self,
        connector_id: &str,
        configured: &[String],
        misses: &[wfo_domain::mapping::UnmatchedPath],
    ) {
        let now = Utc::now();
        let mut all = self.mapping_watch.lock().await;
        if !all.contains_key(connector_id) {
            let stored = crate::mapping_watch::load(self.store.as_ref(), connector_id)
                .await
                .unwrap_or_default();
            all.insert(connector_id.to_owned(), (stored, now));
        }
        let Some((watch, flushed)) = all.get_mut(connector_id) else {
            return;
        };
        let changed = watch.observe(configured, misses, now);
        let reports = watch.take_reports(now);
        for r in &reports {
            tracing::warn!(connector = connector_id, path = %r.path, nearest = ?r.nearest, "{}", crate::mapping_watch::describe(r));
        }
        if changed || !reports.is_empty() || now - *flushed >= crate::mapping_watch::FLUSH_EVERY {
            match serde_json::to_value(&*watch) {
                Ok(v) => {
                    if let Err(e) = self
                        .store
                        .put_value(connector_id, crate::mapping_watch::WATCH_KEY, &v)
                        .await
                    {
                        tracing::debug!(connector = connector_id, error = %e, "cannot store the mapping watch (kept in memory)");
                    } else {
                        *flushed = now;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot encode the mapping watch"),
            }
        }
    }

    /// The connector imported a contact: its `last-import` mark (the quiet-connector alarm,
    /// [`crate::monitor`]) is written at most once a [`LAST_IMPORT_EVERY`] per process,
    /// not once per recording — the alarm counts in minutes, the pipeline in milliseconds.
    async fn note_import(&self, connector_id: &str) {
        let now = Utc::now();
        {
            let mut noted = self
                .imports_noted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if noted.get(connector_id).is_some_and(|at| now - *at < LAST_IMPORT_EVERY) {
                return;
            }
            noted.insert(connector_id.to_owned(), now);
        }
        crate::monitor::record_import(self.store.as_ref(), connector_id, now).await;
    }

    fn person_known(&self, key: &str) -> bool {
        self.known_persons.lock().is_ok_and(|k| k.contains(key))
    }

    fn remember_person(&self, key: String) {
        if let Ok(mut k) = self.known_persons.lock() {
            if k.len() >= MAX_KNOWN_PERSONS {
                k.clear();
            }
            k.insert(key);
        }
    }

    /// Why the connector's credential cannot be used until an operator acts, when that is
    /// known without calling anyone ([`wfo_ports::Credentials::ready`]: re-authorization
    /// required, no key configured). `None` when it may work, or cannot be told here.
    async fn credentials_held(&self, connector: Option<&StoredConnector>) -> Option<String> {
        let conn = self.connections.get(connector?).await.ok()?;
        match conn.credentials.ready().await {
            Err(e) if e.needs_operator() => Some(e.to_string()),
            _ => None,
        }
    }

    /// The gate of agent `key` (shared while anyone holds it; dropped gates are pruned).
    fn person_gate(&self, key: &str) -> Arc<Mutex<()>> {
        let mut gates = self
            .person_gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(g) = gates.get(key).and_then(std::sync::Weak::upgrade) {
            return g;
        }
        if gates.len() >= 1_024 {
            gates.retain(|_, w| w.strong_count() > 0);
        }
        let g = Arc::new(Mutex::new(()));
        gates.insert(key.to_owned(), Arc::downgrade(&g));
        g
    }

    fn forget_person(&self, key: &str) {
        if let Ok(mut k) = self.known_persons.lock() {
            k.remove(key);
        }
    }

    /// An item of the connector is held by a problem an operator must fix.
    async fn operator_needed(&self, connector_id: &str, reason: &str) {
        self.marks
            .mark(self.store.as_ref(), connector_id, reason, Utc::now())
            .await;
    }

    /// An item was given up: one ERROR line and the `ItemsDead` metric.
    fn died(&self, item: &LedgerItem, reason: &str) {
        tracing::error!(connector = %item.connector_id, item = %item.item_id, stage = item.stage.as_str(), error = %reason, "import dead: needs an operator (wfo-connect backfill retries it)");
        crate::metrics::item_dead(&item.connector_id, &item.item_id, reason, Utc::now());
    }

    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    async fn context(&self, connector: &StoredConnector) -> Arc<WfoCtx> {
        let cfg = &connector.config;
        let mut map = self.contexts.lock().await;
        if let Some(ctx) = map.get(&cfg.id)
            && ctx.config == cfg.wfo
        {
            return ctx.clone();
        }
        let mut wfo_cfg = WfoClientConfig::new(
            cfg.wfo.api_url.clone(),
            cfg.wfo.username.clone(),
            cfg.wfo.password.clone(),
        );
        wfo_cfg.policy = self.settings.http_policy.clone();
        let wfo = WfoClient::with_http_client(wfo_cfg, self.connections.http().clone());
        let ctx = Arc::new(WfoCtx {
            config: cfg.wfo.clone(),
            wfo: Arc::new(wfo),
            rules: Mutex::new(None),
        });
        map.insert(cfg.id.clone(), ctx.clone());
        ctx
    }

    /// The WFO client of a connector (for inspection and sync code that shares sessions).
    pub async fn wfo_for(&self, connector: &StoredConnector) -> Arc<dyn WfoApi> {
        self.context(connector).await.wfo.clone()
    }

    async fn rules(
        &self,
        ctx: &WfoCtx,
        connector: &StoredConnector,
        now: DateTime<Utc>,
    ) -> Result<Vec<MetadataRule>, StepError> {
        let mappings: Vec<(String, String)> = connector
            .config
            .metadata_mapping
            .iter()
            .map(|m| (m.acd_field.clone(), m.label.clone()))
            .collect();
        if mappings.is_empty() {
            return Ok(Vec::new());
        }
        let mut cached = ctx.rules.lock().await;
        if let Some((at, rules)) = cached.as_ref()
            && now - *at < self.settings.rules_ttl
        {
            return Ok(rules.clone());
        }
        let keys = ctx.wfo.list_metadata_keys().await.map_err(wfo_step)?;
        let rules =
            resolve_rules(&mappings, &keys).map_err(|e| StepError::Operator(format!("metadata mapping: {e}")))?;
        *cached = Some((now, rules.clone()));
        Ok(rules)
    }

    /// Advance one item as far as it goes now.
    pub async fn process(&self, connector_id: &str, item_id: &str) -> Outcome {
        self.process_until(connector_id, item_id, None).await
    }

    /// [`Self::process`] within a deadline (a Lambda invocation's, less a margin): no step
    /// starts with less than [`MIN_STEP_TIME`] left, and a step still running at the
    /// deadline is cut off with the item saved and the attempt counted.
    pub async fn process_until(
        &self,
        connector_id: &str,
        item_id: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Outcome {
        // Taken before the lease's start, so the lease is never younger than it thinks.
        let leased_at = tokio::time::Instant::now();
        let now = Utc::now();
        // One owner per call: the lease must exclude this process's other tasks too
        // (duplicate messages for one item are normal).
        let owner = format!("{}:{}", self.owner, uuid::Uuid::new_v4());
        // The lease and the item as it stands, in one store call.
        let item = match self
            .store
            .lease_get(connector_id, item_id, &owner, self.settings.lease, now)
            .await
        {
            Ok(Some(item)) => item,
            // A lease also fails when there is no such item: tell the two apart, so a
            // message naming no item is dead-lettered instead of acked as "busy".
            Ok(None) => {
                return match self.store.get(connector_id, item_id).await {
                    Ok(None) => Outcome::Unknown,
                    _ => Outcome::Busy,
                };
            }
            Err(e) => {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot lease item");
                // Leased but unreadable (a stored body that does not decode): not held
                // until the lease runs out.
                let _ = self.store.release(connector_id, item_id, &owner).await;
                return Outcome::Later(now + self.settings.retry.base);
            }
        };
        let done_before = item.stage == Stage::Done;
        // A panic in one item's work (a bug, or input nobody foresaw) is caught here:
        // recorded on the item as a failed attempt, never the end of a worker loop.
        let outcome = match std::panic::AssertUnwindSafe(self.run(item, &owner, leased_at, deadline))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(panic) => {
                self.record_panic(connector_id, item_id, panic_text(panic.as_ref()))
                    .await
            }
        };
        // Done recorded now was a put that ended the lease with it; otherwise let go (an
        // item found done was leased all the same).
        if (done_before || !matches!(outcome, Outcome::Done))
            && let Err(e) = self.store.release(connector_id, item_id, &owner).await
        {
            tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot release lease (it will expire)");
        }
        outcome
    }

    async fn run(
        &self,
        mut item: LedgerItem,
        owner: &str,
        mut leased_at: tokio::time::Instant,
        deadline: Option<tokio::time::Instant>,
    ) -> Outcome {
        let (connector_id, item_id) = (item.connector_id.clone(), item.item_id.clone());
        let (connector_id, item_id) = (connector_id.as_str(), item_id.as_str());
        if item.stage == Stage::Done {
            return Outcome::Done;
        }
        if item.health == Health::Dead {
            return Outcome::Dead(item.last_error.clone().unwrap_or_default());
        }
        // Read once for every step of this run (a change of the connector's settings
        // applies from the next message on). Gone: the step says so, as a failed attempt.
        let connector = match self.store.get_connector(connector_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot read the connector");
                return Outcome::Later(Utc::now() + self.settings.retry.base);
            }
        };
        // Held for an operator, who has not acted yet (the credential still waits for
        // re-authorization): looked at again later without beginning a step — no attempt,
        // no source call, the item's state unchanged but for its next look.
        if item.health == Health::NeedsOperator
            && let Some(reason) = self.credentials_held(connector.as_ref()).await
        {
            let now = Utc::now();
            let at = now + self.settings.paused_delay;
            item.hold_for_operator(&reason, at, now);
            return match self.save(&mut item).await {
                Ok(()) => Outcome::Later(at),
                Err(_) => Outcome::Later(now + self.settings.retry.base),
            };
        }
        let mut first = true;
        loop {
            // Renew the lease before a further step once a third of it has passed (as
            // `leased` does during a step), so a long item keeps it; if it expired and
            // another worker took the item over, leave it to them. Younger, it is still
            // ours whatever happened since (nobody takes a lease before it ends), and
            // the step's first save is conditional on the version we hold anyway: one
            // store write per step saved, no weaker fence.
            if !first && leased_at.elapsed() >= self.settings.lease / 3 {
                let renewed_at = tokio::time::Instant::now();
                match self
                    .store
                    .lease(connector_id, item_id, owner, self.settings.lease, Utc::now())
                    .await
                {
                    Ok(true) => leased_at = renewed_at,
                    Ok(false) => return Outcome::Busy,
                    Err(e) => {
                        tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot renew the lease");
                        return Outcome::Later(Utc::now() + self.settings.retry.base);
                    }
                }
            }
            first = false;
            if let Some(d) = deadline
                && d.saturating_duration_since(tokio::time::Instant::now()) < MIN_STEP_TIME
            {
                // Not enough time left for a step: stop cleanly, due again at once.
                let now = Utc::now();
                item.next_attempt_at = Some(now);
                return match self.save(&mut item).await {
                    Ok(()) => Outcome::Later(now),
                    Err(_) => Outcome::Later(now + self.settings.retry.base),
                };
            }
            // The attempt is counted as the step begins: a step cut off by a crash or a
            // timeout is still a visible attempt with a reason.
            let held = chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::minutes(15));
            // Contacts this step may import without a lookup: marked with the step's start.
            let fresh = if item.stage == Stage::MetadataFetched {
                item.mark_imports_sent()
            } else {
                Vec::new()
            };
            if !item.begin_step(&self.settings.retry, held, Utc::now()) {
                let text = item.last_error.clone().unwrap_or_default();
                self.died(&item, &text);
                let _ = self.save(&mut item).await;
                return Outcome::Dead(text);
            }
            if let Err(e) = self.save(&mut item).await {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record the step's start; will look again");
                return Outcome::Later(Utc::now() + self.settings.retry.base);
            }
            let before = item.stage;
            let work = self.leased(
                connector_id,
                item_id,
                owner,
                self.step(&mut item, connector.as_ref(), &fresh),
            );
            let result = match deadline {
                None => work.await,
                Some(d) => {
                    match tokio::time::timeout_at(d, work).await {
                        Ok(r) => r,
                        Err(_) => {
                            // Cut off: what the step saved is what counts.
                            if let Ok(Some(saved)) = self.store.get(connector_id, item_id).await {
                                item = saved;
                            }
                            Some(Err(StepError::Retry(
                                "the step did not finish before the invocation's deadline".to_owned(),
                                None,
                            )))
                        }
                    }
                }
            };
            let Some(result) = result else {
                // The lease was lost mid-step (this worker stalled past it and another
                // took the item over): leave the item to them, record nothing.
                tracing::warn!(
                    connector = connector_id,
                    item = item_id,
                    "lease lost during a step; another worker has the item"
                );
                return Outcome::Busy;
            };
            let now = Utc::now();
            if result.is_ok() {
                self.marks.clear(self.store.as_ref(), connector_id).await;
            }
            match result {
                // A step that went on ends with its result unsaved: saved below when the
                // item is done, or together with the next step's start (one conditional
                // write for both; if it fails, the next attempt repeats the step, which
                // every step tolerates).
                Ok(()) => {
                    if item.stage == Stage::Done {
                        if let Err(e) = self.save(&mut item).await {
                            tracing::warn!(connector = connector_id, item = item_id, error = %e, "import done but not recorded; will look again");
                            return Outcome::Later(now + self.settings.retry.base);
                        }
                        // `seconds`: from discovery to done (Logs Insights: the slowest imports).
                        tracing::info!(
                            connector = connector_id,
                            item = item_id,
                            contacts = item.contacts.len(),
                            attempts = item.attempts,
                            seconds = (now - item.discovered_at).num_milliseconds().max(0) as f64 / 1000.0,
                            "import done"
                        );
                        return Outcome::Done;
                    }
                    if item.stage == before {
                        // No progress without an error: should not happen; avoid a spin.
                        let _ = self.save(&mut item).await;
                        return Outcome::Later(now + self.settings.retry.base);
                    }
                }
                Err(err) => {
                    if item.stage == Stage::Done {
                        // All the work is done; only recording that failed. Record it
                        // as done again rather than as a failure of a finished item.
                        item.advance(Stage::Done, now);
                        return match self.save(&mut item).await {
                            Ok(()) => Outcome::Done,
                            Err(e) => {
                                tracing::warn!(connector = connector_id, item = item_id, error = %e, "import done but not recorded; will look again");
                                Outcome::Later(now + self.settings.retry.base)
                            }
                        };
                    }
                    let waiting = matches!(err, StepError::Wait(..));
                    let (log_text, outcome) = match err {
                        StepError::Retry(text, retry_after) => {
                            let ra = retry_after.and_then(|d| chrono::Duration::from_std(d).ok());
                            match item.fail(&text, &self.settings.retry, ra, now) {
                                Some(at) => (text, Outcome::Later(at)),
                                None => (text.clone(), Outcome::Dead(text)),
                            }
                        }
                        StepError::Wait(text, delay) => {
                            item.wait(&text, now + delay, now);
                            (text, Outcome::Later(now + delay))
                        }
                        StepError::Operator(text) => {
                            let at = now + self.settings.paused_delay;
                            item.hold_for_operator(&text, at, now);
                            self.operator_needed(connector_id, &text).await;
                            (text, Outcome::Later(at))
                        }
                        StepError::Permanent(text) => {
                            item.kill(&text, now);
                            (text.clone(), Outcome::Dead(text))
                        }
                    };
                    match &outcome {
                        Outcome::Dead(_) => self.died(&item, &log_text),
                        // Not a failure: the source has not got it yet (audio to come).
                        Outcome::Later(at) if waiting => {
                            tracing::info!(connector = connector_id, item = item_id, stage = item.stage.as_str(), next = %at, reason = %log_text, "import waits for the source")
                        }
                        _ => {
                            tracing::warn!(connector = connector_id, item = item_id, stage = item.stage.as_str(), attempts = item.attempts, error = %log_text, "import step failed; will retry")
                        }
                    }
                    if let Err(e) = self.save(&mut item).await {
                        tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record failure");
                        if !e.is_retryable() {
                            // The store will never take this item as it is (too large for
                            // DynamoDB): record the stored version as dead, visibly.
                            return self
                                .kill_stored(
                                    connector_id,
                                    item_id,
                                    &format!("{log_text}; the item cannot be saved: {e}"),
                                )
                                .await;
                        }
                    }
                    return outcome;
                }
            }
        }
    }

    /// Mark the stored version of an item dead (when the one in hand cannot be saved).
    async fn kill_stored(&self, connector_id: &str, item_id: &str, reason: &str) -> Outcome {
        match self.store.get(connector_id, item_id).await {
            Ok(Some(mut stored)) => {
                stored.kill(reason, Utc::now());
                self.died(&stored, reason);
                if let Err(e) = self.save(&mut stored).await {
                    tracing::error!(connector = connector_id, item = item_id, error = %e, "cannot record the item as dead");
                }
                Outcome::Dead(reason.to_owned())
            }
            _ => Outcome::Later(Utc::now() + self.settings.retry.base),
        }
    }

    /// Count a panicked step as a failed attempt, with the panic's text as the error.
    async fn record_panic(&self, connector_id: &str, item_id: &str, text: String) -> Outcome {
        let now = Utc::now();
        let error = format!("internal error (the step panicked): {text}");
        tracing::error!(connector = connector_id, item = item_id, error = %error, "import step panicked");
        let Ok(Some(mut item)) = self.store.get(connector_id, item_id).await else {
            return Outcome::Later(now + self.settings.retry.base);
        };
        let outcome = match item.fail(&error, &self.settings.retry, None, now) {
            Some(at) => Outcome::Later(at),
            None => {
                self.died(&item, &error);
                Outcome::Dead(error)
            }
        };
        if let Err(e) = self.save(&mut item).await {
            tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record the panic");
        }
        outcome
    }

    /// Run `step` while renewing the item's lease every third of it. `None` when the
    /// lease was lost (another worker owns the item now): the step is dropped unfinished,
    /// which every step tolerates (each is idempotent and saves as it goes).
    async fn leased<F>(&self, connector_id: &str, item_id: &str, owner: &str, step: F) -> Option<Result<(), StepError>>
    where
        F: std::future::Future<Output = Result<(), StepError>>,
    {
        let every = (self.settings.lease / 3).max(Duration::from_millis(100));
        hold_while(step, every, || async {
            match self
                .store
                .lease(connector_id, item_id, owner, self.settings.lease, Utc::now())
                .await
            {
                Ok(held) => held,
                Err(e) => {
                    // The lease may well still be ours: keep going, try again next beat.
                    tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot renew the lease");
                    true
                }
            }
        })
        .await
    }

    async fn save(&self, item: &mut LedgerItem) -> Result<(), StoreError> {
        let v = self.store.put(item).await?;
        item.version = v;
        Ok(())
    }

    /// One step of `item`. `fresh`: external ids of contacts no earlier step sent
    /// ([`LedgerItem::mark_imports_sent`]).
    async fn step(
        &self,
        item: &mut LedgerItem,
        connector: Option<&StoredConnector>,
        fresh: &[String],
    ) -> Result<(), StepError> {
        let connector = connector
            .ok_or_else(|| StepError::Permanent(format!("connector '{}' no longer exists", item.connector_id)))?;
        let conn = self
            .connections
            .get(connector)
            .await
            .map_err(|e| self.source_step_now(e, item))?;
        let ctx = self.context(connector).await;
        match item.stage {
            Stage::Discovered => self.fetch_and_segment(item, connector, &conn, &ctx).await,
            Stage::MetadataFetched => self.import_contacts(item, connector, &ctx, fresh).await,
            Stage::ContactsImported | Stage::AudioUploaded => self.upload_audio(item, connector, &conn, &ctx).await,
            Stage::Done => Ok(()),
        }
    }

    /// What a source failure means for the item. A refused credential (`401`: the access
    /// token was revoked or expired early) is renewed now, so the next attempt uses a new
    /// one, or the item pauses when the renewal is refused (re-authorization required).
    async fn source_err(&self, e: SourceError, conn: &Connection, item: &LedgerItem) -> StepError {
        if let SourceError::Unauthorized(text) = &e {
            return match conn.credentials.renew().await {
                Ok(_) => StepError::Retry(format!("{text} (token refreshed)"), None),
                Err(auth_err) => StepError::Operator(auth_err.to_string()),
            };
        }
        self.source_step_now(e, item)
    }

    /// [`Self::source_err`] for every outcome that needs no call.
    fn source_step_now(&self, e: SourceError, item: &LedgerItem) -> StepError {
        let now = Utc::now();
        match e {
            SourceError::Retry { message, after } => StepError::Retry(message, after),
            // Without a renewal attempt (no connection yet): count it, try again.
            SourceError::Unauthorized(text) => StepError::Retry(text, None),
            // Token trouble never kills an item: it waits for the identity service or an operator.
            SourceError::Credentials(auth) => StepError::Operator(auth.to_string()),
            SourceError::Operator(text) => StepError::Operator(text),
            SourceError::NotReady(text) => {
                if now - item.discovered_at > self.settings.not_ready_limit {
                    StepError::Permanent(format!(
                        "{text}: still not available {} minutes after discovery",
                        (now - item.discovered_at).num_minutes()
                    ))
                } else {
                    StepError::Wait(text, self.settings.not_ready_delay)
                }
            }
            SourceError::NotReadyUntil { message, at } => {
                // The source named the time: wait until then (at least a moment, at most a day).
                let wait = (at - now).clamp(chrono::Duration::seconds(1), chrono::Duration::days(1));
                StepError::Wait(message, wait)
            }
            SourceError::Permanent(text) => StepError::Permanent(text),
        }
    }

    async fn fetch_and_segment(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        conn: &Connection,
        ctx: &WfoCtx,
    ) -> Result<(), StepError> {
        let skipped = self.plan_item(item, connector, conn, ctx).await?;
        let now = Utc::now();
        if item.contacts.is_empty() {
            let why = if skipped > 0 {
                format!("no contact: every agent segment ({skipped}) was left out (see the notes)")
            } else {
                "no contact: the call has no agent segment (e.g. only an external leg)".to_owned()
            };
            tracing::info!(connector = %item.connector_id, item = %item.item_id, "{why}");
            item.note(why);
            item.source_state = None;
            item.audio_wait = None;
            item.advance(Stage::Done, now);
        } else {
            item.advance(Stage::MetadataFetched, now);
        }
        // Saved by the caller, with the next step's start (one write).
        Ok(())
    }

    /// Ask the source for the item's plan (handing back what its last plan kept) and merge
    /// it into the item's contacts. Returns how many segments the source left out.
    async fn plan_item(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        conn: &Connection,
        ctx: &WfoCtx,
    ) -> Result<usize, StepError> {
        let now = Utc::now();
        let rules = self.rules(ctx, connector, now).await?;
        let seg_ctx = SegmentContext {
            acd_server_id: connector.config.acd_server_id,
            metadata: rules,
        };
        let plan = match conn
            .source
            .plan(&item.item_id, &seg_ctx, item.source_state.as_ref())
            .await
        {
            Ok(p) => p,
            Err(e) => return Err(self.source_err(e, conn, item).await),
        };
        for note in &plan.notes {
            tracing::info!(connector = %item.connector_id, item = %item.item_id, note = %note, "plan");
        }
        item.interaction_id = plan.interaction_id;
        let configured: Vec<String> = seg_ctx.metadata.iter().map(|r| r.acd_field.clone()).collect();
        self.watch_mapping(&item.connector_id, &configured, &plan.mapping_misses)
            .await;
        let skipped = plan.skipped.len();
        for why in plan.skipped {
            tracing::info!(connector = %item.connector_id, item = %item.item_id, skipped = %why, "plan");
            item.note(why);
        }
        // Keep what earlier attempts achieved (contact ids, audio) for the contacts that
        // are planned again, recognised by agent and span, never by position.
        let previous = std::mem::take(&mut item.contacts);
        let (contacts, notes) = wfo_domain::replan::merge_plan(
            previous,
            plan.contacts.into_iter().map(|p| (p.contact, p.agent_name)).collect(),
        );
        item.contacts = contacts;
        for note in notes {
            tracing::warn!(connector = %item.connector_id, item = %item.item_id, note = %note, "plan changed");
            item.note(note);
        }
        let checks = item.audio_wait.as_ref().map_or(0, |w| w.checks);
        let cap = self.settings.audio_check_cap;
        item.audio_wait = plan.audio_wait.map(|mut w| {
            w.checks = w.checks.max(checks);
            if let Some(cap) = cap {
                w.next_check = w.next_check.min(Utc::now() + cap);
            }
            w
        });
        item.source_state = plan.keep.filter(|v| {
            let size = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
            if size > wfo_ports::MAX_KEPT_BYTES {
                tracing::info!(connector = %item.connector_id, item = %item.item_id, size, "the source's payload copy is too large to keep; a later plan fetches it again");
            }
            size <= wfo_ports::MAX_KEPT_BYTES
        });
        Ok(skipped)
    }

    async fn ensure_person(
        &self,
        connector: &StoredConnector,
        wfo: &dyn WfoApi,
        contact: &ContactImport,
        name: Option<&AgentName>,
    ) -> Result<(), StepError> {
        let agent = &contact.agent;
        // The same lock name as the user sync's, on the canonical id: one creator per
        // (acdServerId, acdId) whichever path gets there first.
        let lock = crate::sync::person_lock_name(
            &connector.config.id,
            agent.acd_server_id,
            &wfo_domain::sync::canonical_acd_id(&agent.acd_id),
        );
        let ttl = self.settings.person_lock;
        // A fresh owner per attempt: the lock must exclude this process's other tasks too.
        let owner = format!("{}:{}", self.owner, uuid::Uuid::new_v4());
        let mut waited = 0;
        while !self.store.try_lock(&lock, &owner, ttl, Utc::now()).await? {
            waited += 1;
            if waited > 50 {
                // Not a failure: the holder creates the person (or finds it); look again
                // once it has had time to, without spending an attempt.
                return Err(StepError::Wait(
                    format!("another worker is creating the WFO person for {}", agent.acd_id),
                    chrono::Duration::from_std(ttl / 10).unwrap_or(chrono::Duration::seconds(6)),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Unknown until the user sync names them.
        let (first_name, last_name, email) = match name {
            Some(n) => (n.first_name.clone(), n.last_name.clone(), n.email.clone()),
            None => {
                let (first, last) = placeholder_names(&agent.acd_id);
                (first, last, None)
            }
        };
        let new_agent = NewAgent {
            acd_id: agent.acd_id.clone(),
            acd_server_id: agent.acd_server_id,
            first_name,
            last_name,
            email,
        };
        // Renewing (re-taking) the lock is also the fence: a holder whose lock expired
        // while WFO was slow (a 70-second person listing) and was taken by another
        // worker finds that out before it creates anything.
        let still_held = || async { matches!(self.store.try_lock(&lock, &owner, ttl, Utc::now()).await, Ok(true)) };
        let renew_every = (ttl / 3).max(Duration::from_millis(100));
        let result = hold_while(
            wfo_client::ensure_agent_person_fenced(wfo, &new_agent, &still_held),
            renew_every,
            || async {
                // A store hiccup is not a lost lock; the fence before a create decides.
                !matches!(self.store.try_lock(&lock, &owner, ttl, Utc::now()).await, Ok(false))
            },
        )
        .await;
        if let Err(e) = self.store.unlock(&lock, &owner).await {
            tracing::debug!(error = %e, "cannot release person lock (it expires)");
        }
        match result {
            Some(r) => r.map(|_| ()).map_err(wfo_step),
            None => Err(StepError::Retry(
                format!(
                    "the lock on the WFO person for {} was lost while it was looked up; another worker holds it",
                    agent.acd_id
                ),
                None,
            )),
        }
    }

    async fn import_contacts(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        ctx: &WfoCtx,
        fresh: &[String],
    ) -> Result<(), StepError> {
        let mut persons_checked = std::collections::BTreeSet::new();
        // Whether this step created a contact (the connector's last import moves on).
        let mut imported_now = false;
        for i in 0..item.contacts.len() {
            if let Some(id) = item.contacts[i].contact_id {
                if !item.contacts[i].metadata_done {
                    // Planned again (data recapture) with metadata that changed since.
                    wfo_client::put_metadata(ctx.wfo.as_ref(), id, &item.contacts[i].plan.contact.metadata)
                        .await
                        .map_err(wfo_step)?;
                    item.contacts[i].metadata_done = true;
                    self.save(item).await?;
                }
                continue;
            }
            let contact = item.contacts[i].plan.contact.clone();
            let person_key = person_key(&connector.config.id, &contact);
            if persons_checked.insert(contact.agent.clone()) && !self.person_known(&person_key) {
                let gate = self.person_gate(&person_key);
                // As long as the cross-process lock is waited for (then the item waits,
                // without spending an attempt, and frees its worker).
                let Ok(_open) = tokio::time::timeout(PERSON_GATE_WAIT, gate.lock()).await else {
                    return Err(StepError::Wait(
                        format!("another worker is creating the WFO person for {}", contact.agent.acd_id),
                        chrono::Duration::from_std(self.settings.person_lock / 10)
                            .unwrap_or(chrono::Duration::seconds(6)),
                    ));
                };
                // Another task of this process may have ensured them while this one waited.
                if !self.person_known(&person_key) {
                    let name = item.contacts[i].agent_name.clone();
                    self.ensure_person(connector, ctx.wfo.as_ref(), &contact, name.as_ref())
                        .await?;
                    self.remember_person(person_key.clone());
                }
            }
            let sent = if fresh.contains(&contact.external_id) {
                // Never sent before this step (the ledger is sure): no lookup first.
                wfo_client::import_new_contact(ctx.wfo.as_ref(), &contact).await
            } else {
                wfo_client::ensure_contact(ctx.wfo.as_ref(), &contact).await
            };
            let id = match sent {
                Ok(id) => id,
                Err(e @ WfoError::UnknownMetadataKey { .. }) => {
                    // The tenant's keys changed under the mapping: plan again from the
                    // metadata with fresh keys once an operator fixed it; nothing is lost.
                    *ctx.rules.lock().await = None;
                    item.stage = Stage::Discovered;
                    return Err(StepError::Operator(format!(
                        "{e}; the item is planned again with the current keys on its next attempt"
                    )));
                }
                Err(e @ WfoError::UnknownAgent { .. }) => {
                    // The person this process knew of is gone (deleted in WFO): check again.
                    self.forget_person(&person_key);
                    return Err(wfo_step(e));
                }
                Err(e) => return Err(wfo_step(e)),
            };
            item.contacts[i].contact_id = Some(id);
            item.contacts[i].metadata_done = true;
            // Written back before the next contact is sent; the last one's id goes with
            // the step's result (saved by the caller, one write). Lost to a crash in
            // between, it is found again: the next attempt looks the contact up by its
            // external id before creating it (it was marked as sent when the step began).
            if item.contacts[i + 1..].iter().any(|c| c.contact_id.is_none()) {
                self.save(item).await?;
            }
            // Counted once: a later attempt finds the contact id in the ledger.
            let call_end = DateTime::from_timestamp_millis(contact.start_time.saturating_add(contact.call_duration));
            crate::metrics::contact_imported(&item.connector_id, &item.item_id, call_end, Utc::now());
            imported_now = true;
        }
        item.advance(Stage::ContactsImported, Utc::now());
        // Saved by the caller, with the next step's start (one write).
        if imported_now {
            self.note_import(&item.connector_id).await;
        }
        Ok(())
    }

    async fn upload_audio(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        conn: &Connection,
        ctx: &WfoCtx,
    ) -> Result<(), StepError> {
        // Every `advance` that ends this step returns with the item unsaved: the caller
        // saves it, with the next step's start when there is one (one write).
        if !connector.config.features.media_import {
            item.audio_wait = None;
            item.source_state = None;
            item.advance(Stage::Done, Utc::now());
            return Ok(());
        }
        // Contacts came first; their audio follows as the source has it. At most one new
        // plan per step: a source that says "ask again now" forever cannot spin a worker.
        let mut planned_again = false;
        loop {
            self.upload_ready_slices(item, conn, ctx).await?;
            let waiting = item.contacts_awaiting_audio();
            let now = Utc::now();
            if waiting == 0 {
                item.audio_wait = None;
                item.source_state = None;
                item.advance(Stage::Done, now);
                return Ok(());
            }
            let Some(wait) = item.audio_wait.clone() else {
                // Audio promised but no source will bring it: say so, finish.
                item.note(format!(
                    "{waiting} contact(s) planned with audio to come, but the source set no time to look again: imported without audio"
                ));
                item.advance(Stage::Done, now);
                return Ok(());
            };
            if !planned_again && now >= wait.next_check {
                planned_again = true;
                if let Some(w) = item.audio_wait.as_mut() {
                    w.checks += 1;
                }
                self.plan_item(item, connector, conn, ctx).await?;
                if item.contacts.iter().any(|c| c.contact_id.is_none()) {
                    // The new plan has a contact WFO does not have yet: import it first.
                    item.advance(Stage::MetadataFetched, Utc::now());
                    return Ok(());
                }
                self.save(item).await?;
                continue;
            }
            if now >= wait.give_up_at {
                let text = format!(
                    "{waiting} contact(s) still have no audio after {} check(s) until {}: the source has no recording for them",
                    wait.checks,
                    wait.give_up_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                if wait.requested {
                    // A recording was requested and never came: an operator should know
                    // (the contacts are in WFO). The wait and the kept payload stay, so a
                    // revived item (`backfill`) looks for the audio once more.
                    return Err(StepError::Permanent(format!(
                        "{text}, although the source says the call was recorded"
                    )));
                }
                item.audio_wait = None;
                item.note(format!("{text}; imported without audio"));
                item.source_state = None;
                item.advance(Stage::Done, now);
                return Ok(());
            }
            let until = if wait.next_check > now {
                wait.next_check
            } else {
                now + self.settings.not_ready_delay
            };
            return Err(StepError::Wait(
                format!(
                    "{waiting} contact(s) imported, waiting for their audio (check {} next at {})",
                    wait.checks + 1,
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                until - now,
            ));
        }
    }

    /// Upload every contact's slice that has one and is not uploaded yet.
    async fn upload_ready_slices(
        &self,
        item: &mut LedgerItem,
        conn: &Connection,
        ctx: &WfoCtx,
    ) -> Result<(), StepError> {
        for i in 0..item.contacts.len() {
            if item.contacts[i].audio_bytes.is_some() {
                continue;
            }
            // No slice: the contact gets no audio from this plan (not recorded, a digital
            // task, or a capture not there yet — a later plan brings it).
            let Some(media) = item.contacts[i].plan.media.clone() else {
                continue;
            };
            let Some(contact_id) = item.contacts[i].contact_id else {
                return Err(StepError::Permanent("contact id missing at the audio step".to_owned()));
            };
            // A transient failure of the transfer (WFO 5xx, a broken stream, a checksum
            // that does not match) is tried again here, from a fresh download, before an
            // item-level retry (minutes of backoff) is spent on it.
            let mut tries = 0;
            let bytes = loop {
                tries += 1;
                match self.transfer_audio(conn, ctx, &item.item_id, &media, contact_id).await {
                    Ok(b) => break b,
                    Err(Failure::Step(StepError::Retry(text, None))) if tries < AUDIO_TRIES_PER_STEP => {
                        let wait = self.settings.http_policy.backoff(tries);
                        tracing::warn!(connector = %item.connector_id, item = %item.item_id, contact_id, tries, error = %text, "audio transfer failed; trying again from a fresh download");
                        tokio::time::sleep(wait).await;
                    }
                    Err(Failure::Source(e)) => return Err(self.source_err(e, conn, item).await),
                    Err(Failure::Step(e)) => return Err(e),
                }
            };
            item.contacts[i].audio_bytes = Some(bytes);
            item.stage = Stage::AudioUploaded;
            // Saved before the next upload; after the last, the step's result is saved
            // by the caller (one write). Lost to a crash, an upload is only repeated: WFO
            // replaces a contact's audio.
            if item.contacts[i + 1..]
                .iter()
                .any(|c| c.audio_bytes.is_none() && c.plan.media.is_some())
            {
                self.save(item).await?;
            }
            crate::metrics::audio_uploaded(
                &item.connector_id,
                &item.item_id,
                u64::try_from(bytes).unwrap_or(0),
                Utc::now(),
            );
        }
        Ok(())
    }

    /// Stream the recording (or its slice) from the source into WFO.
    async fn transfer_audio(
        &self,
        conn: &Connection,
        ctx: &WfoCtx,
        item_id: &str,
        media: &wfo_domain::segment::MediaSlice,
        contact_id: i64,
    ) -> Result<i64, Failure> {
        let mut opened = conn.source.open_media(item_id, media).await.map_err(Failure::Source)?;
        // A download that stops sending fails this attempt instead of holding the worker.
        opened.stream = wfo_http::stall_guard(opened.stream, self.settings.http_policy.idle_timeout);
        // What comes in must be audio of the stated container and length (an empty body,
        // an error page or a cut-off download is never uploaded as a recording).
        let container = match opened.format.format {
            AudioFormat::Mp3 => wfo_audio::Container::Mp3,
            AudioFormat::Wav => wfo_audio::Container::Wav,
        };
        // Checked, not hashed: what goes out is hashed below, to hold WFO's answer against.
        let (mut input, seen_in) = wfo_audio::check(opened.stream, Some(container), opened.length);
        // Look at the start before anything goes to WFO: an empty body or an error page
        // fails here, and WFO's copy of the contact's audio is never replaced by it.
        use futures::StreamExt as _;
        let first = match input.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                let why = wfo_audio::AudioError::from_io(&e).map_or_else(|| e.to_string(), ToString::to_string);
                return Err(Failure::Step(StepError::Retry(
                    format!("audio of recording {}: {why}", media.recording_id),
                    None,
                )));
            }
            None => {
                return Err(Failure::Step(StepError::Retry(
                    format!(
                        "audio of recording {}: {}",
                        media.recording_id,
                        wfo_audio::AudioError::Empty
                    ),
                    None,
                )));
            }
        };
        let input: wfo_audio::ByteStream = futures::stream::iter([Ok(first)]).chain(input).boxed();
        let is_whole = media.offset_ms <= 0 && opened.duration_ms.is_some_and(|w| media.duration_ms + 1000 >= w);
        let (stream, length) = if is_whole {
            (input, opened.length)
        } else {
            let slice = wfo_audio::Slice {
                offset_ms: media.offset_ms,
                duration_ms: media.duration_ms,
            };
            let stream = match opened.format.format {
                AudioFormat::Mp3 => wfo_audio::slice_mp3(input, slice),
                // The download's stated length lets a streamed WAV (no data size in its
                // header) be cut too, and a data chunk longer than the file be refused early.
                AudioFormat::Wav => wfo_audio::slice_wav(input, slice, opened.length),
            };
            (stream, None)
        };
        // What goes out is counted and hashed, to hold WFO's answer against.
        let (stream, seen_out) = wfo_audio::inspect(stream, None, length);
        let uploaded = ctx
            .wfo
            .upload_audio(contact_id, opened.format.format, AudioBody { stream, length })
            .await;
        // A check that failed the stream explains the upload's failure better than WFO's
        // view of a body that broke off.
        if let Some(bad) = seen_in.error().or_else(|| seen_out.error()) {
            let text = format!("audio of recording {}: {bad}", media.recording_id);
            // A WAV that is not PCM or whose header is broken is the same on every
            // download: recorded on the item and shown, never retried into a mis-slice.
            let permanent = matches!(
                bad,
                wfo_audio::AudioError::WavUnsupported { .. }
                    | wfo_audio::AudioError::WavMalformed(_)
                    | wfo_audio::AudioError::WavSliceTooLarge { .. }
            );
            return Err(Failure::Step(if permanent {
                StepError::Permanent(text)
            } else {
                StepError::Retry(text, None)
            }));
        }
        let done = uploaded.map_err(|e| Failure::Step(wfo_step(e)))?;
        let (sent, sha) = (seen_out.bytes(), seen_out.sha256());
        let matches = sha
            .as_deref()
            .is_some_and(|ours| done.bytes == sent as i64 && done.sha256.eq_ignore_ascii_case(ours));
        if !matches {
            return Err(Failure::Step(StepError::Retry(
                format!(
                    "WFO stored {} bytes (sha256 {}) for contact {contact_id}, but {sent} bytes (sha256 {}) were sent: uploading again",
                    done.bytes,
                    done.sha256,
                    sha.as_deref().unwrap_or("unfinished")
                ),
                None,
            )));
        }
        Ok(done.bytes)
    }
}

/// Run `work`, calling `renew` every `every` while it runs; `None` (and `work` dropped)
/// as soon as a renewal says the hold is lost.
async fn hold_while<F, R, RF>(work: F, every: Duration, renew: R) -> Option<F::Output>
where
    F: std::future::Future,
    R: Fn() -> RF,
    RF: std::future::Future<Output = bool>,
{
    tokio::pin!(work);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = beat.tick() => {
                if !renew().await {
                    return None;
                }
            }
        }
    }
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Why an audio transfer stopped: the source (classified with a renewal attempt) or a
/// step failure already classified.
enum Failure {
    Source(SourceError),
    Step(StepError),
}
