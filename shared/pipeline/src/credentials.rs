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
            held: std::sync::Mutex::new(Held::default()),
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
    /// What was last read of the token store, for [`HOLD_ACCESS_TOKEN`]: every source
    /// call needs an access token and a source asks for the granted scopes per item;
    /// reading (and decrypting) the token store for each was a third of the store's
    /// operations per recording.
    held: std::sync::Mutex<Held>,
}

/// How long what was read from the token store is used without reading it again. A
/// refresh by another process is seen this much later at most; meanwhile the token read
/// still works (it is used only while more than the refresh margin from its expiry), and
/// a `401` renews at once ([`Credentials::renew`] forgets it).
const HOLD_ACCESS_TOKEN: std::time::Duration = std::time::Duration::from_secs(10);

/// One read of the token store: the access token with its expiry (when the read was for
/// one) and the granted scopes. Forgotten whole when the tokens change here.
#[derive(Default)]
struct Held {
    read_at: Option<std::time::Instant>,
    token: Option<(Secret, chrono::DateTime<Utc>)>,
    scopes: Option<Vec<String>>,
}

impl Held {
    fn fresh(&self) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < HOLD_ACCESS_TOKEN)
    }

    fn token(&self, now: chrono::DateTime<Utc>) -> Option<Secret> {
        self.token
            .as_ref()
            .filter(|(_, expires_at)| self.fresh() && *expires_at - auth::REFRESH_MARGIN > now)
            .map(|(token, _)| token.clone())
    }

    fn scopes(&self) -> Option<Vec<String>> {
        self.scopes.clone().filter(|_| self.fresh())
    }
}

impl OAuthCredentials {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget(&self) {
        *self.held() = Held::default();
    }
}

#[async_trait]
impl Credentials for OAuthCredentials {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }

    async fn current(&self) -> Result<Secret, AuthError> {
        let now = Utc::now();
        if let Some(token) = self.held().token(now) {
            return Ok(token);
        }
        let read_at = std::time::Instant::now();
        let set = auth::usable_tokens(self.store.as_ref(), &self.connector, &self.token_http, now).await?;
        *self.held() = Held {
            read_at: Some(read_at),
            token: Some((set.access_token.clone(), set.access_expires_at)),
            scopes: Some(set.scopes),
        };
        Ok(set.access_token)
    }

    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        self.forget();
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
            self.forget();
        }
        outcome
    }

    fn needs_upkeep(&self) -> bool {
        true
    }

    async fn granted_scopes(&self) -> Result<Option<Vec<String>>, AuthError> {
        if let Some(scopes) = self.held().scopes() {
            return Ok(Some(scopes));
        }
        let id = &self.connector.config.id;
        let read_at = std::time::Instant::now();
        match self.store.get_tokens(id).await?.tokens {
            Some(t) => {
                // Read without the check `current` makes before it uses a token (expiry,
                // refresh): only the scopes are kept.
                *self.held() = Held {
                    read_at: Some(read_at),
                    token: None,
                    scopes: Some(t.scopes.clone()),
                };
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
