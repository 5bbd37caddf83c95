//! The client against wiremock: one mock server per test, `.expect(n)` on every call.

mod common;

use common::{TOKEN, client, token};

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use serde_json::json;
use wfo_domain::Secret;
use wfo_webex_calling::{
    ListQuery, NewWebhook, OwnerType, RecordingDetails, RecordingStatus, WebexError, WebhookStatus, WebhookUpdate,
};
use wiremock::matchers::{
    bearer_token, body_json, header, header_exists, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const LIST_PATH: &str = "/v1/admin/convergedRecordings";

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn item(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "topic": "call",
        "createTime": "2024-01-10T16:24:12+08:00",
        "timeRecorded": "2024-01-10T16:20:00+08:00",
        "ownerId": "d7468402-e95f-42a9-92c8-dd65f45d40ba",
        "ownerType": "user",
        "ownerEmail": "a@example.com",
        "format": "MP3",
        "durationSeconds": 60,
        "sizeBytes": 244333,
        "serviceType": "calling",
        "storageRegion": "US",
        "status": "available",
        "serviceData": {"locationId": "L1", "callSessionId": "S1"}
    })
}

fn items(ids: &[&str]) -> serde_json::Value {
    json!({ "items": ids.iter().map(|i| item(i)).collect::<Vec<_>>() })
}

fn next_link(server: &MockServer, cursor: &str) -> String {
    format!(r#"<{}{LIST_PATH}?max=100&cursor={cursor}>; rel="next""#, server.uri())
}

// ---- listing ----

#[tokio::test]
async fn three_pages_are_followed_through_link_next_without_re_adding_the_query() {
    let server = MockServer::start().await;
    let (from, to) = (day(2024, 1, 1), day(2024, 1, 31));
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("from", "2024-01-01T00:00:00.000Z"))
        .and(query_param("to", "2024-01-31T00:00:00.000Z"))
        .and(query_param("max", "100"))
        .and(query_param_is_missing("cursor"))
        .and(header("timezone", "UTC"))
        .and(bearer_token(TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["r5", "r4"]))
                .insert_header("Link", next_link(&server, "p2")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("cursor", "p2"))
        .and(query_param_is_missing("from"))
        .and(header("timezone", "UTC"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["r3", "r2"]))
                .insert_header("Link", next_link(&server, "p3")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("cursor", "p3"))
        .and(query_param_is_missing("from"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&["r1"])))
        .expect(1)
        .mount(&server)
        .await;

    let got: Vec<String> = client(&server)
        .list_recordings(&token(), from, to)
        .map(|r| r.unwrap().id)
        .collect()
        .await;
    assert_eq!(got, ["r5", "r4", "r3", "r2", "r1"]);
}

#[tokio::test]
async fn next_page_returns_none_after_the_last_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param_is_missing("cursor"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["a"]))
                .insert_header("Link", next_link(&server, "p2")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("cursor", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&["b"])))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let q = ListQuery {
        owner_type: Some(OwnerType::User),
        ..ListQuery::new(day(2024, 1, 1), day(2024, 1, 2))
    };
    let p1 = c.list_recordings_page(&token(), &q).await.unwrap();
    assert_eq!(p1.items[0].id, "a");
    let p2 = c.next_page(&token(), &p1).await.unwrap().unwrap();
    assert_eq!(p2.items[0].id, "b");
    assert!(c.next_page(&token(), &p2).await.unwrap().is_none());
}

