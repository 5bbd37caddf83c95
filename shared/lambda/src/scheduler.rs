//! The scheduled jobs, one Lambda function invoked by four EventBridge schedules whose
//! constant input names the job: `{"task": "sweep" | "reconcile" | "token-refresh" |
//! "user-sync"}`. Each run is one pass over the stored connectors; every job is safe to
//! run twice at once (conditional writes, locks), so an overlapping or repeated schedule
//! does no harm.
//!
//! | task | schedule (template default) | does |
//! |---|---|---|
//! | `sweep` | every minute | enqueue ledger items whose `next_attempt_at` has come |
//! | `reconcile` | every 5 minutes | poll each Webex Calling connector whose `sync.interval_minutes` has passed since its last poll |
//! | `token-refresh` | every 15 minutes | refresh tokens that are due; check each connector's webhook |
//! | `user-sync` | every 15 minutes | sync users of connectors with `features.user_sync` whose interval has passed |

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use wfo_client::{WfoClient, WfoClientConfig};
use wfo_connectors::ports::{Store, StoreError};
use wfo_connectors::reconcile::{self, CURSOR_KEY, Cursor, PollSettings};
use wfo_connectors::sync::{SyncDeps, SyncSettings, load_status, sync_connector};
use wfo_connectors::{auth, refresh_job};
use wfo_domain::config::ConnectorKind;
use wfo_http::RetryPolicy;
use wfo_webex_calling::WebexCallingClient;

use crate::InitError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    Sweep,
    Reconcile,
    TokenRefresh,
    UserSync,
}

/// The schedule's input.
#[derive(Debug, Clone, Deserialize)]
pub struct ScheduledEvent {
    pub task: Task,
}

/// What one run did, returned to the invoker and logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub task: Option<Task>,
    /// Items enqueued (sweep) or discovered (reconcile) or connectors handled.
    pub count: u64,
    /// Connectors that failed (transiently); the next run tries again.
    pub failures: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
}

/// Built once per cold start.
pub struct SchedulerDeps {
    pub store: Arc<dyn Store>,
    /// Webhook target base (`{public_url}/webhooks/{id}`).
    pub public_url: String,
    pub http: reqwest::Client,
    pub token_http: reqwest::Client,
    pub policy: RetryPolicy,
    pub poll: PollSettings,
    /// Stop starting new work after this long (leave room before the function timeout).
    pub budget: Duration,
}

