//! Deliveries (§5.2, §5.3): each [`TaskEvent`] becomes one POST per active subscription
//! that lists its event type, under the [`DeliveryPolicy`] (drop, duplicate, reorder
//! within a batch, hold and release), logged in order.
//!
//! The body is the §5.2 envelope: `id` (a fresh UUID per subscription and event; a
//! duplicate repeats the same bytes), `specversion` `"1.0"`, `type`, `source`
//! `/com/cisco/wxcc/<subscriptionId>`, `comciscoorgid`, `comciscotimestamp` (epoch ms of
//! the simulator clock, as a string like the reference sample), `datacontenttype`
//! `application/json`, `data` (the event's own). Headers: `X-WebexCC-Signature` (hex
//! HMAC-SHA256 of the raw body keyed by the secret, only when the subscription has
//! one), `X-WebexCC-Timestamp` (the same ms value), `X-WebexCC-Webhook-Version` (the
//! `resourceVersion`).
//!
//! UNCONFIRMED choices: each event is sent once (no retries); a non-2xx answer or no
//! answer counts as a failure, and [`crate::WxccSimConfig::subscription_failure_threshold`]
//! consecutive failures turn the subscription `inactive`; redirects are not followed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::error::SimError;
use crate::events::TaskEvent;
use crate::state::SharedRef;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-WebexCC-Signature";
/// Header carrying `comciscotimestamp` (v2 subscriptions).
pub const TIMESTAMP_HEADER: &str = "X-WebexCC-Timestamp";
/// Header carrying the subscription's `resourceVersion`.
pub const VERSION_HEADER: &str = "X-WebexCC-Webhook-Version";

/// Hex HMAC-SHA256 of `body` keyed by `secret`: the `X-WebexCC-Signature` value.
pub fn sign(secret: &str, body: &[u8]) -> String {
    match <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DeliveryOutcome {
    /// The receiver answered with this status.
    Response { status: u16 },
    /// No HTTP answer (refused, reset, timeout).
    ConnectionError { error: String },
    /// The delivery policy dropped it: never sent.
    Dropped,
    /// The subscription had turned inactive (or was deleted) before its turn came.
    Skipped,
}

/// One delivery attempt, in the order attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub seq: u64,
    pub subscription_id: String,
    pub event_type: String,
    pub task_id: String,
    pub destination_url: String,
    pub at: DateTime<Utc>,
    /// True for the second copy of a duplicated delivery.
    pub duplicate: bool,
    pub outcome: DeliveryOutcome,
    /// The exact body sent (or that would have been sent).
    pub body: String,
    /// The `X-WebexCC-Signature` sent, if any.
    pub signature: Option<String>,
}

impl DeliveryRecord {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, DeliveryOutcome::Response { status } if (200..300).contains(&status))
    }
}

/// How [`crate::RunningWxccSim::send_test_delivery`] signs and stamps a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestSignature {
    /// Correct signature with this secret.
    Valid { secret: String },
    /// A well-formed signature that does not match the body.
    Wrong,
    /// No signature header.
    None,
}

/// A delivery a test sends by hand: any body, any signature, any age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDelivery {
    pub body: String,
    pub signature: TestSignature,
    /// `X-WebexCC-Timestamp`: `Some(ms)`; `None` leaves the header out.
    pub timestamp_ms: Option<i64>,
    pub webhook_version: Option<String>,
}

/// One planned send.
#[derive(Clone)]
struct Job {
    subscription_id: String,
    event_type: String,
    task_id: String,
    url: String,
    secret: Option<String>,
    version: String,
    timestamp_ms: i64,
    body: String,
    duplicate: bool,
}

/// The §5.2 envelope for one subscription and event.
pub(crate) fn envelope(id: &str, subscription_id: &str, org_id: &str, timestamp_ms: i64, event: &TaskEvent) -> String {
    json!({
        "id": id,
        "specversion": "1.0",
        "type": event.kind.event_type(),
        "source": format!("/com/cisco/wxcc/{subscription_id}"),
        "comciscoorgid": org_id,
        "comciscotimestamp": timestamp_ms.to_string(),
        "datacontenttype": "application/json",
        "data": event.data,
    })
    .to_string()
}

/// Sends now, or parks the events while deliveries are held.
pub(crate) async fn dispatch(shared: &SharedRef, events: Vec<TaskEvent>) {
    let events = {
        let mut st = shared.lock();
        match st.held.as_mut() {
            Some(held) => {
                held.extend(events);
                return;
            }
            None => events,
        }
    };
    deliver_batch(shared, events).await;
}

