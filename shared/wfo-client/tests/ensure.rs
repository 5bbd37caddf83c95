//! The idempotent helpers against a wiremock server: lookup before create.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{Value, json};
use wfo_client::{NewAgent, WfoError, ensure_agent_person, ensure_contact, find_person_by_acd, put_metadata};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EXTERNAL_ID: &str = "wxc:rec-1:0";

async fn mount_lookup(server: &MockServer, answer: Value, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path(CONTACTS))
        .and(query_param("externalId", EXTERNAL_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer));
    let mock = match times {
        Some(n) => mock.up_to_n_times(n).expect(n).with_priority(1),
        None => mock,
    };
    mock.mount(server).await;
}

#[tokio::test]
async fn ensure_contact_when_the_external_id_exists_imports_nothing() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(&server, json!([contact(31, EXTERNAL_ID)]), Some(1)).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap(), 31);
}

#[tokio::test]
async fn ensure_contact_when_absent_imports_once() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(&server, json!([]), Some(1)).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contactId": 32})))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap(), 32);
}

#[tokio::test]
async fn ensure_contact_after_a_504_on_import_finds_it_by_lookup_and_posts_exactly_once() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(&server, json!([]), Some(1)).await;
    mount_lookup(&server, json!([contact(33, EXTERNAL_ID)]), None).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(504, "Gateway timeout"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap(), 33);
}

#[tokio::test]
async fn ensure_contact_after_a_500_with_nothing_found_imports_again() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(&server, json!([]), Some(2)).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(500, "Internal error"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"contactId": 34})))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap(), 34);
}

#[tokio::test]
async fn ensure_contact_with_duplicates_in_wfo_picks_the_lowest_id() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(
        &server,
        json!([contact(52, EXTERNAL_ID), contact(51, EXTERNAL_ID)]),
        Some(1),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap(), 51);
}

#[tokio::test]
async fn ensure_contact_for_an_unknown_agent_returns_unknown_agent_after_one_post() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_lookup(&server, json!([]), None).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(422, &wfo_client::messages::unknown_agent_message(3, "agent-7")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = ensure_contact(&api, &import(EXTERNAL_ID)).await.unwrap_err();

    assert!(
        matches!(err, WfoError::UnknownAgent { acd_server_id: 3, .. }),
        "{err:?}"
    );
}

fn agent() -> NewAgent {
    NewAgent {
        acd_id: "agent-7".into(),
        acd_server_id: 3,
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        email: Some("grace@example.com".into()),
    }
}

async fn mount_directory(server: &MockServer, persons: Value) {
    Mock::given(method("GET"))
        .and(path(PERSONS))
        .respond_with(ResponseTemplate::new(200).set_body_json(persons))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([team(4, "Sales", false), team(9, "Default Team", true)])),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ROLES))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([role(1, "Supervisor", false), role(6, "Agent", true)])),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn ensure_agent_person_creates_the_person_in_the_default_team_with_the_default_agent_role() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_directory(&server, json!([person(1, 3, "someone-else"), person(2, 4, "agent-7")])).await;
    Mock::given(method("POST"))
        .and(path(PERSON))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 77})))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let created = ensure_agent_person(&api, &agent()).await.unwrap();

    assert_eq!(created.id, 77);
    let posted = server.received_requests().await.unwrap();
    let post = posted
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == PERSON)
        .unwrap();
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["groupId"], 9);
    assert_eq!(body["roles"], json!([{"id": 6, "name": "Agent"}]));
    assert_eq!(body["displayName"], "Grace Hopper");
    assert_eq!(body["acdId"], "agent-7");
    assert_eq!(body["acdServerId"], 3);
    assert!(body["activated"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(body["deactivated"], Value::Null);
    assert!(body.get("id").is_none());
}

#[tokio::test]
async fn ensure_agent_person_returns_the_existing_person_without_creating() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_directory(&server, json!([person(5, 3, "agent-7")])).await;
    Mock::given(method("POST"))
        .and(path(PERSON))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_agent_person(&api, &agent()).await.unwrap().id, 5);
}

#[tokio::test]
async fn ensure_agent_person_after_a_timeout_finds_the_created_person_and_posts_once() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(PERSONS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_directory(&server, json!([person(8, 3, "agent-7")])).await;
    Mock::given(method("POST"))
        .and(path(PERSON))
        .respond_with(error(502, "Bad gateway"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    assert_eq!(ensure_agent_person(&api, &agent()).await.unwrap().id, 8);
}

#[tokio::test]
async fn ensure_agent_person_without_a_default_team_fails_without_creating() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([team(4, "Sales", false)])))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_directory(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path(PERSON))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = ensure_agent_person(&api, &agent()).await.unwrap_err();

    assert!(matches!(err, WfoError::MissingDefault { .. }), "{err:?}");
}

#[tokio::test]
async fn find_person_by_acd_with_duplicates_picks_the_lowest_id() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_directory(&server, json!([person(12, 3, "agent-7"), person(11, 3, "agent-7")])).await;
    let api = client(&server);

    assert_eq!(
        find_person_by_acd(&api, 3, "agent-7").await.unwrap().map(|p| p.id),
        Some(11)
    );
    assert_eq!(find_person_by_acd(&api, 3, "nobody").await.unwrap(), None);
}

#[tokio::test]
async fn put_metadata_with_an_empty_map_sends_nothing() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 0).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    put_metadata(&api, 5, &BTreeMap::new()).await.unwrap();
}
