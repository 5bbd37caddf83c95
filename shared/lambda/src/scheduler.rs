//! The scheduled jobs, one Lambda function invoked by four EventBridge schedules whose
//! constant input names the job: `{"task": "sweep" | "reconcile" | "token-refresh" |
//! "user-sync" | "monitor"}`. Each run is one pass over the stored connectors; every job is safe to
//! run twice at once (conditional writes, locks), so an overlapping or repeated schedule
//! does no harm.
//!
//! | task | schedule (template default) | does |
//! |---|---|---|
//! | `sweep` | every minute | run what authorizations left (resume waiting items, repair the webhook), then enqueue ledger items whose `next_attempt_at` has come |
//! | `reconcile` | every 5 minutes | poll each connector whose `sync.interval_minutes` has passed since its last poll |
//! | `token-refresh` | every 15 minutes | refresh tokens that are due; check each connector's webhook |
//! | `user-sync` | every 15 minutes | sync users of connectors with `features.user_sync` whose interval has passed |
//! | `monitor` | every 5 minutes | emit the gauges (`wfo_pipeline::monitor`: open items by health, no recent import within business hours) and the import DLQ's depth |
//!
//! What is due is decided by `wfo_pipeline::schedule::Schedule` over the stored state,
//! the same function `wfo-connect serve` uses, with this schedule's period as the tick.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use wfo_aws::AwsStore;
use wfo_client::{WfoClient, WfoClientConfig};
use wfo_http::RetryPolicy;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::monitor::{self, MonitorSettings};
use wfo_pipeline::ports::{Store, StoreError};
use wfo_pipeline::reconcile::{self, PollSettings};
use wfo_pipeline::schedule::Schedule;
use wfo_pipeline::sync::{SyncDeps, SyncSettings, sync_connector};
use wfo_pipeline::{auth, refresh_job};

use crate::InitError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    Sweep,
    Reconcile,
    TokenRefresh,
    UserSync,
    Monitor,
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
    /// The store, every built-in source and the HTTP clients.
    pub connections: Arc<Connections>,
    /// Webhook target base (`{public_url}/webhooks/{id}`).
    pub public_url: String,
    pub policy: RetryPolicy,
    pub poll: PollSettings,
    /// Stop starting new work after this long (leave room before the function timeout).
    pub budget: Duration,
    /// What the `monitor` task measures.
    pub monitor: MonitorSettings,
    /// Whose dead-letter depth the `monitor` task emits (`None`: none).
    pub dead_letters: Option<Arc<AwsStore>>,
}

impl SchedulerDeps {
    pub fn new(store: Arc<dyn Store>, public_url: String, budget: Duration) -> Result<Self, InitError> {
        let http = wfo_http::client_builder(wfo_pipeline::connections::READ_BACKSTOP).build()?;
        let policy = RetryPolicy::default();
        let connections = Connections::with_clients(
            store.clone(),
            wfo_sources::Sources::shared(),
            policy.clone(),
            http,
            auth::token_http_client(Duration::from_secs(20))?,
        );
        Ok(Self {
            store,
            connections,
            public_url: public_url.trim_end_matches('/').to_owned(),
            policy,
            poll: PollSettings::default(),
            budget,
            monitor: MonitorSettings::default(),
            dead_letters: None,
        })
    }

    /// The `monitor` task's settings, and the store whose import dead-letter queue it
    /// measures.
    pub fn with_monitor(mut self, monitor: MonitorSettings, dead_letters: Option<Arc<AwsStore>>) -> Self {
        self.monitor = monitor;
        self.dead_letters = dead_letters;
        self
    }

