//! The Webex Calling REST client: converged recordings (list, details, metadata).
//!
//! Every request goes through [`wfo_http::send`] (timeouts, `Retry-After` on 429/423,
//! jittered backoff on 5xx/408/connection errors, other 4xx fatal) and carries a fresh
//! `TrackingID` header; failures are logged with the tracking id Webex returned.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use futures::Stream;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;
use wfo_domain::Secret;
use wfo_http::{HttpError, Idempotency, RetryPolicy};

use crate::error::WebexError;
use crate::model::{Items, OwnerType, RecordingDetails, RecordingStatus, RecordingSummary, ServiceType};

/// The public Webex API origin.
pub const DEFAULT_API_URL: &str = "https://webexapis.com";
/// Largest `max` the list endpoints accept.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Longest `from`–`to` interval the admin/compliance list endpoint accepts.
pub const MAX_WINDOW: TimeDelta = TimeDelta::days(30);
/// Request header carrying our tracking id (Webex echoes its own in `trackingid`).
pub const TRACKING_HEADER: &str = "TrackingID";

pub(crate) const SERVICE: &str = "webex";

/// Scope hints for 403 answers.
pub(crate) const SCOPE_LIST: &str =
    "spark-compliance:recordings_read (or spark-admin:recordings_read; the admin list endpoint)";
pub(crate) const SCOPE_READ: &str =
    "spark-compliance:recordings_read (or spark-admin:recordings_read / spark:recordings_read)";

/// Client for the Webex Calling REST API. Cheap to clone; build once per process.
#[derive(Debug, Clone)]
pub struct WebexCallingClient {
    http: reqwest::Client,
    api_url: Url,
    policy: RetryPolicy,
}

/// Which call is being made: for error mapping and logs.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub operation: &'static str,
    /// Scope named in a 403 error.
    pub scope: &'static str,
    /// What a 404 means, e.g. `recording 1234`.
    pub what: String,
}

/// The most pages one listing walk reads (a million items at 100 a page): a server that
/// never stops sending `Link: rel="next"` ends the walk with an error, not a loop.
pub const MAX_PAGES_PER_WALK: usize = 10_000;

/// How the pages of one listing are fetched (kept in [`Page`] for `next_page`).
#[derive(Debug, Clone)]
struct PageContext {
    operation: &'static str,
    scope: &'static str,
    timezone_utc: bool,
    /// The pages this walk read, shared by its pages: a `next` link back to one of them
    /// is a loop.
    trail: Arc<Mutex<Trail>>,
}

#[derive(Debug, Default)]
struct Trail {
    seen: HashSet<String>,
    pages: usize,
}

impl PageContext {
    fn new(operation: &'static str, scope: &'static str, timezone_utc: bool) -> Self {
        Self {
            operation,
            scope,
            timezone_utc,
            trail: Arc::default(),
        }
    }
}

/// An item of a list page that could not be read: the rest of the page goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Its `id`, when that much could be read.
    pub id: Option<String>,
    /// Why, with the offending item (secrets removed, at most 300 characters).
    pub reason: String,
}

/// One page of a list answer; [`WebexCallingClient::next_page`] fetches the next.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items of this page that could not be read (each named, none silently dropped).
    pub unreadable: Vec<Unreadable>,
    /// The `Link: <…>; rel="next"` target, resolved and checked to be on the API origin.
    pub next: Option<Url>,
    ctx: PageContext,
}

impl<T> Page<T> {
    pub fn has_next(&self) -> bool {
        self.next.is_some()
    }
}

/// Filters of `GET /v1/admin/convergedRecordings` (reference §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Inclusive.
    pub from: DateTime<Utc>,
    /// Exclusive; at most [`MAX_WINDOW`] after `from`.
    pub to: DateTime<Utc>,
    /// Page size, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub max: u32,
    /// Server default: `available`.
    pub status: Option<RecordingStatus>,
    pub service_type: Option<ServiceType>,
    pub owner_id: Option<String>,
    pub owner_email: Option<String>,
    pub owner_type: Option<OwnerType>,
    pub storage_region: Option<String>,
    pub location_id: Option<String>,
    pub topic: Option<String>,
}

