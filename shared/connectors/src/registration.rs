//! Source webhook registration (`features.webhook = true`): one org-level
//! `convergedRecordings`/`created` webhook per connector, targeting
//! `{public_url}/webhooks/{id}` and signed with the connector's stored secret.
//!
//! Existing webhooks are listed first and a matching one is reused (re-activated with
//! `PUT` when Webex auto-deactivated it; its secret re-set when it differs), so running
//! this any number of times creates at most one webhook.

use chrono::Utc;
use wfo_http::RetryPolicy;
use wfo_webex_calling::{
    EVENT_CREATED, NewWebhook, RESOURCE_CONVERGED_RECORDINGS, WebexCallingClient, WebexError, WebhookUpdate,
};

use crate::auth::{self, AuthError};
use crate::ports::{Store, StoredConnector};

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("webhook registration: {0}")]
    Source(#[from] WebexError),
    #[error("invalid source.api_url: {0}")]
    Config(String),
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
    let token = auth::access_token(store, connector, token_http, Utc::now()).await?;
    let api = url::Url::parse(&connector.config.source.api_url).map_err(|e| RegistrationError::Config(e.to_string()))?;
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
            .create_webhook(&token, &NewWebhook::converged_recordings_created(name, target, secret.clone()))
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
        return Ok(if hook.is_active() { Registration::SecretUpdated(hook.id.clone()) } else { Registration::Reactivated(hook.id.clone()) });
    }
    Ok(Registration::Unchanged(hook.id.clone()))
}
