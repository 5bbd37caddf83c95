//! The Contact Center 1.0 HTTP client: every request signed ([`crate::auth`]), sent
//! through the shared HTTP layer (retries with backoff, `Retry-After` honoured, per-attempt
//! deadlines, a stalled body aborted) and under a client-side budget of
//! [`REQUESTS_PER_MINUTE`] per tenant, shared across processes through the store.
//!
//! It knows URLs and headers, not records: what the answers mean is read by
//! [`crate::records`], [`crate::config`] and [`crate::media`].

use std::sync::Arc;

use reqwest::Response;
use serde_json::Value;
use url::Url;
use wfo_domain::Secret;
use wfo_http::limit::RateLimit;
use wfo_http::{HttpError, Idempotency, RetryPolicy};

use crate::auth::sign;
use crate::error::Cc1Error;

/// The service name in logs and errors.
pub const SERVICE: &str = "webex-cc-1";
/// The service name of media downloads.
pub const MEDIA_SERVICE: &str = "webex-cc-1 media";
/// UNCONFIRMED: 1.0 publishes no limit; this is 2.0's (reference §7), kept per tenant so
/// a busy poller cannot starve the sync.
pub const REQUESTS_PER_MINUTE: u32 = 300;

/// Client for one tenant. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cc1Client {
    http: reqwest::Client,
    api_url: Url,
    media_url: Url,
    username: String,
    tenant_id: String,
    policy: RetryPolicy,
}

/// `base` with a trailing slash, so relative paths go under it (`…/aws/api` + `csrs`).
fn as_base(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url
}

impl Cc1Client {
    pub fn new(
        http: reqwest::Client,
        api_url: Url,
        media_url: Url,
        username: &str,
        tenant_id: &str,
        mut policy: RetryPolicy,
    ) -> Self {
        policy.rate_limit = Some(RateLimit::shared(
            &format!("webex-cc-1:{}", tenant_id.trim()),
            REQUESTS_PER_MINUTE,
        ));
        Self {
            http,
            api_url: as_base(api_url),
            media_url,
            username: username.trim().to_owned(),
            tenant_id: tenant_id.trim().to_owned(),
            policy,
        }
    }

    pub fn rate_limit(&self) -> Option<&Arc<RateLimit>> {
        self.policy.rate_limit.as_ref()
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// `rest` under the API URL, with `query` pairs.
    pub(crate) fn url(&self, rest: &str, query: &[(&str, &str)]) -> Result<Url, Cc1Error> {
        let mut url = self.api_url.join(rest).map_err(|e| Cc1Error::Malformed {
            operation: "build a request URL",
            message: format!("{rest}: {e}"),
        })?;
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// One signed GET, retried by the HTTP layer.
    async fn get(&self, service: &'static str, url: Url, key: &Secret) -> Result<Response, HttpError> {
        let headers = sign(key, &self.username, &self.tenant_id);
        wfo_http::send(service, &self.policy, Idempotency::Idempotent, || {
            self.http
                .get(url.clone())
                .header(reqwest::header::FROM, headers.from.as_str())
                .header(reqwest::header::AUTHORIZATION, headers.authorization.expose())
                .header(reqwest::header::ACCEPT, "application/json")
        })
        .await
    }

    /// One signed GET answering JSON.
    pub(crate) async fn get_json(&self, operation: &'static str, url: Url, key: &Secret) -> Result<Value, Cc1Error> {
        let resp = self
            .get(SERVICE, url, key)
            .await
            .map_err(|e| Cc1Error::from_http(operation, &self.tenant_id, e))?;
        wfo_http::json(SERVICE, resp).await.map_err(|e| match e {
            HttpError::Decode { message, .. } => Cc1Error::Malformed { operation, message },
            other => Cc1Error::from_http(operation, &self.tenant_id, other),
        })
    }

    /// The media API's answer for session `sid`: `None` when it answers `404` (not ready,
    /// or no recording).
    pub(crate) async fn media(&self, sid: &str, key: &Secret) -> Result<Option<Response>, Cc1Error> {
        const OP: &str = "media download";
        let mut url = self.media_url.clone();
        url.query_pairs_mut().append_pair("sessionId", sid);
        match self.get(MEDIA_SERVICE, url, key).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(Cc1Error::from_http(OP, &self.tenant_id, e)),
        }
    }
}
