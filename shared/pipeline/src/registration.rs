//! Source webhook registration (`features.webhook = true`): one webhook (or subscription)
//! per connector, targeting `{public_url}/webhooks/{id}` and signed with the connector's
//! stored secret. The source does the asking ([`wfo_ports::Source::ensure_webhook`]:
//! Webex Calling keeps one org-level `convergedRecordings`/`created` webhook).
//!
//! A matching registration is reused (re-activated when the source deactivated it; its
//! secret re-set when it differs), so running this any number of times creates at most
//! one. Runs of one connector are
//! serialized by a store lock, so the callback's registration and a refresh run (or two
//! processes) cannot both find nothing and both create.
//!
//! The outcome of the last run is kept ([`WEBHOOK_STATUS_KEY`]) for `wfo-connect status`:
//! a source that refuses the webhook leaves the connector working through the poller,
//! says why, and is asked again on every refresh run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wfo_ports::{AuthError, SourceError};

use crate::connections::{Connections, with_renewal};
use crate::ports::{Store, StoreError, StoredConnector};

pub use wfo_ports::Registration;

/// KvStore key of the last registration outcome ([`WebhookStatus`]).
pub const WEBHOOK_STATUS_KEY: &str = "webhook-registration";

/// The last registration outcome of one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    pub at: DateTime<Utc>,
    /// The webhook id when the source holds an active one for us.
    pub webhook_id: Option<String>,
    /// What was done (`created`, `reactivated`, …) or why it failed.
    pub detail: String,
    pub ok: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("webhook registration: {0}")]
    Source(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another process is registering the webhook of {0}")]
    Busy(String),
}

impl From<SourceError> for RegistrationError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Credentials(a) => RegistrationError::Auth(a),
            other => RegistrationError::Source(other),
        }
    }
}

impl RegistrationError {
    /// Nothing to register until an operator (re-)authorizes the connector.
    pub fn needs_operator(&self) -> bool {
        matches!(self, RegistrationError::Auth(e) if e.needs_operator())
    }
}

const LOCK_TTL: Duration = Duration::from_secs(60);
const LOCK_WAIT: Duration = Duration::from_secs(15);

/// [`ensure_webhook`], then remember the outcome for `status`. A failure is logged as a
/// warning naming the reason; an operator-needed auth error is neither recorded nor
/// logged here (the token status says it).
pub async fn ensure_and_record(
    connections: &Connections,
    connector: &StoredConnector,
    public_url: &str,
) -> Result<Registration, RegistrationError> {
    let store = connections.store().as_ref();
    let id = &connector.config.id;
    let result = ensure_webhook(connections, connector, public_url).await;
    let status = match &result {
        Ok(r) => WebhookStatus {
            at: Utc::now(),
            webhook_id: Some(r.webhook_id().to_owned()),
            detail: r.describe().to_owned(),
            ok: true,
        },
        Err(e) if e.needs_operator() => return result,
        Err(e) => {
            tracing::warn!(connector = %id, error = %e, "webhook registration failed: the poller keeps importing; retried on the next refresh run");
            let previous = load_status(store, id).await.ok().flatten();
            WebhookStatus {
                at: Utc::now(),
                webhook_id: previous.and_then(|p| p.webhook_id),
                detail: e.to_string(),
                ok: false,
            }
        }
    };
    match serde_json::to_value(&status) {
        Ok(v) => {
            if let Err(e) = store.put_value(id, WEBHOOK_STATUS_KEY, &v).await {
                tracing::warn!(connector = %id, error = %e, "cannot record the webhook registration outcome");
            }
        }
        Err(e) => tracing::warn!(connector = %id, error = %e, "cannot encode the webhook registration outcome"),
    }
    result
}

/// The last recorded registration outcome, if any.
pub async fn load_status(store: &dyn Store, connector_id: &str) -> Result<Option<WebhookStatus>, StoreError> {
    Ok(store
        .get_value(connector_id, WEBHOOK_STATUS_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

pub fn target_url(public_url: &str, connector_id: &str) -> String {
    format!("{}/webhooks/{connector_id}", public_url.trim_end_matches('/'))
}

pub async fn ensure_webhook(
    connections: &Connections,
    connector: &StoredConnector,
    public_url: &str,
) -> Result<Registration, RegistrationError> {
    let store = connections.store().as_ref();
    let id = &connector.config.id;
    let lock = format!("webhook-registration:{id}");
    let owner = uuid::Uuid::new_v4().to_string();
    let started = std::time::Instant::now();
    while !store.try_lock(&lock, &owner, LOCK_TTL, Utc::now()).await? {
        if started.elapsed() > LOCK_WAIT {
            return Err(RegistrationError::Busy(id.clone()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = ensure_locked(connections, connector, public_url).await;
    if let Err(e) = store.unlock(&lock, &owner).await {
        tracing::debug!(connector = %id, error = %e, "cannot release the webhook registration lock (it expires)");
    }
    result
}

async fn ensure_locked(
    connections: &Connections,
    connector: &StoredConnector,
    public_url: &str,
) -> Result<Registration, RegistrationError> {
    // Read again under the lock: an authorization may have rotated the secret since the
    // caller read the connector.
    let connector = &connections
        .store()
        .get_connector(&connector.config.id)
        .await?
        .unwrap_or_else(|| connector.clone());
    let conn = connections.get(connector).await?;
    // A credential that cannot work is said before the source is asked anything.
    conn.credentials.current().await?;
    let target = target_url(public_url, &connector.config.id);
    let name = format!("wfo-connect {}", connector.config.id);
    let secret = &connector.secrets.webhook_secret;
    // The access token was revoked or expired early: renew (which marks the connector
    // "re-authorization required" when the source refuses) and try again.
    let registration = with_renewal(conn.credentials.as_ref(), || {
        conn.source.ensure_webhook(&name, &target, secret)
    })
    .await?;
    if let Registration::Created(hook) = &registration {
        tracing::info!(connector = %connector.config.id, webhook = %hook, "webhook registered");
    }
    Ok(registration)
}
