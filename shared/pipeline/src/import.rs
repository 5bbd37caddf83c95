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
use wfo_domain::ledger::{AgentName, ContactProgress, Health, LedgerItem, RetrySchedule, Stage};
use wfo_domain::mapping::{MetadataRule, resolve_rules};
use wfo_domain::segment::SegmentContext;
use wfo_domain::sync::placeholder_names;
use wfo_domain::wfo::{AudioFormat, ContactImport};
use wfo_http::RetryPolicy;
use wfo_ports::SourceError;

use crate::connections::{Connection, Connections};
use crate::ports::{Store, StoreError, StoredConnector};

/// The least time a step is started with before a deadline.
pub const MIN_STEP_TIME: Duration = Duration::from_secs(5);

/// How the worker behaves; tests shorten the delays.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub retry: RetrySchedule,
    /// Retry policy of the HTTP clients (in-call retries).
    pub http_policy: RetryPolicy,
    /// How long an item is leased to one worker per step.
    pub lease: Duration,
    /// How long to wait before looking again when the source says "not ready yet".
    pub not_ready_delay: chrono::Duration,
    /// How long an item may stay "not ready" before it is declared dead.
    pub not_ready_limit: chrono::Duration,
    /// How long to wait before looking again while the connector needs an operator.
    pub paused_delay: chrono::Duration,
    /// How long resolved metadata rules are reused before asking WFO again.
    pub rules_ttl: chrono::Duration,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            http_policy: RetryPolicy::default(),
            lease: Duration::from_secs(15 * 60),
            not_ready_delay: chrono::Duration::minutes(5),
            not_ready_limit: chrono::Duration::hours(24),
            paused_delay: chrono::Duration::minutes(5),
            rules_ttl: chrono::Duration::minutes(10),
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
            },
            http_policy: RetryPolicy::fast(),
            lease: Duration::from_secs(60),
            not_ready_delay: chrono::Duration::milliseconds(200),
            not_ready_limit: chrono::Duration::minutes(2),
            paused_delay: chrono::Duration::milliseconds(500),
            rules_ttl: chrono::Duration::seconds(30),
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
    /// Not our failure: wait without counting (paused connector, audio not ready).
    Wait(String, chrono::Duration),
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

fn wfo_step(e: WfoError, paused: chrono::Duration) -> StepError {
    match e {
        // A configuration problem of the whole connector: hold items, lose none.
        WfoError::Unauthorized => StepError::Wait(e.to_string(), paused),
        ref other if other.is_retryable() => StepError::Retry(other.to_string(), other.retry_after()),
        // The person was created by someone else between our check and the import.
        WfoError::UnknownAgent { .. } => StepError::Retry(e.to_string(), None),
        other => StepError::Permanent(other.to_string()),
    }
}

/// Per-connector WFO clients, built once and reused (WFO session, connection pools).
struct WfoCtx {
    fingerprint: String,
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
}

