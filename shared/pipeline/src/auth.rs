//! OAuth for the source APIs: the operator's Authorization URL, the code exchange, and
//! access tokens kept fresh with refreshes that are stored by conditional write.
//!
//! - `state` is `{connector}.{nonce}.{expiry}.{signature}`: signed with the connector's
//!   own state key (HMAC-SHA256), bound to the connector, expiring within minutes, and
//!   single-use (the nonce is stored and consumed on callback).
//! - The token HTTP client follows no redirects.
//! - A refusal of the refresh token (`invalid_grant` and other permanent refusals) marks
//!   the connector "re-authorization required"; nothing is dropped meanwhile.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;

use crate::ports::{
    ConnectorStore, CredentialScheme, Store, StoreError, StoredConnector, TokenRecord, TokenSet, TokenStore,
};

/// The longest access-token lifetime believed from a token answer.
pub const MAX_ACCESS_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest refresh-token lifetime believed from a token answer.
pub const MAX_REFRESH_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How long an Authorization URL's `state` stays valid.
pub const STATE_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// Refresh an access token that expires within this margin before using it.
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(10);

pub use wfo_ports::{AuthError, RefreshOutcome};

/// Webex's token response carries `refresh_token_expires_in` beside the standard fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebexTokenExtra {
    #[serde(default)]
    pub refresh_token_expires_in: Option<u64>,
}
impl ExtraTokenFields for WebexTokenExtra {}

type WebexTokenResponse = StandardTokenResponse<WebexTokenExtra, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    WebexTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The HTTP client for token requests: never follows redirects.
pub fn token_http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
}

/// Why a token request got no usable answer at the HTTP level. Responses that carry an
/// OAuth error body (`{"error": …}`) are not this: they reach the `oauth2` crate.
#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("{}", wfo_http::error_chain(.0))]
    Transport(reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
}

async fn oauth_http(client: reqwest::Client, req: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(TokenHttpError::Transport)?;
    let status = resp.status();
    let mut out = oauth2::http::Response::builder().status(status);
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let bytes = read_token_body(resp).await?;
    // A failure without an OAuth error body (a gateway's 503 page, a proxy's 401): keep
    // the status, which the `oauth2` crate would lose in a parse error.
    if !status.is_success() && !is_oauth_error_body(&bytes) {
        return Err(TokenHttpError::Status {
            status: status.as_u16(),
            body: redacted_snippet(&bytes),
        });
    }
    // Building a response from parts that came from a valid response cannot fail; fall
    // back to an empty 502 rather than panic.
    Ok(out.body(bytes).unwrap_or_else(|_| {
        let mut r = oauth2::http::Response::new(Vec::new());
        *r.status_mut() = oauth2::http::StatusCode::BAD_GATEWAY;
        r
    }))
}

/// The largest token-endpoint answer read (a token answer is a few KB).
const MAX_TOKEN_BODY: usize = 64 * 1024;

