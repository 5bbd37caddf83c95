//! OAuth for integrations (§1.2), with Webex's wire shapes (the identity service is
//! `webexapis.com` for Contact Center too): `GET /v1/authorize`, `POST /v1/access_token`,
//! `GET /v1/people/me`, and the token lookup the regional gateway uses. The OAuth logic
//! is `wfo-sim-identity`'s, shared with the Webex Calling simulator; this module plugs
//! the simulator's state into it.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::json;
pub(crate) use wfo_sim_identity::BearerError;
pub use wfo_sim_identity::TokenResponse;
use wfo_sim_identity::{Account, Client, Consent, ForeignAccount, IdentityHost, Lifetimes, TokenStore};

use crate::error::{ApiError, OAuthError};
use crate::state::{Grant, SharedRef, State as SimState, webex_id};

impl IdentityHost for SimState {
    fn now(&self) -> DateTime<Utc> {
        SimState::now(self)
    }
    fn random_token(&mut self, len: usize) -> String {
        SimState::random_token(self, len)
    }
    fn client(&self, client_id: &str) -> Option<Client> {
        self.integrations.get(client_id).map(|i| Client {
            client_secret: i.client_secret.clone(),
            redirect_uris: i.redirect_uris.clone(),
            scopes: i.scopes.clone(),
        })
    }
    fn lifetimes(&self) -> Lifetimes {
        self.tokens.lifetimes()
    }
    fn consent(&self) -> Consent {
        self.consent
    }
    fn foreign_account(&self) -> Option<&ForeignAccount> {
        self.consenting.as_ref()
    }
    fn admin_account(&self) -> Account {
        Account {
            user_id: self.admin.id.clone(),
            email: self.admin.email.clone(),
            display_name: self.admin.display_name.clone(),
            org_id: self.org_id.clone(),
        }
    }
    fn tokens(&mut self) -> &mut TokenStore {
        &mut self.identity
    }
    fn tokens_ref(&self) -> &TokenStore {
        &self.identity
    }
}

/// `GET /v1/authorize`.
pub(crate) async fn authorize(State(shared): State<SharedRef>, RawQuery(raw): RawQuery) -> Response {
    wfo_sim_identity::authorize(&mut *shared.lock(), raw.as_deref())
}

/// `POST /v1/access_token` (form-encoded): `authorization_code` and `refresh_token`.
pub(crate) async fn access_token(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    wfo_sim_identity::access_token(&mut *shared.lock(), &headers, &body)
}

/// The grant behind the request's bearer token.
pub(crate) fn bearer(st: &SimState, headers: &HeaderMap) -> Result<Grant, BearerError> {
    wfo_sim_identity::bearer(st, headers)
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
