//! The one schedule: what is due for a connector, decided from stored state only, so the
//! local runtime (`wfo-connect serve`, ticking every few hundred milliseconds) and the
//! Lambda scheduler (EventBridge, every few minutes) run the same jobs at the same
//! intervals and cannot drift apart.
//!
//! | job | due when | state it reads |
//! |---|---|---|
//! | sweep | every tick | the ledger's `next_attempt_at` (the sweep itself) |
//! | token refresh | every tick | the token record (`Credentials::keep_fresh` decides per connector) |
//! | poll | credentials ready, and `sync.interval_minutes` (or the runtime's override) since the last attempt; after a failed attempt, at most a minute | [`POLL_STATE_KEY`] |
//! | user sync | `features.user_sync`, the source lists users, credentials ready, and `sync.interval_minutes` since the last run finished | the sync status |
//!
//! A tick of length T counts a job as due up to T/2 early, so a 5-minute schedule does not
//! skip a 5-minute interval by a few seconds of jitter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connections::Connections;
use crate::ports::{StoreError, StoredConnector};
use crate::sync;

/// KvStore key of the last poll attempt ([`PollState`]).
pub const POLL_STATE_KEY: &str = "schedule:poll";
/// The longest a failed poll waits before the next attempt.
pub const POLL_RETRY: Duration = Duration::from_secs(60);

/// The last poll attempt of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollState {
    pub attempted_at: DateTime<Utc>,
    pub ok: bool,
}

/// How often the caller looks, and what it overrides.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How often the caller evaluates the schedule.
    pub tick: Duration,
    /// Poll every this long instead of `sync.interval_minutes` (tests, the demo).
    pub poll_every: Option<Duration>,
}

impl Schedule {
    fn slack(&self, every: Duration) -> chrono::Duration {
        chrono::Duration::from_std((self.tick / 2).min(every / 2)).unwrap_or_default()
    }

    fn elapsed(&self, since: DateTime<Utc>, every: Duration, now: DateTime<Utc>) -> bool {
        let every_c = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        now - since + self.slack(every) >= every_c
    }

    /// Whether the reconciliation poll of `connector` is due.
    pub async fn poll_due(
        &self,
        connections: &Connections,
        connector: &StoredConnector,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !credentials_ready(connections, connector).await {
            return Ok(false);
        }
        let every = self.poll_every.unwrap_or(Duration::from_secs(
            u64::from(connector.config.sync.interval_minutes.max(1)) * 60,
        ));
        let last: Option<PollState> = connections
            .store()
            .get_value(&connector.config.id, POLL_STATE_KEY)
            .await?
            .and_then(|v| serde_json::from_value(v).ok());
        Ok(match last {
            None => true,
            Some(s) if s.ok => self.elapsed(s.attempted_at, every, now),
            Some(s) => self.elapsed(s.attempted_at, every.min(POLL_RETRY), now),
        })
    }

    /// Whether the user sync of `connector` is due.
    pub async fn sync_due(
        &self,
        connections: &Connections,
        connector: &StoredConnector,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !connector.config.features.user_sync {
            return Ok(false);
        }
        match connections.get(connector).await {
            Ok(conn) if conn.source.user_sync().is_some() => {}
            _ => return Ok(false),
        }
        if !credentials_ready(connections, connector).await {
            return Ok(false);
        }
        let every = Duration::from_secs(u64::from(connector.config.sync.interval_minutes.max(1)) * 60);
        let last = sync::load_status(connections.store().as_ref(), &connector.config.id)
            .await?
            .and_then(|s| s.last_run.finished_at);
        Ok(last.is_none_or(|t| self.elapsed(t, every, now)))
    }
}

/// Record a poll attempt (what [`Schedule::poll_due`] reads).
pub async fn record_poll(
    connections: &Connections,
    connector_id: &str,
    ok: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let state = PollState { attempted_at: now, ok };
    connections
        .store()
        .put_value(
            connector_id,
            POLL_STATE_KEY,
            &serde_json::to_value(&state).unwrap_or_default(),
        )
        .await
}

/// Credentials that can work without an operator (no call is made to find out).
async fn credentials_ready(connections: &Connections, connector: &StoredConnector) -> bool {
    match connections.credentials(connector) {
        Ok(c) => c.ready().await.is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_five_minute_tick_runs_a_five_minute_interval_every_tick_despite_jitter() {
        let s = Schedule {
            tick: Duration::from_secs(300),
            poll_every: None,
        };
        let every = Duration::from_secs(300);
        assert!(s.elapsed(t(0), every, t(297)), "a tick 3 s early still runs");
        assert!(!s.elapsed(t(0), every, t(100)), "not twice within one interval");
        let half_hour = Duration::from_secs(1800);
        assert!(!s.elapsed(t(0), half_hour, t(1500)));
        assert!(s.elapsed(t(0), half_hour, t(1790)));
    }

    #[test]
    fn a_fast_tick_keeps_short_intervals_exact_within_half_a_tick() {
        let s = Schedule {
            tick: Duration::from_millis(500),
            poll_every: Some(Duration::from_secs(1)),
        };
        let every = Duration::from_secs(1);
        assert!(!s.elapsed(t(0), every, t(0) + chrono::Duration::milliseconds(600)));
        assert!(s.elapsed(t(0), every, t(0) + chrono::Duration::milliseconds(800)));
    }
}
