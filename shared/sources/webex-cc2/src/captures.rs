//! Captures of many tasks through few calls, and their presigned links used only while
//! they are valid (reference §3.1, §9.4–6).
//!
//! - **Batched across items**: `captures/query` takes at most [`MAX_CAPTURE_IDS`] task ids.
//!   Every request for one task's captures joins a batch; a batch is sent when it is full
//!   or when the most urgent of its requests has waited its time — [`BatchSettings::gather`]
//!   for a task being planned or downloaded, [`BatchSettings::patient`] for a task whose
//!   contacts are in WFO and whose audio is looked for again (minutes or hours late
//!   already: a few seconds more lets the checks of many tasks share a call). Batches are
//!   sent by a task of their own (so a caller that gives up cannot strand the others).
//!   Each caller gets its task's element, or an empty one when the API does not know the
//!   task (partial results by design).
//! - **Links**: each answer is kept for its links' lifetime. A link is used only while it
//!   has more than [`LINK_MARGIN`] left — its expiry is read from the presigned URL itself
//!   (`X-Amz-Date` + `X-Amz-Expires`), else from the time asked for — and never after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use wfo_domain::sync::canonical_acd_id;
use wfo_ports::{Credentials, SourceError};

use crate::client::CcClient;
use crate::error::{CcError, cc_error};
use crate::search::MAX_CAPTURE_IDS;

/// Link lifetime asked for (the API's maximum).
pub const URL_EXPIRATION_MIN: u32 = 60;
/// A link with less than this left is not used: a fresh one is asked for.
pub const LINK_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// Answers kept for links at most (older ones are dropped first).
const MAX_KEPT_ANSWERS: usize = 5_000;

/// How batches form.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// How long a request of a task being planned (or downloaded) waits for others.
    pub gather: Duration,
    /// How long a request looking again for late audio waits for others.
    pub patient: Duration,
    /// How long a caller waits for its batch's answer.
    pub answer_timeout: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            gather: Duration::from_millis(100),
            patient: Duration::from_secs(2),
            answer_timeout: Duration::from_secs(180),
        }
    }
}

/// One task's `captures/query` element and when it was fetched.
#[derive(Debug, Clone)]
pub struct TaskCaptures {
    pub fetched_at: DateTime<Utc>,
    /// The `data[]` element (`{"taskId", "recording": [...]}`).
    pub data: Value,
}

impl TaskCaptures {
    /// The `recording[]` element with id `capture_id`.
    pub fn capture(&self, capture_id: &str) -> Option<&Value> {
        self.data["recording"]
            .as_array()?
            .iter()
            .find(|r| r["id"].as_str().is_some_and(|id| id == capture_id))
    }

    /// Whether the capture's link can be used now (more than [`LINK_MARGIN`] left).
    pub fn link_usable(&self, capture_id: &str, now: DateTime<Utc>) -> bool {
        self.capture(capture_id)
            .and_then(|c| c["attributes"]["filePath"].as_str())
            .is_some_and(|url| link_expiry(url, self.fetched_at) > now + LINK_MARGIN)
    }
}

/// When a presigned link stops working: `X-Amz-Date` + `X-Amz-Expires` from the URL, else
/// the lifetime asked for from `fetched_at` (whichever the URL does not say).
pub fn link_expiry(url: &str, fetched_at: DateTime<Utc>) -> DateTime<Utc> {
    let asked = fetched_at + chrono::Duration::minutes(i64::from(URL_EXPIRATION_MIN));
    let Ok(parsed) = url::Url::parse(url) else {
        return asked;
    };
    let mut date = None;
    let mut expires = None;
    for (k, v) in parsed.query_pairs() {
        if k.eq_ignore_ascii_case("X-Amz-Date") {
            date = NaiveDateTime::parse_from_str(&v, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|d| d.and_utc());
        } else if k.eq_ignore_ascii_case("X-Amz-Expires") {
            expires = v.parse::<i64>().ok().filter(|s| *s >= 0);
        }
    }
    match (date, expires) {
        (Some(d), Some(s)) => d + chrono::Duration::seconds(s.min(7 * 24 * 3600)),
        (None, Some(s)) => fetched_at + chrono::Duration::seconds(s.min(7 * 24 * 3600)),
        _ => asked,
    }
}

type Answer = Result<TaskCaptures, SourceError>;

struct Waiter {
    task: String,
    tx: oneshot::Sender<Answer>,
    /// When this request's batch is sent at the latest (unless it fills first).
    due: tokio::time::Instant,
}

struct Inner {
    client: CcClient,
    credentials: Arc<dyn Credentials>,
    settings: BatchSettings,
    queue: Mutex<Vec<Waiter>>,
    /// A flush task is running (it drains the queue until it is empty).
    flushing: Mutex<bool>,
    kept: Mutex<HashMap<String, TaskCaptures>>,
    calls: std::sync::atomic::AtomicU64,
    /// A request joined the queue.
    arrived: tokio::sync::Notify,
}

