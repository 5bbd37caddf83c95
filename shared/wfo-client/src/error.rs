//! The one error type of the WFO boundary.

use std::time::Duration;

use wfo_domain::wfo::ErrorBody;
use wfo_http::HttpError;

use crate::messages;

/// What went wrong talking to WFO.
///
/// | variant | retry? | typical reaction |
/// |---|---|---|
/// | `Unauthorized` | no | stop the connector: fix `wfo.username` / `wfo.password` |
/// | `SessionRenewed` | yes, at once | re-open the audio source and upload again |
/// | `UnknownAgent` | no (not as is) | create the person (`ensure_agent_person`), then import |
/// | `UnknownMetadataKey` | no | fix the metadata mapping (key missing or not `TEXT`) |
/// | `NotFound` | no | the id is stale: look the object up again |
/// | `MissingDefault` | no | the tenant has no default team / default agent role |
/// | `Rejected` | no | a bug or a data problem: log it, park the item |
/// | `Http` | [`HttpError::is_retryable`] | 429/5xx/connection: try again later (honour [`WfoError::retry_after`]) |
#[derive(Debug, thiserror::Error)]
pub enum WfoError {
    /// Login refused, or a second `401` right after a fresh login.
    #[error("WFO rejected the API user's credentials: check wfo.username / wfo.password")]
    Unauthorized,
    /// The session expired during a call that cannot be repeated from here (an audio
    /// upload whose body stream is consumed). A new session is already in place: re-open
    /// the source and call again. The server did not process the request.
    #[error("the WFO session expired during a call that cannot be replayed; a new session is ready, retry the call")]
    SessionRenewed,
    /// `422`: the contact's agent names no WFO person with this (`acdServerId`, `acdId`).
    #[error("WFO knows no person for agent acdServerId={acd_server_id} acdId={acd_id}: create the person first")]
    UnknownAgent { acd_id: String, acd_server_id: i64 },
    /// `422`: a metadata key does not exist in the tenant or is not of type `TEXT`.
    #[error("WFO metadata key {key:?} does not exist or is not a TEXT key: fix the metadata mapping")]
    UnknownMetadataKey { key: String },
    /// `404`: the id named in the path does not exist.
    #[error("WFO: not found")]
    NotFound,
    /// The tenant lacks a default that a helper needs (`isDefault` team, `isAgentDefault` role).
    #[error("the WFO tenant has no {what}: configure one in WFO")]
    MissingDefault { what: &'static str },
    /// Any other `4xx` (and `3xx`, which is never followed): permanent for this request.
    #[error("WFO rejected the request: HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    /// Our lock on the object expired before its create (WFO was slower than the lock):
    /// nothing was sent; another worker may be creating it. Retry later.
    #[error("the lock on the WFO {what} expired before its create; nothing was created, another worker holds it now")]
    Fenced { what: String },
    /// Transport, 429, 5xx, or an answer that could not be decoded.
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl WfoError {
    /// Transient: worth trying the same thing again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            WfoError::SessionRenewed | WfoError::Fenced { .. } => true,
            WfoError::Http(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The server may have processed the request although we got no answer (timeout,
    /// broken connection, 500/502/504). Before repeating a create, look it up.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            WfoError::Http(e) => e.outcome_unknown(),
            _ => false,
        }
    }

    /// How long the server asked us to wait (`429 Retry-After`), when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WfoError::Http(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The HTTP status behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            WfoError::Unauthorized | WfoError::SessionRenewed => Some(401),
            WfoError::UnknownAgent { .. } | WfoError::UnknownMetadataKey { .. } => Some(422),
            WfoError::NotFound => Some(404),
            WfoError::Rejected { status, .. } => Some(*status),
            WfoError::MissingDefault { .. } | WfoError::Fenced { .. } => None,
            WfoError::Http(e) => e.status(),
        }
    }
}

/// The `errorMessage` of a WFO error body, or the raw body when it is not one.
pub(crate) fn error_message(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => b.error_message,
        Err(_) => body.to_owned(),
    }
}

