//! Subscriptions and deliveries over HTTP: validation, CRUD, signed envelopes checked
//! with an independent HMAC, the delivery policy, deactivation after failures, events
//! from a broadcast channel, hand-made test deliveries.

mod common;

use chrono::Utc;
use common::{Receiver, client, sim, token};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use wfo_sim_wxcc::{
    CONFIG_READ, DEFAULT_CLIENT_ID, DeliveryOutcome, DeliveryPolicy, RunningWxccSim, TaskEvent, TaskEventKind,
    TestDelivery, TestSignature, WxccSim, WxccSimConfig,
};

const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";

async fn post_subscription(sim: &RunningWxccSim, token: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v2/subscriptions", sim.base_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request")
}

fn capture_subscription(url: &str) -> Value {
    json!({
        "name": "wfo capture feed",
        "eventTypes": ["capture:available"],
        "destinationUrl": url,
        "secret": SECRET,
        "resourceVersion": "capture:1.0.0",
    })
}

/// Creates a capture subscription to `url`; returns its id.
async fn subscribe(sim: &RunningWxccSim, url: &str) -> String {
    let resp = post_subscription(sim, &token(sim), &capture_subscription(url)).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body["data"]["id"].as_str().expect("id").to_owned()
}

fn capture_event(task: &str) -> TaskEvent {
    TaskEvent {
        kind: TaskEventKind::CaptureAvailable,
        task_id: task.to_owned(),
        at: Utc::now(),
        data: json!({ "taskId": task, "filePath": format!("/captures/{task}.wav"), "createdTime": 1_697_211_690_000_i64 }),
    }
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn invalid_subscriptions_are_refused_with_400() {
    let sim = sim().await;
    let t = token(&sim);
    let good = capture_subscription("https://hooks.example.com/wxcc");
    let cases: Vec<(&str, Value)> = vec![
        ("short name", json!({ "name": "abc" })),
        ("long name", json!({ "name": "n".repeat(65) })),
        ("no event types", json!({ "eventTypes": [] })),
        ("unknown event type", json!({ "eventTypes": ["capture:gone"] })),
        (
            "two resources",
            json!({ "eventTypes": ["capture:available", "task:ended"] }),
        ),
        ("http", json!({ "destinationUrl": "http://hooks.example.com/wxcc" })),
        (
            "query",
            json!({ "destinationUrl": "https://hooks.example.com/wxcc?x=1" }),
        ),
        (
            "fragment",
            json!({ "destinationUrl": "https://hooks.example.com/wxcc#f" }),
        ),
        (
            "userinfo",
            json!({ "destinationUrl": "https://u:p@hooks.example.com/wxcc" }),
        ),
        ("short secret", json!({ "secret": "too-short" })),
        ("long secret", json!({ "secret": "s".repeat(257) })),
        ("no resource version", json!({ "resourceVersion": null })),
        (
            "unknown resource version",
            json!({ "resourceVersion": "capture:9.9.9" }),
        ),
    ];
    for (case, patch) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let resp = post_subscription(&sim, &t, &body).await;
        assert_eq!(resp.status(), 400, "{case}");
        let err: Value = resp.json().await.expect("json");
        assert_eq!(err["error"]["key"], "400", "{case}");
    }
    assert!(sim.subscriptions().is_empty());

    let reader = sim
        .issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
        .expect("tokens")
        .access_token;
    assert_eq!(
        post_subscription(&sim, &reader, &good).await.status(),
        403,
        "write scope needed"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_subscription_is_created_listed_patched_and_deleted() {
    let sim = sim().await;
    let t = token(&sim);
    let resp = post_subscription(&sim, &t, &capture_subscription("https://hooks.example.com/wxcc")).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    assert_eq!(created["meta"]["orgId"], sim.org_id());
    let data = &created["data"];
    for key in [
        "id",
        "name",
        "eventTypes",
        "destinationUrl",
        "createdTime",
        "createdBy",
        "status",
        "lastUpdatedTime",
        "lastUpdatedBy",
    ] {
        assert!(data.get(key).is_some(), "lacks {key}");
    }
    assert_eq!(data["status"], "active");
    assert!(data.get("secret").is_none(), "the secret is never shown");
    let id = data["id"].as_str().expect("id");
    let one = format!("{}/v2/subscriptions/{id}", sim.base_url());

    let list: Value = client()
        .get(format!("{}/v2/subscriptions", sim.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["meta"]["subscriptionCount"], 1);

    let patched: Value = client()
        .patch(&one)
        .bearer_auth(&t)
        .json(&json!({ "status": "inactive" }))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["data"]["status"], "inactive");
    let bad = client()
        .patch(&one)
        .bearer_auth(&t)
        .json(&json!({ "status": "paused" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), 400);

    let deleted = client().delete(&one).bearer_auth(&t).send().await.expect("delete");
    assert_eq!(deleted.status(), 204);
    let gone = client().get(&one).bearer_auth(&t).send().await.expect("get");
    assert_eq!(gone.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delivery_carries_the_envelope_and_a_signature_that_verifies() {
    let sim = sim().await;
    let receiver = Receiver::start(200).await;
    let id = subscribe(&sim, &receiver.url).await;
    // A task:ended event does not go to a capture subscription.
    sim.deliver(TaskEvent {
        kind: TaskEventKind::TaskEnded,
        ..capture_event("t-0")
    })
    .await;
    sim.deliver(capture_event("t-1")).await;

    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let d = &got[0];
    let signature = d.headers["x-webexcc-signature"].to_str().expect("str");
    assert_eq!(signature, hmac_hex(SECRET, &d.body));
    let body: Value = serde_json::from_slice(&d.body).expect("json");
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["type"], "capture:available");
    assert_eq!(body["source"], format!("/com/cisco/wxcc/{id}"));
    assert_eq!(body["comciscoorgid"], sim.org_id());
    assert_eq!(body["datacontenttype"], "application/json");
    assert_eq!(body["data"]["taskId"], "t-1");
    assert_eq!(
        d.headers["x-webexcc-timestamp"].to_str().expect("str"),
        body["comciscotimestamp"].as_str().expect("timestamp")
    );
    assert_eq!(d.headers["x-webexcc-webhook-version"], "capture:1.0.0");

    let log = sim.deliveries();
    assert_eq!(log.len(), 1);
    assert!(log[0].succeeded());
    assert_eq!(log[0].task_id, "t-1");
    receiver.stop();
    sim.shutdown().await;
}

#[tokio::test]
async fn consecutive_failures_turn_a_subscription_inactive_until_patched_active() {
    let sim = sim().await;
    sim.set_subscription_failure_threshold(3);
    let receiver = Receiver::start(500).await;
    let id = subscribe(&sim, &receiver.url).await;
    for i in 0..4 {
        sim.deliver(capture_event(&format!("t-{i}"))).await;
    }
    assert_eq!(receiver.received().len(), 3, "nothing goes to an inactive subscription");
    let entry = &sim.subscriptions()[0];
    assert_eq!(entry.subscription.status, "inactive");
    assert!(
        sim.deliveries()
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Response { status: 500 })
    );

    receiver.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let resp = client()
        .patch(format!("{}/v2/subscriptions/{id}", sim.base_url()))
        .bearer_auth(token(&sim))
        .json(&json!({ "status": "active" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 200);
    sim.deliver(capture_event("t-9")).await;
    assert_eq!(receiver.received().len(), 4);
    assert_eq!(sim.subscriptions()[0].consecutive_failures, 0);
    receiver.stop();
    sim.shutdown().await;
}

#[tokio::test]
async fn events_from_a_broadcast_channel_are_delivered() {
    let (tx, rx) = broadcast::channel(16);
    let sim = WxccSim::start(WxccSimConfig {
        events: Some(rx),
        ..WxccSimConfig::default()
    })
    .await
    .expect("sim");
    let receiver = Receiver::start(200).await;
    subscribe(&sim, &receiver.url).await;
    tx.send(capture_event("t-a")).expect("send");
    tx.send(capture_event("t-b")).expect("send");
    let got = receiver.wait_for(2).await;
    let tasks: Vec<String> = got
        .iter()
        .map(|d| serde_json::from_slice::<Value>(&d.body).expect("json")["data"]["taskId"].to_string())
        .collect();
    assert_eq!(tasks, vec!["\"t-a\"", "\"t-b\""]);
    receiver.stop();
    sim.shutdown().await;
}

#[tokio::test]
async fn the_policy_duplicates_drops_and_holds_deliveries() {
    let sim = sim().await;
    let receiver = Receiver::start(200).await;
    subscribe(&sim, &receiver.url).await;

    sim.set_delivery_policy(DeliveryPolicy {
        duplicate_share: 1.0,
        ..DeliveryPolicy::default()
    });
    sim.deliver(capture_event("t-dup")).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "a duplicate repeats the same bytes");

    sim.set_delivery_policy(DeliveryPolicy {
        drop_share: 1.0,
        ..DeliveryPolicy::default()
    });
    sim.deliver(capture_event("t-drop")).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(
        sim.deliveries().last().map(|d| d.outcome.clone()),
        Some(DeliveryOutcome::Dropped)
    );

    sim.set_delivery_policy(DeliveryPolicy {
        reorder: true,
        ..DeliveryPolicy::default()
    });
    sim.hold_deliveries();
    for i in 0..6 {
        sim.deliver(capture_event(&format!("held-{i}"))).await;
    }
    assert_eq!(receiver.received().len(), 2, "held back");
    sim.release_deliveries().await;
    let got = receiver.wait_for(8).await;
    let mut held: Vec<String> = got[2..]
        .iter()
        .map(|d| serde_json::from_slice::<Value>(&d.body).expect("json")["data"]["taskId"].to_string())
        .collect();
    held.sort();
    assert_eq!(held.len(), 6);
    held.dedup();
    assert_eq!(held.len(), 6, "each held event exactly once");
    receiver.stop();
    sim.shutdown().await;
}

#[tokio::test]
async fn test_deliveries_can_be_signed_unsigned_wrongly_signed_or_stale() {
    let sim = sim().await;
    let receiver = Receiver::start(200).await;
    let body = sim.envelope_for("sub-1", &capture_event("t-x"));
    let stale = Utc::now().timestamp_millis() - 10 * 60 * 1000;
    let cases = [
        TestSignature::Valid { secret: SECRET.into() },
        TestSignature::Wrong,
        TestSignature::None,
    ];
    for signature in cases {
        let status = sim
            .send_test_delivery(
                &receiver.url,
                TestDelivery {
                    body: body.clone(),
                    signature,
                    timestamp_ms: Some(stale),
                    webhook_version: Some("capture:1.0.0".into()),
                },
            )
            .await
            .expect("sent");
        assert_eq!(status, 200);
    }
    let got = receiver.wait_for(3).await;
    assert_eq!(
        got[0].headers["x-webexcc-signature"].to_str().expect("str"),
        hmac_hex(SECRET, body.as_bytes())
    );
    assert_ne!(
        got[1].headers["x-webexcc-signature"].to_str().expect("str"),
        hmac_hex(SECRET, body.as_bytes())
    );
    assert!(!got[2].headers.contains_key("x-webexcc-signature"));
    assert_eq!(got[0].headers["x-webexcc-timestamp"], stale.to_string().as_str());
    assert!(sim.deliveries().is_empty(), "test deliveries are not logged");

    let closed = sim
        .send_test_delivery(
            "http://127.0.0.1:9/nothing",
            TestDelivery {
                body,
                signature: TestSignature::None,
                timestamp_ms: None,
                webhook_version: None,
            },
        )
        .await;
    assert!(closed.is_err());
    receiver.stop();
    sim.shutdown().await;
}
