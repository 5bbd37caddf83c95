//! The import worker: one SQS batch → [`Importer::process`] per message → partial batch
//! failures.
//!
//! The ledger drives time (`docs/design.md`): every outcome the ledger recorded (done,
//! retry later, waiting, dead, busy) **acknowledges** the message; the ledger's
//! `next_attempt_at` and the sweeper bring the item back. A message is reported as a
//! `BatchItemFailure` only when it must come back through SQS:
//!
//! | message | what happens | reported failed |
//! |---|---|---|
//! | processed, ledger recorded the outcome | acknowledged | no |
//! | a ledger write (lease, put) failed: throttled, timed out, denied | SQS redelivers after the visibility timeout | **yes** |
//! | malformed body, or names no ledger item | copied to the DLQ with `dead_reason`, then deleted (kept, visible) | no |
//! | …and the copy to the DLQ failed | left in the queue (redrive moves it after `maxReceiveCount`) | **yes** |
//!
//! A Lambda timeout mid-step (say, in an audio upload) fails the whole invocation: the
//! messages come back after the visibility timeout, find the item leased until the
//! lease expires, and the item resumes from its last recorded step (every step is
//! idempotent: contacts by `externalId`, audio uploads replace).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::Instrument;
use wfo_aws::AwsStore;
use wfo_aws::ledger::watch_ledger_writes;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::import::{ImportSettings, Importer, Outcome};
use wfo_pipeline::ports::{Ledger, Store, WorkMessage};

use crate::InitError;

/// Time kept back from the invocation's deadline to save the item of a cut-off step.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Built once per cold start.
pub struct WorkerDeps {
    pub store: Arc<AwsStore>,
    pub importer: Importer,
    /// Messages of one batch processed at once.
    pub concurrency: usize,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageResult {
    Acked(String),
    DeadLettered(String),
    /// Must come back through SQS.
    Failed(String),
}

impl WorkerDeps {
    pub fn new(store: Arc<AwsStore>, settings: ImportSettings, concurrency: usize) -> Result<Self, InitError> {
        let dyn_store: Arc<dyn Store> = store.clone();
        let connections = Connections::new(dyn_store, wfo_sources::Sources::shared(), settings.http_policy.clone())?;
        let importer = Importer::new(connections, settings);
        Ok(Self {
            store,
            importer,
            concurrency: concurrency.max(1),
        })
    }

    /// One SQS batch. The response lists exactly the messages SQS must deliver again.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_until(event, None).await
    }

    /// [`Self::handle_batch`] within the invocation's deadline (epoch milliseconds, as the
    /// Lambda context gives it): every step's budget is what remains less a margin, so a
    /// step is cut off and its item saved before Lambda stops the process.
    pub async fn handle_batch_until(&self, event: SqsEvent, deadline_epoch_ms: Option<u64>) -> SqsBatchResponse {
        let deadline = deadline_epoch_ms.map(|ms| {
            let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
            let left = std::time::Duration::from_millis(ms.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN);
            tokio::time::Instant::now() + left
        });

        let results: Vec<(String, MessageResult)> = futures::stream::iter(event.records)
            .map(|m| async move {
                let id = m.message_id.clone().unwrap_or_default();
                let span = tracing::info_span!("message", message_id = %id, connector = tracing::field::Empty, item = tracing::field::Empty);
                let result = self.handle_message(m, deadline).instrument(span).await;
                (id, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for (id, result) in results {
            if matches!(result, MessageResult::Failed(_)) {
                response.add_failure(id);
            }
        }
        response
    }

    async fn handle_message(&self, m: SqsMessage, deadline: Option<tokio::time::Instant>) -> MessageResult {
        let id = m.message_id.clone().unwrap_or_default();
        let body = m.body.clone().unwrap_or_default();
        let Some(receipt) = m.receipt_handle.clone() else {
            tracing::error!(body = %body, "message without a receipt handle: reported failed");
            return MessageResult::Failed("no receipt handle".to_owned());
        };
        let work: WorkMessage = match serde_json::from_str(&body) {
            Ok(w) => w,
            Err(e) => return self.dead_letter(&receipt, &body, &format!("malformed: {e}")).await,
        };
        let span = tracing::Span::current();
        span.record("connector", work.connector_id.as_str());
        span.record("item", work.item_id.as_str());
        let (outcome, write_failed) =
            watch_ledger_writes(self.importer.process_until(&work.connector_id, &work.item_id, deadline)).await;
        if write_failed {
            tracing::error!(outcome = ?outcome, "a ledger write failed: the message is reported failed and SQS delivers it again");
            return MessageResult::Failed(format!(
                "ledger write failed for {}/{}",
                work.connector_id, work.item_id
            ));
        }
        match outcome {
            Outcome::Unknown => self.dead_letter(&receipt, &body, "names no ledger item").await,
            Outcome::Done => MessageResult::Acked(format!("{id}: done")),
            Outcome::Later(at) => MessageResult::Acked(format!("{id}: next attempt {at}")),
            // A lease is refused both when another worker holds the item and when there
            // is no such item: tell the two apart.
            Outcome::Busy => match self.store.get(&work.connector_id, &work.item_id).await {
                Ok(None) => self.dead_letter(&receipt, &body, "names no ledger item").await,
                Ok(Some(_)) => MessageResult::Acked(format!("{id}: another worker holds it")),
                Err(e) => {
                    // The ledger holds the item's schedule either way; ack.
                    tracing::warn!(error = %e, "cannot tell a busy item from an unknown one; acked");
                    MessageResult::Acked(format!("{id}: busy or unknown"))
                }
            },
            // The importer logged it (error level, with the reason and any trackingId).
            Outcome::Dead(reason) => MessageResult::Acked(format!("{id}: dead: {reason}")),
        }
    }

    async fn dead_letter(&self, receipt: &str, body: &str, reason: &str) -> MessageResult {
        match self.store.dead_letter_message(receipt, body, reason).await {
            Ok(()) => {
                tracing::error!(body = %body, reason, "message moved to the dead-letter queue");
                MessageResult::DeadLettered(reason.to_owned())
            }
            Err(e) => {
                tracing::error!(body = %body, reason, error = %e, "cannot move the message to the dead-letter queue: reported failed so it is not lost");
                MessageResult::Failed(e.to_string())
            }
        }
    }
}
