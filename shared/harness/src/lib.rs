//! One running system on loopback: the WFO simulator, the Webex Calling simulator, the
//! embedded store, the local runtime and one connector wired between them; on demand a
//! Contact Center 2.0 org too ([`Harness::add_contact_center`]) and a Contact Center 1.0
//! org ([`Harness::add_contact_center_1`]), each with its own simulator and connector on
//! the same runtime and WFO.
//!
//! `wfo-connect demo` and the end-to-end tests use this, so what a newcomer sees in the
//! demo is exactly what the tests check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::{Health, Stage};
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::{ConnectorStore, Ledger, Store};
use wfo_pipeline::reconcile::PollSettings;
use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};
use wfo_sim_webex::{Integration, RunningWebexSim, ScenarioInstance, WebexSim, WebexSimConfig};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;

mod cc1;

pub use cc1::{
    CC1_ACD_SERVER_ID, CC1_CONNECTOR_ID, Cc1Org, ContactCenter1, play_in_both, play_in_both_ending_at, synthetic_agents,
};
pub use wfo_sim_webex::{DeliveryPolicy, FaultConfig};
pub use wfo_sim_wfo::Faults as WfoFaults;

pub const CONNECTOR_ID: &str = "demo-calling";
pub const CLIENT_ID: &str = "Cdemo00000000000000000000000000000000000000000000000000000000001";
pub const CLIENT_SECRET: &str = "demo-client-secret-7f3a";
pub const WFO_USER: &str = "api-user@demo.example";
pub const WFO_PASSWORD: &str = "demo-wfo-password-91c2";
pub const ACD_SERVER_ID: i64 = 3;
pub const CC_CONNECTOR_ID: &str = "demo-contact-center";
pub const CC_CLIENT_ID: &str = "Cdemo00000000000000000000000000000000000000000000000000000000cc2";
pub const CC_CLIENT_SECRET: &str = "demo-cc-client-secret-41d9";
pub const CC_ACD_SERVER_ID: i64 = 4;

/// A Contact Center 2.0 org wired to the harness's runtime and WFO.
pub struct ContactCenter {
    pub sim: wfo_sim_wxcc::RunningWxccSim,
    pub connector: ConnectorConfig,
}

impl ContactCenter {
    /// The first `n` contact-center agents of the org, for scenarios to put on calls.
    pub fn agents(&self, n: usize) -> Vec<wfo_sim_wxcc::ScenarioAgent> {
        let mut users: Vec<_> = self
            .sim
            .users()
            .into_iter()
            .filter(|u| u.active && u.contact_center_enabled)
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        users
            .into_iter()
            .take(n)
            .map(|u| wfo_sim_wxcc::ScenarioAgent {
                name: format!(
                    "{} {}",
                    u.first_name.as_deref().unwrap_or(""),
                    u.last_name.as_deref().unwrap_or("")
                )
                .trim()
                .to_owned(),
                ci_user_id: u.ci_user_id,
            })
            .collect()
    }

    /// Play `scenario` from `base` with the given agents: the task is in Search once it
    /// ended (simulator clock), and its deliveries follow. Returns the task id.
    pub fn play(
        &self,
        scenario: &str,
        base: DateTime<Utc>,
        agents: &[wfo_sim_wxcc::ScenarioAgent],
    ) -> Result<String, HarnessError> {
        let plane = self
            .sim
            .tasks()
            .ok_or_else(|| HarnessError::Scenario("the simulator serves no task plane".to_owned()))?;
        plane
            .play(scenario, base, agents, &wfo_sim_wxcc::ScenarioIds::default())
            .map(|t| t.id)
            .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))
    }

    /// [`ContactCenter::play`] timed so the task *ends* at `ended` (its capture is then
    /// ready at `ended` + the simulator's capture delay): hours-late captures in real
    /// time, without moving the simulator's clock away from the connector's (deliveries
    /// are stamped with the simulator's clock, and a stale stamp is refused).
    pub fn play_ending_at(
        &self,
        scenario: &str,
        ended: DateTime<Utc>,
        agents: &[wfo_sim_wxcc::ScenarioAgent],
    ) -> Result<String, HarnessError> {
        use rand::SeedableRng;
        let kind = wfo_sim_wxcc::Scenario::from_name(scenario)
            .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
        // The scenario's length does not depend on the draw: build it once to learn it.
        let probe = wfo_sim_wxcc::scenario::build(
            kind,
            ended,
            agents,
            &wfo_sim_wxcc::ScenarioIds::default(),
            &mut rand::rngs::StdRng::seed_from_u64(1),
        )
        .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
        self.play(scenario, ended - (probe.ended_time - probe.created_time), agents)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Start(String),
    #[error("authorization failed: {0}")]
    Authorize(String),
    #[error("{0}")]
    Scenario(String),
}

