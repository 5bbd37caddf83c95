//! Completing an operator's authorization, for every OAuth source alike: exchange the
//! code, ask the source **who** authorized (Webex: `GET /v1/people/me`), and keep the
//! tokens only when that organization is the connector's `source.tenant_id`.
//!
//! Connector ids are public (they are in webhook URLs), so anyone can open a connector's
//! Authorization URL and consent with their own account. Without this check their
//! tokens would be stored, and the webhook registered in *their* org would show them
//! this connector's webhook secret. A foreign organization stores nothing; a successful
//! authorization rotates the webhook secret (one a stranger may have seen stops working)
//! and records who authorized, for `status`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;
use wfo_domain::webex_id::canonical_webex_id;
use wfo_ports::{
    AuthError, CredentialScheme, Credentials, Identity, RefreshOutcome, SourceDeps, SourceError, StoredConnector,
    TokenSet,
};

use crate::auth;
use crate::connections::Connections;

/// KvStore key of the last successful authorization ([`AuthorizedBy`]).
pub const AUTHORIZED_BY_KEY: &str = "authorized-by";

/// Who completed the last successful authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizedBy {
    pub account: Option<String>,
    pub org_id: String,
    pub at: DateTime<Utc>,
}

/// Why an authorization was not kept.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Exchange(#[from] AuthError),
    #[error(
        "connector '{connector}' has no source.tenant_id: it cannot check which organization authorizes it. Set source.tenant_id to the organization id and add the connector again"
    )]
    NoTenant { connector: String },
    #[error(
        "the account that consented{} belongs to organization {got}, but connector '{connector}' belongs to organization {expected}. Sign in with an administrator of {expected}",
        .account.as_deref().map(|a| format!(" ({a})")).unwrap_or_default()
    )]
    ForeignOrg {
        connector: String,
        expected: String,
        got: String,
        account: Option<String>,
    },
    #[error("could not confirm which organization authorized connector '{connector}': {reason}")]
    Unconfirmed { connector: String, reason: String },
    #[error(transparent)]
    Store(#[from] wfo_ports::StoreError),
}

impl Refusal {
    /// Worth trying again as it is (the identity or token service failed, not the consent).
    pub fn is_retryable(&self) -> bool {
        match self {
            Refusal::Exchange(e) => e.is_retryable(),
            Refusal::Unconfirmed { .. } | Refusal::Store(_) => true,
            Refusal::NoTenant { .. } | Refusal::ForeignOrg { .. } => false,
        }
    }
}

/// The tokens just exchanged, for the identity call only (never stored, never refreshed).
struct JustIssued(Secret);

#[async_trait]
impl Credentials for JustIssued {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }
    async fn current(&self) -> Result<Secret, AuthError> {
        Ok(self.0.clone())
    }
    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        Err(AuthError::Refused("the token just issued was refused".to_owned()))
    }
    async fn ready(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

/// Who `tokens` were issued to, checked against the connector's tenant.
pub async fn confirm_identity(
    connections: &Connections,
    connector: &StoredConnector,
    tokens: &TokenSet,
) -> Result<Identity, Refusal> {
    let id = &connector.config.id;
    let expected = canonical_webex_id(&connector.config.source.tenant_id);
    if expected.is_empty() {
        return Err(Refusal::NoTenant { connector: id.clone() });
    }
    let unconfirmed = |reason: String| Refusal::Unconfirmed {
        connector: id.clone(),
        reason,
    };
    let kind = connections
        .kind(connector.config.kind)
        .map_err(|e| unconfirmed(e.to_string()))?;
    let source = kind
        .connect(
            connector,
            SourceDeps {
                http: connections.http().clone(),
                policy: connections.policy().clone(),
                credentials: Arc::new(JustIssued(tokens.access_token.clone())),
                quota: Some(connections.quota()),
            },
        )
        .map_err(|e| unconfirmed(e.to_string()))?;
    let identity = source
        .identity()
        .await
        .map_err(|e: SourceError| unconfirmed(e.to_string()))?;
    let got = canonical_webex_id(&identity.org_id);
    if got != expected {
        return Err(Refusal::ForeignOrg {
            connector: id.clone(),
            expected,
            got,
            account: identity.account,
        });
    }
    Ok(identity)
}

/// Exchange `code`, confirm the organization, then store the tokens, rotate the webhook
/// secret and record who authorized. Returns the connector as stored afterwards (with its
/// new secret) and the tokens. Nothing is stored when anything before the store fails,
/// and nothing is exchanged for a connector that authenticates with an API key (its kind
/// has no OAuth flow, whatever state the callback carried).
pub async fn complete(
    connections: &Connections,
    connector: &StoredConnector,
    code: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(StoredConnector, TokenSet, Identity), Refusal> {
    auth::check_oauth(connector, connections.credential_scheme(connector.config.kind))?;
    let tokens = auth::exchange_code(connector, connections.token_http(), code, public_url, now).await?;
    let identity = match confirm_identity(connections, connector, &tokens).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(connector = %connector.config.id, error = %e, "authorization refused: nothing was stored");
            return Err(e);
        }
    };
    let store = connections.store().as_ref();
    let id = &connector.config.id;
    auth::store_authorization(store, id, tokens.clone()).await?;
    let rotated = store.rotate_webhook_secret(id).await?;
    let by = AuthorizedBy {
        account: identity.account.clone(),
        org_id: canonical_webex_id(&identity.org_id),
        at: now,
    };
    if let Err(e) = store
        .put_value(id, AUTHORIZED_BY_KEY, &serde_json::to_value(&by).unwrap_or_default())
        .await
    {
        tracing::warn!(connector = %id, error = %e, "cannot record who authorized (status will not show it)");
    }
    Ok((rotated, tokens, identity))
}

