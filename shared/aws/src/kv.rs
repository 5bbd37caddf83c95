//! Values and locks in the DynamoDB state table (partition key `pk`, sort key `sk`):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | value | `kv#{connector}` | key | `value` (JSON text) |
//! | lock | `lock#{name}` | `-` | `owner`, `expires_at` (ms), `ttl` |
//! | OAuth state | `oauth-state#{nonce}` | `-` | `connector_id`, `expires_at` (ms), `ttl` |
//!
//! `ttl` (epoch seconds) lets DynamoDB's TTL clean expired locks and states up; expiry
//! itself is always checked in code, since TTL deletes late.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wfo_ports::{KvStore, StoreResult};

use crate::{AwsStore, corrupt, get_s, ms, n, s, sdk_error};

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
}