/// Delivers `batch` to every matching active subscription under the delivery policy.
/// Sends run one after another; the batch is finished on return.
pub(crate) async fn deliver_batch(shared: &SharedRef, batch: Vec<TaskEvent>) {
    if batch.is_empty() {
        return;
    }
    let _gate = shared.delivery_gate.lock().await;
    let (jobs, delay, timeout) = {
        let mut st = shared.lock();
        let policy = st.delivery.clone();
        let org_id = st.org_id.clone();
        let timestamp_ms = st.now().timestamp_millis();
        let mut planned = Vec::new();
        for event in &batch {
            let event_type = event.kind.event_type();
            let targets: Vec<_> = st
                .subscriptions
                .iter()
                .filter(|e| e.subscription.status == "active")
                .filter(|e| e.subscription.event_types.iter().any(|t| t == event_type))
                .map(|e| {
                    (
                        e.subscription.id.clone(),
                        e.subscription.destination_url.clone(),
                        e.secret.clone(),
                        e.subscription.resource_version.clone(),
                    )
                })
                .collect();
            for (subscription_id, url, secret, version) in targets {
                let id = st.random_uuid().to_string();
                planned.push(Job {
                    body: envelope(&id, &subscription_id, &org_id, timestamp_ms, event),
                    subscription_id,
                    event_type: event_type.to_owned(),
                    task_id: event.task_id.clone(),
                    url,
                    secret,
                    version,
                    timestamp_ms,
                    duplicate: false,
                });
            }
        }
        let mut jobs = Vec::new();
        for job in planned {
            if st.rng.random::<f64>() < policy.drop_share {
                let record = DeliveryRecord {
                    seq: st.next_delivery_seq(),
                    subscription_id: job.subscription_id,
                    event_type: job.event_type,
                    task_id: job.task_id,
                    destination_url: job.url,
                    at: st.now(),
                    duplicate: false,
                    outcome: DeliveryOutcome::Dropped,
                    signature: job.secret.as_deref().map(|s| sign(s, job.body.as_bytes())),
                    body: job.body,
                };
                st.deliveries.push(record);
                continue;
            }
            let twice = st.rng.random::<f64>() < policy.duplicate_share;
            let copy = twice.then(|| Job {
                duplicate: true,
                ..job.clone()
            });
            jobs.push(job);
            jobs.extend(copy);
        }
        if policy.reorder {
            jobs.shuffle(&mut st.rng);
        }
        (jobs, policy.delay, st.delivery_timeout)
    };

    for job in jobs {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        send_job(shared, job, timeout).await;
    }
}

async fn send_job(shared: &SharedRef, job: Job, timeout: Duration) {
    let still_active = shared
        .lock()
        .subscriptions
        .iter()
        .any(|e| e.subscription.id == job.subscription_id && e.subscription.status == "active");
    let signature = job.secret.as_deref().map(|s| sign(s, job.body.as_bytes()));
    let outcome = if still_active {
        let mut request = shared
            .http
            .post(&job.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, job.timestamp_ms.to_string())
            .header(VERSION_HEADER, &job.version)
            .body(job.body.clone());
        if let Some(sig) = &signature {
            request = request.header(SIGNATURE_HEADER, sig);
        }
        match request.send().await {
            Ok(resp) => DeliveryOutcome::Response {
                status: resp.status().as_u16(),
            },
            Err(e) => DeliveryOutcome::ConnectionError { error: e.to_string() },
        }
    } else {
        DeliveryOutcome::Skipped
    };
    let mut st = shared.lock();
    let threshold = st.failure_threshold;
    let now = st.now().timestamp_millis();
    if still_active
        && let Some(entry) = st
            .subscriptions
            .iter_mut()
            .find(|e| e.subscription.id == job.subscription_id)
    {
        let ok = matches!(outcome, DeliveryOutcome::Response { status } if (200..300).contains(&status));
        if ok {
            entry.consecutive_failures = 0;
        } else {
            entry.consecutive_failures += 1;
            if entry.consecutive_failures >= threshold && entry.subscription.status == "active" {
                entry.subscription.status = "inactive".into();
                entry.subscription.last_updated_time = now;
            }
        }
    }
    let record = DeliveryRecord {
        seq: st.next_delivery_seq(),
        subscription_id: job.subscription_id,
        event_type: job.event_type,
        task_id: job.task_id,
        destination_url: job.url,
        at: st.now(),
        duplicate: job.duplicate,
        outcome,
        body: job.body,
        signature,
    };
    st.deliveries.push(record);
}

/// Consumes a channel of task events until it closes or `stop` is set; each wake-up
/// takes every event already waiting as one batch (so the policy's reorder acts on it).
pub(crate) async fn consume(
    shared: SharedRef,
    mut events: broadcast::Receiver<TaskEvent>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = events.recv() => r,
        };
        let mut batch = Vec::new();
        match first {
            Ok(e) => batch.push(e),
            Err(RecvError::Lagged(n)) => {
                shared.lock().lagged_events += n;
                continue;
            }
            Err(RecvError::Closed) => return,
        }
        loop {
            match events.try_recv() {
                Ok(e) => batch.push(e),
                Err(broadcast::error::TryRecvError::Lagged(n)) => shared.lock().lagged_events += n,
                Err(_) => break,
            }
        }
        dispatch(&shared, batch).await;
    }
}

/// Sends one hand-made delivery; returns the receiver's status.
pub(crate) async fn send_test(shared: &SharedRef, url: &str, d: TestDelivery) -> Result<u16, SimError> {
    let timeout = shared.lock().delivery_timeout;
    let mut request = shared
        .http
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(d.body.clone());
    match &d.signature {
        TestSignature::Valid { secret } => request = request.header(SIGNATURE_HEADER, sign(secret, d.body.as_bytes())),
        TestSignature::Wrong => request = request.header(SIGNATURE_HEADER, sign("not the secret", d.body.as_bytes())),
        TestSignature::None => {}
    }
    if let Some(ms) = d.timestamp_ms {
        request = request.header(TIMESTAMP_HEADER, ms.to_string());
    }
    if let Some(v) = &d.webhook_version {
        request = request.header(VERSION_HEADER, v);
    }
    let resp = request.send().await.map_err(|e| SimError::Delivery {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(resp.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
