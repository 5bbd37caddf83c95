//! Discovery without webhooks: the reconciliation poller, backfills, and the sweeper
//! that re-enqueues ledger items whose next attempt is due.
//!
//! Webhooks make imports fast; the poller makes them complete. It walks the source's
//! item list ([`wfo_ports::Source::list_items`]) over `[cursor − overlap, now − settle)` and discovers every item
//! (an idempotent insert). The list is newest-first and several items can share one
//! timestamp, so the cursor only moves after a *complete* walk of the window, to the
//! newest creation time seen; the overlap re-reads the boundary (and recordings that
//! became listable late), and re-discovering a known item is a no-op. Safe to run any
//! number of times, concurrently included.
//!
//! After a pause (re-authorization required, an outage) the first run heals everything
//! since the cursor, but never further back than [`PollSettings::max_lookback`] (60 days,
//! what the WFO guides promise). An older part is recorded as a [`MissedWindow`]: `status`
//! names it with the exact `backfill` command, and a backfill over it clears it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use wfo_domain::ledger::{Discovery, Health};
use wfo_ports::{AuthError, Listed, SourceError};

use crate::connections::Connections;
use crate::ports::{Discovered, Store, StoreError, StoredConnector, WorkMessage};
use crate::schedule::{Schedule, record_poll};

pub const CURSOR_KEY: &str = "recordings-cursor";
/// KvStore key of the [`MissedWindow`] of a connector (JSON `null` when there is none).
pub const MISSED_WINDOW_KEY: &str = "missed-window";
/// How far back a poll heals after a pause.
pub const MAX_LOOKBACK: chrono::Duration = chrono::Duration::days(60);

#[derive(Debug, Clone)]
pub struct PollSettings {
    /// How far back the first run looks.
    pub initial_lookback: chrono::Duration,
    /// How much of the previous window every run reads again. A day by default: should
    /// the source's list filter on a call's *start* rather than its recording's creation,
    /// a call up to a day long whose webhook was lost is still found (the ledger makes
    /// the repeats free).
    pub overlap: chrono::Duration,
    /// Recordings newer than this are left for the next run (listing may lag).
    pub settle: chrono::Duration,
    /// The oldest a run reads, however old the cursor is; older is a [`MissedWindow`].
    pub max_lookback: chrono::Duration,
    /// The longest one connector's poll may take; then it is abandoned (its cursor stays
    /// where the last complete walk left it) and retried later.
    pub deadline: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            initial_lookback: chrono::Duration::days(1),
            overlap: chrono::Duration::hours(24),
            settle: chrono::Duration::seconds(0),
            max_lookback: MAX_LOOKBACK,
            deadline: Duration::from_secs(10 * 60),
        }
    }
}

/// The stored poll position of one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Newest creation time seen by a complete walk.
    pub newest_seen: DateTime<Utc>,
    pub last_run_at: DateTime<Utc>,
    pub last_window: (DateTime<Utc>, DateTime<Utc>),
    pub last_listed: u64,
    pub last_new: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollReport {
    pub listed: u64,
    pub new: u64,
    pub enqueue_failures: u64,
    /// Items listed that the ledger already had as dead and that were revived (backfill).
    pub revived: u64,
    /// Items listed that could not be read (recorded as dead, with the reason).
    #[serde(default)]
    pub unreadable: u64,
    /// Finished items the data recapture planned again.
    #[serde(default)]
    pub replanned: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("listing source items failed: {0}")]
    Source(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SourceError> for PollError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Credentials(a) => PollError::Auth(a),
            other => PollError::Source(other),
        }
    }
}

impl PollError {
    /// Nothing to poll until an operator acts (re-authorize, fix the configuration).
    pub fn needs_operator(&self) -> bool {
        match self {
            PollError::Auth(e) => e.needs_operator(),
            PollError::Source(e) => e.needs_operator(),
            PollError::Store(_) => false,
        }
    }
}

