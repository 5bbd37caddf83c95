//! People, Licenses, the recording roster and per-person recording settings.

use serde_json::Value;
use wfo_sim_webex::people::{BASIC_LICENSE, LICENSES_READ, PEOPLE_READ, PROFESSIONAL_LICENSE, TELEPHONY_CONFIG_READ};
use wfo_sim_webex::{Fault, SimLicense, SimPerson, SimRecording, SyntheticOrg};

use crate::common::{http, start, token};

const ADMIN: &[&str] = &[PEOPLE_READ, LICENSES_READ, TELEPHONY_CONFIG_READ];

async fn get(url: &str, token: &str) -> (u16, Option<String>, Value) {
    let resp = http().get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let link = resp
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(['<', '>']).nth(1))
        .map(str::to_owned);
    (status, link, resp.json().await.unwrap_or(Value::Null))
}

/// Every item of a listing, following `Link rel="next"`; also the number of pages.
async fn all_pages(first: String, token: &str, key: &str) -> (Vec<Value>, usize) {
    let (mut url, mut out, mut pages) = (Some(first), Vec::new(), 0);
    while let Some(u) = url {
        let (status, link, body) = get(&u, token).await;
        assert_eq!(status, 200, "{body}");
        out.extend(body[key].as_array().unwrap().iter().cloned());
        pages += 1;
        url = link;
    }
    (out, pages)
}