async fn read_token_body(mut resp: reqwest::Response) -> Result<Vec<u8>, TokenHttpError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(TokenHttpError::Transport)? {
        if out.len() + chunk.len() > MAX_TOKEN_BODY {
            return Err(TokenHttpError::Status {
                status: 502,
                body: format!("the token answer is larger than {MAX_TOKEN_BODY} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn is_oauth_error_body(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("error").is_some_and(serde_json::Value::is_string))
}

/// Up to 300 characters of a response body for an error message, with every long
/// token-like run (`[A-Za-z0-9.~+/=-]{20,}`: access and refresh tokens, codes) replaced
/// by `[redacted]`: a malformed token response may still carry a token, and an error
/// description may echo one. Underscores split runs, so OAuth error codes
/// (`temporarily_unavailable`) stay readable.
pub fn redacted_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || ".~+/=-".contains(c);
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 20 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/oauth/callback", public_url.trim_end_matches('/'))
}

fn client_for(connector: &StoredConnector, public_url: &str) -> Result<OAuthClient, AuthError> {
    let cfg = &connector.config;
    let (Some(id), Some(secret)) = (&cfg.source.client_id, &cfg.source.client_secret) else {
        return Err(AuthError::NoClientCredentials(cfg.id.clone()));
    };
    let base = cfg.source.identity_url.trim_end_matches('/');
    let bad = |e: oauth2::url::ParseError| AuthError::Refused(format!("invalid identity_url or public URL: {e}"));
    Ok(oauth2::Client::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(format!("{base}/v1/authorize")).map_err(bad)?)
        .set_token_uri(TokenUrl::new(format!("{base}/v1/access_token")).map_err(bad)?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri(public_url)).map_err(bad)?))
}

fn sign(key: &Secret, payload: &str) -> String {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn unreachable_hmac() -> Hmac<sha2::Sha256> {
    // HMAC accepts keys of any length; this path is never taken.
    <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"k").unwrap_or_else(|_| unreachable_hmac())
}

fn verify(key: &Secret, payload: &str, signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()) else {
        return false;
    };
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Whether `connector`, whose kind authenticates under `scheme`, has an OAuth flow at all:
/// [`AuthError::UsesApiKey`] for an API-key connector (there is nothing to authorize;
/// its key comes from the configuration). Every front end that offers or completes an
/// authorization asks this, so they all say the same.
pub fn check_oauth(connector: &StoredConnector, scheme: CredentialScheme) -> Result<(), AuthError> {
    match scheme {
        CredentialScheme::OAuth => Ok(()),
        CredentialScheme::ApiKey => Err(AuthError::UsesApiKey {
            connector: connector.config.id.clone(),
            kind: connector.config.kind,
        }),
    }
}

/// Build the Authorization URL for `connector` (whose kind authenticates under `scheme`)
/// and remember its single-use state. An API-key connector gets
/// [`AuthError::UsesApiKey`] and nothing is stored.
pub async fn authorization_url(
    tokens: &dyn TokenStore,
    connector: &StoredConnector,
    scheme: CredentialScheme,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    check_oauth(connector, scheme)?;
    let client = client_for(connector, public_url)?;
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let expires = now + STATE_TTL;
    let payload = format!("{}.{}.{}", connector.config.id, nonce, expires.timestamp());
    let state = format!("{payload}.{}", sign(&connector.secrets.state_key, &payload));
    tokens.put_oauth_state(&nonce, &connector.config.id, expires).await?;
    let mut req = client.authorize_url(move || CsrfToken::new(state));
    for s in connector.config.scopes() {
        req = req.add_scope(Scope::new(s));
    }
    let (url, _) = req.url();
    Ok(url.to_string())
}

/// Check a callback's `state` and consume it. Returns the connector it belongs to.
pub async fn check_state(
    connectors: &dyn ConnectorStore,
    tokens: &dyn TokenStore,
    state: &str,
    now: DateTime<Utc>,
) -> Result<StoredConnector, AuthError> {
    let parts: Vec<&str> = state.split('.').collect();
    let [connector_id, nonce, expiry, signature] = parts.as_slice() else {
        return Err(AuthError::BadState("malformed".to_owned()));
    };
    let connector = connectors
        .get_connector(connector_id)
        .await?
        .ok_or_else(|| AuthError::BadState(format!("names unknown connector '{connector_id}'")))?;
    let payload = format!("{connector_id}.{nonce}.{expiry}");
    if !verify(&connector.secrets.state_key, &payload, signature) {
        return Err(AuthError::BadState(
            "signature does not match (tampered or issued for another connector)".to_owned(),
        ));
    }
    let expires = expiry.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0));
    if expires.is_none_or(|e| e < now) {
        return Err(AuthError::BadState(
            "expired: open the Authorization URL again".to_owned(),
        ));
    }
    match tokens.take_oauth_state(nonce, now).await? {
        Some(owner) if owner == *connector_id => Ok(connector),
        Some(_) => Err(AuthError::BadState("issued for another connector".to_owned())),
        None => Err(AuthError::BadState(
            "already used or expired: open the Authorization URL again".to_owned(),
        )),
    }
}

fn token_set(
    resp: &WebexTokenResponse,
    previous_refresh: Option<&TokenSet>,
    requested: &[String],
    now: DateTime<Utc>,
) -> TokenSet {
    // Lifetimes come from outside: clamped, so no answer can overflow the time arithmetic.
    let access_expires_at = now
        + resp
            .expires_in()
            .map(|d| d.min(MAX_ACCESS_LIFETIME))
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_else(|| chrono::Duration::hours(1));
    let (refresh_token, refresh_expires_at) = match resp.refresh_token() {
        Some(rt) => (
            Some(Secret::new(rt.secret().clone())),
            resp.extra_fields()
                .refresh_token_expires_in
                .map(|s| wfo_http::clamp_secs(s, MAX_REFRESH_LIFETIME))
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| now + d),
        ),
        // No new refresh token: the old one stays valid (and keeps its expiry).
        None => (
            previous_refresh.and_then(|p| p.refresh_token.clone()),
            previous_refresh.and_then(|p| p.refresh_expires_at),
        ),
    };
    let scopes = resp
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|| requested.to_vec());
    TokenSet {
        access_token: Secret::new(resp.access_token().secret().clone()),
        access_expires_at,
        refresh_token,
        refresh_expires_at,
        scopes,
        obtained_at: now,
    }
}

