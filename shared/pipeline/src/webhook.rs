//! Webhook deliveries: verify, record, enqueue, answer fast.
//!
//! Transport independent: the local runner (axum) and the Lambda function both call
//! [`handle_delivery`] with the raw body bytes and a header lookup. The connector's
//! source kind verifies and reads the body ([`wfo_ports::SourceKind::parse_delivery`]).
//!
//! | condition | answer | recorded / enqueued |
//! |---|---|---|
//! | body over 1 MiB | 413 | nothing |
//! | unknown connector | 404 | nothing |
//! | bad or missing signature | 401 | nothing |
//! | malformed body | 400 | nothing |
//! | valid, new item | 200 | ledger insert, then one queue message |
//! | valid, known item (duplicate / late) | 200 | nothing new; an item waiting for its source (audio not there yet) is made due and enqueued |
//! | store down | 503 | nothing (the source retries) |

use std::time::Duration;

use chrono::{DateTime, Utc};
use wfo_domain::ledger::Discovery;
use wfo_ports::{Delivery, DeliveryError, Registry};

use crate::ports::{ConnectorStore, Discovered, Ledger, StoreError, StoredConnector, WorkMessage, WorkQueue};

/// Connectors as the webhook route last read them, for at most [`ConnectorCache::TTL`],
/// at most [`ConnectorCache::MAX_ENTRIES`] of them (unknown ids included, so a flood of
/// made-up ids cannot grow it without bound).
#[derive(Default)]
pub struct ConnectorCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Option<StoredConnector>)>>,
}

impl ConnectorCache {
    pub const TTL: Duration = Duration::from_secs(60);
    /// A signature that fails against an entry older than this is checked once more
    /// against a fresh read (a rotated secret).
    pub const RECHECK_AFTER: Duration = Duration::from_secs(5);
    pub const MAX_ENTRIES: usize = 1024;

    pub fn new() -> Self {
        Self::default()
    }

    /// The connector (`None` when unknown) and how old the cached answer is.
    pub async fn get<S>(&self, store: &S, id: &str) -> Result<(Option<StoredConnector>, Duration), StoreError>
    where
        S: ConnectorStore + ?Sized,
    {
        if let Ok(entries) = self.entries.lock()
            && let Some((at, c)) = entries.get(id)
            && at.elapsed() < Self::TTL
        {
            return Ok((c.clone(), at.elapsed()));
        }
        let found = store.get_connector(id).await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.retain(|_, (at, _)| at.elapsed() < Self::TTL);
                if entries.len() >= Self::MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(id.to_owned(), (std::time::Instant::now(), found.clone()));
        }
        Ok((found, Duration::ZERO))
    }

    /// Drop a connector's entry (its secret or configuration changed).
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

/// Largest accepted delivery body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAnswer {
    pub status: u16,
    pub message: String,
    /// The source item the delivery named, when accepted.
    pub item_id: Option<String>,
    pub newly_discovered: bool,
}

impl DeliveryAnswer {
    fn reject(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            item_id: None,
            newly_discovered: false,
        }
    }
}

