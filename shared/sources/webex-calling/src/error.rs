//! Errors of the Webex Calling boundary.

use std::time::Duration;

use wfo_http::HttpError;

/// What went wrong talking to Webex, classified for the caller's retry decision.
///
/// | variant | retryable | what the caller does |
/// |---|---|---|
/// | `Unauthorized` (401) | no | refresh the access token / re-authorise the tenant |
/// | `Forbidden` (403) | no | grant the named scope (operator action) |
/// | `NotFound` (404) | no | the object is gone (deleted, purged, wrong id) |
/// | `LinkExpired` | **yes** | fetch details again for a fresh link, then download once more |
/// | `AudioUnavailable` | no | configure a compliance-officer token (operator action) |
/// | `InvalidWindow` | no | programming error in the caller |
/// | `Http` | per [`HttpError::is_retryable`] (429/423/408/5xx/connection: yes) | retry later, honouring [`WebexError::retry_after`] |
#[derive(Debug, thiserror::Error)]
pub enum WebexError {
    #[error(
        "Webex {operation}: access token rejected (401: expired or revoked); refresh it or re-authorise the tenant: {source}"
    )]
    Unauthorized {
        operation: &'static str,
        source: Box<HttpError>,
    },

    #[error("Webex {operation}: forbidden (403); the token needs scope {scope}: {source}")]
    Forbidden {
        operation: &'static str,
        scope: &'static str,
        source: Box<HttpError>,
    },

    #[error("Webex {operation}: {what} not found (404): {source}")]
    NotFound {
        operation: &'static str,
        what: String,
        source: Box<HttpError>,
    },

    /// The temporary download link is expired, about to expire, or was refused.
    #[error(
        "Webex recording {recording_id}: download link expired or refused ({reason}); fetch the details again for a fresh link"
    )]
    LinkExpired { recording_id: String, reason: String },

    /// Webex returned no audio link for this token/recording.
    #[error("Webex recording {recording_id}: no audio download link: {message}")]
    AudioUnavailable { recording_id: String, message: String },

    #[error("invalid recording list window: {0}")]
    InvalidWindow(String),

    #[error(transparent)]
    Http(Box<HttpError>),
}

impl From<HttpError> for WebexError {
    fn from(e: HttpError) -> Self {
        WebexError::Http(Box::new(e))
    }
}

impl WebexError {
    /// Whether trying again later (possibly after fresh details) can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            WebexError::LinkExpired { .. } => true,
            WebexError::Http(e) => e.is_retryable(),
            WebexError::Unauthorized { .. }
            | WebexError::Forbidden { .. }
            | WebexError::NotFound { .. }
            | WebexError::AudioUnavailable { .. }
            | WebexError::InvalidWindow(_) => false,
        }
    }

    /// The wait Webex asked for (429/423 `Retry-After`) when it exceeded what the HTTP
    /// layer sleeps in-process.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WebexError::Http(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The tracking id Webex returned, to quote to Cisco support.
    pub fn tracking_id(&self) -> Option<&str> {
        self.http().and_then(|e| e.tracking_id())
    }

    /// The HTTP status, when the error came from one.
    pub fn status(&self) -> Option<u16> {
        self.http().and_then(|e| e.status())
    }

    fn http(&self) -> Option<&HttpError> {
        match self {
            WebexError::Unauthorized { source, .. }
            | WebexError::Forbidden { source, .. }
            | WebexError::NotFound { source, .. }
            | WebexError::Http(source) => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Message for [`WebexError::AudioUnavailable`]: what the operator must do.
pub(crate) const AUDIO_UNAVAILABLE_HINT: &str = "Webex returns temporaryDirectDownloadLinks only to a compliance officer \
(spark-compliance:recordings_read) or an authorised user; an admin token (spark-admin:recordings_read) \
or \"Prevent Downloading\" on the recording hides them. Configure a compliance-officer token for this tenant.";

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<Duration>) -> HttpError {
        HttpError::Status {
            service: "webex",
            status,
            body: String::new(),
            tracking_id: Some("T1".into()),
            retry_after,
        }
    }

    #[test]
    fn retry_classification() {
        assert!(
            WebexError::LinkExpired {
                recording_id: "r".into(),
                reason: "x".into()
            }
            .is_retryable()
        );
        assert!(WebexError::from(status(503, None)).is_retryable());
        let throttled = WebexError::from(status(429, Some(Duration::from_secs(60))));
        assert!(throttled.is_retryable());
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(60)));
        assert!(
            !WebexError::Unauthorized {
                operation: "x",
                source: Box::new(status(401, None))
            }
            .is_retryable()
        );
        assert!(
            !WebexError::Forbidden {
                operation: "x",
                scope: "s",
                source: Box::new(status(403, None))
            }
            .is_retryable()
        );
        assert!(
            !WebexError::AudioUnavailable {
                recording_id: "r".into(),
                message: "m".into()
            }
            .is_retryable()
        );
        assert!(!WebexError::from(status(400, None)).is_retryable());
    }

    #[test]
    fn tracking_id_is_exposed_and_displayed() {
        let e = WebexError::Forbidden {
            operation: "list",
            scope: "spark-compliance:recordings_read",
            source: Box::new(status(403, None)),
        };
        assert_eq!(e.tracking_id(), Some("T1"));
        let s = e.to_string();
        assert!(
            s.contains("spark-compliance:recordings_read") && s.contains("T1"),
            "{s}"
        );
    }
}
