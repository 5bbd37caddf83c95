//! A Webex Contact Center 1.0 ("Cisco Customer Journey Platform") simulator, built to the
//! working assumption of reference §6.4 (UNCONFIRMED as a whole; every choice the reference
//! leaves open is stated in the module that makes it).
//!
//! ```no_run
//! # async fn demo() -> Result<(), wfo_sim_wxcc1::SimError> {
//! use wfo_sim_wxcc1::{Scenario, ScenarioAgent, Wxcc1Sim, Wxcc1SimConfig};
//! let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await?;
//! let agents = [ScenarioAgent { ci_user_id: "a1".into(), name: "Ann Agent".into() }];
//! let base = sim.now() - chrono::Duration::hours(1);
//! let _task = sim.play(Scenario::BasicInbound, base, &agents);
//! // connector config: api_url = sim.base_url(), media_api_url = sim.media_url()
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Routes (under [`RunningWxcc1Sim::base_url`], bound to 127.0.0.1), every one behind the
//! API-key check of [`auth`] (`401` / `403`):
//! - `GET /csrs?q=<JSON>`, `GET /cars?q=<JSON>` — reporting records ([`records`]); the CSR
//!   window filters on the session's **start** (`cstts`);
//! - `GET /auxiliary-data/resources/{user|team|virtualTeam}?page=&pageSize=` —
//!   configuration ([`aux_data`]);
//! - `GET /media?sessionId=<sid>` — the session's mono WAV recording ([`media`]).
//!
//! Sessions come from the 2.0 simulator's scenarios ([`RunningWxcc1Sim::play`],
//! [`RunningWxcc1Sim::insert_task`]: a [`SimTask`] converted by [`Session::from_task`]) or
//! are inserted as they are ([`RunningWxcc1Sim::insert_session`]). Time is a [`SimClock`]:
//! sessions appear once ended, recordings `capture_delay` later.

pub mod auth;
pub mod aux_data;
pub mod error;
pub mod media;
pub mod records;
mod state;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use auth::{Credentials, authorization, signature};
pub use aux_data::{AuxItem, AuxResource};
pub use error::{ApiError, SimError};
pub use media::MonoWav;
pub use records::{Car, Csr, MAX_RECORDS, Recording, Session};
pub use state::{Fault, Route};
pub use wfo_sim_wxcc::scenario::Scenario;
pub use wfo_sim_wxcc::{ScenarioAgent, ScenarioError, ScenarioIds, SimClock, SimTask};

use state::{Shared, SharedRef, State};

/// Defaults of [`Wxcc1SimConfig`].
pub const DEFAULT_USERNAME: &str = "api-user@sim-tenant.example.com";
pub const DEFAULT_API_KEY: &str = "sim-api-key-0123456789abcdef";
pub const DEFAULT_TENANT_ID: &str = "sim-tenant-1";

/// How the simulator starts.
#[derive(Debug, Clone)]
pub struct Wxcc1SimConfig {
    /// The one API user the simulator accepts, its key and the tenant.
    pub username: String,
    pub api_key: String,
    pub tenant_id: String,
    /// Time of the simulator (share one with a 2.0 simulator to play both together).
    pub clock: SimClock,
    /// Recordings become available this long after their session ended.
    pub capture_delay: Duration,
}

impl Default for Wxcc1SimConfig {
    fn default() -> Self {
        Wxcc1SimConfig {
            username: DEFAULT_USERNAME.to_owned(),
            api_key: DEFAULT_API_KEY.to_owned(),
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            clock: SimClock::default(),
            capture_delay: Duration::ZERO,
        }
    }
}

/// Entry point: `Wxcc1Sim::start(config)`.
pub struct Wxcc1Sim;

/// A running simulator. Call [`RunningWxcc1Sim::shutdown`] when done.
pub struct RunningWxcc1Sim {
    shared: SharedRef,
    base_url: String,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Wxcc1Sim {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(config: Wxcc1SimConfig) -> Result<RunningWxcc1Sim, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                credentials: Credentials {
                    username: config.username,
                    api_key: config.api_key,
                    tenant_id: config.tenant_id,
                },
                sessions: BTreeMap::new(),
                aux: BTreeMap::new(),
                aux_raw: BTreeMap::new(),
                aux_page_faults: BTreeMap::new(),
                capture_delay: config.capture_delay,
                faults: VecDeque::new(),
                request_counts: BTreeMap::new(),
                refused: 0,
                rng: StdRng::from_os_rng(),
            }),
            clock: config.clock,
        });
        let app = router(shared.clone());
        let (shutdown_tx, mut rx) = watch::channel(false);
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::warn!(error = %e, "wxcc 1.0 simulator server stopped with an error");
            }
        });
        Ok(RunningWxcc1Sim {
            shared,
            base_url: format!("http://{addr}"),
            shutdown_tx,
            server,
        })
    }
}

fn router(shared: SharedRef) -> Router {
    Router::new()
        .route("/csrs", get(records::csrs))
        .route("/cars", get(records::cars))
        .route("/auxiliary-data/resources/{kind}", get(aux_data::list))
        .route("/media", get(media::get))
        .route_layer(from_fn_with_state(shared.clone(), auth::require))
        .fallback(|| async { ApiError::not_found("no such resource") })
        .with_state(shared)
}

