//! A Webex Contact Center 2.0 simulator (see the crate description).
//!
//! Two halves, joined here:
//! - the **control plane** — identity, the regional API's rate limit and `TrackingId`,
//!   paged users/teams/queues, subscriptions and signed deliveries;
//! - the **task plane** — tasks (`tasks`), GraphQL Search (`search`), captures with
//!   expiring download links (`captures`), WAV audio (`wav`) and the scenario player
//!   (`scenario`), which knows nothing of authentication: the control plane's middleware
//!   authenticates and rate-limits every regional request before it reaches them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wfo_sim_wxcc::SimError> {
//! use wfo_sim_wxcc::{SyntheticOrg, WxccSim, WxccSimConfig};
//! let sim = WxccSim::start(WxccSimConfig::default()).await?;
//! sim.generate_org(&SyntheticOrg { users: 500, teams: 10, queues: 8, seed: 1 });
//! // connector config: api_url = identity_url = sim.base_url()
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Routes (all under [`RunningWxccSim::base_url`], bound to 127.0.0.1; the regional API
//! and the identity service share the listener):
//! - identity (Webex's wire shapes, no rate limit): `GET /v1/authorize`,
//!   `POST /v1/access_token` (`authorization_code`, `refresh_token`), `GET /v1/people/me`;
//! - regional, behind the gateway ([`gateway`]: bearer, org, scope, `TrackingId`, rate
//!   limit): `GET /organization/{orgId}/v2/user`, `GET /organization/{orgId}/v2/team`,
//!   `GET /organization/{orgId}/v2/contact-service-queue`,
//!   `GET /organization/{orgId}/v2/user/by-ci-user-id/{ciUserId}` ([`directory`]);
//!   `POST|GET /v2/subscriptions`, `GET|PATCH|DELETE /v2/subscriptions/{id}`
//!   ([`subscriptions`]); and every route of [`WxccSimConfig::extra_router`] (the task
//!   plane's `POST /search`, `POST /v1/captures/query`), except paths under
//!   [`gateway::OPEN_PATH_PREFIX`] (presigned media), which pass without a token.
//! - Deliveries go out to subscriptions from the task events of
//!   [`WxccSimConfig::events`] (or [`RunningWxccSim::consume_events`],
//!   [`RunningWxccSim::deliver`]); see [`deliveries`].
//!
//! Choices where the reference is silent or UNCONFIRMED:
//! - Rate limit: a sliding 60-second window per client id on the simulator clock;
//!   refused requests (any `4xx` of the gateway) do not count toward it; `Retry-After` is
//!   the whole seconds until the window's oldest request leaves it (at least 1). Identity
//!   calls are not limited.
//! - Config lists: `pageSize` clamped to 1000 (the real maximum is not published); the
//!   ordering, link and field choices are in [`directory`].
//! - A missing `Authorization` header answers `400` like a malformed one (§1.4 names only
//!   "malformed"); `/v1/people/me` answers `401` for both, as Webex does.
//! - Reading (lists, Search, captures, `GET` subscriptions) needs `cjp:config_read` or
//!   `cjp:config`; writing subscriptions needs `cjp:config_write` or `cjp:config`.
//! - A token whose consenting account belongs to another org gets `403` on every regional
//!   route (the simulator holds one org); only `/v1/people/me` answers it.
//! - Tokens look like `<64 letters/digits>_PF84_<orgId>`; access 12 h, refresh 60 days
//!   (restarted by each refresh), rotating refresh tokens.
//! - `/v1/people/me` gives ids in Webex's base64 form; the org of the token as `orgId`.
//! - Subscription and delivery choices: see [`subscriptions`] and [`deliveries`];
//!   `http://127.0.0.1` destinations are the simulator's one relaxation.
//! - Requests without a `TrackingId` are counted only on regional routes.

pub mod clock;
pub mod config;
pub mod deliveries;
pub mod directory;
pub mod error;
pub mod events;
pub mod gateway;
mod identity;
mod state;
pub mod subscriptions;

// --- task plane (tasks.rs, search.rs, captures.rs, wav.rs, scenario.rs) ---
pub mod captures;
pub mod scenario;
pub mod search;
pub mod tasks;
pub mod wav;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use clock::SimClock;
pub use config::{
    AdminAccount, ApiLimits, CONFIG, CONFIG_READ, CONFIG_WRITE, Consent, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID, DEFAULT_REDIRECT_URI, DeliveryPolicy, ForeignAccount, Integration, KNOWN_SCOPES, TokenPolicy,
    WxccSimConfig,
};
pub use deliveries::{
    DeliveryOutcome, DeliveryRecord, SIGNATURE_HEADER, TIMESTAMP_HEADER, TestDelivery, TestSignature, VERSION_HEADER,
    sign,
};
pub use directory::{ConfigKind, Corruption, GeneratedOrg, SimQueue, SimTeam, SimUser, SyntheticOrg};
pub use error::{ApiError, SimError, TRACKING_HEADER};
pub use events::{TaskEvent, TaskEventKind};
pub use identity::TokenResponse;
pub use scenario::{
    ExpectedContact, Scenario, ScenarioAgent, ScenarioError, ScenarioIds, expected_contacts, generate_tasks,
};
pub use subscriptions::{Subscription, SubscriptionEntry};
pub use tasks::{
    AgentRef, CallType, MEDIA_PATH_PREFIX, NamedRef, SimActivity, SimRecording, SimTask, TaskFault, TaskPlane,
    TaskRoute,
};
use wfo_sim_identity::IssueError;

use directory::ConfigItem;
use state::{PageFault, Shared, SharedRef, State, to_chrono};

/// Entry point: `WxccSim::start(config)`.
pub struct WxccSim;

/// A running simulator. Call [`RunningWxccSim::shutdown`] when done.
pub struct RunningWxccSim {
    shared: SharedRef,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    consumers: Mutex<Vec<JoinHandle<()>>>,
    /// The task plane (Search, captures, media, scenarios), unless the config brought
    /// its own router.
    tasks: Option<TaskPlane>,
    scheduler: Option<JoinHandle<()>>,
}

impl WxccSim {
    /// Binds `127.0.0.1:0` and starts serving (and consuming `config.events`).
    pub async fn start(mut config: WxccSimConfig) -> Result<RunningWxccSim, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SimError::Client(e.to_string()))?;
        let mut extra = config.extra_router.take();
        let mut events = config.events.take();
        // Without a router of its own the simulator serves its task plane, on its clock.
        let tasks = if extra.is_none() && events.is_none() {
            let plane = TaskPlane::new(config.clock.clone());
            plane.set_org_id(config.org_id.clone());
            plane.set_public_base_url(format!("http://{addr}"));
            extra = Some(plane.router());
            events = Some(plane.subscribe());
            Some(plane)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&config)),
            base_url: format!("http://{addr}"),
            http,
            clock: config.clock.clone(),
            delivery_gate: tokio::sync::Mutex::new(()),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);

        let app = router(shared.clone(), extra);
        let mut rx = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::warn!(error = %e, "wxcc simulator server stopped with an error");
            }
        });
        let scheduler = tasks.as_ref().map(TaskPlane::spawn_scheduler);
        let sim = RunningWxccSim {
            shared,
            shutdown_tx,
            server,
            consumers: Mutex::new(Vec::new()),
            tasks,
            scheduler,
        };
        if let Some(events) = events {
            sim.consume_events(events);
        }
        Ok(sim)
    }
}