impl ListQuery {
    /// All recordings created in `[from, to)`, 100 per page, no other filter.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            from,
            to,
            max: MAX_PAGE_SIZE,
            status: None,
            service_type: None,
            owner_id: None,
            owner_email: None,
            owner_type: None,
            storage_region: None,
            location_id: None,
            topic: None,
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("from", format_time(self.from)),
            ("to", format_time(self.to)),
            ("max", self.max.clamp(1, MAX_PAGE_SIZE).to_string()),
        ];
        let opt = [
            ("status", self.status.as_ref().map(|s| s.as_str().to_owned())),
            ("serviceType", self.service_type.as_ref().map(|s| s.as_str().to_owned())),
            ("ownerId", self.owner_id.clone()),
            ("ownerEmail", self.owner_email.clone()),
            ("ownerType", self.owner_type.as_ref().map(|s| s.as_str().to_owned())),
            ("storageRegion", self.storage_region.clone()),
            ("locationId", self.location_id.clone()),
            ("topic", self.topic.clone()),
        ];
        q.extend(opt.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        q
    }
}

/// ISO 8601 in UTC with milliseconds, e.g. `2024-01-31T00:00:00.000Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A `[from, to)` interval.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// Split `[from, to)` into consecutive windows of at most [`MAX_WINDOW`], oldest first;
/// each window's `to` is the next one's `from`. An empty interval gives no window.
pub fn split_window(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Window>, WebexError> {
    if to < from {
        return Err(WebexError::InvalidWindow(format!(
            "to ({}) is before from ({})",
            format_time(to),
            format_time(from)
        )));
    }
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + MAX_WINDOW).min(to);
        out.push((start, end));
        start = end;
    }
    Ok(out)
}

fn check_window(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), WebexError> {
    if to <= from {
        return Err(WebexError::InvalidWindow(format!(
            "to ({}) must be after from ({})",
            format_time(to),
            format_time(from)
        )));
    }
    if to - from > MAX_WINDOW {
        return Err(WebexError::InvalidWindow(format!(
            "{} to {} is longer than 30 days; split it (see split_window)",
            format_time(from),
            format_time(to)
        )));
    }
    Ok(())
}

impl WebexCallingClient {
    /// `api_url` is the API origin (e.g. [`DEFAULT_API_URL`]), optionally with a path
    /// prefix for a proxy or simulator; a trailing `/v1` is dropped, since every path
    /// here starts with `v1`.
    pub fn new(http: reqwest::Client, mut api_url: Url, policy: RetryPolicy) -> Self {
        let segments: Vec<String> = api_url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        if segments.last().map(String::as_str) == Some("v1") {
            let prefix = segments[..segments.len() - 1].join("/");
            api_url.set_path(&format!("/{prefix}"));
        }
        Self { http, api_url, policy }
    }