    pub async fn run(&self, event: ScheduledEvent) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let mut report = match event.task {
            Task::Sweep => self.sweep(started).await?,
            Task::Reconcile => self.reconcile(started).await?,
            Task::TokenRefresh => self.token_refresh().await?,
            Task::UserSync => self.user_sync(started).await?,
            Task::Monitor => self.monitor().await?,
        };
        report.task = Some(event.task);
        tracing::info!(task = ?event.task, count = report.count, failures = report.failures.len(), elapsed_ms = started.elapsed().as_millis() as u64, "scheduled run done");
        Ok(report)
    }

    async fn sweep(&self, started: Instant) -> Result<RunReport, RunError> {
        const BATCH: usize = 500;
        let mut report = RunReport::default();
        // What authorizations left to do (resume waiting items, repair webhooks).
        report.count +=
            wfo_pipeline::authorization::run_follow_ups(&self.connections, &self.public_url, Utc::now()).await as u64;
        loop {
            let n = reconcile::sweep(self.store.as_ref(), Utc::now(), BATCH).await?;
            report.count += n as u64;
            if n < BATCH || started.elapsed() > self.budget {
                return Ok(report);
            }
        }
    }

    async fn reconcile(&self, started: Instant) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        let schedule = Schedule {
            tick: RECONCILE_TICK,
            poll_every: None,
        };
        for c in self.store.list_connectors().await? {
            if started.elapsed() > self.budget {
                break;
            }
            let id = c.config.id.clone();
            match reconcile::poll_if_due(&self.connections, &c, &schedule, &self.poll, Utc::now()).await {
                Ok(Some(r)) => report.count += r.new,
                Ok(None) => {}
                Err(e) if e.needs_operator() => {
                    tracing::info!(connector = %id, error = %e, "reconcile paused: connector needs an operator")
                }
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "reconcile failed; the next run tries again");
                    report.failures.push(id.clone());
                }
            }
            match reconcile::recapture_if_due(&self.connections, &c, &self.poll, Utc::now()).await {
                Ok(Some(r)) => report.count += r.new + r.replanned,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "data recapture failed; the next run tries again");
                    report.failures.push(id);
                }
            }
        }
        Ok(report)
    }

    async fn monitor(&self) -> Result<RunReport, RunError> {
        let now = Utc::now();
        let job = monitor::run(self.store.as_ref(), &self.monitor, now).await?;
        // A connector that needs an operator heals as soon as its preflight passes: the
        // mark is cleared and its held items are due now (the next sweep enqueues them).
        let settings = wfo_pipeline::preflight::PreflightSettings::default();
        for c in self.store.list_connectors().await? {
            if let Err(e) = wfo_pipeline::preflight::heal(&self.connections, &c, &settings, now).await {
                tracing::warn!(connector = %c.config.id, error = %e, "cannot check whether the connector still needs an operator");
            }
        }
        if let Some(store) = &self.dead_letters {
            match store.dead_letter_depth().await {
                Ok(depth) => wfo_pipeline::metrics::dead_letter_depth("import", depth, now),
                // The SQS metrics of the queue still show it; the next run tries again.
                Err(e) => tracing::warn!(error = %e, "cannot read the dead-letter queue's depth"),
            }
        }
        Ok(RunReport {
            task: None,
            count: job.connectors,
            failures: job.failures,
        })
    }

    async fn token_refresh(&self) -> Result<RunReport, RunError> {
        let job = refresh_job::run(&self.connections, &self.public_url, &self.policy).await?;
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
        let schedule = Schedule {
            tick: USER_SYNC_TICK,
            poll_every: None,
        };
        for c in self.store.list_connectors().await? {
            if started.elapsed() > self.budget {
                break;
            }
            if !schedule.sync_due(&self.connections, &c, Utc::now()).await? {
                continue;
            }
            let id = c.config.id.clone();
            let mut wfo_cfg = WfoClientConfig::new(
                c.config.wfo.api_url.clone(),
                c.config.wfo.username.clone(),
                c.config.wfo.password.clone(),
            );
            wfo_cfg.policy = self.policy.clone();
            let wfo = WfoClient::with_http_client(wfo_cfg, self.connections.http().clone());
            let deps = SyncDeps {
                connections: &self.connections,
                wfo: &wfo,
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

/// Quiet period in minutes for `NoRecentImport` (0 or unset: no such gauge).
pub const QUIET_MINUTES_ENV: &str = "WFO_QUIET_MINUTES";
/// Business hours, e.g. `Mon-Fri 08:00-18:00` (default).
pub const BUSINESS_HOURS_ENV: &str = "WFO_BUSINESS_HOURS";
/// IANA time zone of the business hours, e.g. `Europe/Berlin` (default `UTC`).
pub const BUSINESS_TIME_ZONE_ENV: &str = "WFO_BUSINESS_TIME_ZONE";

/// The `monitor` task's settings from the environment (fails fast on a typo).
pub fn monitor_settings_from_env() -> Result<MonitorSettings, InitError> {
    let minutes = crate::env_u64(QUIET_MINUTES_ENV, 0)?;
    let hours = crate::env_opt(BUSINESS_HOURS_ENV).unwrap_or_else(|| "Mon-Fri 08:00-18:00".to_owned());
    let tz = crate::env_opt(BUSINESS_TIME_ZONE_ENV).unwrap_or_else(|| "UTC".to_owned());
    monitor_settings(minutes, &hours, &tz)
}

/// The `monitor` task's settings: a quiet watch when `quiet_minutes` is not 0.
pub fn monitor_settings(quiet_minutes: u64, hours: &str, tz: &str) -> Result<MonitorSettings, InitError> {
    let hours = monitor::BusinessHours::parse(hours, tz).map_err(|e| InitError::Invalid {
        name: BUSINESS_HOURS_ENV,
        why: e.to_string(),
    })?;
    let quiet = match i64::try_from(quiet_minutes) {
        Ok(0) => None,
        Ok(m) if m <= 7 * 24 * 60 => Some(monitor::QuietWatch {
            hours,
            quiet: chrono::Duration::minutes(m),
        }),
        _ => {
            return Err(InitError::Invalid {
                name: QUIET_MINUTES_ENV,
                why: format!("{quiet_minutes} minutes is more than a week"),
            });
        }
    };
    Ok(MonitorSettings {
        quiet,
        ..MonitorSettings::default()
    })
}

/// The template's schedule periods (`infra/template.yaml`), the ticks of [`Schedule`].
const RECONCILE_TICK: Duration = Duration::from_secs(5 * 60);
const USER_SYNC_TICK: Duration = Duration::from_secs(15 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_input_names_the_task() {
        let e: ScheduledEvent = serde_json::from_str(r#"{"task":"token-refresh"}"#).unwrap();
        assert_eq!(e.task, Task::TokenRefresh);
        let e: ScheduledEvent = serde_json::from_str(r#"{"task":"sweep"}"#).unwrap();
        assert_eq!(e.task, Task::Sweep);
        let e: ScheduledEvent = serde_json::from_str(r#"{"task":"monitor"}"#).unwrap();
        assert_eq!(e.task, Task::Monitor);
        assert!(serde_json::from_str::<ScheduledEvent>(r#"{"task":"nope"}"#).is_err());
    }

    #[test]
    fn the_monitor_watches_quiet_connectors_only_with_a_quiet_period() {
        assert!(
            monitor_settings(0, "Mon-Fri 08:00-18:00", "UTC")
                .unwrap()
                .quiet
                .is_none()
        );
        let s = monitor_settings(90, "Mon-Fri 08:00-18:00", "Europe/Berlin").unwrap();
        let q = s.quiet.unwrap();
        assert_eq!(q.quiet, chrono::Duration::minutes(90));
        assert_eq!(q.hours.to_string(), "Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin");
        let e = monitor_settings(90, "weekdays", "UTC").unwrap_err();
        assert!(e.to_string().contains("WFO_BUSINESS_HOURS"), "{e}");
        assert!(monitor_settings(90, "Mon-Fri 08:00-18:00", "Nowhere").is_err());
        assert!(monitor_settings(8 * 24 * 60, "Mon-Fri 08:00-18:00", "UTC").is_err());
    }
}
