//! The Source port: everything the pipeline needs from one source system, and nothing
//! about how that system spells it.
//!
//! A source is two things:
//! - a [`SourceKind`] (one value per connector kind, no connection): how its webhook
//!   deliveries are verified and parsed, which [`CredentialScheme`] it uses, how payload
//!   files are segmented offline, and how to [`SourceKind::connect`] a connector;
//! - a [`Source`] (one per connector, built by `connect`, holding its clients and its
//!   [`Credentials`]): list items in a window, plan one item, open the media of a slice,
//!   list users for the sync, register or repair the webhook or subscription.
//!
//! The [`Registry`] maps each [`ConnectorKind`] to its `SourceKind`; the workspace's one
//! registry (`wfo-sources`) holds the only `match` on the kind outside configuration.
//!
//! Every failure comes back as [`SourceError`], which says what the pipeline must do:
//! retry after T, renew the credential, wait for an operator, wait because the source is
//! not ready yet, or give up on this item.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_domain::ledger::AgentName;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::sync::{Listing, SourceUser, SyncPolicy};
use wfo_domain::wfo::AudioFormat;

use crate::credentials::{AuthError, CredentialScheme, Credentials};
use crate::preflight::{CheckResult, PreflightContext};
use crate::store::{KvStore, StoredConnector};

/// Bytes of media, streamed (bounded memory: nothing holds a whole recording).
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// What went wrong in a source call, as what the pipeline must do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Transient (5xx, 429, a connection that failed): try again, not before `after`.
    #[error("{message}")]
    Retry { message: String, after: Option<Duration> },
    /// The source refused the credential (`401`): renew it, then try again.
    #[error("{0}")]
    Unauthorized(String),
    /// No usable credential: the credential flow says why (re-authorization required,
    /// identity service down).
    #[error(transparent)]
    Credentials(#[from] AuthError),
    /// Nothing changes until an operator acts: a permission, a role, a configuration.
    #[error("{0}")]
    Operator(String),
    /// The source has not got it yet (metadata, a capture): look again later.
    #[error("{0}")]
    NotReady(String),
    /// The source will not have it before `at` (a task inside its capture delay): look
    /// again then, without counting an attempt.
    #[error("{message}")]
    NotReadyUntil { message: String, at: DateTime<Utc> },
    /// This item can never succeed (a malformed payload).
    #[error("{0}")]
    Permanent(String),
}

impl SourceError {
    pub fn retry(message: impl Into<String>) -> Self {
        SourceError::Retry {
            message: message.into(),
            after: None,
        }
    }

    /// Worth trying again without an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Retry { .. }
            | SourceError::Unauthorized(_)
            | SourceError::NotReady(_)
            | SourceError::NotReadyUntil { .. } => true,
            SourceError::Credentials(e) => e.is_retryable(),
            SourceError::Operator(_) | SourceError::Permanent(_) => false,
        }
    }

    /// Waits for an operator (the connector pauses; items are kept).
    pub fn needs_operator(&self) -> bool {
        match self {
            SourceError::Operator(_) => true,
            SourceError::Credentials(e) => e.needs_operator(),
            _ => false,
        }
    }

    /// The wait the source asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Retry { after, .. } => *after,
            _ => None,
        }
    }
}

/// One webhook delivery, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// It announces this item (recording id, task id).
    Item(String),
    /// A genuine delivery about something we do not import (said back to the sender).
    Ignored(String),
}

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Not signed with this connector's secret (or not from its org): `401`.
    #[error("signature does not verify: {0}")]
    Unauthenticated(String),
    /// Signed, but not a body we understand: `400`.
    #[error("malformed delivery: {0}")]
    Malformed(String),
    /// This kind takes no webhooks: `404`.
    #[error("{0}")]
    NotAccepted(String),
}

/// An item as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedItem {
    pub id: String,
    /// The time the listing windows and the poll cursor are measured in (creation or end).
    pub time: DateTime<Utc>,
    /// The listing showed this item but it could not be read (a field of the wrong type):
    /// the pipeline records it as a dead ledger item with this reason, so it is seen, and
    /// the rest of the listing goes on.
    pub unreadable: Option<String>,
}

