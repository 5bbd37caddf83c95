use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde_json::Value;
use wfo_sim_webex::{ADMIN_READ, Fault, FaultConfig, ScenarioInstance, WebexSim};

use crate::common::{base_time, compliance_token, config, http, start, token};

fn next_link(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().ok()?;
    let start = link.find('<')? + 1;
    let end = link.find('>')?;
    assert!(link[end..].contains("rel=\"next\""), "{link}");
    Some(link[start..end].to_owned())
}

fn list_url(base: &str, query: &str) -> String {
    format!("{base}/v1/admin/convergedRecordings?{query}")
}

#[tokio::test]
async fn pagination_over_250_recordings_with_shared_create_times_returns_each_once() {
    let sim = start().await;
    let t = compliance_token(&sim);
    // 250 calls on 5 distinct start times: 50 recordings share each createTime.
    let instances: Vec<ScenarioInstance> = (0..250)
        .map(|i| {
            sim.instantiate("basic-pause", base_time() + ChronoDuration::minutes(i % 5))
                .unwrap()
        })
        .collect();
    sim.publish_all(&instances).await;
    let published: HashSet<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    assert_eq!(published.len(), 250);

    let from = (base_time() - ChronoDuration::days(1)).to_rfc3339();
    let to = (base_time() + ChronoDuration::days(1)).to_rfc3339();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &from)
        .append_pair("to", &to)
        .append_pair("max", "100")
        .finish();
    let mut url = Some(list_url(sim.base_url(), &query));
    let (mut seen, mut pages, mut last_create) = (Vec::new(), 0, None::<String>);
    while let Some(u) = url {
        let resp = http().get(&u).bearer_auth(&t).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        url = next_link(&resp);
        let body: Value = resp.json().await.unwrap();
        for item in body["items"].as_array().unwrap() {
            let ct = item["createTime"].as_str().unwrap().to_owned();
            if let Some(prev) = &last_create {
                assert!(ct <= *prev, "newest first");
            }
            last_create = Some(ct);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        if pages == 1 {
            // Newer recordings arriving mid-sweep do not shift the remaining pages.
            let late: Vec<ScenarioInstance> = (0..7)
                .map(|_| {
                    sim.instantiate("basic-pause", base_time() + ChronoDuration::minutes(10))
                        .unwrap()
                })
                .collect();
            sim.publish_all(&late).await;
        }
    }
    assert_eq!(pages, 3);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 250, "no duplicates");
    assert_eq!(unique, published, "every published id exactly once");
    sim.shutdown().await;
}

