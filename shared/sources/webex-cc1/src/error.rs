//! Contact Center 1.0 errors, and what the pipeline must do about each (mapped once).

use std::time::Duration;

use wfo_http::HttpError;
use wfo_ports::SourceError;

/// What went wrong in a Contact Center 1.0 call.
#[derive(Debug, thiserror::Error)]
pub enum Cc1Error {
    /// `401`: the API key, the username or the signature was refused.
    #[error(
        "{operation}: Contact Center 1.0 refused the API key (401): check source.api_key and source.username (the key belongs to that user)"
    )]
    Unauthorized { operation: &'static str },
    /// `403`: the key is good but not for this tenant, or its user lacks the right.
    #[error(
        "{operation}: Contact Center 1.0 answered 403: the API key's user may not read this, or the key belongs to another tenant than source.tenant_id '{tenant}'"
    )]
    Forbidden { operation: &'static str, tenant: String },
    /// Transport, 5xx, 429 after the HTTP layer's retries, other statuses.
    #[error("{operation}: {source}")]
    Http {
        operation: &'static str,
        #[source]
        source: HttpError,
    },
    /// An answer we cannot read (the envelope, not one record of it).
    #[error("{operation}: unreadable answer: {message}")]
    Malformed { operation: &'static str, message: String },
    /// The tenant answered about another tenant's data.
    #[error("{operation}: {message}")]
    TenantMismatch { operation: &'static str, message: String },
}

impl Cc1Error {
    pub(crate) fn from_http(operation: &'static str, tenant: &str, e: HttpError) -> Self {
        match e.status() {
            Some(401) => Cc1Error::Unauthorized { operation },
            Some(403) => Cc1Error::Forbidden {
                operation,
                tenant: tenant.to_owned(),
            },
            _ => Cc1Error::Http { operation, source: e },
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            Cc1Error::Http { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Cc1Error::Http { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Cc1Error::Unauthorized { .. } => Some(401),
            Cc1Error::Forbidden { .. } => Some(403),
            Cc1Error::Http { source, .. } => source.status(),
            Cc1Error::Malformed { .. } | Cc1Error::TenantMismatch { .. } => None,
        }
    }
}

/// A Contact Center 1.0 error as what the pipeline must do about it: a refused key is
/// renewed (an API key cannot be, so the connector waits for an operator with every item
/// kept); a refused tenant waits for an operator too.
pub fn cc1_error(e: Cc1Error) -> SourceError {
    let text = e.to_string();
    match e {
        Cc1Error::Unauthorized { .. } => SourceError::Unauthorized(text),
        Cc1Error::Forbidden { .. } | Cc1Error::TenantMismatch { .. } => SourceError::Operator(text),
        ref other if other.is_retryable() => SourceError::Retry {
            message: text,
            after: other.retry_after(),
        },
        _ => SourceError::Permanent(text),
    }
}

impl wfo_ports::CallError for Cc1Error {
    fn is_unauthorized(&self) -> bool {
        matches!(self, Cc1Error::Unauthorized { .. })
    }

    fn is_retryable(&self) -> bool {
        Cc1Error::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        Cc1Error::retry_after(self)
    }

    fn into_source_error(self) -> SourceError {
        cc1_error(self)
    }
}