/// Batches `captures/query` across items and keeps the answers for their links.
#[derive(Clone)]
pub struct CaptureBatcher {
    inner: Arc<Inner>,
}

impl CaptureBatcher {
    pub fn new(client: CcClient, credentials: Arc<dyn Credentials>, settings: BatchSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                credentials,
                settings,
                queue: Mutex::new(Vec::new()),
                flushing: Mutex::new(false),
                kept: Mutex::new(HashMap::new()),
                calls: Default::default(),
                arrived: tokio::sync::Notify::new(),
            }),
        }
    }

    /// `captures/query` calls made so far.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The task's captures, asked for now (in a batch with other tasks').
    pub async fn fetch(&self, task_id: &str) -> Answer {
        self.fetch_within(task_id, self.inner.settings.gather).await
    }

    /// The task's captures, looked for again for audio that is late: the request waits
    /// up to [`BatchSettings::patient`] for others to share its call.
    pub async fn fetch_patiently(&self, task_id: &str) -> Answer {
        self.fetch_within(task_id, self.inner.settings.patient).await
    }

    async fn fetch_within(&self, task_id: &str, wait: Duration) -> Answer {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.push(Waiter {
                task: task_id.to_owned(),
                tx,
                due: tokio::time::Instant::now() + wait,
            });
            let mut flushing = self.inner.flushing.lock().unwrap_or_else(|p| p.into_inner());
            !std::mem::replace(&mut *flushing, true)
        };
        if start {
            let inner = self.inner.clone();
            tokio::spawn(flush(inner));
        } else {
            // A flush that sleeps for a later deadline looks again.
            self.inner.arrived.notify_one();
        }
        match tokio::time::timeout(self.inner.settings.answer_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(SourceError::retry(format!(
                "captures of task {task_id}: the batch was dropped before it answered"
            ))),
            Err(_) => Err(SourceError::retry(format!(
                "captures of task {task_id}: no answer within {} s",
                self.inner.settings.answer_timeout.as_secs()
            ))),
        }
    }

    /// The task's captures as last fetched, when the link of `capture_id` is still usable.
    pub fn kept_with_link(&self, task_id: &str, capture_id: &str, now: DateTime<Utc>) -> Option<TaskCaptures> {
        let kept = self.inner.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(&canonical_acd_id(task_id))
            .filter(|c| c.link_usable(capture_id, now))
            .cloned()
    }

    /// Forget a task's kept answer (its link failed).
    pub fn forget(&self, task_id: &str) {
        let mut kept = self.inner.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.remove(&canonical_acd_id(task_id));
    }
}

/// Send batches until the queue is empty, then stop (the next request starts another).
async fn flush(inner: Arc<Inner>) {
    loop {
        // A batch that is not full waits until its most urgent request is due (a request
        // that arrives meanwhile wakes it to look at its own deadline).
        let (full, due) = match inner.queue.lock() {
            Ok(q) => (distinct(&q) >= MAX_CAPTURE_IDS, q.iter().map(|w| w.due).min()),
            Err(_) => (true, None),
        };
        if !full
            && let Some(due) = due
            && due > tokio::time::Instant::now()
        {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = inner.arrived.notified() => {}
            }
            continue;
        }
        let batch = {
            let mut q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
            let batch = take_batch(&mut q);
            if batch.is_empty() {
                // Stop flushing under the queue's lock: a request that arrives after this
                // finds `flushing` false and starts the next flush.
                *inner.flushing.lock().unwrap_or_else(|p| p.into_inner()) = false;
                return;
            }
            batch
        };
        send_batch(&inner, batch).await;
    }
}

