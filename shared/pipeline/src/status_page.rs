//! `GET /status` of `wfo-connect serve`: what `wfo-connect status` says, as one
//! self-contained HTML page for an operator's browser — each connector's state (in red
//! when it needs an operator or re-authorization), its imports of the last hour as an
//! inline SVG bar chart, its waiting, held and dead items with their reasons, and the
//! queue's dead letters.
//!
//! Who may see it ([`StatusAccess`]): on a loopback listener anyone who reaches it (only
//! this machine can); on any other listener nobody, unless an operator token is
//! configured (`WFO_CONNECT_OPERATOR_TOKEN` or `--operator-token`), and then — on any
//! listener — only a request that presents it as `Authorization: Bearer <token>` or
//! `?token=<token>`, compared in constant time. The token is never logged or echoed.
//!
//! The page loads nothing: no script, font, image or stylesheet from anywhere. Its one
//! `<style>` element carries a per-response nonce that the `Content-Security-Policy`
//! header names; images only as `data:` (the empty favicon, so the browser asks for no
//! `/favicon.ico`); everything else is refused (`default-src 'none'`). It refreshes itself
//! every [`REFRESH_SECS`] with a `<meta http-equiv="refresh">`. Every value from outside
//! (connector ids, reasons, notes, item ids) is HTML-escaped; nothing secret is shown
//! (the summary holds no token, key or password).
//!
//! Only the local runner serves it: the Lambda HTTP surface (`specs/interfaces.md` §2)
//! has no `/status`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use wfo_domain::Secret;

use crate::ports::{Store, StoreError};
use crate::status::{self, ConnectorState, ConnectorSummary, ImportsChart, QueueSummary};

/// The environment variable `wfo-connect serve` reads the operator token from.
pub const OPERATOR_TOKEN_ENV: &str = "WFO_CONNECT_OPERATOR_TOKEN";
/// The page reloads itself this often.
pub const REFRESH_SECS: u32 = 30;
/// The path of the page.
pub const PATH: &str = "/status";

/// Who may see the page.
#[derive(Clone)]
pub enum StatusAccess {
    /// Anyone who reaches the listener: it listens on a loopback address only.
    Loopback,
    /// Only requests that present this token.
    Token(Secret),
    /// Nobody: the listener (this address) is reachable from other machines and no
    /// operator token is configured.
    Off(SocketAddr),
}

impl std::fmt::Debug for StatusAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusAccess::Loopback => f.write_str("Loopback"),
            StatusAccess::Token(_) => f.write_str("Token([redacted])"),
            StatusAccess::Off(addr) => write!(f, "Off({addr})"),
        }
    }
}

impl StatusAccess {
    /// The rule for a runner listening on `listen`: a configured (non-empty) token is
    /// always required; without one the page is served on a loopback listener only.
    pub fn decide(listen: SocketAddr, token: Option<Secret>) -> Self {
        match token.filter(|t| !t.expose().is_empty()) {
            Some(t) => StatusAccess::Token(t),
            None if listen.ip().is_loopback() => StatusAccess::Loopback,
            None => StatusAccess::Off(listen),
        }
    }
}

#[derive(Clone)]
struct PageState {
    store: Arc<dyn Store>,
    access: Arc<StatusAccess>,
}

/// The `/status` route over `store`.
pub fn router(store: Arc<dyn Store>, access: StatusAccess) -> Router {
    Router::new().route(PATH, get(status_route)).with_state(PageState {
        store,
        access: Arc::new(access),
    })
}