fn classify(e: RequestTokenError<TokenHttpError, BasicErrorResponse>) -> AuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r.error_description().cloned().unwrap_or_default();
            // What the server said, minus anything token-like it may have echoed.
            let text = redacted_snippet(
                format!(
                    "{}{}",
                    r.error(),
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                )
                .as_bytes(),
            );
            match r.error() {
                BasicErrorResponseType::InvalidGrant
                | BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient
                | BasicErrorResponseType::InvalidRequest
                | BasicErrorResponseType::UnsupportedGrantType
                | BasicErrorResponseType::InvalidScope => AuthError::Refused(text),
                // Server-side problems dressed as OAuth errors (e.g. temporarily_unavailable).
                _ => AuthError::Transient(text),
            }
        }
        RequestTokenError::Request(TokenHttpError::Status { status, body }) => {
            let text = format!("the token endpoint answered HTTP {status}: {body}");
            if wfo_http::is_retryable_status(status) {
                AuthError::Transient(text)
            } else {
                AuthError::Refused(text)
            }
        }
        RequestTokenError::Request(e @ TokenHttpError::Transport(_)) => AuthError::Transient(e.to_string()),
        RequestTokenError::Parse(e, body) => {
            let why = redacted_snippet(e.to_string().as_bytes());
            AuthError::Transient(format!("malformed token response ({why}): {}", redacted_snippet(&body)))
        }
        RequestTokenError::Other(s) => AuthError::Transient(s),
    }
}