fn distinct(q: &[Waiter]) -> usize {
    let mut ids: Vec<String> = q.iter().map(|w| canonical_acd_id(&w.task)).collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

/// The waiters of the first [`MAX_CAPTURE_IDS`] distinct tasks in the queue.
fn take_batch(q: &mut Vec<Waiter>) -> Vec<Waiter> {
    let mut ids: Vec<String> = Vec::new();
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for w in q.drain(..) {
        let id = canonical_acd_id(&w.task);
        if ids.contains(&id) {
            batch.push(w);
        } else if ids.len() < MAX_CAPTURE_IDS {
            ids.push(id);
            batch.push(w);
        } else {
            rest.push(w);
        }
    }
    *q = rest;
    batch
}

async fn send_batch(inner: &Inner, batch: Vec<Waiter>) {
    let mut ids: Vec<String> = Vec::new();
    for w in &batch {
        if !ids.iter().any(|i| canonical_acd_id(i) == canonical_acd_id(&w.task)) {
            ids.push(w.task.clone());
        }
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let result = query(inner, &refs).await;
    let now = Utc::now();
    match result {
        Ok(data) => {
            let mut answers: HashMap<String, TaskCaptures> = HashMap::new();
            for id in &ids {
                let key = canonical_acd_id(id);
                let element = data
                    .iter()
                    .find(|d| d["taskId"].as_str().is_some_and(|t| canonical_acd_id(t) == key))
                    .cloned()
                    // Unknown to the API: an empty answer, not an error.
                    .unwrap_or_else(|| json!({ "taskId": id, "recording": [] }));
                answers.insert(
                    key,
                    TaskCaptures {
                        fetched_at: now,
                        data: element,
                    },
                );
            }
            {
                let mut kept = inner.kept.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() + answers.len() > MAX_KEPT_ANSWERS {
                    let horizon = now - chrono::Duration::minutes(i64::from(URL_EXPIRATION_MIN));
                    kept.retain(|_, c| c.fetched_at > horizon);
                    if kept.len() + answers.len() > MAX_KEPT_ANSWERS {
                        kept.clear();
                    }
                }
                for (k, v) in &answers {
                    kept.insert(k.clone(), v.clone());
                }
            }
            for w in batch {
                let answer = answers
                    .get(&canonical_acd_id(&w.task))
                    .cloned()
                    .ok_or_else(|| SourceError::retry("captures: the batch lost a task"));
                let _ = w.tx.send(answer);
            }
        }
        Err(e) => {
            for w in batch {
                let _ = w.tx.send(Err(copy_error(&e)));
            }
        }
    }
}

/// One `captures/query` call, its token renewed once on a `401`.
async fn query(inner: &Inner, ids: &[&str]) -> Result<Vec<Value>, SourceError> {
    let mut renewed = false;
    loop {
        let token = inner.credentials.current().await?;
        inner.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match inner.client.captures(&token, ids, URL_EXPIRATION_MIN).await {
            Ok(data) => return Ok(data),
            Err(CcError::Unauthorized { .. }) if !renewed => {
                renewed = true;
                inner.credentials.renew().await?;
            }
            Err(e) => return Err(cc_error(e)),
        }
    }
}

/// The same failure for every caller of a batch.
fn copy_error(e: &SourceError) -> SourceError {
    match e {
        SourceError::Retry { message, after } => SourceError::Retry {
            message: message.clone(),
            after: *after,
        },
        SourceError::Unauthorized(m) => SourceError::Unauthorized(m.clone()),
        SourceError::Credentials(a) if a.needs_operator() => SourceError::Operator(a.to_string()),
        SourceError::Credentials(a) => SourceError::retry(a.to_string()),
        SourceError::Operator(m) => SourceError::Operator(m.clone()),
        SourceError::NotReady(m) => SourceError::NotReady(m.clone()),
        SourceError::NotReadyUntil { message, at } => SourceError::NotReadyUntil {
            message: message.clone(),
            at: *at,
        },
        SourceError::Permanent(m) => SourceError::Permanent(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_expires_when_its_url_says_else_when_asked() {
        let fetched = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().to_utc();
        let url = "https://media.example/x.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T095500Z&X-Amz-Expires=1800&X-Amz-SignedHeaders=host";
        assert_eq!(
            link_expiry(url, fetched),
            DateTime::parse_from_rfc3339("2026-01-01T10:25:00Z").unwrap().to_utc()
        );
        assert_eq!(
            link_expiry("https://media.example/x.wav", fetched),
            fetched + chrono::Duration::minutes(60)
        );
        assert_eq!(
            link_expiry("https://media.example/x.wav?X-Amz-Expires=120", fetched),
            fetched + chrono::Duration::minutes(2)
        );
        assert_eq!(
            link_expiry("not a url", fetched),
            fetched + chrono::Duration::minutes(60)
        );
    }

    #[test]
    fn a_link_is_not_used_within_the_margin_of_its_expiry() {
        let fetched = Utc::now();
        let c = TaskCaptures {
            fetched_at: fetched,
            data: json!({"taskId": "t", "recording": [{"id": "r1", "attributes": {"filePath": "https://m/x?X-Amz-Expires=600"}}]}),
        };
        assert!(c.link_usable("r1", fetched));
        assert!(!c.link_usable("r1", fetched + chrono::Duration::minutes(6)));
        assert!(!c.link_usable("r2", fetched), "an unknown capture has no link");
    }

    #[test]
    fn a_batch_takes_at_most_ten_distinct_tasks_and_every_waiter_of_each() {
        let mut q: Vec<Waiter> = (0..25)
            .map(|i| Waiter {
                due: tokio::time::Instant::now(),
                task: format!("t{}", i % 12),
                tx: oneshot::channel().0,
            })
            .collect();
        let batch = take_batch(&mut q);
        assert_eq!(distinct(&batch), 10);
        assert!(batch.iter().all(|w| w.task != "t10" && w.task != "t11"));
        assert_eq!(batch.len(), 21, "t0..t9 with their repeats");
        assert_eq!(q.len(), 4);
        assert_eq!(distinct(&q), 2);
    }
}