/// Equal without telling by timing how much of a guess was right: both sides are
/// hashed first (so the lengths match) and every byte is compared.
fn same_token(presented: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request presents: the `Authorization: Bearer` header, else `?token=`.
fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_owned())
        });
    bearer.or_else(|| {
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

async fn status_route(State(page): State<PageState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    match page.access.as_ref() {
        StatusAccess::Loopback => {}
        StatusAccess::Off(addr) => {
            return plain(
                StatusCode::FORBIDDEN,
                format!(
                    "The status page is off: this runner listens on {addr}, which other machines can reach, and no operator token is configured. Set {OPERATOR_TOKEN_ENV} (or --operator-token) and present it as `Authorization: Bearer <token>`, or listen on a loopback address.\n"
                ),
            );
        }
        StatusAccess::Token(expected) => {
            let ok = presented_token(&headers, query.as_deref()).is_some_and(|t| same_token(&t, expected.expose()));
            if !ok {
                let mut r = plain(
                    StatusCode::UNAUTHORIZED,
                    "The status page needs the operator token: `Authorization: Bearer <token>` or `?token=<token>`.\n"
                        .to_owned(),
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"wfo-connect status\""),
                );
                return r;
            }
        }
    }
    let now = Utc::now();
    match read(page.store.as_ref(), now).await {
        Ok((summaries, queue)) => {
            let mut raw = [0u8; 16];
            rand::rng().fill_bytes(&mut raw);
            let nonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
            let html = render(&summaries, &queue, now, &nonce);
            let csp = format!(
                "default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            );
            let mut r = (StatusCode::OK, html).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            if let Ok(v) = HeaderValue::from_str(&csp) {
                h.insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "status page: store unavailable");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable; try again.\n".to_owned(),
            )
        }
    }
}

async fn read(store: &dyn Store, now: DateTime<Utc>) -> Result<(Vec<ConnectorSummary>, QueueSummary), StoreError> {
    let mut summaries = Vec::new();
    for c in store.list_connectors().await? {
        summaries.push(status::summarize(store, &c, now).await?);
    }
    Ok((summaries, status::queue_summary(store).await?))
}

/// `s` safe as HTML text and as a quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-bottom:.2em}small{color:#555;font-weight:normal}\
section.connector{border:1px solid #ccc;border-radius:6px;padding:.2em 1em 1em;margin-bottom:1.2em}\
.state{font-weight:bold}.state.healthy{color:#1b7f3b}.state.attention{color:#c40000}\
.access{font-family:ui-monospace,monospace;font-size:.9em;white-space:pre-wrap;margin:.4em 0}\
svg.chart{background:#f6f6f6;border:1px solid #ddd}svg.chart rect.bar{fill:#2f6fb5}\
table{border-collapse:collapse;font-size:.9em;margin:.4em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}\
code{font-size:.9em}";

/// The whole page. `nonce` must be the one the response's CSP names.
pub fn render(summaries: &[ConnectorSummary], queue: &QueueSummary, now: DateTime<Utc>, nonce: &str) -> String {
    let mut h = String::with_capacity(8 * 1024);
    let attention = summaries.iter().filter(|s| s.state.needs_attention()).count();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <meta name=\"viewport\" content=\"width=device-width\"><link rel=\"icon\" href=\"data:,\">\
         <title>wfo-connect status{t}</title><style nonce=\"{n}\">{STYLE}</style></head><body>\
         <h1>wfo-connect status</h1><p>As of <time>{now}</time>; {count} connector(s), {attention} needing an operator; refreshes every {REFRESH_SECS} s.</p>",
        t = if attention > 0 { " — needs operator" } else { "" },
        n = escape(nonce),
        now = time(now),
        count = summaries.len(),
    );
    if summaries.is_empty() {
        h.push_str("<p>No connectors (add one with <code>wfo-connect connector add FILE</code>).</p>");
    }
    for s in summaries {
        connector_section(&mut h, s);
    }
    let _ = write!(
        h,
        "<section class=\"queue\"><h2>Queue</h2><p>{} waiting, {} dead letter(s)</p>",
        queue.depth,
        queue.dead_letters.len()
    );
    if !queue.dead_letters.is_empty() {
        h.push_str("<table><tr><th>message</th><th>reason</th></tr>");
        for (body, reason) in &queue.dead_letters {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                escape(body),
                escape(reason)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section></body></html>");
    h
}

fn connector_section(h: &mut String, s: &ConnectorSummary) {
    let id = escape(&s.id);
    let (class, detail) = match &s.state {
        ConnectorState::Healthy => ("healthy", String::new()),
        ConnectorState::NeedsOperator { since, reason } | ConnectorState::ReauthorizationRequired { since, reason } => {
            ("attention", format!(" since {}: {}", time(*since), escape(reason)))
        }
    };
    let _ = write!(
        h,
        "<section class=\"connector\" data-connector=\"{id}\"><h2>{id} <small>{kind}, acd_server_id {acd}</small></h2>\
         <p class=\"state {class}\" data-state=\"{label}\">{label}{detail}</p>",
        kind = escape(&s.kind.to_string()),
        acd = s.acd_server_id,
        label = s.state.label(),
    );
    if !s.access.is_empty() {
        h.push_str("<div class=\"access\">");
        for line in &s.access {
            let _ = writeln!(h, "{}", escape(line.trim()));
        }
        h.push_str("</div>");
    }
    chart(h, &s.imports);
    let states: Vec<String> = s
        .counts
        .by_state
        .iter()
        .map(|(k, v)| format!("{} {v}", escape(k)))
        .collect();
    let _ = write!(
        h,
        "<p>items: {} total{}{}</p>",
        s.counts.total,
        if states.is_empty() { "" } else { ": " },
        states.join(", ")
    );
    if s.waiting_total > 0 {
        let _ = write!(
            h,
            "<h3>Waiting for their capture: {}</h3><table><tr><th>item</th><th>contacts in WFO</th><th>without audio</th><th>next check</th><th>gives up</th></tr>",
            s.waiting_total
        );
        for w in &s.waiting {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}/{}</td><td>{}</td><td>{} (check {})</td><td>{}{}</td></tr>",
                escape(&w.item_id),
                w.imported,
                w.contacts,
                w.without_audio,
                time(w.next_check),
                w.check,
                time(w.give_up_at),
                if w.requested {
                    " (recorded: a capture is expected)"
                } else {
                    ""
                }
            );
        }
        h.push_str("</table>");
    }
    if !s.problems.is_empty() {
        h.push_str("<h3>Held or failing</h3><table><tr><th>item</th><th>state</th><th>attempts</th><th>next</th><th>reason</th></tr>");
        for p in &s.problems {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.item_id),
                escape(&p.state),
                p.attempts,
                p.next_attempt_at.map(time).unwrap_or_else(|| "-".to_owned()),
                escape(p.reason.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>");
    }
    if !s.dead.is_empty() {
        h.push_str(
            "<h3>Dead</h3><table><tr><th>item</th><th>stage</th><th>attempts</th><th>reason</th><th>retry</th></tr>",
        );
        for d in &s.dead {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&d.item_id),
                d.stage.as_str(),
                d.attempts,
                escape(d.reason.as_deref().unwrap_or("")),
                escape(&d.retry)
            );
        }
        h.push_str("</table>");
    }
    if !s.notes.is_empty() {
        h.push_str("<h3>Notes</h3><ul>");
        for (item, note) in &s.notes {
            let _ = write!(h, "<li><code>{}</code>: {}</li>", escape(item), escape(note));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

/// One bar per bucket, oldest left, scaled to the busiest bucket; each bar's `<title>`
/// says its time and count.
fn chart(h: &mut String, c: &ImportsChart) {
    const BAR: usize = 16;
    const GAP: usize = 4;
    const HEIGHT: u32 = 48;
    let width = c.counts.len() * (BAR + GAP) + GAP;
    let max = c.counts.iter().copied().max().unwrap_or(0).max(1);
    let total = c.total();
    let _ = write!(
        h,
        "<figure class=\"imports\"><svg class=\"chart\" width=\"{width}\" height=\"{HEIGHT}\" viewBox=\"0 0 {width} {HEIGHT}\" role=\"img\" aria-label=\"{total} import(s) in the last hour\">"
    );
    for (i, &n) in c.counts.iter().enumerate() {
        let bar_h = if n == 0 {
            0
        } else {
            ((u64::from(n) * u64::from(HEIGHT - 4)) / u64::from(max)).max(1)
        };
        let start = c.from + c.bucket * i as i32;
        let _ = write!(
            h,
            "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{BAR}\" height=\"{bar_h}\"><title>{t}: {n}</title></rect>",
            x = GAP + i * (BAR + GAP),
            y = u64::from(HEIGHT) - bar_h,
            t = start.format("%H:%M"),
        );
    }
    let _ = write!(
        h,
        "</svg><figcaption>{total} import(s) in the last hour ({}-minute bars, oldest left){}</figcaption></figure>",
        c.bucket.num_minutes(),
        if c.truncated {
            "; only the most recent items were read"
        } else {
            ""
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_required_wherever_it_is_configured_and_without_one_only_loopback_serves() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(matches!(StatusAccess::decide(lo, None), StatusAccess::Loopback));
        assert!(matches!(StatusAccess::decide(lo6, None), StatusAccess::Loopback));
        assert!(matches!(StatusAccess::decide(any, None), StatusAccess::Off(_)));
        assert!(matches!(
            StatusAccess::decide(any, Some(Secret::new(""))),
            StatusAccess::Off(_)
        ));
        assert!(matches!(
            StatusAccess::decide(any, Some(Secret::new("t"))),
            StatusAccess::Token(_)
        ));
        assert!(matches!(
            StatusAccess::decide(lo, Some(Secret::new("t"))),
            StatusAccess::Token(_)
        ));
        assert_eq!(
            format!("{:?}", StatusAccess::decide(lo, Some(Secret::new("hunter2")))),
            "Token([redacted])"
        );
    }

    #[test]
    fn the_token_is_taken_from_the_bearer_header_first_then_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_token(&headers, Some("a=1&token=q%2Bx")),
            Some("q+x".to_owned())
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  abc "));
        assert_eq!(presented_token(&headers, Some("token=q")), Some("abc".to_owned()));
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("", "abc"));
    }

    #[test]
    fn escape_covers_text_and_attribute_contexts() {
        assert_eq!(escape("<a href='x'>\"&"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;");
    }
}