/// Discover every item of `connector` created in `[from, to)`.
pub async fn discover_window(
    connections: &Connections,
    connector: &StoredConnector,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: Discovery,
    mut progress: impl FnMut(&PollReport),
) -> Result<(PollReport, Option<DateTime<Utc>>), PollError> {
    let store = connections.store().as_ref();
    let conn = connections.get(connector).await?;
    // A credential that cannot work is said before anything is listed.
    conn.credentials.current().await?;
    let mut report = PollReport::default();
    let mut newest: Option<DateTime<Utc>> = None;
    let mut stream = conn.source.list_items(from, to);
    while let Some(listed) = stream.next().await {
        let rec = match listed? {
            Listed::Item(rec) => rec,
            Listed::Checkpoint(t) => {
                // Everything before `t` is discovered: a poll cut off later resumes here.
                if by == Discovery::Poller {
                    save_checkpoint(store, &connector.config.id, t.min(to)).await?;
                }
                continue;
            }
        };
        report.listed += 1;
        newest = Some(newest.map_or(rec.time, |n| n.max(rec.time)));
        let id = &connector.config.id;
        if let Some(reason) = &rec.unreadable {
            // Seen but unreadable: a dead item an operator can see, with the reason; the
            // rest of the listing goes on and the cursor still moves.
            if store.discover(id, &rec.id, by, Utc::now()).await? == Discovered::New
                && let Some(mut item) = store.get(id, &rec.id).await?
            {
                item.kill(reason, Utc::now());
                store.put(&item).await?;
                report.unreadable += 1;
                tracing::error!(connector = %id, item = %rec.id, reason = %reason, "a listed item could not be read: recorded as dead");
            }
            progress(&report);
            continue;
        }
        let mut enqueue = false;
        if store.discover(id, &rec.id, by, Utc::now()).await? == Discovered::New {
            report.new += 1;
            enqueue = true;
        } else if by == Discovery::Recapture {
            // The day is walked again: finished items are planned again from fresh data.
            if let Some(mut item) = store.get(id, &rec.id).await?
                && item.recapture(
                    &format!(
                        "{} to {}",
                        from.format("%Y-%m-%d %H:%M UTC"),
                        to.format("%Y-%m-%d %H:%M UTC")
                    ),
                    Utc::now(),
                )
                && store.put(&item).await.is_ok()
            {
                report.replanned += 1;
                enqueue = true;
            }
        } else if by == Discovery::Backfill {
            // An operator's backfill is the way to heal: dead items in the window get
            // another full set of attempts.
            if let Some(mut item) = store.get(id, &rec.id).await?
                && item.health == wfo_domain::ledger::Health::Dead
            {
                item.revive(Utc::now());
                if store.put(&item).await.is_ok() {
                    report.revived += 1;
                    enqueue = true;
                }
            }
        }
        if enqueue {
            let msg = WorkMessage {
                connector_id: id.clone(),
                item_id: rec.id.clone(),
            };
            if let Err(e) = store.send(&msg, Duration::ZERO).await {
                report.enqueue_failures += 1;
                tracing::warn!(connector = %id, item = %rec.id, error = %e, "discovered but not enqueued; the sweeper will");
            }
        }
        progress(&report);
    }
    Ok((report, newest))
}

/// Move the stored cursor forward to `t` (never back): every item created before `t` has
/// been discovered.
async fn save_checkpoint(store: &dyn Store, connector_id: &str, t: DateTime<Utc>) -> Result<(), StoreError> {
    let cursor: Option<Cursor> = store
        .get_value(connector_id, CURSOR_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok());
    let next = match cursor {
        Some(c) if c.newest_seen >= t => return Ok(()),
        Some(c) => Cursor { newest_seen: t, ..c },
        None => Cursor {
            newest_seen: t,
            last_run_at: Utc::now(),
            last_window: (t, t),
            last_listed: 0,
            last_new: 0,
        },
    };
    store
        .put_value(
            connector_id,
            CURSOR_KEY,
            &serde_json::to_value(&next).unwrap_or_default(),
        )
        .await
}

/// One run of the poller for `connector`.
pub async fn poll(
    connections: &Connections,
    connector: &StoredConnector,
    settings: &PollSettings,
    now: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let store = connections.store().as_ref();
    let id = &connector.config.id;
    let cursor: Option<Cursor> = store
        .get_value(id, CURSOR_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok());
    let mut from = match &cursor {
        Some(c) => c.newest_seen - settings.overlap,
        None => now - settings.initial_lookback,
    };
    let earliest = now - settings.max_lookback;
    if from < earliest {
        let missed = record_missed_window(store, id, from, earliest, now).await?;
        tracing::error!(
            connector = %id,
            from = %missed.from,
            to = %missed.to,
            "recordings older than the {}-day window were not imported; import them with `{}`",
            settings.max_lookback.num_days(),
            missed.backfill_command(id)
        );
        from = earliest;
    }
    let to = now - settings.settle;
    if to <= from {
        return Ok(PollReport::default());
    }
    let walk = || discover_window(connections, connector, from, to, Discovery::Poller, |_| {});
    let (report, newest) = match walk().await {
        // The access token was revoked or expired early: renew (which marks the
        // connector "re-authorization required" when the source refuses) and walk again.
        Err(PollError::Source(SourceError::Unauthorized(_))) => {
            connections.get(connector).await?.credentials.renew().await?;
            walk().await?
        }
        other => other?,
    };
    let newest_seen = match (newest, &cursor) {
        (Some(n), Some(c)) => n.max(c.newest_seen),
        (Some(n), None) => n,
        (None, Some(c)) => c.newest_seen,
        // Nothing seen yet: start the next window where this one started.
        (None, None) => from + settings.overlap,
    };
    let next = Cursor {
        newest_seen,
        last_run_at: now,
        last_window: (from, to),
        last_listed: report.listed,
        last_new: report.new,
    };
    store
        .put_value(id, CURSOR_KEY, &serde_json::to_value(&next).unwrap_or_default())
        .await?;
    if report.new > 0 {
        tracing::info!(connector = %id, listed = report.listed, new = report.new, "poller discovered items webhooks missed");
    }
    Ok(report)
}