/// What an item listing yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    Item(ListedItem),
    /// Every item created before this time has now been listed (a window of the walk is
    /// complete): a poll cut off after it resumes from here, not from its start.
    Checkpoint(DateTime<Utc>),
}

/// One planned WFO contact, with the display name of its agent when the payload has it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedContact {
    pub contact: SegmentedContact,
    pub agent_name: Option<AgentName>,
}

/// What one item becomes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemPlan {
    /// The interaction the item belongs to (Webex Calling `callSessionId`, a task id).
    pub interaction_id: Option<String>,
    /// Empty when the item has nothing to import (an external leg).
    pub contacts: Vec<PlannedContact>,
    /// Remarks about the payload for the log (mapping warnings, assumptions applied).
    pub notes: Vec<String>,
    /// Segments left out and why (an agent not eligible at the source: no license,
    /// recording off, filtered out by the connector's rules). Recorded on the item.
    pub skipped: Vec<String>,
    /// Metadata mapping paths that named no field of this item's payload (the pipeline
    /// reports a path that matches nothing for a day).
    pub mapping_misses: Vec<wfo_domain::mapping::UnmatchedPath>,
    /// What the source wants handed back when it plans this item again (its own compact
    /// copy of the payload, so planning again for late audio need not fetch it). Kept on
    /// the ledger item; at most [`MAX_KEPT_BYTES`] serialized, or it is not kept.
    pub keep: Option<serde_json::Value>,
    /// Set when contacts were planned with `audio.expected` and no slice: when to plan
    /// again for their audio, and until when audio can still appear.
    pub audio_wait: Option<wfo_domain::ledger::AudioWait>,
}

/// The most a source may keep on a ledger item ([`ItemPlan::keep`]): DynamoDB items are
/// at most 400 KB, and the contacts need room too.
pub const MAX_KEPT_BYTES: usize = 64 * 1024;

/// How media is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    pub format: AudioFormat,
    pub channels: u8,
}

/// The media a slice is cut from, opened.
pub struct Media {
    /// The whole recording, from its first byte.
    pub stream: ByteStream,
    /// Total bytes, when the source says.
    pub length: Option<u64>,
    pub format: MediaFormat,
    /// Length of the whole recording, when the source says.
    pub duration_ms: Option<i64>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("length", &self.length)
            .field("format", &self.format)
            .field("duration_ms", &self.duration_ms)
            .finish_non_exhaustive()
    }
}

/// Who authorized a credential, as the source says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The organization, as the source spells it (compared in canonical form).
    pub org_id: String,
    /// The account that consented (an email), when the source says.
    pub account: Option<String>,
}

/// What a webhook or subscription registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Created(String),
    Reactivated(String),
    SecretUpdated(String),
    Unchanged(String),
}

impl Registration {
    pub fn webhook_id(&self) -> &str {
        match self {
            Registration::Created(id)
            | Registration::Reactivated(id)
            | Registration::SecretUpdated(id)
            | Registration::Unchanged(id) => id,
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Registration::Created(_) => "created",
            Registration::Reactivated(_) => "reactivated (it had been deactivated by the source)",
            Registration::SecretUpdated(_) => "secret re-set",
            Registration::Unchanged(_) => "active",
        }
    }
}

/// How the user sync behaves; tests shorten the waits. The source reads the listing
/// fields, the pipeline the writing ones.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Attempts per source call at this level (each after the HTTP layer's own retries).
    pub page_attempts: u32,
    /// Wait between those attempts when the error names none (doubled each time).
    pub page_retry_wait: Duration,
    /// Longest wait for one `Retry-After` at this level; longer → the call fails.
    pub max_page_wait: Duration,
    /// How long a per-user eligibility verdict read from the source is trusted when no
    /// change feed names that user (Webex Calling: the `record` mode, re-read at once
    /// when the admin audit events name a change; this is only the backstop for changes
    /// the feed does not show). `None`: the source's cheap listing alone decides.
    pub record_mode_ttl: Option<chrono::Duration>,
    /// Per-user setting reads per run, at most.
    pub max_setting_reads: usize,
    /// Per-user setting reads in flight.
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