/// Handle one delivery. `header` looks a request header up case-insensitively.
pub async fn handle_delivery<S>(
    store: &S,
    registry: &dyn Registry,
    cache: &ConnectorCache,
    connector_id: &str,
    header: &(dyn Fn(&str) -> Option<String> + Sync),
    body: &[u8],
    now: DateTime<Utc>,
) -> DeliveryAnswer
where
    S: ConnectorStore + Ledger + WorkQueue + ?Sized,
{
    if body.len() > MAX_BODY_BYTES {
        return DeliveryAnswer::reject(413, format!("body of {} bytes exceeds the 1 MiB limit", body.len()));
    }
    // Looked up through a bounded cache: junk aimed at a connector costs no table read
    // and no decryption per delivery.
    let (connector, age) = match cache.get(store, connector_id).await {
        Ok((Some(c), age)) => (c, age),
        Ok((None, _)) => return DeliveryAnswer::reject(404, format!("unknown connector '{connector_id}'")),
        Err(e) => {
            tracing::error!(connector = connector_id, error = %e, "webhook: store unavailable");
            return DeliveryAnswer::reject(503, "temporarily unavailable");
        }
    };
    let Some(kind) = registry.source_kind(connector.config.kind) else {
        return DeliveryAnswer::reject(
            404,
            format!(
                "connector '{connector_id}' ({}) does not take webhooks yet",
                connector.config.kind
            ),
        );
    };
    let mut parsed = kind.parse_delivery(&connector, header, body);
    if matches!(parsed, Err(DeliveryError::Unauthenticated(_))) && age > ConnectorCache::RECHECK_AFTER {
        // The secret may have been rotated since the entry was cached: look once more
        // (at most once per RECHECK_AFTER per connector, so junk stays cheap).
        cache.forget(connector_id);
        if let Ok((Some(fresh), _)) = cache.get(store, connector_id).await {
            parsed = kind.parse_delivery(&fresh, header, body);
        }
    }
    let item_id = match parsed {
        Ok(Delivery::Item(id)) => id,
        Ok(Delivery::Ignored(why)) => {
            return DeliveryAnswer {
                status: 200,
                message: why,
                item_id: None,
                newly_discovered: false,
            };
        }
        Err(e @ DeliveryError::Unauthenticated(_)) => {
            tracing::warn!(connector = connector_id, error = %e, "webhook: signature rejected");
            return DeliveryAnswer::reject(401, "signature does not verify");
        }
        Err(e @ DeliveryError::Malformed(_)) => {
            tracing::warn!(connector = connector_id, error = %e, "webhook: malformed body");
            return DeliveryAnswer::reject(400, e.to_string());
        }
        Err(DeliveryError::NotAccepted(why)) => return DeliveryAnswer::reject(404, why),
    };
    match store.discover(connector_id, &item_id, Discovery::Webhook, now).await {
        Ok(Discovered::Known) => {
            // A delivery about an item that waits (a capture announced for a task whose
            // contacts are in WFO) makes it due now instead of at its next check.
            let nudged = nudge(store, connector_id, &item_id, now).await;
            tracing::debug!(connector = connector_id, item = %item_id, nudged, "webhook: already known");
            DeliveryAnswer {
                status: 200,
                message: if nudged {
                    "already recorded; looked at again now".to_owned()
                } else {
                    "already recorded".to_owned()
                },
                item_id: Some(item_id),
                newly_discovered: false,
            }
        }
        Ok(Discovered::New) => {
            let msg = WorkMessage {
                connector_id: connector_id.to_owned(),
                item_id: item_id.clone(),
            };
            if let Err(e) = store.send(&msg, Duration::ZERO).await {
                // The ledger holds it; the sweeper enqueues items whose pickup is overdue.
                tracing::warn!(connector = connector_id, item = %item_id, error = %e, "webhook: recorded but not enqueued; the sweeper will pick it up");
            }
            tracing::info!(connector = connector_id, item = %item_id, "webhook: recorded");
            DeliveryAnswer {
                status: 200,
                message: "recorded".to_owned(),
                item_id: Some(item_id),
                newly_discovered: true,
            }
        }
        Err(e) => {
            tracing::error!(connector = connector_id, item = %item_id, error = %e, "webhook: store unavailable");
            DeliveryAnswer::reject(503, "temporarily unavailable")
        }
    }
}

/// Make a waiting item due now and enqueue it. Best effort: the item's own schedule still
/// holds when this fails (the store is busy, another writer won).
async fn nudge<S>(store: &S, connector_id: &str, item_id: &str, now: DateTime<Utc>) -> bool
where
    S: Ledger + WorkQueue + ?Sized,
{
    let Ok(Some(mut item)) = store.get(connector_id, item_id).await else {
        return false;
    };
    if !item.nudge(now) || store.put(&item).await.is_err() {
        return false;
    }
    let msg = WorkMessage {
        connector_id: connector_id.to_owned(),
        item_id: item_id.to_owned(),
    };
    if let Err(e) = store.send(&msg, Duration::ZERO).await {
        tracing::debug!(connector = connector_id, item = item_id, error = %e, "webhook: item due but not enqueued; the sweeper will");
    }
    true
}
