//! The regional API gateway: what every regional route goes through before its handler
//! (the control plane's and the task plane's alike).
//!
//! In order: count the request by route; note a missing `TrackingId`; check the bearer
//! token (missing or malformed `400`, unknown or expired `401`); refuse a token of
//! another org and an `/organization/{orgId}/…` path naming another org (`403`); check
//! the scope (`403`); answer a pushed `429` storm; apply the rate limit, a sliding
//! 60-second window per **client id** on the simulator clock (`429` with `Retry-After`:
//! the whole seconds until the oldest request in the window leaves it). Only requests
//! that pass the limit count toward it.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::config::{CONFIG, CONFIG_READ, CONFIG_WRITE};
use crate::error::{ApiError, NoTrackingId};
use crate::identity::{BearerError, bearer};
use crate::state::{Caller, ClientTraffic, SharedRef, State as SimState};

/// Paths under this prefix (the task plane's presigned media downloads) pass the gateway
/// untouched: no token, no rate limit, not counted. Must equal the task plane's
/// `MEDIA_PATH_PREFIX`.
pub const OPEN_PATH_PREFIX: &str = "/sim-media/";

const WINDOW_SECS: i64 = 60;

/// Route templates with parameters, for per-route counts (other routes, such as the task
/// plane's `/search`, are counted by their path).
const TEMPLATES: &[&str] = &[
    "/organization/{orgId}/v2/user",
    "/organization/{orgId}/v2/user/by-ci-user-id/{ciUserId}",
    "/organization/{orgId}/v2/team",
    "/organization/{orgId}/v2/contact-service-queue",
    "/v2/subscriptions/{id}",
];

/// `/organization/3eb…/v2/user` → `/organization/{orgId}/v2/user`.
pub(crate) fn route_template(path: &str) -> &str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    TEMPLATES
        .iter()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len() && ts.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
        })
        .copied()
        .unwrap_or(path)
}

/// The scopes of which a request needs one: writes to subscriptions need write access,
/// everything else (lists, Search, captures, reading subscriptions) read access.
fn required_scopes(method: &Method, template: &str) -> &'static [&'static str] {
    if template.starts_with("/v2/subscriptions") && method != Method::GET {
        &[CONFIG_WRITE, CONFIG]
    } else {
        &[CONFIG_READ, CONFIG]
    }
}

/// The `{orgId}` of an `/organization/{orgId}/…` path.
fn path_org(path: &str) -> Option<&str> {
    path.strip_prefix("/organization/")?.split('/').next()
}

fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::seconds(WINDOW_SECS)
}

/// Records an arrival (refused or not) for the peak and the totals.
fn record_arrival(t: &mut ClientTraffic, now: DateTime<Utc>) {
    t.total += 1;
    let start = window_start(now);
    while t.arrived.front().is_some_and(|at| *at <= start) {
        t.arrived.pop_front();
    }
    t.arrived.push_back(now);
    t.peak = t.peak.max(t.arrived.len() as u64);
}

/// Admits the request under the limit, or says how many seconds until it would be.
fn admit(t: &mut ClientTraffic, now: DateTime<Utc>, limit: u32) -> Result<(), u64> {
    let start = window_start(now);
    while t.accepted.front().is_some_and(|at| *at <= start) {
        t.accepted.pop_front();
    }
    if t.accepted.len() >= limit as usize {
        let frees_at = t
            .accepted
            .front()
            .map(|at| *at + chrono::Duration::seconds(WINDOW_SECS))
            .unwrap_or(now);
        let ms = (frees_at - now).num_milliseconds().max(0);
        let secs = u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1);
        return Err(secs);
    }
    t.accepted.push_back(now);
    Ok(())
}

