//! The Contact Center client against wiremock: one server per test, `.expect(n)` on
//! every call that must (or must not) be made.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wfo_domain::Secret;
use wfo_http::RetryPolicy;
use wfo_http::limit::RateLimit;
use wfo_webex_cc2::{CcClient, CcError, ConfigList, PAGE_SIZE};
use wiremock::matchers::{header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORG: &str = "0ae87ade-8c8a-4952-af08-318798958d0c";

fn client(server: &MockServer, limit: Arc<RateLimit>) -> CcClient {
    CcClient::with_limit(
        reqwest::Client::new(),
        url::Url::parse(&server.uri()).unwrap(),
        ORG,
        RetryPolicy::fast(),
        limit,
    )
}

fn page(data: serde_json::Value, page: u64, total_pages: u64) -> serde_json::Value {
    json!({ "meta": { "orgid": ORG, "page": page, "pageSize": 1000, "totalPages": total_pages, "totalRecords": 3 }, "data": data })
}

#[tokio::test]
async fn every_request_carries_a_tracking_id_the_bearer_and_the_org_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/organization/{ORG}/v2/team")))
        .and(query_param("page", "0"))
        .and(query_param("pageSize", PAGE_SIZE.to_string()))
        .and(header_exists("TrackingId"))
        .and(wiremock::matchers::header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            json!([{ "id": "t1", "name": "Sales", "brandNew": {"x": 1} }]),
            0,
            1,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, Arc::new(RateLimit::new("t1", 300)));
    let p = c.list_page(ConfigList::Teams, 0, &Secret::new("tok")).await.unwrap();
    assert_eq!(p.data.len(), 1, "an entry with fields we do not know is still an entry");
    assert_eq!(p.meta.total_pages, Some(1));
}

#[tokio::test]
async fn a_429_waits_its_retry_after_and_pauses_the_whole_client_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(json!([]), 0, 1)))
        .expect(2)
        .mount(&server)
        .await;
    let limit = Arc::new(RateLimit::new("t2", 300));
    let c = client(&server, limit.clone());
    let started = std::time::Instant::now();
    c.list_page(ConfigList::Users, 0, &Secret::new("tok")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "Retry-After honoured");
    // Another connector of the same client id asks right after: no pause left, it goes.
    let other = client(&server, limit.clone());
    other
        .list_page(ConfigList::Queues, 0, &Secret::new("tok2"))
        .await
        .unwrap();
    assert_eq!(
        limit.stats().0,
        3,
        "every attempt, the refused one included, spent the budget"
    );
}

#[tokio::test]
async fn the_limit_spaces_requests_of_one_client_id_across_its_connectors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(json!([]), 0, 1)))
        .expect(3)
        .mount(&server)
        .await;
    // 1-second windows and 61 per minute: one request per window, shared by both clients.
    let limit = Arc::new(RateLimit::with_window("t3", 61, Duration::from_secs(1)));
    let a = client(&server, limit.clone());
    let b = client(&server, limit.clone());
    let started = std::time::Instant::now();
    let t = Secret::new("tok");
    let (r1, r2) = tokio::join!(
        a.list_page(ConfigList::Users, 0, &t),
        b.list_page(ConfigList::Users, 0, &t)
    );
    r1.unwrap();
    r2.unwrap();
    a.list_page(ConfigList::Teams, 0, &t).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "three requests need at least two window turns"
    );
    assert!(limit.stats().1 >= 2, "two of them waited");
}

#[tokio::test]
async fn statuses_map_to_what_the_pipeline_must_do() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/organization/{ORG}/v2/user")))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"trackingId": "x", "error": {"key": "401", "message": [{"description": "expired"}]}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/organization/{ORG}/v2/team")))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/organization/{ORG}/v2/contact-service-queue")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    let c = client(&server, Arc::new(RateLimit::new("t4", 300)));
    let t = Secret::new("tok");
    assert!(matches!(
        c.list_page(ConfigList::Users, 0, &t).await,
        Err(CcError::Unauthorized { .. })
    ));
    let e = c.list_page(ConfigList::Teams, 0, &t).await.unwrap_err();
    assert!(
        matches!(e, CcError::Forbidden { .. }) && e.to_string().contains("cjp:config_read"),
        "{e}"
    );
    let e = c.list_page(ConfigList::Queues, 0, &t).await.unwrap_err();
    assert!(matches!(e, CcError::Malformed { .. }), "{e}");
    assert!(matches!(
        wfo_webex_cc2::cc_error(e),
        wfo_ports::SourceError::Permanent(_)
    ));
}