fn start_err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Start(e.to_string())
}

#[derive(Debug, Clone)]
pub struct HarnessConfig {
    pub state_dir: PathBuf,
    pub import: ImportSettings,
    pub poller_enabled: bool,
    pub poll_interval: Duration,
    pub webhook: bool,
    /// The connector's `features.user_sync` (on by default).
    pub user_sync: bool,
    pub wfo_faults: WfoFaults,
    pub webex_faults: FaultConfig,
    pub delivery: DeliveryPolicy,
    pub seed: u64,
    /// Items the runtime keeps in flight at once (the runtime's default, 10).
    pub workers: usize,
    /// The connector's `features.media_import` (on by default): off, contacts only.
    pub media_import: bool,
    /// Added to every answer of the WFO simulator (benchmarks; default zero).
    pub wfo_latency: Duration,
    /// Added to every answer of the Webex simulator (benchmarks; default zero).
    pub webex_latency: Duration,
}

impl HarnessConfig {
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            import: ImportSettings::fast(),
            poller_enabled: true,
            poll_interval: Duration::from_secs(1),
            webhook: true,
            user_sync: true,
            wfo_faults: WfoFaults::default(),
            webex_faults: FaultConfig::default(),
            delivery: DeliveryPolicy::default(),
            seed: 7,
            workers: RuntimeConfig::default().workers,
            media_import: true,
            wfo_latency: Duration::ZERO,
            webex_latency: Duration::ZERO,
        }
    }
}

/// A contact as WFO received it, for printing and checking.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub contact_id: i64,
    pub external_id: String,
    pub agent_acd_id: String,
    pub agent_name: String,
    pub start_time: i64,
    pub duration_ms: i64,
    pub assoc_call_id: String,
    pub direction: String,
    pub events: Vec<String>,
    pub audio_bytes: Option<i64>,
}

pub struct Harness {
    pub wfo: RunningSim,
    pub webex: RunningWebexSim,
    pub store: Arc<SqliteStore>,
    pub runtime: RunningRuntime,
    pub connector: ConnectorConfig,
    http: reqwest::Client,
}

/// The token set a connector stores for tokens the simulator issued at `now` (tests that
/// put tokens in a store directly instead of running the authorization flow).
pub fn token_set(t: wfo_sim_webex::TokenResponse, now: DateTime<Utc>) -> wfo_pipeline::ports::TokenSet {
    wfo_pipeline::ports::TokenSet {
        access_token: Secret::new(t.access_token),
        access_expires_at: now + chrono::Duration::seconds(i64::try_from(t.expires_in).unwrap_or(i64::MAX / 1000)),
        refresh_token: Some(Secret::new(t.refresh_token)),
        refresh_expires_at: None,
        scopes: t.scope.split(' ').map(str::to_owned).collect(),
        obtained_at: now,
    }
}

