//! Values and locks in the DynamoDB state table (partition key `pk`, sort key `sk`):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | value | `kv#{connector}` | key | `value` (JSON text) |
//! | lock | `lock#{name}` | `-` | `owner`, `expires_at` (ms), `ttl` |
//! | OAuth state | `oauth-state#{nonce}` | `-` | `connector_id`, `expires_at` (ms), `ttl` |
//! | quota counter | `quota#{bucket}` | window start (epoch ms) | `count`, `expires_at` (ms), `ttl` |
//!
//! `ttl` (epoch seconds) lets DynamoDB's TTL clean expired locks, states and quota
//! counters up; expiry itself is always checked in code, since TTL deletes late (a quota
//! counter's expiry is cleanup only: see [`KvStore::take_quota`]).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wfo_ports::{KvStore, StoreResult};

use aws_sdk_dynamodb::types::ReturnValue;

use crate::{AwsStore, corrupt, get_n, get_s, ms, n, s, sdk_error};

/// The sort key of single-item partitions (locks, OAuth states).
pub const SK: &str = "-";

/// TTL attribute value: a day after `at`, in epoch seconds.
pub(crate) fn ttl_secs(at: DateTime<Utc>) -> i64 {
    at.timestamp() + 86_400
}

fn kv_pk(connector_id: &str) -> String {
    format!("kv#{connector_id}")
}

fn lock_pk(name: &str) -> String {
    format!("lock#{name}")
}

fn quota_pk(bucket: &str) -> String {
    format!("quota#{bucket}")
}

#[async_trait]
impl KvStore for AwsStore {
    async fn get_value(&self, connector_id: &str, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.names.state_table)
            .key("pk", s(kv_pk(connector_id)))
            .key("sk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("kv get", e))?;
        out.item()
            .and_then(|row| get_s(row, "value"))
            .map(|v| serde_json::from_str(v).map_err(|e| corrupt(format!("{connector_id}/{key}: {e}"))))
            .transpose()
    }

    async fn put_value(&self, connector_id: &str, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        self.ddb
            .put_item()
            .table_name(&self.names.state_table)
            .item("pk", s(kv_pk(connector_id)))
            .item("sk", s(key))
            .item("value", s(value.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error("kv put", e))?;
        Ok(())
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
        let result = self
            .ddb
            .put_item()
            .table_name(&self.names.state_table)
            .item("pk", s(lock_pk(name)))
            .item("sk", s(SK))
            .item("owner", s(owner))
            .item("expires_at", n(ms(until)))
            .item("ttl", n(ttl_secs(until)))
            .condition_expression("attribute_not_exists(pk) OR #o = :o OR expires_at < :now")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":now", n(ms(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("lock", e)),
        }
    }

    async fn unlock(&self, name: &str, owner: &str) -> StoreResult<()> {
        let result = self
            .ddb
            .delete_item()
            .table_name(&self.names.state_table)
            .key("pk", s(lock_pk(name)))
            .key("sk", s(SK))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("unlock", e)),
        }
    }

    /// One `UpdateItem`: `ADD count :n` under the condition that the counter is absent or
    /// at most `limit - n`, so concurrent takers (any Lambda, any connector) never push it
    /// past `limit`. A failed condition is `None`: nothing was added.
    async fn take_quota(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> StoreResult<Option<u32>> {
        let Some(max_before) = limit.checked_sub(n) else {
            return Ok(None);
        };
        let expires_at = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|d| window_start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let result = self
            .ddb
            .update_item()
            .table_name(&self.names.state_table)
            .key("pk", s(quota_pk(bucket)))
            .key("sk", s(ms(window_start).to_string()))
            .update_expression("ADD #c :n SET expires_at = :exp, #t = :ttl")
            .condition_expression("attribute_not_exists(#c) OR #c <= :max_before")
            .expression_attribute_names("#c", "count")
            .expression_attribute_names("#t", "ttl")
            .expression_attribute_values(":n", crate::n(i64::from(n)))
            .expression_attribute_values(":max_before", crate::n(i64::from(max_before)))
            .expression_attribute_values(":exp", crate::n(ms(expires_at)))
            .expression_attribute_values(":ttl", crate::n(ttl_secs(expires_at)))
            // The whole (small) item: moto answers `UPDATED_NEW` of an `ADD` without the attribute.
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let total = out
                    .attributes()
                    .and_then(|row| get_n(row, "count"))
                    .ok_or_else(|| corrupt(format!("quota {bucket}: the update returned no count")))?;
                u32::try_from(total)
                    .map(Some)
                    .map_err(|_| corrupt(format!("quota {bucket}: count {total}")))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("take quota", e)),
        }
    }
}