/// One scheduled poll of `connector` when [`Schedule::poll_due`] says it is due, with the
/// attempt recorded for the next decision. `Ok(None)` when it was not due.
pub async fn poll_if_due(
    connections: &Connections,
    connector: &StoredConnector,
    schedule: &Schedule,
    settings: &PollSettings,
    now: DateTime<Utc>,
) -> Result<Option<PollReport>, PollError> {
    if !schedule.poll_due(connections, connector, now).await? {
        return Ok(None);
    }
    let result = match tokio::time::timeout(settings.deadline, poll(connections, connector, settings, now)).await {
        Ok(r) => r,
        Err(_) => Err(PollError::Source(SourceError::retry(format!(
            "the poll took longer than {} s and was abandoned",
            settings.deadline.as_secs()
        )))),
    };
    let ok = result.is_ok();
    let id = &connector.config.id;
    if let Err(e) = record_poll(connections, id, ok, Utc::now()).await {
        tracing::warn!(connector = %id, error = %e, "cannot record the poll attempt");
    }
    // A source that refuses the connector (a wrong API key) shows in `status` even when
    // no item is held to say so.
    let store = connections.store().as_ref();
    let marked = match &result {
        Ok(_) => crate::attention::clear_by_poller(store, id).await,
        Err(e) if e.needs_operator() => crate::attention::mark_by_poller(store, id, &e.to_string(), now).await,
        Err(_) => Ok(()),
    };
    if let Err(e) = marked {
        tracing::warn!(connector = %id, error = %e, "cannot record whether the connector needs an operator");
    }
    result.map(Some)
}

/// A stretch of source time the poller did not read because it lay beyond
/// [`PollSettings::max_lookback`]: only an operator's backfill imports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

impl MissedWindow {
    /// The command that imports it (times in whole seconds, covering the window).
    pub fn backfill_command(&self, connector_id: &str) -> String {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!(
            "wfo-connect backfill {connector_id} --from {} --to {}",
            fmt(self.from),
            fmt(self.to)
        )
    }
}

fn floor_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn ceil_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = floor_secs(t);
    if f == t { t } else { f + chrono::Duration::seconds(1) }
}

