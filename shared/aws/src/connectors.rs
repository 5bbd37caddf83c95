//! Connectors on DynamoDB: partition key `id`; `config` and `secrets` are KMS envelopes
//! (rows `connector:{id}` and `connector-secrets:{id}`, as in the embedded store);
//! `created_at` in ms. The generated secrets are written once, by a conditional insert,
//! and kept by every update.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use wfo_domain::config::ConnectorConfig;
use wfo_ports::{ConnectorSecrets, ConnectorStore, StoreError, StoreResult, StoredConnector};

use crate::{AwsStore, corrupt, from_ms, get_b, get_n, get_s, ms, n, s, sdk_error};

fn config_row(id: &str) -> String {
    format!("connector:{id}")
}

fn secrets_row(id: &str) -> String {
    format!("connector-secrets:{id}")
}

impl AwsStore {
    async fn decode_connector(&self, row: &HashMap<String, AttributeValue>) -> StoreResult<StoredConnector> {
        let id = get_s(row, "id").ok_or_else(|| corrupt("connector without id"))?;
        let config = get_b(row, "config").ok_or_else(|| corrupt(format!("connector {id} without config")))?;
        let secrets = get_b(row, "secrets").ok_or_else(|| corrupt(format!("connector {id} without secrets")))?;
        let config = self.envelope.decrypt(config, &config_row(id)).await?;
        let config: ConnectorConfig =
            serde_json::from_slice(&config).map_err(|e| corrupt(format!("connector {id}: {e}")))?;
        let secrets = self.envelope.decrypt(secrets, &secrets_row(id)).await?;
        let secrets: ConnectorSecrets =
            serde_json::from_slice(&secrets).map_err(|e| corrupt(format!("connector {id} secrets: {e}")))?;
        Ok(StoredConnector {
            config,
            secrets,
            created_at: from_ms(get_n(row, "created_at").unwrap_or(0)),
        })
    }

    async fn connector_row(&self, id: &str) -> StoreResult<Option<HashMap<String, AttributeValue>>> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.names.connectors_table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("connector get", e))?;
        Ok(out.item().cloned())
    }
}

#[async_trait]
impl ConnectorStore for AwsStore {
    async fn put_connector(&self, config: &ConnectorConfig, now: DateTime<Utc>) -> StoreResult<StoredConnector> {
        let id = config.id.as_str();
        let json = serde_json::to_vec(config).map_err(|e| corrupt(e.to_string()))?;
        let config_blob = self.envelope.encrypt(&json, &config_row(id)).await?;
        // Two rounds at most: an insert that loses a race becomes an update.
        for _ in 0..2 {
            if self.connector_row(id).await?.is_some() {
                let updated = self
                    .ddb
                    .update_item()
                    .table_name(&self.names.connectors_table)
                    .key("id", s(id))
                    .update_expression("SET config = :c")
                    .condition_expression("attribute_exists(id)")
                    .expression_attribute_values(":c", AttributeValue::B(Blob::new(config_blob.clone())))
                    .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                    .send()
                    .await;
                match updated {
                    Ok(out) => {
                        let row = out.attributes().cloned().unwrap_or_default();
                        return self.decode_connector(&row).await;
                    }
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        continue;
                    }
                    Err(e) => return Err(sdk_error("connector update", e)),
                }
            }
            let secrets = serde_json::to_vec(&ConnectorSecrets::generate()).map_err(|e| corrupt(e.to_string()))?;
            let secrets_blob = self.envelope.encrypt(&secrets, &secrets_row(id)).await?;
            let row = HashMap::from([
                ("id".to_owned(), s(id)),
                ("config".to_owned(), AttributeValue::B(Blob::new(config_blob.clone()))),
                ("secrets".to_owned(), AttributeValue::B(Blob::new(secrets_blob))),
                ("created_at".to_owned(), n(ms(now))),
            ]);
            let inserted = self
                .ddb
                .put_item()
                .table_name(&self.names.connectors_table)
                .set_item(Some(row.clone()))
                .condition_expression("attribute_not_exists(id)")
                .send()
                .await;
            match inserted {
                Ok(_) => return self.decode_connector(&row).await,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    continue;
                }
                Err(e) => return Err(sdk_error("connector insert", e)),
            }
        }
        Err(StoreError::Conflict(format!("connector {id}")))
    }

    async fn get_connector(&self, id: &str) -> StoreResult<Option<StoredConnector>> {
        match self.connector_row(id).await? {
            Some(row) => Ok(Some(self.decode_connector(&row).await?)),
            None => Ok(None),
        }
    }

    async fn rotate_webhook_secret(&self, id: &str) -> StoreResult<StoredConnector> {
        let row = self
            .connector_row(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("connector {id}")))?;
        let current = self.decode_connector(&row).await?;
        let rotated =
            serde_json::to_vec(&current.secrets.with_new_webhook_secret()).map_err(|e| corrupt(e.to_string()))?;
        let blob = self.envelope.encrypt(&rotated, &secrets_row(id)).await?;
        let out = self
            .ddb
            .update_item()
            .table_name(&self.names.connectors_table)
            .key("id", s(id))
            .update_expression("SET secrets = :s")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":s", AttributeValue::B(Blob::new(blob)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("connector secret rotation", e))?;
        self.decode_connector(&out.attributes().cloned().unwrap_or_default())
            .await
    }

    async fn list_connectors(&self) -> StoreResult<Vec<StoredConnector>> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.names.connectors_table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("connector scan", e))?;
            rows.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.decode_connector(row).await?);
        }
        out.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        Ok(out)
    }
}
