//! The `/status` page in a real headless browser: a `wfo-connect serve` process against
//! the WFO and Contact Center 1.0 simulators with two connectors — `cc-healthy`, whose
//! session the runner imports, and `cc-held`, whose API key the source refuses so the
//! poller marks it "needs operator" — and Debian's Chromium, driven by
//! `scripts/status-page-probe.cjs` (playwright-core), opening the page. The page must
//! render both connectors, show the held one's state in red, have a chart per connector
//! and log no console error (a CSP violation is one).
//!
//! Needs Chromium and Node with playwright-core, so it runs only when
//! `WFO_STATUS_PAGE_BROWSER` is set (`scripts/test.sh` installs both and sets it, as
//! `MOTO_ENDPOINT` gates the AWS tests); `NODE_PATH` must reach playwright-core
//! (`scripts/test.sh` sets it to `.tools/status-browser/node_modules`) and `CHROMIUM`
//! may name the browser (default `/usr/bin/chromium`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_pipeline::ports::ConnectorStore;
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_sim_wxcc::{Scenario, ScenarioAgent};
use wfo_sim_wxcc1::{AuxItem, AuxResource, RunningWxcc1Sim, Wxcc1Sim, Wxcc1SimConfig};
use wfo_store::SqliteStore;

const HEALTHY: &str = "cc-healthy";
const HELD: &str = "cc-held";
const WRONG_KEY: &str = "wrong-key-4be1a9";
const AGENT_ID: &str = "ci-agent-0001";

/// The `serve` child; killed and reaped on drop, so a failing test leaves nothing behind.
struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn connector(id: &str, acd_server_id: i64, cc: &RunningWxcc1Sim, wfo: &RunningSim, key: &str) -> ConnectorConfig {
    let creds = cc.credentials();
    ConnectorConfig::from_toml(&format!(
        "id = \"{id}\"\nacd_name = \"{id}\"\nkind = \"webex-cc-1\"\nacd_server_id = {acd_server_id}\n\
         [source]\napi_url = \"{c}\"\nmedia_api_url = \"{m}\"\ntenant_id = \"{t}\"\nusername = \"{u}\"\napi_key = \"{key}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
         [features]\nwebhook = false\n\
         [sync]\ninterval_minutes = 10\n",
        c = cc.base_url(),
        m = cc.media_url(),
        t = creds.tenant_id,
        u = creds.username,
        f = wfo.base_url()
    ))
    .expect("a valid connector")
}

/// The page's text once `until` holds of it (or the last text, after `within`).
async fn page_when(http: &reqwest::Client, url: &str, within: Duration, until: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < end {
        if let Ok(r) = http.get(url).send().await
            && let Ok(text) = r.text().await
        {
            if until(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    last
}

/// Connector `id`'s section of the page shows at least one import.
fn imported(page: &str, id: &str) -> bool {
    let Some(start) = page.find(&format!("data-connector=\"{id}\"")) else {
        return false;
    };
    let section = &page[start..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    section.contains("import(s) in the last hour\"") && !section.contains("aria-label=\"0 import(s)")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_both_connectors_the_held_one_in_red_with_charts_and_no_console_errors() {
    if std::env::var_os("WFO_STATUS_PAGE_BROWSER").is_none() {
        println!("note: WFO_STATUS_PAGE_BROWSER is not set; skipping the browser test (scripts/test.sh runs it)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cc = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    cc.set_capture_delay(Duration::ZERO);
    let ids = wfo_sim_wxcc::ScenarioIds::default();
    cc.upsert_aux(AuxResource::Team, AuxItem::named(&ids.team_id, &ids.team_name, true));
    cc.upsert_aux(
        AuxResource::VirtualTeam,
        AuxItem::named(&ids.queue_id, &ids.queue_name, true),
    );
    cc.upsert_aux(
        AuxResource::User,
        AuxItem::user(AGENT_ID, "agent001", "Ana", "Lima", Some(&ids.team_id), true),
    );
    let agents = [ScenarioAgent {
        ci_user_id: AGENT_ID.to_owned(),
        name: "Ana Lima".to_owned(),
    }];
    cc.play(
        Scenario::BasicInbound,
        Utc::now() - chrono::Duration::minutes(10),
        &agents,
    )
    .expect("the scenario plays");
    {
        let store = SqliteStore::open(state.path()).unwrap();
        let key = cc.credentials().api_key.clone();
        store
            .put_connector(&connector(HEALTHY, 11, &cc, &wfo, &key), Utc::now())
            .await
            .unwrap();
        store
            .put_connector(&connector(HELD, 12, &cc, &wfo, WRONG_KEY), Utc::now())
            .await
            .unwrap();
    }

    let port = free_port();
    let log = state.path().join("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let _runner = Runner(
        Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
            .arg("--state-dir")
            .arg(state.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--timing", "fast"])
            .env_remove("WFO_CONNECT_OPERATOR_TOKEN")
            .env_remove("WFO_CONNECT_TIMING")
            .env_remove("WFO_CONNECT_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn wfo-connect serve"),
    );
    let url = format!("http://127.0.0.1:{port}/status");
    let http = reqwest::Client::new();
    let ready = |t: &str| t.contains("data-state=\"needs operator\"") && imported(t, HEALTHY);
    let text = page_when(&http, &url, Duration::from_secs(120), ready).await;
    assert!(
        ready(&text),
        "the runner did not import the healthy connector's session and mark the held one:\n{text}\n--- serve log:\n{}",
        tail(&log)
    );

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let probe = Command::new("node")
        .arg(root.join("scripts/status-page-probe.cjs"))
        .arg(&url)
        .stdin(Stdio::null())
        .output()
        .expect("run node scripts/status-page-probe.cjs");
    assert!(
        probe.status.success(),
        "the browser could not open the page: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let found: Value = serde_json::from_slice(&probe.stdout).expect("the probe prints JSON");
    assert_eq!(found["status"], 200, "{found}");
    assert_eq!(found["problems"], serde_json::json!([]), "no console errors: {found}");
    let connectors = found["connectors"].as_array().expect("connectors");
    let by_id = |id: &str| {
        connectors
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} is on the page: {found}"))
    };
    let (healthy, held) = (by_id(HEALTHY), by_id(HELD));
    assert!(
        held["state"].as_str().is_some_and(|s| s.starts_with("needs operator")),
        "{held}"
    );
    assert!(
        held["state"].as_str().is_some_and(|s| s.contains("source.api_key")),
        "the reason is shown: {held}"
    );
    assert!(
        !held["state"].as_str().unwrap_or_default().contains(WRONG_KEY),
        "never the key: {held}"
    );
    assert_eq!(held["color"], "rgb(196, 0, 0)", "needs operator is red: {held}");
    assert_eq!(healthy["state"], "healthy", "{healthy}");
    assert_ne!(healthy["color"], held["color"], "healthy is not red: {healthy}");
    for c in [healthy, held] {
        assert_eq!(c["charts"], 1, "a chart per connector: {c}");
        assert_eq!(c["bars"], 12, "twelve 5-minute bars: {c}");
    }
    assert!(
        healthy["chartLabel"]
            .as_str()
            .is_some_and(|l| l.ends_with("import(s) in the last hour") && !l.starts_with("0 ")),
        "{healthy}"
    );

    drop(_runner);
    wfo.shutdown().await.unwrap();
    cc.shutdown().await;
}
