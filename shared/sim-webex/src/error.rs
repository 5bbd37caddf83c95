//! Webex-shaped errors and the `trackingid` every response carries.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Response header carrying the tracking id (Webex sends it lower case).
pub const TRACKING_HEADER: &str = "trackingid";

pub(crate) use wfo_sim_identity::current_tracking_id;

/// Middleware: takes the client's `TrackingID` header if any (as Webex echoes it),
/// otherwise mints `ROUTER_<uuid>`, and sets `trackingid` on every response.
pub(crate) async fn tracking(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("ROUTER_{}", uuid::Uuid::new_v4().simple()).to_uppercase());
    let mut response = wfo_sim_identity::with_tracking_id(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(TRACKING_HEADER), value);
    }
    response
}

/// An API error: `{"message","errors":[{"description"}],"trackingId"}`.
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
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The request requires a valid access token set in the Authorization request header.",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "The requested resource could not be found.")
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "message": self.message,
            "errors": [{ "description": self.message }],
            "trackingId": current_tracking_id(),
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

/// An OAuth error from `/v1/access_token` (shared with the Contact Center simulator,
/// whose identity service is Webex's too).
pub use wfo_sim_identity::OAuthError;

/// Errors of the in-process control API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("could not build the webhook delivery client: {0}")]
    Client(String),
    #[error("unknown integration {0}")]
    UnknownIntegration(String),
    #[error("unknown scope {0}")]
    UnknownScope(String),
    #[error("unknown recording {0}")]
    UnknownRecording(String),
    #[error("unknown person {0}")]
    UnknownPerson(String),
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
}
