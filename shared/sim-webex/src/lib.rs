//! A Webex Calling simulator: identity (OAuth integrations), converged recordings,
//! metadata, MP3 audio, webhooks with signed and policy-driven delivery, and a scenario
//! player over `fixtures/webex-calling`. It enforces the contract it simulates (30-day
//! admin window, `max` 1–100, single-use codes, rotating refresh tokens, scopes, expiring
//! download tickets, hidden metadata fields, webhook auto-deactivation).
//!
//! ```no_run
//! # async fn demo() -> Result<(), wfo_sim_webex::SimError> {
//! use wfo_sim_webex::{WebexSim, WebexSimConfig};
//! let sim = WebexSim::start(WebexSimConfig::default()).await?;
//! let call = sim.instantiate("basic-inbound", chrono::Utc::now())?;
//! sim.publish(&call).await; // listable now; webhooks fired
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Routes (all under [`RunningWebexSim::base_url`], bound to 127.0.0.1):
//! - `GET /v1/authorize`, `POST /v1/access_token` (§4.1);
//! - `GET /v1/admin/convergedRecordings`, `GET /v1/convergedRecordings`,
//!   `GET /v1/convergedRecordings/{id}`, `GET /v1/convergedRecordings/{id}/metadata`;
//! - `GET /nbr/MultiThreadDownloadServlet?...&recordUUID=&ticket=` (the audio link);
//! - `GET|POST /v1/webhooks`, `GET|PUT|DELETE /v1/webhooks/{id}`;
//! - `GET /v1/people`, `GET /v1/licenses`,
//!   `GET /v1/telephony/config/callRecording/vendorUsers`,
//!   `GET /v1/people/{id}/features/callRecording` (the user sync; see [`people`]);
//! - `GET /sim/state`, `POST /sim/play`, `POST /sim/integrations/{client_id}/revoke`,
//!   `POST /sim/people` (upsert), `POST /sim/people/generate`, `DELETE /sim/people/{id}`,
//!   `GET /sim/requests`.
//!
//! Choices where the reference is UNCONFIRMED:
//! - `from`/`to` filter on `createTime`; pages are ordered (createTime desc, id desc) and
//!   the `Link rel="next"` URL is complete (from, to, max, filters, opaque `cursor`).
//! - The `timezone` header is ignored: every time is UTC (`Z`).
//! - `/v1/access_token` accepts client credentials in the form or via HTTP Basic.
//! - Metadata `204` means "not ready yet" (see [`WebexSimConfig::metadata_delay`]).
//! - Webhook delivery: see the [`webhooks`] module docs for the `data` fields.

pub mod config;
mod control;
pub mod error;
mod faults;
mod identity;
pub mod mp3;
pub mod people;
mod recordings;
pub mod scenario;
mod state;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    ADMIN_READ, COMPLIANCE_READ, Consent, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI,
    DeliveryPolicy, Fault, FaultConfig, FixtureSource, ForeignAccount, Integration, KNOWN_SCOPES, SimUser, TokenPolicy,
    USER_READ, WebexSimConfig,
};
pub use control::{RecordingState, SimSnapshot, WebhookState};
pub use error::{ApiError, SimError, TRACKING_HEADER};
pub use identity::TokenResponse;
pub use mp3::{AudioPlan, Mp3Audio};
pub use people::{SimLicense, SimPerson, SimRecording, SyntheticOrg};
pub use scenario::{
    FixtureUser, InstanceRecording, RecordingSummary, ScenarioError, ScenarioInstance, ScenarioLibrary,
    SummaryServiceData,
};
pub use state::{BadDownload, DeliveryOutcome, DeliveryRecord, InjectedFaults, Webhook};
pub use webhooks::{SIGNATURE_HEADER, sign};
use wfo_sim_identity::IssueError;

use state::{Shared, SharedRef, State, StoredRecording, to_chrono};

/// Entry point: `WebexSim::start(config)`.
pub struct WebexSim;

/// A running simulator. Call [`RunningWebexSim::shutdown`] when done.
pub struct RunningWebexSim {
    shared: SharedRef,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl WebexSim {
    /// Binds `127.0.0.1:0`, starts serving and the publication scheduler.
    pub async fn start(config: WebexSimConfig) -> Result<RunningWebexSim, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let library = match &config.fixtures {
            FixtureSource::Embedded => ScenarioLibrary::embedded(),
            FixtureSource::Dir(path) => ScenarioLibrary::from_dir(path)?,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SimError::Client(e.to_string()))?;
        let mut state = State::new(&config);
        people::seed_from_fixtures(&mut state, &library.users());
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            base_url: format!("http://{addr}"),
            http,
            library,
            wake: tokio::sync::Notify::new(),
            delivery_gate: tokio::sync::Mutex::new(()),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);

