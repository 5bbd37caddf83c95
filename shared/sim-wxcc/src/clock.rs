//! The simulator's clock: the wall clock plus whatever a test added with
//! `advance_clock`. Every part of the simulator (token expiry, rate-limit windows,
//! capture readiness, link expiry, delivery timestamps) reads time from here.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    offset: Arc<Mutex<Duration>>,
}

impl SimClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Move the clock forward (never backward).
    pub fn advance(&self, by: Duration) {
        if by > Duration::zero() {
            *self.offset.lock().unwrap_or_else(|p| p.into_inner()) += by;
        }
    }
}