    /// An HTTP client suited to this API: connect and read timeouts, no overall timeout
    /// (audio downloads stream for as long as bytes keep coming).
    pub fn default_http_client() -> Result<reqwest::Client, WebexError> {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| {
                WebexError::from(HttpError::Request {
                    service: SERVICE,
                    message: wfo_http::error_chain(&e),
                })
            })
    }

    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `api_url` + the given path segments (each percent-encoded).
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Result<Url, WebexError> {
        let mut url = self.api_url.clone();
        {
            let Ok(mut path) = url.path_segments_mut() else {
                return Err(request_error(format!("API URL {} cannot take a path", self.api_url)));
            };
            path.pop_if_empty().extend(segments);
        }
        url.set_query(None);
        Ok(url)
    }

    /// Send an authenticated API request built by `make` (once per attempt).
    pub(crate) async fn send_api<F>(
        &self,
        call: &Call,
        token: &Secret,
        idempotency: Idempotency,
        make: F,
    ) -> Result<(Response, String), WebexError>
    where
        F: Fn() -> RequestBuilder,
    {
        let tracking = wfo_http::new_tracking_id();
        let result = wfo_http::send(SERVICE, &self.policy, idempotency, || {
            make().bearer_auth(token.expose()).header(TRACKING_HEADER, &tracking)
        })
        .await;
        match result {
            Ok(resp) => Ok((resp, tracking)),
            Err(e) => {
                log_failure(call.operation, &tracking, &e);
                Err(classify(call, e))
            }
        }
    }

    /// Decode a JSON answer, logging a failure with both tracking ids.
    pub(crate) async fn decode<T: DeserializeOwned>(
        &self,
        call: &Call,
        resp: Response,
        sent_tracking: &str,
    ) -> Result<T, WebexError> {
        let returned = response_tracking_id(&resp);
        wfo_http::json::<T>(SERVICE, resp).await.map_err(|e| {
            tracing::warn!(
                operation = call.operation,
                sent_tracking_id = sent_tracking,
                tracking_id = returned.as_deref(),
                error = %e,
                "webex: undecodable answer"
            );
            WebexError::from(e)
        })
    }

    /// Fetch one page at `url` (with `query` on the first page only).
    async fn fetch_page<T: DeserializeOwned>(
        &self,
        token: &Secret,
        ctx: &PageContext,
        url: Url,
        query: &[(&'static str, String)],
    ) -> Result<Page<T>, WebexError> {
        let call = Call {
            operation: ctx.operation,
            scope: ctx.scope,
            what: format!("page {url}"),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || {
                let mut rb = self.http.get(url.clone());
                if !query.is_empty() {
                    rb = rb.query(query);
                }
                if ctx.timezone_utc {
                    rb = rb.header("timezone", "UTC");
                }
                rb
            })
            .await?;
        let next = match wfo_http::next_link(resp.headers()) {
            Some(link) => Some(self.resolve_next(resp.url(), &link)?),
            None => None,
        };
        if let Ok(mut trail) = ctx.trail.lock() {
            trail.seen.insert(resp.url().as_str().to_owned());
            trail.seen.insert(url.as_str().to_owned());
            trail.pages += 1;
            let looped = next.as_ref().is_some_and(|n| trail.seen.contains(n.as_str()));
            if looped || trail.pages >= MAX_PAGES_PER_WALK {
                return Err(WebexError::from(HttpError::Decode {
                    service: SERVICE,
                    message: if looped {
                        format!(
                            "{}: Link rel=\"next\" points back to a page already read; the listing stops",
                            ctx.operation
                        )
                    } else {
                        format!(
                            "{}: more than {MAX_PAGES_PER_WALK} pages; the listing stops",
                            ctx.operation
                        )
                    },
                    body: String::new(),
                }));
            }
        }
        let mut body: Items = self.decode(&call, resp, &tracking).await?;
        body.items.append(&mut body.members);
        let mut items = Vec::with_capacity(body.items.len());
        let mut unreadable = Vec::new();
        for raw in body.items {
            match serde_json::from_value::<T>(raw.clone()) {
                Ok(item) => items.push(item),
                Err(e) => {
                    let shown: String = wfo_http::redact_secrets(&raw.to_string()).chars().take(300).collect();
                    let bad = Unreadable {
                        id: raw.get("id").and_then(|v| v.as_str()).map(str::to_owned),
                        reason: format!("{}: an item could not be read ({e}): {shown}", ctx.operation),
                    };
                    tracing::warn!(operation = ctx.operation, id = bad.id.as_deref(), reason = %bad.reason, "webex: unreadable list item skipped");
                    unreadable.push(bad);
                }
            }
        }
        Ok(Page {
            items,
            unreadable,
            next,
            ctx: ctx.clone(),
        })
    }

    /// First page of a list endpoint other than recordings (no `timezone` header).
    pub(crate) async fn fetch_list_page<T: DeserializeOwned>(
        &self,
        token: &Secret,
        operation: &'static str,
        scope: &'static str,
        url: Url,
        query: &[(&'static str, String)],
    ) -> Result<Page<T>, WebexError> {
        let ctx = PageContext::new(operation, scope, false);
        self.fetch_page(token, &ctx, url, query).await
    }

    /// Resolve a `rel="next"` target against the answering URL; refuse other origins so
    /// the bearer token never leaves the API host.
    fn resolve_next(&self, base: &Url, link: &str) -> Result<Url, WebexError> {
        let url = base.join(link).map_err(|e| {
            WebexError::from(HttpError::Decode {
                service: SERVICE,
                message: format!("invalid Link rel=\"next\" target: {e}"),
                body: link.to_owned(),
            })
        })?;
        if url.origin() != self.api_url.origin() {
            return Err(WebexError::from(HttpError::Decode {
                service: SERVICE,
                message: format!(
                    "Link rel=\"next\" points to {} instead of the API origin {}; not sending the token there",
                    url.origin().ascii_serialization(),
                    self.api_url.origin().ascii_serialization()
                ),
                body: String::new(),
            }));
        }
        Ok(url)
    }

    /// The page after `page`, following its `Link rel="next"` URL exactly as given (the
    /// query parameters are not re-added). `None` after the last page.
    pub async fn next_page<T: DeserializeOwned>(
        &self,
        token: &Secret,
        page: &Page<T>,
    ) -> Result<Option<Page<T>>, WebexError> {
        match &page.next {
            None => Ok(None),
            Some(url) => self.fetch_page(token, &page.ctx, url.clone(), &[]).await.map(Some),
        }
    }

    /// First page of `GET /v1/admin/convergedRecordings` (admin or compliance officer:
    /// the whole org). The window must be non-empty and at most 30 days.
    pub async fn list_recordings_page(
        &self,
        token: &Secret,
        query: &ListQuery,
    ) -> Result<Page<RecordingSummary>, WebexError> {
        check_window(query.from, query.to)?;
        let url = self.endpoint(&["v1", "admin", "convergedRecordings"])?;
        let ctx = PageContext::new("list recordings", SCOPE_LIST, true);
        self.fetch_page(token, &ctx, url, &query.params()).await
    }

    /// Every recording created in `[from, to)`, any window length: split into windows of
    /// at most 30 days (oldest window first), `max=100`, each followed through all its
    /// pages. Within a window items come in server order (newest first). The stream
    /// ends after the first error.
    pub fn list_recordings<'a>(
        &'a self,
        token: &'a Secret,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Stream<Item = Result<RecordingSummary, WebexError>> + Send + 'a {
        self.list_recordings_matching(token, ListQuery::new(from, to))
    }

    /// [`Self::list_recordings`] with filters: `query.from`–`query.to` is split as there.
    pub fn list_recordings_matching<'a>(
        &'a self,
        token: &'a Secret,
        query: ListQuery,
    ) -> impl Stream<Item = Result<RecordingSummary, WebexError>> + Send + 'a {
        enum Pending {
            Windows(VecDeque<Window>),
            Failed(Option<WebexError>),
        }
        struct State {
            pending: Pending,
            buffer: VecDeque<RecordingSummary>,
            page: Option<Page<RecordingSummary>>,
        }
        let pending = match split_window(query.from, query.to) {
            Ok(w) => Pending::Windows(w.into()),
            Err(e) => Pending::Failed(Some(e)),
        };
        let start = State {
            pending,
            buffer: VecDeque::new(),
            page: None,
        };
        futures::stream::unfold(start, move |mut st| {
            let query = query.clone();
            async move {
                loop {
                    if let Some(item) = st.buffer.pop_front() {
                        return Some((Ok(item), st));
                    }
                    let windows = match &mut st.pending {
                        Pending::Failed(e) => return e.take().map(|e| (Err(e), st)),
                        Pending::Windows(w) => w,
                    };
                    let fetched = match st.page.take() {
                        Some(prev) if prev.has_next() => self.next_page(token, &prev).await,
                        _ => match windows.pop_front() {
                            None => return None,
                            Some((from, to)) => {
                                let q = ListQuery {
                                    from,
                                    to,
                                    ..query.clone()
                                };
                                self.list_recordings_page(token, &q).await.map(Some)
                            }
                        },
                    };
                    match fetched {
                        Ok(Some(mut page)) => {
                            st.buffer = std::mem::take(&mut page.items).into();
                            st.page = Some(page);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            st.pending = Pending::Failed(None);
                            return Some((Err(e), st));
                        }
                    }
                }
            }
        })
    }

    /// `GET /v1/convergedRecordings/{id}`: details, with temporary download links when
    /// the token may download (compliance officer / authorised user).
    pub async fn recording_details(&self, token: &Secret, id: &str) -> Result<RecordingDetails, WebexError> {
        let id = non_empty_id(id)?;
        let url = self.endpoint(&["v1", "convergedRecordings", id])?;
        let call = Call {
            operation: "recording details",
            scope: SCOPE_READ,
            what: format!("recording {id}"),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || self.http.get(url.clone()))
            .await?;
        self.decode(&call, resp, &tracking).await
    }

    /// `GET /v1/convergedRecordings/{id}/metadata?showAllTypes=true`, as raw JSON.
    /// `None` when Webex answers `204 No Content` (or an empty body): not ready yet,
    /// ask again later.
    pub async fn recording_metadata(&self, token: &Secret, id: &str) -> Result<Option<serde_json::Value>, WebexError> {
        let id = non_empty_id(id)?;
        let url = self.endpoint(&["v1", "convergedRecordings", id, "metadata"])?;
        let call = Call {
            operation: "recording metadata",
            scope: SCOPE_READ,
            what: format!("recording {id}"),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || {
                self.http.get(url.clone()).query(&[("showAllTypes", "true")])
            })
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let returned = response_tracking_id(&resp);
        let bytes = tokio::time::timeout(
            wfo_http::BODY_DEADLINE,
            wfo_http::read_body(SERVICE, resp, wfo_http::MAX_JSON_BODY),
        )
        .await
        .map_err(|_| {
            WebexError::from(HttpError::Transport {
                service: SERVICE,
                message: "the metadata body did not arrive in time".to_owned(),
            })
        })??;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Null) => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                let err = HttpError::Decode {
                    service: SERVICE,
                    message: e.to_string(),
                    body: wfo_http::redact_secrets(&String::from_utf8_lossy(&bytes[..bytes.len().min(2048)])),
                };
                tracing::warn!(operation = call.operation, sent_tracking_id = %tracking,
                    tracking_id = returned.as_deref(), error = %err, "webex: undecodable answer");
                Err(WebexError::from(err))
            }
        }
    }
}