#[tokio::test]
async fn a_75_day_window_is_listed_as_three_windows_of_at_most_30_days() {
    let server = MockServer::start().await;
    let windows = [
        ("2024-01-01T00:00:00.000Z", "2024-01-31T00:00:00.000Z", "w1"),
        ("2024-01-31T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "w2"),
        ("2024-03-01T00:00:00.000Z", "2024-03-16T00:00:00.000Z", "w3"),
    ];
    for (from, to, id) in windows {
        Mock::given(method("GET"))
            .and(path(LIST_PATH))
            .and(query_param("from", from))
            .and(query_param("to", to))
            .and(query_param("max", "100"))
            .and(header("timezone", "UTC"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items(&[id])))
            .expect(1)
            .mount(&server)
            .await;
    }
    let got: Vec<String> = client(&server)
        .list_recordings(&token(), day(2024, 1, 1), day(2024, 3, 16))
        .map(|r| r.unwrap().id)
        .collect()
        .await;
    assert_eq!(got, ["w1", "w2", "w3"]);
}

#[tokio::test]
async fn a_page_longer_than_30_days_is_refused_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = client(&server)
        .list_recordings_page(&token(), &ListQuery::new(day(2024, 1, 1), day(2024, 2, 15)))
        .await
        .unwrap_err();
    assert!(matches!(err, WebexError::InvalidWindow(_)), "{err}");
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["a"]))
                .insert_header("Link", r#"<https://evil.example/v1/x?cursor=2>; rel="next""#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .list_recordings_page(&token(), &ListQuery::new(day(2024, 1, 1), day(2024, 1, 2)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("evil.example"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_item_that_cannot_be_read_is_named_and_the_rest_of_the_page_goes_on() {
    let server = MockServer::start().await;
    let mut bad = item("bad-one");
    bad["createTime"] = json!(null);
    let body = json!({ "items": [item("a"), bad, item("c"), {"no": "id", "ticket": "SECRET-TICKET"}] });
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let page = client(&server)
        .list_recordings_page(&token(), &ListQuery::new(day(2024, 1, 1), day(2024, 1, 2)))
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(page.unreadable.len(), 2);
    assert_eq!(page.unreadable[0].id.as_deref(), Some("bad-one"));
    assert!(
        page.unreadable[0].reason.contains("createTime") || page.unreadable[0].reason.contains("null"),
        "{:?}",
        page.unreadable
    );
    assert_eq!(page.unreadable[1].id, None);
    assert!(
        !page.unreadable[1].reason.contains("SECRET-TICKET"),
        "{:?}",
        page.unreadable
    );
}

#[tokio::test]
async fn a_next_link_back_to_a_page_already_read_ends_the_walk_with_an_error() {
    let server = MockServer::start().await;
    // Page 1 links to page 2; page 2 links back to page 2.
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .and(query_param("cursor", "p2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["b"]))
                .insert_header("Link", next_link(&server, "p2")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&["a"]))
                .insert_header("Link", next_link(&server, "p2")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let t = token();
    let results: Vec<_> = c.list_recordings(&t, day(2024, 1, 1), day(2024, 1, 2)).collect().await;
    assert_eq!(results.len(), 2, "a, then the error: {results:?}");
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("points back to a page already read"), "{err}");
}

#[tokio::test]
async fn a_metadata_document_over_the_size_limit_is_refused_not_buffered() {
    let server = MockServer::start().await;
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(wfo_http::MAX_JSON_BODY + 10));
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json"))
        .mount(&server)
        .await;
    let err = client(&server).recording_metadata(&token(), "r1").await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[tokio::test]
async fn every_request_carries_a_tracking_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1"))
        .and(header_exists("TrackingID"))
        .and(|req: &Request| {
            req.headers
                .get("trackingid")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("WFOCONNECT_"))
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(item("r1")))
        .expect(1)
        .mount(&server)
        .await;
    let d = client(&server).recording_details(&token(), "r1").await.unwrap();
    assert_eq!(d.id, "r1");
}

// ---- retries and error mapping ----

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(item("r1")))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let d = client(&server).recording_details(&token(), "r1").await.unwrap();
    assert_eq!(d.id, "r1");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After not honoured: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_long_retry_after_is_returned_to_the_caller_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "600")
                .insert_header("trackingid", "WBX_1"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).recording_details(&token(), "r1").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(err.tracking_id(), Some("WBX_1"));
}

#[tokio::test]
async fn a_503_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&["a"])))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .list_recordings_page(&token(), &ListQuery::new(day(2024, 1, 1), day(2024, 1, 2)))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_401_is_unauthorized_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"message": "The request requires a valid access token", "trackingId": "WBX_401"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).recording_details(&token(), "r1").await.unwrap_err();
    assert!(matches!(err, WebexError::Unauthorized { .. }), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(err.tracking_id(), Some("WBX_401"));
}

#[tokio::test]
async fn a_403_names_the_missing_scope_and_a_404_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST_PATH))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/gone"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .list_recordings_page(&token(), &ListQuery::new(day(2024, 1, 1), day(2024, 1, 2)))
        .await
        .unwrap_err();
    assert!(matches!(err, WebexError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("spark-compliance:recordings_read"), "{err}");
    let err = c.recording_details(&token(), "gone").await.unwrap_err();
    assert!(matches!(err, WebexError::NotFound { .. }), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_stream_ends_after_its_first_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400))
        .expect(1)
        .mount(&server)
        .await;
    let got: Vec<_> = client(&server)
        .list_recordings(&token(), day(2024, 1, 1), day(2024, 3, 1))
        .collect()
        .await;
    assert_eq!(got.len(), 1);
    assert!(got[0].is_err());
}