/// Source calls one sync run made (each an API call, not counting the HTTP layer's
/// retries), by what they read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceCalls {
    /// License or configuration lists (Webex Calling: `/v1/licenses`).
    pub licenses: u64,
    /// Pages of the recording roster (Webex Calling).
    pub roster_pages: u64,
    /// Pages of users.
    pub people_pages: u64,
    /// Pages of teams (Contact Center).
    #[serde(default)]
    pub team_pages: u64,
    /// Pages of queues (Contact Center).
    #[serde(default)]
    pub queue_pages: u64,
    /// Per-user reads (Webex Calling: the call-recording setting).
    pub setting_reads: u64,
    /// Pages of the change feed that names whose per-user setting changed (Webex
    /// Calling: the admin audit events).
    #[serde(default)]
    pub change_feed_pages: u64,
    /// Calls repeated at this level after a failure (included above).
    pub retried: u64,
}

impl SourceCalls {
    pub fn total(&self) -> u64 {
        self.licenses
            + self.roster_pages
            + self.people_pages
            + self.team_pages
            + self.queue_pages
            + self.setting_reads
            + self.change_feed_pages
    }
}

/// Which counter a source call of the user listing goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Licenses,
    Roster,
    People,
    Teams,
    Queues,
    Setting,
    ChangeFeed,
}

impl SourceCalls {
    pub fn count(&mut self, kind: CallKind, retry: bool) {
        match kind {
            CallKind::Licenses => self.licenses += 1,
            CallKind::Roster => self.roster_pages += 1,
            CallKind::People => self.people_pages += 1,
            CallKind::Teams => self.team_pages += 1,
            CallKind::Queues => self.queue_pages += 1,
            CallKind::Setting => self.setting_reads += 1,
            CallKind::ChangeFeed => self.change_feed_pages += 1,
        }
        if retry {
            self.retried += 1;
        }
    }
}

/// Keeps the caller's claim on a long job (the sync's run lock) alive between calls.
#[async_trait]
pub trait KeepAlive: Send + Sync {
    async fn renew(&self) -> Result<(), SourceError>;
}

/// What a user listing gets from the pipeline.
pub struct UserListingRequest<'a> {
    pub connector: &'a StoredConnector,
    /// Where the source keeps what it learned between runs (per-user verdicts).
    pub kv: &'a dyn KvStore,
    pub settings: &'a SyncSettings,
    pub keep_alive: &'a dyn KeepAlive,
    /// Every call made, counted here as it is made (the run records them even when it fails).
    pub calls: &'a Mutex<SourceCalls>,
    pub now: DateTime<Utc>,
}

/// The users a source lists for the sync.
#[derive(Debug, Clone)]
pub struct UserListing {
    pub users: Vec<SourceUser>,
    /// `Partial` when a page could not be read: nobody is deactivated.
    pub listing: Listing,
    /// Why the listing is partial.
    pub incomplete: Option<String>,
    pub people_listed: u64,
    /// Users that passed the source's cheap filters (licensed, on the roster).
    pub candidates: u64,
    /// Per-user reads that failed (those users are left as they are).
    pub setting_failures: u64,
    /// Listed entries that could not be read (a field of the wrong type, no id), each
    /// with its reason: left out, the rest synced. Bounded by [`MAX_REJECTED`].
    pub rejected: Vec<String>,
    /// How eligibility was decided when that is worth an operator's attention (a change
    /// feed that could not be read, so per-user settings were read again): shown as run
    /// warnings, not errors.
    pub notes: Vec<String>,
}

/// Rejected entries a listing keeps the reasons of (the count goes on in the log).
pub const MAX_REJECTED: usize = 50;

/// One kind of a source's configuration (teams or queues), listed.
#[derive(Debug, Clone)]
pub struct KindListing<T> {
    pub items: Vec<T>,
    /// `Partial` when a page could not be read: nothing is deactivated.
    pub listing: Listing,
    /// Why the listing is partial.
    pub incomplete: Option<String>,
    /// Entries that could not be read, each with its reason (at most [`MAX_REJECTED`]).
    pub rejected: Vec<String>,
}