/// The whole app: regional routes (ours plus `extra`) behind the gateway, identity
/// routes beside them, `trackingid` on every answer.
fn router(shared: SharedRef, extra: Option<Router>) -> Router {
    let regional = Router::new()
        .route("/organization/{orgId}/v2/user", get(directory::list_users))
        .route(
            "/organization/{orgId}/v2/user/by-ci-user-id/{ciUserId}",
            get(directory::user_by_ci_id),
        )
        .route("/organization/{orgId}/v2/team", get(directory::list_teams))
        .route(
            "/organization/{orgId}/v2/contact-service-queue",
            get(directory::list_queues),
        )
        .route(
            "/v2/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/v2/subscriptions/{id}",
            get(subscriptions::get_one)
                .patch(subscriptions::patch)
                .delete(subscriptions::delete),
        )
        .with_state(shared.clone());
    let regional = match extra {
        Some(extra) => regional.merge(extra),
        None => regional,
    }
    .route_layer(from_fn_with_state(shared.clone(), gateway::regional));
    let identity = Router::new()
        .route("/v1/authorize", get(identity::authorize))
        .route("/v1/access_token", post(identity::access_token))
        .route("/v1/people/me", get(identity::people_me))
        .with_state(shared);
    Router::new()
        .merge(regional)
        .merge(identity)
        .fallback(|| async { ApiError::not_found() })
        .layer(from_fn(error::tracking))
}