/// Exchange an authorization code for tokens, storing nothing: the caller checks who
/// authorized ([`crate::authorization`]) before [`store_authorization`].
pub async fn exchange_code(
    connector: &StoredConnector,
    http: &reqwest::Client,
    code: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<TokenSet, AuthError> {
    let client = client_for(connector, public_url)?;
    let http = http.clone();
    let call = move |r| oauth_http(http.clone(), r);
    let resp = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .request_async(&call)
        .await
        .map_err(classify)?;
    Ok(token_set(&resp, None, &connector.config.scopes(), now))
}

/// Store the tokens of an authorization and clear the re-authorization flag, retrying
/// on version conflicts (the newest authorization wins).
pub async fn store_authorization(tokens: &dyn TokenStore, connector_id: &str, set: TokenSet) -> Result<(), AuthError> {
    for _ in 0..5 {
        let current = tokens.get_tokens(connector_id).await?;
        let record = TokenRecord {
            tokens: Some(set.clone()),
            reauth_required: None,
            version: current.version,
        };
        match tokens.put_tokens(connector_id, &record, current.version).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AuthError::Store(StoreError::Conflict(format!(
        "tokens of {connector_id}"
    ))))
}

/// How long one refresher may hold a connector's refresh lock.
const REFRESH_LOCK_TTL: Duration = Duration::from_secs(60);
/// How long a refresher waits for another one to finish before giving up (transient).
const REFRESH_LOCK_WAIT: Duration = Duration::from_secs(15);

/// Refresh the connector's tokens now. A refusal marks "re-authorization required".
///
/// Refreshes of one connector are serialized across processes by a lock in the store:
/// with rotating refresh tokens, two refreshers presenting the same refresh token would
/// see one of them refused. Beyond the lock (a holder that outlived its expiry) the
/// conditional writes still protect the newest tokens; see [`refresh_unlocked`].
pub async fn refresh(
    store: &dyn Store,
    connector: &StoredConnector,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<RefreshOutcome, AuthError> {
    let id = &connector.config.id;
    let lock = format!("token-refresh:{id}");
    let owner = uuid::Uuid::new_v4().to_string();
    let started = std::time::Instant::now();
    let mut waited = false;
    while !store.try_lock(&lock, &owner, REFRESH_LOCK_TTL, Utc::now()).await? {
        if started.elapsed() > REFRESH_LOCK_WAIT {
            return Err(AuthError::Transient(format!(
                "another process is refreshing the tokens of {id}"
            )));
        }
        waited = true;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = store.get_tokens(id).await;
    let outcome = if waited {
        // Someone refreshed while we waited: their tokens are current.
        match before {
            Ok(rec) if rec.reauth_required.is_none() && rec.tokens.as_ref().is_some_and(|t| t.obtained_at >= now) => {
                Ok(RefreshOutcome::AlreadyFresh)
            }
            _ => refresh_unlocked(store, connector, http, now).await,
        }
    } else {
        refresh_unlocked(store, connector, http, now).await
    };
    if let Err(e) = store.unlock(&lock, &owner).await {
        tracing::debug!(connector = %id, error = %e, "cannot release the refresh lock (it expires)");
    }
    outcome
}

/// The refresh itself. Two of these at once (only when a lock holder outlived its
/// expiry): both may call the identity service, but only the first conditional write
/// wins; the loser re-reads and, seeing fresh tokens, reports `AlreadyFresh` without
/// overwriting the winner's refresh token.
async fn refresh_unlocked(
    tokens: &dyn TokenStore,
    connector: &StoredConnector,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<RefreshOutcome, AuthError> {
    let id = &connector.config.id;
    let record = tokens.get_tokens(id).await?;
    if let Some((_, reason)) = &record.reauth_required {
        return Err(AuthError::ReauthRequired {
            connector: id.clone(),
            reason: reason.clone(),
        });
    }
    let Some(current) = record.tokens.clone() else {
        return Err(AuthError::NotAuthorized(id.clone()));
    };
    let Some(rt) = current.refresh_token.clone() else {
        return mark_reauth(tokens, id, record, "no refresh token is stored", now).await;
    };
    let client = client_for(connector, "http://unused.invalid")?;
    let http = http.clone();
    let call = move |r| oauth_http(http.clone(), r);
    let resp = match client
        .exchange_refresh_token(&RefreshToken::new(rt.expose().to_owned()))
        .request_async(&call)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let err = classify(e);
            return match err {
                AuthError::Refused(reason) => {
                    // Did a concurrent refresher rotate the token under us?
                    let latest = tokens.get_tokens(id).await?;
                    if latest.version != record.version {
                        return Ok(RefreshOutcome::AlreadyFresh);
                    }
                    mark_reauth(tokens, id, latest, &reason, now).await
                }
                other => Err(other),
            };
        }
    };
    let set = token_set(&resp, Some(&current), &current.scopes, now);
    let expires = set.access_expires_at;
    let mut base_version = record.version;
    for _ in 0..3 {
        let next = TokenRecord {
            tokens: Some(set.clone()),
            reauth_required: None,
            version: base_version,
        };
        match tokens.put_tokens(id, &next, base_version).await {
            Ok(_) => {
                return Ok(RefreshOutcome::Refreshed {
                    access_expires_at: expires,
                });
            }
            Err(StoreError::Conflict(_)) => {
                // Someone wrote since we read. If they stored newer tokens, theirs win. If
                // the stored set is still the one we refreshed from, the write was a
                // concurrent refresher that presented our (now rotated) refresh token,
                // was refused and marked "re-authorization required": ours is the only
                // valid set, so it must not be lost.
                let latest = tokens.get_tokens(id).await?;
                let same_source = latest.tokens.as_ref().and_then(|t| t.refresh_token.as_ref()) == Some(&rt);
                if !same_source {
                    return Ok(RefreshOutcome::AlreadyFresh);
                }
                base_version = latest.version;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AuthError::Store(StoreError::Conflict(format!("tokens of {id}"))))
}

/// Move the connector to "re-authorization required" (keeping its tokens for the
/// record). Only the caller that makes the transition logs the one error line and emits
/// the [`metrics::REAUTHORIZATION_REQUIRED`] metric; everyone else just gets the error.
async fn mark_reauth(
    tokens: &dyn TokenStore,
    id: &str,
    mut record: TokenRecord,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefreshOutcome, AuthError> {
    let refused_refresh = record.tokens.as_ref().and_then(|t| t.refresh_token.clone());
    for _ in 0..5 {
        if let Some((_, earlier)) = &record.reauth_required {
            return Err(AuthError::ReauthRequired {
                connector: id.to_owned(),
                reason: earlier.clone(),
            });
        }
        let version = record.version;
        record.reauth_required = Some((now, reason.to_owned()));
        match tokens.put_tokens(id, &record, version).await {
            Ok(_) => {
                tracing::error!(
                    connector = id,
                    reason,
                    "reauthorization required: the source refused the refresh token; imports pause (nothing is dropped) until an operator opens the Authorization URL (wfo-connect connector auth-url {id})"
                );
                crate::metrics::reauthorization_required(id, reason, now);
                return Err(AuthError::ReauthRequired {
                    connector: id.to_owned(),
                    reason: reason.to_owned(),
                });
            }
            Err(StoreError::Conflict(_)) => {
                record = tokens.get_tokens(id).await?;
                // Someone stored other tokens meanwhile (a concurrent refresh or a new
                // authorization): the refusal was about a token that is no longer ours.
                if record.reauth_required.is_none()
                    && record.tokens.as_ref().and_then(|t| t.refresh_token.clone()) != refused_refresh
                {
                    return Ok(RefreshOutcome::AlreadyFresh);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AuthError::Store(StoreError::Conflict(format!("tokens of {id}"))))
}

/// A usable access token: refreshed first when it expires within [`REFRESH_MARGIN`].
pub async fn access_token(
    tokens: &dyn Store,
    connector: &StoredConnector,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<Secret, AuthError> {
    usable_tokens(tokens, connector, http, now)
        .await
        .map(|set| set.access_token)
}

/// The token set whose access token [`access_token`] answers (with its expiry and the
/// granted scopes, read together).
pub async fn usable_tokens(
    tokens: &dyn Store,
    connector: &StoredConnector,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<TokenSet, AuthError> {
    let id = &connector.config.id;
    let mut refreshed = false;
    for _ in 0..3 {
        let record = tokens.get_tokens(id).await?;
        if let Some((_, reason)) = record.reauth_required {
            return Err(AuthError::ReauthRequired {
                connector: id.clone(),
                reason,
            });
        }
        let Some(set) = record.tokens else {
            return Err(AuthError::NotAuthorized(id.clone()));
        };
        // Right after a refresh the token is as fresh as the source makes them: use it
        // even when its whole lifetime is shorter than the margin.
        if set.access_expires_at - REFRESH_MARGIN > now || (refreshed && set.access_expires_at > now) {
            return Ok(set);
        }
        refresh(tokens, connector, http, now).await?;
        refreshed = true;
    }
    Err(AuthError::Transient(format!(
        "tokens of {id} kept changing during refresh"
    )))
}

/// The longest a token set may go without a refresh (the WFO guides promise at least
/// every twelve hours; we refresh a little earlier).
pub const MAX_TOKEN_AGE: chrono::Duration = chrono::Duration::hours(11);

/// Refresh when the access token expires soon or the set is older than [`MAX_TOKEN_AGE`].
/// `Ok(None)` when nothing was due.
pub async fn refresh_if_due(
    tokens: &dyn Store,
    connector: &StoredConnector,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<Option<RefreshOutcome>, AuthError> {
    let record = tokens.get_tokens(&connector.config.id).await?;
    if let Some((_, reason)) = record.reauth_required {
        return Err(AuthError::ReauthRequired {
            connector: connector.config.id.clone(),
            reason,
        });
    }
    let Some(set) = record.tokens else {
        return Err(AuthError::NotAuthorized(connector.config.id.clone()));
    };
    let due = set.access_expires_at - REFRESH_MARGIN * 6 <= now || now - set.obtained_at >= MAX_TOKEN_AGE;
    if !due {
        return Ok(None);
    }
    refresh(tokens, connector, http, now).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_like_runs_are_redacted_and_words_and_oauth_codes_stay() {
        let body = br#"{"access_token": "ZDI3MGEyYzQtNmFlNS00NDk0LWFmNWItNTUz_PF84_0ae87ade-8c8a-4952-af08-318798958d0c", "expires_in": 12"#;
        let out = redacted_snippet(body);
        assert!(
            !out.contains("ZDI3MGEyYzQtNmFlNS00NDk0LWFmNWItNTUz") && !out.contains("318798958d0c"),
            "{out}"
        );
        assert!(out.contains("access_token") && out.contains("expires_in"), "{out}");
        let said = "temporarily_unavailable: The refresh token provided is expired, revoked, malformed, or invalid.";
        assert_eq!(redacted_snippet(said.as_bytes()), said);
    }

    #[test]
    fn long_bodies_are_cut_to_300_characters() {
        let out = redacted_snippet("word ".repeat(200).as_bytes());
        assert_eq!(out.chars().count(), 301, "300 and an ellipsis");
    }
}
