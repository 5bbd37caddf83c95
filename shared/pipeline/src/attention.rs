//! "Needs operator": a connector whose items are held by a problem only an operator can
//! fix (credentials, permissions such as the Compliance Officer role, a WFO tenant
//! without a default team or agent role, the metadata mapping).
//!
//! The mark is one stored value per connector (`needs_operator`): set, with the reason
//! and since when, the first time an item is held for such a problem; cleared by the
//! next step of that connector that succeeds — the held items look again every
//! `paused_delay`, so the connector heals by itself once the problem is gone. Writes
//! happen only on a change (this process remembers what it last wrote), and each new
//! mark emits the `OperatorNeeded` metric that the stack's alarm watches.
//!
//! The poller marks too ([`mark_by_poller`]): a connector whose source refuses it (an
//! API key that is wrong) lists nothing, so no item would ever be held to say so. Its
//! mark is cleared by the next poll that lists ([`clear_by_poller`]) as well as by a
//! successful step; a poll never clears a mark an item set.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{Store, StoreError};

/// The stored value's key (per connector).
pub const NEEDS_OPERATOR_KEY: &str = "needs_operator";

/// Why a connector needs an operator, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedsOperator {
    pub reason: String,
    pub since: DateTime<Utc>,
    /// Set by the poller (no item held): the next poll that lists clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_poller: bool,
}

/// The connector's mark, if it has one.
pub async fn load(store: &dyn Store, connector_id: &str) -> Result<Option<NeedsOperator>, StoreError> {
    Ok(store
        .get_value(connector_id, NEEDS_OPERATOR_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// How long this process trusts what it last saw of a connector's mark before it reads
/// the stored value again (another process may have marked it meanwhile).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// What this process last wrote or read per connector (marked or not, and when), so a
/// busy worker reads the stored value about once a minute, not once per step.
#[derive(Default)]
pub struct Marks {
    last: Mutex<HashMap<String, (bool, std::time::Instant)>>,
}

impl Marks {
    fn last(&self, connector_id: &str) -> Option<bool> {
        self.last
            .lock()
            .map(|m| {
                m.get(connector_id)
                    .filter(|(_, at)| at.elapsed() < RECHECK)
                    .map(|(marked, _)| *marked)
            })
            .unwrap_or(None)
    }

    fn remember(&self, connector_id: &str, marked: bool) {
        if let Ok(mut m) = self.last.lock() {
            m.insert(connector_id.to_owned(), (marked, std::time::Instant::now()));
        }
    }

    /// An item of the connector was held for `reason`.
    pub async fn mark(&self, store: &dyn Store, connector_id: &str, reason: &str, now: DateTime<Utc>) {
        if self.last(connector_id) == Some(true) {
            return;
        }
        // Keep the first time it was seen when another process marked it already.
        let since = match load(store, connector_id).await {
            Ok(Some(existing)) => existing.since,
            _ => now,
        };
        let value = NeedsOperator {
            reason: wfo_domain::redact::redact_secrets(reason),
            since,
            by_poller: false,
        };
        match store
            .put_value(
                connector_id,
                NEEDS_OPERATOR_KEY,
                &serde_json::to_value(&value).unwrap_or_default(),
            )
            .await
        {
            Ok(()) => {
                self.remember(connector_id, true);
                if since == now {
                    tracing::error!(connector = connector_id, reason = %value.reason, "connector needs an operator: its items are held (not lost) until this is fixed");
                    crate::metrics::operator_needed(connector_id, &value.reason, now);
                }
            }
            Err(e) => {
                tracing::warn!(connector = connector_id, error = %e, "cannot record that the connector needs an operator")
            }
        }
    }

    /// A step of the connector succeeded: whatever held it is gone.
    pub async fn clear(&self, store: &dyn Store, connector_id: &str) {
        if self.last(connector_id) == Some(false) {
            return;
        }
        let was = load(store, connector_id).await.ok().flatten();
        if was.is_some()
            && let Err(e) = store
                .put_value(connector_id, NEEDS_OPERATOR_KEY, &serde_json::Value::Null)
                .await
        {
            tracing::warn!(connector = connector_id, error = %e, "cannot clear the connector's needs-operator mark");
            return;
        }
        if let Some(was) = was {
            tracing::info!(connector = connector_id, since = %was.since, "connector no longer needs an operator: held items resume");
        }
        self.remember(connector_id, false);
    }
}

/// The poll of `connector_id` failed for a reason only an operator can fix (the source
/// refuses the connector's API key): mark the connector, unless it is marked already (an
/// item's mark, or an earlier poll's, keeps its reason and since).
pub async fn mark_by_poller(
    store: &dyn Store,
    connector_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if load(store, connector_id).await?.is_some() {
        return Ok(());
    }
    let value = NeedsOperator {
        reason: wfo_domain::redact::redact_secrets(reason),
        since: now,
        by_poller: true,
    };
    store
        .put_value(
            connector_id,
            NEEDS_OPERATOR_KEY,
            &serde_json::to_value(&value).unwrap_or_default(),
        )
        .await?;
    tracing::error!(connector = connector_id, reason = %value.reason, "connector needs an operator: the poller cannot list its source until this is fixed (nothing is lost: the next poll lists what it missed)");
    crate::metrics::operator_needed(connector_id, &value.reason, now);
    Ok(())
}

/// A poll of `connector_id` listed its source: a mark the poller set is gone. A mark an
/// item set stays (only that item's next step can tell).
pub async fn clear_by_poller(store: &dyn Store, connector_id: &str) -> Result<(), StoreError> {
    match load(store, connector_id).await? {
        Some(mark) if mark.by_poller => {
            store
                .put_value(connector_id, NEEDS_OPERATOR_KEY, &serde_json::Value::Null)
                .await?;
            tracing::info!(connector = connector_id, since = %mark.since, "connector no longer needs an operator: the poller lists its source again");
            Ok(())
        }
        _ => Ok(()),
    }
}
