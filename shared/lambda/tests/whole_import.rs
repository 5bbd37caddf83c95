//! A whole import through the real Lambda handlers and the AWS adapters on moto:
//!
//! ```text
//! API Gateway v2 event JSON (signed Webex delivery)
//!   → lambda_http's adapter → webhook handler (HttpDeps::handle) → DynamoDB ledger + SQS
//!   → SQS event built from the messages moto holds → import worker (WorkerDeps::handle_batch)
//!   → Webex Calling simulator (metadata, audio) → WFO simulator (persons, contacts, audio)
//! ```
//!
//! The event source mapping's part (delete what succeeded) is played by the test.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{moto, receive_as_event};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service, service_fn};
use serde_json::Value;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::Stage;
use wfo_lambda::http::HttpDeps;
use wfo_lambda::scheduler::{ScheduledEvent, SchedulerDeps, Task};
use wfo_lambda::worker::WorkerDeps;
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::{ConnectorStore, Ledger, Store, TokenRecord, TokenSet, TokenStore, WorkQueue};
use wfo_sim_webex::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, WebexSim, WebexSimConfig};
use wfo_sim_wfo::{SimConfig, WfoSim};

const CONNECTOR: &str = "acme-calling";
const WFO_USER: &str = "api-user@acme.example";
const WFO_PASSWORD: &str = "wfo-password-7c1e";

/// The fixture event with this delivery body, signed with `secret`.
fn webhook_event(recording_id: &str, secret: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/aws/apigw-v2-webhook-delivery.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body["data"]["id"] = Value::from(recording_id);
    let body = body.to_string();
    event["headers"]["x-spark-signature"] =
        Value::from(wfo_webex_calling::sign_spark(secret.as_bytes(), body.as_bytes()));
    event["headers"]["content-length"] = Value::from(body.len().to_string());
    event["body"] = Value::from(body);
    event
}

/// What `lambda_http::run` does with one invocation: event JSON in, response JSON out.
async fn invoke_http(deps: &HttpDeps, event: &Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event.clone()).expect("an API Gateway v2 event");
    let mut adapter = Adapter::from(service_fn(|req| deps.handle(req)));
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(&response).unwrap()
}

struct Stack {
    m: common::Moto,
    wfo: wfo_sim_wfo::RunningSim,
    webex: wfo_sim_webex::RunningWebexSim,
    http: HttpDeps,
    scheduler: SchedulerDeps,
    secret: String,
}

impl Stack {
    /// moto tables/queues/key, both simulators, and an added, authorized connector.
    async fn start(test: &str) -> Option<Self> {
        let m = moto(test).await?;
        let wfo = WfoSim::start(SimConfig {
            users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();

        // An operator added the connector (`wfo-connect --backend aws connector add`) and
        // authorized it.
        let config = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CONNECTOR}"
acd_name = "Acme Webex Calling"
kind = "webex-calling"
acd_server_id = 3

[source]
api_url = "{webex}"
identity_url = "{webex}"
# The org the fixture delivery (fixtures/aws/apigw-v2-webhook-delivery.json) is about.
tenant_id = "OTZh"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[[metadata_mapping]]
acd_field = "serviceData.callSessionId"
label = "Call Session"
"#,
            webex = webex.base_url(),
            wfo = wfo.base_url(),
        ))
        .unwrap();
        let stored = m.store.put_connector(&config, Utc::now()).await.unwrap();
        let granted = webex
            .issue_tokens(DEFAULT_CLIENT_ID, &["spark-compliance:recordings_read"])
            .unwrap();
        let now = Utc::now();
        let tokens = TokenRecord {
            tokens: Some(TokenSet {
                access_token: Secret::new(granted.access_token),
                access_expires_at: now + chrono::Duration::seconds(granted.expires_in as i64),
                refresh_token: Some(Secret::new(granted.refresh_token)),
                refresh_expires_at: Some(now + chrono::Duration::seconds(granted.refresh_token_expires_in as i64)),
                scopes: granted.scope.split(' ').map(str::to_owned).collect(),
                obtained_at: now,
            }),
            reauth_required: None,
            version: 0,
        };
        m.store.put_tokens(CONNECTOR, &tokens, 0).await.unwrap();

