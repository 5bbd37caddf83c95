//! The one HTTP client layer every outbound call goes through.
//!
//! - timeouts per request and a total budget per call (so a Lambda deadline is respected);
//! - `Retry-After` honoured on 429 and 423;
//! - jittered exponential backoff for 5xx, 408 and connection failures;
//! - every other 4xx is fatal for that request;
//! - non-idempotent requests are only repeated when they certainly did not reach the
//!   server (connection refused, 429/423 refusals); anything else (a 503 included: a
//!   gateway may say it after the backend wrote) is handed back to the caller, who must
//!   look the outcome up before trying again.
//!
//! Pagination follows the RFC 5988 `Link: <…>; rel="next"` header.

pub mod limit;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

/// How a call is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First backoff step; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    /// Upper bound of one backoff step.
    pub max_delay: Duration,
    /// Longest `Retry-After` we are willing to sleep in-process; longer waits are
    /// returned to the caller as a retryable error carrying the wait.
    pub max_retry_after: Duration,
    /// Total time budget for the call, retries included.
    pub budget: Duration,
    /// How long one attempt may wait for an answer (status and headers), and then for a
    /// whole non-streaming body: a server that never answers costs one attempt, not a
    /// worker.
    pub attempt_timeout: Duration,
    /// How long a streamed body (a download, an upload's source) may go without a byte
    /// before it is aborted ([`stall_guard`]).
    pub idle_timeout: Duration,
    /// The budget every attempt waits for, and that a `429` pauses (a source with a
    /// client-side limit: Contact Center's per-client-id requests per minute).
    pub rate_limit: Option<Arc<limit::RateLimit>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
            budget: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            rate_limit: None,
        }
    }
}

impl RetryPolicy {
    /// A policy for tests and simulators: tiny delays, same classification.
    pub fn fast() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
            budget: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(2),
            rate_limit: None,
        }
    }

    /// Backoff before attempt `attempt` (1-based count of failures so far), full jitter.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max_delay);
        let ms = cap.as_millis() as u64;
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }
}

/// Whether a request may be sent again after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT of a whole object, DELETE: safe to repeat.
    Idempotent,
    /// A create: repeat only when the server certainly did not process it.
    NonIdempotent,
}

/// What went wrong with an HTTP call, with what is needed to decide and to report.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{service}: could not connect: {message}")]
    Connect { service: &'static str, message: String },
    #[error("{service}: request timed out or the connection broke: {message}")]
    Transport { service: &'static str, message: String },
    #[error("{service}: HTTP {status}{}: {body}", tracking_suffix(.tracking_id))]
    Status {
        service: &'static str,
        status: u16,
        body: String,
        tracking_id: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("{service}: could not decode the answer: {message}; body: {body}")]
    Decode {
        service: &'static str,
        message: String,
        body: String,
    },
    #[error("{service}: invalid request: {message}")]
    Request { service: &'static str, message: String },
}

fn tracking_suffix(t: &Option<String>) -> String {
    t.as_ref().map(|t| format!(" (trackingId {t})")).unwrap_or_default()
}

impl HttpError {
    /// Transient failures: worth trying again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Connect { .. } | HttpError::Transport { .. } => true,
            HttpError::Status { status, .. } => is_retryable_status(*status),
            HttpError::Decode { .. } | HttpError::Request { .. } => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn tracking_id(&self) -> Option<&str> {
        match self {
            HttpError::Status { tracking_id, .. } => tracking_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the outcome at the server is unknown (it may have processed the request).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            HttpError::Transport { .. } => true,
            HttpError::Status { status, .. } => matches!(*status, 500 | 502 | 503 | 504 | 408),
            _ => false,
        }
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 423 | 429) || (500..=599).contains(&status)
}

/// Statuses that mean "not processed, come back later": safe to repeat even a create.
/// Not `503`: a load balancer or gateway may answer it after the backend took the write.
fn is_refusal(status: u16) -> bool {
    matches!(status, 423 | 429)
}

/// The longest wait a server can ask for: beyond it, time arithmetic on the wait could
/// overflow, and no source means it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A number of seconds from outside, as a duration no longer than `max` (so adding it to
/// a time can never overflow).
pub fn clamp_secs(secs: u64, max: Duration) -> Duration {
    Duration::from_secs(secs).min(max)
}

/// Parse `Retry-After` as delta-seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(clamp_secs(secs, MAX_RETRY_AFTER));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

/// Parse the `rel="next"` target of an RFC 5988 `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        for part in split_link_header(value) {
            let mut pieces = part.split(';');
            let Some(target) = pieces.next() else { continue };
            let target = target.trim();
            if !(target.starts_with('<') && target.ends_with('>')) {
                continue;
            }
            let is_next = pieces.any(|p| {
                let p = p.trim();
                let Some((k, v)) = p.split_once('=') else { return false };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target[1..target.len() - 1].to_owned());
            }
        }
    }
    None
}