fn check(st: &mut SimState, req: &Request, route: String, template: &str) -> Result<crate::state::Grant, ApiError> {
    *st.request_counts.entry(route).or_default() += 1;
    if req.extensions().get::<NoTrackingId>().is_some() {
        st.without_tracking_id += 1;
    }
    let grant = bearer(st, req.headers()).map_err(|e| match e {
        BearerError::Malformed => ApiError::bad_request("The Authorization header must be 'Bearer <access token>'."),
        BearerError::Invalid => ApiError::unauthorized(),
    })?;
    let now = st.now();
    record_arrival(st.traffic.entry(grant.client_id.clone()).or_default(), now);
    if !grant.account.org_id.eq_ignore_ascii_case(&st.org_id) {
        st.foreign_org_calls += 1;
        return Err(ApiError::forbidden(
            "This token belongs to another organization than the data it asks for.",
        ));
    }
    if let Some(org) = path_org(req.uri().path())
        && !org.eq_ignore_ascii_case(&st.org_id)
    {
        return Err(ApiError::forbidden(format!(
            "The token is not authorized for organization {org}."
        )));
    }
    let needed = required_scopes(req.method(), template);
    if !grant.has_any(needed) {
        return Err(ApiError::forbidden(format!(
            "This request requires one of the scopes {}.",
            needed.join(", ")
        )));
    }
    if let Some((left, retry_after)) = st.storm.front_mut() {
        let retry_after = *retry_after;
        *left -= 1;
        if *left == 0 {
            st.storm.pop_front();
        }
        *st.injected.entry(429).or_default() += 1;
        return Err(ApiError::too_many(retry_after));
    }
    let limit = st.limits.requests_per_minute;
    admit(st.traffic.entry(grant.client_id.clone()).or_default(), now, limit).map_err(ApiError::too_many)?;
    Ok(grant)
}

/// The middleware (see the module docs).
pub(crate) async fn regional(State(shared): State<SharedRef>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with(OPEN_PATH_PREFIX) {
        return next.run(req).await;
    }
    let template = route_template(&path).to_owned();
    let route = format!("{} {}", req.method(), template);
    let checked = check(&mut shared.lock(), &req, route, &template);
    match checked {
        Ok(grant) => {
            req.extensions_mut().insert(Caller(grant));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_frees_when_its_oldest_request_leaves() {
        let t0 = Utc::now();
        let mut t = ClientTraffic::default();
        for i in 0..3 {
            assert!(admit(&mut t, t0 + chrono::Duration::seconds(i * 10), 3).is_ok());
        }
        // At t0+25 the oldest (t0) leaves at t0+60: 35 s to wait.
        assert_eq!(admit(&mut t, t0 + chrono::Duration::seconds(25), 3), Err(35));
        assert!(admit(&mut t, t0 + chrono::Duration::seconds(61), 3).is_ok());
    }

    #[test]
    fn the_peak_is_the_most_arrivals_in_any_minute() {
        let t0 = Utc::now();
        let mut t = ClientTraffic::default();
        for s in [0, 1, 2, 70, 71] {
            record_arrival(&mut t, t0 + chrono::Duration::seconds(s));
        }
        assert_eq!((t.total, t.peak), (5, 3));
    }

    #[test]
    fn paths_are_counted_by_their_route_template() {
        assert_eq!(
            route_template("/organization/abc/v2/user"),
            "/organization/{orgId}/v2/user"
        );
        assert_eq!(route_template("/v2/subscriptions/x-1"), "/v2/subscriptions/{id}");
        assert_eq!(route_template("/search"), "/search");
    }

    #[test]
    fn subscription_writes_need_write_scope() {
        assert_eq!(
            required_scopes(&Method::POST, "/v2/subscriptions"),
            &[CONFIG_WRITE, CONFIG]
        );
        assert_eq!(
            required_scopes(&Method::GET, "/v2/subscriptions"),
            &[CONFIG_READ, CONFIG]
        );
        assert_eq!(required_scopes(&Method::POST, "/search"), &[CONFIG_READ, CONFIG]);
    }
}
