//! Fault injection: which share of `/api/*` requests the simulator answers badly.
//!
//! Every `/api/*` request (never `/sim/*`) draws two numbers from a generator seeded with
//! [`crate::SimConfig::seed`]: one picks at most one fault from the shares below, taken in
//! field order (429, 500, 503, drop, processed-then-drop) as consecutive slices of
//! `[0, 1)`; the other decides whether the answer is delayed. A `500` or `503` picked for a
//! write draws a third number when [`Faults::fail_after_write`] is set. With the same seed
//! and the same sequence of requests, the same requests fail. Changing the faults reseeds the
//! generator, so a test sees the same pattern however much traffic came before.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The fault configuration. All shares are in `0.0..=1.0`; `0.0` turns a fault off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Share answered `429` with `Retry-After: retry_after_secs`.
    pub rate_limited: f64,
    /// Seconds in the `Retry-After` header of an injected `429`.
    pub retry_after_secs: u64,
    /// Share answered `500`.
    pub server_error: f64,
    /// Share answered `503`.
    pub unavailable: f64,
    /// Share whose connection is closed without an answer, before anything is processed.
    pub drop_connection: f64,
    /// Share of `POST /api/rest/wfo/contact/import` that is processed (the contact is
    /// created and saved) and then closed without an answer. Other routes ignore it.
    pub processed_then_dropped: f64,
    /// Share of the `500` and `503` answers picked for a write (`POST` or `PUT`, the login
    /// excepted) that are given after the write was processed: it took effect, the caller
    /// sees a failure. The rest fail before anything is processed.
    pub fail_after_write: f64,
    /// Share delayed by `slow_delay_ms` before being handled (combines with the others).
    pub slow: f64,
    /// Delay of a slow answer, in milliseconds.
    pub slow_delay_ms: u64,
    /// Where the delay goes: `false` (default) holds the request back before it is
    /// handled; `true` handles it at once and holds the *answer* back, as a slow listing
    /// of a large directory does (it shows the state of when it was asked).
    #[serde(default)]
    pub slow_answer: bool,
    /// A session dies after this many authenticated calls: calls 1..=n succeed, call
    /// n+1 answers `401`. `None`: sessions live until logout or an explicit expiry.
    pub session_max_calls: Option<u64>,
    /// Path prefixes the shares apply to (for example `["/api/rest/wfo/contact"]`).
    /// Empty: every `/api/*` route. Session expiry applies everywhere regardless.
    pub only_paths: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_limited: 0.0,
            retry_after_secs: 1,
            server_error: 0.0,
            unavailable: 0.0,
            drop_connection: 0.0,
            processed_then_dropped: 0.0,
            fail_after_write: 0.0,
            slow: 0.0,
            slow_delay_ms: 1_000,
            slow_answer: false,
            session_max_calls: None,
            only_paths: Vec::new(),
        }
    }
}

impl Faults {
    /// No faults at all (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// `Err` naming the first share outside `0.0..=1.0`.
    pub fn validate(&self) -> Result<(), String> {
        let shares = [
            ("rateLimited", self.rate_limited),
            ("serverError", self.server_error),
            ("unavailable", self.unavailable),
            ("dropConnection", self.drop_connection),
            ("processedThenDropped", self.processed_then_dropped),
            ("failAfterWrite", self.fail_after_write),
            ("slow", self.slow),
        ];
        for (name, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be a share between 0.0 and 1.0, got {share}"));
            }
        }
        Ok(())
    }

    fn applies_to(&self, path: &str) -> bool {
        self.only_paths.is_empty() || self.only_paths.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// What the fault layer does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    RateLimited { retry_after_secs: u64 },
    ServerError,
    Unavailable,
    Drop,
    ProcessedThenDropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub fault: Option<Fault>,
    pub delay: Option<Duration>,
    /// A `500`/`503` to be answered after the request was processed.
    pub after_write: bool,
}

/// The current faults plus the seeded generator that applies them.
pub(crate) struct FaultState {
    faults: Faults,
    seed: u64,
    rng: StdRng,
}

