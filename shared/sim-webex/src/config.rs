//! Configuration of the simulator. Everything marked "runtime" can also be changed on a
//! running simulator through [`crate::RunningWebexSim`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every scope the simulated identity service knows about (and grants by default).
pub const KNOWN_SCOPES: &[&str] = &[
    "spark:kms",
    "spark:recordings_read",
    "spark:recordings_write",
    "spark-admin:recordings_read",
    "spark-admin:recordings_write",
    "spark-compliance:recordings_read",
    "spark-compliance:recordings_write",
    "spark-compliance:webhooks_read",
    "spark-compliance:webhooks_write",
    "spark-admin:people_read",
    "spark:people_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
    "spark-admin:locations_read",
    "spark-admin:calling_cdr_read",
    "identity:people_read",
    "audit:events_read",
];

/// The scope that makes details carry `temporaryDirectDownloadLinks`.
pub const COMPLIANCE_READ: &str = "spark-compliance:recordings_read";
pub const ADMIN_READ: &str = "spark-admin:recordings_read";
pub const USER_READ: &str = "spark:recordings_read";

/// A registered OAuth integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs accepted by `/v1/authorize` and the code exchange.
    pub redirect_uris: Vec<String>,
    /// Scopes the integration may request; a request for any other is `invalid_scope`.
    pub scopes: Vec<String>,
}

impl Integration {
    /// An integration allowed every [`KNOWN_SCOPES`] scope.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
            scopes: KNOWN_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// The person who "logs in" at `/v1/authorize` and in whose name tokens act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Plain UUID (as in recording `ownerId`).
    pub id: String,
    pub email: String,
}

pub use wfo_sim_identity::{Consent, ForeignAccount};

/// Token lifetimes and rotation (runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Access token lifetime (`expires_in`). Default 14 days.
    pub access_lifetime: Duration,
    /// Refresh token lifetime (`refresh_token_expires_in`), restarted by each refresh.
    /// Default 90 days.
    pub refresh_lifetime: Duration,
    /// Authorization-code lifetime. Default 5 minutes.
    pub code_lifetime: Duration,
    /// A refresh returns a new refresh token and invalidates the one used. Default true.
    pub rotate_refresh_tokens: bool,
}

impl TokenPolicy {
    /// The policy as the shared identity service applies it.
    pub(crate) fn lifetimes(&self) -> wfo_sim_identity::Lifetimes {
        wfo_sim_identity::Lifetimes {
            access: self.access_lifetime,
            refresh: self.refresh_lifetime,
            code: self.code_lifetime,
            rotate_refresh_tokens: self.rotate_refresh_tokens,
        }
    }
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            access_lifetime: Duration::from_secs(1_209_600),
            refresh_lifetime: Duration::from_secs(7_776_000),
            code_lifetime: Duration::from_secs(300),
            rotate_refresh_tokens: true,
        }
    }
}

/// Fault injection (runtime). Each API request draws from a generator seeded with
/// `seed`, so a sequential run sees the same faults every time. Shares are
/// probabilities in `0.0..=1.0`; `rate_limited + locked + server_error` should be ≤ 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    pub seed: u64,
    /// `429` with `Retry-After: retry_after_secs`.
    pub rate_limited: f64,
    /// `423` with `Retry-After: retry_after_secs`.
    pub locked: f64,
    /// One of `500/502/503/504`, picked evenly.
    pub server_error: f64,
    /// Independent of the above: the response is held back `slow_delay` first.
    pub slow: f64,
    pub slow_delay: Duration,
    pub retry_after_secs: u64,
    /// Also fault `/v1/authorize` and `/v1/access_token`. Default false.
    pub include_identity: bool,
    /// Also fault the audio download route. Default false.
    pub include_media: bool,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            rate_limited: 0.0,
            locked: 0.0,
            server_error: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_millis(500),
            retry_after_secs: 1,
            include_identity: false,
            include_media: false,
        }
    }
}

/// A fault forced on the next matching request (see `RunningWebexSim::push_faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Answer with this status (429/423 carry `Retry-After`).
    Status(u16),
    /// Hold the response back this long, then answer normally.
    Slow(Duration),
}

/// How webhook events are delivered (runtime). Shares are probabilities; the draws come
/// from the simulator's seeded generator.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryPolicy {
    /// Chance that a delivery is sent twice (same bytes, back to back or, with
    /// `reorder`, anywhere in the batch).
    pub duplicate_share: f64,
    /// Chance that a delivery sent twice is sent a third time as well.
    pub triple_share: f64,
    /// Chance that a delivery is never sent (recorded as `Dropped`).
    pub drop_share: f64,
    /// Deliver each batch in shuffled order.
    pub reorder: bool,
    /// Wait this long before each send.
    pub delay: Duration,
}

/// Where scenarios and `users.json` come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FixtureSource {
    /// `fixtures/webex-calling` embedded at compile time.
    #[default]
    Embedded,
    /// A folder with the same layout (`users.json`, `scenarios/<name>/*.json`).
    Dir(PathBuf),
}

/// Everything [`crate::WebexSim::start`] needs.
#[derive(Debug, Clone)]
pub struct WebexSimConfig {
    /// Plain UUID of the simulated org.
    pub org_id: String,
    pub admin: SimUser,
    pub integrations: Vec<Integration>,
    pub consent: Consent,
    pub tokens: TokenPolicy,
    /// Lifetime of `temporaryDirectDownloadLinks` (runtime). Default 3 hours.
    pub link_lifetime: Duration,
    /// Metadata answers `204` until this long after a recording became available
    /// (runtime; per recording also via `set_metadata_ready`). Default zero.
    pub metadata_delay: Duration,
    pub faults: FaultConfig,
    pub delivery: DeliveryPolicy,
    /// A webhook turns `inactive` after this many consecutive failed deliveries.
    pub webhook_failure_threshold: u32,
    /// Per-delivery HTTP timeout.
    pub delivery_timeout: Duration,
    /// Seeds id generation, scenario instantiation and the delivery policy.
    pub seed: u64,
    pub fixtures: FixtureSource,
    /// Every request (API, identity, media) is answered this much later (runtime, via
    /// `set_latency`): a remote API's round trip, for benchmarks. Default zero.
    pub latency: Duration,
}

/// Client id of the integration registered by default.
pub const DEFAULT_CLIENT_ID: &str = "C0ffee0000000000000000000000000000000000000000000000000000000001";
/// Its secret.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";
/// Its redirect URI.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8080/oauth/callback";

impl Default for WebexSimConfig {
    fn default() -> Self {
        Self {
            org_id: "0ae87ade-8c8a-4952-af08-318798958d0c".to_owned(),
            admin: SimUser {
                id: "5bd3a6d0-0d0d-4a8a-9a3f-2f1c0e0c0a01".to_owned(),
                email: "compliance.officer@sim.example".to_owned(),
            },
            integrations: vec![Integration::new(
                DEFAULT_CLIENT_ID,
                DEFAULT_CLIENT_SECRET,
                DEFAULT_REDIRECT_URI,
            )],
            consent: Consent::Grant,
            tokens: TokenPolicy::default(),
            link_lifetime: Duration::from_secs(3 * 3600),
            metadata_delay: Duration::ZERO,
            faults: FaultConfig::default(),
            delivery: DeliveryPolicy::default(),
            webhook_failure_threshold: 5,
            delivery_timeout: Duration::from_secs(10),
            seed: 42,
            fixtures: FixtureSource::Embedded,
            latency: Duration::ZERO,
        }
    }
}
