//! The simulator's shared state. One `std::sync::Mutex`, never held across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Consent, DeliveryPolicy, Fault, FaultConfig, Integration, SimUser, TokenPolicy, WebexSimConfig};
use wfo_sim_identity::TokenStore;

use crate::mp3::Mp3Audio;
use crate::people::{SimLicense, SimPerson};
use crate::scenario::{RecordingSummary, ScenarioLibrary};

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub base_url: String,
    pub http: reqwest::Client,
    pub library: ScenarioLibrary,
    /// Wakes the scheduler (new scheduled publication, clock moved, shutdown).
    pub wake: tokio::sync::Notify,
    /// Serialises delivery batches so each batch goes out in its own order.
    pub delivery_gate: tokio::sync::Mutex<()>,
}

impl Shared {
    /// Locks the state; a poisoned lock (a panic elsewhere) is taken over as is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(crate) type SharedRef = Arc<Shared>;

/// What an access (or refresh) token stands for.
pub(crate) use wfo_sim_identity::Grant;

#[derive(Debug, Clone)]
pub(crate) struct StoredRecording {
    pub summary: RecordingSummary,
    pub metadata: std::sync::Arc<Value>,
    /// The metadata as answered (all types, then the default view), made on the first
    /// read and outside the simulator's lock.
    pub metadata_json: std::sync::Arc<std::sync::OnceLock<(bytes::Bytes, bytes::Bytes)>>,
    pub audio: Mp3Audio,
    /// Listable and fetchable from this instant on.
    pub available_at: DateTime<Utc>,
    /// Metadata answers `204` before this instant; `None` = not ready until told.
    pub metadata_ready_at: Option<DateTime<Utc>>,
    /// "Prevent Downloading": no `temporaryDirectDownloadLinks` for anybody.
    pub prevent_download: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub recording_id: String,
    pub expires_at: DateTime<Utc>,
}

/// A webhook as the API shows it (§3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `active | inactive`.
    pub status: String,
    pub created: String,
    /// `creator | org`.
    pub owned_by: String,
    pub org_id: String,
    pub created_by: String,
    pub app_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct WebhookEntry {
    pub hook: Webhook,
    /// Plain ids of the creator, for ownership checks and "creator" delivery scope.
    pub creator_user: String,
    pub client_id: String,
    pub consecutive_failures: u32,
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
    /// The webhook had turned inactive (or was deleted) before its turn came.
    Skipped,
}

/// One delivery attempt, in the order attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub seq: u64,
    pub webhook_id: String,
    pub recording_id: String,
    pub target_url: String,
    pub at: DateTime<Utc>,
    /// True for the second copy of a duplicated delivery.
    pub duplicate: bool,
    pub outcome: DeliveryOutcome,
    /// The exact body bytes (UTF-8 JSON) sent or that would have been sent.
    pub body: String,
}

impl DeliveryRecord {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, DeliveryOutcome::Response { status } if (200..300).contains(&status))
    }
}

pub(crate) struct State {
    pub org_id: String,
    pub admin: SimUser,
    pub integrations: BTreeMap<String, Integration>,
    pub consent: Consent,
    /// `Some`: the next consents are given by this account of another org.
    pub consenting: Option<crate::config::ForeignAccount>,
    /// API calls (other than `/v1/people/me`) made with a token of another org.
    pub foreign_org_calls: u64,
    pub tokens: TokenPolicy,
    pub link_lifetime: Duration,
    pub metadata_delay: Duration,
    pub faults: FaultConfig,
    pub fault_rng: StdRng,
    pub forced_faults: VecDeque<Fault>,
    pub delivery: DeliveryPolicy,
    pub failure_threshold: u32,
    pub delivery_timeout: Duration,
    pub rng: StdRng,
    pub clock_offset: chrono::Duration,
    /// Codes, access and refresh tokens, every token issued.
    pub identity: TokenStore,
    pub recordings: HashMap<String, StoredRecording>,
    pub tickets: HashMap<String, Ticket>,
    pub link_expired: bool,
    /// Downloads still to be stalled: half the audio is sent, then nothing.
    pub stall_downloads: u32,
    /// The authorizing user lost the Compliance Officer role: compliance-scoped reads
    /// answer `403` (the scope is still in the token) until it is granted again.
    pub compliance_role_revoked: bool,
    /// The next downloads answer `200` with this instead of the MP3 (one each).
    pub bad_downloads: std::collections::VecDeque<BadDownload>,
    pub webhooks: Vec<WebhookEntry>,
    pub deliveries: Vec<DeliveryRecord>,
    /// `Some` while deliveries are held back for a batch.
    pub held: Option<Vec<RecordingSummary>>,
    /// Webhook events of recordings published for a later time.
    pub scheduled: Vec<(DateTime<Utc>, Vec<RecordingSummary>)>,
    /// The org's users by plain id (ordered: the People listing pages by id).
    pub people: BTreeMap<String, SimPerson>,
    pub licenses: Vec<SimLicense>,
    /// Admin audit events (`GET /v1/adminAudit/events`), oldest first: one per change of
    /// a person's call-recording setting.
    pub audit_events: Vec<crate::people::SimAuditEvent>,
    /// Faults aimed at one route (see `RunningWebexSim::push_route_fault`).
    pub route_faults: Vec<RouteFault>,
    /// Requests per route template (`GET /v1/people`, `POST /v1/access_token`, `GET
    /// /nbr/MultiThreadDownloadServlet`), faulted ones included.
    pub request_counts: BTreeMap<String, u64>,
    /// Added to every answer (see `WebexSimConfig::latency`).
    pub latency: std::time::Duration,
    /// What the fault injection did so far.
    pub injected: InjectedFaults,
}

