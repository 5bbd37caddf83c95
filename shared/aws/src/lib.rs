//! The AWS adapters: every port of `wfo_ports` on DynamoDB, SQS and KMS.
//!
//! | port | AWS | module |
//! |---|---|---|
//! | [`Ledger`](wfo_ports::Ledger) | DynamoDB ledger table, sparse GSIs `due` and `open` | [`ledger`] |
//! | [`WorkQueue`](wfo_ports::WorkQueue) | SQS queue + dead-letter queue (redrive) | [`queue`] |
//! | [`ConnectorStore`](wfo_ports::ConnectorStore) | DynamoDB connectors table, values KMS-enveloped | [`connectors`] |
//! | [`TokenStore`](wfo_ports::TokenStore) | DynamoDB tokens table (conditional), OAuth states in the state table | [`tokens`] |
//! | [`KvStore`](wfo_ports::KvStore) | DynamoDB state table: values and locks | [`kv`] |
//!
//! Secrets are encrypted per value ([`envelope`]): a KMS data key per value with the
//! row identity as KMS encryption context *and* as AEAD associated data, so a ciphertext
//! moved to another row does not decrypt and CloudTrail names the row of every decrypt.
//!
//! Names (tables, queues, key) come from the environment ([`AwsNames::from_env`]), which
//! the SAM stack sets for every function and operators set for `wfo-connect --backend aws`.

pub mod connectors;
pub mod envelope;
pub mod kv;
pub mod ledger;
pub mod provision;
pub mod queue;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use wfo_ports::StoreError;

pub use envelope::Envelope;

/// The environment variables that name the stack's resources.
pub mod env {
    pub const LEDGER_TABLE: &str = "WFO_LEDGER_TABLE";
    pub const CONNECTORS_TABLE: &str = "WFO_CONNECTORS_TABLE";
    pub const TOKENS_TABLE: &str = "WFO_TOKENS_TABLE";
    pub const STATE_TABLE: &str = "WFO_STATE_TABLE";
    pub const QUEUE_URL: &str = "WFO_QUEUE_URL";
    pub const DEAD_LETTER_QUEUE_URL: &str = "WFO_DEAD_LETTER_QUEUE_URL";
    pub const KMS_KEY_ID: &str = "WFO_KMS_KEY_ID";
    /// The public base URL of the HTTP API (redirect URIs, webhook targets).
    pub const PUBLIC_URL: &str = "WFO_PUBLIC_URL";
    /// The scheduler's dead-letter queue (failed scheduled runs). Optional: only
    /// `wfo-connect --backend aws dlq list` reads it, and shows it when it is set.
    pub const SCHEDULER_DEAD_LETTER_QUEUE_URL: &str = "WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL";
    pub const ALL: [&str; 7] = [
        LEDGER_TABLE,
        CONNECTORS_TABLE,
        TOKENS_TABLE,
        STATE_TABLE,
        QUEUE_URL,
        DEAD_LETTER_QUEUE_URL,
        KMS_KEY_ID,
    ];
}

/// A configuration problem found at cold start: fail fast, naming what to set.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (the SAM stack sets it; for the CLI, copy it from the stack outputs)")]
    Missing(&'static str),
}

/// The names of the stack's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    pub ledger_table: String,
    pub connectors_table: String,
    pub tokens_table: String,
    pub state_table: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub kms_key_id: String,
}

impl AwsNames {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let need = |k: &'static str| get(k).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(k));
        Ok(Self {
            ledger_table: need(env::LEDGER_TABLE)?,
            connectors_table: need(env::CONNECTORS_TABLE)?,
            tokens_table: need(env::TOKENS_TABLE)?,
            state_table: need(env::STATE_TABLE)?,
            queue_url: need(env::QUEUE_URL)?,
            dead_letter_queue_url: need(env::DEAD_LETTER_QUEUE_URL)?,
            kms_key_id: need(env::KMS_KEY_ID)?,
        })
    }
}

/// The SDK clients, built once per cold start.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Region, credentials and endpoints from the environment (the Lambda role; or the
    /// operator's profile for the CLI). `AWS_ENDPOINT_URL` is honoured by the SDK.
    pub async fn from_env() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&sdk)
    }

    /// A local emulator (moto) at `endpoint`: region us-east-1, static fake credentials.
    pub async fn for_emulator(endpoint: &str) -> Self {
        let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .load()
            .await;
        Self::from_sdk_config(&sdk)
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
        }
    }
}

/// Every port on AWS. Cheap to share behind an `Arc`.
pub struct AwsStore {
    pub(crate) ddb: aws_sdk_dynamodb::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    pub(crate) names: AwsNames,
    pub(crate) envelope: Envelope,
    /// Bodies of messages this process received through [`WorkQueue::receive`], by
    /// receipt handle, so `dead_letter(receipt)` can copy the body to the DLQ.
    pub(crate) received: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsStore").field("names", &self.names).finish()
    }
}

impl AwsStore {
    pub fn new(clients: &AwsClients, names: AwsNames) -> Self {
        let envelope = Envelope::new(clients.kms.clone(), names.kms_key_id.clone());
        Self {
            ddb: clients.dynamodb.clone(),
            sqs: clients.sqs.clone(),
            names,
            envelope,
            received: Mutex::new(HashMap::new()),
        }
    }

    pub fn names(&self) -> &AwsNames {
        &self.names
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

// --- shared helpers ----------------------------------------------------------------

/// An SDK failure as a store error: throttling, timeouts, missing tables and denied
/// access are all "unavailable" (retryable, and visible in the logs with their code); a
/// `ValidationException` (an item over 400 KB, a malformed request) is
/// [`StoreError::Invalid`]: repeating the same write can never succeed.
pub(crate) fn sdk_error<E, R>(what: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.as_service_error().and_then(|s| s.code()).map(str::to_owned);
    let text = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
    match code {
        Some(code) if code == "ValidationException" => StoreError::Invalid(format!("{what}: {code}: {text}")),
        Some(code) => StoreError::Unavailable(format!("{what}: {code}: {text}")),
        None => StoreError::Unavailable(format!("{what}: {text}")),
    }
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub(crate) fn get_n(item: &HashMap<String, AttributeValue>, k: &str) -> Option<i64> {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub(crate) fn get_b<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a [u8]> {
    item.get(k).and_then(|v| v.as_b().ok()).map(|b| b.as_ref())
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_environment_and_a_missing_one_is_named() {
        let full: HashMap<&str, &str> = env::ALL.iter().map(|k| (*k, "x")).collect();
        assert!(AwsNames::from_lookup(|k| full.get(k).map(|v| v.to_string())).is_ok());
        let err = AwsNames::from_lookup(|k| (k != env::QUEUE_URL).then(|| "x".to_owned())).unwrap_err();
        assert!(err.to_string().contains("WFO_QUEUE_URL"), "{err}");
    }
}