        let store: Arc<dyn Store> = m.store.clone();
        let http = HttpDeps::new(store.clone(), None).unwrap();
        let scheduler = SchedulerDeps::new(store, "https://example.invalid".into(), Duration::from_secs(30)).unwrap();
        let secret = stored.secrets.webhook_secret.expose().to_owned();
        Some(Self {
            m,
            wfo,
            webex,
            http,
            scheduler,
            secret,
        })
    }

    /// Play the event source mapping once: receive, hand the batch over, delete what
    /// did not fail.
    async fn deliver_queue(&self, worker: &WorkerDeps) {
        let (event, got) = receive_as_event(&self.m.store, 10).await;
        if got.is_empty() {
            return;
        }
        let response = worker.handle_batch(event).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "no ledger write failed: {response:?}"
        );
        for r in &got {
            self.m.store.ack(&r.receipt).await.unwrap();
        }
    }

    async fn stage(&self, id: &str) -> Option<Stage> {
        self.m.store.get(CONNECTOR, id).await.unwrap().map(|i| i.stage)
    }

    /// Each expected contact of `call` exactly once in WFO, with its audio.
    fn assert_wfo_holds(&self, call: &wfo_sim_webex::ScenarioInstance) {
        let recordings = call.recording_ids();
        let mut want: Vec<String> = call
            .expected
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["externalId"].as_str().unwrap().to_owned())
            .collect();
        want.sort();
        let contacts = self.wfo.contacts();
        let mine: Vec<_> = contacts
            .iter()
            .filter(|c| {
                recordings
                    .iter()
                    .any(|r| c.contact.import.external_id.contains(r.as_str()))
            })
            .collect();
        let mut got: Vec<String> = mine.iter().map(|c| c.contact.import.external_id.clone()).collect();
        got.sort();
        assert_eq!(got, want, "each expected contact exactly once");
        assert!(
            mine.iter().all(|c| c.contact.audio_uploaded),
            "every contact has its audio"
        );
    }

    async fn stop(self) {
        self.webex.shutdown().await;
        self.wfo.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_event_becomes_wfo_contacts_through_the_lambda_handlers() {
    let Some(st) = Stack::start("whole import").await else {
        return;
    };
    // Webex records a consult-then-transfer call: one recording per recorded owner.
    let call = st
        .webex
        .instantiate("consult-transfer", Utc::now() - chrono::Duration::minutes(30))
        .unwrap();
    st.webex.publish(&call).await;
    let recordings = call.recording_ids();
    assert!(
        recordings.len() >= 2,
        "the scenario has several recordings: {recordings:?}"
    );

    // 1. The webhook function: one signed delivery per recording, plus a duplicate and a
    //    forgery.
    for id in &recordings {
        let answer = invoke_http(&st.http, &webhook_event(id, &st.secret)).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    let duplicate = invoke_http(&st.http, &webhook_event(&recordings[0], &st.secret)).await;
    assert_eq!(duplicate["statusCode"], 200);
    assert!(
        duplicate["body"].as_str().unwrap().contains("already recorded"),
        "{duplicate}"
    );
    let forged = invoke_http(&st.http, &webhook_event(&recordings[0], "not-the-secret")).await;
    assert_eq!(forged["statusCode"], 401);
    assert_eq!(
        st.m.store.depth().await.unwrap(),
        recordings.len() as u64,
        "one message per new recording, none for the duplicate or the forgery"
    );

    // 2. The worker function, fed by SQS as the event source mapping would. A round
    //    leaves nothing behind that the ledger does not hold; the sweep (the scheduler
    //    function) re-enqueues what is due, until every item is done.
    let worker = WorkerDeps::new(st.m.store.clone(), ImportSettings::fast(), 4).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        st.deliver_queue(&worker).await;
        let mut done = 0;
        for id in &recordings {
            if st.stage(id).await == Some(Stage::Done) {
                done += 1;
            }
        }
        if done == recordings.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{done}/{} recordings done after 90 s",
            recordings.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        st.scheduler.run(ScheduledEvent { task: Task::Sweep }).await.unwrap();
    }

    // 3. What WFO holds: every expected contact once, with its audio.
    st.assert_wfo_holds(&call);
    assert_eq!(
        st.m.store.dead_letters(10).await.unwrap().len(),
        0,
        "nothing was set aside"
    );
    st.stop().await;
}

/// A Lambda timeout stops the worker at any await point. Cut it off while it uploads
/// audio (WFO answers slowly), then let the lease lapse: the sweep re-enqueues the item
/// and the next invocation finishes it from its last recorded step, with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_cut_off_mid_audio_upload_resumes_without_duplicates() {
    let Some(st) = Stack::start("timeout mid upload").await else {
        return;
    };
    let call = st
        .webex
        .instantiate("basic-inbound", Utc::now() - chrono::Duration::minutes(30))
        .unwrap();
    st.webex.publish(&call).await;
    let id = call.recording_ids()[0].clone();
    let answer = invoke_http(&st.http, &webhook_event(&id, &st.secret)).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");

    let lease = Duration::from_secs(2);
    let worker = WorkerDeps::new(
        st.m.store.clone(),
        ImportSettings {
            lease,
            ..ImportSettings::fast()
        },
        4,
    )
    .unwrap();
    st.wfo
        .set_faults(wfo_sim_wfo::Faults {
            slow: 1.0,
            slow_delay_ms: 700,
            ..wfo_sim_wfo::Faults::default()
        })
        .unwrap();
    let (event, _) = receive_as_event(&st.m.store, 10).await;
    let cut = async {
        while st.stage(&id).await != Some(Stage::ContactsImported) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        r = worker.handle_batch(event) => panic!("the worker finished before the cut: {r:?}"),
        _ = cut => {}
    }
    // The invocation is gone: its message stays in flight, its lease held.
    assert_eq!(st.stage(&id).await, Some(Stage::ContactsImported));
    assert!(
        st.m.store.due(Utc::now(), 10).await.unwrap().is_empty(),
        "a leased item is not due"
    );
    st.wfo.set_faults(wfo_sim_wfo::Faults::default()).unwrap();

    tokio::time::sleep(lease + Duration::from_millis(500)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while st.stage(&id).await != Some(Stage::Done) {
        assert!(tokio::time::Instant::now() < deadline, "not resumed within 60 s");
        st.scheduler.run(ScheduledEvent { task: Task::Sweep }).await.unwrap();
        st.deliver_queue(&worker).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    st.assert_wfo_holds(&call);
    st.stop().await;
}
