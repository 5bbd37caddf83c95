//! Tokens on DynamoDB (partition key `connector_id`; `record` a KMS envelope of row
//! `tokens:{id}`; `version` for conditional writes) and OAuth `state` nonces in the
//! state table (`pk = oauth-state#{nonce}`, consumed by one conditional delete).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use wfo_ports::{StoreError, StoreResult, TokenRecord, TokenStore};

use crate::kv::{SK, ttl_secs};
use crate::{AwsStore, corrupt, get_b, get_n, get_s, ms, n, s, sdk_error};

fn tokens_row(id: &str) -> String {
    format!("tokens:{id}")
}

fn state_pk(nonce: &str) -> String {
    format!("oauth-state#{nonce}")
}

#[async_trait]
impl TokenStore for AwsStore {
    async fn get_tokens(&self, connector_id: &str) -> StoreResult<TokenRecord> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.names.tokens_table)
            .key("connector_id", s(connector_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("tokens get", e))?;
        let Some(row) = out.item() else {
            return Ok(TokenRecord {
                tokens: None,
                reauth_required: None,
                version: 0,
            });
        };
        let blob = get_b(row, "record").ok_or_else(|| corrupt(format!("tokens of {connector_id} without record")))?;
        let json = self.envelope.decrypt(blob, &tokens_row(connector_id)).await?;
        let mut rec: TokenRecord =
            serde_json::from_slice(&json).map_err(|e| corrupt(format!("tokens {connector_id}: {e}")))?;
        rec.version =
            get_n(row, "version").ok_or_else(|| corrupt(format!("tokens of {connector_id} without version")))?;
        Ok(rec)
    }

    async fn put_tokens(&self, connector_id: &str, record: &TokenRecord, expected_version: i64) -> StoreResult<i64> {
        let json = serde_json::to_vec(record).map_err(|e| corrupt(e.to_string()))?;
        let blob = AttributeValue::B(Blob::new(
            self.envelope.encrypt(&json, &tokens_row(connector_id)).await?,
        ));
        let new_version = expected_version + 1;
        let conflict = || StoreError::Conflict(format!("tokens of {connector_id}"));
        if expected_version == 0 {
            match self
                .ddb
                .put_item()
                .table_name(&self.names.tokens_table)
                .item("connector_id", s(connector_id))
                .item("record", blob)
                .item("version", n(new_version))
                .condition_expression("attribute_not_exists(connector_id)")
                .send()
                .await
            {
                Ok(_) => Ok(new_version),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Err(conflict())
                }
                Err(e) => Err(sdk_error("tokens put", e)),
            }
        } else {
            match self
                .ddb
                .update_item()
                .table_name(&self.names.tokens_table)
                .key("connector_id", s(connector_id))
                .update_expression("SET #r = :r, version = :new")
                .condition_expression("version = :old")
                .expression_attribute_names("#r", "record")
                .expression_attribute_values(":r", blob)
                .expression_attribute_values(":new", n(new_version))
                .expression_attribute_values(":old", n(expected_version))
                .send()
                .await
            {
                Ok(_) => Ok(new_version),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Err(conflict())
                }
                Err(e) => Err(sdk_error("tokens put", e)),
            }
        }
    }

    async fn put_oauth_state(&self, nonce: &str, connector_id: &str, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let result = self
            .ddb
            .put_item()
            .table_name(&self.names.state_table)
            .item("pk", s(state_pk(nonce)))
            .item("sk", s(SK))
            .item("connector_id", s(connector_id))
            .item("expires_at", n(ms(expires_at)))
            .item("ttl", n(ttl_secs(expires_at)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict("oauth state nonce already issued".to_owned()))
            }
            Err(e) => Err(sdk_error("oauth state put", e)),
        }
    }

    async fn take_oauth_state(&self, nonce: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        let out = self
            .ddb
            .delete_item()
            .table_name(&self.names.state_table)
            .set_key(Some(HashMap::from([
                ("pk".to_owned(), s(state_pk(nonce))),
                ("sk".to_owned(), s(SK)),
            ])))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("oauth state take", e))?;
        // Expiry is checked here, not trusted to TTL (which deletes late, up to days).
        Ok(out.attributes().and_then(|row| {
            let expires = get_n(row, "expires_at")?;
            (expires >= ms(now))
                .then(|| get_s(row, "connector_id").map(str::to_owned))
                .flatten()
        }))
    }
}