impl RunningWxcc1Sim {
    /// `http://127.0.0.1:PORT` (no trailing slash): the connector's `api_url`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base}/media`: the connector's `media_api_url`.
    pub fn media_url(&self) -> String {
        format!("{}/media", self.base_url)
    }

    /// The accepted user, key and tenant.
    pub fn credentials(&self) -> Credentials {
        self.shared.lock().credentials.clone()
    }

    /// The `Authorization` header value a well-behaved client sends.
    pub fn authorization(&self) -> String {
        let c = self.credentials();
        authorization(&c.api_key, &c.username, &c.tenant_id)
    }

    pub fn clock(&self) -> SimClock {
        self.shared.clock.clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the simulator clock forward without real waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .clock
            .advance(chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX));
    }

    // --- sessions ---------------------------------------------------------------------

    /// Adds (or replaces, by `sid`) a session.
    pub fn insert_session(&self, session: Session) {
        self.shared
            .lock()
            .sessions
            .insert(session.csr.sid.clone(), Arc::new(session));
    }

    /// Converts a 2.0 task ([`Session::from_task`]) and adds it; returns the session.
    pub fn insert_task(&self, task: &SimTask) -> Session {
        let tenant = self.shared.lock().credentials.tenant_id.clone();
        let session = Session::from_task(task, &tenant);
        self.insert_session(session.clone());
        session
    }

    /// Builds a 2.0 task of `scenario` starting at `base` (agents taken in order, default
    /// queue and team ids), adds its 1.0 session and returns the task.
    pub fn play(
        &self,
        scenario: Scenario,
        base: DateTime<Utc>,
        agents: &[ScenarioAgent],
    ) -> Result<SimTask, ScenarioError> {
        self.play_with(scenario, base, agents, &ScenarioIds::default())
    }

    /// [`RunningWxcc1Sim::play`] with the queue and team ids given.
    pub fn play_with(
        &self,
        scenario: Scenario,
        base: DateTime<Utc>,
        agents: &[ScenarioAgent],
        ids: &ScenarioIds,
    ) -> Result<SimTask, ScenarioError> {
        let seed: u64 = self.shared.lock().rng.random();
        let task = wfo_sim_wxcc::scenario::build(scenario, base, agents, ids, &mut StdRng::seed_from_u64(seed))?;
        self.insert_task(&task);
        Ok(task)
    }

    pub fn session(&self, sid: &str) -> Option<Session> {
        self.shared.lock().sessions.get(sid).map(|s| (**s).clone())
    }

    /// Every stored session, ordered by `sid`.
    pub fn sessions(&self) -> Vec<Session> {
        self.shared.lock().sessions.values().map(|s| (**s).clone()).collect()
    }

    pub fn remove_session(&self, sid: &str) -> bool {
        self.shared.lock().sessions.remove(sid).is_some()
    }

    /// Recordings become available this long after their session ended (simulator clock).
    pub fn set_capture_delay(&self, delay: Duration) {
        self.shared.lock().capture_delay = delay;
    }

    // --- configuration ----------------------------------------------------------------

    /// Adds (or replaces, by id) a user, team or queue.
    pub fn upsert_aux(&self, kind: AuxResource, item: AuxItem) {
        self.shared
            .lock()
            .aux
            .entry(kind)
            .or_default()
            .insert(item.id.clone(), item);
    }

    pub fn remove_aux(&self, kind: AuxResource, id: &str) -> bool {
        self.shared
            .lock()
            .aux
            .get_mut(&kind)
            .is_some_and(|m| m.remove(id).is_some())
    }

    /// Adds an entry served exactly as given, after the items of [`Self::upsert_aux`]
    /// (for entries an [`AuxItem`] cannot spell: no `id`, `attributes` not an object).
    pub fn push_raw_aux(&self, kind: AuxResource, entry: serde_json::Value) {
        self.shared.lock().aux_raw.entry(kind).or_default().push(entry);
    }

    // --- traffic and faults -----------------------------------------------------------

    /// Authenticated requests per route (faulted ones included).
    pub fn request_counts(&self) -> BTreeMap<Route, u64> {
        self.shared.lock().request_counts.clone()
    }

    /// Requests refused by the API-key check (`401` and `403`).
    pub fn refused_requests(&self) -> u64 {
        self.shared.lock().refused
    }

    /// Queues a fault; faults of one route apply in the order pushed.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Page `page` (from 0) of the `kind` list answers `status` on every request until
    /// [`Self::clear_aux_page_faults`] (a page that keeps failing, whatever the retries).
    pub fn fail_aux_page(&self, kind: AuxResource, page: usize, status: u16) {
        self.shared.lock().aux_page_faults.insert((kind, page), status);
    }

    pub fn clear_aux_page_faults(&self) {
        self.shared.lock().aux_page_faults.clear();
    }

    /// Stops the server and waits for it (at most 5 s).
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let abort = self.server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.server).await.is_err() {
            abort.abort();
        }
    }
}
