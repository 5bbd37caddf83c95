//! Source webhook registration (`features.webhook = true`): one org-level
//! `convergedRecordings`/`created` webhook per connector, targeting
//! `{public_url}/webhooks/{id}` and signed with the connector's stored secret.
//!
//! Existing webhooks are listed first and a matching one is reused (re-activated with
//! `PUT` when Webex auto-deactivated it; its secret re-set when it differs), so running
//! this any number of times creates at most one webhook. Runs of one connector are
//! serialized by a store lock, so the callback's registration and a refresh run (or two
//! processes) cannot both find nothing and both create.
//!
//! The outcome of the last run is kept ([`WEBHOOK_STATUS_KEY`]) for `wfo-connect status`:
//! a source that refuses the webhook leaves the connector working through the poller,
//! says why, and is asked again on every refresh run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wfo_http::RetryPolicy;
use wfo_webex_calling::{
    EVENT_CREATED, NewWebhook, RESOURCE_CONVERGED_RECORDINGS, WebexCallingClient, WebexError, WebhookUpdate,
};

use crate::auth::{self, AuthError};
use crate::ports::{Store, StoreError, StoredConnector};

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
    Source(#[from] WebexError),
    #[error("invalid source.api_url: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another process is registering the webhook of {0}")]
    Busy(String),
}

impl RegistrationError {
    /// Nothing to register until an operator (re-)authorizes the connector.
    pub fn needs_operator(&self) -> bool {
        matches!(self, RegistrationError::Auth(e) if e.needs_operator())
    }
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

    fn describe(&self) -> &'static str {
        match self {
            Registration::Created(_) => "created",
            Registration::Reactivated(_) => "reactivated (it had been deactivated by the source)",
            Registration::SecretUpdated(_) => "secret re-set",
            Registration::Unchanged(_) => "active",
        }
    }
}

const LOCK_TTL: Duration = Duration::from_secs(60);
const LOCK_WAIT: Duration = Duration::from_secs(15);

/// [`ensure_webhook`], then remember the outcome for `status`. A failure is logged as a
/// warning naming the reason; an operator-needed auth error is neither recorded nor
/// logged here (the token status says it).
pub async fn ensure_and_record(
    store: &dyn Store,
    connector: &StoredConnector,
    public_url: &str,
    policy: &RetryPolicy,
    token_http: &reqwest::Client,
) -> Result<Registration, RegistrationError> {
    let id = &connector.config.id;
    let result = ensure_webhook(store, connector, public_url, policy, token_http).await;
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Created(String),
    Reactivated(String),
    SecretUpdated(String),
    Unchanged(String),
}

pub fn target_url(public_url: &str, connector_id: &str) -> String {
    format!("{}/webhooks/{connector_id}", public_url.trim_end_matches('/'))
}

pub async fn ensure_webhook(
    store: &dyn Store,
    connector: &StoredConnector,
    public_url: &str,
    policy: &RetryPolicy,
    token_http: &reqwest::Client,
) -> Result<Registration, RegistrationError> {
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
    let result = match ensure_locked(store, connector, public_url, policy, token_http).await {
        // The access token was revoked or expired early: refresh (which marks the
        // connector "re-authorization required" when the source refuses) and try again.
        Err(RegistrationError::Source(WebexError::Unauthorized { .. })) => {
            match auth::refresh(store, connector, token_http, Utc::now()).await {
                Ok(_) => ensure_locked(store, connector, public_url, policy, token_http).await,
                Err(e) => Err(e.into()),
            }
        }
        other => other,
    };
    if let Err(e) = store.unlock(&lock, &owner).await {
        tracing::debug!(connector = %id, error = %e, "cannot release the webhook registration lock (it expires)");
    }
    result
}

async fn ensure_locked(
    store: &dyn Store,
    connector: &StoredConnector,
    public_url: &str,
    policy: &RetryPolicy,
    token_http: &reqwest::Client,
) -> Result<Registration, RegistrationError> {
    let token = auth::access_token(store, connector, token_http, Utc::now()).await?;
    let api =
        url::Url::parse(&connector.config.source.api_url).map_err(|e| RegistrationError::Config(e.to_string()))?;
    let webex = WebexCallingClient::new(token_http.clone(), api, policy.clone());
    let target = target_url(public_url, &connector.config.id);
    let secret = &connector.secrets.webhook_secret;
    let existing = webex.list_webhooks(&token, true).await?;
    let found = existing
        .iter()
        .find(|h| h.resource == RESOURCE_CONVERGED_RECORDINGS && h.event == EVENT_CREATED && h.target_url == target);
    let Some(hook) = found else {
        let name = format!("wfo-connect {}", connector.config.id);
        let created = webex
            .create_webhook(
                &token,
                &NewWebhook::converged_recordings_created(name, target, secret.clone()),
            )
            .await?;
        tracing::info!(connector = %connector.config.id, webhook = %created.id, "webhook registered");
        return Ok(Registration::Created(created.id));
    };
    let secret_differs = hook.secret.as_ref().is_some_and(|s| s != secret);
    if !hook.is_active() || secret_differs {
        let mut update = WebhookUpdate::reactivate(hook);
        if secret_differs {
            update.secret = Some(secret.clone());
        }
        webex.update_webhook(&token, &hook.id, &update).await?;
        tracing::warn!(connector = %connector.config.id, webhook = %hook.id, inactive = !hook.is_active(), secret_differs, "webhook repaired; the poller imports anything missed meanwhile");
        return Ok(if hook.is_active() {
            Registration::SecretUpdated(hook.id.clone())
        } else {
            Registration::Reactivated(hook.id.clone())
        });
    }
    Ok(Registration::Unchanged(hook.id.clone()))
}
