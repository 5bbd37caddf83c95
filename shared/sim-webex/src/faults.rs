//! Fault injection: forced faults first, then seeded random draws.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use crate::config::Fault;
use crate::error::ApiError;
use crate::state::{SharedRef, State as SimState};

/// Which group of routes a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Api,
    Identity,
    Media,
}

enum Decision {
    Pass,
    Delay(Duration),
    Fail(StatusCode, u64),
}

/// Route templates of the API, for per-route counts and faults.
const TEMPLATES: &[&str] = &[
    "/v1/admin/convergedRecordings",
    "/v1/convergedRecordings",
    "/v1/convergedRecordings/{id}",
    "/v1/convergedRecordings/{id}/metadata",
    "/v1/webhooks",
    "/v1/webhooks/{id}",
    "/v1/people",
    "/v1/people/{id}/features/callRecording",
    "/v1/licenses",
    "/v1/telephony/config/callRecording/vendorUsers",
];

/// `/v1/people/Y2lz…/features/callRecording` → `/v1/people/{id}/features/callRecording`.
pub(crate) fn route_template(path: &str) -> &str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    TEMPLATES
        .iter()
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len() && ts.iter().zip(&segments).all(|(t, s)| *t == "{id}" || t == s)
        })
        .copied()
        .unwrap_or(path)
}

/// A forced fault as a decision.
fn forced(fault: Fault, retry_after: u64) -> Decision {
    match fault {
        Fault::Slow(d) => Decision::Delay(d),
        Fault::Status(code) => Decision::Fail(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after,
        ),
    }
}

/// Applies a route fault aimed at the request, if any.
fn route_fault(st: &mut SimState, route: &str) -> Option<Decision> {
    let retry_after = st.faults.retry_after_secs;
    let i = st.route_faults.iter().position(|f| f.route == route)?;
    let f = &mut st.route_faults[i];
    if f.skip > 0 {
        f.skip -= 1;
        return None;
    }
    let fault = f.fault;
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        st.route_faults.remove(i);
    }
    Some(forced(fault, retry_after))
}

fn decide(st: &mut SimState, target: Target, route: &str) -> (Decision, Option<Duration>) {
    if target == Target::Api
        && let Some(d) = route_fault(st, route)
    {
        return (d, None);
    }
    let applies = match target {
        Target::Api => true,
        Target::Identity => st.faults.include_identity,
        Target::Media => st.faults.include_media,
    };
    if !applies {
        return (Decision::Pass, None);
    }
    let retry_after = st.faults.retry_after_secs;
    if let Some(fault) = st.forced_faults.pop_front() {
        return (forced(fault, retry_after), None);
    }
    let f = st.faults.clone();
    if f.rate_limited <= 0.0 && f.locked <= 0.0 && f.server_error <= 0.0 && f.slow <= 0.0 {
        return (Decision::Pass, None);
    }
    let rng = &mut st.fault_rng;
    let slow = (rng.random::<f64>() < f.slow).then_some(f.slow_delay);
    let r: f64 = rng.random();
    let decision = if r < f.rate_limited {
        Decision::Fail(StatusCode::TOO_MANY_REQUESTS, retry_after)
    } else if r < f.rate_limited + f.locked {
        Decision::Fail(StatusCode::LOCKED, retry_after)
    } else if r < f.rate_limited + f.locked + f.server_error {
        let code = [500u16, 502, 503, 504][rng.random_range(0..4usize)];
        Decision::Fail(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after,
        )
    } else {
        Decision::Pass
    };
    (decision, slow)
}

async fn apply(shared: SharedRef, target: Target, req: Request, next: Next) -> Response {
    let route = format!("{} {}", req.method(), route_template(req.uri().path()));
    let (decision, slow, latency) = {
        let mut st = shared.lock();
        *st.request_counts.entry(route.clone()).or_default() += 1;
        let (decision, slow) = decide(&mut st, target, &route);
        let injected = &mut st.injected;
        if slow.is_some() || matches!(decision, Decision::Delay(_)) {
            injected.slow += 1;
        }
        if let Decision::Fail(status, _) = &decision {
            *injected.by_status.entry(status.as_u16()).or_default() += 1;
        }
        (decision, slow, st.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    match decision {
        Decision::Pass => next.run(req).await,
        Decision::Delay(d) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Decision::Fail(status, retry_after) => {
            let message = match status.as_u16() {
                429 => "Too many requests have been sent in a given amount of time.",
                423 => "The resource is locked; retry after the given time.",
                502 => "The server received an invalid response from an upstream server; try again later.",
                503 => "Server is overloaded with requests. Try again later.",
                504 => "Gateway timeout. If your query uses the max parameter, please try to reduce it.",
                _ => "Something went wrong on the server.",
            };
            let mut err = ApiError::new(status, message);
            if matches!(status.as_u16(), 429 | 423 | 503) {
                err = err.with_retry_after(retry_after);
            }
            err.into_response()
        }
    }
}

pub(crate) async fn api(State(s): State<SharedRef>, req: Request, next: Next) -> Response {
    apply(s, Target::Api, req, next).await
}
pub(crate) async fn identity(State(s): State<SharedRef>, req: Request, next: Next) -> Response {
    apply(s, Target::Identity, req, next).await
}
pub(crate) async fn media(State(s): State<SharedRef>, req: Request, next: Next) -> Response {
    apply(s, Target::Media, req, next).await
}
