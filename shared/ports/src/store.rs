//! Ports: what the pipelines need from the outside world, as traits.
//!
//! The embedded store (`wfo-store`, SQLite) implements them for one-machine runs; the AWS
//! adapters (DynamoDB, SQS, KMS) implement the same traits. Each handler depends on the
//! narrowest port it needs.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::{Discovery, LedgerItem};

/// A store failure. `Conflict` is the optimistic-concurrency outcome: someone else wrote
/// first; re-read and decide again.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("write conflict on {0}: it changed since it was read")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt or cannot be decrypted: {0}")]
    Corrupt(String),
    /// The store refuses the write as it is (a ledger item over [`MAX_ITEM_BODY`], a
    /// DynamoDB `ValidationException`): trying again cannot help.
    #[error("the store refuses this write: {0}")]
    Invalid(String),
}

/// The largest serialized ledger item either store accepts: DynamoDB's 400 KB item
/// limit less room for the key and the indexed attributes. The embedded store enforces
/// the same limit, so an item too large for AWS fails the same way on one machine.
pub const MAX_ITEM_BODY: usize = 380 * 1024;

/// [`StoreError::Invalid`] for a serialized item over [`MAX_ITEM_BODY`].
pub fn check_item_size(connector_id: &str, item_id: &str, body: &str) -> StoreResult<()> {
    if body.len() > MAX_ITEM_BODY {
        return Err(StoreError::Invalid(format!(
            "ledger item {connector_id}/{item_id} would be {} bytes, over the {MAX_ITEM_BODY}-byte limit",
            body.len()
        )));
    }
    Ok(())
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict(_) | StoreError::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Outcome of [`Ledger::discover`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovered {
    /// A new item: enqueue it.
    New,
    /// Already known: nothing to do (a duplicate or late delivery).
    Known,
}

/// Counts per state label for status output.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LedgerCounts {
    pub by_state: std::collections::BTreeMap<String, u64>,
    pub total: u64,
}

#[async_trait]
pub trait Ledger: Send + Sync {
    /// Idempotent conditional insert.
    async fn discover(
        &self,
        connector_id: &str,
        item_id: &str,
        by: Discovery,
        now: DateTime<Utc>,
    ) -> StoreResult<Discovered>;
    async fn get(&self, connector_id: &str, item_id: &str) -> StoreResult<Option<LedgerItem>>;
    /// Write `item` if its stored version is still `item.version`; returns the new version.
    /// A finished item (done or dead) is written with its lease ended: whoever held it
    /// need not release it.
    async fn put(&self, item: &LedgerItem) -> StoreResult<i64>;
    /// Take the item for `lease` (one worker at a time). `false` when another holds it.
    async fn lease(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// [`Self::lease`], then the item as stored: `None` when it was not leased (another
    /// holds it, or there is no such item). A store that can does both in one round trip.
    async fn lease_get(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LedgerItem>> {
        if !self.lease(connector_id, item_id, owner, lease, now).await? {
            return Ok(None);
        }
        self.get(connector_id, item_id).await
    }
    async fn release(&self, connector_id: &str, item_id: &str, owner: &str) -> StoreResult<()>;
    /// Items that are not finished and whose `next_attempt_at` has passed.
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<LedgerItem>>;
    /// Items of a connector, newest first, optionally only those not done.
    async fn list(&self, connector_id: &str, only_open: bool, limit: usize) -> StoreResult<Vec<LedgerItem>>;
    async fn counts(&self, connector_id: &str) -> StoreResult<LedgerCounts>;
}

/// A unit of work: "advance this item".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkMessage {
    pub connector_id: String,
    pub item_id: String,
}

#[derive(Debug, Clone)]
pub struct Received {
    /// Opaque handle for ack / retry (SQS receipt handle).
    pub receipt: String,
    /// The message's own id, the same on every receive (SQS `MessageId`): what
    /// [`WorkQueue::redrive`] takes, since a receipt changes each time a message is read.
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
    /// Why it was dead-lettered, for messages returned by `dead_letters`.
    pub dead_reason: Option<String>,
    /// When it was set aside, for messages returned by `dead_letters`, where the queue
    /// knows (SQS: the dead-letter queue's `SentTimestamp`; a message SQS's own redrive
    /// policy moved keeps the time it was first sent).
    pub dead_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn send(&self, msg: &WorkMessage, delay: Duration) -> StoreResult<()>;
    /// Up to `max` messages, each hidden for `visibility` unless acked.
    async fn receive(&self, max: usize, visibility: Duration) -> StoreResult<Vec<Received>>;
    async fn ack(&self, receipt: &str) -> StoreResult<()>;
    /// Make the message visible again after `delay`.
    async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()>;
    /// Move a message that cannot be processed (malformed, unknown) aside: kept, visible,
    /// never silently deleted.
    async fn dead_letter(&self, receipt: &str, reason: &str) -> StoreResult<()>;
    /// Messages that could not be parsed or exceeded their receive count: kept, visible.
    async fn dead_letters(&self, limit: usize) -> StoreResult<Vec<Received>>;
    /// Put the dead letter whose [`Received::message_id`] is `id` back on the work queue
    /// as a fresh message (visible now, its receive count from zero) and remove it from
    /// the dead letters. The copy is made before the dead letter is removed: a crash in
    /// between leaves the message in both places (a duplicate the ledger's exactly-once
    /// steps make harmless), never in neither. `false` when there is no such dead letter
    /// (already replayed, or never there), so replaying twice does nothing the second time.
    async fn redrive(&self, id: &str) -> StoreResult<bool>;
    /// [`redrive`](Self::redrive) every dead letter, at most `limit`; how many moved.
    async fn redrive_all(&self, limit: usize) -> StoreResult<u64> {
        let mut moved = 0;
        for d in self.dead_letters(limit).await? {
            if self.redrive(&d.message_id).await? {
                moved += 1;
            }
        }
        Ok(moved)
    }
    async fn depth(&self) -> StoreResult<u64>;
}

/// A stored connector: its configuration (secrets encrypted at rest by the store) and
/// the secrets generated for it.
#[derive(Debug, Clone)]
pub struct StoredConnector {
    pub config: ConnectorConfig,
    pub secrets: ConnectorSecrets,
    pub created_at: DateTime<Utc>,
}

/// Secrets the connector generates for itself when it is first stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSecrets {
    /// Shared with the source when the webhook is registered; signs deliveries.
    pub webhook_secret: Secret,
    /// Signs OAuth `state` values of this connector's Authorization URL.
    pub state_key: Secret,
}

impl ConnectorSecrets {
    fn fresh() -> Secret {
        use rand::RngCore;
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Secret::new(hex::encode(b))
    }

    pub fn generate() -> Self {
        Self {
            webhook_secret: Self::fresh(),
            state_key: Self::fresh(),
        }
    }

    /// The same secrets with a new webhook secret.
    pub fn with_new_webhook_secret(&self) -> Self {
        Self {
            webhook_secret: Self::fresh(),
            state_key: self.state_key.clone(),
        }
    }
}

#[async_trait]
pub trait ConnectorStore: Send + Sync {
    /// Insert or replace (the webhook secret is kept when one exists).
    async fn put_connector(&self, config: &ConnectorConfig, now: DateTime<Utc>) -> StoreResult<StoredConnector>;
    async fn get_connector(&self, id: &str) -> StoreResult<Option<StoredConnector>>;
    async fn list_connectors(&self) -> StoreResult<Vec<StoredConnector>>;
    /// Replace the connector's webhook secret with a fresh one (every successful
    /// authorization does: a secret a stranger may have seen stops working). `NotFound`
    /// when there is no such connector.
    async fn rotate_webhook_secret(&self, id: &str) -> StoreResult<StoredConnector>;
}

/// OAuth tokens of one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: Option<Secret>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub obtained_at: DateTime<Utc>,
}

