//! The Credentials port: how a source call proves who it is. Webex Calling and Contact
//! Center 2.0 hold OAuth tokens (kept fresh by the pipeline's OAuth implementation);
//! Contact Center 1.0 holds an API key. A source asks [`Credentials::current`] before each
//! call and reports a refusal as [`crate::SourceError::Unauthorized`]; the pipeline then
//! calls [`Credentials::renew`]. Nothing else in the pipeline knows which scheme it is.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;

use crate::store::StoreError;

/// How a connector authenticates to its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialScheme {
    /// Authorization URL, access and refresh tokens (Webex Calling, Contact Center 2.0).
    OAuth,
    /// A long-lived key from the configuration (Contact Center 1.0).
    ApiKey,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("connector '{0}' does not exist")]
    UnknownConnector(String),
    #[error("connector '{0}' has no OAuth client credentials (source.client_id / source.client_secret)")]
    NoClientCredentials(String),
    #[error("invalid state: {0}")]
    BadState(String),
    #[error(
        "connector '{connector}' needs re-authorization: {reason}. Open its Authorization URL (wfo-connect connector auth-url {connector})"
    )]
    ReauthRequired { connector: String, reason: String },
    #[error(
        "connector '{0}' has not been authorized yet. Open its Authorization URL (wfo-connect connector auth-url {0})"
    )]
    NotAuthorized(String),
    #[error("connector '{connector}' has no usable API key: {reason}")]
    ApiKey { connector: String, reason: String },
    /// An Authorization URL (or its callback) was asked for a connector whose kind
    /// authenticates with an API key: there is no OAuth flow to start or complete.
    #[error(
        "connector '{connector}' ({kind}) authenticates with the API key in source.api_key; there is nothing to authorize. To change the key, edit source.api_key in its configuration and add the connector again (wfo-connect connector add FILE)"
    )]
    UsesApiKey { connector: String, kind: ConnectorKind },
    #[error("the identity service refused: {0}")]
    Refused(String),
    #[error("the identity service could not be reached or answered badly: {0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// Worth trying again without an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthError::Transient(_) => true,
            AuthError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The connector must wait for an operator to (re-)authorize or fix its key (items
    /// pause, not fail).
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            AuthError::ReauthRequired { .. }
                | AuthError::NotAuthorized(_)
                | AuthError::NoClientCredentials(_)
                | AuthError::ApiKey { .. }
        )
    }
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    Refreshed {
        access_expires_at: DateTime<Utc>,
    },
    /// Someone else refreshed first; their tokens are current.
    AlreadyFresh,
}

/// One connector's credentials.
#[async_trait]
pub trait Credentials: Send + Sync {
    fn scheme(&self) -> CredentialScheme;

    /// The secret to present now: an access token (refreshed first when it is about to
    /// expire) or the API key.
    async fn current(&self) -> Result<Secret, AuthError>;

    /// The source refused what [`Credentials::current`] gave: obtain a new one now (OAuth:
    /// refresh; a refusal marks "re-authorization required"). `Err` when nothing will
    /// work without an operator.
    async fn renew(&self) -> Result<RefreshOutcome, AuthError>;

    /// Without calling anyone: whether [`Credentials::current`] can succeed (authorized
    /// and not waiting for re-authorization; a key is configured).
    async fn ready(&self) -> Result<(), AuthError>;

    /// The scheduled upkeep: refresh when due. `Ok(None)` when nothing was due or the
    /// scheme needs no upkeep (see [`Credentials::needs_upkeep`]).
    async fn keep_fresh(&self) -> Result<Option<RefreshOutcome>, AuthError> {
        Ok(None)
    }

    /// Whether [`Credentials::keep_fresh`] ever does anything (tokens expire; keys do not).
    fn needs_upkeep(&self) -> bool {
        false
    }

    /// The scopes granted, for schemes that have scopes.
    async fn granted_scopes(&self) -> Result<Option<Vec<String>>, AuthError> {
        Ok(None)
    }
}
