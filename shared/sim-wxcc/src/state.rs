//! The control plane's shared state. One `std::sync::Mutex`, never held across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use wfo_sim_identity::TokenStore;

use crate::clock::SimClock;
use crate::config::{AdminAccount, ApiLimits, Consent, DeliveryPolicy, ForeignAccount, Integration, TokenPolicy};
use crate::deliveries::DeliveryRecord;
use crate::directory::{ConfigKind, Corruption, Directory, SimQueue, SimTeam, SimUser};
use crate::events::TaskEvent;
use crate::subscriptions::SubscriptionEntry;

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub base_url: String,
    pub http: reqwest::Client,
    pub clock: SimClock,
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

/// The authenticated caller of a regional route (a request extension set by the
/// gateway).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub Grant);

/// Per client id: the sliding window of the rate limit and what a test asks about it.
#[derive(Debug, Default)]
pub(crate) struct ClientTraffic {
    /// Accepted requests of the last 60 s (what the limit counts).
    pub accepted: VecDeque<DateTime<Utc>>,
    /// Every request of the last 60 s, refused ones included (what the peak measures).
    pub arrived: VecDeque<DateTime<Utc>>,
    /// Every request since start, refused ones included.
    pub total: u64,
    /// The most requests seen in any 60-second window.
    pub peak: u64,
}

/// A page of a configuration list that fails on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageFault {
    pub kind: ConfigKind,
    pub page: u32,
    pub status: u16,
    pub times: u32,
}

pub(crate) struct State {
    pub org_id: String,
    pub admin: AdminAccount,
    pub integrations: BTreeMap<String, Integration>,
    pub consent: Consent,
    /// `Some`: the next consents are given by this account of another org.
    pub consenting: Option<ForeignAccount>,
    /// Regional calls refused because the token belongs to another org.
    pub foreign_org_calls: u64,
    pub tokens: TokenPolicy,
    pub limits: ApiLimits,
    pub delivery: DeliveryPolicy,
    pub failure_threshold: u32,
    pub delivery_timeout: Duration,
    pub rng: StdRng,
    pub clock: SimClock,
    /// Codes, access and refresh tokens, every token issued.
    pub identity: TokenStore,
    pub traffic: HashMap<String, ClientTraffic>,
    /// Regional requests that came without a `TrackingId` header.
    pub without_tracking_id: u64,
    /// Regional requests per route (`"GET /organization/{orgId}/v2/user"` → n).
    pub request_counts: BTreeMap<String, u64>,
    /// Pending `429` storms: (requests still to refuse, `Retry-After` seconds), in order.
    pub storm: VecDeque<(u32, u64)>,
    pub page_faults: Vec<PageFault>,
    /// Injected failure answers by status (storms, page faults).
    pub injected: BTreeMap<u16, u64>,
    pub users: Directory<SimUser>,
    pub teams: Directory<SimTeam>,
    pub queues: Directory<SimQueue>,
    pub corrupted: HashMap<(ConfigKind, String), Corruption>,
    pub subscriptions: Vec<SubscriptionEntry>,
    pub deliveries: Vec<DeliveryRecord>,
    /// `Some` while deliveries are held back for a batch.
    pub held: Option<Vec<TaskEvent>>,
    /// Events a consumer missed because it fell behind its channel.
    pub lagged_events: u64,
}

impl State {
    pub fn new(config: &crate::WxccSimConfig) -> Self {
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
            limits: config.limits,
            delivery: config.delivery.clone(),
            failure_threshold: config.subscription_failure_threshold.max(1),
            delivery_timeout: config.delivery_timeout,
            rng: StdRng::seed_from_u64(config.seed),
            clock: config.clock.clone(),
            identity: TokenStore::default(),
            traffic: HashMap::new(),
            without_tracking_id: 0,
            request_counts: BTreeMap::new(),
            storm: VecDeque::new(),
            page_faults: Vec::new(),
            injected: BTreeMap::new(),
            users: Directory::default(),
            teams: Directory::default(),
            queues: Directory::default(),
            corrupted: HashMap::new(),
            subscriptions: Vec::new(),
            deliveries: Vec::new(),
            held: None,
            lagged_events: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Letters and digits only: a token never contains the `_` that separates the org
    /// suffix.
    pub fn random_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }

    pub fn random_uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    pub fn next_delivery_seq(&self) -> u64 {
        self.deliveries.len() as u64 + 1
    }
}

/// `ciscospark://us/{kind}/{id}` in base64url without padding: the public Webex id form
/// (what `/v1/people/me` answers, as on Webex).
pub(crate) fn webex_id(kind: &str, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ciscospark://us/{kind}/{id}"))
}

pub(crate) use wfo_sim_identity::to_chrono;