        let app = router(shared.clone());
        let mut rx = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::warn!(error = %e, "webex simulator server stopped with an error");
            }
        });
        let scheduler = tokio::spawn(scheduler(shared.clone(), shutdown_rx));
        Ok(RunningWebexSim {
            shared,
            shutdown_tx,
            server,
            scheduler,
        })
    }
}

fn router(shared: SharedRef) -> Router {
    let api = Router::new()
        .route("/v1/admin/convergedRecordings", get(recordings::list_admin))
        .route("/v1/convergedRecordings", get(recordings::list_own))
        .route("/v1/convergedRecordings/{id}", get(recordings::details))
        .route("/v1/convergedRecordings/{id}/metadata", get(recordings::metadata))
        .route("/v1/people", get(people::list_people))
        .route("/v1/people/me", get(people::me))
        .route("/v1/people/{id}", get(people::get_person))
        .route("/v1/people/{id}/features/callRecording", get(people::call_recording))
        .route("/v1/licenses", get(people::list_licenses))
        .route("/v1/adminAudit/events", get(people::admin_audit_events))
        .route(
            "/v1/telephony/config/callRecording/vendorUsers",
            get(people::vendor_users),
        )
        .route("/v1/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get_one).put(webhooks::update).delete(webhooks::delete),
        )
        .route_layer(from_fn_with_state(shared.clone(), faults::api));
    let identity = Router::new()
        .route("/v1/authorize", get(identity::authorize))
        .route("/v1/access_token", post(identity::access_token))
        .route_layer(from_fn_with_state(shared.clone(), faults::identity));
    let media = Router::new()
        .route(recordings::media_path(), get(recordings::media))
        .route_layer(from_fn_with_state(shared.clone(), faults::media));
    Router::new()
        .merge(api)
        .merge(identity)
        .merge(media)
        .merge(control::router())
        .fallback(|| async { ApiError::not_found() })
        .layer(from_fn(error::tracking))
        .with_state(shared)
}

