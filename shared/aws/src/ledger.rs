//! The ledger on DynamoDB.
//!
//! One item per source item: partition key `connector_id`, sort key `item_id`. The
//! record itself is the JSON `body`; beside it, the attributes conditions and indexes
//! need: `version`, `updated_at` (ms), `state`, `done`, the lease (`lease_owner`,
//! `lease_until` ms) and, **only while the item is open**, the index keys below.
//!
//! ## `due` without a scan: the sparse GSI `due`
//!
//! An open item carries `due_shard` (one of [`DUE_SHARDS`] values, a stable hash of
//! its key) and `next_at` (its `next_attempt_at` in ms); a finished or dead item has
//! both removed. DynamoDB puts only items that have the index keys into a GSI, so the
//! `due` index holds exactly the open items: done items, the vast majority of the
//! table, cost nothing there. `due(now)` queries each shard with
//! `due_shard = :s AND next_at <= :now` (sorted by `next_at`, oldest first) and filters
//! out items leased past `now`; it reads only open items that are due (plus the few
//! leased ones). Shards spread index writes over several partitions, so a burst of
//! imports cannot make one index partition throttle the table.
//!
//! The sparse GSI `open` (`open_of` = connector id, `updated_at`) serves
//! `list(connector, only_open)` newest first the same way. `list(connector, all)` and
//! `counts` read the connector's whole partition: they serve `status`, an operator
//! command.
//!
//! GSI reads are eventually consistent: the sweeper may see an item a moment late, or
//! with an older version; its conditional write then conflicts and the next sweep
//! picks the item up. Every write that matters is conditional on the base table.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use chrono::{DateTime, Utc};
use wfo_domain::ledger::{Discovery, LedgerItem};
use wfo_ports::{Discovered, Ledger, LedgerCounts, StoreError, StoreResult};

use crate::{AwsStore, corrupt, get_n, get_s, ms, n, s, sdk_error};

tokio::task_local! {
    static WRITE_FAILED: std::cell::Cell<bool>;
}

/// Run `fut` and tell whether a ledger write in it (a lease or a put) failed for a
/// reason other than a conflict: throttling, a timeout, denied access. The import worker
/// reports exactly those messages as batch item failures; everything else the ledger
/// already holds. Works per future, so concurrent messages of one batch stay apart.
pub async fn watch_ledger_writes<F: std::future::Future>(fut: F) -> (F::Output, bool) {
    WRITE_FAILED
        .scope(std::cell::Cell::new(false), async move {
            let out = fut.await;
            (out, WRITE_FAILED.with(|c| c.get()))
        })
        .await
}

fn note_write_failure() {
    let _ = WRITE_FAILED.try_with(|c| c.set(true));
}

/// Index partitions of the `due` GSI.
pub const DUE_SHARDS: u32 = 8;
pub const DUE_INDEX: &str = "due";
pub const OPEN_INDEX: &str = "open";

/// A stable shard for an item (FNV-1a; std's hasher is not stable across releases).
pub fn due_shard(connector_id: &str, item_id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in connector_id.bytes().chain([0u8]).chain(item_id.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % DUE_SHARDS).to_string()
}

fn key(connector_id: &str, item_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("connector_id".to_owned(), s(connector_id)),
        ("item_id".to_owned(), s(item_id)),
    ])
}

fn decode(row: &HashMap<String, AttributeValue>) -> StoreResult<LedgerItem> {
    let body = get_s(row, "body").ok_or_else(|| corrupt("ledger item without body"))?;
    let mut item: LedgerItem = serde_json::from_str(body).map_err(|e| corrupt(format!("ledger item: {e}")))?;
    item.version = get_n(row, "version").ok_or_else(|| corrupt("ledger item without version"))?;
    Ok(item)
}

fn body_of(item: &LedgerItem) -> StoreResult<String> {
    let body = serde_json::to_string(item).map_err(|e| corrupt(e.to_string()))?;
    wfo_ports::check_item_size(&item.connector_id, &item.item_id, &body)?;
    Ok(body)
}

impl AwsStore {
    fn ledger_table(&self) -> &str {
        &self.names.ledger_table
    }