impl FaultState {
    pub fn new(faults: Faults, seed: u64) -> Self {
        Self {
            faults,
            seed,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the faults and restarts the generator from the seed.
    pub fn set(&mut self, faults: Faults) {
        self.faults = faults;
        self.rng = StdRng::seed_from_u64(self.seed);
    }

    /// `is_import`: the request is `POST /api/rest/wfo/contact/import`; `is_write`: it is
    /// a `POST` or `PUT` other than the login.
    pub fn decide(&mut self, path: &str, is_import: bool, is_write: bool) -> Decision {
        let pick: f64 = self.rng.random();
        let slow: f64 = self.rng.random();
        let f = &self.faults;
        if !f.applies_to(path) {
            return Decision {
                fault: None,
                delay: None,
                after_write: false,
            };
        }
        let slices = [
            (
                f.rate_limited,
                Some(Fault::RateLimited {
                    retry_after_secs: f.retry_after_secs,
                }),
            ),
            (f.server_error, Some(Fault::ServerError)),
            (f.unavailable, Some(Fault::Unavailable)),
            (f.drop_connection, Some(Fault::Drop)),
            (
                f.processed_then_dropped,
                is_import.then_some(Fault::ProcessedThenDropped),
            ),
        ];
        let mut upper = 0.0;
        let mut fault = None;
        for (share, candidate) in slices {
            upper += share;
            if pick < upper {
                fault = candidate;
                break;
            }
        }
        let delay = (slow < f.slow).then(|| Duration::from_millis(f.slow_delay_ms));
        // Drawn only when it can matter, so configurations without it keep their pattern.
        let share = f.fail_after_write;
        let after_write = is_write
            && share > 0.0
            && matches!(fault, Some(Fault::ServerError | Fault::Unavailable))
            && self.rng.random::<f64>() < share;
        Decision {
            fault,
            delay,
            after_write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_one_always_faults_and_share_zero_never() {
        let mut s = FaultState::new(
            Faults {
                server_error: 1.0,
                ..Faults::none()
            },
            7,
        );
        for _ in 0..50 {
            assert_eq!(
                s.decide("/api/rest/org/common/role", false, false).fault,
                Some(Fault::ServerError)
            );
        }
        s.set(Faults::none());
        for _ in 0..50 {
            assert_eq!(
                s.decide("/api/rest/org/common/role", false, false),
                Decision {
                    fault: None,
                    delay: None,
                    after_write: false,
                }
            );
        }
    }

    #[test]
    fn same_seed_gives_the_same_pattern() {
        let faults = Faults {
            rate_limited: 0.3,
            unavailable: 0.2,
            ..Faults::none()
        };
        let mut a = FaultState::new(faults.clone(), 42);
        let mut b = FaultState::new(faults, 42);
        let pa: Vec<_> = (0..100).map(|_| a.decide("/api/x", false, false)).collect();
        let pb: Vec<_> = (0..100).map(|_| b.decide("/api/x", false, false)).collect();
        assert_eq!(pa, pb);
        let hits = pa.iter().filter(|d| d.fault.is_some()).count();
        assert!((30..=70).contains(&hits), "about half should fault, got {hits}");
    }

    #[test]
    fn processed_then_dropped_applies_only_to_imports() {
        let mut s = FaultState::new(
            Faults {
                processed_then_dropped: 1.0,
                ..Faults::none()
            },
            1,
        );
        assert_eq!(s.decide("/api/rest/org/common/person", false, true).fault, None);
        assert_eq!(
            s.decide("/api/rest/wfo/contact/import", true, true).fault,
            Some(Fault::ProcessedThenDropped)
        );
    }

    #[test]
    fn fail_after_write_applies_to_the_5xx_answers_of_writes_only() {
        let faults = Faults {
            server_error: 0.5,
            unavailable: 0.5,
            fail_after_write: 1.0,
            ..Faults::none()
        };
        let mut s = FaultState::new(faults.clone(), 3);
        for _ in 0..20 {
            let d = s.decide("/api/rest/org/common/person", false, true);
            assert!(d.fault.is_some() && d.after_write, "{d:?}");
            let d = s.decide("/api/rest/org/common/role", false, false);
            assert!(d.fault.is_some() && !d.after_write, "reads never: {d:?}");
        }
        let mut half = FaultState::new(
            Faults {
                fail_after_write: 0.5,
                ..faults
            },
            3,
        );
        let after = (0..200)
            .filter(|_| half.decide("/api/rest/wfo/contact/import", true, true).after_write)
            .count();
        assert!((60..=140).contains(&after), "about half, got {after}");
        let mut none = FaultState::new(
            Faults {
                rate_limited: 1.0,
                fail_after_write: 1.0,
                ..Faults::none()
            },
            3,
        );
        assert!(
            !none.decide("/api/rest/org/common/person", false, true).after_write,
            "429s never"
        );
    }

    #[test]
    fn only_paths_limits_where_faults_apply() {
        let f = Faults {
            unavailable: 1.0,
            only_paths: vec!["/api/rest/wfo".into()],
            ..Faults::none()
        };
        let mut s = FaultState::new(f, 1);
        assert_eq!(s.decide("/api/rest/org/common/role", false, false).fault, None);
        assert_eq!(
            s.decide("/api/rest/wfo/contact/1/audio", false, true).fault,
            Some(Fault::Unavailable)
        );
    }

    #[test]
    fn shares_outside_zero_to_one_are_rejected() {
        assert!(
            Faults {
                slow: 1.5,
                ..Faults::none()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                rate_limited: 1.0,
                ..Faults::none()
            }
            .validate()
            .is_ok()
        );
    }
}
