//! Create the stack's tables, queues and key on a local emulator, with the same schema
//! as `infra/template.yaml` (keep the two in step). Used by the tests against moto; a
//! real deployment creates these with SAM.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use wfo_ports::StoreError;

use crate::ledger::{DUE_INDEX, OPEN_INDEX};
use crate::{AwsClients, AwsNames, corrupt, sdk_error};

fn attr(name: &str, t: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .map_err(corrupt)
}

fn key(name: &str, t: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .map_err(corrupt)
}

fn gsi(name: &str, hash: &str, range: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(range, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(corrupt)
}

/// Create every resource, named with `prefix`, and return the names.
pub async fn create_all(clients: &AwsClients, prefix: &str) -> Result<AwsNames, StoreError> {
    use ScalarAttributeType::{N, S};
    let ddb = &clients.dynamodb;
    let ledger = format!("{prefix}-ledger");
    ddb.create_table()
        .table_name(&ledger)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("connector_id", S)?)
        .attribute_definitions(attr("item_id", S)?)
        .attribute_definitions(attr("due_shard", S)?)
        .attribute_definitions(attr("next_at", N)?)
        .attribute_definitions(attr("open_of", S)?)
        .attribute_definitions(attr("updated_at", N)?)
        .key_schema(key("connector_id", KeyType::Hash)?)
        .key_schema(key("item_id", KeyType::Range)?)
        .global_secondary_indexes(gsi(DUE_INDEX, "due_shard", "next_at")?)
        .global_secondary_indexes(gsi(OPEN_INDEX, "open_of", "updated_at")?)
        .send()
        .await
        .map_err(|e| sdk_error("create ledger table", e))?;
    let connectors = format!("{prefix}-connectors");
    ddb.create_table()
        .table_name(&connectors)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("id", S)?)
        .key_schema(key("id", KeyType::Hash)?)
        .send()
        .await
        .map_err(|e| sdk_error("create connectors table", e))?;
    let tokens = format!("{prefix}-tokens");
    ddb.create_table()
        .table_name(&tokens)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("connector_id", S)?)
        .key_schema(key("connector_id", KeyType::Hash)?)
        .send()
        .await
        .map_err(|e| sdk_error("create tokens table", e))?;
    let state = format!("{prefix}-state");
    ddb.create_table()
        .table_name(&state)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", S)?)
        .attribute_definitions(attr("sk", S)?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(|e| sdk_error("create state table", e))?;

    let sqs = &clients.sqs;
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-imports-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| sdk_error("create DLQ", e))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("DLQ arn", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-imports"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(|e| sdk_error("create queue", e))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();

    let key_id = clients
        .kms
        .create_key()
        .description(format!("{prefix} secrets"))
        .send()
        .await
        .map_err(|e| sdk_error("create key", e))?
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .unwrap_or_default();

    Ok(AwsNames {
        ledger_table: ledger,
        connectors_table: connectors,
        tokens_table: tokens,
        state_table: state,
        queue_url,
        dead_letter_queue_url: dlq_url,
        kms_key_id: key_id,
    })
}