impl Harness {
    pub async fn start(cfg: HarnessConfig) -> Result<Self, HarnessError> {
        let wfo = WfoSim::start(SimConfig {
            users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
            faults: cfg.wfo_faults.clone(),
            seed: cfg.seed,
            latency: cfg.wfo_latency,
            ..SimConfig::default()
        })
        .await
        .map_err(start_err)?;
        let webex = WebexSim::start(WebexSimConfig {
            integrations: Vec::new(),
            faults: cfg.webex_faults.clone(),
            delivery: cfg.delivery.clone(),
            seed: cfg.seed,
            latency: cfg.webex_latency,
            ..WebexSimConfig::default()
        })
        .await
        .map_err(start_err)?;
        let store = Arc::new(SqliteStore::open(&cfg.state_dir).map_err(start_err)?);
        let dyn_store: Arc<dyn Store> = store.clone();
        let runtime = RunningRuntime::start(
            dyn_store,
            wfo_sources::Sources::shared(),
            RuntimeConfig {
                listen: "127.0.0.1:0".parse().map_err(start_err)?,
                public_url: None,
                workers: cfg.workers,
                sweep_interval: Duration::from_millis(100),
                poll_interval: Some(cfg.poll_interval),
                refresh_interval: Duration::from_secs(3600),
                poll: PollSettings {
                    initial_lookback: chrono::Duration::days(2),
                    ..PollSettings::default()
                },
                import: cfg.import.clone(),
                poller_enabled: cfg.poller_enabled,
            },
        )
        .await
        .map_err(start_err)?;
        webex.add_integration(Integration::new(
            CLIENT_ID,
            CLIENT_SECRET,
            &format!("{}/oauth/callback", runtime.public_url),
        ));
        let connector = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CONNECTOR_ID}"
acd_name = "Demo Webex Calling"
kind = "webex-calling"
acd_server_id = {ACD_SERVER_ID}

[source]
api_url = "{webex}"
identity_url = "{webex}"
tenant_id = "{org}"
username = "compliance.officer@sim.example"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
scopes = ["spark-compliance:recordings_read", "spark-compliance:webhooks_read", "spark-compliance:webhooks_write", "spark-admin:people_read", "spark-admin:licenses_read", "spark-admin:telephony_config_read"]

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[features]
webhook = {webhook}
user_sync = {user_sync}
media_import = {media_import}

[[metadata_mapping]]
acd_field = "serviceData.callRecordingId"
label = "Recording Id"

[[metadata_mapping]]
acd_field = "serviceData.callSessionId"
label = "Call Session"
"#,
            webex = webex.base_url(),
            org = webex.org_id(),
            wfo = wfo.base_url(),
            webhook = cfg.webhook,
            user_sync = cfg.user_sync,
            media_import = cfg.media_import,
        ))
        .map_err(start_err)?;
        store.put_connector(&connector, Utc::now()).await.map_err(start_err)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(start_err)?;
        Ok(Self {
            wfo,
            webex,
            store,
            runtime,
            connector,
            http,
        })
    }

    /// Start a Contact Center 2.0 simulator with `users` agents, `teams` teams and
    /// `queues` queues, and store a `webex-cc-2` connector for it (not yet authorized:
    /// [`Harness::authorize_connector`]).
    pub async fn add_contact_center(
        &self,
        users: usize,
        teams: usize,
        queues: usize,
    ) -> Result<ContactCenter, HarnessError> {
        let sim = wfo_sim_wxcc::WxccSim::start(wfo_sim_wxcc::WxccSimConfig {
            integrations: vec![wfo_sim_wxcc::Integration::new(
                CC_CLIENT_ID,
                CC_CLIENT_SECRET,
                &format!("{}/oauth/callback", self.runtime.public_url),
            )],
            ..wfo_sim_wxcc::WxccSimConfig::default()
        })
        .await
        .map_err(start_err)?;
        sim.generate_org(&wfo_sim_wxcc::SyntheticOrg {
            users,
            teams,
            queues,
            seed: 11,
        });
        let connector = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CC_CONNECTOR_ID}"
acd_name = "Demo Contact Center"
kind = "webex-cc-2"
acd_server_id = {CC_ACD_SERVER_ID}

