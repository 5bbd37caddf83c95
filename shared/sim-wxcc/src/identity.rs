//! OAuth for integrations (§1.2), with Webex's wire shapes (the identity service is
//! `webexapis.com` for Contact Center too): `GET /v1/authorize`, `POST /v1/access_token`,
//! `GET /v1/people/me`, and the token lookup the regional gateway uses.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Consent;
use crate::error::{ApiError, OAuthError};
use crate::state::{Account, AuthCode, Grant, SharedRef, State as SimState, to_chrono, webex_id};

/// The `/v1/access_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_token_expires_in: u64,
    pub token_type: String,
    pub scope: String,
}

pub(crate) fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn authorize_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "trackingId": crate::error::current_tracking_id(),
    });
    (status, axum::Json(body)).into_response()
}

/// `GET /v1/authorize`: validates the client and redirect URI (errors there are shown,
/// never redirected), then "the admin" consents or refuses and we redirect back.
pub(crate) async fn authorize(State(shared): State<SharedRef>, RawQuery(raw): RawQuery) -> Response {
    let q = parse_query(raw.as_deref());
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let (client_id, redirect_uri, state) = (param("client_id"), param("redirect_uri"), q.get("state"));

    let mut st = shared.lock();
    let Some(integration) = st.integrations.get(client_id).cloned() else {
        return authorize_error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client_id.");
    };
    if !integration.redirect_uris.iter().any(|u| u == redirect_uri) {
        return authorize_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri does not match any redirect URI registered for this integration.",
        );
    }
    let Ok(target) = url::Url::parse(redirect_uri) else {
        return authorize_error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri is not a URL.");
    };
    let back = |mut target: url::Url, pairs: &[(&str, &str)]| -> Response {
        {
            let mut qp = target.query_pairs_mut();
            for (k, v) in pairs {
                qp.append_pair(k, v);
            }
            if let Some(s) = state {
                qp.append_pair("state", s);
            }
        }
        found(target.as_str())
    };
    if param("response_type") != "code" {
        return back(target, &[("error", "unsupported_response_type")]);
    }
    let scopes: BTreeSet<String> = param("scope").split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !integration.scopes.contains(s)) {
        return back(
            target,
            &[
                ("error", "invalid_scope"),
                ("error_description", "The requested scope is invalid."),
            ],
        );
    }
    if st.consent == Consent::Refuse {
        return back(
            target,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied the request."),
            ],
        );
    }
    let code = st.random_token(64);
    let expires_at = st.now() + to_chrono(st.tokens.code_lifetime);
    let account = match &st.consenting {
        Some(a) => Account {
            user_id: a.id.clone(),
            email: a.email.clone(),
            display_name: a.email.clone(),
            org_id: a.org_id.clone(),
        },
        None => admin_account(&st),
    };
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            expires_at,
            used: false,
            account,
        },
    );
    drop(st);
    back(target, &[("code", &code)])
}

fn admin_account(st: &SimState) -> Account {
    Account {
        user_id: st.admin.id.clone(),
        email: st.admin.email.clone(),
        display_name: st.admin.display_name.clone(),
        org_id: st.org_id.clone(),
    }
}

/// `302 Found` (axum's `Redirect::to` answers 303; OAuth servers answer 302).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Client credentials from the form or from HTTP Basic (both are accepted).
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<(String, String)> {
    if let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) {
        return Some((id.clone(), secret.clone()));
    }
    let basic = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// `POST /v1/access_token` (form-encoded): `authorization_code` and `refresh_token`.
pub(crate) async fn access_token(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded.",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (client_id, secret) = client_credentials(&headers, &form).ok_or_else(OAuthError::invalid_client)?;

    let mut st = shared.lock();
    match st.integrations.get(&client_id) {
        Some(i) if i.client_secret == secret => {}
        _ => return Err(OAuthError::invalid_client()),
    }
    let now = st.now();
    let grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form
                .get("code")
                .ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
            let redirect_uri = form.get("redirect_uri").map(String::as_str).unwrap_or_default();
            let Some(entry) = st.codes.get_mut(code) else {
                return Err(OAuthError::invalid_grant("The authorization code is invalid."));
            };
            if entry.used {
                return Err(OAuthError::invalid_grant(
                    "The authorization code has already been used.",
                ));
            }
            if entry.expires_at <= now {
                return Err(OAuthError::invalid_grant("The authorization code has expired."));
            }
            if entry.client_id != client_id {
                return Err(OAuthError::invalid_grant(
                    "The authorization code was issued to another client.",
                ));
            }
            if entry.redirect_uri != redirect_uri {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the one used in the authorization request.",
                ));
            }
            entry.used = true;
            Grant {
                client_id,
                account: entry.account.clone(),
                scopes: entry.scopes.clone(),
                expires_at: now,
            }
        }
        Some("refresh_token") => {
            let token = form
                .get("refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing."))?;
            let invalid =
                || OAuthError::invalid_grant("The refresh token provided is expired, revoked, malformed, or invalid.");
            let grant = st.refresh_tokens.get(token).cloned().ok_or_else(invalid)?;
            if grant.client_id != client_id || grant.expires_at <= now {
                return Err(invalid());
            }
            if st.tokens.rotate_refresh_tokens {
                st.refresh_tokens.remove(token);
            } else {
                // Same string, lifetime restarted.
                let lifetime = to_chrono(st.tokens.refresh_lifetime);
                if let Some(g) = st.refresh_tokens.get_mut(token) {
                    g.expires_at = now + lifetime;
                }
                let response = mint_access(&mut st, &grant, token.clone());
                return Ok(token_json(response));
            }
            grant
        }
        Some(other) => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: format!("grant_type {other:?} is not supported."),
            });
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing.")),
    };
    let refresh = issue_refresh(&mut st, &grant);
    let response = mint_access(&mut st, &grant, refresh);
    Ok(token_json(response))
}

