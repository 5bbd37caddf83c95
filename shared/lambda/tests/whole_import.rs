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
use wfo_connectors::import::ImportSettings;
use wfo_connectors::ports::{ConnectorStore, Ledger, Store, TokenRecord, TokenSet, TokenStore, WorkQueue};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::Stage;
use wfo_lambda::http::HttpDeps;
use wfo_lambda::scheduler::{ScheduledEvent, SchedulerDeps, Task};
use wfo_lambda::worker::WorkerDeps;
use wfo_sim_webex::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, WebexSim, WebexSimConfig};
use wfo_sim_wfo::{SimConfig, WfoSim};

const CONNECTOR: &str = "acme-calling";
const WFO_USER: &str = "api-user@acme.example";
const WFO_PASSWORD: &str = "wfo-password-7c1e";

/// The fixture event with this delivery body, signed with `secret`.
fn webhook_event(recording_id: &str, secret: &str) -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/aws/apigw-v2-webhook-delivery.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body["data"]["id"] = Value::from(recording_id);
    let body = body.to_string();
    event["headers"]["x-spark-signature"] = Value::from(wfo_webex_calling::sign_spark(secret.as_bytes(), body.as_bytes()));
    event["headers"]["content-length"] = Value::from(body.len().to_string());
    event["body"] = Value::from(body);
    event
}

/// What `lambda_http::run` does with one invocation: event JSON in, response JSON out.
async fn invoke_http(deps: &HttpDeps, event: &Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event.clone()).expect("an API Gateway v2 event");
    let mut adapter = Adapter::from(service_fn(|req| deps.handle(req)));
    let response = adapter.call(LambdaEvent::new(request, Context::default())).await.unwrap();
    serde_json::to_value(&response).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_event_becomes_wfo_contacts_through_the_lambda_handlers() {
    let Some(m) = moto("whole import").await else { return };
    let wfo = WfoSim::start(SimConfig { users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))], ..SimConfig::default() })
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
    let granted = webex.issue_tokens(DEFAULT_CLIENT_ID, &["spark-compliance:recordings_read"]).unwrap();
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

    // Webex records a consult-then-transfer call: one recording per recorded owner.
    let call = webex.instantiate("consult-transfer", Utc::now() - chrono::Duration::minutes(30)).unwrap();
    webex.publish(&call).await;
    let recordings = call.recording_ids();
    assert!(recordings.len() >= 2, "the scenario has several recordings: {recordings:?}");

    // 1. The webhook function: one signed delivery per recording, plus one duplicate.
    let store: Arc<dyn Store> = m.store.clone();
    let http = HttpDeps::new(store.clone(), None).unwrap();
    let secret = stored.secrets.webhook_secret.expose().to_owned();
    for id in &recordings {
        let answer = invoke_http(&http, &webhook_event(id, &secret)).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    let duplicate = invoke_http(&http, &webhook_event(&recordings[0], &secret)).await;
    assert_eq!(duplicate["statusCode"], 200);
    assert!(duplicate["body"].as_str().unwrap().contains("already recorded"), "{duplicate}");
    let forged = invoke_http(&http, &webhook_event(&recordings[0], "not-the-secret")).await;
    assert_eq!(forged["statusCode"], 401);
    assert_eq!(m.store.depth().await.unwrap(), recordings.len() as u64, "one message per new recording, none for the duplicate");

    // 2. The worker function, fed by SQS as the event source mapping would. A round
    //    leaves nothing behind that the ledger does not hold; the sweeper (the scheduler
    //    function) re-enqueues what is due, until every item is done.
    let worker = WorkerDeps::new(m.store.clone(), ImportSettings::fast(), 4).unwrap();
    let scheduler = SchedulerDeps::new(store.clone(), "https://example.invalid".into(), Duration::from_secs(30)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (event, got) = receive_as_event(&m.store, 10).await;
        if !got.is_empty() {
            let response = worker.handle_batch(event).await;
            assert!(response.batch_item_failures.is_empty(), "no ledger write failed: {response:?}");
            for r in &got {
                m.store.ack(&r.receipt).await.unwrap();
            }
        }
        let mut done = 0;
        for id in &recordings {
            if m.store.get(CONNECTOR, id).await.unwrap().is_some_and(|i| i.stage == Stage::Done) {
                done += 1;
            }
        }
        if done == recordings.len() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{done}/{} recordings done after 90 s", recordings.len());
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Items wait up to their next attempt; the sweep enqueues them once due.
        scheduler.run(ScheduledEvent { task: Task::Sweep }).await.unwrap();
    }

    // 3. What WFO holds: every expected contact once, with its audio.
    let expected: Vec<String> = call
        .expected
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["externalId"].as_str().unwrap().to_owned())
        .collect();
    let contacts = wfo.contacts();
    let mine: Vec<_> = contacts.iter().filter(|c| recordings.iter().any(|r| c.contact.import.external_id.contains(r.as_str()))).collect();
    let mut got_ids: Vec<String> = mine.iter().map(|c| c.contact.import.external_id.clone()).collect();
    got_ids.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got_ids, want, "each expected contact exactly once");
    assert!(mine.iter().all(|c| c.contact.audio_uploaded), "every contact has its audio");
    assert_eq!(m.store.dead_letters(10).await.unwrap().len(), 0, "nothing was set aside");

    webex.shutdown().await;
    wfo.shutdown().await.unwrap();
}
