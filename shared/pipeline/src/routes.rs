//! The HTTP surface (`specs/interfaces.md` §2) as one axum router: served by
//! `wfo-connect serve` and, behind API Gateway, by the Lambda functions.
//!
//! - `POST /webhooks/{connector_id}`
//! - `GET /oauth/{connector_id}/authorize` (`409` for an API-key connector: nothing to authorize)
//! - `GET /oauth/callback?code=…&state=…`
//! - `GET /healthz`

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::auth::{self, AuthError};
use crate::authorization::Refusal;
use crate::connections::Connections;
use crate::ports::Store;
use crate::webhook::{self, MAX_BODY_BYTES};

/// What the routes need.
#[derive(Clone)]
pub struct AppState {
    /// The store, the registry of sources and the HTTP clients.
    pub connections: Arc<Connections>,
    /// The externally reachable base URL (for redirect URIs).
    pub public_url: String,
    /// Woken when work was enqueued, so a local worker picks it up at once.
    pub work_ready: Arc<Notify>,
    /// Connectors as the webhook route last read them (shared across requests).
    pub connector_cache: Arc<webhook::ConnectorCache>,
}

impl AppState {
    fn store(&self) -> &Arc<dyn Store> {
        self.connections.store()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/{connector_id}", post(webhook_route))
        .route("/oauth/{connector_id}/authorize", get(authorize_route))
        .route("/oauth/callback", get(callback_route))
        .route("/healthz", get(|| async { "ok" }))
        // One byte over the limit is enough to answer 413 before reading everything.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn webhook_route(
    State(app): State<AppState>,
    Path(connector_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = webhook::handle_delivery(
        app.store().as_ref(),
        app.connections.registry().as_ref(),
        &app.connector_cache,
        &connector_id,
        &lookup,
        &body,
        Utc::now(),
    )
    .await;
    if answer.newly_discovered {
        app.work_ready.notify_one();
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"message": answer.message}).to_string(),
    )
        .into_response()
}

async fn authorize_route(State(app): State<AppState>, Path(connector_id): Path<String>) -> Response {
    let connector = match app.store().get_connector(&connector_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("unknown connector '{connector_id}'")).into_response(),
        Err(e) => {
            tracing::error!(connector = %connector_id, error = %e, "authorize: store unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable").into_response();
        }
    };
    let scheme = app.connections.credential_scheme(connector.config.kind);
    match auth::authorization_url(app.store().as_ref(), &connector, scheme, &app.public_url, Utc::now()).await {
        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Err(e @ AuthError::UsesApiKey { .. }) => nothing_to_authorize(&e),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            page("Authorization cannot start", &e.to_string()),
        )
            .into_response(),
    }
}

/// `409 Conflict`: the connector authenticates with an API key, so an Authorization URL
/// (or its callback) does not apply to it; nothing was stored.
fn nothing_to_authorize(e: &AuthError) -> Response {
    (StatusCode::CONFLICT, page("Nothing to authorize", &e.to_string())).into_response()
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn page(title: &str, body: &str) -> Html<String> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{t}</h1><p>{b}</p></body></html>",
        t = esc(title),
        b = esc(body)
    ))
}

async fn callback_route(State(app): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    let Some(state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Authorization failed",
                "The callback has no state parameter. Open the connector's Authorization URL again.",
            ),
        )
            .into_response();
    };
    let now = Utc::now();
    let connector = match auth::check_state(app.store().as_ref(), app.store().as_ref(), state, now).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "oauth callback rejected");
            return (
                StatusCode::BAD_REQUEST,
                page("Authorization failed", &format!("{e}. Nothing was stored.")),
            )
                .into_response();
        }
    };
    let id = connector.config.id.clone();
    if let Some(err) = q.error {
        let desc = q.error_description.unwrap_or_default();
        return (StatusCode::BAD_REQUEST, page("Authorization refused", &format!(
            "The identity service answered '{err}' {desc} for connector '{id}'. Nothing was stored; ask the source admin to approve, then open the Authorization URL again."
        ))).into_response();
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Authorization failed",
                "The callback has no code parameter. Open the connector's Authorization URL again.",
            ),
        )
            .into_response();
    };
    match crate::authorization::complete(&app.connections, &connector, &code, &app.public_url, now).await {
        Ok((connector, set, identity)) => {
            tracing::info!(connector = %id, expires = %set.access_expires_at, account = identity.account.as_deref().unwrap_or("?"), "connector authorized");
            app.connector_cache.forget(&id);
            // Resuming the backlog and repairing the webhook are queued work: the
            // operator gets the answer at once.
            if let Err(e) = crate::authorization::request_follow_up(app.store().as_ref(), &connector, now).await {
                tracing::warn!(connector = %id, error = %e, "could not queue the follow-up (waiting items resume on their own schedule)");
            }
            app.work_ready.notify_one();
            (StatusCode::OK, page("Connector authorized", &format!(
                "Connector '{id}' can now read its source. Imports resume by themselves; `wfo-connect status {id}` shows progress."
            ))).into_response()
        }
        Err(Refusal::Exchange(e @ AuthError::UsesApiKey { .. })) => nothing_to_authorize(&e),
        Err(e @ (Refusal::ForeignOrg { .. } | Refusal::NoTenant { .. })) => (
            StatusCode::FORBIDDEN,
            page("Authorization refused", &format!("{e}. Nothing was stored.")),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(connector = %id, error = %e, "authorization failed");
            let status = if e.is_retryable() {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::BAD_REQUEST
            };
            (
                status,
                page(
                    "Authorization failed",
                    &format!("{e}. Nothing was stored. Open the Authorization URL again."),
                ),
            )
                .into_response()
        }
    }
}