#[tokio::test]
async fn the_cast_of_users_json_is_listed_as_professional_users_with_base64_ids() {
    let sim = start().await;
    let t = token(&sim, ADMIN);
    let (people, pages) = all_pages(
        format!(
            "{}/v1/people?callingData=true&max=100&excludeStatus=true",
            sim.base_url()
        ),
        &t,
        "items",
    )
    .await;
    assert_eq!((people.len(), pages), (3, 1));
    let alice = people.iter().find(|p| p["firstName"] == "Alice").unwrap();
    assert!(
        alice["id"].as_str().unwrap().starts_with("Y2lzY29zcGFyazovL3Vz"),
        "base64 REST id"
    );
    assert_eq!(alice["emails"][0], "alice.agent@example.com");
    assert!(alice.get("status").is_none(), "excludeStatus=true");
    assert!(alice.get("extension").is_some(), "callingData=true");
    let (_, _, licenses) = get(&format!("{}/v1/licenses", sim.base_url()), &t).await;
    let pro = licenses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Webex Calling - Professional")
        .unwrap();
    assert_eq!(alice["licenses"][0], pro["id"]);
    assert_eq!(pro["consumedUnits"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_synthetic_org_of_100000_users_pages_by_100_in_id_order() {
    let sim = start().await;
    let ids = sim.generate_people(&SyntheticOrg {
        count: 100_000,
        seed: 9,
        ..SyntheticOrg::default()
    });
    assert_eq!(sim.people_count(), 100_003);
    let t = token(&sim, ADMIN);
    let (status, link, body) = get(&format!("{}/v1/people?callingData=true&max=100", sim.base_url()), &t).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 100);
    let (status, _, second) = get(&link.unwrap(), &t).await;
    assert_eq!(status, 200);
    let last_of_first = body["items"][99]["id"].as_str().unwrap().to_owned();
    let first_of_second = second["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(first_of_second != last_of_first);
    assert!(ids.len() == 100_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn max_above_100_with_calling_data_is_refused() {
    let sim = start().await;
    let t = token(&sim, ADMIN);
    let (status, _, body) = get(&format!("{}/v1/people?callingData=true&max=101", sim.base_url()), &t).await;
    assert_eq!(status, 400, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_route_needs_its_scope() {
    let sim = start().await;
    let t = token(&sim, &["spark:people_read"]);
    for path in [
        "/v1/people",
        "/v1/licenses",
        "/v1/telephony/config/callRecording/vendorUsers",
    ] {
        let (status, _, _) = get(&format!("{}{path}", sim.base_url()), &t).await;
        assert_eq!(status, 403, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_roster_lists_recording_enabled_people_by_2000_with_start() {
    let sim = start().await;
    sim.generate_people(&SyntheticOrg {
        count: 4_500,
        seed: 1,
        professional_share: 1.0,
        recorded_share: 1.0,
    });
    let some = sim.people()[10].id.clone();
    sim.update_person(&some, |p| p.recording = SimRecording::off()).unwrap();
    let t = token(&sim, ADMIN);
    let (members, pages) = all_pages(
        format!("{}/v1/telephony/config/callRecording/vendorUsers", sim.base_url()),
        &t,
        "members",
    )
    .await;
    assert_eq!((members.len(), pages), (4_502, 3), "4503 people, one not recorded");
    assert!(
        members
            .iter()
            .all(|m| m["type"] == "PEOPLE" && m["licenseType"] == "PROFESSIONAL_USER")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_person_recording_setting_is_read_by_rest_id_and_changes_are_seen() {
    let sim = start().await;
    let alice = SimPerson::recorded("11111111-2222-4333-8444-555555555555", "Al", "Ice", "al@x.example");
    sim.upsert_people([alice.clone()]);
    let t = token(&sim, ADMIN);
    let url = format!(
        "{}/v1/people/{}/features/callRecording",
        sim.base_url(),
        alice.rest_id()
    );
    let (status, _, body) = get(&url, &t).await;
    assert_eq!((status, body["record"].as_str()), (200, Some("Always")));
    sim.update_person(&alice.id, |p| p.recording.record = "Never".into())
        .unwrap();
    let (_, _, body) = get(&url, &t).await;
    assert_eq!(body["record"], "Never");
    assert!(sim.remove_person(&alice.id));
    let (status, _, _) = get(&url, &t).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_license_list_can_lose_professional_and_users_keep_their_keys() {
    let sim = start().await;
    sim.set_licenses(vec![SimLicense::new(BASIC_LICENSE, "Webex Calling - Basic", "S")]);
    let t = token(&sim, ADMIN);
    let (_, _, body) = get(&format!("{}/v1/licenses", sim.base_url()), &t).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert!(sim.people().iter().all(|p| p.licenses == [PROFESSIONAL_LICENSE]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_route_fault_hits_the_chosen_request_of_that_route_only_and_requests_are_counted() {
    let sim = start().await;
    sim.generate_people(&SyntheticOrg {
        count: 250,
        ..SyntheticOrg::default()
    });
    sim.push_route_fault("GET /v1/people", 2, 1, Fault::Status(503));
    let t = token(&sim, ADMIN);
    let mut url = Some(format!("{}/v1/people?callingData=true&max=100", sim.base_url()));
    let mut statuses = Vec::new();
    while let Some(u) = url.take() {
        let (status, link, _) = get(&u, &t).await;
        statuses.push(status);
        url = if status == 503 { Some(u) } else { link };
    }
    let (status, _, _) = get(&format!("{}/v1/licenses", sim.base_url()), &t).await;
    assert_eq!(status, 200, "other routes are not hit");
    assert_eq!(statuses, vec![200, 200, 503, 200]);
    let counts = sim.request_counts();
    assert_eq!(counts.get("GET /v1/people"), Some(&4));
    assert_eq!(counts.get("GET /v1/licenses"), Some(&1));
    sim.shutdown().await;
}

#[tokio::test]
async fn people_can_be_generated_and_removed_over_http() {
    let sim = start().await;
    let c = http();
    let r: Value = c
        .post(format!("{}/sim/people/generate", sim.base_url()))
        .json(&serde_json::json!({"count": 10, "seed": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["people"], 13);
    let id = sim.people()[0].id.clone();
    let r: Value = c
        .delete(format!("{}/sim/people/{id}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["removed"], true);
    assert_eq!(sim.people_count(), 12);
    sim.shutdown().await;
}
