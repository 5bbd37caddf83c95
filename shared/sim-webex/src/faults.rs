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

fn decide(st: &mut SimState, target: Target) -> (Decision, Option<Duration>) {
    let applies = match target {
        Target::Api => true,
        Target::Identity => st.faults.include_identity,
        Target::Media => st.faults.include_media,
    };
    if !applies {
        return (Decision::Pass, None);
    }
    let retry_after = st.faults.retry_after_secs;
    if let Some(forced) = st.forced_faults.pop_front() {
        return match forced {
            Fault::Slow(d) => (Decision::Delay(d), None),
            Fault::Status(code) => (
                Decision::Fail(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    retry_after,
                ),
                None,
            ),
        };
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
    let (decision, slow) = decide(&mut shared.lock(), target);
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
                502 => {
                    "The server received an invalid response from an upstream server; try again later."
                }
                503 => "Server is overloaded with requests. Try again later.",
                504 => {
                    "Gateway timeout. If your query uses the max parameter, please try to reduce it."
                }
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
