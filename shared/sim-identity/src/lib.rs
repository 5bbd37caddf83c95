//! The OAuth side of Webex's identity service, as both simulators need it: the Webex
//! Calling simulator (`wfo-sim-webex`) and the Contact Center 2.0 simulator
//! (`wfo-sim-wxcc`) authenticate against the same `webexapis.com` endpoints, so they
//! share one implementation of `GET /v1/authorize`, `POST /v1/access_token` (code
//! exchange, refresh with or without rotation), the bearer lookup, revocation, and
//! Webex's OAuth error body.
//!
//! What differs between the simulators stays with them: the scopes they know (and so
//! `Integration::new`), the default token lifetimes, the API error envelope, and what
//! a token may do once it is accepted. A simulator plugs in through [`IdentityHost`],
//! which its locked state implements: the clock, the random generator, the registered
//! integrations and who consents are the host's; the codes and tokens live in a
//! [`TokenStore`] the host owns.
//!
//! Nothing here holds a lock or awaits: every function runs on the host's locked state.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

tokio::task_local! {
    static TRACKING_ID: String;
}

/// The tracking id of the request being served (empty outside a request).
pub fn current_tracking_id() -> String {
    TRACKING_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `fut` (a request being served) with `id` as its tracking id, so error bodies
/// built anywhere inside it carry the id the response header will carry.
pub async fn with_tracking_id<F: Future>(id: String, fut: F) -> F::Output {
    TRACKING_ID.scope(id, fut).await
}

/// What the simulated admin answers on the consent page (runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Consent {
    #[default]
    Grant,
    /// Redirect back with `error=access_denied`.
    Refuse,
}

/// A Webex account of another organisation (a stranger who opens a connector's
/// Authorization URL and consents with their own account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAccount {
    /// Plain UUID of the person.
    pub id: String,
    pub email: String,
    /// Plain UUID of their organisation (not the simulator's).
    pub org_id: String,
}

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

/// Who consented: the person a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Plain UUID of the person.
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    /// Plain UUID of the person's organisation.
    pub org_id: String,
}

impl Account {
    /// A stranger of another org (shown by their email, as the consent page does).
    pub fn foreign(a: &ForeignAccount) -> Self {
        Self {
            user_id: a.id.clone(),
            email: a.email.clone(),
            display_name: a.email.clone(),
            org_id: a.org_id.clone(),
        }
    }
}

/// What an access (or refresh) token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub account: Account,
    pub scopes: BTreeSet<String>,
    /// When the token this grant is stored under stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl Grant {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.has(s))
    }
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
    pub account: Account,
}

/// A registered integration as the identity service checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_secret: String,
    /// Exact redirect URIs accepted by `/v1/authorize` and the code exchange.
    pub redirect_uris: Vec<String>,
    /// Scopes the integration may request.
    pub scopes: Vec<String>,
}

/// Token lifetimes and rotation in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access: Duration,
    /// Restarted by each refresh.
    pub refresh: Duration,
    pub code: Duration,
    /// A refresh returns a new refresh token and invalidates the one used.
    pub rotate_refresh_tokens: bool,
}

/// Codes and tokens issued so far.
#[derive(Debug, Default)]
pub struct TokenStore {
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, Grant>,
    /// Refresh token → grant (its `expires_at` is the refresh token's).
    pub refresh_tokens: HashMap<String, Grant>,
    /// Every access and refresh token issued so far, in order (for secret scans).
    pub issued_tokens: Vec<String>,
}

impl TokenStore {
    /// Removes every code, access token and refresh token of an integration; returns
    /// how many tokens went.
    pub fn revoke(&mut self, client_id: &str) -> usize {
        let before = self.access_tokens.len() + self.refresh_tokens.len();
        self.access_tokens.retain(|_, g| g.client_id != client_id);
        self.refresh_tokens.retain(|_, g| g.client_id != client_id);
        self.codes.retain(|_, c| c.client_id != client_id);
        before - self.access_tokens.len() - self.refresh_tokens.len()
    }
}

/// What a simulator provides for its identity service (implemented by its locked state).
pub trait IdentityHost {
    /// The simulator clock.
    fn now(&self) -> DateTime<Utc>;
    /// `len` random URL-safe characters from the simulator's seeded generator.
    fn random_token(&mut self, len: usize) -> String;
    /// The registered integration `client_id`, if any.
    fn client(&self, client_id: &str) -> Option<Client>;
    fn lifetimes(&self) -> Lifetimes;
    fn consent(&self) -> Consent;
    /// `Some`: the next consents are given by this account of another org.
    fn foreign_account(&self) -> Option<&ForeignAccount>;
    /// Who consents at `/v1/authorize` now: the foreign account when one is set,
    /// otherwise the admin.
    fn consenting_account(&self) -> Account {
        match self.foreign_account() {
            Some(a) => Account::foreign(a),
            None => self.admin_account(),
        }
    }
    /// The simulator org's administrator (what [`issue_direct`] issues for).
    fn admin_account(&self) -> Account;
    fn tokens(&mut self) -> &mut TokenStore;
    fn tokens_ref(&self) -> &TokenStore;
}

