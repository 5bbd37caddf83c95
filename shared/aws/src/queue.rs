//! The work queue on SQS, with a dead-letter queue.
//!
//! - `send` → SendMessage (`DelaySeconds` is capped at SQS's 900 s; the ledger, not the
//!   queue, holds the schedule, and production code only sends with no delay).
//! - `receive` → ReceiveMessage (up to 10 per call, repeated up to `max`); visibility is
//!   rounded **up** to whole seconds, SQS's unit. Receipts are SQS receipt handles.
//! - `ack` → DeleteMessage; `retry_later` → ChangeMessageVisibility.
//! - `dead_letter` → SendMessage to the DLQ with the reason as the message attribute
//!   `dead_reason`, **then** DeleteMessage: a message is never deleted before its copy
//!   is safe. Messages SQS itself moves there (redrive after `maxReceiveCount`) carry no
//!   reason; `dead_letters` reports them as redriven.
//! - `dead_letters` → ReceiveMessage on the DLQ with visibility 0: reads without
//!   deleting or hiding. The time of each is the DLQ's `SentTimestamp`.
//! - `redrive(message_id)` → the DLQ is read with its messages hidden for a moment until
//!   that id comes up; SendMessage of its body to the import queue, **then** DeleteMessage
//!   from the DLQ; the others read on the way are made visible again at once.
//!   `redrive_all` → ReceiveMessage on the DLQ, then send and delete each, page by page.
//!   A crash between send and delete leaves a duplicate on the import queue, which the
//!   ledger makes harmless, never a lost message.
//! - `depth` → visible + in flight + delayed messages of the main queue.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use wfo_ports::{Received, StoreError, StoreResult, WorkMessage, WorkQueue};

use crate::{AwsStore, corrupt, sdk_error};

/// SQS's largest `DelaySeconds`.
pub const MAX_DELAY_SECS: u64 = 900;
/// SQS's largest visibility timeout (12 h).
pub const MAX_VISIBILITY_SECS: u64 = 12 * 3600;
/// The message attribute that says why a message was dead-lettered.
pub const DEAD_REASON: &str = "dead_reason";
/// Bodies remembered for `dead_letter(receipt)` before the memory is cleared.
const REMEMBER_LIMIT: usize = 10_000;
/// How long `redrive` hides the dead letters it reads past while it looks for one: long
/// enough for the search, short enough that a crashed search hides nothing for long.
const REDRIVE_HIDE_SECS: i32 = 30;
/// Most dead letters one `redrive` reads past before it gives up on the id.
const REDRIVE_SCAN_LIMIT: usize = 10_000;
/// Lambda's attribute for why an asynchronous invocation failed (the scheduler's DLQ).
const LAMBDA_ERROR_MESSAGE: &str = "ErrorMessage";

fn secs_up(d: Duration, max: u64) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s.min(max)).unwrap_or(i32::MAX)
}

impl AwsStore {
    fn remember(&self, receipt: &str, body: &str) {
        if let Ok(mut m) = self.received.lock() {
            if m.len() >= REMEMBER_LIMIT {
                m.clear();
            }
            m.insert(receipt.to_owned(), body.to_owned());
        }
    }

    fn forget(&self, receipt: &str) -> Option<String> {
        self.received.lock().ok().and_then(|mut m| m.remove(receipt))
    }

