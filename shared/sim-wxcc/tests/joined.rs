//! The two halves joined as `WxccSim::start` serves them: the task plane's routes behind
//! the gateway (token, limit), its media links open, and a played scenario's
//! `capture:available` delivered, signed, to a subscription.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Receiver, client, sim, token};
use serde_json::{Value, json};
use wfo_sim_wxcc::{MEDIA_PATH_PREFIX, ScenarioAgent, ScenarioIds, gateway::OPEN_PATH_PREFIX};

#[tokio::test]
async fn a_played_call_is_searchable_behind_the_gateway_and_its_capture_is_delivered_signed() {
    assert_eq!(MEDIA_PATH_PREFIX, OPEN_PATH_PREFIX, "the media links pass the gateway");
    let sim = sim().await;
    let tasks = sim.tasks().expect("the simulator serves its task plane");
    let hook = Receiver::start(200).await;
    let t = token(&sim);
    let secret = "0123456789abcdef0123456789abcdef-secret";
    let resp = client()
        .post(format!("{}/v2/subscriptions", sim.base_url()))
        .bearer_auth(&t)
        .json(&json!({ "name": "wfo capture feed", "eventTypes": ["capture:available"], "destinationUrl": hook.url, "secret": secret, "resourceVersion": "capture:1.0.0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let agents = [ScenarioAgent {
        ci_user_id: "a1b2c3d4-0000-4000-8000-000000000001".into(),
        name: "Ada Agent".into(),
    }];
    let task = tasks
        .play(
            "basic-inbound",
            Utc::now() - chrono::Duration::minutes(30),
            &agents,
            &ScenarioIds::default(),
        )
        .unwrap();

    // Search without a token is refused by the gateway; with one it answers.
    let query = json!({ "query": format!("{{ taskDetails(from: {}, to: {}, filter: {{ id: {{ equals: \"{}\" }} }}) {{ tasks {{ id }} }} }}",
        (Utc::now() - chrono::Duration::hours(2)).timestamp_millis(), Utc::now().timestamp_millis(), task.id) });
    let anon = client()
        .post(format!("{}/search", sim.base_url()))
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 400, "no bearer: refused before the task plane");
    let found: Value = client()
        .post(format!("{}/search", sim.base_url()))
        .bearer_auth(&t)
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["data"]["taskDetails"]["tasks"][0]["id"],
        task.id.as_str(),
        "{found}"
    );

    // The capture becomes available at once (delay 0): delivered, signed with the secret.
    let got = hook.wait_for(1).await;
    assert!(!got.is_empty(), "capture:available delivered");
    let d = &got[0];
    let body: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(body["type"], "capture:available");
    assert_eq!(body["data"]["taskId"], task.id.as_str());
    let sig = d.headers.get("x-webexcc-signature").unwrap().to_str().unwrap();
    assert_eq!(sig, wfo_sim_wxcc::sign(secret, &d.body));

    // Its media link needs no token.
    let captures: Value = client()
        .post(format!("{}/v1/captures/query", sim.base_url()))
        .bearer_auth(&t)
        .json(&json!({ "query": { "taskIds": [task.id], "urlExpiration": 10 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = captures["data"][0]["recording"][0]["attributes"]["filePath"]
        .as_str()
        .unwrap_or_else(|| panic!("a recording with a link: {captures}"))
        .to_owned();
    let wav = client()
        .get(&link)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(wav.status(), 200);
    assert_eq!(&wav.bytes().await.unwrap()[..4], b"RIFF");
    hook.stop();
    sim.shutdown().await;
}