/// `<random>_PF84_<orgId>`: the org suffix Cisco's sample splits off (§1.2).
fn issue_refresh(st: &mut SimState, grant: &Grant) -> String {
    let token = format!("{}_PF84_{}", st.random_token(64), grant.account.org_id);
    st.issued_tokens.push(token.clone());
    let expires_at = st.now() + to_chrono(st.tokens.refresh_lifetime);
    st.refresh_tokens.insert(
        token.clone(),
        Grant {
            expires_at,
            ..grant.clone()
        },
    );
    token
}

fn mint_access(st: &mut SimState, grant: &Grant, refresh_token: String) -> TokenResponse {
    let access = format!("{}_PF84_{}", st.random_token(64), grant.account.org_id);
    st.issued_tokens.push(access.clone());
    let now = st.now();
    let access_lifetime = st.tokens.access_lifetime;
    st.access_tokens.insert(
        access.clone(),
        Grant {
            expires_at: now + to_chrono(access_lifetime),
            ..grant.clone()
        },
    );
    TokenResponse {
        access_token: access,
        expires_in: access_lifetime.as_secs(),
        refresh_token,
        refresh_token_expires_in: st.tokens.refresh_lifetime.as_secs(),
        token_type: "Bearer".into(),
        scope: grant.scopes.iter().cloned().collect::<Vec<_>>().join(" "),
    }
}

fn token_json(response: TokenResponse) -> Response {
    let mut r = axum::Json(response).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Issues tokens for `client_id` as the configured admin, without the browser dance.
pub(crate) fn issue_direct(st: &mut SimState, client_id: &str, scopes: BTreeSet<String>) -> TokenResponse {
    let grant = Grant {
        client_id: client_id.to_owned(),
        account: admin_account(st),
        scopes,
        expires_at: st.now(),
    };
    let refresh = issue_refresh(st, &grant);
    mint_access(st, &grant, refresh)
}

/// Removes every code, access token and refresh token of an integration.
pub(crate) fn revoke(st: &mut SimState, client_id: &str) -> usize {
    let before = st.access_tokens.len() + st.refresh_tokens.len();
    st.access_tokens.retain(|_, g| g.client_id != client_id);
    st.refresh_tokens.retain(|_, g| g.client_id != client_id);
    st.codes.retain(|_, c| c.client_id != client_id);
    before - st.access_tokens.len() - st.refresh_tokens.len()
}

/// Why a bearer token was not accepted.
pub(crate) enum BearerError {
    /// No `Authorization` header, or not `Bearer <token>`.
    Malformed,
    /// Unknown, revoked or expired.
    Invalid,
}

/// The grant behind the request's bearer token.
pub(crate) fn bearer(st: &SimState, headers: &HeaderMap) -> Result<Grant, BearerError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or(BearerError::Malformed)?;
    let grant = st.access_tokens.get(token).ok_or(BearerError::Invalid)?;
    if grant.expires_at <= st.now() {
        return Err(BearerError::Invalid);
    }
    Ok(grant.clone())
}

/// `GET /v1/people/me`: who the token was issued to (any org: this is how a connector
/// learns that a stranger consented).
pub(crate) async fn people_me(State(shared): State<SharedRef>, headers: HeaderMap) -> Result<Response, ApiError> {
    let grant = bearer(&shared.lock(), &headers).map_err(|_| ApiError::unauthorized())?;
    let a = &grant.account;
    let body = json!({
        "id": webex_id("PEOPLE", &a.user_id),
        "emails": [a.email],
        "displayName": a.display_name,
        "orgId": webex_id("ORGANIZATION", &a.org_id),
        "type": "person",
    });
    Ok(axum::Json(body).into_response())
}