/// The connector's missed window, if any.
pub async fn missed_window(store: &dyn Store, connector_id: &str) -> Result<Option<MissedWindow>, StoreError> {
    Ok(store
        .get_value(connector_id, MISSED_WINDOW_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// Record `[from, to)` as missed, merged with an earlier missed window.
async fn record_missed_window(
    store: &dyn Store,
    connector_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<MissedWindow, StoreError> {
    let (mut from, mut to) = (floor_secs(from), ceil_secs(to));
    if let Some(old) = missed_window(store, connector_id).await? {
        from = from.min(old.from);
        to = to.max(old.to);
    }
    let w = MissedWindow {
        from,
        to,
        recorded_at: now,
    };
    store
        .put_value(
            connector_id,
            MISSED_WINDOW_KEY,
            &serde_json::to_value(&w).unwrap_or_default(),
        )
        .await?;
    Ok(w)
}

/// A backfill of `[from, to)` completed: shrink or clear the missed window it covers.
pub async fn note_backfilled(
    store: &dyn Store,
    connector_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<MissedWindow>, StoreError> {
    let Some(mut w) = missed_window(store, connector_id).await? else {
        return Ok(None);
    };
    if from <= w.from && to > w.from {
        w.from = to;
    }
    if to >= w.to && from < w.to {
        w.to = from;
    }
    let left = (w.from < w.to).then_some(w);
    let value = match &left {
        Some(w) => serde_json::to_value(w).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    store.put_value(connector_id, MISSED_WINDOW_KEY, &value).await?;
    Ok(left)
}

pub use wfo_domain::ledger::PICKUP_GRACE;

/// Enqueue every unfinished item whose next attempt is due. Returns how many.
///
/// Each one's `next_attempt_at` is first pushed `PICKUP_GRACE` ahead by a conditional
/// write, so concurrent sweepers do not enqueue one item twice and a lost message is
/// re-sent after the grace.
pub async fn sweep(store: &dyn Store, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
    let mut sent = 0;
    for mut item in store.due(now, limit).await? {
        item.next_attempt_at = Some(now + PICKUP_GRACE);
        match store.put(&item).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        store
            .send(
                &WorkMessage {
                    connector_id: item.connector_id.clone(),
                    item_id: item.item_id.clone(),
                },
                Duration::ZERO,
            )
            .await?;
        sent += 1;
    }
    Ok(sent)
}

/// After re-authorization: make every waiting item of the connector due now, those held
/// for an operator (the refused credential) included.
pub async fn resume_connector(store: &dyn Store, connector_id: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
    resume_where(store, connector_id, now, |h| {
        matches!(h, Health::Waiting | Health::NeedsOperator)
    })
    .await
}

/// After an operator changed the connector's configuration (a new API key, a fixed
/// setting): make the items held for an operator due now rather than at their next
/// periodic look. Items waiting for the source (audio to come) keep their schedule.
pub async fn resume_held(store: &dyn Store, connector_id: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
    resume_where(store, connector_id, now, |h| h == Health::NeedsOperator).await
}

async fn resume_where(
    store: &dyn Store,
    connector_id: &str,
    now: DateTime<Utc>,
    due: impl Fn(Health) -> bool,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for mut item in store.list(connector_id, true, 100_000).await? {
        if due(item.health) {
            item.next_attempt_at = Some(now);
            if store.put(&item).await.is_ok() {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// KvStore key of the data recapture's state ([`RecaptureState`]).
pub const RECAPTURE_KEY: &str = "recapture";
/// How long a failed recapture waits before it is tried again.
pub const RECAPTURE_RETRY: chrono::Duration = chrono::Duration::minutes(5);

/// What the daily data recapture last did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecaptureState {
    /// The local date of the last complete run.
    pub last_day: Option<chrono::NaiveDate>,
    pub last_attempt_at: DateTime<Utc>,
    /// The window of the last attempt.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub report: PollReport,
    pub error: Option<String>,
}

/// The connector's recapture state, if it ever ran.
pub async fn recapture_state(store: &dyn Store, connector_id: &str) -> Result<Option<RecaptureState>, StoreError> {
    Ok(store
        .get_value(connector_id, RECAPTURE_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// Run the daily data recapture of `connector` when it is due
/// ([`wfo_domain::recapture::due`]): the previous local day is walked again, finished
/// items are planned again, missing ones imported. `Ok(None)` when not due.
pub async fn recapture_if_due(
    connections: &Connections,
    connector: &StoredConnector,
    settings: &PollSettings,
    now: DateTime<Utc>,
) -> Result<Option<PollReport>, PollError> {
    let store = connections.store().as_ref();
    let id = &connector.config.id;
    if !connector.config.sync.data_recapture {
        return Ok(None);
    }
    let state = recapture_state(store, id).await?;
    if let Some(s) = &state
        && s.error.is_some()
        && now - s.last_attempt_at < RECAPTURE_RETRY
    {
        return Ok(None);
    }
    let Some(run) = wfo_domain::recapture::due(&connector.config.sync, state.as_ref().and_then(|s| s.last_day), now)
    else {
        return Ok(None);
    };
    let walk = tokio::time::timeout(
        settings.deadline,
        discover_window(connections, connector, run.from, run.to, Discovery::Recapture, |_| {}),
    )
    .await
    .unwrap_or_else(|_| {
        Err(PollError::Source(SourceError::retry(format!(
            "the recapture took longer than {} s and was abandoned",
            settings.deadline.as_secs()
        ))))
    });
    let (last_day, report, error) = match &walk {
        Ok((r, _)) => (Some(run.run_day), r.clone(), None),
        Err(e) => (
            state.as_ref().and_then(|s| s.last_day),
            PollReport::default(),
            Some(e.to_string()),
        ),
    };
    let next = RecaptureState {
        last_day,
        last_attempt_at: now,
        window: (run.from, run.to),
        report: report.clone(),
        error,
    };
    store
        .put_value(id, RECAPTURE_KEY, &serde_json::to_value(&next).unwrap_or_default())
        .await?;
    let (report, _) = walk?;
    tracing::info!(connector = %id, from = %run.from, to = %run.to, listed = report.listed, new = report.new, replanned = report.replanned, "data recapture walked the previous day");
    Ok(Some(report))
}
