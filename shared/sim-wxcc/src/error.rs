//! WxCC-shaped errors (§1.4) and the `trackingid` every response carries.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Response header carrying the tracking id (lower case, as seen in samples).
pub const TRACKING_HEADER: &str = "trackingid";

/// Request extension: the request came without a `TrackingId` header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoTrackingId;

pub(crate) use wfo_sim_identity::current_tracking_id;

/// Middleware: takes the client's `TrackingId` header if any (echoed, as WxCC does),
/// otherwise mints `WXCCSIM_<uuid>`, and sets `trackingid` on every response.
pub(crate) async fn tracking(mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(TRACKING_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned);
    let id = match given {
        Some(id) => id,
        None => {
            req.extensions_mut().insert(NoTrackingId);
            format!("WXCCSIM_{}", uuid::Uuid::new_v4())
        }
    };
    let mut response = wfo_sim_identity::with_tracking_id(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(TRACKING_HEADER), value);
    }
    response
}

/// An API error: `{"trackingId","error":{"key":"<status>","message":[{"description"}]}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "The access token is invalid or has expired.")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "The requested resource could not be found.")
    }
    pub fn too_many(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests have been sent in a given amount of time.",
        )
        .with_retry_after(retry_after)
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "trackingId": current_tracking_id(),
            "error": {
                "key": self.status.as_u16().to_string(),
                "message": [{ "description": self.message }],
            },
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// The identity service is Webex's, so its OAuth errors have Webex's shape (shared with
/// the Webex Calling simulator).
pub use wfo_sim_identity::OAuthError;

/// Errors of the in-process control API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("could not build the delivery client: {0}")]
    Client(String),
    #[error("unknown integration {0}")]
    UnknownIntegration(String),
    #[error("unknown scope {0}")]
    UnknownScope(String),
    #[error("unknown {kind} {id}")]
    UnknownItem { kind: &'static str, id: String },
    #[error("test delivery to {url} failed: {reason}")]
    Delivery { url: String, reason: String },
}
