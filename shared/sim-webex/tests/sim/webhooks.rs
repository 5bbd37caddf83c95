use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use wfo_sim_webex::{DeliveryOutcome, DeliveryPolicy, ScenarioInstance, WebexSim};

use crate::common::{Receiver, base_time, compliance_token, config, create_webhook, http, start, token};

fn hmac_sha1_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn delivery_is_signed_with_hmac_sha1_of_the_exact_body() {
    let sim = start().await;
    let receiver = Receiver::start().await;
    let t = compliance_token(&sim);
    let hook = create_webhook(&sim, &t, &receiver.url, "s3cret-key").await;
    assert_eq!(hook["status"], "active");
    assert_eq!(hook["ownedBy"], "org");

    let call = sim.instantiate("transfer-two-legs", base_time()).unwrap();
    sim.publish(&call).await;

    let hits = receiver.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2, "one event per recording");
    for (signature, body) in &hits {
        assert_eq!(signature.as_deref(), Some(hmac_sha1_hex("s3cret-key", body).as_str()));
        assert_ne!(signature.as_deref(), Some(hmac_sha1_hex("other", body).as_str()));
    }
    let bodies = receiver.bodies();
    let ids: HashSet<&str> = bodies.iter().map(|b| b["data"]["id"].as_str().unwrap()).collect();
    let published = call.recording_ids();
    assert_eq!(ids, published.iter().map(String::as_str).collect());
    for b in &bodies {
        assert_eq!(b["resource"], "convergedRecordings");
        assert_eq!(b["event"], "created");
        assert_eq!(b["id"], hook["id"]);
        assert_eq!(b["data"]["orgId"], sim.org_id().as_str());
        assert!(b["data"]["ownerId"].is_string() && b["data"]["callSessionId"].is_string());
    }
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.succeeded()));
    sim.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn delivery_policy_duplicates_drops_and_reorders_a_held_batch() {
    let sim = start().await;
    let receiver = Receiver::start().await;
    let t = compliance_token(&sim);
    create_webhook(&sim, &t, &receiver.url, "k").await;
    sim.set_delivery_policy(DeliveryPolicy {
        duplicate_share: 0.3,
        drop_share: 0.2,
        reorder: true,
        ..DeliveryPolicy::default()
    });

    sim.hold_deliveries();
    let calls: Vec<ScenarioInstance> = (0..30)
        .map(|_| sim.instantiate("basic-pause", base_time()).unwrap())
        .collect();
    for call in &calls {
        sim.publish(call).await;
    }
    assert!(receiver.hits.lock().unwrap().is_empty(), "held until released");
    assert_eq!(sim.state().held_events, 30);
    sim.release_deliveries().await;

    let published: Vec<String> = calls.iter().flat_map(|c| c.recording_ids()).collect();
    let deliveries = sim.deliveries();
    let dropped: HashSet<&str> = deliveries
        .iter()
        .filter(|d| d.outcome == DeliveryOutcome::Dropped)
        .map(|d| d.recording_id.as_str())
        .collect();
    let duplicates = deliveries.iter().filter(|d| d.duplicate).count();
    assert!(!dropped.is_empty(), "some drops");
    assert!(duplicates > 0, "some duplicates");

    let received: Vec<String> = receiver
        .bodies()
        .iter()
        .map(|b| b["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received.len(), 30 - dropped.len() + duplicates);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &received {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    for id in &published {
        let expected = if dropped.contains(id.as_str()) { 0 } else { 1 };
        assert!(counts.get(id.as_str()).copied().unwrap_or(0) >= expected, "{id}");
        assert!(!(dropped.contains(id.as_str()) && counts.contains_key(id.as_str())));
    }
    assert_eq!(counts.values().filter(|n| **n == 2).count(), duplicates);
    let in_order: Vec<&String> = published.iter().filter(|id| !dropped.contains(id.as_str())).collect();
    let mut first_seen: Vec<&String> = Vec::new();
    for id in &received {
        if !first_seen.contains(&id) {
            first_seen.push(id);
        }
    }
    assert_ne!(first_seen, in_order, "the batch is shuffled");
    sim.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn webhook_turns_inactive_after_consecutive_failures_and_put_reactivates() {
    let mut cfg = config();
    cfg.webhook_failure_threshold = 3;
    let sim = WebexSim::start(cfg).await.unwrap();
    let receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    let t = compliance_token(&sim);
    let hook = create_webhook(&sim, &t, &receiver.url, "k").await;
    let hook_url = format!("{}/v1/webhooks/{}", sim.base_url(), hook["id"].as_str().unwrap());

    for _ in 0..4 {
        let call = sim.instantiate("basic-pause", base_time()).unwrap();
        sim.publish(&call).await;
    }
    assert_eq!(receiver.hits.lock().unwrap().len(), 3, "nothing is sent once inactive");
    let statuses: Vec<DeliveryOutcome> = sim.deliveries().into_iter().map(|d| d.outcome).collect();
    assert_eq!(statuses, vec![DeliveryOutcome::Response { status: 500 }; 3]);
    let shown: Value = http()
        .get(&hook_url)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "inactive");

    let put = |status: &'static str| {
        http().put(&hook_url).bearer_auth(&t).json(&json!({
            "name": "wfo-connect", "targetUrl": receiver.url, "status": status
        }))
    };
    assert_eq!(
        put("inactive").send().await.unwrap().status(),
        400,
        "PUT cannot deactivate"
    );
    let resp = put("active").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "active");

    receiver.status.store(204, Ordering::SeqCst);
    let call = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&call).await;
    assert_eq!(receiver.hits.lock().unwrap().len(), 4);
    assert!(sim.deliveries().last().unwrap().succeeded());

    let list: Value = http()
        .get(format!("{}/v1/webhooks", sim.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        http().delete(&hook_url).bearer_auth(&t).send().await.unwrap().status(),
        204
    );
    assert_eq!(
        http().get(&hook_url).bearer_auth(&t).send().await.unwrap().status(),
        404
    );
    sim.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn unreachable_target_counts_as_failure() {
    let mut cfg = config();
    cfg.webhook_failure_threshold = 2;
    let sim = WebexSim::start(cfg).await.unwrap();
    let t = compliance_token(&sim);
    // Port 9 (discard) on loopback: nothing listens there.
    let hook = create_webhook(&sim, &t, "http://127.0.0.1:9/hook", "k").await;
    for _ in 0..2 {
        sim.publish(&sim.instantiate("basic-pause", base_time()).unwrap()).await;
    }
    let deliveries = sim.deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| matches!(d.outcome, DeliveryOutcome::ConnectionError { .. }))
    );
    let state = sim.webhooks();
    assert_eq!(state[0].webhook.id, hook["id"].as_str().unwrap());
    assert_eq!(state[0].webhook.status, "inactive");
    assert_eq!(state[0].consecutive_failures, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn webhook_validation_and_scope_of_creator_webhooks() {
    let sim = start().await;
    let receiver = Receiver::start().await;
    let t = compliance_token(&sim);
    let create = |body: Value| {
        http()
            .post(format!("{}/v1/webhooks", sim.base_url()))
            .bearer_auth(&t)
            .json(&body)
    };
    let base = json!({"name": "n", "targetUrl": receiver.url, "resource": "convergedRecordings", "event": "created"});

    let mut owner_filter = base.clone();
    owner_filter["filter"] = json!("ownerEmail=alice.agent@example.com");
    assert_eq!(
        create(owner_filter.clone()).send().await.unwrap().status(),
        400,
        "owner filter needs ownedBy org"
    );
    for (k, v) in [("targetUrl", "not a url"), ("resource", "nope"), ("event", "exploded")] {
        let mut bad = base.clone();
        bad[k] = json!(v);
        assert_eq!(create(bad).send().await.unwrap().status(), 400, "{k}");
    }
    let user_token = token(&sim, &["spark:recordings_read"]);
    let mut org = base.clone();
    org["ownedBy"] = json!("org");
    let resp = http()
        .post(format!("{}/v1/webhooks", sim.base_url()))
        .bearer_auth(&user_token)
        .json(&org)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "org webhooks need admin/compliance scope");

    // A creator webhook only hears about the creator's own recordings (none here);
    // an org webhook filtered on one owner hears only about that owner.
    assert_eq!(create(base.clone()).send().await.unwrap().status(), 200);
    owner_filter["ownedBy"] = json!("org");
    owner_filter["filter"] = json!("ownerEmail=bob.backoffice@example.com");
    assert_eq!(create(owner_filter).send().await.unwrap().status(), 200);
    let call = sim.instantiate("transfer-two-legs", base_time()).unwrap();
    sim.publish(&call).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["data"]["ownerEmail"], "bob.backoffice@example.com");
    assert_eq!(bodies[0]["filter"], "ownerEmail=bob.backoffice@example.com");
    sim.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn delivery_policy_can_send_a_delivery_three_times() {
    let sim = start().await;
    let receiver = Receiver::start().await;
    let t = compliance_token(&sim);
    create_webhook(&sim, &t, &receiver.url, "k").await;
    sim.set_delivery_policy(DeliveryPolicy {
        duplicate_share: 1.0,
        triple_share: 1.0,
        ..DeliveryPolicy::default()
    });
    let call = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&call).await;
    let ids = call.recording_ids();
    let received: Vec<String> = receiver
        .bodies()
        .iter()
        .map(|b| b["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received.len(), 3 * ids.len(), "{received:?}");
    for id in &ids {
        assert_eq!(received.iter().filter(|r| *r == id).count(), 3, "{id}");
    }
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.iter().filter(|d| d.duplicate).count(), 2 * ids.len());
    assert!(!deliveries[0].duplicate, "the first copy is the original");
    sim.shutdown().await;
    receiver.shutdown().await;
}