impl RunningWxccSim {
    /// `http://127.0.0.1:PORT` (no trailing slash): the regional API and identity base.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The org id (plain UUID) of the simulated tenant.
    pub fn org_id(&self) -> String {
        self.shared.lock().org_id.clone()
    }

    /// The simulator's clock (shared with the task plane when passed in the config).
    pub fn clock(&self) -> SimClock {
        self.shared.clock.clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the simulator clock forward: tokens and codes expire, rate-limit windows
    /// free, without real waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(to_chrono(by));
    }

    /// Stops the server and the event consumers and waits for them (at most 5 s each).
    /// The task plane: tasks, Search, captures, scenarios (`None` when the config
    /// brought its own router).
    pub fn tasks(&self) -> Option<&TaskPlane> {
        self.tasks.as_ref()
    }

    pub async fn shutdown(self) {
        if let Some(s) = &self.scheduler {
            s.abort();
        }
        let _ = self.shutdown_tx.send(true);
        let consumers = std::mem::take(&mut *self.consumers.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for handle in std::iter::once(self.server).chain(consumers) {
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), handle).await.is_err() {
                abort.abort();
            }
        }
    }

    // --- identity ---------------------------------------------------------------

    /// Registers (or replaces) an integration.
    pub fn add_integration(&self, integration: Integration) {
        self.shared
            .lock()
            .integrations
            .insert(integration.client_id.clone(), integration);
    }

    pub fn set_consent(&self, consent: Consent) {
        self.shared.lock().consent = consent;
    }

    /// `Some`: the next consents are given by a person of another organisation.
    /// Who consents from now on as this org's administrator (another admin of the same
    /// org re-authorizing a connector).
    pub fn set_admin(&self, admin: AdminAccount) {
        self.shared.lock().admin = admin;
    }

    pub fn set_consenting_account(&self, account: Option<ForeignAccount>) {
        self.shared.lock().consenting = account;
    }

    /// Lifetimes apply to tokens issued from now on; rotation applies at once.
    pub fn set_token_policy(&self, policy: TokenPolicy) {
        self.shared.lock().tokens = policy;
    }

    /// Revokes every code, access and refresh token of the integration. Returns how many
    /// tokens were revoked.
    pub fn revoke_integration(&self, client_id: &str) -> usize {
        self.shared.lock().identity.revoke(client_id)
    }

    /// Tokens for `client_id` as the configured admin, skipping the browser dance.
    pub fn issue_tokens(&self, client_id: &str, scopes: &[&str]) -> Result<TokenResponse, SimError> {
        wfo_sim_identity::issue_tokens(&mut *self.shared.lock(), client_id, scopes).map_err(|e| match e {
            IssueError::UnknownIntegration(id) => SimError::UnknownIntegration(id),
            IssueError::UnknownScope(scope) => SimError::UnknownScope(scope),
        })
    }

    /// Every access and refresh token issued so far (rotated and revoked ones included):
    /// what a secret scan looks for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().identity.issued_tokens.clone()
    }

    /// Regional calls refused because the token belongs to another organisation.
    pub fn foreign_org_calls(&self) -> u64 {
        self.shared.lock().foreign_org_calls
    }

    // --- gateway: rate limit, tracking, faults ----------------------------------------

    pub fn set_limits(&self, limits: ApiLimits) {
        self.shared.lock().limits = limits;
    }

    /// Regional requests made with tokens of this client id since start (refused ones
    /// included).
    pub fn requests_by_client(&self, client_id: &str) -> u64 {
        self.shared.lock().traffic.get(client_id).map_or(0, |t| t.total)
    }

    /// The most regional requests of this client id in any 60-second window (simulator
    /// clock), refused ones included.
    pub fn peak_requests_per_minute(&self, client_id: &str) -> u64 {
        self.shared.lock().traffic.get(client_id).map_or(0, |t| t.peak)
    }

    /// Regional requests that came without a `TrackingId` header.
    pub fn requests_without_tracking_id(&self) -> u64 {
        self.shared.lock().without_tracking_id
    }

    /// Regional requests per route (`"GET /organization/{orgId}/v2/user"` → n) since
    /// start or the last reset, refused and faulted ones included.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().request_counts.clone()
    }

    pub fn reset_request_counts(&self) {
        self.shared.lock().request_counts.clear();
    }

    /// The next `n` authenticated regional requests answer `429` with
    /// `Retry-After: retry_after_secs` (a storm, apart from the real limit).
    pub fn push_429(&self, n: u32, retry_after_secs: u64) {
        if n > 0 {
            self.shared.lock().storm.push_back((n, retry_after_secs));
        }
    }

    /// Page `page` of the `kind` list answers `status` the next `times` times it is asked
    /// for (then normally): a listing that fails midway.
    pub fn fail_page(&self, kind: ConfigKind, page: u32, status: u16, times: u32) {
        if times > 0 {
            self.shared.lock().page_faults.push(PageFault {
                kind,
                page,
                status,
                times,
            });
        }
    }

    /// Drops pending storms and page faults.
    pub fn clear_faults(&self) {
        let mut st = self.shared.lock();
        st.storm.clear();
        st.page_faults.clear();
    }

    /// Failure answers injected so far (storms, page faults), by status.
    pub fn injected_faults(&self) -> BTreeMap<u16, u64> {
        self.shared.lock().injected.clone()
    }

    /// From now on the item is listed broken this way (until [`Self::repair_item`]).
    pub fn corrupt_item(&self, kind: ConfigKind, id: &str, how: Corruption) {
        self.shared.lock().corrupted.insert((kind, id.to_owned()), how);
    }

    /// [`Self::corrupt_item`] for a user.
    pub fn corrupt_user(&self, id: &str, how: Corruption) {
        self.corrupt_item(ConfigKind::Users, id, how);
    }

    pub fn repair_item(&self, kind: ConfigKind, id: &str) {
        self.shared.lock().corrupted.remove(&(kind, id.to_owned()));
    }

    // --- users, teams, queues -----------------------------------------------------------

    /// Adds or replaces a user (zero times are stamped with the simulator clock).
    pub fn upsert_user(&self, user: SimUser) {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.users.upsert(user, now);
    }

    pub fn upsert_team(&self, team: SimTeam) {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.teams.upsert(team, now);
    }

    pub fn upsert_queue(&self, queue: SimQueue) {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.queues.upsert(queue, now);
    }

    /// Changes one user and bumps its `version` and `lastUpdatedTime` (its id stays).
    pub fn update_user(&self, id: &str, change: impl FnOnce(&mut SimUser)) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.users
            .update(id, change, now)
            .then_some(())
            .ok_or_else(|| unknown("user", id))
    }

    pub fn update_team(&self, id: &str, change: impl FnOnce(&mut SimTeam)) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.teams
            .update(id, change, now)
            .then_some(())
            .ok_or_else(|| unknown("team", id))
    }

    pub fn update_queue(&self, id: &str, change: impl FnOnce(&mut SimQueue)) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        st.queues
            .update(id, change, now)
            .then_some(())
            .ok_or_else(|| unknown("queue", id))
    }

    /// Deletes a user: gone from the listing. `false` when unknown.
    pub fn remove_user(&self, id: &str) -> bool {
        self.shared.lock().users.remove(id).is_some()
    }

    pub fn remove_team(&self, id: &str) -> bool {
        self.shared.lock().teams.remove(id).is_some()
    }

    pub fn remove_queue(&self, id: &str) -> bool {
        self.shared.lock().queues.remove(id).is_some()
    }

    /// Every user, in listing order.
    pub fn users(&self) -> Vec<SimUser> {
        self.shared.lock().users.ordered().cloned().collect()
    }

    pub fn user(&self, id: &str) -> Option<SimUser> {
        self.shared.lock().users.get(id).cloned()
    }

    pub fn teams(&self) -> Vec<SimTeam> {
        self.shared.lock().teams.ordered().cloned().collect()
    }

    pub fn queues(&self) -> Vec<SimQueue> {
        self.shared.lock().queues.ordered().cloned().collect()
    }

    /// Adds a generated org ([`directory::synthetic`]); returns the ids it added.
    pub fn generate_org(&self, org: &SyntheticOrg) -> GeneratedOrg {
        let (users, teams, queues) = directory::synthetic(org);
        let generated = GeneratedOrg {
            user_ids: users.iter().map(|u| u.id().to_owned()).collect(),
            team_ids: teams.iter().map(|t| t.id().to_owned()).collect(),
            queue_ids: queues.iter().map(|q| q.id().to_owned()).collect(),
        };
        let mut st = self.shared.lock();
        let now = st.now().timestamp_millis();
        for t in teams {
            st.teams.upsert(t, now);
        }
        for q in queues {
            st.queues.upsert(q, now);
        }
        for u in users {
            st.users.upsert(u, now);
        }
        generated
    }

    // --- subscriptions and deliveries ---------------------------------------------------

    /// Every subscription with its secret and failure count, in creation order.
    pub fn subscriptions(&self) -> Vec<SubscriptionEntry> {
        self.shared.lock().subscriptions.clone()
    }

    /// Deactivate subscription `id` as Contact Center does once its deliveries kept
    /// failing: listed with `status: inactive`, nothing delivered, until a `PATCH` sets
    /// it active again. `false` when no subscription has that id.
    pub fn deactivate_subscription(&self, id: &str) -> bool {
        let mut st = self.shared.lock();
        match st.subscriptions.iter_mut().find(|e| e.subscription.id == id) {
            Some(entry) => {
                entry.subscription.status = "inactive".into();
                true
            }
            None => false,
        }
    }

    pub fn set_subscription_failure_threshold(&self, failures: u32) {
        self.shared.lock().failure_threshold = failures.max(1);
    }

    pub fn set_delivery_policy(&self, policy: DeliveryPolicy) {
        self.shared.lock().delivery = policy;
    }

    /// Delivers task events from this channel (until it closes or the simulator stops).
    pub fn consume_events(&self, events: broadcast::Receiver<TaskEvent>) {
        let handle = tokio::spawn(deliveries::consume(
            self.shared.clone(),
            events,
            self.shutdown_tx.subscribe(),
        ));
        self.consumers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(handle);
    }

    /// Delivers one event now (returns once sent, or at once while deliveries are held).
    pub async fn deliver(&self, event: TaskEvent) {
        deliveries::dispatch(&self.shared, vec![event]).await;
    }

    /// From now on, events are parked instead of sent.
    pub fn hold_deliveries(&self) {
        self.shared.lock().held.get_or_insert_with(Vec::new);
    }

    /// Sends every parked event as one batch under the delivery policy and stops
    /// holding. Returns once the batch is delivered.
    pub async fn release_deliveries(&self) {
        let events = self.shared.lock().held.take().unwrap_or_default();
        deliveries::deliver_batch(&self.shared, events).await;
    }

    /// Every delivery attempt so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }

    /// Events a consumer missed because it fell behind its channel.
    pub fn lagged_events(&self) -> u64 {
        self.shared.lock().lagged_events
    }

    /// The §5.2 body the simulator would send now for this subscription and event.
    pub fn envelope_for(&self, subscription_id: &str, event: &TaskEvent) -> String {
        let mut st = self.shared.lock();
        let id = st.random_uuid().to_string();
        let now = st.now().timestamp_millis();
        deliveries::envelope(&id, subscription_id, &st.org_id, now, event)
    }

    /// POSTs a hand-made delivery (signed, unsigned, wrongly signed, stale) to `url`;
    /// returns the receiver's status. Not logged in [`Self::deliveries`].
    pub async fn send_test_delivery(&self, url: &str, delivery: TestDelivery) -> Result<u16, SimError> {
        deliveries::send_test(&self.shared, url, delivery).await
    }
}

fn unknown(kind: &'static str, id: &str) -> SimError {
    SimError::UnknownItem {
        kind,
        id: id.to_owned(),
    }
}
