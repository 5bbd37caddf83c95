//! Contact Center errors, and what the pipeline must do about each (mapped once).

use std::time::Duration;

use wfo_http::HttpError;
use wfo_ports::SourceError;

/// What went wrong in a Contact Center call.
#[derive(Debug, thiserror::Error)]
pub enum CcError {
    /// `401`: the token is expired or revoked.
    #[error("{operation}: Contact Center refused the token (401){}", tracking(.tracking_id))]
    Unauthorized {
        operation: &'static str,
        tracking_id: Option<String>,
    },
    /// `403`: a scope or the authorizing user's role is missing.
    #[error(
        "{operation}: Contact Center answered 403 — the token needs the scope {scope} and the authorizing user must be a Contact Center administrator or supervisor{}",
        tracking(.tracking_id)
    )]
    Forbidden {
        operation: &'static str,
        scope: &'static str,
        tracking_id: Option<String>,
    },
    /// Transport, 5xx, 429 after the HTTP layer's retries, other statuses.
    #[error("{operation}: {source}")]
    Http {
        operation: &'static str,
        #[source]
        source: HttpError,
    },
    /// An answer we cannot read (the envelope, not one entry of it).
    #[error("{operation}: unreadable answer: {message}")]
    Malformed { operation: &'static str, message: String },
}

fn tracking(id: &Option<String>) -> String {
    id.as_deref().map(|t| format!(" [trackingId {t}]")).unwrap_or_default()
}

impl CcError {
    pub(crate) fn from_http(operation: &'static str, scope: &'static str, e: HttpError) -> Self {
        let tracking_id = e.tracking_id().map(str::to_owned);
        match e.status() {
            Some(401) => CcError::Unauthorized { operation, tracking_id },
            Some(403) => CcError::Forbidden {
                operation,
                scope,
                tracking_id,
            },
            _ => CcError::Http { operation, source: e },
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            CcError::Http { source, .. } => source.is_retryable(),
            CcError::Unauthorized { .. } | CcError::Forbidden { .. } | CcError::Malformed { .. } => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CcError::Http { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CcError::Unauthorized { .. } => Some(401),
            CcError::Forbidden { .. } => Some(403),
            CcError::Http { source, .. } => source.status(),
            CcError::Malformed { .. } => None,
        }
    }
}

/// A Contact Center error as what the pipeline must do about it.
pub fn cc_error(e: CcError) -> SourceError {
    let text = e.to_string();
    match e {
        CcError::Unauthorized { .. } => SourceError::Unauthorized(text),
        CcError::Forbidden { .. } => SourceError::Operator(text),
        ref other if other.is_retryable() => SourceError::Retry {
            message: text,
            after: other.retry_after(),
        },
        _ => SourceError::Permanent(text),
    }
}