// ---- details and metadata ----

#[tokio::test]
async fn details_with_unknown_fields_and_values_parse() {
    let server = MockServer::start().await;
    let body = json!({
        "id": "62807eaf-0c89-492e-a3c3-c4751812603b",
        "topic": "call with default",
        "createTime": "2023-11-01T23:09:05+08:00",
        "timeRecorded": "2023-11-01T15:27:29+08:00",
        "temporaryDirectDownloadLinks": {
            "audioDownloadLink": "https://nsq1wss.dmz.webex.com/nbr/MultiThreadDownloadServlet?ticket=t",
            "suggestedNotesDownloadLink": "https://aibridge/notes",
            "expiration": "2023-11-09T12:57:05Z",
            "somethingNew": {"nested": true}
        },
        "ownerId": "24683d6c-5529-4b60-a6c7-91e8b293bbab",
        "ownerType": "autoAttendant",
        "ownerEmail": "x@example.com",
        "format": "MP3",
        "durationSeconds": 298,
        "sizeBytes": 299918,
        "serviceType": "calling",
        "storageRegion": "US",
        "status": "archived",
        "serviceData": {"locationId": "L", "callSessionId": "c61b357e", "newField": 1},
        "brandNewTopLevel": [1, 2, 3]
    });
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/62807eaf-0c89-492e-a3c3-c4751812603b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let d = client(&server)
        .recording_details(&token(), "62807eaf-0c89-492e-a3c3-c4751812603b")
        .await
        .unwrap();
    assert_eq!(d.owner_type, Some(OwnerType::Unknown("autoAttendant".into())));
    assert_eq!(d.status, Some(RecordingStatus::Unknown("archived".into())));
    assert_eq!(d.create_time, Utc.with_ymd_and_hms(2023, 11, 1, 15, 9, 5).unwrap());
    assert_eq!(d.call_session_id(), Some("c61b357e"));
    let links = d.temporary_direct_download_links.as_ref().unwrap();
    assert_eq!(
        links.expiration,
        Some(Utc.with_ymd_and_hms(2023, 11, 9, 12, 57, 5).unwrap())
    );
    assert!(links.transcript_download_link.is_none());
    assert!(d.audio_link().is_some());
}

#[tokio::test]
async fn metadata_204_is_none_and_show_all_types_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1/metadata"))
        .and(query_param("showAllTypes", "true"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client(&server).recording_metadata(&token(), "r1").await.unwrap(), None);
}

#[tokio::test]
async fn metadata_json_is_returned_raw() {
    let server = MockServer::start().await;
    let raw = json!({"id": "r1", "version": "1.0", "serviceData": {"callSessionId": "S1", "callActivity": {"x": [1]}}});
    Mock::given(method("GET"))
        .and(path("/v1/convergedRecordings/r1/metadata"))
        .and(query_param("showAllTypes", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(raw.clone()))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client(&server).recording_metadata(&token(), "r1").await.unwrap(),
        Some(raw)
    );
}

// ---- audio download ----