pub(crate) fn non_empty_id(id: &str) -> Result<&str, WebexError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(request_error("empty id".to_owned()));
    }
    Ok(id)
}

pub(crate) fn request_error(message: String) -> WebexError {
    WebexError::from(HttpError::Request {
        service: SERVICE,
        message,
    })
}

/// The tracking id Webex put in the response headers (any casing).
pub(crate) fn response_tracking_id(resp: &Response) -> Option<String> {
    resp.headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn log_failure(operation: &'static str, sent_tracking: &str, e: &HttpError) {
    tracing::warn!(
        operation,
        sent_tracking_id = sent_tracking,
        tracking_id = e.tracking_id(),
        status = e.status(),
        retryable = e.is_retryable(),
        error = %e,
        "webex call failed"
    );
}

/// Map an API failure to the boundary error.
fn classify(call: &Call, e: HttpError) -> WebexError {
    match e.status() {
        Some(401) => WebexError::Unauthorized {
            operation: call.operation,
            source: Box::new(e),
        },
        Some(403) => WebexError::Forbidden {
            operation: call.operation,
            scope: call.scope,
            source: Box::new(e),
        },
        Some(404) => WebexError::NotFound {
            operation: call.operation,
            what: call.what.clone(),
            source: Box::new(e),
        },
        _ => WebexError::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn seventy_five_days_split_into_three_contiguous_windows() {
        let w = split_window(day(2024, 1, 1), day(2024, 3, 16)).unwrap();
        assert_eq!(
            w,
            vec![
                (day(2024, 1, 1), day(2024, 1, 31)),
                (day(2024, 1, 31), day(2024, 3, 1)),
                (day(2024, 3, 1), day(2024, 3, 16)),
            ]
        );
    }

    #[test]
    fn exactly_thirty_days_is_one_window_and_empty_is_none() {
        assert_eq!(split_window(day(2024, 1, 1), day(2024, 1, 31)).unwrap().len(), 1);
        assert!(split_window(day(2024, 1, 1), day(2024, 1, 1)).unwrap().is_empty());
        assert!(matches!(
            split_window(day(2024, 1, 2), day(2024, 1, 1)),
            Err(WebexError::InvalidWindow(_))
        ));
    }

    #[test]
    fn page_window_is_checked() {
        assert!(check_window(day(2024, 1, 1), day(2024, 1, 31)).is_ok());
        assert!(check_window(day(2024, 1, 1), day(2024, 2, 1)).is_err());
        assert!(check_window(day(2024, 1, 1), day(2024, 1, 1)).is_err());
    }

    #[test]
    fn query_params_carry_filters_and_clamp_max() {
        let q = ListQuery {
            max: 500,
            owner_type: Some(OwnerType::VirtualLine),
            status: Some(RecordingStatus::Deleted),
            owner_email: Some("a@b.c".into()),
            ..ListQuery::new(day(2024, 1, 1), day(2024, 1, 2))
        };
        let p = q.params();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("from"), Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(get("to"), Some("2024-01-02T00:00:00.000Z"));
        assert_eq!(get("max"), Some("100"));
        assert_eq!(get("ownerType"), Some("virtualLine"));
        assert_eq!(get("status"), Some("deleted"));
        assert_eq!(get("ownerEmail"), Some("a@b.c"));
        assert_eq!(get("topic"), None);
    }

    #[test]
    fn api_url_trailing_v1_is_dropped_and_ids_are_encoded() {
        let c = WebexCallingClient::new(
            reqwest::Client::new(),
            Url::parse("https://webexapis.com/v1/").unwrap(),
            RetryPolicy::fast(),
        );
        let u = c.endpoint(&["v1", "convergedRecordings", "a/b"]).unwrap();
        assert_eq!(u.as_str(), "https://webexapis.com/v1/convergedRecordings/a%2Fb");
        let c = WebexCallingClient::new(
            reqwest::Client::new(),
            Url::parse("http://127.0.0.1:9/sim").unwrap(),
            RetryPolicy::fast(),
        );
        assert_eq!(
            c.endpoint(&["v1", "x"]).unwrap().as_str(),
            "http://127.0.0.1:9/sim/v1/x"
        );
    }
}
