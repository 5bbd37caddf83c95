//! The user-sync calls of the client against wiremock: People, Licenses, the recording
//! roster and per-person recording settings. One mock server per test, `.expect(n)`.

mod common;

use common::{TOKEN, client, token};

use serde_json::json;
use wfo_webex_calling::{RecordMode, WebexError, professional_license_ids};
use wiremock::matchers::{bearer_token, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn person(id: &str, first: &str) -> serde_json::Value {
    json!({"id": id, "emails": [format!("{first}@acme.example")], "displayName": first, "firstName": first,
           "lastName": "Test", "licenses": ["LIC-PRO"], "type": "person", "orgId": "O"})
}

#[tokio::test]
async fn people_are_listed_with_calling_data_max_100_without_status_and_followed_through_link() {
    let server = MockServer::start().await;
    let next = format!(
        r#"<{}/v1/people?callingData=true&max=100&excludeStatus=true&cursor=abc>; rel="next""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .and(bearer_token(TOKEN))
        .and(query_param("callingData", "true"))
        .and(query_param("max", "100"))
        .and(query_param("excludeStatus", "true"))
        .and(query_param_is_missing("cursor"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Link", next.as_str())
                .set_body_json(json!({"items": [person("P1", "ann")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .and(query_param("cursor", "abc"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [person("P2", "bo")], "notFoundIds": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let first = c.list_people_page(&token()).await.unwrap();
    assert_eq!(first.items[0].email(), Some("ann@acme.example"));
    assert!(first.has_next());
    let second = c.next_page(&token(), &first).await.unwrap().unwrap();
    assert_eq!(second.items[0].id, "P2");
    assert!(c.next_page(&token(), &second).await.unwrap().is_none());
}

#[tokio::test]
async fn a_429_in_the_middle_of_the_people_listing_is_waited_out() {
    let server = MockServer::start().await;
    let next = format!(r#"<{}/v1/people?cursor=p2>; rel="next""#, server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .and(query_param_is_missing("cursor"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Link", next.as_str())
                .set_body_json(json!({"items": [person("P1", "ann")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .and(query_param("cursor", "p2"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .and(query_param("cursor", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [person("P2", "bo")]})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let first = c.list_people_page(&token()).await.unwrap();
    let second = c.next_page(&token(), &first).await.unwrap().unwrap();
    assert_eq!(second.items[0].id, "P2");
}

#[tokio::test]
async fn a_people_page_that_keeps_failing_is_an_error_the_caller_can_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/people"))
        .respond_with(ResponseTemplate::new(503))
        .expect(6)
        .mount(&server)
        .await;
    let e = client(&server).list_people_page(&token()).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn licenses_are_listed_and_every_professional_subscription_is_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/licenses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": "L1", "name": "Webex Calling - Professional", "totalUnits": 10, "consumedUnits": 3, "subscriptionId": "S1"},
            {"id": "L2", "name": "Webex Calling - Basic", "totalUnits": "5"},
            {"id": "L3", "name": "Webex Calling - Professional ", "subscriptionId": "S2"},
            {"id": "L4"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let licenses = client(&server).list_licenses(&token()).await.unwrap();
    assert_eq!(licenses.len(), 4);
    assert_eq!(professional_license_ids(&licenses), vec!["L1", "L3"]);
}

#[tokio::test]
async fn a_missing_license_scope_is_forbidden_and_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/licenses"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "no"})))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server).list_licenses(&token()).await.unwrap_err();
    assert!(matches!(e, WebexError::Forbidden { .. }), "{e}");
    assert!(e.to_string().contains("spark-admin:licenses_read"), "{e}");
}

#[tokio::test]
async fn the_recording_roster_reads_members_with_max_and_start() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/telephony/config/callRecording/vendorUsers"))
        .and(query_param("max", "2"))
        .and(query_param("start", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"vendorId": "V", "members": [
                {"id": "U3", "firstName": "C", "lastName": "D", "type": "PEOPLE", "licenseType": "PROFESSIONAL_USER"},
                {"id": "W1", "type": "PLACE", "licenseType": "WORKSPACE"}
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server).recording_roster_page(&token(), 2, 2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.items[0].is_person() && !page.items[1].is_person());
    assert!(!page.has_next());
}

#[tokio::test]
async fn a_person_recording_setting_is_read_and_an_unknown_person_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/people/P1/features/callRecording"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "enabled": true, "record": "Never", "recordVoicemailEnabled": false,
            "notification": {"enabled": true, "type": "None"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/people/GONE/features/callRecording"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let s = c.person_call_recording(&token(), "P1").await.unwrap();
    assert_eq!(s.record, Some(RecordMode::Never));
    assert!(!s.records());
    let e = c.person_call_recording(&token(), "GONE").await.unwrap_err();
    assert!(matches!(e, WebexError::NotFound { .. }), "{e}");
}