/// What the simulator's fault injection did since it started: answers it failed on
/// purpose, answers it held back, downloads it stalled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectedFaults {
    /// Injected failure answers by status code (429, 423, 500, 502, 503, 504, or a
    /// forced one).
    pub by_status: BTreeMap<u16, u64>,
    /// Answers held back before being given normally.
    pub slow: u64,
    /// Audio downloads that sent half the file and then stalled.
    pub stalled_downloads: u64,
}

impl InjectedFaults {
    /// Injected failure answers of every status.
    pub fn failed(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Every injected fault: failure answers, slow answers and stalled downloads.
    pub fn total(&self) -> u64 {
        self.failed() + self.slow + self.stalled_downloads
    }
}

/// A fault for the requests of one route: the first `skip` pass, the next `times` fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteFault {
    /// The route template, e.g. `/v1/people` or `/v1/people/{id}/features/callRecording`.
    pub route: String,
    pub skip: u32,
    pub times: u32,
    pub fault: Fault,
}

impl State {
    pub fn new(config: &WebexSimConfig) -> Self {
        Self {
            org_id: config.org_id.clone(),
            admin: config.admin.clone(),
            integrations: config
                .integrations
                .iter()
                .map(|i| (i.client_id.clone(), i.clone()))
                .collect(),
            consent: config.consent,
            consenting: None,
            foreign_org_calls: 0,
            tokens: config.tokens.clone(),
            link_lifetime: config.link_lifetime,
            metadata_delay: config.metadata_delay,
            fault_rng: StdRng::seed_from_u64(config.faults.seed),
            faults: config.faults.clone(),
            forced_faults: VecDeque::new(),
            delivery: config.delivery.clone(),
            failure_threshold: config.webhook_failure_threshold.max(1),
            delivery_timeout: config.delivery_timeout,
            rng: StdRng::seed_from_u64(config.seed),
            clock_offset: chrono::Duration::zero(),
            identity: TokenStore::default(),
            recordings: HashMap::new(),
            tickets: HashMap::new(),
            link_expired: false,
            stall_downloads: 0,
            compliance_role_revoked: false,
            bad_downloads: Default::default(),
            webhooks: Vec::new(),
            deliveries: Vec::new(),
            held: None,
            scheduled: Vec::new(),
            people: BTreeMap::new(),
            licenses: crate::people::default_licenses(),
            audit_events: Vec::new(),
            route_faults: Vec::new(),
            request_counts: BTreeMap::new(),
            latency: config.latency,
            injected: InjectedFaults::default(),
        }
    }

    /// The simulator's clock: wall clock plus whatever `advance_clock` added.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// Random URL-safe token material.
    pub fn random_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }

    pub fn random_uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    /// Visible to the API: published and its time has come.
    pub fn visible(&self, id: &str) -> Option<&StoredRecording> {
        let now = self.now();
        self.recordings.get(id).filter(|r| r.available_at <= now)
    }

    pub fn next_delivery_seq(&self) -> u64 {
        self.deliveries.len() as u64 + 1
    }
}

/// `ciscospark://us/{kind}/{id}` in base64url without padding: the public Webex id form.
pub(crate) fn webex_id(kind: &str, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ciscospark://us/{kind}/{id}"))
}

pub(crate) use wfo_sim_identity::to_chrono;

/// A download host's wrong answer with status `200`: what a proxy, an outage page or a
/// purge can hand out instead of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDownload {
    /// No bytes at all (`Content-Length: 0`).
    Empty,
    /// An HTML error page served as `text/html`.
    Html,
    /// The first half of the MP3 under the whole file's `Content-Length`: the connection
    /// ends before the announced length (a cut transfer).
    Truncated,
}
