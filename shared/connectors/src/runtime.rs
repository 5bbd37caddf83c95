//! The one-machine runtime: every function in one process (`wfo-connect serve`, the
//! demo, the end-to-end tests). HTTP routes, import workers, the sweeper, the
//! reconciliation poller, the token refresher and the user sync timer run as tasks over
//! one [`Store`].
//!
//! On AWS the same pieces run as separate functions (API Gateway → routes, SQS → worker,
//! schedules → sweeper/poller/refresh); this module only wires them locally.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use wfo_domain::config::ConnectorKind;
use wfo_webex_calling::WebexCallingClient;

use crate::import::{ImportSettings, Importer, Outcome};
use crate::ports::{Store, WorkMessage};
use crate::reconcile::{self, PollSettings};
use crate::routes::{AppState, router};
use crate::sync::{SyncDeps, SyncError, SyncSettings, sync_connector};
use crate::{auth, refresh_job};

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub listen: SocketAddr,
    /// Base URL the source and operators reach this runner at; defaults to
    /// `http://{listen address}`.
    pub public_url: Option<String>,
    /// Items processed at once.
    pub workers: usize,
    pub sweep_interval: Duration,
    /// Overrides every connector's `sync.interval_minutes` for the poller (tests, demo).
    pub poll_interval: Option<Duration>,
    /// How often tokens are checked for refresh and webhooks for status.
    pub refresh_interval: Duration,
    pub poll: PollSettings,
    pub import: ImportSettings,
    /// Run the poller at all (tests that check webhook-only paths switch it off).
    pub poller_enabled: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            workers: 4,
            sweep_interval: Duration::from_secs(5),
            poll_interval: None,
            refresh_interval: Duration::from_secs(15 * 60),
            poll: PollSettings::default(),
            import: ImportSettings::default(),
            poller_enabled: true,
        }
    }
}

/// A running runtime. Dropping it does not stop it: call [`RunningRuntime::shutdown`].
pub struct RunningRuntime {
    pub addr: SocketAddr,
    pub public_url: String,
    pub importer: Arc<Importer>,
    pub work_ready: Arc<Notify>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build HTTP clients: {0}")]
    Http(#[from] reqwest::Error),
}

impl RunningRuntime {
    pub async fn start(store: Arc<dyn Store>, cfg: RuntimeConfig) -> Result<Self, RuntimeError> {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| RuntimeError::Listen {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RuntimeError::Listen {
            addr: cfg.listen,
            source,
        })?;
        let public_url = cfg.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let work_ready = Arc::new(Notify::new());
        let token_http = auth::token_http_client(Duration::from_secs(30))?;
        let importer = Arc::new(Importer::new(store.clone(), cfg.import.clone())?);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let app = router(AppState {
            store: store.clone(),
            public_url: public_url.clone(),
            token_http: token_http.clone(),
            work_ready: work_ready.clone(),
        });
        let mut rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        }));

        tasks.push(tokio::spawn(worker_loop(
            store.clone(),
            importer.clone(),
            cfg.workers,
            work_ready.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(sweeper_loop(
            store.clone(),
            cfg.sweep_interval,
            work_ready.clone(),
            stop_rx.clone(),
        )));
        if cfg.poller_enabled {
            tasks.push(tokio::spawn(poller_loop(
                store.clone(),
                cfg.clone(),
                token_http.clone(),
                work_ready.clone(),
                stop_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(sync_loop(
            store.clone(),
            importer.clone(),
            cfg.clone(),
            token_http.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(refresh_loop(
            store.clone(),
            cfg.clone(),
            public_url.clone(),
            token_http,
            stop_rx.clone(),
        )));
        tracing::info!(%addr, %public_url, "runtime started");
        Ok(Self {
            addr,
            public_url,
            importer,
            work_ready,
            stop,
            tasks,
        })
    }

    /// Stop every task and wait for them (in-flight items finish their current step or
    /// are left leased; the lease expires and another run resumes them).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.work_ready.notify_waiters();
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), t).await.is_err() {
                tracing::warn!("a runtime task did not stop within 10 s");
            }
        }
    }
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

async fn worker_loop(
    store: Arc<dyn Store>,
    importer: Arc<Importer>,
    workers: usize,
    ready: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let visibility = importer.settings().lease;
    loop {
        if *stop.borrow() {
            return;
        }
        let batch = match store.receive(workers.max(1) * 2, visibility).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "queue receive failed");
                if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        futures::stream::iter(batch)
            .for_each_concurrent(workers.max(1), |msg| {
                let store = store.clone();
                let importer = importer.clone();
                async move {
                    let parsed: Result<WorkMessage, _> = serde_json::from_str(&msg.body);
                    let work = match parsed {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::error!(body = %msg.body, error = %e, "malformed queue message: moved to dead letters");
                            let _ = store.dead_letter(&msg.receipt, &format!("malformed: {e}")).await;
                            return;
                        }
                    };
                    let outcome = importer.process(&work.connector_id, &work.item_id).await;
                    match &outcome {
                        Outcome::Unknown => {
                            tracing::error!(connector = %work.connector_id, item = %work.item_id, "queue message names no ledger item: moved to dead letters");
                            let _ = store.dead_letter(&msg.receipt, "names no ledger item").await;
                            return;
                        }
                        // The ledger holds the schedule; the sweeper enqueues it when due.
                        Outcome::Done | Outcome::Later(_) | Outcome::Dead(_) | Outcome::Busy => {}
                    }
                    if let Err(e) = store.ack(&msg.receipt).await {
                        tracing::warn!(error = %e, "cannot ack queue message (it will be redelivered; processing is idempotent)");
                    }
                }
            })
            .await;
    }
}