/// Who authorized the connector last, if recorded.
pub async fn authorized_by(
    store: &dyn wfo_ports::KvStore,
    connector_id: &str,
) -> Result<Option<AuthorizedBy>, wfo_ports::StoreError> {
    Ok(store
        .get_value(connector_id, AUTHORIZED_BY_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// KvStore key of the work an authorization leaves for the sweeper ([`FollowUp`]).
pub const FOLLOW_UP_KEY: &str = "after-authorization";

/// What an authorization leaves to be done outside the operator's request: resume the
/// items that waited for it and repair the webhook with the new secret. The callback
/// only records it and answers at once (API Gateway allows 30 s; a Lambda freezes what
/// a handler spawns); the sweeper runs it ([`run_follow_ups`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    pub authorized_at: DateTime<Utc>,
    pub resume: bool,
    pub repair_webhook: bool,
}

/// Record the follow-up of an authorization.
pub async fn request_follow_up(
    store: &dyn wfo_ports::KvStore,
    connector: &StoredConnector,
    now: DateTime<Utc>,
) -> Result<(), wfo_ports::StoreError> {
    let f = FollowUp {
        authorized_at: now,
        resume: true,
        repair_webhook: connector.config.registers_webhook(),
    };
    store
        .put_value(
            &connector.config.id,
            FOLLOW_UP_KEY,
            &serde_json::to_value(&f).unwrap_or_default(),
        )
        .await
}

/// Run every pending follow-up: resume the connector's waiting items, then ensure its
/// webhook. A part that fails stays pending for the next sweep. Returns how many items
/// were made due.
pub async fn run_follow_ups(connections: &Connections, public_url: &str, now: DateTime<Utc>) -> usize {
    let store = connections.store().as_ref();
    let Ok(connectors) = store.list_connectors().await else {
        return 0;
    };
    let mut resumed = 0;
    for c in &connectors {
        let id = &c.config.id;
        let Ok(Some(value)) = store.get_value(id, FOLLOW_UP_KEY).await else {
            continue;
        };
        let Ok(mut f) = serde_json::from_value::<FollowUp>(value) else {
            continue;
        };
        if f.resume {
            match crate::reconcile::resume_connector(store, id, now).await {
                Ok(n) => {
                    resumed += n;
                    f.resume = false;
                    if n > 0 {
                        tracing::info!(connector = %id, items = n, "waiting items resumed after authorization");
                    }
                }
                Err(e) => tracing::warn!(connector = %id, error = %e, "cannot resume waiting items yet; next sweep"),
            }
        }
        if f.repair_webhook {
            match crate::registration::ensure_and_record(connections, c, public_url).await {
                Ok(r) => {
                    f.repair_webhook = false;
                    tracing::info!(connector = %id, registration = ?r, "webhook ensured after authorization");
                }
                // Recorded for `status` there; the refresh job asks again too.
                Err(_) => f.repair_webhook = false,
            }
        }
        let left = if f.resume || f.repair_webhook {
            serde_json::to_value(&f).unwrap_or_default()
        } else {
            serde_json::Value::Null
        };
        if let Err(e) = store.put_value(id, FOLLOW_UP_KEY, &left).await {
            tracing::warn!(connector = %id, error = %e, "cannot record the follow-up's progress");
        }
    }
    resumed
}