/// Token health of one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub tokens: Option<TokenSet>,
    /// Set when the source refused a refresh: `(since, reason)`.
    pub reauth_required: Option<(DateTime<Utc>, String)>,
    pub version: i64,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn get_tokens(&self, connector_id: &str) -> StoreResult<TokenRecord>;
    /// Conditional write: succeeds only if the stored version is still `expected_version`.
    async fn put_tokens(&self, connector_id: &str, record: &TokenRecord, expected_version: i64) -> StoreResult<i64>;
    /// Issue a single-use OAuth `state` nonce valid until `expires_at`.
    async fn put_oauth_state(&self, nonce: &str, connector_id: &str, expires_at: DateTime<Utc>) -> StoreResult<()>;
    /// Consume a nonce: returns its connector when it existed and had not expired.
    async fn take_oauth_state(&self, nonce: &str, now: DateTime<Utc>) -> StoreResult<Option<String>>;
}

/// Small named values per connector: poll cursors, last sync results.
#[async_trait]
pub trait KvStore: Send + Sync {
    async fn get_value(&self, connector_id: &str, key: &str) -> StoreResult<Option<serde_json::Value>>;
    async fn put_value(&self, connector_id: &str, key: &str, value: &serde_json::Value) -> StoreResult<()>;
    /// A lock with expiry for work that must not run twice at once across processes
    /// (creating a WFO person for one ACD id). `false` when someone else holds it.
    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn unlock(&self, name: &str, owner: &str) -> StoreResult<()>;
    /// A request quota shared by every process using the store (a rate limit per OAuth
    /// client id, which all connectors and Lambdas of that client id draw from).
    ///
    /// Atomically adds `n` to the counter of (`bucket`, `window_start`) when the new total
    /// stays at or under `limit`: `Some(new_total)` when taken, `None` when it would
    /// exceed `limit` (nothing is added; `n > limit` is always `None`). `n = 0` reads the
    /// total (creating the counter at 0). Windows are independent counters: the caller
    /// picks `window_start` (the start of the current minute, say). A counter is deleted
    /// once `window_start + ttl` has passed (cleanup only: make `ttl` longer than the
    /// window, or an expired counter may start again from zero).
    async fn take_quota(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> StoreResult<Option<u32>>;
}

/// Everything a runtime offers, for code that needs several ports.
pub trait Store: Ledger + WorkQueue + ConnectorStore + TokenStore + KvStore {}
impl<T: Ledger + WorkQueue + ConnectorStore + TokenStore + KvStore> Store for T {}