/// Split a Link header on the commas between links (not those inside `<…>`).
fn split_link_header(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in v.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

/// Read a tracking id from the response headers (case-insensitive) or the error body.
fn tracking_id(headers: &HeaderMap, body: &str) -> Option<String> {
    for name in ["trackingid", "x-tracking-id", "x-request-id"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            return Some(v.to_owned());
        }
    }
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    ["trackingId", "requestId"]
        .iter()
        .find_map(|k| json.get(k).and_then(|v| v.as_str()).map(str::to_owned))
}

const MAX_ERROR_BODY: usize = 2048;
/// How long a whole non-streaming answer body may take once its headers arrived.
pub const BODY_DEADLINE: Duration = Duration::from_secs(60);

/// The largest JSON answer read (a metadata document, a page of a listing): beyond it the
/// answer is refused, never buffered.
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Up to `limit` bytes of an error body as text (the rest is never read).
async fn read_capped(mut resp: Response, limit: usize) -> String {
    let mut out: Vec<u8> = Vec::new();
    while out.len() <= limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk[..chunk.len().min(limit + 1 - out.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A whole body of at most `limit` bytes; a larger one is an error naming the limit.
pub async fn read_body(service: &'static str, mut resp: Response, limit: usize) -> Result<Vec<u8>, HttpError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(HttpError::Decode {
            service,
            message: format!("the answer is larger than the {limit}-byte limit"),
            body: String::new(),
        });
    }
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| HttpError::Transport {
        service,
        message: error_chain(&e),
    })? {
        if out.len() + chunk.len() > limit {
            return Err(HttpError::Decode {
                service,
                message: format!("the answer is larger than the {limit}-byte limit"),
                body: String::new(),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Turn a non-success response into an [`HttpError::Status`].
pub async fn status_error(service: &'static str, resp: Response) -> HttpError {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let retry_after = parse_retry_after(&headers);
    let body = read_capped(resp, MAX_ERROR_BODY).await;
    let tracking = tracking_id(&headers, &body);
    let mut body = redact_secrets(&body);
    if body.len() > MAX_ERROR_BODY {
        let mut cut = MAX_ERROR_BODY;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push('…');
    }
    HttpError::Status {
        service,
        status,
        body,
        tracking_id: tracking,
        retry_after,
    }
}

fn classify_transport(service: &'static str, e: reqwest::Error) -> HttpError {
    if e.is_connect() {
        HttpError::Connect {
            service,
            message: error_chain(&e),
        }
    } else if e.is_builder() {
        HttpError::Request {
            service,
            message: error_chain(&e),
        }
    } else {
        HttpError::Transport {
            service,
            message: error_chain(&e),
        }
    }
}

/// The error and its sources on one line (reqwest hides the useful part in `source()`),
/// with the query of every URL in it redacted (see [`redact_url_queries`]).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = inner.source();
    }
    redact_secrets(&s)
}

pub use wfo_domain::redact::{redact_secrets, redact_url_queries};

/// Send a request built by `make` (called once per attempt) under `policy`.
///
/// Returns the first successful (2xx) response, or the last error. The caller decides
/// what a non-success means beyond this layer's retries.
pub async fn send<F>(
    service: &'static str,
    policy: &RetryPolicy,
    idempotency: Idempotency,
    mut make: F,
) -> Result<Response, HttpError>
where
    F: FnMut() -> RequestBuilder,
{
    let started = Instant::now();
    let mut failures = 0u32;
    loop {
        if let Some(limit) = &policy.rate_limit {
            limit.admit().await;
        }
        let outcome = match tokio::time::timeout(policy.attempt_timeout, make().send()).await {
            Ok(Ok(resp)) if resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED => {
                return Ok(resp);
            }
            Ok(Ok(resp)) => status_error(service, resp).await,
            Ok(Err(e)) => classify_transport(service, e),
            Err(_) => HttpError::Transport {
                service,
                message: format!("no answer within {} s", policy.attempt_timeout.as_secs_f32()),
            },
        };
        failures += 1;
        if let (Some(limit), Some(429), Some(wait)) = (&policy.rate_limit, outcome.status(), outcome.retry_after()) {
            limit.pause_for(wait);
        }
        let may_repeat = outcome.is_retryable()
            && match idempotency {
                Idempotency::Idempotent => true,
                Idempotency::NonIdempotent => match &outcome {
                    HttpError::Connect { .. } => true,
                    HttpError::Status { status, .. } => is_refusal(*status),
                    _ => false,
                },
            };
        if !may_repeat || failures >= policy.max_attempts {
            return Err(outcome);
        }
        let wait = match outcome.retry_after() {
            Some(ra) if ra > policy.max_retry_after => return Err(outcome),
            Some(ra) => ra,
            None => policy.backoff(failures),
        };
        if started.elapsed() + wait > policy.budget {
            return Err(outcome);
        }
        tracing::debug!(service, failures, wait_ms = wait.as_millis() as u64, error = %outcome, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// Read a JSON body, keeping the raw text on failure so the log shows what was said.
pub async fn json<T: serde::de::DeserializeOwned>(service: &'static str, resp: Response) -> Result<T, HttpError> {
    json_within(service, resp, MAX_JSON_BODY, BODY_DEADLINE).await
}

/// [`json`] for an answer that is one whole directory rather than a page (WFO's person
/// list): up to `limit` bytes within `deadline`.
pub async fn json_within<T: serde::de::DeserializeOwned>(
    service: &'static str,
    resp: Response,
    limit: usize,
    deadline: Duration,
) -> Result<T, HttpError> {
    let bytes = tokio::time::timeout(deadline, read_body(service, resp, limit))
        .await
        .map_err(|_| HttpError::Transport {
            service,
            message: format!("the answer's body did not arrive within {} s", deadline.as_secs()),
        })??;
    serde_json::from_slice(&bytes).map_err(|e| HttpError::Decode {
        service,
        message: e.to_string(),
        body: redact_secrets(&String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_BODY)])),
    })
}

/// The HTTP client every outbound call shares: connection and read deadlines set (a
/// half-open connection fails a read after `read_idle`, whatever else is configured),
/// no redirects followed (a redirect can carry a bearer token elsewhere).
pub fn client_builder(read_idle: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(read_idle)
        .redirect(reqwest::redirect::Policy::none())
}

/// `stream`, aborted with `TimedOut` when no chunk comes for `idle`: the minimum-progress
/// rule for streamed bodies (a download that stops mid-body fails its attempt instead of
/// holding a worker forever).
pub fn stall_guard<S>(
    stream: S,
    idle: Duration,
) -> futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>
where
    S: futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    use futures::StreamExt;
    let stream = Box::pin(stream);
    futures::stream::unfold((stream, false), move |(mut s, done)| async move {
        if done {
            return None;
        }
        match tokio::time::timeout(idle, s.next()).await {
            Ok(Some(item)) => Some((item, (s, false))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data for {} s: the transfer stalled", idle.as_secs_f32()),
                )),
                (s, true),
            )),
        }
    })
    .boxed()
}