/// `std` duration → `chrono` duration (saturating: a huge lifetime never expires).
pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A query string (or form body) as a map; repeated keys keep the last value.
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// An OAuth error from `/v1/access_token`: `{"error","error_description","trackingId"}`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            description: description.into(),
        }
    }
    pub fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "Client authentication failed: unknown client or wrong secret.".into(),
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "trackingId": current_tracking_id(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"webexapis\""),
            );
        }
        response
    }
}

fn authorize_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "trackingId": current_tracking_id(),
    });
    (status, axum::Json(body)).into_response()
}

/// `GET /v1/authorize`: validates the client and redirect URI (errors there are shown,
/// never redirected), then "the admin" consents or refuses and we redirect back.
pub fn authorize(host: &mut impl IdentityHost, raw_query: Option<&str>) -> Response {
    let q = parse_query(raw_query);
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let (client_id, redirect_uri, state) = (param("client_id"), param("redirect_uri"), q.get("state"));

    let Some(integration) = host.client(client_id) else {
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
    if host.consent() == Consent::Refuse {
        return back(
            target,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied the request."),
            ],
        );
    }
    let code = host.random_token(64);
    let expires_at = host.now() + to_chrono(host.lifetimes().code);
    let account = host.consenting_account();
    host.tokens().codes.insert(
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
    back(target, &[("code", &code)])
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
pub fn access_token(host: &mut impl IdentityHost, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded.",
        ));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let (client_id, secret) = client_credentials(headers, &form).ok_or_else(OAuthError::invalid_client)?;

    match host.client(&client_id) {
        Some(i) if i.client_secret == secret => {}
        _ => return Err(OAuthError::invalid_client()),
    }
    let now = host.now();
    let lifetimes = host.lifetimes();
    let grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form
                .get("code")
                .ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
            let redirect_uri = form.get("redirect_uri").map(String::as_str).unwrap_or_default();
            let Some(entry) = host.tokens().codes.get_mut(code) else {
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
            let grant = host.tokens().refresh_tokens.get(token).cloned().ok_or_else(invalid)?;
            if grant.client_id != client_id || grant.expires_at <= now {
                return Err(invalid());
            }
            if lifetimes.rotate_refresh_tokens {
                host.tokens().refresh_tokens.remove(token);
            } else {
                // Same string, lifetime restarted.
                if let Some(g) = host.tokens().refresh_tokens.get_mut(token) {
                    g.expires_at = now + to_chrono(lifetimes.refresh);
                }
                let response = mint_access(host, &grant, token.clone());
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
    let refresh = issue_refresh(host, &grant);
    let response = mint_access(host, &grant, refresh);
    Ok(token_json(response))
}

/// `<random>_PF84_<orgId>`: the org suffix Cisco's sample splits off.
fn token_string(host: &mut impl IdentityHost, grant: &Grant) -> String {
    let token = format!("{}_PF84_{}", host.random_token(64), grant.account.org_id);
    host.tokens().issued_tokens.push(token.clone());
    token
}

fn issue_refresh(host: &mut impl IdentityHost, grant: &Grant) -> String {
    let token = token_string(host, grant);
    let expires_at = host.now() + to_chrono(host.lifetimes().refresh);
    host.tokens().refresh_tokens.insert(
        token.clone(),
        Grant {
            expires_at,
            ..grant.clone()
        },
    );
    token
}

fn mint_access(host: &mut impl IdentityHost, grant: &Grant, refresh_token: String) -> TokenResponse {
    let access = token_string(host, grant);
    let lifetimes = host.lifetimes();
    let expires_at = host.now() + to_chrono(lifetimes.access);
    host.tokens().access_tokens.insert(
        access.clone(),
        Grant {
            expires_at,
            ..grant.clone()
        },
    );
    TokenResponse {
        access_token: access,
        expires_in: lifetimes.access.as_secs(),
        refresh_token,
        // Every issue and every refresh restarts the refresh token's full lifetime.
        refresh_token_expires_in: lifetimes.refresh.as_secs(),
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

/// Why [`issue_tokens`] issued nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueError {
    UnknownIntegration(String),
    /// A scope the integration may not request.
    UnknownScope(String),
}

/// Tokens for `client_id` as the host's admin, skipping the browser dance; every scope
/// must be one the integration may request.
pub fn issue_tokens(
    host: &mut impl IdentityHost,
    client_id: &str,
    scopes: &[&str],
) -> Result<TokenResponse, IssueError> {
    let integration = host
        .client(client_id)
        .ok_or_else(|| IssueError::UnknownIntegration(client_id.to_owned()))?;
    if let Some(bad) = scopes.iter().find(|s| !integration.scopes.iter().any(|a| a == *s)) {
        return Err(IssueError::UnknownScope((*bad).to_owned()));
    }
    let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    Ok(issue_direct(host, client_id, scopes))
}

/// Issues tokens for `client_id` as the host's admin (the client and scopes checked).
fn issue_direct(host: &mut impl IdentityHost, client_id: &str, scopes: BTreeSet<String>) -> TokenResponse {
    let grant = Grant {
        client_id: client_id.to_owned(),
        account: host.admin_account(),
        scopes,
        expires_at: host.now(),
    };
    let refresh = issue_refresh(host, &grant);
    mint_access(host, &grant, refresh)
}

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header, or not `Bearer <token>`.
    Malformed,
    /// Unknown, revoked or expired.
    Invalid,
}

/// The grant behind the request's bearer token (any org: what the token may do is
/// the simulator's call).
pub fn bearer(host: &impl IdentityHost, headers: &HeaderMap) -> Result<Grant, BearerError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or(BearerError::Malformed)?;
    let grant = host.tokens_ref().access_tokens.get(token).ok_or(BearerError::Invalid)?;
    if grant.expires_at <= host.now() {
        return Err(BearerError::Invalid);
    }
    Ok(grant.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with a hand-moved clock and a counter for randomness.
    struct Host {
        now: DateTime<Utc>,
        next: u64,
        lifetimes: Lifetimes,
        store: TokenStore,
    }

    impl IdentityHost for Host {
        fn now(&self) -> DateTime<Utc> {
            self.now
        }
        fn random_token(&mut self, _len: usize) -> String {
            self.next += 1;
            format!("T{}", self.next)
        }
        fn client(&self, client_id: &str) -> Option<Client> {
            (client_id == "c").then(|| Client {
                client_secret: "s".into(),
                redirect_uris: vec!["http://127.0.0.1/cb".into()],
                scopes: vec!["a".into(), "b".into()],
            })
        }
        fn lifetimes(&self) -> Lifetimes {
            self.lifetimes
        }
        fn consent(&self) -> Consent {
            Consent::Grant
        }
        fn foreign_account(&self) -> Option<&ForeignAccount> {
            None
        }
        fn admin_account(&self) -> Account {
            Account {
                user_id: "u".into(),
                email: "u@example.com".into(),
                display_name: "U".into(),
                org_id: "o".into(),
            }
        }
        fn tokens(&mut self) -> &mut TokenStore {
            &mut self.store
        }
        fn tokens_ref(&self) -> &TokenStore {
            &self.store
        }
    }

    fn host(rotate: bool) -> Host {
        Host {
            now: DateTime::UNIX_EPOCH,
            next: 0,
            lifetimes: Lifetimes {
                access: Duration::from_secs(60),
                refresh: Duration::from_secs(600),
                code: Duration::from_secs(30),
                rotate_refresh_tokens: rotate,
            },
            store: TokenStore::default(),
        }
    }

    fn form() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    fn bearer_of(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn a_rotated_refresh_token_works_once_and_access_tokens_expire_on_the_hosts_clock() {
        let mut h = host(true);
        let first = issue_tokens(&mut h, "c", &["a"]).expect("issued");
        assert!(first.access_token.ends_with("_PF84_o"));
        assert_eq!(
            bearer(&h, &bearer_of(&first.access_token)).map(|g| g.account.user_id),
            Ok("u".into())
        );

        let body = format!(
            "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token={}",
            first.refresh_token
        );
        assert_eq!(
            access_token(&mut h, &form(), body.as_bytes()).map(|r| r.status()).ok(),
            Some(StatusCode::OK)
        );
        let again = access_token(&mut h, &form(), body.as_bytes())
            .map(|_| ())
            .map_err(|e| e.error);
        assert_eq!(again, Err("invalid_grant"));

        h.now += chrono::Duration::seconds(61);
        assert_eq!(
            bearer(&h, &bearer_of(&first.access_token)).err(),
            Some(BearerError::Invalid)
        );
        assert_eq!(h.store.issued_tokens.len(), 4);
        assert_eq!(
            h.store.revoke("c"),
            3,
            "both access tokens and the one live refresh token"
        );
    }

    #[test]
    fn a_code_is_exchanged_once_and_only_for_scopes_the_integration_may_ask() {
        let mut h = host(false);
        assert_eq!(
            issue_tokens(&mut h, "c", &["z"]).err(),
            Some(IssueError::UnknownScope("z".into()))
        );
        let r = authorize(
            &mut h,
            Some("client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&response_type=code&scope=a+b&state=x"),
        );
        assert_eq!(r.status(), StatusCode::FOUND);
        let code = h.store.codes.keys().next().cloned().unwrap_or_default();
        let body = format!(
            "grant_type=authorization_code&client_id=c&client_secret=s&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"
        );
        assert_eq!(
            access_token(&mut h, &form(), body.as_bytes()).map(|r| r.status()).ok(),
            Some(StatusCode::OK)
        );
        let reused = access_token(&mut h, &form(), body.as_bytes())
            .map(|_| ())
            .map_err(|e| e.description);
        assert_eq!(reused, Err("The authorization code has already been used.".into()));
        let scopes = h.store.access_tokens.values().next().map(|g| g.scopes.clone());
        assert_eq!(scopes, Some(["a".to_owned(), "b".to_owned()].into()));
    }
}
