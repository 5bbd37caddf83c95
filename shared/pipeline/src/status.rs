//! One connector's status as data: what `wfo-connect status` prints and the `/status`
//! page of `wfo-connect serve` shows, read once from the store into a
//! [`ConnectorSummary`] so both front ends say the same thing without parsing text.
//!
//! Everything here reads the store only (the API-key check, which calls the source, stays
//! with the CLI: [`crate::health::api_key_status`]). Every listing is bounded: at most
//! [`LISTED_ITEMS`] ledger items are read per connector and at most [`SHOWN`] of each kind
//! of item are kept.

use chrono::{DateTime, Duration, Utc};
use wfo_domain::config::ConnectorKind;
use wfo_domain::ledger::{Health, LedgerItem, Stage};

use crate::attention::{self, NeedsOperator};
use crate::health;
use crate::ports::{LedgerCounts, Store, StoreError, StoredConnector};

/// The most ledger items read per connector (most recently updated first).
pub const LISTED_ITEMS: usize = 100_000;
/// The most open items read per connector (waiting and problem items come from these).
pub const LISTED_OPEN: usize = 1_000;
/// The most items of each kind (waiting, problems, dead, noted) kept in a summary.
pub const SHOWN: usize = 20;
/// The most dead letters a [`QueueSummary`] lists.
pub const SHOWN_DEAD_LETTERS: usize = 20;
/// The span of the imports chart.
pub const IMPORTS_SPAN: Duration = Duration::hours(1);
/// One bar of the imports chart.
pub const IMPORTS_BUCKET: Duration = Duration::minutes(5);

/// Whether a connector works, as one word an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorState {
    /// Nothing holds its items.
    Healthy,
    /// Items are held by a problem only an operator can fix (see the reason).
    NeedsOperator { since: DateTime<Utc>, reason: String },
    /// The source's refresh token no longer works: the Authorization URL must be opened.
    ReauthorizationRequired { since: DateTime<Utc>, reason: String },
}

impl ConnectorState {
    /// The state's label (`healthy`, `needs operator`, `reauthorization required`).
    pub fn label(&self) -> &'static str {
        match self {
            ConnectorState::Healthy => "healthy",
            ConnectorState::NeedsOperator { .. } => "needs operator",
            ConnectorState::ReauthorizationRequired { .. } => "reauthorization required",
        }
    }

    /// An operator has something to do.
    pub fn needs_attention(&self) -> bool {
        !matches!(self, ConnectorState::Healthy)
    }
}

/// An item whose contacts are in WFO and whose audio the source has not given yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingItem {
    pub item_id: String,
    pub contacts: usize,
    pub imported: usize,
    pub without_audio: usize,
    pub next_check: DateTime<Utc>,
    /// The number of the next check (1-based).
    pub check: u32,
    pub give_up_at: DateTime<Utc>,
    /// The source said a capture was recorded, so one is expected.
    pub requested: bool,
}

/// An open item that is not moving normally (failed, held for an operator, waiting for
/// something other than audio).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemItem {
    pub item_id: String,
    /// [`LedgerItem::state_label`].
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// An item that gave up, with the backfill window that lists it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadItem {
    pub item_id: String,
    pub stage: Stage,
    pub attempts: u32,
    pub reason: Option<String>,
    /// The `wfo-connect backfill` command that revives it.
    pub retry: String,
}

/// Imports finished per [`IMPORTS_BUCKET`] over the last [`IMPORTS_SPAN`], oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportsChart {
    /// The start of the first bucket.
    pub from: DateTime<Utc>,
    pub bucket: Duration,
    pub counts: Vec<u32>,
    /// All [`LISTED_ITEMS`] read were within the span: older buckets may be short.
    pub truncated: bool,
}