impl<T> Default for KindListing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            listing: Listing::Complete,
            incomplete: None,
            rejected: Vec::new(),
        }
    }
}

/// A contact center's teams and queues for the configuration sync.
#[derive(Debug, Clone, Default)]
pub struct OrgListing {
    pub teams: KindListing<wfo_domain::org_sync::SourceTeam>,
    pub queues: KindListing<wfo_domain::org_sync::SourceQueue>,
}

/// What the user sync needs to know about a source before it lists anyone.
#[derive(Debug, Clone)]
pub struct UserSyncProfile {
    /// Scopes the sync needs besides those of the importer (checked against the granted
    /// ones when the scheme has scopes).
    pub required_scopes: &'static [&'static str],
    /// How new persons are created (the guides differ per source).
    pub policy: SyncPolicy,
}

/// One connector's source.
#[async_trait]
pub trait Source: Send + Sync {
    /// Every item created in `[from, to)`, page by page as the stream is read. Any order
    /// within a window; a [`Listed::Checkpoint`] after each window the source completed.
    /// The caller keeps the newest [`ListedItem::time`] and the checkpoints as its
    /// resumable cursor.
    fn list_items(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>>;

    /// Fetch the item's payloads and segment them: the contacts it becomes, each with its
    /// media slice and its agent's name. `kept` is what the previous plan of this item
    /// asked to keep ([`ItemPlan::keep`]), when there was one: planning again for audio
    /// that came late.
    async fn plan(
        &self,
        item_id: &str,
        ctx: &SegmentContext,
        kept: Option<&serde_json::Value>,
    ) -> Result<ItemPlan, SourceError>;

    /// Open the recording a slice of item `item_id` is cut from (a fresh link each time).
    async fn open_media(&self, item_id: &str, media: &MediaSlice) -> Result<Media, SourceError>;

    /// The user sync's needs; `None` when this source has no users to sync.
    fn user_sync(&self) -> Option<UserSyncProfile>;

    /// The users (with eligibility) for the sync.
    async fn list_users(&self, req: UserListingRequest<'_>) -> Result<UserListing, SourceError>;

    /// The teams and queues the sync keeps in step (contact center, synced before the
    /// users); `None` when the source has none (Webex Calling).
    async fn list_org(&self, req: UserListingRequest<'_>) -> Result<Option<OrgListing>, SourceError> {
        let _ = req;
        Ok(None)
    }

    /// Who the credential was issued to: the pipeline refuses an authorization whose
    /// organization is not the connector's `source.tenant_id`.
    async fn identity(&self) -> Result<Identity, SourceError>;

    /// Make sure the source delivers to `target_url`, signed with `secret`: reuse a matching
    /// registration, repair one that is inactive or has another secret, create one at most.
    async fn ensure_webhook(&self, name: &str, target_url: &str, secret: &Secret) -> Result<Registration, SourceError>;

    /// Scopes the importer cannot work without, whatever `source.scopes` asks for (the
    /// preflight checks them against the granted ones when the scheme has scopes).
    fn import_scopes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The source's own preflight checks (`wfo-connect connector check`), with harmless
    /// reads only: the permissions its calls need (a recordings listing, users and
    /// licenses, captures, the media API), and its webhook or subscription when the
    /// connector registers one. Each probe within `ctx.timeout`; every error is a failed
    /// check naming its fix, never an `Err`. The pipeline has already checked the
    /// credential and its organization. Default: no checks of its own.
    async fn preflight(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        let _ = ctx;
        Vec::new()
    }
}

/// What [`SourceKind::connect`] gets.
#[derive(Clone)]
pub struct SourceDeps {
    /// The shared HTTP client (timeouts, no redirects, connection pool).
    pub http: reqwest::Client,
    pub policy: wfo_http::RetryPolicy,
    pub credentials: Arc<dyn Credentials>,
    /// Where a source's client-side rate limit is counted across processes (the store;
    /// see [`StoreQuota`]). `None`: each process counts alone.
    pub quota: Option<Arc<dyn wfo_http::limit::SharedQuota>>,
}

/// A rate-limit count kept in the store ([`KvStore::take_quota`]), so every process (every
/// Lambda) of one key draws from one budget.
pub struct StoreQuota(pub Arc<dyn KvStore>);

#[async_trait]
impl wfo_http::limit::SharedQuota for StoreQuota {
    async fn take(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> Result<Option<u32>, String> {
        self.0
            .take_quota(&format!("rate:{bucket}"), window_start, n, limit, ttl)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A source system: one value per connector kind.
pub trait SourceKind: Send + Sync {
    fn kind(&self) -> ConnectorKind;

    fn credential_scheme(&self) -> CredentialScheme;

    /// Verify one webhook delivery with the connector's secret and name its item.
    /// `header` looks a request header up case-insensitively.
    fn parse_delivery(
        &self,
        connector: &StoredConnector,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<Delivery, DeliveryError>;

    /// Offline segmentation of one payload file (`wfo-connect segment`), in the shape
    /// `specs/interfaces.md` §3 gives for this kind.
    fn segment_file(&self, doc: &serde_json::Value, ctx: &SegmentContext)
    -> Result<Vec<SegmentedContact>, SourceError>;

    /// The connector's source, with its clients built once.
    fn connect(&self, connector: &StoredConnector, deps: SourceDeps) -> Result<Arc<dyn Source>, SourceError>;
}

/// Which source serves each connector kind.
pub trait Registry: Send + Sync {
    /// `None` when no source of that kind is built into this binary.
    fn source_kind(&self, kind: ConnectorKind) -> Option<Arc<dyn SourceKind>>;
}

/// What [`ListingCalls`] needs to know about a source client's error.
pub trait CallError: std::fmt::Display {
    /// The source refused the credential (`401`): renew it once and call again.
    fn is_unauthorized(&self) -> bool;
    /// Worth another attempt at this level.
    fn is_retryable(&self) -> bool;
    /// The wait the source asked for.
    fn retry_after(&self) -> Option<Duration>;
    /// What the pipeline must do about it (the source's one mapping).
    fn into_source_error(self) -> SourceError;
}

/// The calls of one user listing (or configuration listing) run, for every source: one
/// access token asked for and renewed at most once per call on a `401`, each call retried
/// at this level (`Retry-After` honoured up to `max_page_wait`, doubling waits
/// otherwise, at most `page_attempts`), the run's claim renewed and every call counted
/// before it is made.
pub struct ListingCalls<'a> {
    pub req: &'a UserListingRequest<'a>,
    pub credentials: &'a dyn Credentials,
    token: tokio::sync::Mutex<Option<Secret>>,
}

impl<'a> ListingCalls<'a> {
    pub fn new(req: &'a UserListingRequest<'a>, credentials: &'a dyn Credentials) -> Self {
        Self {
            req,
            credentials,
            token: tokio::sync::Mutex::new(None),
        }
    }

    async fn token(&self, renew: bool) -> Result<Secret, SourceError> {
        let mut slot = self.token.lock().await;
        if renew {
            self.credentials.renew().await?;
            *slot = None;
        }
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = self.credentials.current().await?;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// One source call `f(token)` with this level's retries.
    pub async fn call<T, E, F, Fut>(&self, kind: CallKind, mut f: F) -> Result<T, SourceError>
    where
        E: CallError,
        F: FnMut(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            self.req.keep_alive.renew().await?;
            let token = self.token(false).await?;
            if let Ok(mut c) = self.req.calls.lock() {
                c.count(kind, attempt > 1);
            }
            match f(token).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_unauthorized() && !renewed => {
                    renewed = true;
                    self.token(true).await?;
                }
                Err(e) if e.is_retryable() && attempt < self.req.settings.page_attempts => {
                    let backoff = self
                        .req
                        .settings
                        .page_retry_wait
                        .saturating_mul(1 << (attempt - 1).min(8));
                    let wait = e.retry_after().unwrap_or(backoff);
                    if wait > self.req.settings.max_page_wait {
                        return Err(e.into_source_error());
                    }
                    tracing::debug!(connector = %self.req.connector.config.id, attempt, wait_ms = wait.as_millis() as u64, error = %e, "source call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e.into_source_error()),
            }
        }
    }
}
