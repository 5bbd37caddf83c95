//! The two implementations of the Credentials port: OAuth tokens (the Authorization URL
//! flow, encrypted token store and serialized refreshes of [`crate::auth`]) and an API
//! key from the connector's configuration. The source kind says which one a connector
//! gets ([`for_connector`]); nothing else in the pipeline knows.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_ports::{AuthError, CredentialScheme, Credentials, RefreshOutcome, Registry, Store, StoredConnector};

use crate::auth;

/// How connectors of `kind` authenticate: as the source registered for the kind says, or,
/// when this build has no source of that kind, as the configuration's kind says (so an
/// operator still gets the right answer about an Authorization URL).
pub fn scheme_of(registry: &dyn Registry, kind: ConnectorKind) -> CredentialScheme {
    match registry.source_kind(kind) {
        Some(k) => k.credential_scheme(),
        None if kind.uses_oauth() => CredentialScheme::OAuth,
        None => CredentialScheme::ApiKey,
    }
}

/// The credentials of `connector` under `scheme`.
pub fn for_connector(
    scheme: CredentialScheme,
    store: Arc<dyn Store>,
    connector: &StoredConnector,
    token_http: reqwest::Client,
) -> Arc<dyn Credentials> {
    match scheme {
        CredentialScheme::OAuth => Arc::new(OAuthCredentials {
            store,
            connector: connector.clone(),
            token_http,
            held: std::sync::Mutex::new(None),
            held_scopes: std::sync::Mutex::new(None),
        }),
        CredentialScheme::ApiKey => Arc::new(ApiKeyCredentials {
            connector_id: connector.config.id.clone(),
            key: connector.config.source.api_key.clone(),
        }),
    }
}

/// OAuth tokens kept in the token store, refreshed ahead of expiry and on a `401`.
pub struct OAuthCredentials {
    store: Arc<dyn Store>,
    connector: StoredConnector,
    token_http: reqwest::Client,
    /// The access token last read, for [`HOLD_ACCESS_TOKEN`]: every source call needs
    /// one, and reading (and decrypting) the token store for each was a third of the
    /// store's operations per recording.
    held: std::sync::Mutex<Option<HeldToken>>,
    /// The granted scopes last read, held as long (a source asks for them per item).
    held_scopes: std::sync::Mutex<Option<(Vec<String>, std::time::Instant)>>,
}

/// How long an access token read from the store is used without reading it again. A
/// refresh by another process is seen this much later at most; meanwhile the token read
/// still works (it is used only while more than the refresh margin from its expiry), and
/// a `401` renews at once ([`Credentials::renew`] forgets it).
const HOLD_ACCESS_TOKEN: std::time::Duration = std::time::Duration::from_secs(10);

struct HeldToken {
    token: Secret,
    expires_at: chrono::DateTime<Utc>,
    read_at: std::time::Instant,
}

impl OAuthCredentials {
    fn held_token(&self, now: chrono::DateTime<Utc>) -> Option<Secret> {
        let held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.as_ref()
            .filter(|h| h.read_at.elapsed() < HOLD_ACCESS_TOKEN && h.expires_at - auth::REFRESH_MARGIN > now)
            .map(|h| h.token.clone())
    }

    fn hold(&self, held: Option<HeldToken>) {
        let forget = held.is_none();
        *self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = held;
        if forget {
            *self
                .held_scopes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
    }
}

#[async_trait]
impl Credentials for OAuthCredentials {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }

    async fn current(&self) -> Result<Secret, AuthError> {
        let now = Utc::now();
        if let Some(token) = self.held_token(now) {
            return Ok(token);
        }
        let read_at = std::time::Instant::now();
        let (token, expires_at) =
            auth::access_token_until(self.store.as_ref(), &self.connector, &self.token_http, now).await?;
        self.hold(Some(HeldToken {
            token: token.clone(),
            expires_at,
            read_at,
        }));
        Ok(token)
    }

    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        self.hold(None);
        auth::refresh(self.store.as_ref(), &self.connector, &self.token_http, Utc::now()).await
    }

    async fn ready(&self) -> Result<(), AuthError> {
        let id = &self.connector.config.id;
        let record = self.store.get_tokens(id).await?;
        if let Some((_, reason)) = record.reauth_required {
            return Err(AuthError::ReauthRequired {
                connector: id.clone(),
                reason,
            });
        }
        match record.tokens {
            Some(_) => Ok(()),
            None => Err(AuthError::NotAuthorized(id.clone())),
        }
    }

    async fn keep_fresh(&self) -> Result<Option<RefreshOutcome>, AuthError> {
        let outcome = auth::refresh_if_due(self.store.as_ref(), &self.connector, &self.token_http, Utc::now()).await;
        if !matches!(outcome, Ok(None)) {
            self.hold(None);
        }
        outcome
    }

    fn needs_upkeep(&self) -> bool {
        true
    }

    async fn granted_scopes(&self) -> Result<Option<Vec<String>>, AuthError> {
        if let Some((scopes, read_at)) = self
            .held_scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && read_at.elapsed() < HOLD_ACCESS_TOKEN
        {
            return Ok(Some(scopes.clone()));
        }
        let id = &self.connector.config.id;
        let read_at = std::time::Instant::now();
        match self.store.get_tokens(id).await?.tokens {
            Some(t) => {
                *self
                    .held_scopes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((t.scopes.clone(), read_at));
                Ok(Some(t.scopes))
            }
            None => Err(AuthError::NotAuthorized(id.clone())),
        }
    }
}

/// A key from the configuration (encrypted at rest with it): nothing to refresh; a
/// refusal waits for an operator to change the key.
pub struct ApiKeyCredentials {
    connector_id: String,
    key: Option<Secret>,
}

impl ApiKeyCredentials {
    fn key(&self) -> Result<Secret, AuthError> {
        self.key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| AuthError::ApiKey {
                connector: self.connector_id.clone(),
                reason: "source.api_key is not set".to_owned(),
            })
    }
}

#[async_trait]
impl Credentials for ApiKeyCredentials {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::ApiKey
    }

    async fn current(&self) -> Result<Secret, AuthError> {
        self.key()
    }

    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        Err(AuthError::ApiKey {
            connector: self.connector_id.clone(),
            reason: "the source refused it; put a valid key in source.api_key and add the connector again".to_owned(),
        })
    }

    async fn ready(&self) -> Result<(), AuthError> {
        self.key().map(|_| ())
    }
}