#[tokio::test]
async fn list_enforces_window_and_max_with_webex_errors() {
    let sim = start().await;
    let t = token(&sim, &[ADMIN_READ]);
    let base = sim.base_url().to_owned();
    for query in [
        "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z",
        "max=0",
        "max=101",
        "max=ten",
        "from=yesterday",
        "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let resp = http().get(list_url(&base, query)).bearer_auth(&t).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let tracking = resp.headers()["trackingid"].to_str().unwrap().to_owned();
        let body: Value = resp.json().await.unwrap();
        assert!(body["message"].is_string() && body["errors"][0]["description"].is_string());
        assert_eq!(body["trackingId"], tracking.as_str());
    }
    let ok = http()
        .get(list_url(
            &base,
            "from=2026-01-01T00:00:00Z&to=2026-01-31T00:00:00Z&max=100",
        ))
        .bearer_auth(&t)
        .header("TrackingID", "SIMPLE_test-123")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["trackingid"], "SIMPLE_test-123");

    let user_only = token(&sim, &["spark:recordings_read"]);
    let resp = http()
        .get(list_url(&base, ""))
        .bearer_auth(&user_only)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http().get(list_url(&base, "")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn details_links_need_compliance_scope_serve_the_mp3_and_expire() {
    let sim = start().await;
    let call = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&call).await;
    let id = call.recording_ids()[0].clone();
    let details_url = format!("{}/v1/convergedRecordings/{id}", sim.base_url());

    let admin: Value = http()
        .get(&details_url)
        .bearer_auth(token(&sim, &[ADMIN_READ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin["id"], id.as_str());
    assert!(
        admin.get("temporaryDirectDownloadLinks").is_none(),
        "admin tokens get no links"
    );

    let co = compliance_token(&sim);
    let details: Value = http()
        .get(&details_url)
        .bearer_auth(&co)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let links = &details["temporaryDirectDownloadLinks"];
    let link = links["audioDownloadLink"].as_str().unwrap().to_owned();
    let expiration = chrono::DateTime::parse_from_rfc3339(links["expiration"].as_str().unwrap()).unwrap();
    let lifetime = expiration.with_timezone(&chrono::Utc) - sim.now();
    assert!(
        (ChronoDuration::minutes(179)..=ChronoDuration::minutes(180)).contains(&lifetime),
        "{lifetime}"
    );

    let audio = http().get(&link).send().await.unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/mpeg");
    let size = details["sizeBytes"].as_u64().unwrap();
    assert_eq!(audio.headers()["content-length"].to_str().unwrap(), size.to_string());
    assert_eq!(audio.bytes().await.unwrap().len() as u64, size);

    // Tampered ticket, the "link expired" toggle, then real expiry.
    let tampered = link.replace("ticket=", "ticket=x");
    assert_eq!(http().get(&tampered).send().await.unwrap().status(), 403);
    sim.set_link_expired(true);
    assert_eq!(http().get(&link).send().await.unwrap().status(), 403);
    sim.set_link_expired(false);
    assert_eq!(http().get(&link).send().await.unwrap().status(), 200);
    sim.advance_clock(Duration::from_secs(3 * 3600 + 1));
    assert_eq!(http().get(&link).send().await.unwrap().status(), 403);

    // A fresh details call gives a fresh, working link.
    let again: Value = http()
        .get(&details_url)
        .bearer_auth(&co)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = again["temporaryDirectDownloadLinks"]["audioDownloadLink"]
        .as_str()
        .unwrap();
    assert_eq!(http().get(fresh).send().await.unwrap().status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn metadata_hides_detail_without_show_all_types_and_answers_204_until_ready() {
    let sim = start().await;
    let call = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&call).await;
    let id = call.recording_ids()[0].clone();
    let t = compliance_token(&sim);
    let url = format!("{}/v1/convergedRecordings/{id}/metadata", sim.base_url());

    let plain: Value = http()
        .get(&url)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all: Value = http()
        .get(format!("{url}?showAllTypes=true"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all, call.recordings[0].metadata);
    for activity in plain["serviceData"]["callActivity"].as_array().unwrap() {
        for hidden in ["mediaStreams", "participants", "redirectInfo", "redirectedCall"] {
            assert!(activity.get(hidden).is_none(), "{hidden} must be hidden");
        }
        assert!(activity["timeStamp"].is_string());
    }
    let first = &all["serviceData"]["callActivity"][0];
    assert!(first["participants"].is_array() && first["mediaStreams"].is_array());
    assert!(all["serviceData"]["callActivity"][1]["redirectInfo"].is_object());
    assert_eq!(
        plain["serviceData"]["callActivity"][0]["announcementData"],
        first["announcementData"]
    );

    sim.set_metadata_ready(&id, false).unwrap();
    let resp = http().get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    sim.set_metadata_ready(&id, true).unwrap();
    assert_eq!(http().get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);

    sim.set_metadata_delay(Duration::from_secs(120));
    let later = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&later).await;
    let later_url = format!(
        "{}/v1/convergedRecordings/{}/metadata",
        sim.base_url(),
        later.recording_ids()[0]
    );
    assert_eq!(
        http().get(&later_url).bearer_auth(&t).send().await.unwrap().status(),
        204
    );
    sim.advance_clock(Duration::from_secs(121));
    assert_eq!(
        http().get(&later_url).bearer_auth(&t).send().await.unwrap().status(),
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn recordings_published_for_later_stay_invisible_until_then() {
    let sim = start().await;
    let t = compliance_token(&sim);
    let call = sim.instantiate("transfer-two-legs", base_time()).unwrap();
    sim.publish_at(&call, sim.now() + ChronoDuration::minutes(10));
    let url = format!("{}/v1/convergedRecordings/{}", sim.base_url(), call.recording_ids()[0]);
    assert_eq!(http().get(&url).bearer_auth(&t).send().await.unwrap().status(), 404);
    let list = list_url(sim.base_url(), "from=2026-05-01T00:00:00Z&to=2026-05-10T00:00:00Z");
    let body: Value = http()
        .get(&list)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0);

    sim.advance_clock(Duration::from_secs(601));
    assert_eq!(http().get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);
    let body: Value = http()
        .get(&list)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

async fn statuses(sim: &wfo_sim_webex::RunningWebexSim, token: &str, n: usize) -> Vec<u16> {
    let (client, mut out) = (http(), Vec::new());
    for _ in 0..n {
        let resp = client
            .get(format!("{}/v1/webhooks", sim.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if matches!(resp.status().as_u16(), 429 | 423) {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        out.push(resp.status().as_u16());
    }
    out
}

#[tokio::test]
async fn faults_are_forced_in_order_then_drawn_deterministically_from_the_seed() {
    let faults = FaultConfig {
        seed: 7,
        rate_limited: 0.2,
        locked: 0.1,
        server_error: 0.2,
        retry_after_secs: 2,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = WebexSim::start(config()).await.unwrap();
        let t = compliance_token(&sim);
        sim.set_faults(faults.clone());
        sim.push_faults([
            Fault::Status(429),
            Fault::Status(503),
            Fault::Slow(Duration::from_millis(50)),
        ]);
        let got = statuses(&sim, &t, 40).await;
        assert_eq!(&got[..3], &[429, 503, 200]);
        // Every failure answer is counted by status; the forced slow one as slow.
        let injected = sim.injected_faults();
        for code in [423, 429, 500, 502, 503, 504] {
            let answered = got.iter().filter(|c| **c == code).count() as u64;
            assert_eq!(injected.by_status.get(&code).copied().unwrap_or(0), answered, "{code}");
        }
        assert_eq!(injected.failed(), got.iter().filter(|c| **c != 200).count() as u64);
        assert_eq!(injected.slow, 1);
        assert_eq!(injected.stalled_downloads, 0);
        runs.push(got);
        sim.shutdown().await;
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    let drawn = &runs[0][3..];
    for code in [200, 429, 423] {
        assert!(drawn.contains(&code), "{code} in {drawn:?}");
    }
    assert!(drawn.iter().any(|c| [500, 502, 503, 504].contains(c)), "{drawn:?}");
}

#[tokio::test]
async fn http_control_plays_a_scenario_and_shows_state() {
    let sim = start().await;
    let client = http();
    let played: Value = client
        .post(format!("{}/sim/play", sim.base_url()))
        .json(&serde_json::json!({"scenario": "transfer-two-legs", "baseTime": "2026-05-04T09:00:00Z"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = played["recordingIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(played["expected"].as_array().unwrap().len(), 2);

    let state: Value = client
        .get(format!("{}/sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: HashSet<&str> = state["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().copied().collect());

    let bad = client
        .post(format!("{}/sim/play", sim.base_url()))
        .json(&serde_json::json!({"scenario": "nope"}));
    assert_eq!(bad.send().await.unwrap().status(), 400);
    let revoked: Value = client
        .post(format!(
            "{}/sim/integrations/{}/revoke",
            sim.base_url(),
            wfo_sim_webex::DEFAULT_CLIENT_ID
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn stalled_downloads_send_half_the_audio_and_are_counted() {
    let sim = start().await;
    let call = sim.instantiate("basic-pause", base_time()).unwrap();
    sim.publish(&call).await;
    let id = call.recording_ids()[0].clone();
    let details: Value = http()
        .get(format!("{}/v1/convergedRecordings/{id}", sim.base_url()))
        .bearer_auth(compliance_token(&sim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = details["temporaryDirectDownloadLinks"]["audioDownloadLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let full = sim.audio(&id).unwrap();
    sim.stall_downloads(1);
    let mut stalled = http().get(&link).send().await.unwrap();
    assert_eq!(stalled.status(), 200);
    let mut got = 0usize;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(300), stalled.chunk()).await {
        got += chunk.len();
    }
    assert_eq!(got, full.len() / 2, "half the file, then nothing");
    assert_eq!(sim.stalls_left(), 0);
    assert_eq!(sim.injected_faults().stalled_downloads, 1);
    assert_eq!(sim.injected_faults().total(), 1);
    let whole = http().get(&link).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(whole, full, "the next download is whole");
    assert_eq!(sim.injected_faults().stalled_downloads, 1);
    drop(stalled);
    sim.shutdown().await;
}
