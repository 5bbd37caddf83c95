use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wfo_sim_webex::{COMPLIANCE_READ, DEFAULT_CLIENT_ID, FixtureSource, RunningWebexSim, WebexSim, WebexSimConfig};

pub const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/webex-calling")
}

pub fn config() -> WebexSimConfig {
    let mut config = WebexSimConfig {
        fixtures: FixtureSource::Dir(data_dir()),
        ..WebexSimConfig::default()
    };
    config.integrations[0].redirect_uris = vec![REDIRECT.to_owned()];
    config
}

pub async fn start() -> RunningWebexSim {
    WebexSim::start(config()).await.unwrap()
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap()
}

/// A client that never follows redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn token(sim: &RunningWebexSim, scopes: &[&str]) -> String {
    sim.issue_tokens(DEFAULT_CLIENT_ID, scopes).unwrap().access_token
}

pub fn compliance_token(sim: &RunningWebexSim) -> String {
    token(sim, &[COMPLIANCE_READ])
}

/// (X-Spark-Signature, raw body) of every request received.
pub type Hits = Arc<Mutex<Vec<(Option<String>, Bytes)>>>;

/// A webhook receiver: records (signature header, raw body) and answers `status`.
pub struct Receiver {
    pub url: String,
    pub hits: Hits,
    pub status: Arc<AtomicU16>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        let hits: Hits = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (h, s) = (hits.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (h, s) = (h.clone(), s.clone());
                async move {
                    let sig = headers
                        .get("x-spark-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    h.lock().unwrap().push((sig, body));
                    StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            hits,
            status,
            stop: Some(tx),
            task,
        }
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap();
    }
}

/// Creates an org-level convergedRecordings webhook and returns its JSON.
pub async fn create_webhook(sim: &RunningWebexSim, token: &str, target: &str, secret: &str) -> serde_json::Value {
    let resp = http()
        .post(format!("{}/v1/webhooks", sim.base_url()))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "name": "wfo-connect", "targetUrl": target, "resource": "convergedRecordings",
            "event": "created", "secret": secret, "ownedBy": "org"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}
