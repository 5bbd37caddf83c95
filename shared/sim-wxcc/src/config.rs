//! Configuration of the simulator. Everything marked "runtime" can also be changed on a
//! running simulator through [`crate::RunningWxccSim`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::events::TaskEvent;

/// Read access to the configuration APIs, Search and captures (§1.2).
pub const CONFIG_READ: &str = "cjp:config_read";
/// Write access (subscriptions, configuration changes).
pub const CONFIG_WRITE: &str = "cjp:config_write";
/// Read and write: satisfies every check that asks for read or write.
pub const CONFIG: &str = "cjp:config";

/// Every scope the simulated identity service knows about (and grants by default).
pub const KNOWN_SCOPES: &[&str] = &[
    CONFIG,
    CONFIG_READ,
    CONFIG_WRITE,
    "cjp:user",
    "spark:kms",
    "spark:people_read",
    "spark-admin:people_read",
    "spark:applications_token",
];

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

/// The Contact Center administrator who "logs in" at `/v1/authorize` and in whose name
/// tokens act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccount {
    /// Plain UUID of the person.
    pub id: String,
    pub email: String,
    pub display_name: String,
}

pub use wfo_sim_identity::{Consent, ForeignAccount};

/// Token lifetimes and rotation (runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Access token lifetime (`expires_in`). Default 12 hours (the lab guide's figure).
    pub access_lifetime: Duration,
    /// Refresh token lifetime (`refresh_token_expires_in`), restarted by each refresh.
    /// Default 60 days.
    pub refresh_lifetime: Duration,
    /// Authorization-code lifetime. Default 5 minutes.
    pub code_lifetime: Duration,
    /// A refresh returns a new refresh token and invalidates the one used. Default true
    /// ("refreshing returns a new pair", §1.2).
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
            access_lifetime: Duration::from_secs(12 * 3600),
            refresh_lifetime: Duration::from_secs(60 * 86_400),
            code_lifetime: Duration::from_secs(300),
            rotate_refresh_tokens: true,
        }
    }
}

/// The regional API's rate limit and page sizes (runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// Requests per 60-second sliding window per client id (§7: 300).
    pub requests_per_minute: u32,
    /// `pageSize` when the request names none (§4: 100).
    pub default_page_size: u32,
    /// Larger `pageSize` values are clamped to this, silently. UNCONFIRMED: the real
    /// maximum is not published; 1000 is the simulator's pick.
    pub max_page_size: u32,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            requests_per_minute: 300,
            default_page_size: 100,
            max_page_size: 1000,
        }
    }
}

/// How subscription deliveries are sent (runtime). Shares are probabilities in
/// `0.0..=1.0`; the draws come from the simulator's seeded generator.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryPolicy {
    /// Chance that a delivery is sent twice (same bytes; back to back or, with
    /// `reorder`, anywhere in the batch).
    pub duplicate_share: f64,
    /// Chance that a delivery is never sent (recorded as `Dropped`).
    pub drop_share: f64,
    /// Deliver each batch in shuffled order.
    pub reorder: bool,
    /// Wait this long before each send.
    pub delay: Duration,
}

/// Client id of the integration registered by default.
pub const DEFAULT_CLIENT_ID: &str = "Cwxcc00000000000000000000000000000000000000000000000000000000001";
/// Its secret.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-wxcc-client-secret";
/// Its redirect URI.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8080/oauth/callback";
/// The simulated org's id by default.
pub const DEFAULT_ORG_ID: &str = "3eb3c4b5-1f6e-4d1a-9a59-6b1e2c7d8f90";

/// Everything [`crate::WxccSim::start`] needs.
#[derive(Debug)]
pub struct WxccSimConfig {
    /// Plain UUID of the simulated org.
    pub org_id: String,
    pub admin: AdminAccount,
    pub integrations: Vec<Integration>,
    pub consent: Consent,
    pub tokens: TokenPolicy,
    pub limits: ApiLimits,
    pub delivery: DeliveryPolicy,
    /// A subscription turns `inactive` after this many consecutive failed deliveries.
    pub subscription_failure_threshold: u32,
    /// Per-delivery HTTP timeout.
    pub delivery_timeout: Duration,
    /// Seeds ids, tokens and the delivery policy.
    pub seed: u64,
    /// The simulator's clock; pass the task plane's so both halves share one time.
    pub clock: crate::SimClock,
    /// More regional routes (the task plane's router), served behind the same bearer
    /// check, `TrackingId` handling and rate limit; paths under
    /// [`crate::gateway::OPEN_PATH_PREFIX`] pass without a token and without counting
    /// toward the limit. It must not set a fallback of its own (merging two fallbacks
    /// panics in axum).
    pub extra_router: Option<axum::Router>,
    /// Task events to deliver to subscriptions (the task plane's `subscribe()`).
    pub events: Option<broadcast::Receiver<TaskEvent>>,
}

impl Default for WxccSimConfig {
    fn default() -> Self {
        Self {
            org_id: DEFAULT_ORG_ID.to_owned(),
            admin: AdminAccount {
                id: "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f".to_owned(),
                email: "cc.admin@sim.example".to_owned(),
                display_name: "CC Admin".to_owned(),
            },
            integrations: vec![Integration::new(
                DEFAULT_CLIENT_ID,
                DEFAULT_CLIENT_SECRET,
                DEFAULT_REDIRECT_URI,
            )],
            consent: Consent::Grant,
            tokens: TokenPolicy::default(),
            limits: ApiLimits::default(),
            delivery: DeliveryPolicy::default(),
            subscription_failure_threshold: 5,
            delivery_timeout: Duration::from_secs(5),
            seed: 42,
            clock: crate::SimClock::default(),
            extra_router: None,
            events: None,
        }
    }
}