/// A fresh tracking id for the `TrackingID` request header.
pub fn new_tracking_id() -> String {
    format!("WFOCONNECT_{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, LINK, RETRY_AFTER};

    fn headers(name: reqwest::header::HeaderName, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn url_queries_and_user_info_are_redacted_in_error_text() {
        let text = "error sending request for url (https://media.example/nbr/Servlet?recordUUID=1&ticket=SECRET123): \
                    connection closed; see http://u:pw@h.example/p#frag and https://plain.example/a/b";
        let out = redact_url_queries(text);
        assert_eq!(
            out,
            "error sending request for url (https://media.example/nbr/Servlet?[redacted]): \
                    connection closed; see http://[redacted]@h.example/p?[redacted] and https://plain.example/a/b"
        );
        assert_eq!(redact_url_queries("no url here"), "no url here");
    }

    #[tokio::test]
    async fn a_transport_error_never_repeats_the_credentials_of_the_url() {
        // Nothing listens on port 1: the connection is refused.
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::fast()
        };
        let url = "http://user:hunter2@127.0.0.1:1/nbr/Servlet?recordUUID=r1&ticket=SECRETTICKET";
        let err = send("webex-audio", &policy, Idempotency::Idempotent, || {
            reqwest::Client::new().get(url)
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, HttpError::Connect { .. }), "{text}");
        assert!(!text.contains("SECRETTICKET") && !text.contains("hunter2"), "{text}");
        assert!(text.contains("127.0.0.1:1/nbr/Servlet?[redacted]"), "{text}");
    }

    #[tokio::test]
    async fn a_stream_that_stops_sending_is_aborted_after_the_idle_time() {
        use futures::StreamExt;
        let stalled =
            futures::stream::iter([Ok(bytes::Bytes::from_static(b"first"))]).chain(futures::stream::pending());
        let started = Instant::now();
        let got: Vec<_> = stall_guard(stalled, Duration::from_millis(200)).collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap().as_ref(), b"first");
        assert_eq!(got[1].as_ref().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_costs_one_attempt_deadline_not_forever() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let policy = RetryPolicy {
            max_attempts: 2,
            attempt_timeout: Duration::from_millis(300),
            ..RetryPolicy::fast()
        };
        let started = Instant::now();
        let err = send("silent", &policy, Idempotency::Idempotent, || {
            reqwest::Client::new().get(format!("http://{addr}/x"))
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert!(err.is_retryable() && err.outcome_unknown());
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        hold.abort();
    }

    #[test]
    fn next_link_is_found_among_several_relations() {
        let h = headers(
            LINK,
            r#"<https://x/v1/a?max=1&cursor=a,b>; rel="prev", <https://x/v1/a?max=100&cursor=2>; rel="next""#,
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/v1/a?max=100&cursor=2"));
    }

    #[test]
    fn no_next_link_when_only_prev() {
        let h = headers(LINK, r#"<https://x/v1/a>; rel="prev""#);
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn a_retry_after_of_any_size_is_clamped_and_never_overflows_time_arithmetic() {
        for v in [
            "10000000000000",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let d = parse_retry_after(&headers(RETRY_AFTER, v)).unwrap();
            assert_eq!(d, MAX_RETRY_AFTER, "{v}");
            let _ = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap();
        }
    }

    #[test]
    fn retry_after_accepts_seconds() {
        assert_eq!(
            parse_retry_after(&headers(RETRY_AFTER, "7")),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(&headers(RETRY_AFTER, "soon")), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            ..Default::default()
        };
        for f in 0..20 {
            assert!(p.backoff(f) <= Duration::from_millis(800));
        }
        assert!(p.backoff(1) >= Duration::from_millis(100));
    }

    #[test]
    fn classification_of_statuses() {
        for s in [408u16, 423, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400u16, 401, 403, 404, 409, 413, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }
}
