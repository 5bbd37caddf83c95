//! OAuth for integrations (§4.1): `/v1/authorize`, `/v1/access_token`, and the bearer
//! check every API route goes through. The OAuth logic is `wfo-sim-identity`'s, shared
//! with the Contact Center simulator; this module plugs the simulator's state into it
//! and keeps what is this simulator's own: one org, whose data a token of another org
//! may not read.

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};
pub use wfo_sim_identity::TokenResponse;
pub(crate) use wfo_sim_identity::parse_query;
use wfo_sim_identity::{Account, Client, Consent, ForeignAccount, IdentityHost, Lifetimes, TokenStore};

use crate::error::{ApiError, OAuthError};
use crate::state::{Grant, SharedRef, State as SimState};

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
            display_name: self.admin.email.clone(),
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

/// The authenticated caller of an API route.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Grant);

impl FromRequestParts<SharedRef> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &SharedRef) -> Result<Self, Self::Rejection> {
        let mut st = shared.lock();
        let grant = wfo_sim_identity::bearer(&*st, &parts.headers).map_err(|_| ApiError::unauthorized())?;
        // This simulator holds one org: a token of another org may only ask who it is.
        if grant.account.org_id != st.org_id && parts.uri.path() != "/v1/people/me" {
            st.foreign_org_calls += 1;
            return Err(ApiError::forbidden(
                "This token belongs to another organization than the data it asks for.",
            ));
        }
        Ok(Caller(grant))
    }
}
