//! Error answers of the simulated 1.0 API and errors of the in-process control API.
//!
//! UNCONFIRMED: the 1.0 error body is not publicly documented; the simulator answers a
//! Spring-style `{"status": <code>, "error": "<reason phrase>", "message": "<what is
//! wrong>"}` (the platform is Java), which a client should only log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: status plus a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Errors of starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}