    /// Move a message to the dead-letter queue with a reason: copy first, then delete
    /// the original. Used by the import worker, which gets bodies from the SQS event
    /// rather than from [`WorkQueue::receive`].
    pub async fn dead_letter_message(&self, receipt: &str, body: &str, reason: &str) -> StoreResult<()> {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| corrupt(format!("dead_reason attribute: {e}")))?;
        self.sqs
            .send_message()
            .queue_url(&self.names.dead_letter_queue_url)
            .message_body(body)
            .message_attributes(DEAD_REASON, attr)
            .send()
            .await
            .map_err(|e| sdk_error("dead-letter send", e))?;
        self.sqs
            .delete_message()
            .queue_url(&self.names.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error("dead-letter delete", e))?;
        self.forget(receipt);
        Ok(())
    }

    /// Put a body on the import queue as is (operators re-driving a message by hand;
    /// tests of what the worker does with bodies that are not work messages).
    pub async fn send_raw(&self, body: &str) -> StoreResult<()> {
        self.sqs
            .send_message()
            .queue_url(&self.names.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| sdk_error("queue send", e))?;
        Ok(())
    }

    async fn queue_attribute_sum(&self, url: &str, names: &[QueueAttributeName]) -> StoreResult<u64> {
        let mut req = self.sqs.get_queue_attributes().queue_url(url);
        for name in names {
            req = req.attribute_names(name.clone());
        }
        let out = req.send().await.map_err(|e| sdk_error("queue attributes", e))?;
        let attrs = out.attributes();
        Ok(names
            .iter()
            .filter_map(|n| attrs.and_then(|a| a.get(n)))
            .filter_map(|v| v.parse::<u64>().ok())
            .sum())
    }

    /// Send a dead letter's body to the import queue, then delete it from the DLQ.
    async fn move_back(&self, dlq_receipt: &str, body: &str) -> StoreResult<()> {
        self.send_raw(body).await?;
        self.sqs
            .delete_message()
            .queue_url(&self.names.dead_letter_queue_url)
            .receipt_handle(dlq_receipt)
            .send()
            .await
            .map_err(|e| sdk_error("dead letter delete", e))?;
        Ok(())
    }

    /// Up to `limit` messages of the dead-letter queue at `url`, read without deleting or
    /// hiding them: the import DLQ ([`WorkQueue::dead_letters`]) or another of the
    /// stack's, such as the scheduler's (failed scheduled runs, whose reason is Lambda's
    /// `ErrorMessage` attribute).
    pub async fn dead_letters_in(&self, url: &str, limit: usize) -> StoreResult<Vec<Received>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // Visibility 0 leaves every message where it is; SQS may return the same one
        // again, so stop at the first page that brings nothing new.
        while out.len() < limit {
            let page = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .message_attribute_names(DEAD_REASON)
                .message_attribute_names(LAMBDA_ERROR_MESSAGE)
                .send()
                .await
                .map_err(|e| sdk_error("dead letters receive", e))?;
            let mut new = 0;
            for m in page.messages() {
                let id = m.message_id().unwrap_or_default().to_owned();
                if !seen.insert(id.clone()) || out.len() >= limit {
                    continue;
                }
                new += 1;
                let system = |name: &MessageSystemAttributeName| m.attributes().and_then(|a| a.get(name));
                let count = system(&MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let sent = system(&MessageSystemAttributeName::SentTimestamp)
                    .and_then(|v| v.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis);
                let attr = |name: &str| {
                    m.message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                let reason = attr(DEAD_REASON)
                    .or_else(|| attr(LAMBDA_ERROR_MESSAGE))
                    .unwrap_or_else(|| "moved by the queue's redrive policy after too many receives".to_owned());
                out.push(Received {
                    receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                    message_id: id,
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: count,
                    dead_reason: Some(reason),
                    dead_at: sent,
                });
            }
            if new == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Messages in the dead-letter queue (SQS's approximate count).
    pub async fn dead_letter_depth(&self) -> StoreResult<u64> {
        self.queue_attribute_sum(
            &self.names.dead_letter_queue_url,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ],
        )
        .await
    }
}

#[async_trait]
impl WorkQueue for AwsStore {
    async fn send(&self, msg: &WorkMessage, delay: Duration) -> StoreResult<()> {
        let body = serde_json::to_string(msg).map_err(|e| corrupt(e.to_string()))?;
        let mut req = self
            .sqs
            .send_message()
            .queue_url(&self.names.queue_url)
            .message_body(body);
        if !delay.is_zero() {
            req = req.delay_seconds(secs_up(delay, MAX_DELAY_SECS));
        }
        req.send().await.map_err(|e| sdk_error("queue send", e))?;
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> StoreResult<Vec<Received>> {
        let mut out = Vec::new();
        while out.len() < max {
            let want = i32::try_from((max - out.len()).min(10)).unwrap_or(10);
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.names.queue_url)
                .max_number_of_messages(want)
                .visibility_timeout(secs_up(visibility, MAX_VISIBILITY_SECS))
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| sdk_error("queue receive", e))?;
            let messages = page.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let (Some(receipt), Some(body)) = (m.receipt_handle(), m.body()) else {
                    continue;
                };
                let message_id = m.message_id().unwrap_or_default().to_owned();
                let count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                self.remember(receipt, body);
                out.push(Received {
                    receipt: receipt.to_owned(),
                    message_id,
                    body: body.to_owned(),
                    receive_count: count,
                    dead_reason: None,
                    dead_at: None,
                });
            }
        }
        Ok(out)
    }

    async fn ack(&self, receipt: &str) -> StoreResult<()> {
        self.sqs
            .delete_message()
            .queue_url(&self.names.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error("queue ack", e))?;
        self.forget(receipt);
        Ok(())
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.names.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(secs_up(delay, MAX_VISIBILITY_SECS))
            .send()
            .await
            .map_err(|e| sdk_error("queue retry_later", e))?;
        Ok(())
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> StoreResult<()> {
        let body = self
            .received
            .lock()
            .ok()
            .and_then(|m| m.get(receipt).cloned())
            .ok_or_else(|| StoreError::NotFound(format!("no message received here with receipt {receipt}")))?;
        self.dead_letter_message(receipt, &body, reason).await
    }

    async fn dead_letters(&self, limit: usize) -> StoreResult<Vec<Received>> {
        self.dead_letters_in(&self.names.dead_letter_queue_url, limit).await
    }

    async fn redrive(&self, id: &str) -> StoreResult<bool> {
        let dlq = &self.names.dead_letter_queue_url;
        let mut passed: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let found = loop {
            if seen.len() >= REDRIVE_SCAN_LIMIT {
                break Ok(false);
            }
            let page = match self
                .sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .visibility_timeout(REDRIVE_HIDE_SECS)
                .wait_time_seconds(0)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => break Err(sdk_error("dead letters receive", e)),
            };
            let mut new = 0;
            let mut hit = None;
            for m in page.messages() {
                let (Some(mid), Some(receipt)) = (m.message_id(), m.receipt_handle()) else {
                    continue;
                };
                if !seen.insert(mid.to_owned()) {
                    continue;
                }
                new += 1;
                if mid == id && hit.is_none() {
                    hit = Some((receipt.to_owned(), m.body().unwrap_or_default().to_owned()));
                } else {
                    passed.push(receipt.to_owned());
                }
            }
            if let Some((receipt, body)) = hit {
                break self.move_back(&receipt, &body).await.map(|()| true);
            }
            if new == 0 {
                break Ok(false);
            }
        };
        // The others were only looked at: visible again now, not after the hide.
        for receipt in passed {
            if let Err(e) = self
                .sqs
                .change_message_visibility()
                .queue_url(dlq)
                .receipt_handle(&receipt)
                .visibility_timeout(0)
                .send()
                .await
            {
                tracing::warn!(error = %sdk_error("dead letter release", e), "a dead letter stays hidden for {REDRIVE_HIDE_SECS} s");
            }
        }
        found
    }

    async fn redrive_all(&self, limit: usize) -> StoreResult<u64> {
        let mut moved: usize = 0;
        while moved < limit {
            let left = limit - moved;
            let page = self
                .sqs
                .receive_message()
                .queue_url(&self.names.dead_letter_queue_url)
                .max_number_of_messages(i32::try_from(left.min(10)).unwrap_or(10))
                .visibility_timeout(REDRIVE_HIDE_SECS)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(|e| sdk_error("dead letters receive", e))?;
            if page.messages().is_empty() {
                break;
            }
            for m in page.messages() {
                let Some(receipt) = m.receipt_handle() else { continue };
                self.move_back(receipt, m.body().unwrap_or_default()).await?;
                moved += 1;
            }
        }
        Ok(moved as u64)
    }

    async fn depth(&self) -> StoreResult<u64> {
        self.queue_attribute_sum(
            &self.names.queue_url,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_seconds_and_respect_sqs_limits() {
        assert_eq!(secs_up(Duration::from_millis(300), 900), 1);
        assert_eq!(secs_up(Duration::from_secs(2), 900), 2);
        assert_eq!(secs_up(Duration::from_secs(3600), MAX_DELAY_SECS), 900);
        assert_eq!(secs_up(Duration::ZERO, 900), 0);
    }
}