    /// Take the lease of an item for `owner` when it is free, already theirs or ran out:
    /// `None` when it was not taken (another holds it, or there is no such item), else the
    /// attributes `returning` asks for (none for [`ReturnValue::None`]).
    async fn take_lease(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
        returning: ReturnValue,
    ) -> StoreResult<Option<HashMap<String, AttributeValue>>> {
        let until = ms(now) + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let result = self
            .ddb
            .update_item()
            .table_name(self.ledger_table())
            .set_key(Some(key(connector_id, item_id)))
            .update_expression("SET lease_owner = :o, lease_until = :u")
            .condition_expression(
                "attribute_exists(connector_id) AND (attribute_not_exists(lease_owner) OR lease_owner = :o OR lease_until < :now)",
            )
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", n(until))
            .expression_attribute_values(":now", n(ms(now)))
            .return_values(returning)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => {
                note_write_failure();
                Err(sdk_error("ledger lease", e))
            }
        }
    }

    /// Run a query to the end (or until `want` items were kept), following pages.
    async fn query_all(
        &self,
        build: impl Fn() -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        want: usize,
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = build()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("ledger query", e))?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if out.len() < want => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Ledger for AwsStore {
    async fn discover(
        &self,
        connector_id: &str,
        item_id: &str,
        by: Discovery,
        now: DateTime<Utc>,
    ) -> StoreResult<Discovered> {
        let item = LedgerItem::discovered(connector_id, item_id, by, now);
        let mut row = key(connector_id, item_id);
        row.insert("body".into(), s(body_of(&item)?));
        row.insert("version".into(), n(1));
        row.insert("updated_at".into(), n(ms(now)));
        row.insert("state".into(), s(item.state_label()));
        row.insert("done".into(), n(0));
        if let Some(at) = item.next_attempt_at {
            row.insert("due_shard".into(), s(due_shard(connector_id, item_id)));
            row.insert("next_at".into(), n(ms(at)));
        }
        row.insert("open_of".into(), s(connector_id));
        let result = self
            .ddb
            .put_item()
            .table_name(self.ledger_table())
            .set_item(Some(row))
            .condition_expression("attribute_not_exists(connector_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Discovered::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Discovered::Known)
            }
            Err(e) => Err(sdk_error("ledger discover", e)),
        }
    }

    async fn get(&self, connector_id: &str, item_id: &str) -> StoreResult<Option<LedgerItem>> {
        let out = self
            .ddb
            .get_item()
            .table_name(self.ledger_table())
            .set_key(Some(key(connector_id, item_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("ledger get", e))?;
        out.item().map(decode).transpose()
    }

    async fn put(&self, item: &LedgerItem) -> StoreResult<i64> {
        let open = !item.is_terminal();
        let mut set = vec![
            "body = :body",
            "version = :new",
            "updated_at = :upd",
            "#state = :state",
            "done = :done",
        ];
        let mut remove = Vec::new();
        let mut values = HashMap::from([
            (":body".to_owned(), s(body_of(item)?)),
            (":new".to_owned(), n(item.version + 1)),
            (":old".to_owned(), n(item.version)),
            (":upd".to_owned(), n(ms(item.updated_at))),
            (":state".to_owned(), s(item.state_label())),
            (":done".to_owned(), n(i64::from(!open))),
        ]);
        match (open, item.next_attempt_at) {
            (true, Some(at)) => {
                set.extend(["due_shard = :shard", "next_at = :next"]);
                values.insert(":shard".into(), s(due_shard(&item.connector_id, &item.item_id)));
                values.insert(":next".into(), n(ms(at)));
            }
            _ => remove.extend(["due_shard", "next_at"]),
        }
        if open {
            set.push("open_of = :of");
            values.insert(":of".into(), s(&item.connector_id));
        } else {
            // A finished item's lease ends with it (the port's rule: no release after).
            remove.extend(["open_of", "lease_owner", "lease_until"]);
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = self
            .ddb
            .update_item()
            .table_name(self.ledger_table())
            .set_key(Some(key(&item.connector_id, &item.item_id)))
            .update_expression(expr)
            .condition_expression("version = :old")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(item.version + 1),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "ledger item {}/{}",
                    item.connector_id, item.item_id
                )))
            }
            Err(e) => {
                note_write_failure();
                Err(sdk_error("ledger put", e))
            }
        }
    }

    async fn lease(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self
            .take_lease(connector_id, item_id, owner, lease, now, ReturnValue::None)
            .await?
            .is_some())
    }

    /// One `UpdateItem` that answers the item as leased (`ALL_NEW`), instead of a lease
    /// and then a strongly consistent read.
    async fn lease_get(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LedgerItem>> {
        match self
            .take_lease(connector_id, item_id, owner, lease, now, ReturnValue::AllNew)
            .await?
        {
            Some(row) => decode(&row).map(Some),
            None => Ok(None),
        }
    }

    async fn release(&self, connector_id: &str, item_id: &str, owner: &str) -> StoreResult<()> {
        let result = self
            .ddb
            .update_item()
            .table_name(self.ledger_table())
            .set_key(Some(key(connector_id, item_id)))
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not ours (taken over after expiry) or gone: nothing to release.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("ledger release", e)),
        }
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        let now_ms = ms(now);
        let queries = (0..DUE_SHARDS).map(|shard| {
            self.query_all(
                move || {
                    self.ddb
                        .query()
                        .table_name(self.ledger_table())
                        .index_name(DUE_INDEX)
                        .key_condition_expression("due_shard = :s AND next_at <= :now")
                        .filter_expression("attribute_not_exists(lease_until) OR lease_until < :now")
                        .expression_attribute_values(":s", s(shard.to_string()))
                        .expression_attribute_values(":now", n(now_ms))
                },
                limit,
            )
        });
        let pages = futures::future::try_join_all(queries).await?;
        let mut rows: Vec<(i64, LedgerItem)> = Vec::new();
        for row in pages.iter().flatten() {
            rows.push((get_n(row, "next_at").unwrap_or(0), decode(row)?));
        }
        rows.sort_by_key(|r| r.0);
        Ok(rows.into_iter().take(limit).map(|(_, item)| item).collect())
    }

    async fn list(&self, connector_id: &str, only_open: bool, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        let rows = if only_open {
            self.query_all(
                || {
                    self.ddb
                        .query()
                        .table_name(self.ledger_table())
                        .index_name(OPEN_INDEX)
                        .key_condition_expression("open_of = :c")
                        .expression_attribute_values(":c", s(connector_id))
                        .scan_index_forward(false)
                },
                limit,
            )
            .await?
        } else {
            self.query_all(
                || {
                    self.ddb
                        .query()
                        .table_name(self.ledger_table())
                        .key_condition_expression("connector_id = :c")
                        .expression_attribute_values(":c", s(connector_id))
                },
                usize::MAX,
            )
            .await?
        };
        let mut items: Vec<(i64, LedgerItem)> = rows
            .iter()
            .map(|r| Ok((get_n(r, "updated_at").unwrap_or(0), decode(r)?)))
            .collect::<StoreResult<_>>()?;
        items.sort_by_key(|i| std::cmp::Reverse(i.0));
        Ok(items.into_iter().take(limit).map(|(_, i)| i).collect())
    }

    async fn counts(&self, connector_id: &str) -> StoreResult<LedgerCounts> {
        let rows = self
            .query_all(
                || {
                    self.ddb
                        .query()
                        .table_name(self.ledger_table())
                        .key_condition_expression("connector_id = :c")
                        .expression_attribute_values(":c", s(connector_id))
                        .select(Select::SpecificAttributes)
                        .projection_expression("#state")
                        .expression_attribute_names("#state", "state")
                },
                usize::MAX,
            )
            .await?;
        let mut counts = LedgerCounts::default();
        for row in &rows {
            let label = get_s(row, "state").ok_or_else(|| corrupt("ledger item without state"))?;
            *counts.by_state.entry(label.to_owned()).or_default() += 1;
            counts.total += 1;
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(due_shard("c", "r1"), due_shard("c", "r1"));
        let used: std::collections::BTreeSet<String> =
            (0..200).map(|i| due_shard("conn", &format!("rec-{i}"))).collect();
        assert_eq!(used.len(), DUE_SHARDS as usize, "every shard gets items");
    }
}