[source]
api_url = "{cc}"
identity_url = "{cc}"
tenant_id = "{org}"
username = "cc.admin@sim.example"
client_id = "{CC_CLIENT_ID}"
client_secret = "{CC_CLIENT_SECRET}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[features]
webhook = true
qm_digital = true

[sync]
interval_minutes = 10

[language]
fallback = "en-US"
"#,
            cc = sim.base_url(),
            org = sim.org_id(),
            wfo = self.wfo.base_url(),
        ))
        .map_err(start_err)?;
        self.store
            .put_connector(&connector, Utc::now())
            .await
            .map_err(start_err)?;
        Ok(ContactCenter { sim, connector })
    }

    /// The operator flow: open the Authorization URL, follow the source's consent
    /// redirect back to the callback. Returns the hops taken (for the demo to show).
    pub async fn authorize(&self) -> Result<Vec<String>, HarnessError> {
        self.authorize_connector(&self.connector.id).await
    }

    /// [`Harness::authorize`] for any stored connector.
    pub async fn authorize_connector(&self, connector_id: &str) -> Result<Vec<String>, HarnessError> {
        let mut url = format!("{}/oauth/{connector_id}/authorize", self.runtime.public_url);
        let mut hops = vec![url.clone()];
        for _ in 0..5 {
            let resp = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| HarnessError::Authorize(e.to_string()))?;
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| HarnessError::Authorize(format!("{status} without Location")))?
                    .to_owned();
                hops.push(next.clone());
                url = next;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(hops);
            }
            return Err(HarnessError::Authorize(format!("{status}: {body}")));
        }
        Err(HarnessError::Authorize("too many redirects".to_owned()))
    }

    /// Wait until the connector's webhook is registered with the source.
    pub async fn wait_for_webhook(&self, timeout: Duration) -> bool {
        let until = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < until {
            if self
                .webex
                .webhooks()
                .iter()
                .any(|w| w.webhook.target_url.contains(&self.connector.id))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Wait until the runtime's user sync has completed a run; returns its status.
    pub async fn wait_for_sync(&self, timeout: Duration) -> Option<wfo_pipeline::sync::SyncStatus> {
        self.wait_for_sync_of(&self.connector.id, timeout).await
    }

    /// [`Harness::wait_for_sync`] for any connector.
    pub async fn wait_for_sync_of(
        &self,
        connector_id: &str,
        timeout: Duration,
    ) -> Option<wfo_pipeline::sync::SyncStatus> {
        let until = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < until {
            if let Ok(Some(status)) = wfo_pipeline::sync::load_status(self.store.as_ref(), connector_id).await
                && status.last_run.finished_at.is_some()
            {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Instantiate a scenario as a fresh call starting at `base_time` (not published).
    pub fn instantiate(&self, scenario: &str, base_time: DateTime<Utc>) -> Result<ScenarioInstance, HarnessError> {
        self.instantiate_shrunk(scenario, base_time, 1)
    }

    /// [`Self::instantiate`] with the call `shrink` times shorter (benchmarks: small audio).
    pub fn instantiate_shrunk(
        &self,
        scenario: &str,
        base_time: DateTime<Utc>,
        shrink: u32,
    ) -> Result<ScenarioInstance, HarnessError> {
        self.webex
            .instantiate_shrunk(scenario, base_time, shrink)
            .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))
    }

    pub fn scenario_names(&self) -> Vec<String> {
        self.webex.library().names()
    }

    /// Wait until every named recording is done (or dead). Returns the ones that are not.
    pub async fn wait_settled(&self, recording_ids: &[String], timeout: Duration) -> Vec<String> {
        self.wait_settled_of(&self.connector.id, recording_ids, timeout).await
    }

    /// [`Harness::wait_settled`] for any connector's items (recordings, tasks).
    pub async fn wait_settled_of(&self, connector_id: &str, item_ids: &[String], timeout: Duration) -> Vec<String> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let mut pending = Vec::new();
            for id in item_ids {
                match self.store.get(connector_id, id).await {
                    Ok(Some(item)) if item.stage == Stage::Done || item.health == Health::Dead => {}
                    _ => pending.push(id.clone()),
                }
            }
            if pending.is_empty() || tokio::time::Instant::now() >= until {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Contacts WFO holds for the given recordings.
    pub fn received(&self, recording_ids: &[String]) -> Vec<Received> {
        let persons: BTreeMap<String, String> = self
            .wfo
            .persons()
            .into_iter()
            .filter_map(|p| p.input.acd_id.clone().map(|a| (a, p.input.display_name.clone())))
            .collect();
        let mut out: Vec<Received> = self
            .wfo
            .contacts()
            .into_iter()
            .filter(|c| {
                recording_ids
                    .iter()
                    .any(|r| c.contact.import.external_id.contains(r.as_str()))
            })
            .map(|c| {
                let i = &c.contact.import;
                Received {
                    contact_id: c.contact.id,
                    external_id: i.external_id.clone(),
                    agent_acd_id: i.agent.acd_id.clone(),
                    agent_name: persons.get(&i.agent.acd_id).cloned().unwrap_or_else(|| "?".to_owned()),
                    start_time: i.start_time,
                    duration_ms: i.call_duration,
                    assoc_call_id: i.assoc_call_id.clone(),
                    direction: format!("{:?}", i.direction).to_uppercase(),
                    events: i
                        .events
                        .iter()
                        .map(|e| format!("{:?}@{}", e.event_type, e.time))
                        .collect(),
                    audio_bytes: if c.contact.audio_uploaded {
                        c.contact.audio_bytes
                    } else {
                        None
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| (a.start_time, &a.external_id).cmp(&(b.start_time, &b.external_id)));
        out
    }

    /// Compare what WFO received for `instance` with the scenario's expected contacts.
    /// Returns the differences (empty when everything matches).
    pub fn check(&self, instance: &ScenarioInstance) -> Vec<String> {
        let received = self.received(&instance.recording_ids());
        let expected = instance.expected.as_array().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        let mut by_ext: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
        for r in &received {
            by_ext.entry(r.external_id.as_str()).or_default().push(r);
        }
        for (ext, rs) in &by_ext {
            if rs.len() > 1 {
                problems.push(format!("{ext}: {} copies in WFO (duplicates)", rs.len()));
            }
        }
        for e in &expected {
            let ext = e.get("externalId").and_then(Value::as_str).unwrap_or("");
            let Some(r) = by_ext.get(ext).and_then(|v| v.first()) else {
                problems.push(format!("{ext}: expected, not in WFO"));
                continue;
            };
            let want = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
            let checks = [
                (
                    "agent.acdId",
                    e.pointer("/agent/acdId").cloned().unwrap_or(Value::Null),
                    Value::from(r.agent_acd_id.clone()),
                ),
                ("startTime", want("startTime"), Value::from(r.start_time)),
                ("callDuration", want("callDuration"), Value::from(r.duration_ms)),
                ("assocCallId", want("assocCallId"), Value::from(r.assoc_call_id.clone())),
            ];
            for (name, w, got) in checks {
                if w != got {
                    problems.push(format!("{ext}: {name} is {got}, expected {w}"));
                }
            }
            if r.audio_bytes.is_none_or(|b| b <= 0) {
                problems.push(format!("{ext}: audio not uploaded"));
            }
        }
        for r in &received {
            if !expected
                .iter()
                .any(|e| e.get("externalId").and_then(Value::as_str) == Some(r.external_id.as_str()))
            {
                problems.push(format!("{}: in WFO but not expected", r.external_id));
            }
        }
        problems
    }

    /// What WFO holds for Contact Center task `task_id` against what its scenario should
    /// become (the simulator's own statement, independent of the connector's segmenter):
    /// each expected contact with its agent, start, duration and assocCallId, and its
    /// audio — a slice of its own span, to the sample frame — or none when the task has
    /// none. Returns the differences (empty when everything matches).
    pub fn check_task(&self, cc: &ContactCenter, scenario: wfo_sim_wxcc::Scenario, task_id: &str) -> Vec<String> {
        let name = scenario.name();
        let Some(task) = cc.sim.tasks().and_then(|p| p.task(task_id)) else {
            return vec![format!("{name} {task_id}: not a task of the simulator")];
        };
        let want = wfo_sim_wxcc::expected_contacts(scenario, &task);
        let got = self.received_of(
            wfo_webex_cc2::segment::WEBEX_CC2_EXTERNAL_ID_PREFIX,
            &[task_id.to_owned()],
        );
        compare_contacts(name, task_id, got, &want, wfo_sim_wxcc::wav::FRAME_BYTES)
    }

    /// Contacts WFO holds of the source spelling its `externalId`s `{prefix}:{id}:{n}`
    /// for the given interaction ids (a Contact Center task or session id, which is also
    /// their assocCallId): one call played into two versions keeps its id in both.
    pub fn received_of(&self, prefix: &str, ids: &[String]) -> Vec<Received> {
        self.received(ids)
            .into_iter()
            .filter(|r| {
                r.external_id
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|rest| rest.rsplit_once(':'))
                    .is_some_and(|(id, _)| ids.iter().any(|i| i == id))
            })
            .collect()
    }

    pub async fn shutdown(self) {
        self.runtime.shutdown().await;
        self.webex.shutdown().await;
        if let Err(e) = self.wfo.shutdown().await {
            tracing::warn!(error = %e, "WFO simulator did not stop cleanly");
        }
    }
}

/// `got` (one interaction's contacts in WFO) against `want`: same number, and each, in
/// start order, with the expected agent, span and assocCallId, and audio of its own span
/// (a WAV of `frame_bytes` per 8 kHz sample frame, to two frames) exactly when expected.
fn compare_contacts(
    name: &str,
    id: &str,
    mut got: Vec<Received>,
    want: &[wfo_sim_wxcc::ExpectedContact],
    frame_bytes: u64,
) -> Vec<String> {
    if got.len() != want.len() {
        return vec![format!(
            "{name} {id}: {} contacts in WFO, {} expected",
            got.len(),
            want.len()
        )];
    }
    got.sort_by(|a, b| {
        (a.start_time, a.duration_ms, &a.agent_acd_id).cmp(&(b.start_time, b.duration_ms, &b.agent_acd_id))
    });
    let frame = frame_bytes as i64;
    let mut out = Vec::new();
    for (r, e) in got.iter().zip(want) {
        let what = format!("{name} {}", r.external_id);
        if !r.agent_acd_id.eq_ignore_ascii_case(&e.agent_ci_id) {
            out.push(format!("{what}: agent {} (expected {})", r.agent_acd_id, e.agent_ci_id));
        }
        if (r.start_time, r.duration_ms) != (e.start_ms, e.duration_ms) {
            out.push(format!(
                "{what}: {}+{} ms (expected {}+{})",
                r.start_time, r.duration_ms, e.start_ms, e.duration_ms
            ));
        }
        if r.assoc_call_id != id {
            out.push(format!("{what}: assocCallId {} (expected {id})", r.assoc_call_id));
        }
        match (e.has_audio, r.audio_bytes) {
            (true, Some(bytes)) => {
                let frames = (r.duration_ms * i64::from(wfo_sim_wxcc::wav::SAMPLE_RATE) + 500) / 1_000;
                let wav = wfo_sim_wxcc::wav::HEADER_LEN as i64 + frames * frame;
                if (bytes - wav).abs() > 2 * frame {
                    out.push(format!(
                        "{what}: {bytes} bytes of audio for {} ms (want {wav})",
                        r.duration_ms
                    ));
                }
            }
            (true, None) => out.push(format!("{what}: audio not uploaded")),
            (false, Some(_)) => out.push(format!("{what}: audio uploaded for a task without any")),
            (false, None) => {}
        }
    }
    out
}