impl ImportsChart {
    /// Counts the items that reached [`Stage::Done`] (by their last update) since
    /// `now - IMPORTS_SPAN`; `items` are the most recently updated first, `listed_all`
    /// says whether the listing was complete.
    pub fn from_items(items: &[LedgerItem], listed_all: bool, now: DateTime<Utc>) -> Self {
        let buckets = (IMPORTS_SPAN.num_seconds() / IMPORTS_BUCKET.num_seconds()).max(1) as usize;
        let from = now - IMPORTS_BUCKET * buckets as i32;
        let mut counts = vec![0u32; buckets];
        let mut oldest_in_span = true;
        for item in items {
            if item.updated_at < from {
                oldest_in_span = false;
                continue;
            }
            if item.stage != Stage::Done || item.updated_at > now {
                continue;
            }
            let index = ((item.updated_at - from).num_seconds() / IMPORTS_BUCKET.num_seconds()) as usize;
            if let Some(c) = counts.get_mut(index.min(buckets - 1)) {
                *c = c.saturating_add(1);
            }
        }
        Self {
            from,
            bucket: IMPORTS_BUCKET,
            counts,
            truncated: !listed_all && oldest_in_span && !items.is_empty(),
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }
}

/// Everything `status` shows of one connector that the store knows.
#[derive(Debug, Clone)]
pub struct ConnectorSummary {
    pub id: String,
    pub kind: ConnectorKind,
    pub acd_server_id: i64,
    pub state: ConnectorState,
    /// The needs-operator mark itself (also set while re-authorization is required).
    pub needs_operator: Option<NeedsOperator>,
    /// [`health::access_lines`]: token, consent, webhook, missed window.
    pub access: Vec<String>,
    pub counts: LedgerCounts,
    /// All open items waiting for their capture; [`ConnectorSummary::waiting`] keeps
    /// the first [`SHOWN`].
    pub waiting_total: usize,
    pub waiting: Vec<WaitingItem>,
    pub problems: Vec<ProblemItem>,
    pub dead: Vec<DeadItem>,
    /// What the import left out and why, most recent first: (item id, note).
    pub notes: Vec<(String, String)>,
    pub imports: ImportsChart,
}

/// Reads `connector`'s summary from the store.
pub async fn summarize(
    store: &dyn Store,
    connector: &StoredConnector,
    now: DateTime<Utc>,
) -> Result<ConnectorSummary, StoreError> {
    let cid = &connector.config.id;
    let access = health::access_lines(store, connector, now).await?;
    let needs_operator = attention::load(store, cid).await?;
    let tokens = store.get_tokens(cid).await?;
    let state = match (&tokens.reauth_required, &needs_operator) {
        (Some((since, reason)), _) => ConnectorState::ReauthorizationRequired {
            since: *since,
            reason: reason.clone(),
        },
        (None, Some(mark)) => ConnectorState::NeedsOperator {
            since: mark.since,
            reason: mark.reason.clone(),
        },
        (None, None) => ConnectorState::Healthy,
    };
    let counts = store.counts(cid).await?;
    let open = store.list(cid, true, LISTED_OPEN).await?;
    let awaits_audio = |i: &LedgerItem| i.health == Health::Waiting && i.audio_wait.is_some();
    let waiting_total = open.iter().filter(|i| awaits_audio(i)).count();
    let waiting = open
        .iter()
        .filter(|i| awaits_audio(i))
        .take(SHOWN)
        .filter_map(|item| {
            let w = item.audio_wait.as_ref()?;
            Some(WaitingItem {
                item_id: item.item_id.clone(),
                contacts: item.contacts.len(),
                imported: item.contacts.iter().filter(|c| c.contact_id.is_some()).count(),
                without_audio: item.contacts_awaiting_audio(),
                next_check: item.next_attempt_at.unwrap_or(w.next_check),
                check: w.checks.saturating_add(1),
                give_up_at: w.give_up_at,
                requested: w.requested,
            })
        })
        .collect();
    let problems = open
        .iter()
        .filter(|i| i.health != Health::Ok && !awaits_audio(i))
        .take(SHOWN)
        .map(|item| ProblemItem {
            item_id: item.item_id.clone(),
            state: item.state_label(),
            attempts: item.attempts,
            next_attempt_at: item.next_attempt_at,
            reason: item.last_error.clone(),
        })
        .collect();
    let all = store.list(cid, false, LISTED_ITEMS).await?;
    let dead = all
        .iter()
        .filter(|i| i.health == Health::Dead)
        .take(SHOWN)
        .map(|item| {
            // The backfill window that lists the recording again (it was created before
            // it was discovered; the poller looks a day back) and revives it.
            let from = (item.discovered_at - Duration::days(1)).date_naive();
            let to = (item.discovered_at + Duration::days(1)).date_naive();
            DeadItem {
                item_id: item.item_id.clone(),
                stage: item.stage,
                attempts: item.attempts,
                reason: item.last_error.clone(),
                retry: format!("wfo-connect backfill {cid} --from {from} --to {to}"),
            }
        })
        .collect();
    let notes = all
        .iter()
        .filter(|i| !i.notes.is_empty())
        .take(SHOWN)
        .flat_map(|i| i.notes.iter().map(|n| (i.item_id.clone(), n.clone())))
        .collect();
    let imports = ImportsChart::from_items(&all, all.len() < LISTED_ITEMS, now);
    Ok(ConnectorSummary {
        id: cid.clone(),
        kind: connector.config.kind,
        acd_server_id: connector.config.acd_server_id,
        state,
        needs_operator,
        access,
        counts,
        waiting_total,
        waiting,
        problems,
        dead,
        notes,
        imports,
    })
}

/// The work queue as `status` shows it (shared by every connector).
#[derive(Debug, Clone)]
pub struct QueueSummary {
    pub depth: u64,
    /// The first [`SHOWN_DEAD_LETTERS`]: (message body, why it was dead-lettered).
    pub dead_letters: Vec<(String, String)>,
}

pub async fn queue_summary(store: &dyn Store) -> Result<QueueSummary, StoreError> {
    let depth = store.depth().await?;
    let dead_letters = store
        .dead_letters(SHOWN_DEAD_LETTERS)
        .await?
        .into_iter()
        .map(|d| (d.body, d.dead_reason.unwrap_or_default()))
        .collect();
    Ok(QueueSummary { depth, dead_letters })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfo_domain::ledger::Discovery;

    fn item(id: &str, stage: Stage, updated_at: DateTime<Utc>) -> LedgerItem {
        let mut i = LedgerItem::discovered("c", id, Discovery::Webhook, updated_at);
        i.stage = stage;
        i.updated_at = updated_at;
        i
    }

    #[test]
    fn the_chart_counts_done_items_of_the_last_hour_in_five_minute_buckets() {
        let now = Utc::now();
        let items = vec![
            item("a", Stage::Done, now - Duration::seconds(10)),
            item("b", Stage::Done, now - Duration::minutes(4)),
            item("c", Stage::ContactsImported, now - Duration::minutes(6)),
            item("d", Stage::Done, now - Duration::minutes(59)),
            item("e", Stage::Done, now - Duration::minutes(61)),
        ];
        let chart = ImportsChart::from_items(&items, true, now);
        assert_eq!(chart.counts.len(), 12);
        assert_eq!(chart.counts[11], 2, "{chart:?}");
        assert_eq!(chart.counts[0], 1, "{chart:?}");
        assert_eq!(chart.total(), 3, "not done, or older than an hour, is not counted");
        assert!(!chart.truncated);
    }

    #[test]
    fn a_listing_that_stopped_inside_the_hour_marks_the_chart_truncated() {
        let now = Utc::now();
        let items = vec![item("a", Stage::Done, now - Duration::minutes(1))];
        assert!(ImportsChart::from_items(&items, false, now).truncated);
        let older = vec![
            item("a", Stage::Done, now - Duration::minutes(1)),
            item("b", Stage::Done, now - Duration::hours(2)),
        ];
        assert!(!ImportsChart::from_items(&older, false, now).truncated);
    }
}