fn details_with_link(link: Option<String>, expiration: DateTime<Utc>) -> RecordingDetails {
    let mut v = item("r1");
    let mut links = json!({ "expiration": expiration.to_rfc3339() });
    if let Some(l) = link {
        links["audioDownloadLink"] = json!(l);
    }
    v["temporaryDirectDownloadLinks"] = links;
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn an_expired_link_is_refused_without_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    let link = Some(format!("{}/audio?ticket=t", server.uri()));
    for expiration in [
        Utc::now() - chrono::TimeDelta::minutes(1),
        Utc::now() + chrono::TimeDelta::minutes(2),
    ] {
        let err = c
            .download_audio(&details_with_link(link.clone(), expiration))
            .await
            .unwrap_err();
        assert!(matches!(err, WebexError::LinkExpired { .. }), "{err}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn a_missing_link_is_audio_unavailable_and_asks_for_a_compliance_officer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    let no_link = details_with_link(None, Utc::now() + chrono::TimeDelta::hours(3));
    let mut no_links_at_all = no_link.clone();
    no_links_at_all.temporary_direct_download_links = None;
    for d in [no_link, no_links_at_all] {
        let err = c.download_audio(&d).await.unwrap_err();
        assert!(matches!(err, WebexError::AudioUnavailable { .. }), "{err}");
        assert!(err.to_string().contains("compliance"), "{err}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn download_streams_a_multi_megabyte_body_without_a_bearer_token() {
    let server = MockServer::start().await;
    let body: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/nbr/download"))
        .and(query_param("ticket", "abc"))
        .and(|req: &Request| !req.headers.contains_key("authorization"))
        .and(header_exists("TrackingID"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "audio/mpeg"))
        .expect(1)
        .mount(&server)
        .await;
    let d = details_with_link(
        Some(format!("{}/nbr/download?ticket=abc", server.uri())),
        Utc::now() + chrono::TimeDelta::hours(3),
    );
    let mut dl = client(&server).download_audio(&d).await.unwrap();
    assert_eq!(dl.length, Some(body.len() as u64));
    let (mut received, mut chunks, mut largest) = (Vec::with_capacity(body.len()), 0usize, 0usize);
    while let Some(chunk) = dl.stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        largest = largest.max(chunk.len());
        received.extend_from_slice(&chunk);
    }
    assert!(received == body, "body differs");
    assert!(
        chunks > 1 && largest < body.len(),
        "body arrived in one piece: not streamed"
    );
}

#[tokio::test]
async fn download_refusals_are_link_expired() {
    for status in [403u16, 404, 410] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&server)
            .await;
        let d = details_with_link(
            Some(format!("{}/dl?ticket=x", server.uri())),
            Utc::now() + chrono::TimeDelta::hours(1),
        );
        let err = client(&server).download_audio(&d).await.unwrap_err();
        assert!(matches!(err, WebexError::LinkExpired { .. }), "{status}: {err}");
        assert!(err.is_retryable());
    }
}

// ---- webhooks API ----

fn webhook_json(id: &str, status: &str) -> serde_json::Value {
    json!({
        "id": id, "name": "wfo", "targetUrl": "https://hooks.example/webex", "resource": "convergedRecordings",
        "event": "created", "status": status, "created": "2024-05-01T10:00:00.000Z", "ownedBy": "org",
        "orgId": "O", "createdBy": "C", "appId": "A", "somethingNew": 1
    })
}

#[tokio::test]
async fn create_webhook_posts_the_camel_case_body_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .and(bearer_token(TOKEN))
        .and(body_json(json!({
            "name": "wfo", "targetUrl": "https://hooks.example/webex", "resource": "convergedRecordings",
            "event": "created", "secret": "s3cret", "ownedBy": "org"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(webhook_json("W1", "active")))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewWebhook::converged_recordings_created("wfo", "https://hooks.example/webex", Secret::new("s3cret"));
    assert!(!format!("{new:?}").contains("s3cret"));
    let hook = client(&server).create_webhook(&token(), &new).await.unwrap();
    assert_eq!(hook.id, "W1");
    assert!(hook.is_active());
}

#[tokio::test]
async fn list_webhooks_follows_pages_and_update_reactivates() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/webhooks"))
        .and(query_param("ownedBy", "org"))
        .and(query_param("max", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [webhook_json("W1", "inactive")]}))
                .insert_header(
                    "Link",
                    format!(r#"<{}/v1/webhooks?cursor=2>; rel="next""#, server.uri()),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/webhooks"))
        .and(query_param("cursor", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [webhook_json("W2", "active")]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/webhooks/W1"))
        .and(body_json(json!({
            "name": "wfo", "targetUrl": "https://hooks.example/webex", "ownedBy": "org", "status": "active"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(webhook_json("W1", "active")))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let hooks = c.list_webhooks(&token(), true).await.unwrap();
    assert_eq!(hooks.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["W1", "W2"]);
    assert_eq!(hooks[0].status, Some(WebhookStatus::Inactive));
    let updated = c
        .update_webhook(&token(), "W1", &WebhookUpdate::reactivate(&hooks[0]))
        .await
        .unwrap();
    assert!(updated.is_active());
}

#[tokio::test]
async fn a_create_that_failed_with_502_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewWebhook::converged_recordings_created("wfo", "https://hooks.example/webex", Secret::new("s"));
    let err = client(&server).create_webhook(&token(), &new).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
