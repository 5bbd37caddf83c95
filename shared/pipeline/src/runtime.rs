//! The one-machine runtime: every function in one process (`wfo-connect serve`, the
//! demo, the end-to-end tests). HTTP routes, import workers, the sweeper, the
//! reconciliation poller, the token refresher, the user sync timer and the metric gauges run as tasks over
//! one [`Store`].
//!
//! On AWS the same pieces run as separate functions (API Gateway → routes, SQS → worker,
//! schedules → sweeper/poller/refresh); this module only wires them locally. Both decide
//! what is due with [`crate::schedule::Schedule`] over the stored state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use wfo_domain::Secret;
use wfo_ports::Registry;

use crate::connections::Connections;
use crate::import::{ImportSettings, Importer, Outcome};
use crate::ports::{Store, WorkMessage};
use crate::reconcile::{self, PollSettings};
use crate::refresh_job;
use crate::routes::{AppState, router};
use crate::schedule::Schedule;
use crate::status_page::{self, StatusAccess};
use crate::sync::{SyncDeps, SyncError, SyncSettings, sync_connector};

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
            // Twenty items in flight: against an API 50 ms away, the items in flight are
            // the limit (twenty carry twice what ten did); on loopback, twenty keep both
            // cores busy. A multiple of ten: ten Contact Center tasks planned together
            // share one captures/query call (it takes ten task ids).
            workers: 20,
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
    pub connections: Arc<Connections>,
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
    /// Starts everything; `/status` is served on a loopback listener only
    /// ([`RunningRuntime::start_with_operator_token`] to serve it elsewhere).
    pub async fn start(
        store: Arc<dyn Store>,
        registry: Arc<dyn Registry>,
        cfg: RuntimeConfig,
    ) -> Result<Self, RuntimeError> {
        Self::start_with_operator_token(store, registry, cfg, None).await
    }

    /// [`RunningRuntime::start`], with the operator token that `/status` then requires
    /// (and without which it is off on a listener other machines can reach):
    /// [`StatusAccess::decide`].
    pub async fn start_with_operator_token(
        store: Arc<dyn Store>,
        registry: Arc<dyn Registry>,
        cfg: RuntimeConfig,
        operator_token: Option<Secret>,
    ) -> Result<Self, RuntimeError> {
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
        let connections = Connections::new(store.clone(), registry, cfg.import.http_policy.clone())?;
        let importer = Arc::new(Importer::new(connections.clone(), cfg.import.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let app = router(AppState {
            connections: connections.clone(),
            public_url: public_url.clone(),
            work_ready: work_ready.clone(),
            connector_cache: Arc::default(),
        })
        .merge(status_page::router(
            store.clone(),
            StatusAccess::decide(addr, operator_token),
        ));
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
            connections.clone(),
            public_url.clone(),
            cfg.sweep_interval,
            work_ready.clone(),
            stop_rx.clone(),
        )));
        if cfg.poller_enabled {
            tasks.push(tokio::spawn(poller_loop(
                connections.clone(),
                cfg.clone(),
                work_ready.clone(),
                stop_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(sync_loop(
            connections.clone(),
            importer.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(refresh_loop(
            connections.clone(),
            cfg.clone(),
            public_url.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(monitor_loop(store.clone(), stop_rx.clone())));
        tasks.push(tokio::spawn(heal_loop(
            connections.clone(),
            work_ready.clone(),
            stop_rx.clone(),
        )));
        tracing::info!(%addr, %public_url, "runtime started");
        Ok(Self {
            addr,
            public_url,
            connections,
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

/// Keeps up to `workers` items in flight and takes new messages as soon as any one
/// finishes: a slow item (a stalled download, a WFO that holds an upload) occupies one
/// slot, never the whole worker.
async fn worker_loop(
    store: Arc<dyn Store>,
    importer: Arc<Importer>,
    workers: usize,
    ready: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let visibility = importer.settings().lease;
    let slots = workers.max(1);
    // Each message is its own task, so the items in flight run on every core of the
    // runtime (polled together inside this loop's one task, they would share one).
    // Dropping the set aborts what still runs.
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            // In-flight items get a moment to finish their step; one still running is
            // dropped with its lease, which expires, and the next run resumes it.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(done) = in_flight.join_next().await {
                    note_ended(done);
                }
            })
            .await;
            return;
        }
        let free = slots - in_flight.len();
        let batch = if free == 0 {
            Vec::new()
        } else {
            match store.receive(free, visibility).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "queue receive failed");
                    Vec::new()
                }
            }
        };
        let received = !batch.is_empty();
        for msg in batch {
            in_flight.spawn(handle_message(store.clone(), importer.clone(), msg));
        }
        if received && in_flight.len() < slots {
            continue;
        }
        // Full, or nothing waiting: until one finishes, new work is announced, or a
        // short poll interval passes.
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => note_ended(done),
            _ = ready.notified(), if in_flight.len() < slots => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}

/// A message's task that ended other than by returning: a panic outside the importer's
/// own catch (the message is redelivered after its visibility timeout), or an abort.
fn note_ended(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a queue message's task panicked; the message comes back after its visibility timeout");
    }
}

/// One queue message: parse, process, then ack (the ledger keeps the schedule) or move
/// a message that names nothing to the dead letters.
async fn handle_message(store: Arc<dyn Store>, importer: Arc<Importer>, msg: crate::ports::Received) {
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

async fn sweeper_loop(
    connections: Arc<Connections>,
    public_url: String,
    every: Duration,
    ready: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let store = connections.store().clone();
    loop {
        if crate::authorization::run_follow_ups(&connections, &public_url, Utc::now()).await > 0 {
            ready.notify_one();
        }
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

/// How often the local loops look at the schedule.
const POLL_TICK: Duration = Duration::from_millis(500);
const SYNC_TICK: Duration = Duration::from_secs(2);

async fn poller_loop(
    connections: Arc<Connections>,
    cfg: RuntimeConfig,
    ready: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let tick = POLL_TICK.min(cfg.poll_interval.unwrap_or(Duration::from_secs(5)));
    let schedule = Schedule {
        tick,
        poll_every: cfg.poll_interval,
    };
    loop {
        match connections.store().list_connectors().await {
            Ok(connectors) => {
                for c in &connectors {
                    match reconcile::poll_if_due(&connections, c, &schedule, &cfg.poll, Utc::now()).await {
                        Ok(Some(r)) if r.new > 0 => ready.notify_one(),
                        Ok(_) => {}
                        Err(e) if e.needs_operator() => {
                            tracing::debug!(connector = %c.config.id, error = %e, "poller paused: connector needs an operator");
                        }
                        Err(e) => tracing::warn!(connector = %c.config.id, error = %e, "poll failed; will retry"),
                    }
                    match reconcile::recapture_if_due(&connections, c, &cfg.poll, Utc::now()).await {
                        Ok(Some(r)) if r.new + r.replanned > 0 => ready.notify_one(),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(connector = %c.config.id, error = %e, "data recapture failed; will retry")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "poller cannot list connectors"),
        }
        if sleep_or_stop(tick, &mut stop).await {
            return;
        }
    }
}

/// How often `serve` emits the gauges (the scheduler's `monitor` schedule on AWS).
const MONITOR_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The gauges ([`crate::monitor::run`]: open items by health) every
/// [`MONITOR_INTERVAL`], the first after one interval. Locally there are no business
/// hours to watch, so no `NoRecentImport`.
async fn monitor_loop(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let settings = crate::monitor::MonitorSettings::default();
    loop {
        if sleep_or_stop(MONITOR_INTERVAL, &mut stop).await {
            return;
        }
        if let Err(e) = crate::monitor::run(store.as_ref(), &settings, Utc::now()).await {
            tracing::warn!(error = %e, "monitor cannot list connectors");
        }
    }
}

/// Every [`preflight::HEAL_EVERY`], each connector that needs an operator is checked with
/// the preflight; one that passes in full is cleared and its held items resume now
/// ([`preflight::heal`]).
async fn heal_loop(connections: Arc<Connections>, ready: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let settings = crate::preflight::PreflightSettings::default();
    loop {
        if sleep_or_stop(crate::preflight::HEAL_EVERY, &mut stop).await {
            return;
        }
        let Ok(connectors) = connections.store().list_connectors().await else {
            continue;
        };
        for c in &connectors {
            match crate::preflight::heal(&connections, c, &settings, Utc::now()).await {
                Ok(crate::preflight::Healing::Healed(n)) if n > 0 => ready.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(connector = %c.config.id, error = %e, "cannot check whether the connector still needs an operator")
                }
            }
        }
    }
}

/// The token job ([`refresh_job::run`]) every `refresh_interval`; after a transient
/// failure the next run comes sooner (30 s, doubling, at most `refresh_interval`).
async fn refresh_loop(
    connections: Arc<Connections>,
    cfg: RuntimeConfig,
    public_url: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut failed_runs = 0u32;
    loop {
        let retry_soon = match refresh_job::run(&connections, &public_url, &cfg.import.http_policy).await {
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

/// The user sync timer: each connector whose source lists users and that has
/// `features.user_sync` is synced once its credentials are ready, then every
/// `sync.interval_minutes` ([`Schedule::sync_due`]). A run that fails waits for the next
/// interval (the next run starts from scratch anyway).
async fn sync_loop(connections: Arc<Connections>, importer: Arc<Importer>, mut stop: watch::Receiver<bool>) {
    let settings = SyncSettings::default();
    let schedule = Schedule {
        tick: SYNC_TICK,
        poll_every: None,
    };
    loop {
        if let Ok(connectors) = connections.store().list_connectors().await {
            for c in &connectors {
                let id = &c.config.id;
                match schedule.sync_due(&connections, c, Utc::now()).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(connector = %id, error = %e, "cannot read the sync schedule");
                        continue;
                    }
                }
                let wfo = importer.wfo_for(c).await;
                let deps = SyncDeps {
                    connections: &connections,
                    wfo: wfo.as_ref(),
                };
                // A run that outlives its lock is abandoned (the next interval starts afresh).
                let outcome = tokio::select! {
                    r = tokio::time::timeout(settings.run_lock_ttl, sync_connector(&deps, c, &settings)) => match r {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!(connector = %id, "user sync exceeded its deadline and was abandoned");
                            continue;
                        }
                    },
                    _ = stop.wait_for(|s| *s) => return,
                };
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
        if sleep_or_stop(SYNC_TICK, &mut stop).await {
            return;
        }
    }
}