async fn sweeper_loop(store: Arc<dyn Store>, every: Duration, ready: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        match reconcile::sweep(store.as_ref(), Utc::now(), 500).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(n, "sweeper enqueued due items");
                ready.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        if sleep_or_stop(every, &mut stop).await {
            return;
        }
    }
}

async fn poller_loop(
    store: Arc<dyn Store>,
    cfg: RuntimeConfig,
    token_http: reqwest::Client,
    ready: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "poller cannot build its HTTP client");
            return;
        }
    };
    let mut last_run: std::collections::HashMap<String, std::time::Instant> = Default::default();
    loop {
        match store.list_connectors().await {
            Ok(connectors) => {
                for c in connectors
                    .iter()
                    .filter(|c| c.config.kind == ConnectorKind::WebexCalling)
                {
                    let every = cfg
                        .poll_interval
                        .unwrap_or(Duration::from_secs(u64::from(c.config.sync.interval_minutes) * 60));
                    if last_run.get(&c.config.id).is_some_and(|t| t.elapsed() < every) {
                        continue;
                    }
                    let Ok(api) = url::Url::parse(&c.config.source.api_url) else {
                        continue;
                    };
                    let webex = WebexCallingClient::new(http.clone(), api, cfg.import.http_policy.clone());
                    match reconcile::poll(store.as_ref(), c, &webex, &token_http, &cfg.poll, Utc::now()).await {
                        Ok(r) => {
                            last_run.insert(c.config.id.clone(), std::time::Instant::now());
                            if r.new > 0 {
                                ready.notify_one();
                            }
                        }
                        Err(reconcile::PollError::Auth(e)) if e.needs_operator() => {
                            last_run.insert(c.config.id.clone(), std::time::Instant::now());
                            tracing::debug!(connector = %c.config.id, error = %e, "poller paused: connector needs an operator");
                        }
                        Err(e) => tracing::warn!(connector = %c.config.id, error = %e, "poll failed; will retry"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "poller cannot list connectors"),
        }
        if sleep_or_stop(
            Duration::from_millis(500).min(cfg.poll_interval.unwrap_or(Duration::from_secs(5))),
            &mut stop,
        )
        .await
        {
            return;
        }
    }
}

/// The token job ([`refresh_job::run`]) every `refresh_interval`; after a transient
/// failure the next run comes sooner (30 s, doubling, at most `refresh_interval`).
async fn refresh_loop(
    store: Arc<dyn Store>,
    cfg: RuntimeConfig,
    public_url: String,
    token_http: reqwest::Client,
    mut stop: watch::Receiver<bool>,
) {
    let mut failed_runs = 0u32;
    loop {
        let retry_soon = match refresh_job::run(store.as_ref(), &public_url, &token_http, &cfg.import.http_policy).await
        {
            Ok(report) => report.retry_soon(),
            Err(e) => {
                tracing::warn!(error = %e, "token job cannot list connectors");
                true
            }
        };
        failed_runs = if retry_soon { failed_runs + 1 } else { 0 };
        let next = if failed_runs == 0 {
            cfg.refresh_interval
        } else {
            Duration::from_secs(30)
                .saturating_mul(1 << failed_runs.min(10).saturating_sub(1))
                .min(cfg.refresh_interval)
        };
        if sleep_or_stop(next, &mut stop).await {
            return;
        }
    }
}

/// The user sync timer: each Webex Calling connector with `features.user_sync` is synced
/// once it is authorized, then every `sync.interval_minutes`. A connector that is not
/// authorized yet is looked at again every few seconds without any call; a run that
/// fails waits for the next interval (the next run starts from scratch anyway).
async fn sync_loop(
    store: Arc<dyn Store>,
    importer: Arc<Importer>,
    cfg: RuntimeConfig,
    token_http: reqwest::Client,
    mut stop: watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "user sync cannot build its HTTP client");
            return;
        }
    };
    let settings = SyncSettings::default();
    let mut last_run: std::collections::HashMap<String, std::time::Instant> = Default::default();
    loop {
        if let Ok(connectors) = store.list_connectors().await {
            for c in connectors
                .iter()
                .filter(|c| c.config.kind == ConnectorKind::WebexCalling && c.config.features.user_sync)
            {
                let id = &c.config.id;
                let every = Duration::from_secs(u64::from(c.config.sync.interval_minutes.max(1)) * 60);
                if last_run.get(id).is_some_and(|t| t.elapsed() < every) {
                    continue;
                }
                match store.get_tokens(id).await {
                    Ok(r) if r.tokens.is_some() && r.reauth_required.is_none() => {}
                    _ => continue,
                }
                let Ok(api) = url::Url::parse(&c.config.source.api_url) else {
                    continue;
                };
                let webex = WebexCallingClient::new(http.clone(), api, cfg.import.http_policy.clone());
                let Some(wfo) = importer.wfo_for(c).await else { continue };
                let deps = SyncDeps {
                    store: store.as_ref(),
                    webex: &webex,
                    wfo: wfo.as_ref(),
                    token_http: &token_http,
                };
                let outcome = tokio::select! {
                    r = sync_connector(&deps, c, &settings) => r,
                    _ = stop.wait_for(|s| *s) => return,
                };
                last_run.insert(id.clone(), std::time::Instant::now());
                match outcome {
                    Ok(_) => {}
                    Err(e @ SyncError::Busy(_)) => tracing::debug!(connector = %id, error = %e, "user sync skipped"),
                    Err(e) if e.needs_operator() => {
                        tracing::debug!(connector = %id, error = %e, "user sync waits for an operator")
                    }
                    Err(e) => {
                        tracing::warn!(connector = %id, error = %e, "user sync failed; next run at the next interval")
                    }
                }
            }
        }
        if sleep_or_stop(Duration::from_secs(2), &mut stop).await {
            return;
        }
    }
}