/// Fires webhook events of recordings published for a later time, when it comes.
async fn scheduler(shared: SharedRef, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let (due, wait) = {
            let mut st = shared.lock();
            let now = st.now();
            let mut due = Vec::new();
            st.scheduled.retain_mut(|(at, events)| {
                if *at <= now {
                    due.append(events);
                    false
                } else {
                    true
                }
            });
            let next = st.scheduled.iter().map(|(at, _)| *at).min();
            let wait = next
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(1));
            (due, wait)
        };
        if !due.is_empty() {
            dispatch(&shared, due, 1).await;
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends now (up to `concurrency` at once), or parks the events while deliveries are held.
async fn dispatch(shared: &SharedRef, events: Vec<RecordingSummary>, concurrency: usize) {
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
    webhooks::deliver_batch(shared, events, concurrency).await;
}

fn store(st: &mut State, instance: &ScenarioInstance, available_at: DateTime<Utc>) -> Vec<RecordingSummary> {
    let ready_at = available_at + to_chrono(st.metadata_delay);
    instance
        .recordings
        .iter()
        .map(|r| {
            st.recordings.insert(
                r.summary.id.clone(),
                StoredRecording {
                    summary: r.summary.clone(),
                    metadata: std::sync::Arc::new(r.metadata.clone()),
                    metadata_json: std::sync::Arc::default(),
                    audio: r.audio.clone(),
                    available_at,
                    metadata_ready_at: Some(ready_at),
                    prevent_download: false,
                },
            );
            r.summary.clone()
        })
        .collect()
}

pub(crate) async fn publish_now(shared: &SharedRef, instances: &[ScenarioInstance], concurrency: usize) {
    let events = {
        let mut st = shared.lock();
        let now = st.now();
        instances
            .iter()
            .flat_map(|i| store(&mut st, i, now))
            .collect::<Vec<_>>()
    };
    dispatch(shared, events, concurrency).await;
}

pub(crate) fn schedule(shared: &SharedRef, instance: &ScenarioInstance, at: DateTime<Utc>) {
    let mut st = shared.lock();
    let events = store(&mut st, instance, at);
    st.scheduled.push((at, events));
    drop(st);
    shared.wake.notify_one();
}

pub(crate) fn instantiate_with(
    shared: &SharedRef,
    scenario: &str,
    base_time: DateTime<Utc>,
    shrink: u32,
) -> Result<ScenarioInstance, ScenarioError> {
    let seed: u64 = shared.lock().rng.random();
    shared
        .library
        .instantiate_shrunk(scenario, base_time, &mut StdRng::seed_from_u64(seed), shrink)
}

impl RunningWebexSim {
    /// `http://127.0.0.1:PORT` (no trailing slash); both API and identity base.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Stops the server and the scheduler and waits for both (at most 5 s each).
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        self.shared.wake.notify_one();
        for handle in [self.server, self.scheduler] {
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), handle).await.is_err() {
                abort.abort();
            }
        }
    }

    /// The org id (plain UUID) used in tokens, links and webhooks.
    pub fn org_id(&self) -> String {
        self.shared.lock().org_id.clone()
    }

    /// The simulator's clock (wall clock plus [`Self::advance_clock`]).
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the simulator's clock forward: tokens, codes, links expire and scheduled
    /// publications become due without real waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += to_chrono(by);
        self.shared.wake.notify_one();
    }

    // --- identity ---------------------------------------------------------------

    /// Registers (or replaces) an integration.
    pub fn add_integration(&self, integration: Integration) {
        self.shared
            .lock()
            .integrations
            .insert(integration.client_id.clone(), integration);
    }

    /// The next `n` audio downloads send half the audio and then stall (the connection
    /// stays open, nothing more comes).
    pub fn stall_downloads(&self, n: u32) {
        self.shared.lock().stall_downloads = n;
    }

    /// Stalls still to come (0 once every one set has happened).
    /// The next downloads answer `200` with these wrong bodies, one each, in order.
    pub fn serve_bad_downloads(&self, bad: impl IntoIterator<Item = BadDownload>) {
        self.shared.lock().bad_downloads.extend(bad);
    }

    /// Take the Compliance Officer role from (or give it back to) the authorizing user:
    /// while taken, compliance-scoped recording reads answer `403`.
    pub fn set_compliance_role(&self, granted: bool) {
        self.shared.lock().compliance_role_revoked = !granted;
    }

    pub fn stalls_left(&self) -> u32 {
        self.shared.lock().stall_downloads
    }

    /// Every access and refresh token issued so far (codes exchanged, refreshes,
    /// [`Self::issue_tokens`]), revoked and rotated ones included: what a secret scan
    /// looks for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().identity.issued_tokens.clone()
    }

    /// `Some`: the next consents are given by a person of another organisation.
    pub fn set_consenting_account(&self, account: Option<ForeignAccount>) {
        self.shared.lock().consenting = account;
    }

    /// API calls (other than `/v1/people/me`) made with a token of another organisation.
    pub fn foreign_org_calls(&self) -> u64 {
        self.shared.lock().foreign_org_calls
    }

    pub fn set_consent(&self, consent: Consent) {
        self.shared.lock().consent = consent;
    }

    /// Lifetimes apply to tokens issued from now on; rotation applies at once.
    pub fn set_token_policy(&self, policy: TokenPolicy) {
        self.shared.lock().tokens = policy;
    }

    /// Revokes every code, access and refresh token of the integration (what a password
    /// change or a deauthorisation does). Returns how many tokens were revoked.
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

    // --- scenarios and publication ---------------------------------------------

    pub fn library(&self) -> &ScenarioLibrary {
        &self.shared.library
    }

    /// [`ScenarioLibrary::instantiate`] with the simulator's seeded generator.
    pub fn instantiate(&self, scenario: &str, base_time: DateTime<Utc>) -> Result<ScenarioInstance, SimError> {
        Ok(instantiate_with(&self.shared, scenario, base_time, 1)?)
    }

    /// [`ScenarioLibrary::instantiate_shrunk`] with the simulator's seeded generator: the
    /// call `shrink` times shorter, its recording as many times smaller.
    pub fn instantiate_shrunk(
        &self,
        scenario: &str,
        base_time: DateTime<Utc>,
        shrink: u32,
    ) -> Result<ScenarioInstance, SimError> {
        Ok(instantiate_with(&self.shared, scenario, base_time, shrink)?)
    }

    /// Makes the instance's recordings available now and delivers their webhook events
    /// (returns once the batch is delivered, or at once while deliveries are held).
    pub async fn publish(&self, instance: &ScenarioInstance) {
        publish_now(&self.shared, std::slice::from_ref(instance), 1).await;
    }

    /// Publishes every instance, then delivers all their events as one batch (so the
    /// delivery policy's reorder/duplicates/drops act across calls).
    pub async fn publish_all(&self, instances: &[ScenarioInstance]) {
        publish_now(&self.shared, instances, 1).await;
    }

    /// [`RunningWebexSim::publish_all`] with up to `concurrency` deliveries in flight at
    /// once, as Webex's many senders do: the receiver sees them overlap (benchmarks).
    /// Each delivery's `at` is still when its answer came.
    pub async fn publish_all_concurrently(&self, instances: &[ScenarioInstance], concurrency: usize) {
        publish_now(&self.shared, instances, concurrency).await;
    }

    /// The recordings stay invisible until the simulator clock reaches `at`; their
    /// webhook events fire then.
    pub fn publish_at(&self, instance: &ScenarioInstance, at: DateTime<Utc>) {
        schedule(&self.shared, instance, at);
    }

    /// From now on, webhook events are parked instead of sent.
    pub fn hold_deliveries(&self) {
        self.shared.lock().held.get_or_insert_with(Vec::new);
    }

    /// Sends every parked event as one batch under the delivery policy and stops
    /// holding. Returns once the batch is delivered.
    pub async fn release_deliveries(&self) {
        let events = self.shared.lock().held.take().unwrap_or_default();
        webhooks::deliver_batch(&self.shared, events, 1).await;
    }

    // --- recordings ---------------------------------------------------------------

    fn with_recording<T>(&self, id: &str, f: impl FnOnce(&mut StoredRecording) -> T) -> Result<T, SimError> {
        let mut st = self.shared.lock();
        let rec = st
            .recordings
            .get_mut(id)
            .ok_or_else(|| SimError::UnknownRecording(id.to_owned()))?;
        Ok(f(rec))
    }

    /// `false`: metadata answers `204` until set ready again.
    pub fn set_metadata_ready(&self, id: &str, ready: bool) -> Result<(), SimError> {
        let now = self.now();
        self.with_recording(id, |r| r.metadata_ready_at = ready.then_some(now))
    }

    /// "Prevent Downloading": details carry no download links.
    pub fn set_prevent_download(&self, id: &str, prevent: bool) -> Result<(), SimError> {
        self.with_recording(id, |r| r.prevent_download = prevent)
    }

    /// `available | deleted | purged` (what the list's `status` filter sees).
    pub fn set_recording_status(&self, id: &str, status: &str) -> Result<(), SimError> {
        self.with_recording(id, |r| r.summary.status = status.to_owned())
    }

    /// Every request from now on is answered `latency` later (see `WebexSimConfig::latency`).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Metadata delay for recordings published from now on.
    pub fn set_metadata_delay(&self, delay: Duration) {
        self.shared.lock().metadata_delay = delay;
    }

    /// Lifetime of download links minted from now on.
    pub fn set_link_lifetime(&self, lifetime: Duration) {
        self.shared.lock().link_lifetime = lifetime;
    }

    /// While on, every download link answers `403` as if expired.
    pub fn set_link_expired(&self, expired: bool) {
        self.shared.lock().link_expired = expired;
    }

    // --- faults and delivery --------------------------------------------------------

    /// Replaces the fault configuration and reseeds its generator.
    pub fn set_faults(&self, faults: FaultConfig) {
        let mut st = self.shared.lock();
        st.fault_rng = StdRng::seed_from_u64(faults.seed);
        st.faults = faults;
    }

    /// Forces these faults on the next requests the fault configuration covers (API
    /// routes; identity and media only when included), in order, before any random draw.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().forced_faults.extend(faults);
    }

    pub fn set_delivery_policy(&self, policy: DeliveryPolicy) {
        self.shared.lock().delivery = policy;
    }

    pub fn set_webhook_failure_threshold(&self, failures: u32) {
        self.shared.lock().failure_threshold = failures.max(1);
    }

    /// Fails requests of one route: the first `skip` pass, the next `times` answer
    /// `fault`. `route` is the method and route template, e.g. `"GET /v1/people"` or
    /// `"GET /v1/people/{id}/features/callRecording"`. Applies before any other fault.
    pub fn push_route_fault(&self, route: &str, skip: u32, times: u32, fault: Fault) {
        if times > 0 {
            self.shared.lock().route_faults.push(state::RouteFault {
                route: route.to_owned(),
                skip,
                times,
                fault,
            });
        }
    }

    /// Drops every route fault not yet used up.
    pub fn clear_route_faults(&self) {
        self.shared.lock().route_faults.clear();
    }

    /// API requests per route (`"GET /v1/people"` → n) since start or the last reset,
    /// faulted ones included.
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.lock().request_counts.clone()
    }

    pub fn reset_request_counts(&self) {
        self.shared.lock().request_counts.clear();
    }

    /// What the fault injection did since start: failure answers by status, slow
    /// answers, stalled downloads.
    pub fn injected_faults(&self) -> InjectedFaults {
        self.shared.lock().injected.clone()
    }

    // --- people, licenses, recording settings -------------------------------------------

    /// Every user of the org, by id.
    pub fn people(&self) -> Vec<SimPerson> {
        self.shared.lock().people.values().cloned().collect()
    }

    pub fn people_count(&self) -> usize {
        self.shared.lock().people.len()
    }

    pub fn person(&self, id: &str) -> Option<SimPerson> {
        self.shared.lock().people.get(&id.to_ascii_lowercase()).cloned()
    }

    /// Adds or replaces users (keyed by their lowercased id). Replacing a user's
    /// call-recording setting records an admin audit event, as Control Hub does.
    pub fn upsert_people(&self, people: impl IntoIterator<Item = SimPerson>) {
        let mut st = self.shared.lock();
        for mut p in people {
            p.id = p.id.to_ascii_lowercase();
            if let Some(old) = st.people.get(&p.id)
                && old.recording != p.recording
            {
                people::record_setting_change(&mut st, &p);
            }
            st.people.insert(p.id.clone(), p);
        }
    }

    /// Adds the users of a generated org; returns their ids in index order.
    pub fn generate_people(&self, org: &SyntheticOrg) -> Vec<String> {
        let people = people::synthetic_people(org);
        let ids = people.iter().map(|p| p.id.clone()).collect();
        self.upsert_people(people);
        ids
    }

    /// Changes one user (as an admin would in Control Hub: a change of the
    /// call-recording setting records an admin audit event). `Err` when there is none
    /// with that id.
    pub fn update_person(&self, id: &str, change: impl FnOnce(&mut SimPerson)) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        let p = st
            .people
            .get_mut(&id.to_ascii_lowercase())
            .ok_or_else(|| SimError::UnknownPerson(id.to_owned()))?;
        let before = p.recording.clone();
        change(p);
        if p.recording != before {
            let p = p.clone();
            people::record_setting_change(&mut st, &p);
        }
        Ok(())
    }

    /// The admin audit events recorded so far, oldest first.
    pub fn audit_events(&self) -> Vec<people::SimAuditEvent> {
        self.shared.lock().audit_events.clone()
    }

    /// Deletes a user (the People API stops listing them). `false` when unknown.
    pub fn remove_person(&self, id: &str) -> bool {
        self.shared.lock().people.remove(&id.to_ascii_lowercase()).is_some()
    }

    pub fn licenses(&self) -> Vec<SimLicense> {
        self.shared.lock().licenses.clone()
    }

    /// Replaces the org's license list (users keep their license keys).
    pub fn set_licenses(&self, licenses: Vec<SimLicense>) {
        self.shared.lock().licenses = licenses;
    }

    // --- inspection -------------------------------------------------------------------

    /// What `GET /sim/state` shows.
    pub fn state(&self) -> SimSnapshot {
        control::snapshot(&self.shared.lock())
    }

    /// Every stored recording (including scheduled ones), newest first.
    pub fn recordings(&self) -> Vec<RecordingSummary> {
        self.state().recordings.into_iter().map(|r| r.summary).collect()
    }

    /// The full metadata document of a recording.
    pub fn metadata(&self, id: &str) -> Option<Value> {
        self.shared.lock().recordings.get(id).map(|r| (*r.metadata).clone())
    }

    /// The MP3 bytes of a recording.
    pub fn audio(&self, id: &str) -> Option<Bytes> {
        self.shared.lock().recordings.get(id).map(|r| r.audio.bytes.clone())
    }

    /// Deactivate webhook `id` as Webex does once its deliveries kept failing: listed
    /// with `status: inactive`, nothing delivered, until an update sets it active again.
    /// `false` when no webhook has that id.
    pub fn deactivate_webhook(&self, id: &str) -> bool {
        let mut st = self.shared.lock();
        match st.webhooks.iter_mut().find(|e| e.hook.id == id) {
            Some(entry) => {
                entry.hook.status = "inactive".into();
                true
            }
            None => false,
        }
    }

    pub fn webhooks(&self) -> Vec<WebhookState> {
        self.state().webhooks
    }

    /// Every delivery attempt so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }
}
