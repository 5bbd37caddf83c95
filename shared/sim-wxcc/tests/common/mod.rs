//! Helpers shared by the simulator's integration tests: an HTTP client that never
//! follows redirects, tokens, and a loopback receiver for deliveries.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use tokio::task::JoinHandle;
use wfo_sim_wxcc::{CONFIG, DEFAULT_CLIENT_ID, RunningWxccSim, WxccSim, WxccSimConfig};

/// One client for every request of a test binary (building one is slow in debug). No
/// idle connections are kept: each test runs on its own runtime, and a pooled
/// connection must not outlive the runtime that opened it.
pub fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .expect("client")
        })
        .clone()
}

pub async fn sim() -> RunningWxccSim {
    WxccSim::start(WxccSimConfig::default()).await.expect("sim starts")
}

/// An access token of the default integration with `cjp:config`.
pub fn token(sim: &RunningWxccSim) -> String {
    sim.issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG])
        .expect("tokens")
        .access_token
}

/// `GET base + path` with the bearer token.
pub async fn get(sim: &RunningWxccSim, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .header("TrackingId", "TEST_tracking")
        .send()
        .await
        .expect("request")
}

pub fn users_path(sim: &RunningWxccSim) -> String {
    format!("/organization/{}/v2/user", sim.org_id())
}

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A loopback receiver answering `status` to every POST on `/hook`.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

async fn receive(State(s): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    s.received.lock().expect("lock").push(Received { headers, body });
    StatusCode::from_u16(s.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = ReceiverState {
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(status)),
        };
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            received: state.received,
            status: state.status,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits (up to 5 s) until `n` deliveries arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            if self.received().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.received()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}