impl SchedulerDeps {
    pub fn new(store: Arc<dyn Store>, public_url: String, budget: Duration) -> Result<Self, InitError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            store,
            public_url: public_url.trim_end_matches('/').to_owned(),
            http,
            token_http: auth::token_http_client(Duration::from_secs(20))?,
            policy: RetryPolicy::default(),
            poll: PollSettings::default(),
            budget,
        })
    }

    pub async fn run(&self, event: ScheduledEvent) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let mut report = match event.task {
            Task::Sweep => self.sweep(started).await?,
            Task::Reconcile => self.reconcile(started).await?,
            Task::TokenRefresh => self.token_refresh().await?,
            Task::UserSync => self.user_sync(started).await?,
        };
        report.task = Some(event.task);
        tracing::info!(task = ?event.task, count = report.count, failures = report.failures.len(), elapsed_ms = started.elapsed().as_millis() as u64, "scheduled run done");
        Ok(report)
    }

    async fn sweep(&self, started: Instant) -> Result<RunReport, RunError> {
        const BATCH: usize = 500;
        let mut report = RunReport::default();
        loop {
            let n = reconcile::sweep(self.store.as_ref(), Utc::now(), BATCH).await?;
            report.count += n as u64;
            if n < BATCH || started.elapsed() > self.budget {
                return Ok(report);
            }
        }
    }

    fn webex(&self, api_url: &str) -> Result<WebexCallingClient, RunError> {
        let api = url::Url::parse(api_url).map_err(|e| RunError::Config(format!("source.api_url: {e}")))?;
        Ok(WebexCallingClient::new(self.http.clone(), api, self.policy.clone()))
    }

    async fn reconcile(&self, started: Instant) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        let now = Utc::now();
        for c in self.store.list_connectors().await? {
            if c.config.kind != ConnectorKind::WebexCalling || started.elapsed() > self.budget {
                continue;
            }
            let id = c.config.id.clone();
            let last: Option<Cursor> = self
                .store
                .get_value(&id, CURSOR_KEY)
                .await?
                .and_then(|v| serde_json::from_value(v).ok());
            let every = chrono::Duration::minutes(i64::from(c.config.sync.interval_minutes.max(1)));
            // A minute of slack so a 5-minute schedule does not skip a 5-minute interval.
            if last.is_some_and(|cur| now - cur.last_run_at + chrono::Duration::minutes(1) < every) {
                continue;
            }
            let webex = match self.webex(&c.config.source.api_url) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(connector = %id, error = %e, "reconcile: connector misconfigured");
                    report.failures.push(id);
                    continue;
                }
            };
            match reconcile::poll(self.store.as_ref(), &c, &webex, &self.token_http, &self.poll, now).await {
                Ok(r) => report.count += r.new,
                Err(reconcile::PollError::Auth(e)) if e.needs_operator() => {
                    tracing::info!(connector = %id, error = %e, "reconcile paused: connector needs an operator")
                }
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "reconcile failed; the next run tries again");
                    report.failures.push(id);
                }
            }
        }
        Ok(report)
    }

    async fn token_refresh(&self) -> Result<RunReport, RunError> {
        let job = refresh_job::run(self.store.as_ref(), &self.public_url, &self.token_http, &self.policy).await?;
        let mut report = RunReport {
            count: job.connectors.len() as u64,
            ..RunReport::default()
        };
        for c in &job.connectors {
            if matches!(c.tokens, refresh_job::TokenResult::Failed { .. }) || matches!(c.webhook, Some(Err(_))) {
                report.failures.push(c.connector_id.clone());
            }
        }
        Ok(report)
    }

    async fn user_sync(&self, started: Instant) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        let settings = SyncSettings::default();
        let now = Utc::now();
        for c in self.store.list_connectors().await? {
            if c.config.kind != ConnectorKind::WebexCalling
                || !c.config.features.user_sync
                || started.elapsed() > self.budget
            {
                continue;
            }
            let id = c.config.id.clone();
            match self.store.get_tokens(&id).await {
                Ok(r) if r.tokens.is_some() && r.reauth_required.is_none() => {}
                _ => continue,
            }
            let every = chrono::Duration::minutes(i64::from(c.config.sync.interval_minutes.max(1)));
            let last = load_status(self.store.as_ref(), &id)
                .await?
                .and_then(|s| s.last_run.finished_at);
            if last.is_some_and(|t| now - t + chrono::Duration::minutes(1) < every) {
                continue;
            }
            let webex = match self.webex(&c.config.source.api_url) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(connector = %id, error = %e, "user sync: connector misconfigured");
                    report.failures.push(id);
                    continue;
                }
            };
            let mut wfo_cfg = WfoClientConfig::new(
                c.config.wfo.api_url.clone(),
                c.config.wfo.username.clone(),
                c.config.wfo.password.clone(),
            );
            wfo_cfg.policy = self.policy.clone();
            let wfo = WfoClient::with_http_client(wfo_cfg, self.http.clone());
            let deps = SyncDeps {
                store: self.store.as_ref(),
                webex: &webex,
                wfo: &wfo,
                token_http: &self.token_http,
            };
            match sync_connector(&deps, &c, &settings).await {
                Ok(_) => report.count += 1,
                Err(e) if e.needs_operator() => {
                    tracing::info!(connector = %id, error = %e, "user sync waits for an operator")
                }
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "user sync failed; the next interval tries again");
                    report.failures.push(id);
                }
            }
            let _ = wfo.logout().await;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_input_names_the_task() {
        let e: ScheduledEvent = serde_json::from_str(r#"{"task":"token-refresh"}"#).unwrap();
        assert_eq!(e.task, Task::TokenRefresh);
        let e: ScheduledEvent = serde_json::from_str(r#"{"task":"sweep"}"#).unwrap();
        assert_eq!(e.task, Task::Sweep);
        assert!(serde_json::from_str::<ScheduledEvent>(r#"{"task":"nope"}"#).is_err());
    }
}