impl Importer {
    pub fn new(connections: Arc<Connections>, settings: ImportSettings) -> Self {
        Self {
            store: connections.store().clone(),
            connections,
            settings,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            contexts: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    async fn context(&self, connector: &StoredConnector) -> Arc<WfoCtx> {
        let cfg = &connector.config;
        let fingerprint = serde_json::to_string(&cfg.wfo).unwrap_or_default();
        let mut map = self.contexts.lock().await;
        if let Some(ctx) = map.get(&cfg.id)
            && ctx.fingerprint == fingerprint
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
            fingerprint,
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
        let keys = ctx
            .wfo
            .list_metadata_keys()
            .await
            .map_err(|e| wfo_step(e, self.settings.paused_delay))?;
        let rules = resolve_rules(&mappings, &keys)
            .map_err(|e| StepError::Wait(format!("metadata mapping: {e}"), self.settings.paused_delay))?;
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
        let now = Utc::now();
        // One owner per call: the lease must exclude this process's other tasks too
        // (duplicate messages for one item are normal).
        let owner = format!("{}:{}", self.owner, uuid::Uuid::new_v4());
        match self
            .store
            .lease(connector_id, item_id, &owner, self.settings.lease, now)
            .await
        {
            Ok(true) => {}
            // A lease also fails when there is no such item: tell the two apart, so a
            // message naming no item is dead-lettered instead of acked as "busy".
            Ok(false) => {
                return match self.store.get(connector_id, item_id).await {
                    Ok(None) => Outcome::Unknown,
                    _ => Outcome::Busy,
                };
            }
            Err(e) => {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot lease item");
                return Outcome::Later(now + self.settings.retry.base);
            }
        }
        // A panic in one item's work (a bug, or input nobody foresaw) is caught here:
        // recorded on the item as a failed attempt, never the end of a worker loop.
        let outcome = match std::panic::AssertUnwindSafe(self.run(connector_id, item_id, &owner, deadline))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(panic) => {
                self.record_panic(connector_id, item_id, panic_text(panic.as_ref()))
                    .await
            }
        };
        if let Err(e) = self.store.release(connector_id, item_id, &owner).await {
            tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot release lease (it will expire)");
        }
        outcome
    }

    async fn run(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Outcome {
        let mut item = match self.store.get(connector_id, item_id).await {
            Ok(Some(item)) => item,
            Ok(None) => return Outcome::Unknown,
            Err(e) => {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot read item");
                return Outcome::Later(Utc::now() + self.settings.retry.base);
            }
        };
        if item.stage == Stage::Done {
            return Outcome::Done;
        }
        if item.health == Health::Dead {
            return Outcome::Dead(item.last_error.clone().unwrap_or_default());
        }
        let mut first = true;
        loop {
            if !first {
                // Renew the lease before every further step, so a long item keeps it; if
                // it expired and another worker took the item over, leave it to them.
                match self
                    .store
                    .lease(connector_id, item_id, owner, self.settings.lease, Utc::now())
                    .await
                {
                    Ok(true) => {}
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
            if !item.begin_step(&self.settings.retry, held, Utc::now()) {
                let text = item.last_error.clone().unwrap_or_default();
                tracing::error!(connector = connector_id, item = item_id, error = %text, "import dead: needs an operator");
                let _ = self.save(&mut item).await;
                return Outcome::Dead(text);
            }
            if let Err(e) = self.save(&mut item).await {
                tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record the step's start; will look again");
                return Outcome::Later(Utc::now() + self.settings.retry.base);
            }
            let before = item.stage;
            let result = match deadline {
                None => self.step(&mut item).await,
                Some(d) => match tokio::time::timeout_at(d, self.step(&mut item)).await {
                    Ok(r) => r,
                    Err(_) => {
                        // Cut off: what the step saved is what counts.
                        if let Ok(Some(saved)) = self.store.get(connector_id, item_id).await {
                            item = saved;
                        }
                        Err(StepError::Retry(
                            "the step did not finish before the invocation's deadline".to_owned(),
                            None,
                        ))
                    }
                },
            };
            let now = Utc::now();
            match result {
                Ok(()) => {
                    if item.stage == Stage::Done {
                        tracing::info!(
                            connector = connector_id,
                            item = item_id,
                            contacts = item.contacts.len(),
                            "import done"
                        );
                        return Outcome::Done;
                    }
                    if item.stage == before {
                        // No progress without an error: should not happen; avoid a spin.
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
                        StepError::Permanent(text) => {
                            item.kill(&text, now);
                            (text.clone(), Outcome::Dead(text))
                        }
                    };
                    match &outcome {
                        Outcome::Dead(_) => {
                            tracing::error!(connector = connector_id, item = item_id, stage = item.stage.as_str(), error = %log_text, "import dead: needs an operator")
                        }
                        _ => {
                            tracing::warn!(connector = connector_id, item = item_id, stage = item.stage.as_str(), attempts = item.attempts, error = %log_text, "import step failed; will retry")
                        }
                    }
                    if let Err(e) = self.save(&mut item).await {
                        tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record failure");
                    }
                    return outcome;
                }
            }
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
            None => Outcome::Dead(error),
        };
        if let Err(e) = self.save(&mut item).await {
            tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot record the panic");
        }
        outcome
    }

    async fn save(&self, item: &mut LedgerItem) -> Result<(), StoreError> {
        let v = self.store.put(item).await?;
        item.version = v;
        Ok(())
    }

    async fn step(&self, item: &mut LedgerItem) -> Result<(), StepError> {
        let connector = self
            .store
            .get_connector(&item.connector_id)
            .await?
            .ok_or_else(|| StepError::Permanent(format!("connector '{}' no longer exists", item.connector_id)))?;
        let conn = self
            .connections
            .get(&connector)
            .await
            .map_err(|e| self.source_step_now(e, item))?;
        let ctx = self.context(&connector).await;
        match item.stage {
            Stage::Discovered => self.fetch_and_segment(item, &connector, &conn, &ctx).await,
            Stage::MetadataFetched => self.import_contacts(item, &connector, &ctx).await,
            Stage::ContactsImported | Stage::AudioUploaded => self.upload_audio(item, &connector, &conn, &ctx).await,
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
                Err(auth_err) => StepError::Wait(auth_err.to_string(), self.settings.paused_delay),
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
            SourceError::Credentials(auth) => StepError::Wait(auth.to_string(), self.settings.paused_delay),
            SourceError::Operator(text) => StepError::Wait(text, self.settings.paused_delay),
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
        let now = Utc::now();
        let rules = self.rules(ctx, connector, now).await?;
        let seg_ctx = SegmentContext {
            acd_server_id: connector.config.acd_server_id,
            metadata: rules,
        };
        let plan = match conn.source.plan(&item.item_id, &seg_ctx).await {
            Ok(p) => p,
            Err(e) => return Err(self.source_err(e, conn, item).await),
        };
        for note in &plan.notes {
            tracing::info!(connector = %item.connector_id, item = %item.item_id, note = %note, "plan");
        }
        item.interaction_id = plan.interaction_id;
        // Keep what earlier attempts achieved (contact ids, audio) for contacts that are
        // planned again: re-segmenting (after a metadata-key fix) must not duplicate them.
        let previous = std::mem::take(&mut item.contacts);
        item.contacts = plan
            .contacts
            .into_iter()
            .map(|planned| {
                let progress = match previous
                    .iter()
                    .find(|p| p.plan.contact.external_id == planned.contact.contact.external_id)
                {
                    Some(done) => ContactProgress {
                        plan: planned.contact,
                        ..done.clone()
                    },
                    None => ContactProgress::new(planned.contact),
                };
                ContactProgress {
                    agent_name: planned.agent_name.or(progress.agent_name.clone()),
                    ..progress
                }
            })
            .collect();
        if item.contacts.is_empty() {
            tracing::info!(connector = %item.connector_id, item = %item.item_id, "the item has no agent segment (e.g. an external leg): nothing to import");
            item.advance(Stage::Done, now);
        } else {
            item.advance(Stage::MetadataFetched, now);
        }
        self.save(item).await?;
        Ok(())
    }

    async fn ensure_person(
        &self,
        connector: &StoredConnector,
        wfo: &dyn WfoApi,
        contact: &ContactImport,
        name: Option<&AgentName>,
    ) -> Result<(), StepError> {
        let agent = &contact.agent;
        let lock = format!(
            "wfo-person:{}:{}:{}",
            connector.config.id, agent.acd_server_id, agent.acd_id
        );
        // A fresh owner per attempt: the lock must exclude this process's other tasks too.
        let owner = format!("{}:{}", self.owner, uuid::Uuid::new_v4());
        let mut waited = 0;
        while !self
            .store
            .try_lock(&lock, &owner, Duration::from_secs(60), Utc::now())
            .await?
        {
            waited += 1;
            if waited > 50 {
                return Err(StepError::Retry(
                    format!("another worker is creating the WFO person for {}", agent.acd_id),
                    None,
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
        let result = wfo_client::ensure_agent_person(
            wfo,
            &NewAgent {
                acd_id: agent.acd_id.clone(),
                acd_server_id: agent.acd_server_id,
                first_name,
                last_name,
                email,
            },
        )
        .await;
        if let Err(e) = self.store.unlock(&lock, &owner).await {
            tracing::debug!(error = %e, "cannot release person lock (it expires)");
        }
        result.map(|_| ()).map_err(|e| wfo_step(e, self.settings.paused_delay))
    }

    async fn import_contacts(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        ctx: &WfoCtx,
    ) -> Result<(), StepError> {
        let mut persons_checked = std::collections::BTreeSet::new();
        for i in 0..item.contacts.len() {
            if item.contacts[i].contact_id.is_some() {
                continue;
            }
            let contact = item.contacts[i].plan.contact.clone();
            if persons_checked.insert(contact.agent.clone()) {
                let name = item.contacts[i].agent_name.clone();
                self.ensure_person(connector, ctx.wfo.as_ref(), &contact, name.as_ref())
                    .await?;
            }
            let id = match wfo_client::ensure_contact(ctx.wfo.as_ref(), &contact).await {
                Ok(id) => id,
                Err(e @ WfoError::UnknownMetadataKey { .. }) => {
                    // The tenant's keys changed under the mapping: plan again from the
                    // metadata with fresh keys once an operator fixed it; nothing is lost.
                    *ctx.rules.lock().await = None;
                    item.stage = Stage::Discovered;
                    return Err(StepError::Wait(
                        format!("{e}; the item is planned again with the current keys on its next attempt"),
                        self.settings.paused_delay,
                    ));
                }
                Err(e) => return Err(wfo_step(e, self.settings.paused_delay)),
            };
            item.contacts[i].contact_id = Some(id);
            item.contacts[i].metadata_done = true;
            // Written back before anything else happens.
            self.save(item).await?;
        }
        item.advance(Stage::ContactsImported, Utc::now());
        self.save(item).await?;
        Ok(())
    }

    async fn upload_audio(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        conn: &Connection,
        ctx: &WfoCtx,
    ) -> Result<(), StepError> {
        if !connector.config.features.media_import {
            item.advance(Stage::Done, Utc::now());
            self.save(item).await?;
            return Ok(());
        }
        for i in 0..item.contacts.len() {
            if item.contacts[i].audio_bytes.is_some() {
                continue;
            }
            let Some(contact_id) = item.contacts[i].contact_id else {
                return Err(StepError::Permanent("contact id missing at the audio step".to_owned()));
            };
            let media = item.contacts[i].plan.media.clone();
            let bytes = match self.transfer_audio(conn, ctx, &media, contact_id).await {
                Ok(b) => b,
                Err(Failure::Source(e)) => return Err(self.source_err(e, conn, item).await),
                Err(Failure::Step(e)) => return Err(e),
            };
            item.contacts[i].audio_bytes = Some(bytes);
            if i + 1 < item.contacts.len() {
                item.stage = Stage::AudioUploaded;
            }
            self.save(item).await?;
        }
        item.advance(Stage::Done, Utc::now());
        self.save(item).await?;
        Ok(())
    }

    /// Stream the recording (or its slice) from the source into WFO.
    async fn transfer_audio(
        &self,
        conn: &Connection,
        ctx: &WfoCtx,
        media: &wfo_domain::segment::MediaSlice,
        contact_id: i64,
    ) -> Result<i64, Failure> {
        let mut opened = conn.source.open_media(media).await.map_err(Failure::Source)?;
        // A download that stops sending fails this attempt instead of holding the worker.
        opened.stream = wfo_http::stall_guard(opened.stream, self.settings.http_policy.idle_timeout);
        let is_whole = media.offset_ms <= 0 && opened.duration_ms.is_some_and(|w| media.duration_ms + 1000 >= w);
        let body = if is_whole {
            AudioBody {
                stream: opened.stream,
                length: opened.length,
            }
        } else {
            let slice = wfo_audio::Slice {
                offset_ms: media.offset_ms,
                duration_ms: media.duration_ms,
            };
            let stream = match opened.format.format {
                AudioFormat::Mp3 => wfo_audio::slice_mp3(opened.stream, slice),
                AudioFormat::Wav => {
                    return Err(Failure::Step(StepError::Permanent(
                        "slicing WAV audio is not available in this build".to_owned(),
                    )));
                }
            };
            AudioBody { stream, length: None }
        };
        ctx.wfo
            .upload_audio(contact_id, opened.format.format, body)
            .await
            .map(|done| done.bytes)
            .map_err(|e| Failure::Step(wfo_step(e, self.settings.paused_delay)))
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
