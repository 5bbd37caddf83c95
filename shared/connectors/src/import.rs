//! The import worker: advances one ledger item (a Webex Calling recording) one
//! idempotent step at a time.
//!
//! ```text
//! discovered       --metadata, segmentation-->            metadata_fetched (plan stored)
//! metadata_fetched --persons, contacts (ids written back)--> contacts_imported
//! contacts_imported --audio per contact (fresh link, slice)--> audio_uploaded -> done
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
use tokio::sync::Mutex;
use wfo_client::{AudioBody, NewAgent, WfoApi, WfoClient, WfoClientConfig, WfoError};
use wfo_domain::config::ConnectorKind;
use wfo_domain::ledger::{ContactProgress, Health, LedgerItem, RetrySchedule, Stage};
use wfo_domain::mapping::{MetadataRule, resolve_rules};
use wfo_domain::segment::{SegmentContext, segment_webex_calling};
use wfo_domain::wfo::{AudioFormat, ContactImport};
use wfo_http::RetryPolicy;
use wfo_webex_calling::{WebexCallingClient, WebexError};

use crate::auth::{self, AuthError};
use crate::ports::{Store, StoreError, StoredConnector};

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

fn webex_step(e: WebexError) -> StepError {
    let tracking = e
        .tracking_id()
        .map(|t| format!(" [trackingId {t}]"))
        .unwrap_or_default();
    let text = format!("{e}{tracking}");
    match e {
        WebexError::Unauthorized { .. } => StepError::Retry(text, None),
        ref other if other.is_retryable() => StepError::Retry(text, other.retry_after()),
        _ => StepError::Permanent(text),
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

/// Token trouble never kills an item: it waits for the identity service or an operator.
fn auth_step(e: AuthError, paused: chrono::Duration) -> StepError {
    StepError::Wait(e.to_string(), paused)
}

/// Per-connector clients, built once and reused (WFO session, connection pools).
struct ConnectorCtx {
    fingerprint: String,
    wfo: Arc<dyn WfoApi>,
    webex: WebexCallingClient,
    rules: Mutex<Option<(DateTime<Utc>, Vec<MetadataRule>)>>,
}

/// The import worker.
pub struct Importer {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    token_http: reqwest::Client,
    settings: ImportSettings,
    owner: String,
    contexts: Mutex<HashMap<String, Arc<ConnectorCtx>>>,
}

impl Importer {
    pub fn new(store: Arc<dyn Store>, settings: ImportSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let token_http = auth::token_http_client(Duration::from_secs(30))?;
        Ok(Self {
            store,
            http,
            token_http,
            settings,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            contexts: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    async fn context(&self, connector: &StoredConnector) -> Result<Arc<ConnectorCtx>, StepError> {
        let fingerprint = serde_json::to_string(&connector.config).unwrap_or_default();
        let mut map = self.contexts.lock().await;
        if let Some(ctx) = map.get(&connector.config.id)
            && ctx.fingerprint == fingerprint
        {
            return Ok(ctx.clone());
        }
        let cfg = &connector.config;
        let mut wfo_cfg = WfoClientConfig::new(
            cfg.wfo.api_url.clone(),
            cfg.wfo.username.clone(),
            cfg.wfo.password.clone(),
        );
        wfo_cfg.policy = self.settings.http_policy.clone();
        let wfo = WfoClient::with_http_client(wfo_cfg, self.http.clone());
        let api_url =
            url::Url::parse(&cfg.source.api_url).map_err(|e| StepError::Permanent(format!("source.api_url: {e}")))?;
        let webex = WebexCallingClient::new(self.http.clone(), api_url, self.settings.http_policy.clone());
        let ctx = Arc::new(ConnectorCtx {
            fingerprint,
            wfo: Arc::new(wfo),
            webex,
            rules: Mutex::new(None),
        });
        map.insert(cfg.id.clone(), ctx.clone());
        Ok(ctx)
    }

    /// The WFO client of a connector (for inspection and sync code that shares sessions).
    pub async fn wfo_for(&self, connector: &StoredConnector) -> Option<Arc<dyn WfoApi>> {
        self.context(connector).await.ok().map(|c| c.wfo.clone())
    }

    async fn rules(
        &self,
        ctx: &ConnectorCtx,
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
        let outcome = self.run(connector_id, item_id, &owner).await;
        if let Err(e) = self.store.release(connector_id, item_id, &owner).await {
            tracing::warn!(connector = connector_id, item = item_id, error = %e, "cannot release lease (it will expire)");
        }
        outcome
    }

    async fn run(&self, connector_id: &str, item_id: &str, owner: &str) -> Outcome {
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
            let before = item.stage;
            let result = self.step(&mut item).await;
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
        if connector.config.kind != ConnectorKind::WebexCalling {
            return Err(StepError::Permanent(format!(
                "connector kind {} is not imported by this worker",
                connector.config.kind
            )));
        }
        let ctx = self.context(&connector).await?;
        match item.stage {
            Stage::Discovered => self.fetch_and_segment(item, &connector, &ctx).await,
            Stage::MetadataFetched => self.import_contacts(item, &connector, &ctx).await,
            Stage::ContactsImported | Stage::AudioUploaded => self.upload_audio(item, &connector, &ctx).await,
            Stage::Done => Ok(()),
        }
    }

    /// Map a Webex error; a `401` means the access token was revoked or expired early:
    /// refresh now, so the next attempt uses a new token, or pause when the source
    /// refuses the refresh (re-authorization required).
    async fn webex_err(&self, e: WebexError, connector: &StoredConnector) -> StepError {
        if matches!(e, WebexError::Unauthorized { .. }) {
            match auth::refresh(self.store.as_ref(), connector, &self.token_http, Utc::now()).await {
                Ok(_) => return StepError::Retry(format!("{e} (token refreshed)"), None),
                Err(auth_err) => return auth_step(auth_err, self.settings.paused_delay),
            }
        }
        webex_step(e)
    }

    async fn token(&self, connector: &StoredConnector) -> Result<wfo_domain::Secret, StepError> {
        auth::access_token(self.store.as_ref(), connector, &self.token_http, Utc::now())
            .await
            .map_err(|e| auth_step(e, self.settings.paused_delay))
    }

    async fn fetch_and_segment(
        &self,
        item: &mut LedgerItem,
        connector: &StoredConnector,
        ctx: &ConnectorCtx,
    ) -> Result<(), StepError> {
        let now = Utc::now();
        let token = self.token(connector).await?;
        let doc = match ctx.webex.recording_metadata(&token, &item.item_id).await {
            Ok(Some(doc)) => doc,
            Ok(None) => {
                if now - item.discovered_at > self.settings.not_ready_limit {
                    return Err(StepError::Permanent(format!(
                        "metadata still not available {} minutes after discovery",
                        (now - item.discovered_at).num_minutes()
                    )));
                }
                return Err(StepError::Wait(
                    "metadata not ready yet (204)".to_owned(),
                    self.settings.not_ready_delay,
                ));
            }
            Err(e) => return Err(self.webex_err(e, connector).await),
        };
        let rules = self.rules(ctx, connector, now).await?;
        let seg_ctx = SegmentContext {
            acd_server_id: connector.config.acd_server_id,
            metadata: rules,
        };
        let contacts = segment_webex_calling(&doc, &seg_ctx).map_err(|e| {
            StepError::Permanent(format!("recording {}: cannot segment its metadata: {e}", item.item_id))
        })?;
        item.interaction_id = doc
            .pointer("/serviceData/callSessionId")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        // Keep what earlier attempts achieved (contact ids, audio) for contacts that are
        // planned again: re-segmenting (after a metadata-key fix) must not duplicate them.
        let previous = std::mem::take(&mut item.contacts);
        item.contacts = contacts
            .into_iter()
            .map(|plan| {
                match previous
                    .iter()
                    .find(|p| p.plan.contact.external_id == plan.contact.external_id)
                {
                    Some(done) => ContactProgress { plan, ..done.clone() },
                    None => ContactProgress::new(plan),
                }
            })
            .collect();
        let names = AgentNames::from_doc(&doc);
        self.remember_names(&item.connector_id, &names).await;
        if item.contacts.is_empty() {
            tracing::info!(connector = %item.connector_id, item = %item.item_id, "recording has no agent segment (e.g. an external leg): nothing to import");
            item.advance(Stage::Done, now);
        } else {
            item.advance(Stage::MetadataFetched, now);
        }
        self.save(item).await?;
        Ok(())
    }

    async fn remember_names(&self, connector_id: &str, names: &AgentNames) {
        for (id, (first, last, email)) in &names.0 {
            let v = serde_json::json!({"firstName": first, "lastName": last, "email": email});
            if let Err(e) = self
                .store
                .put_value(connector_id, &format!("agent-name:{id}"), &v)
                .await
            {
                tracing::debug!(error = %e, "cannot remember agent name");
            }
        }
    }

    async fn agent_name(&self, connector_id: &str, acd_id: &str) -> (String, String, Option<String>) {
        if let Ok(Some(v)) = self
            .store
            .get_value(connector_id, &format!("agent-name:{acd_id}"))
            .await
        {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            if let (Some(f), Some(l)) = (s("firstName"), s("lastName")) {
                return (f, l, s("email"));
            }
        }
        // Unknown until the user sync names them.
        let short: String = acd_id.chars().take(8).collect();
        ("Webex".to_owned(), format!("User {short}"), None)
    }

    async fn ensure_person(
        &self,
        connector: &StoredConnector,
        wfo: &dyn WfoApi,
        contact: &ContactImport,
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
        let (first_name, last_name, email) = self.agent_name(&connector.config.id, &agent.acd_id).await;
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
        ctx: &ConnectorCtx,
    ) -> Result<(), StepError> {
        let mut persons_checked = std::collections::BTreeSet::new();
        for i in 0..item.contacts.len() {
            if item.contacts[i].contact_id.is_some() {
                continue;
            }
            let contact = item.contacts[i].plan.contact.clone();
            if persons_checked.insert(contact.agent.clone()) {
                self.ensure_person(connector, ctx.wfo.as_ref(), &contact).await?;
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
        ctx: &ConnectorCtx,
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
            let bytes = self.transfer_audio(connector, ctx, &media, contact_id).await?;
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

    /// Stream the recording (or its slice) from Webex into WFO. A link that expired is
    /// replaced once by fetching fresh details.
    async fn transfer_audio(
        &self,
        connector: &StoredConnector,
        ctx: &ConnectorCtx,
        media: &wfo_domain::segment::MediaSlice,
        contact_id: i64,
    ) -> Result<i64, StepError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let token = self.token(connector).await?;
            let details = match ctx.webex.recording_details(&token, &media.recording_id).await {
                Ok(d) => d,
                Err(e) => return Err(self.webex_err(e, connector).await),
            };
            let download = match ctx.webex.download_audio(&details).await {
                Ok(d) => d,
                Err(WebexError::LinkExpired { .. }) if tries < 2 => continue,
                Err(e) => return Err(self.webex_err(e, connector).await),
            };
            let whole_ms = details.summary.duration_seconds.map(|s| s as i64 * 1000);
            let is_whole = media.offset_ms <= 0 && whole_ms.is_some_and(|w| media.duration_ms + 1000 >= w);
            let body = if is_whole {
                AudioBody {
                    stream: download.stream,
                    length: download.length,
                }
            } else {
                let sliced = wfo_audio::slice_mp3(
                    download.stream,
                    wfo_audio::Slice {
                        offset_ms: media.offset_ms,
                        duration_ms: media.duration_ms,
                    },
                );
                AudioBody {
                    stream: sliced,
                    length: None,
                }
            };
            return match ctx.wfo.upload_audio(contact_id, AudioFormat::Mp3, body).await {
                Ok(done) => Ok(done.bytes),
                Err(e) => Err(wfo_step(e, self.settings.paused_delay)),
            };
        }
    }
}

/// An agent's (first name, last name, email).
type AgentName = (String, String, Option<String>);

/// Names of the agents a metadata document names (the owner's from `ownerName`).
struct AgentNames(Vec<(String, AgentName)>);

impl AgentNames {
    fn from_doc(doc: &serde_json::Value) -> Self {
        let mut out = Vec::new();
        let owner = doc
            .get("ownerId")
            .and_then(|v| v.as_str())
            .map(wfo_webex_calling::webex_id_to_uuid);
        let name = doc
            .get("ownerName")
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let email = doc.get("ownerEmail").and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(id), Some(name)) = (owner, name) {
            let (first, last) = match name.split_once(' ') {
                Some((f, l)) => (f.to_owned(), l.trim().to_owned()),
                None => (name.to_owned(), String::new()),
            };
            out.push((id, (first, last, email)));
        }
        Self(out)
    }
}
