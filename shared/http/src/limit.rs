//! Client-side rate limits: a budget of requests per time shared by everyone who spends
//! it, kept here so every call of a limited API waits its turn in one place.
//!
//! Webex Contact Center allows 300 requests per minute **per OAuth client id**, whoever
//! makes them: every connector of one client id, in one process and in every Lambda.
//! A [`RateLimit`] is that budget:
//! - one per key per process ([`RateLimit::shared`]), so two connectors with one client
//!   id share it;
//! - optionally backed by a [`SharedQuota`] (the store), so processes share it too;
//! - told about a `429` ([`RateLimit::pause_for`]), so every caller of the key waits the
//!   source's `Retry-After` instead of only the one that was refused.
//!
//! Windows: the budget is counted in fixed windows aligned to the epoch (every process
//! agrees on them without talking). A fixed window lets a burst at the end of one window
//! meet a burst at the start of the next, so a limit of `L` per minute is kept **over
//! any 60 seconds** by counting `L / (60 / w + 1)` per window of `w` seconds: with
//! `w` = 10 s and 300/min that is 42 per 10 s (252 per minute sustained, 84 % of the
//! limit), and no 60-second span — sliding, wherever it starts — sees more than
//! 7 × 42 = 294.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

/// A counter shared by processes (the store): take `n` from the window's count if it
/// stays ≤ `limit`, atomically.
#[async_trait]
pub trait SharedQuota: Send + Sync {
    /// `Some(total after taking)`, or `None` when the window is full (nothing taken).
    async fn take(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> Result<Option<u32>, String>;
}

/// One budget of requests (see the module docs).
pub struct RateLimit {
    key: String,
    window: Duration,
    per_window: u32,
    state: Mutex<Local>,
    shared: Mutex<Option<Arc<dyn SharedQuota>>>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("window", &self.window)
            .field("per_window", &self.per_window)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Local {
    /// Start of the window `used` counts (epoch seconds).
    window_start: i64,
    used: u32,
    /// No request before this (a `429`'s `Retry-After`).
    paused_until: Option<DateTime<Utc>>,
    /// Requests admitted, in total (for tests and metrics).
    admitted: u64,
    /// Times a caller had to wait for the next window or a pause.
    waits: u64,
}

/// Per-window count that keeps `per_minute` over any sliding minute (module docs).
pub fn per_window_for(per_minute: u32, window: Duration) -> u32 {
    let w = window.as_secs().clamp(1, 60);
    let windows_touched = 60u64.div_ceil(w) + 1;
    ((per_minute as u64) / windows_touched).max(1) as u32
}

/// The window every limit uses.
pub const WINDOW: Duration = Duration::from_secs(10);

impl RateLimit {
    /// A limit of its own (tests); most callers want [`RateLimit::shared`].
    pub fn new(key: impl Into<String>, per_minute: u32) -> Self {
        Self::with_window(key, per_minute, WINDOW)
    }

    pub fn with_window(key: impl Into<String>, per_minute: u32, window: Duration) -> Self {
        let window = Duration::from_secs(window.as_secs().clamp(1, 60));
        Self {
            key: key.into(),
            window,
            per_window: per_window_for(per_minute, window),
            state: Mutex::new(Local::default()),
            shared: Mutex::new(None),
        }
    }

    /// The process's one limit for `key` (created at the first ask; `per_minute` of the
    /// first ask wins).
    pub fn shared(key: &str, per_minute: u32) -> Arc<RateLimit> {
        static LIMITS: OnceLock<Mutex<HashMap<String, Arc<RateLimit>>>> = OnceLock::new();
        let mut all = LIMITS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(key.to_owned())
            .or_insert_with(|| Arc::new(RateLimit::new(key, per_minute)))
            .clone()
    }

    /// Count against `quota` too (every process with the same key and quota shares the
    /// budget). Replaces an earlier quota.
    pub fn share_through(&self, quota: Arc<dyn SharedQuota>) {
        *self.shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(quota);
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Requests per window.
    pub fn per_window(&self) -> u32 {
        self.per_window
    }

    /// Requests admitted so far, and how many of them waited.
    pub fn stats(&self) -> (u64, u64) {
        let s = self.lock();
        (s.admitted, s.waits)
    }

    /// The source refused a request (`429`): nobody with this key sends before `wait`
    /// has passed.
    pub fn pause_for(&self, wait: Duration) {
        let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(60));
        let mut s = self.lock();
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }

    /// Wait until one request may be sent, and count it.
    pub async fn admit(&self) {
        let mut waited = false;
        loop {
            let now = Utc::now();
            let wait = self.try_admit(now).await;
            match wait {
                None => {
                    if waited {
                        self.lock().waits += 1;
                    }
                    return;
                }
                Some(d) => {
                    waited = true;
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// `None` when admitted now; else how long to wait before asking again.
    async fn try_admit(&self, now: DateTime<Utc>) -> Option<Duration> {
        let window_secs = self.window.as_secs() as i64;
        let start = now.timestamp().div_euclid(window_secs) * window_secs;
        let next_window = Utc
            .timestamp_opt(start + window_secs, 0)
            .single()
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(self.window)
            + Duration::from_millis(5);
        {
            let mut s = self.lock();
            if let Some(until) = s.paused_until {
                if until > now {
                    return Some((until - now).to_std().unwrap_or(Duration::ZERO) + Duration::from_millis(5));
                }
                s.paused_until = None;
            }
            if s.window_start != start {
                s.window_start = start;
                s.used = 0;
            }
            if s.used >= self.per_window {
                return Some(next_window);
            }
            // Reserve locally first: this process never exceeds the budget alone, even
            // when the shared count is unreachable.
            s.used += 1;
        }
        let quota = self.shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(quota) = quota {
            let window_start = Utc.timestamp_opt(start, 0).single().unwrap_or(now);
            match quota
                .take(&self.key, window_start, 1, self.per_window, self.window * 6)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Other processes spent this window: ours is over too.
                    let mut s = self.lock();
                    if s.window_start == start {
                        s.used = self.per_window;
                    }
                    return Some(next_window);
                }
                Err(e) => {
                    // The store is unreachable: go on with the local count (each process
                    // still keeps its own budget) rather than stop every call.
                    tracing::warn!(key = %self.key, error = %e, "rate limit: the shared count cannot be read; counting locally");
                }
            }
        }
        self.lock().admitted += 1;
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_window_count_keeps_any_sliding_minute_under_the_limit() {
        assert_eq!(per_window_for(300, Duration::from_secs(10)), 42);
        // Every window full: the most any 60-second span (starting anywhere) can see.
        for (per_minute, w) in [(300u32, 10u64), (300, 6), (300, 60), (120, 10)] {
            let per_window = per_window_for(per_minute, Duration::from_secs(w)) as u64;
            let w_ms = w * 1000;
            let worst = (0..w_ms)
                .step_by(50)
                .map(|t| {
                    let first = t / w_ms;
                    let last = (t + 60_000 - 1) / w_ms;
                    (last - first + 1) * per_window
                })
                .max()
                .unwrap_or(0);
            assert!(worst <= per_minute as u64, "{per_minute}/min in {w} s windows: {worst}");
        }
        assert_eq!(per_window_for(300, Duration::from_secs(60)), 150);
        assert_eq!(per_window_for(1, Duration::from_secs(10)), 1);
    }

    #[tokio::test]
    async fn a_full_window_makes_the_next_caller_wait_for_the_next_one() {
        // 1-second windows touch 61 windows per minute: 21/min → 1 per window.
        let limit = RateLimit::with_window("k", 21, Duration::from_secs(1));
        assert_eq!(limit.per_window(), 1);
        let started = std::time::Instant::now();
        limit.admit().await;
        limit.admit().await;
        assert!(started.elapsed() >= Duration::from_millis(1), "the second waited");
        assert_eq!(limit.stats(), (2, 1));
    }

    #[tokio::test]
    async fn a_429_pauses_every_caller_of_the_key() {
        let limit = RateLimit::new("pause", 300);
        limit.pause_for(Duration::from_millis(200));
        let started = std::time::Instant::now();
        limit.admit().await;
        assert!(started.elapsed() >= Duration::from_millis(190));
    }

    #[test]
    fn one_key_is_one_limit_per_process() {
        let a = RateLimit::shared("client-a", 300);
        let b = RateLimit::shared("client-a", 300);
        let c = RateLimit::shared("client-b", 300);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    struct Full;
    #[async_trait]
    impl SharedQuota for Full {
        async fn take(&self, _: &str, _: DateTime<Utc>, _: u32, _: u32, _: Duration) -> Result<Option<u32>, String> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_window_other_processes_spent_is_waited_out() {
        let limit = RateLimit::with_window("spent", 300, Duration::from_secs(1));
        limit.share_through(Arc::new(Full));
        let got = tokio::time::timeout(Duration::from_millis(300), limit.admit()).await;
        assert!(got.is_err(), "a full shared window admits nobody");
        assert_eq!(limit.stats().0, 0);
    }
}