/// Map a non-401 [`HttpError`] onto the WFO meaning of its status and message.
///
/// `agent` is the agent of the request, used when a `422` unknown-agent message does not
/// carry the ids itself.
pub(crate) fn classify(e: HttpError, agent: Option<&wfo_domain::wfo::AgentRef>) -> WfoError {
    let HttpError::Status { status, body, .. } = &e else {
        return WfoError::Http(e);
    };
    let status = *status;
    if e.is_retryable() {
        return WfoError::Http(e);
    }
    let message = error_message(body);
    match status {
        401 => WfoError::Unauthorized,
        404 => WfoError::NotFound,
        422 if messages::is_unknown_agent(&message) => {
            let (acd_id, server) = messages::parse_unknown_agent(&message).unwrap_or_default();
            let acd_id = if acd_id.is_empty() {
                agent.map(|a| a.acd_id.clone()).unwrap_or_default()
            } else {
                acd_id
            };
            let acd_server_id = server.or(agent.map(|a| a.acd_server_id)).unwrap_or_default();
            WfoError::UnknownAgent { acd_id, acd_server_id }
        }
        422 => match messages::parse_metadata_key(&message) {
            Some(key) => WfoError::UnknownMetadataKey { key },
            None => WfoError::Rejected { status, message },
        },
        _ => WfoError::Rejected { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfo_domain::wfo::AgentRef;

    fn status(status: u16, message: &str) -> HttpError {
        HttpError::Status {
            service: "wfo",
            status,
            body: serde_json::json!({"errorMessage": message, "requestId": "r1"}).to_string(),
            tracking_id: Some("r1".into()),
            retry_after: None,
        }
    }

    #[test]
    fn unknown_agent_422_names_the_agent_from_the_message() {
        let e = classify(status(422, &messages::unknown_agent_message(7, "a b")), None);
        assert!(
            matches!(e, WfoError::UnknownAgent { ref acd_id, acd_server_id: 7 } if acd_id == "a b"),
            "{e:?}"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn bare_unknown_agent_422_takes_the_agent_from_the_request() {
        let agent = AgentRef {
            acd_id: "u9".into(),
            acd_server_id: 2,
        };
        let e = classify(status(422, "Unknown agent"), Some(&agent));
        assert!(
            matches!(e, WfoError::UnknownAgent { ref acd_id, acd_server_id: 2 } if acd_id == "u9"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_and_non_text_key_422s_name_the_key() {
        for m in [
            messages::unknown_metadata_key_message("x-key"),
            messages::metadata_key_not_text_message("x-key"),
        ] {
            let e = classify(status(422, &m), None);
            assert!(
                matches!(e, WfoError::UnknownMetadataKey { ref key } if key == "x-key"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn other_4xx_are_permanent_rejections_with_the_server_message() {
        for s in [400u16, 403, 409, 413, 422] {
            let e = classify(status(s, "nope"), None);
            assert!(
                matches!(e, WfoError::Rejected { status, ref message } if status == s && message == "nope"),
                "{e:?}"
            );
            assert!(!e.is_retryable() && !e.outcome_unknown());
        }
        assert!(matches!(
            classify(status(404, "Not found: contact 1"), None),
            WfoError::NotFound
        ));
    }

    #[test]
    fn throttling_and_gateway_errors_stay_retryable_and_timeouts_are_unknown_outcomes() {
        for s in [429u16, 500, 502, 503, 504] {
            let e = classify(status(s, "busy"), None);
            assert!(e.is_retryable(), "{s}");
            assert_eq!(e.outcome_unknown(), matches!(s, 500 | 502 | 503 | 504), "{s}");
        }
        let t = classify(
            HttpError::Transport {
                service: "wfo",
                message: "reset".into(),
            },
            None,
        );
        assert!(t.is_retryable() && t.outcome_unknown());
        let c = classify(
            HttpError::Connect {
                service: "wfo",
                message: "refused".into(),
            },
            None,
        );
        assert!(c.is_retryable() && !c.outcome_unknown());
    }
}
