//! The fault suite (issue 10): many calls imported by `wfo-connect serve` processes that
//! are killed with SIGKILL at random moments and restarted on the same state directory,
//! while every webhook is delivered 0–3 times in random order, WFO answers a fifth of its
//! requests with 500/503 (half of those on writes after the write took effect), drops
//! some imports after processing them and expires sessions, and Webex answers a tenth of
//! its requests (downloads included) with 429 and stalls some downloads.
//!
//! It reports lost contacts, duplicate contacts, duplicate persons, contacts with wrong or
//! missing audio, dead items and secrets found — all must be 0 — and how long after a
//! SIGKILL the killed runner's in-flight items moved again.
//!
//! Then it scans for the secret values it used (client secret, WFO password, every token
//! the Webex simulator issued, the webhook secret, the authorization code, WFO session
//! ids seen): every log line of the runners, every file of the state directory, the
//! output of `status` (during the run and after it) and every item's stored error.
//!
//! Short form (part of `cargo test`): 36 calls, 4 kills. Long form, by environment:
//!
//! ```text
//! WFO_FAULT_CALLS=300 WFO_FAULT_KILLS=20 WFO_FAULT_SEED=7 \
//!   cargo test --release -p wfo-connect --test fault_suite -- --nocapture
//! ```
//!
//! Knobs: `WFO_FAULT_CALLS`, `WFO_FAULT_KILLS`, `WFO_FAULT_SEED`, `WFO_FAULT_MIN_GAP_MS` /
//! `WFO_FAULT_MAX_GAP_MS` (time a runner lives before its kill), `WFO_FAULT_SETTLE_SECS`
//! (how long everything may take to settle after the last kill), `WFO_FAULT_LOG` (the
//! runners' log filter, default `debug`), `WFO_FAULT_REPORT` (also write the summary to
//! this file), `WFO_FAULT_KEEP` (keep the state directory and log at this path).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use wfo_domain::Secret;
use wfo_domain::ledger::{Health, LedgerItem, Stage};
use wfo_pipeline::ports::{ConnectorStore, Ledger, WorkQueue};
use wfo_sim_webex::{
    DeliveryOutcome, DeliveryPolicy, FaultConfig, Integration, RunningWebexSim, ScenarioInstance, WebexSim,
    WebexSimConfig,
};
use wfo_sim_wfo::{Faults, RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;

const CONNECTOR_ID: &str = "fault-suite";
const CLIENT_ID: &str = "Cfault0000000000000000000000000000000000000000000000000000000007";
const CLIENT_SECRET: &str = "fault-suite-client-secret-5d1e9b";
const WFO_USER: &str = "api-user@faults.example";
const WFO_PASSWORD: &str = "fault-suite-wfo-password-8c4a27";
const ACD_SERVER_ID: i64 = 3;
/// The most a killed runner's in-flight items may wait (the fast timings' lease is 15 s).
const MAX_RESUME: Duration = Duration::from_secs(60);

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[derive(Debug, Clone)]
struct Params {
    calls: usize,
    kills: usize,
    seed: u64,
    min_gap: Duration,
    max_gap: Duration,
    settle: Duration,
    log_filter: String,
}

impl Params {
    fn from_env() -> Self {
        let min_gap = env_u64("WFO_FAULT_MIN_GAP_MS", 2_000);
        let max_gap = env_u64("WFO_FAULT_MAX_GAP_MS", 6_000).max(min_gap + 1);
        Self {
            calls: env_u64("WFO_FAULT_CALLS", 36).max(1) as usize,
            kills: env_u64("WFO_FAULT_KILLS", 4) as usize,
            seed: env_u64("WFO_FAULT_SEED", 7),
            min_gap: Duration::from_millis(min_gap),
            max_gap: Duration::from_millis(max_gap),
            settle: Duration::from_secs(env_u64("WFO_FAULT_SETTLE_SECS", 240)),
            log_filter: std::env::var("WFO_FAULT_LOG").unwrap_or_else(|_| "debug".to_owned()),
        }
    }
}

/// One `wfo-connect serve` child at a time; killed and reaped on drop (a panicking test
/// leaves no process behind).
struct Runner {
    child: Option<Child>,
    state_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    port: u16,
    filter: String,
    starts: usize,
}

impl Runner {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "one runner at a time");
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the runner log");
        self.starts += 1;
        writeln!(log, "=== fault suite: runner start #{} ===", self.starts).expect("write the runner log");
        let err = log.try_clone().expect("clone the log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--log")
            .arg(&self.filter)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--public-url")
            .arg(self.url())
            .arg("--timing")
            .arg("fast")
            .env_remove("WFO_CONNECT_LOG")
            .env_remove("WFO_CONNECT_TIMING")
            .env_remove("WFO_CONNECT_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn wfo-connect serve");
        self.child = Some(child);
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM; the exit status once it stopped (`None`: still running after `within`,
    /// then killed).
    async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM failed");
        let until = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Until `/healthz` answers 200; panics with the log's tail when the child exits.
    async fn wait_healthy(&mut self, http: &reqwest::Client) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("wfo-connect serve exited with {status}:\n{}", tail(&self.log, 40));
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.url())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < until,
                "wfo-connect serve did not come up:\n{}",
                tail(&self.log, 40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn connector_toml(webex: &RunningWebexSim, wfo: &RunningSim) -> String {
    format!(
        r#"
id = "{CONNECTOR_ID}"
acd_name = "Fault Suite Webex Calling"
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
webhook = true

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
    )
}

/// The operator flow: open the Authorization URL and follow the redirects (consent, then
/// the callback). Returns the hops.
async fn authorize(http: &reqwest::Client, runner_url: &str) -> Vec<String> {
    let mut url = format!("{runner_url}/oauth/{CONNECTOR_ID}/authorize");
    let mut hops = vec![url.clone()];
    for _ in 0..5 {
        let resp = http.get(&url).send().await.expect("authorization hop");
        let status = resp.status();
        if status.is_redirection() {
            url = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .expect("a redirect names its Location")
                .to_owned();
            hops.push(url.clone());
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "authorization failed: {status}: {body}");
        return hops;
    }
    panic!("too many redirects: {hops:?}");
}

/// Items a killed runner was in the middle of (a step begun, not finished), and when a
/// later runner took each up again (began a step on it: its attempt count changed) and
/// moved it on (a later stage). The sweeper's re-enqueue writes the item too, so the
/// version does not tell.
struct Resume {
    kill: usize,
    killed_at: Instant,
    /// item id → (attempts, stage) at the kill.
    snapshot: BTreeMap<String, (u32, Stage)>,
    /// Items already waiting since an earlier kill (left out of `snapshot`).
    carried: usize,
    picked_up: BTreeMap<String, Duration>,
    progressed: BTreeMap<String, Duration>,
}

impl Resume {
    fn all_picked_up(&self) -> bool {
        self.picked_up.len() == self.snapshot.len()
    }
    fn all_progressed(&self) -> bool {
        self.progressed.len() == self.snapshot.len()
    }
    /// When the last item was taken up again (`None`: not all yet).
    fn pickup(&self) -> Option<Duration> {
        self.all_picked_up()
            .then(|| self.picked_up.values().max().copied().unwrap_or_default())
    }
    fn progress(&self) -> Option<Duration> {
        self.all_progressed()
            .then(|| self.progressed.values().max().copied().unwrap_or_default())
    }
    fn line(&self) -> String {
        let n = self.snapshot.len();
        let carried = if self.carried > 0 {
            format!(" (and {} still waiting from an earlier kill)", self.carried)
        } else {
            String::new()
        };
        if n == 0 {
            return format!("kill {}: no item of its own mid-step{carried}", self.kill);
        }
        let secs = |d: Option<Duration>| d.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        format!(
            "kill {}: {n} item(s) mid-step{carried}; all taken up again after {}, all moved on after {}",
            self.kill,
            secs(self.pickup()),
            secs(self.progress())
        )
    }
}

/// Secret values, by what they are.
#[derive(Default)]
struct Secrets(BTreeMap<String, String>);

impl Secrets {
    fn add(&mut self, what: impl Into<String>, value: &str) {
        if value.len() >= 8 && !self.0.values().any(|v| v == value) {
            self.0.insert(what.into(), value.to_owned());
        }
    }

    /// The names of the secrets `bytes` contains (every secret is ASCII, so a lossy
    /// reading finds each one wherever it is).
    fn found_in(&self, bytes: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(bytes);
        self.0
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(w, _)| w.clone())
            .collect()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

async fn status_output(state_dir: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
        .arg("--state-dir")
        .arg(state_dir)
        .arg("status")
        .env_remove("WFO_CONNECT_LOG")
        .output()
        .await
        .expect("run wfo-connect status");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The audio a contact must carry: its slice of the recording, or the whole recording
/// when the slice covers it (the importer then streams the file unchanged).
async fn expected_audio(source: &wfo_sim_webex::Mp3Audio, offset_ms: i64, duration_ms: i64) -> Vec<Vec<u8>> {
    let input = futures::stream::once({
        let bytes = source.bytes.clone();
        async move { Ok::<_, std::io::Error>(bytes) }
    })
    .boxed();
    let mut sliced = wfo_audio::slice_mp3(input, wfo_audio::Slice::new(offset_ms, duration_ms));
    let mut slice = Vec::new();
    let mut ok = true;
    while let Some(chunk) = sliced.next().await {
        match chunk {
            Ok(c) => slice.extend_from_slice(&c),
            Err(_) => {
                ok = false;
                break;
            }
        }
    }
    let mut out = Vec::new();
    if ok {
        out.push(slice);
    }
    let whole_ms = i64::try_from(source.duration_ms).unwrap_or(i64::MAX);
    if offset_ms <= 0 && duration_ms + 2_000 >= whole_ms {
        out.push(source.bytes.to_vec());
    }
    out
}

#[derive(Debug, Default)]
struct Findings {
    expected: usize,
    received: usize,
    lost: Vec<String>,
    duplicate_contacts: Vec<String>,
    unexpected: Vec<String>,
    wrong_fields: Vec<String>,
    missing_audio: Vec<String>,
    wrong_audio: Vec<String>,
    duplicate_persons: Vec<String>,
    dead: Vec<String>,
}

async fn check_wfo(wfo: &RunningSim, instances: &[ScenarioInstance], items: &[LedgerItem]) -> Findings {
    let mut f = Findings::default();
    let sources: BTreeMap<String, wfo_sim_webex::Mp3Audio> = instances
        .iter()
        .flat_map(|i| i.recordings.iter().map(|r| (r.summary.id.clone(), r.audio.clone())))
        .collect();
    let contacts = wfo.contacts();
    f.received = contacts.len();
    let mut by_ext: BTreeMap<String, Vec<&wfo_sim_wfo::SimContact>> = BTreeMap::new();
    for c in &contacts {
        by_ext.entry(c.contact.import.external_id.clone()).or_default().push(c);
    }
    for (ext, cs) in &by_ext {
        if cs.len() > 1 {
            f.duplicate_contacts.push(format!(
                "{ext}: {} copies (contacts {:?})",
                cs.len(),
                cs.iter().map(|c| c.contact.id).collect::<Vec<_>>()
            ));
        }
    }
    // The same recording, agent and span under two external ids is a duplicate too.
    let mut by_span: BTreeMap<(String, String, i64, i64), BTreeSet<String>> = BTreeMap::new();
    for c in &contacts {
        let i = &c.contact.import;
        by_span
            .entry((
                i.assoc_call_id.clone(),
                i.agent.acd_id.clone(),
                i.start_time,
                i.call_duration,
            ))
            .or_default()
            .insert(i.external_id.clone());
    }
    for (span, exts) in &by_span {
        if exts.len() > 1 {
            f.duplicate_contacts
                .push(format!("{span:?}: under {} external ids {exts:?}", exts.len()));
        }
    }
    let mut expected_ext = BTreeSet::new();
    for inst in instances {
        for e in inst.expected.as_array().cloned().unwrap_or_default() {
            f.expected += 1;
            let ext = e["externalId"].as_str().unwrap_or_default().to_owned();
            expected_ext.insert(ext.clone());
            let Some(c) = by_ext.get(&ext).and_then(|v| v.first()) else {
                f.lost.push(format!("{}: {ext}", inst.scenario));
                continue;
            };
            let i = &c.contact.import;
            let checks = [
                (
                    "agent.acdId",
                    e.pointer("/agent/acdId").cloned(),
                    Value::from(i.agent.acd_id.clone()),
                ),
                ("startTime", e.get("startTime").cloned(), Value::from(i.start_time)),
                (
                    "callDuration",
                    e.get("callDuration").cloned(),
                    Value::from(i.call_duration),
                ),
                (
                    "assocCallId",
                    e.get("assocCallId").cloned(),
                    Value::from(i.assoc_call_id.clone()),
                ),
            ];
            for (name, want, got) in checks {
                if want.as_ref() != Some(&got) {
                    f.wrong_fields.push(format!(
                        "{ext}: {name} is {got}, expected {}",
                        want.unwrap_or(Value::Null)
                    ));
                }
            }
            let wants_audio = e.pointer("/audio/expected").and_then(Value::as_bool).unwrap_or(true);
            if !wants_audio {
                continue;
            }
            let Some(stored) = wfo.audio_bytes(c.contact.id) else {
                f.missing_audio.push(format!("{}: {ext}", inst.scenario));
                continue;
            };
            let media = &e["media"];
            let rec = media["recordingId"].as_str().unwrap_or_default();
            let Some(source) = sources.get(rec) else {
                f.wrong_audio
                    .push(format!("{ext}: expected media names unknown recording {rec}"));
                continue;
            };
            let offset = media["offsetMs"].as_i64().unwrap_or(0);
            let duration = media["durationMs"].as_i64().unwrap_or(0);
            let candidates = expected_audio(source, offset, duration).await;
            if !candidates.contains(&stored) {
                f.wrong_audio.push(format!(
                    "{ext}: {} bytes stored, expected {:?} ({offset}+{duration} ms of {rec})",
                    stored.len(),
                    candidates.iter().map(Vec::len).collect::<Vec<_>>()
                ));
            }
        }
    }
    for ext in by_ext.keys() {
        if !expected_ext.contains(ext) {
            f.unexpected.push(ext.clone());
        }
    }
    let mut persons: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for p in wfo.persons() {
        if let (Some(server), Some(acd)) = (p.input.acd_server_id, p.input.acd_id.clone()) {
            persons.entry((server, acd)).or_default().push(p.id);
        }
    }
    for ((server, acd), ids) in persons {
        if ids.len() > 1 {
            f.duplicate_persons
                .push(format!("acdServerId {server} acdId {acd}: persons {ids:?}"));
        }
    }
    for item in items {
        if item.health == Health::Dead {
            f.dead.push(format!(
                "{} at {}: {}",
                item.item_id,
                item.stage.as_str(),
                item.last_error.clone().unwrap_or_default()
            ));
        }
    }
    f
}

async fn ledger_items(store: &SqliteStore) -> Vec<LedgerItem> {
    store.list(CONNECTOR_ID, false, 1_000_000).await.unwrap_or_default()
}

fn sample_sessions(wfo: &RunningSim, secrets: &mut Secrets) {
    for s in wfo.session_ids() {
        let n = secrets.len() + 1;
        secrets.add(format!("WFO session id (secret #{n})"), &s);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_runners_with_faulty_webex_and_wfo_lose_duplicate_and_leak_nothing() {
    let p = Params::from_env();
    let started = Instant::now();
    let temp = tempfile::tempdir().expect("temp dir");
    let root = match std::env::var("WFO_FAULT_KEEP") {
        Ok(path) => {
            let path = PathBuf::from(path);
            std::fs::create_dir_all(&path).expect("create WFO_FAULT_KEEP");
            path
        }
        Err(_) => temp.path().to_owned(),
    };
    let state_dir = root.join("state");
    let config = root.join("connector.toml");
    let log = root.join("serve.log");
    let _ = std::fs::remove_dir_all(&state_dir);
    let _ = std::fs::remove_file(&log);
    let mut rng = StdRng::seed_from_u64(p.seed);

    // The simulators, with their faults.
    let wfo = WfoSim::start(SimConfig {
        users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
        faults: Faults {
            server_error: 0.10,
            unavailable: 0.10,
            // Of those, on writes: half after the write took effect.
            fail_after_write: 0.5,
            // And some imports processed, then the connection dropped.
            processed_then_dropped: 0.05,
            session_max_calls: Some(25),
            ..Faults::default()
        },
        seed: p.seed,
        ..SimConfig::default()
    })
    .await
    .expect("start the WFO simulator");
    let webex = Arc::new(
        WebexSim::start(WebexSimConfig {
            integrations: Vec::new(),
            faults: FaultConfig {
                seed: p.seed,
                rate_limited: 0.10,
                retry_after_secs: 1,
                include_media: true,
                ..FaultConfig::default()
            },
            delivery: DeliveryPolicy {
                // 0 copies 25 %, 1 copy 37.5 %, 2 and 3 copies 18.75 % each.
                drop_share: 0.25,
                duplicate_share: 0.5,
                triple_share: 0.5,
                reorder: true,
                delay: Duration::ZERO,
            },
            seed: p.seed,
            ..WebexSimConfig::default()
        })
        .await
        .expect("start the Webex simulator"),
    );

    let port = free_port();
    let mut runner = Runner {
        child: None,
        state_dir: state_dir.clone(),
        config: config.clone(),
        log: log.clone(),
        port,
        filter: p.log_filter.clone(),
        starts: 0,
    };
    webex.add_integration(Integration::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{}/oauth/callback", runner.url()),
    ));
    std::fs::write(&config, connector_toml(&webex, &wfo)).expect("write the connector file");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");

    let mut secrets = Secrets::default();
    secrets.add("client secret", CLIENT_SECRET);
    secrets.add("WFO password", WFO_PASSWORD);

    // First start, authorization, webhook registration.
    runner.spawn();
    runner.wait_healthy(&http).await;
    let hops = authorize(&http, &runner.url()).await;
    if let Some(code) = hops
        .last()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()))
    {
        secrets.add("authorization code", &code);
    }
    let until = Instant::now() + Duration::from_secs(30);
    while !webex
        .webhooks()
        .iter()
        .any(|w| w.webhook.target_url.contains(CONNECTOR_ID))
    {
        assert!(
            Instant::now() < until,
            "the webhook was never registered:\n{}",
            tail(&log, 40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = SqliteStore::open(&state_dir).expect("open the runner's store beside it");
    let stored = store
        .get_connector(CONNECTOR_ID)
        .await
        .expect("read the connector")
        .expect("the connector is stored");
    secrets.add("webhook secret", stored.secrets.webhook_secret.expose());
    secrets.add("OAuth state key", stored.secrets.state_key.expose());

    // The calls: every scenario in turn, 4 minutes apart, all in the past, published in
    // waves in time order (so the poller's window covers what a lost webhook missed).
    let names = webex.library().names();
    assert!(!names.is_empty(), "the scenario library is empty");
    let base = Utc::now() - chrono::Duration::minutes(p.calls as i64 * 4 + 30);
    let instances: Vec<ScenarioInstance> = (0..p.calls)
        .map(|i| {
            webex
                .instantiate(&names[i % names.len()], base + chrono::Duration::minutes(i as i64 * 4))
                .expect("instantiate a scenario")
        })
        .collect();
    let recording_ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    // Wave 0 goes out now; wave k+1 during the k-th runner's life or while it is down
    // (its deliveries then find nobody), one wave at a time, in time order.
    let per_wave = p.calls.div_ceil(p.kills + 1);
    let mut waves: std::collections::VecDeque<Vec<ScenarioInstance>> =
        instances.chunks(per_wave).map(<[_]>::to_vec).collect();
    let mut publishing: Option<tokio::task::JoinHandle<()>> = None;
    let mut waves_while_down = 0usize;
    let mut publish_next = async |publishing: &mut Option<tokio::task::JoinHandle<()>>| {
        if let Some(previous) = publishing.take() {
            previous.await.expect("the previous wave's publication");
        }
        let Some(batch) = waves.pop_front() else {
            return false;
        };
        let webex = webex.clone();
        *publishing = Some(tokio::spawn(async move {
            // Some downloads of every wave stall half-way.
            webex.stall_downloads(u32::try_from(batch.len().div_ceil(8)).unwrap_or(1));
            webex.publish_all(&batch).await;
        }));
        true
    };
    publish_next(&mut publishing).await;

    // Kill at random moments, restart on the same state directory and port.
    let mut resumes: Vec<Resume> = Vec::new();
    let mut status_during = String::new();
    let mut downtime = Duration::ZERO;
    let mut killed_state: Vec<(String, Vec<u8>)> = Vec::new();
    for k in 0..p.kills {
        let live = p.min_gap + (p.max_gap - p.min_gap).mul_f64(rng.random::<f64>());
        let kill_at = Instant::now() + live;
        let while_down = rng.random::<f64>() < 1.0 / 3.0;
        let publish_at = Instant::now() + live.mul_f64(rng.random::<f64>());
        let mut published = while_down;
        while Instant::now() < kill_at {
            if !published && Instant::now() >= publish_at {
                publish_next(&mut publishing).await;
                published = true;
            }
            sample_sessions(&wfo, &mut secrets);
            track_resumes(&store, &mut resumes).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !published {
            publish_next(&mut publishing).await;
        }
        if k + 1 == p.kills {
            // The last kill is measured: wait (a little) for an item in flight.
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until
                && !ledger_items(&store).await.iter().any(|i| {
                    i.in_step
                        && i.stage != Stage::Done
                        && !resumes
                            .iter()
                            .any(|r| r.snapshot.get(&i.item_id) == Some(&(i.attempts, i.stage)))
                })
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if k == p.kills / 2 {
            // `status` beside a running server (the embedded store allows it).
            let (ok, text) = status_output(&state_dir).await;
            assert!(ok, "status beside serve failed:\n{text}");
            status_during = text;
        }
        runner.kill();
        let killed_at = Instant::now();
        // The state as a SIGKILL leaves it (the SQLite WAL not yet checkpointed), for the
        // secret scan.
        let mut left = Vec::new();
        files_under(&state_dir, &mut left);
        for f in left {
            killed_state.push((
                format!("{} after kill {}", f.display(), k + 1),
                std::fs::read(&f).unwrap_or_default(),
            ));
        }
        let mid_step: BTreeMap<String, (u32, Stage)> = ledger_items(&store)
            .await
            .into_iter()
            .filter(|i| i.in_step && i.stage != Stage::Done && i.health != Health::Dead)
            .map(|i| (i.item_id, (i.attempts, i.stage)))
            .collect();
        // An item an earlier runner left mid-step and nobody has taken up since belongs
        // to that earlier kill.
        let (carried, snapshot): (BTreeMap<_, _>, BTreeMap<_, _>) = mid_step.into_iter().partition(|(id, at)| {
            resumes
                .iter()
                .any(|r| !r.picked_up.contains_key(id) && r.snapshot.get(id) == Some(at))
        });
        resumes.push(Resume {
            kill: k + 1,
            killed_at,
            snapshot,
            carried: carried.len(),
            picked_up: BTreeMap::new(),
            progressed: BTreeMap::new(),
        });
        if while_down {
            publish_next(&mut publishing).await;
            waves_while_down += 1;
        }
        let down = Duration::from_millis(rng.random_range(200..1_500));
        tokio::time::sleep(down).await;
        downtime += down;
        runner.spawn();
        runner.wait_healthy(&http).await;
    }
    // The rest (when the kills ran out first), and the last wave's deliveries done.
    while publish_next(&mut publishing).await {}

    // Everything settles: every recording's item is done or dead.
    let until = Instant::now() + p.settle;
    let pending = loop {
        sample_sessions(&wfo, &mut secrets);
        track_resumes(&store, &mut resumes).await;
        let items: BTreeMap<String, LedgerItem> = ledger_items(&store)
            .await
            .into_iter()
            .map(|i| (i.item_id.clone(), i))
            .collect();
        let pending: Vec<String> = recording_ids
            .iter()
            .filter(|id| {
                !items
                    .get(id.as_str())
                    .is_some_and(|i| i.stage == Stage::Done || i.health == Health::Dead)
            })
            .map(|id| match items.get(id.as_str()) {
                None => format!("{id}: never discovered"),
                Some(i) => format!(
                    "{id}: {} attempts={} in_step={} next={:?} {:?}",
                    i.state_label(),
                    i.attempts,
                    i.in_step,
                    i.next_attempt_at,
                    i.last_error
                ),
            })
            .collect();
        let resumed = resumes.iter().all(|r| r.all_picked_up() && r.all_progressed());
        if (pending.is_empty() && resumed) || Instant::now() >= until {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let settled_after = started.elapsed();
    sample_sessions(&wfo, &mut secrets);

    // A clean stop on SIGTERM.
    let term = runner.terminate(Duration::from_secs(30)).await;
    let items = ledger_items(&store).await;
    let queue_depth = store.depth().await.unwrap_or(0);
    let (status_ok, status_after) = status_output(&state_dir).await;

    // What WFO holds.
    let findings = check_wfo(&wfo, &instances, &items).await;

    // The secret scan.
    for t in webex.issued_tokens() {
        let n = secrets.len() + 1;
        secrets.add(format!("Webex access or refresh token (secret #{n})"), &t);
    }
    let mut leaks: Vec<String> = Vec::new();
    let mut scan = |place: String, bytes: &[u8]| {
        for what in secrets.found_in(bytes) {
            leaks.push(format!("{what} in {place}"));
        }
    };
    let mut files = Vec::new();
    files_under(&state_dir, &mut files);
    files.sort();
    for f in &files {
        scan(
            format!("state file {}", f.display()),
            &std::fs::read(f).unwrap_or_default(),
        );
    }
    for (name, bytes) in &killed_state {
        scan(format!("state file {name}"), bytes);
    }
    let log_bytes = std::fs::read(&log).unwrap_or_default();
    scan("the runners' log".to_owned(), &log_bytes);
    scan("status during the run".to_owned(), status_during.as_bytes());
    scan("status after the run".to_owned(), status_after.as_bytes());
    for item in &items {
        if let Some(e) = &item.last_error {
            scan(format!("last_error of {}", item.item_id), e.as_bytes());
        }
    }
    for d in store.dead_letters(1000).await.unwrap_or_default() {
        scan(
            "a dead letter".to_owned(),
            format!("{} {:?}", d.body, d.dead_reason).as_bytes(),
        );
    }
    let scanned_secrets = secrets.len();

    // The figures.
    let deliveries = webex.deliveries();
    let mut copies: BTreeMap<&str, usize> = recording_ids.iter().map(|id| (id.as_str(), 0)).collect();
    let (mut answered, mut refused, mut rejected, mut dropped, mut skipped) = (0, 0, 0, 0, 0);
    for d in &deliveries {
        match &d.outcome {
            DeliveryOutcome::Response { status } if (200..300).contains(status) => answered += 1,
            DeliveryOutcome::Response { .. } => rejected += 1,
            DeliveryOutcome::ConnectionError { .. } => refused += 1,
            DeliveryOutcome::Dropped => dropped += 1,
            DeliveryOutcome::Skipped => skipped += 1,
        }
        if d.outcome != DeliveryOutcome::Dropped
            && let Some(n) = copies.get_mut(d.recording_id.as_str())
        {
            *n += 1;
        }
    }
    let sent = deliveries.len() - dropped;
    let mut copy_histogram = [0usize; 4];
    for n in copies.values() {
        copy_histogram[(*n).min(3)] += 1;
    }
    let duplicated = deliveries.iter().filter(|d| d.duplicate).count();
    let wfo_stats = wfo.stats();
    let wfo_faults: u64 = wfo_stats.routes.values().map(|r| r.faults).sum();
    let after_write: u64 = wfo_stats.routes.values().map(|r| r.failed_after_write).sum();
    let import_dropped = wfo_stats
        .routes
        .get("POST /api/rest/wfo/contact/import")
        .map_or(0, |r| r.dropped);
    let wfo_calls: u64 = wfo_stats.routes.values().map(|r| r.calls).sum();
    let webex_faults = webex.injected_faults();
    let webex_calls: u64 = webex.request_counts().values().sum();
    let max_resume = resumes
        .iter()
        .filter(|r| !r.snapshot.is_empty())
        .filter_map(Resume::pickup)
        .max();
    let max_progress = resumes
        .iter()
        .filter(|r| !r.snapshot.is_empty())
        .filter_map(Resume::progress)
        .max();
    let resume_lines: Vec<String> = resumes.iter().map(Resume::line).collect();
    let contacts_imported = wfo_stats.creates.contacts;
    let summary = format!(
        "fault suite (seed {seed}): {calls} calls, {recs} recordings, {exp} expected contacts\n\
         runners: {starts} started, {kills} killed with SIGKILL ({down:.1} s down in all), last one stopped by SIGTERM: {term}\n\
         calls published in {wave_count} waves, {waves_while_down} of them while the runner was down\n\
         webhooks: {events} events; {sent} deliveries sent ({answered} answered 2xx, {rejected} refused by the runner, {refused} unreachable while it was down, {skipped} skipped while the webhook was inactive), {dropped} dropped by policy, {duplicated} extra copies; recordings delivered 0/1/2/3+ times: {h0}/{h1}/{h2}/{h3}\n\
         WFO faults injected: {wfo_faults} of {wfo_calls} requests answered 500/503 ({after_write} of them after the write took effect), {import_dropped} imports processed then dropped, {expired} sessions expired\n\
         Webex faults injected: {wx_failed} of {webex_calls} API requests answered with an error ({wx_status:?}), {stalls} downloads stalled half-way\n\
         WFO: {received} contacts ({contacts_imported} created), {persons} persons\n\
         lost {lost}, duplicate contacts {dups}, duplicate persons {dup_persons}, wrong fields {wrong}, unexpected {unexpected}, missing audio {missing}, wrong audio {wrong_audio}, dead items {dead}, not settled {pending}\n\
         secrets found: {leaks} ({scanned} secret values scanned for in {files} state files after the stop and {killed_files} after the kills, {log_kb} KiB of log, 2 status outputs, {errors} stored errors)\n\
         after a SIGKILL (fast timings: 15 s lease), the killed runner's mid-step items were taken up again within {max_resume} and moved on within {max_progress}\n  {resume_lines}\n\
         settled after {settled:.1} s; wall time {wall:.1} s; queue depth at the end {queue_depth}",
        seed = p.seed,
        calls = p.calls,
        recs = recording_ids.len(),
        exp = findings.expected,
        starts = runner.starts,
        kills = p.kills,
        wave_count = p.calls.div_ceil(per_wave),
        down = downtime.as_secs_f64(),
        term = match term {
            Some(s) if s.success() => "exit 0".to_owned(),
            Some(s) => format!("{s}"),
            None => "did not stop".to_owned(),
        },
        events = recording_ids.len(),
        h0 = copy_histogram[0],
        h1 = copy_histogram[1],
        h2 = copy_histogram[2],
        h3 = copy_histogram[3],
        expired = wfo_stats.sessions_expired,
        wx_failed = webex_faults.failed(),
        wx_status = webex_faults.by_status,
        stalls = webex_faults.stalled_downloads,
        received = findings.received,
        persons = wfo.persons().len(),
        lost = findings.lost.len(),
        dups = findings.duplicate_contacts.len(),
        dup_persons = findings.duplicate_persons.len(),
        wrong = findings.wrong_fields.len(),
        unexpected = findings.unexpected.len(),
        missing = findings.missing_audio.len(),
        wrong_audio = findings.wrong_audio.len(),
        dead = findings.dead.len(),
        pending = pending.len(),
        leaks = leaks.len(),
        scanned = scanned_secrets,
        files = files.len(),
        killed_files = killed_state.len(),
        log_kb = log_bytes.len() / 1024,
        errors = items.iter().filter(|i| i.last_error.is_some()).count(),
        max_resume = max_resume.map_or("-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
        max_progress = max_progress.map_or("-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
        resume_lines = resume_lines.join("\n  "),
        settled = settled_after.as_secs_f64(),
        wall = started.elapsed().as_secs_f64(),
    );
    println!("\n{summary}\n");
    if let Ok(path) = std::env::var("WFO_FAULT_REPORT") {
        let _ = std::fs::write(path, format!("{summary}\n"));
    }

    let detail = |what: &str, v: &[String]| -> String {
        if v.is_empty() {
            String::new()
        } else {
            format!(
                "\n{what}:\n  {}",
                v.iter().take(30).cloned().collect::<Vec<_>>().join("\n  ")
            )
        }
    };
    let problems = [
        detail("not settled", &pending),
        detail("lost", &findings.lost),
        detail("duplicate contacts", &findings.duplicate_contacts),
        detail("duplicate persons", &findings.duplicate_persons),
        detail("wrong fields", &findings.wrong_fields),
        detail("unexpected contacts", &findings.unexpected),
        detail("missing audio", &findings.missing_audio),
        detail("wrong audio", &findings.wrong_audio),
        detail("dead items", &findings.dead),
        detail("secrets found", &leaks),
    ]
    .concat();
    assert!(
        problems.is_empty(),
        "{summary}\n{problems}\n\nlog tail:\n{}",
        tail(&log, 30)
    );
    assert!(
        matches!(term, Some(s) if s.success()),
        "serve did not stop cleanly on SIGTERM ({term:?}):\n{}",
        tail(&log, 30)
    );
    assert!(status_ok, "status after the run failed:\n{status_after}");
    assert!(
        resumes.iter().all(|r| r.all_picked_up() && r.all_progressed()),
        "some items a killed runner left mid-step were never taken up again or never moved on:\n{summary}"
    );
    assert!(
        max_resume.is_none_or(|d| d <= MAX_RESUME),
        "a killed runner's items waited longer than {MAX_RESUME:?} to be taken up again:\n{summary}"
    );
    // The faults really happened (a tiny custom run may see none of some kind).
    if recording_ids.len() >= 20 {
        assert!(
            wfo_faults > 0 && after_write > 0,
            "WFO injected no faults: {wfo_stats:?}"
        );
        assert!(
            webex_faults.by_status.get(&429).is_some_and(|n| *n > 0),
            "Webex answered no 429"
        );
        assert!(webex_faults.stalled_downloads > 0, "no download stalled");
        assert!(
            dropped > 0 && duplicated > 0,
            "the delivery policy neither dropped nor duplicated"
        );
    }
    assert_eq!(findings.received, findings.expected, "{summary}");

    if let Ok(webex) = Arc::try_unwrap(webex) {
        webex.shutdown().await;
    }
    let _ = wfo.shutdown().await;
}

/// Notes, for every kill, which of its mid-step items a later runner has taken up again
/// (began a step: another attempt count, or the step's mark cleared) and moved on
/// (another stage, or an end).
async fn track_resumes(store: &SqliteStore, resumes: &mut [Resume]) {
    for r in resumes
        .iter_mut()
        .filter(|r| !(r.all_picked_up() && r.all_progressed()))
    {
        let open: Vec<(String, u32, Stage)> = r
            .snapshot
            .iter()
            .filter(|(id, _)| !r.progressed.contains_key(*id))
            .map(|(id, (a, st))| (id.clone(), *a, *st))
            .collect();
        for (id, attempts, stage) in open {
            let now = r.killed_at.elapsed();
            let Ok(found) = store.get(CONNECTOR_ID, &id).await else {
                continue;
            };
            let (moved, on) = match &found {
                None => (true, true),
                Some(i) => (
                    i.attempts != attempts || !i.in_step,
                    i.stage != stage || i.stage == Stage::Done || i.health == Health::Dead,
                ),
            };
            if moved || on {
                r.picked_up.entry(id.clone()).or_insert(now);
            }
            if on {
                r.progressed.entry(id).or_insert(now);
            }
        }
    }
}
