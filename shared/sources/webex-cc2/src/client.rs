//! The Contact Center 2.0 REST client (reference §1, §4, §5).
//!
//! Every request goes to the connector's regional host through [`wfo_http::send`]
//! (timeouts, `Retry-After` on 429, jittered backoff on 5xx and broken connections) with
//! a fresh `TrackingId`, and waits for the **client id's rate limit** first: Cisco allows
//! 300 requests per minute per client id, shared by every connector using it
//! ([`wfo_http::limit::RateLimit`], one per client id per process, shared across
//! processes through the store when the pipeline gives it one). A `429` pauses every
//! caller of that client id for its `Retry-After`.

use std::sync::Arc;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;
use wfo_domain::Secret;
use wfo_http::limit::RateLimit;
use wfo_http::{HttpError, Idempotency, RetryPolicy};

use crate::error::CcError;
use crate::model::ListPage;

/// Request header carrying our tracking id (echoed back as `trackingid`).
pub const TRACKING_HEADER: &str = "TrackingId";
/// Cisco's documented limit: requests per minute per client id (reference §7).
pub const REQUESTS_PER_MINUTE: u32 = 300;
/// The page size asked for. The largest the API allows is not published (reference §7,
/// UNCONFIRMED): larger asks are clamped by the server, and the walk follows the
/// `meta` the server answers with, so asking big only saves requests.
pub const PAGE_SIZE: u32 = 1000;
/// The most pages one listing reads (a server whose `totalPages` never ends stops here).
pub const MAX_PAGES: u64 = 10_000;

pub(crate) const SERVICE: &str = "webex-cc";
/// The scope a 403 on the configuration lists names.
pub(crate) const SCOPE_CONFIG_READ: &str = "cjp:config_read";
/// The scope a 403 on subscriptions names.
pub(crate) const SCOPE_CONFIG_WRITE: &str = "cjp:config_write";

/// What one configuration list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigList {
    Users,
    Teams,
    Queues,
}

impl ConfigList {
    /// Path below `/organization/{orgId}/`.
    pub fn path(self) -> &'static str {
        match self {
            ConfigList::Users => "v2/user",
            ConfigList::Teams => "v2/team",
            ConfigList::Queues => "v2/contact-service-queue",
        }
    }

    pub fn operation(self) -> &'static str {
        match self {
            ConfigList::Users => "list users",
            ConfigList::Teams => "list teams",
            ConfigList::Queues => "list queues",
        }
    }

    /// What one entry is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ConfigList::Users => "user",
            ConfigList::Teams => "team",
            ConfigList::Queues => "queue",
        }
    }
}

/// What a call is, for the request and its errors.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub operation: &'static str,
    /// The scope a 403 names.
    pub scope: &'static str,
    pub method: Method,
    pub idempotency: Idempotency,
}

impl Op {
    /// A read (safe to repeat).
    pub fn read(operation: &'static str, scope: &'static str, method: Method) -> Self {
        Self {
            operation,
            scope,
            method,
            idempotency: Idempotency::Idempotent,
        }
    }

    /// A create (repeated only when it certainly did not arrive).
    pub fn create(operation: &'static str, scope: &'static str) -> Self {
        Self {
            operation,
            scope,
            method: Method::POST,
            idempotency: Idempotency::NonIdempotent,
        }
    }
}

/// Client for one org on one regional host. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CcClient {
    http: reqwest::Client,
    api_url: Url,
    org_id: String,
    policy: RetryPolicy,
}

impl CcClient {
    /// `client_id`: the OAuth client whose rate limit every call spends.
    pub fn new(http: reqwest::Client, api_url: Url, org_id: &str, client_id: &str, policy: RetryPolicy) -> Self {
        let limit = RateLimit::shared(&format!("webex-cc:{client_id}"), REQUESTS_PER_MINUTE);
        Self::with_limit(http, api_url, org_id, policy, limit)
    }

    /// With a given limit (tests; the pipeline's store-shared one).
    pub fn with_limit(
        http: reqwest::Client,
        api_url: Url,
        org_id: &str,
        mut policy: RetryPolicy,
        limit: Arc<RateLimit>,
    ) -> Self {
        policy.rate_limit = Some(limit);
        Self {
            http,
            api_url,
            org_id: org_id.trim().to_owned(),
            policy,
        }
    }

    pub fn rate_limit(&self) -> Option<&Arc<RateLimit>> {
        self.policy.rate_limit.as_ref()
    }

    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// `path` on the regional host.
    pub(crate) fn url_of(&self, path: &str) -> Result<Url, CcError> {
        self.api_url.join(path).map_err(|e| CcError::Malformed {
            operation: "build a request URL",
            message: format!("{path}: {e}"),
        })
    }

    /// `/organization/{orgId}/{rest}`.
    pub(crate) fn org_url(&self, rest: &str) -> Result<Url, CcError> {
        let mut url = self.url_of("/")?;
        url.path_segments_mut()
            .map_err(|_| CcError::Malformed {
                operation: "build a request URL",
                message: "source.api_url cannot carry a path".to_owned(),
            })?
            .pop_if_empty()
            .push("organization")
            .push(&self.org_id)
            .extend(rest.split('/'));
        Ok(url)
    }

    /// One request, JSON in and out.
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: Op,
        url: Url,
        body: Option<&B>,
        token: &Secret,
    ) -> Result<T, CcError> {
        let Op {
            operation,
            scope,
            method,
            idempotency,
        } = op;
        let resp = wfo_http::send(SERVICE, &self.policy, idempotency, || {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose())
                .header(TRACKING_HEADER, wfo_http::new_tracking_id())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            req
        })
        .await
        .map_err(|e| CcError::from_http(operation, scope, e))?;
        wfo_http::json(SERVICE, resp).await.map_err(|e| match e {
            HttpError::Decode { message, .. } => CcError::Malformed { operation, message },
            other => CcError::from_http(operation, scope, other),
        })
    }

    /// Page `page` (from 0) of a configuration list.
    pub async fn list_page(&self, list: ConfigList, page: u64, token: &Secret) -> Result<ListPage, CcError> {
        let mut url = self.org_url(list.path())?;
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("pageSize", &PAGE_SIZE.to_string());
        self.call::<(), ListPage>(
            Op::read(list.operation(), SCOPE_CONFIG_READ, Method::GET),
            url,
            None,
            token,
        )
        .await
    }
}
