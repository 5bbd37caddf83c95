//! `POST /webhooks/{connector_id}` through the real runtime's HTTP server
//! (`specs/interfaces.md` §2): every rejection records and enqueues nothing; a valid
//! delivery records one ledger item and one queue message; repeating it adds nothing.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::FaultyStore;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::Discovery;
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::{ConnectorStore, Ledger, Store, WorkQueue};
use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};

const CONNECTOR: &str = "route-test";
const RECORDING: &str = "62807eaf-0c89-492e-a3c3-c4751812603b";

struct Route {
    store: Arc<FaultyStore>,
    runtime: RunningRuntime,
    secret: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Route {
    async fn start() -> Self {
        common::init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FaultyStore::open(dir.path()));
        // Nothing listens at these addresses; the connector is never authorized, so the
        // worker only parks items (waiting for authorization) and calls nobody.
        let config = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CONNECTOR}"
acd_name = "Route test"
kind = "webex-calling"
acd_server_id = 3

[source]
api_url = "http://127.0.0.1:9"
identity_url = "http://127.0.0.1:9"
tenant_id = "OTZh"
username = "admin@sim.example"
client_id = "Croute"
client_secret = "route-secret"

[wfo]
api_url = "http://127.0.0.1:9"
username = "api"
password = "pw"
"#
        ))
        .unwrap();
        let stored = store.put_connector(&config, Utc::now()).await.unwrap();
        let dyn_store: Arc<dyn Store> = store.clone();
        let runtime = RunningRuntime::start(
            dyn_store,
            wfo_sources::Sources::shared(),
            RuntimeConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                workers: 1,
                sweep_interval: Duration::from_millis(100),
                poller_enabled: false,
                // The never-authorized connector's items wait longer than any test here
                // runs, so only the route's own messages are counted.
                import: ImportSettings {
                    paused_delay: chrono::Duration::minutes(5),
                    ..ImportSettings::fast()
                },
                refresh_interval: Duration::from_secs(3600),
                ..RuntimeConfig::default()
            },
        )
        .await
        .unwrap();
        Self {
            store,
            runtime,
            secret: stored.secrets.webhook_secret.expose().to_owned(),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn post(&self, connector: &str, body: &[u8], signature: Option<&str>) -> u16 {
        let mut req = self
            .http
            .post(format!("{}/webhooks/{connector}", self.runtime.public_url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("X-Spark-Signature", sig);
        }
        req.send().await.unwrap().status().as_u16()
    }

    fn sign(&self, body: &[u8]) -> String {
        wfo_webex_calling::sign_spark(self.secret.as_bytes(), body)
    }

    async fn post_signed(&self, body: &[u8]) -> u16 {
        self.post(CONNECTOR, body, Some(&self.sign(body))).await
    }

    async fn ledger_len(&self) -> usize {
        self.store.list(CONNECTOR, false, 100).await.unwrap().len()
    }

    async fn assert_nothing_recorded(&self, case: &str) {
        assert_eq!(self.ledger_len().await, 0, "{case}: nothing in the ledger");
        assert_eq!(self.store.depth().await.unwrap(), 0, "{case}: nothing queued");
        assert_eq!(self.store.sends(), 0, "{case}: nothing ever enqueued");
    }

    async fn shutdown(self) {
        self.runtime.shutdown().await;
    }
}

fn delivery(recording_id: &str) -> Vec<u8> {
    serde_json::json!({
        "id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZjRl",
        "name": "wfo-connect recordings",
        "targetUrl": "https://example.invalid/webhooks/route-test",
        "resource": "convergedRecordings",
        "event": "created",
        "orgId": "OTZh",
        "ownedBy": "org",
        "status": "active",
        "created": "2026-03-02T14:10:00.000Z",
        "actorId": "Y2l",
        "data": {"id": recording_id, "orgId": "OTZh", "ownerType": "user", "serviceType": "calling"}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401_and_records_nothing() {
    let r = Route::start().await;
    let body = delivery(RECORDING);
    let wrong = wfo_webex_calling::sign_spark(b"not-the-secret", &body);
    assert_eq!(r.post(CONNECTOR, &body, Some(&wrong)).await, 401);
    assert_eq!(r.post(CONNECTOR, &body, None).await, 401);
    // Signed over other bytes than were sent.
    let tampered = delivery("00000000-0000-0000-0000-000000000000");
    assert_eq!(r.post(CONNECTOR, &tampered, Some(&r.sign(&body))).await, 401);
    r.assert_nothing_recorded("bad signature").await;
    r.shutdown().await;
}

#[tokio::test]
async fn a_signed_delivery_about_another_org_is_401_and_records_nothing() {
    let r = Route::start().await;
    // Whoever owns a webhook sees its secret: a delivery signed with it but naming another
    // org (or none) is not this connector's.
    for org in [Some("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vdGhlcg"), None] {
        let mut v: serde_json::Value = serde_json::from_slice(&delivery(RECORDING)).unwrap();
        match org {
            Some(o) => v["orgId"] = o.into(),
            None => {
                v.as_object_mut().unwrap().remove("orgId");
            }
        }
        let body = v.to_string().into_bytes();
        assert_eq!(r.post_signed(&body).await, 401, "{org:?}");
    }
    r.assert_nothing_recorded("foreign org").await;
    r.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_unsigned_or_forged_deliveries_costs_no_store_read_per_delivery() {
    let r = Route::start().await;
    let body = delivery(RECORDING);
    let reads = r.store.connector_reads();
    for n in 0..200 {
        let forged = wfo_webex_calling::sign_spark(format!("guess-{n}").as_bytes(), &body);
        assert_eq!(r.post(CONNECTOR, &body, Some(&forged)).await, 401);
        assert_eq!(r.post(CONNECTOR, &body, None).await, 401);
        assert_eq!(r.post(&format!("made-up-{}", n % 3), &body, None).await, 404);
    }
    let used = r.store.connector_reads() - reads;
    assert!(used <= 8, "600 junk deliveries read the connector table {used} times");
    r.assert_nothing_recorded("flood").await;
    // A genuine delivery still goes through at once.
    assert_eq!(r.post_signed(&body).await, 200);
    r.shutdown().await;
}

#[tokio::test]
async fn an_unknown_connector_is_404_and_records_nothing() {
    let r = Route::start().await;
    let body = delivery(RECORDING);
    assert_eq!(r.post("no-such-connector", &body, Some(&r.sign(&body))).await, 404);
    r.assert_nothing_recorded("unknown connector").await;
    assert!(r.store.list("no-such-connector", false, 10).await.unwrap().is_empty());
    r.shutdown().await;
}

#[tokio::test]
async fn a_malformed_body_is_400_and_records_nothing() {
    let r = Route::start().await;
    let not_json = b"recording 62807eaf created".to_vec();
    assert_eq!(r.post_signed(&not_json).await, 400, "not JSON");
    let no_data_id =
        serde_json::json!({"resource": "convergedRecordings", "event": "created", "data": {"orgId": "OTZh"}})
            .to_string()
            .into_bytes();
    assert_eq!(r.post_signed(&no_data_id).await, 400, "JSON without data.id");
    let no_data = serde_json::json!({"resource": "convergedRecordings", "event": "created"})
        .to_string()
        .into_bytes();
    assert_eq!(r.post_signed(&no_data).await, 400, "JSON without data");
    r.assert_nothing_recorded("malformed body").await;
    r.shutdown().await;
}

#[tokio::test]
async fn a_body_over_one_mib_is_413_and_records_nothing() {
    let r = Route::start().await;
    // A valid, correctly signed delivery padded past the limit.
    let mut event: serde_json::Value = serde_json::from_slice(&delivery(RECORDING)).unwrap();
    event["data"]["padding"] = serde_json::Value::String("x".repeat(1024 * 1024));
    let body = event.to_string().into_bytes();
    assert!(body.len() > 1024 * 1024);
    assert_eq!(r.post_signed(&body).await, 413);
    r.assert_nothing_recorded("oversized body").await;
    r.shutdown().await;
}

#[tokio::test]
async fn a_valid_delivery_is_recorded_once_and_its_duplicate_adds_nothing() {
    let r = Route::start().await;
    let body = delivery(RECORDING);

    let t = Instant::now();
    assert_eq!(r.post_signed(&body).await, 200);
    let latency = t.elapsed();
    println!("valid delivery answered in {latency:?}");
    assert!(latency < Duration::from_secs(5), "answered fast (took {latency:?})");

    let items = r.store.list(CONNECTOR, false, 100).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].item_id, RECORDING);
    assert_eq!(items[0].discovered_by, Discovery::Webhook);
    assert_eq!(r.store.sends(), 1, "one queue message");

    // The same delivery again (a Webex retry or a duplicate).
    assert_eq!(r.post_signed(&body).await, 200);
    assert_eq!(r.ledger_len().await, 1, "still one item");
    assert_eq!(r.store.sends(), 1, "no new message");
    r.shutdown().await;
}
