//! `WfoClient` against a wiremock server: sessions, retries, error mapping, audio.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use serde_json::json;
use wfo_client::{AudioBody, WfoApi, WfoError};
use wfo_domain::wfo::AudioFormat;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn mount_teams_for(server: &MockServer, session: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .and(header("cookie", cookie(session).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([team(1, "Default Team", true)])))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_expired(server: &MockServer, route: &str, session: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(header("cookie", cookie(session).as_str()))
        .respond_with(error(401, wfo_client::messages::SESSION_INVALID))
        .mount(server)
        .await;
}

#[tokio::test]
async fn first_call_logs_in_once_and_every_call_carries_the_session_cookie() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_teams_for(&server, SESSION, 2).await;
    Mock::given(method("GET"))
        .and(path(ROLES))
        .and(header("cookie", cookie(SESSION).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([role(2, "Agent", true)])))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let teams = api.list_teams().await.unwrap();
    api.list_teams().await.unwrap();
    let roles = api.list_roles().await.unwrap();

    assert!(teams[0].is_default);
    assert!(roles[0].is_agent_default);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_login() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sessionId": SESSION}))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_teams_for(&server, SESSION, 8).await;
    let api = Arc::new(client(&server));

    let calls = (0..8).map(|_| {
        let api = api.clone();
        tokio::spawn(async move { api.list_teams().await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
}

#[tokio::test]
async fn expired_session_is_renewed_once_and_the_call_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sessionId": SESSION})))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_login(&server, SESSION_2, 1).await;
    mount_expired(&server, TEAMS, SESSION).await;
    mount_teams_for(&server, SESSION_2, 1).await;
    let api = client(&server);

    let teams = api.list_teams().await.unwrap();

    assert_eq!(teams.len(), 1);
}

#[tokio::test]
async fn concurrent_callers_hitting_an_expired_session_share_one_relogin() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sessionId": SESSION})))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sessionId": SESSION_2}))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_expired(&server, TEAMS, SESSION).await;
    mount_teams_for(&server, SESSION_2, 8).await;
    let api = Arc::new(client(&server));

    let calls = (0..8).map(|_| {
        let api = api.clone();
        tokio::spawn(async move { api.list_teams().await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
}

#[tokio::test]
async fn second_401_in_a_row_is_unauthorized_without_looping() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sessionId": SESSION})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(error(401, wfo_client::messages::SESSION_INVALID))
        .expect(2)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.list_teams().await.unwrap_err();

    assert!(matches!(err, WfoError::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "WFO rejected the API user's credentials: check wfo.username / wfo.password"
    );
}

#[tokio::test]
async fn bad_credentials_at_login_are_unauthorized_and_no_call_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(error(401, wfo_client::messages::BAD_CREDENTIALS))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.list_teams().await.unwrap_err();

    assert!(matches!(err, WfoError::Unauthorized), "{err:?}");
}

#[tokio::test]
async fn throttled_call_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(error(429, "Too many requests").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_teams_for(&server, SESSION, 1).await;
    let api = client(&server);
    let started = Instant::now();

    api.list_teams().await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn service_unavailable_is_retried_until_success() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(error(503, "Service unavailable"))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_teams_for(&server, SESSION, 1).await;
    let api = client(&server);

    api.list_teams().await.unwrap();
}

#[tokio::test]
async fn import_after_a_gateway_timeout_is_not_repeated_and_reports_an_unknown_outcome() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(504, "Gateway timeout"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.import_contact(&import("wxc:r1:0")).await.unwrap_err();

    assert!(err.is_retryable() && err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn import_answered_503_is_not_replayed_because_the_write_may_have_happened() {
    // A load balancer or gateway can answer 503 after the backend took the import; a
    // blind replay would create a second contact, so the caller must look it up first.
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(503, "busy"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.import_contact(&import("wxc:r1:0")).await.unwrap_err();

    assert!(err.is_retryable() && err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn import_naming_an_unknown_agent_is_unknown_agent() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("POST"))
        .and(path(IMPORT))
        .respond_with(error(422, &wfo_client::messages::unknown_agent_message(3, "agent-7")))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.import_contact(&import("wxc:r1:0")).await.unwrap_err();

    assert!(
        matches!(err, WfoError::UnknownAgent { ref acd_id, acd_server_id: 3 } if acd_id == "agent-7"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn metadata_put_with_a_non_text_key_is_unknown_metadata_key() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/recording/contact/5/metadata"))
        .respond_with(error(
            422,
            &wfo_client::messages::metadata_key_not_text_message("date-key"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let metadata = BTreeMap::from([("date-key".to_owned(), "x".to_owned())]);

    let err = api.put_contact_metadata(5, &metadata).await.unwrap_err();

    assert!(
        matches!(err, WfoError::UnknownMetadataKey { ref key } if key == "date-key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn metadata_put_sends_one_key_value_object_per_key() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/recording/contact/5/metadata"))
        .and(body_json(json!({
            "queue-key": {"key": "queue-key", "value": "Sales"},
            "wrap-up-key": {"key": "wrap-up-key", "value": "Done"}
        })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let metadata = BTreeMap::from([
        ("queue-key".to_owned(), "Sales".to_owned()),
        ("wrap-up-key".to_owned(), "Done".to_owned()),
    ]);

    api.put_contact_metadata(5, &metadata).await.unwrap();
}

#[tokio::test]
async fn missing_contact_or_person_reads_as_none_and_other_4xx_as_rejected() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path("/api/rest/recording/contact/9"))
        .respond_with(error(404, "Not found: contact 9"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/rest/org/common/person/9"))
        .respond_with(error(404, "Not found: person 9"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/rest/org/common/team"))
        .respond_with(error(409, "Team name already used"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let input = wfo_domain::wfo::TeamInput {
        name: "Sales".into(),
        acd_id: None,
        acd_server_id: None,
        read_only: false,
    };

    assert_eq!(api.get_contact(9).await.unwrap(), None);
    assert_eq!(api.get_person(9).await.unwrap(), None);
    let err = api.create_team(&input).await.unwrap_err();
    assert!(
        matches!(err, WfoError::Rejected { status: 409, ref message } if message == "Team name already used"),
        "{err:?}"
    );
}

#[tokio::test]
async fn contacts_are_found_by_external_id_query() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(CONTACTS))
        .and(query_param("externalId", "wxc:r 1&x:0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([contact(12, "wxc:r 1&x:0")])))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let found = api.find_contacts_by_external_id("wxc:r 1&x:0").await.unwrap();

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, 12);
    assert!(!found[0].audio_uploaded);
}

/// Answers like the contract: `{"audioUploaded": true, "bytes": <received>, ...}`.
fn audio_echo(request: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "audioUploaded": true, "bytes": request.body.len(), "sha256": "00"
    }))
}

/// `chunks` chunks of `size` bytes, made one at a time as the client polls; `polled`
/// counts them.
fn chunked_audio(
    chunks: usize,
    size: usize,
    polled: Arc<AtomicUsize>,
) -> futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
    futures::stream::iter(0..chunks)
        .map(move |i| {
            polled.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from(vec![(i % 251) as u8; size]))
        })
        .boxed()
}

#[tokio::test]
async fn audio_upload_streams_a_multi_megabyte_body_with_content_length_and_reports_bytes() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 64; // 4 MiB
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/wfo/contact/7/audio"))
        .and(header("content-type", "audio/mpeg"))
        .and(header("content-length", (CHUNK * CHUNKS).to_string().as_str()))
        .and(header("cookie", cookie(SESSION).as_str()))
        .respond_with(audio_echo)
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let polled = Arc::new(AtomicUsize::new(0));
    let body = AudioBody {
        stream: chunked_audio(CHUNKS, CHUNK, polled.clone()),
        length: Some((CHUNK * CHUNKS) as u64),
    };

    let uploaded = api.upload_audio(7, AudioFormat::Mp3, body).await.unwrap();

    assert!(uploaded.audio_uploaded);
    assert_eq!(uploaded.bytes, (CHUNK * CHUNKS) as i64);
    assert_eq!(polled.load(Ordering::SeqCst), CHUNKS);
}

#[tokio::test]
async fn audio_upload_of_unknown_length_is_sent_chunked() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/wfo/contact/7/audio"))
        .and(header("content-type", "audio/wav"))
        .and(header("transfer-encoding", "chunked"))
        .respond_with(audio_echo)
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let body = AudioBody {
        stream: chunked_audio(20, 50_000, Arc::new(AtomicUsize::new(0))),
        length: None,
    };

    let uploaded = api.upload_audio(7, AudioFormat::Wav, body).await.unwrap();

    assert_eq!(uploaded.bytes, 1_000_000);
    let requests = server.received_requests().await.unwrap();
    let upload = requests.iter().find(|r| r.method.as_str() == "PUT").unwrap();
    assert!(upload.headers.get("content-length").is_none());
}

#[tokio::test]
async fn audio_upload_answered_503_is_not_replayed_and_is_retryable_by_the_caller() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/wfo/contact/7/audio"))
        .respond_with(error(503, "busy").insert_header("Retry-After", "1"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api
        .upload_audio(7, AudioFormat::Mp3, AudioBody::from_bytes(vec![1u8; 1000]))
        .await
        .unwrap_err();

    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn audio_upload_on_an_expired_session_renews_it_and_asks_the_caller_to_reopen_the_source() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sessionId": SESSION})))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_login(&server, SESSION_2, 1).await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/wfo/contact/7/audio"))
        .and(header("cookie", cookie(SESSION).as_str()))
        .respond_with(error(401, wfo_client::messages::SESSION_INVALID))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/rest/wfo/contact/7/audio"))
        .and(header("cookie", cookie(SESSION_2).as_str()))
        .respond_with(audio_echo)
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api
        .upload_audio(7, AudioFormat::Mp3, AudioBody::from_bytes(vec![1u8; 10]))
        .await
        .unwrap_err();
    assert!(matches!(err, WfoError::SessionRenewed) && err.is_retryable(), "{err:?}");
    let uploaded = api
        .upload_audio(7, AudioFormat::Mp3, AudioBody::from_bytes(vec![1u8; 10]))
        .await
        .unwrap();
    assert_eq!(uploaded.bytes, 10);
}

#[tokio::test]
async fn session_id_and_password_never_appear_in_debug_output() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(TEAMS))
        .respond_with(error(500, "boom"))
        .mount(&server)
        .await;
    let api = client(&server);

    let err = api.list_teams().await.unwrap_err();

    let unauthorized = WfoError::Unauthorized;
    for shown in [
        format!("{api:?}"),
        format!("{:?}", api.config()),
        format!("{err:?}"),
        format!("{err}"),
        format!("{unauthorized:?}"),
    ] {
        assert!(!shown.contains(SESSION), "session id leaked: {shown}");
        assert!(!shown.contains(PASSWORD), "password leaked: {shown}");
    }
    assert!(format!("{api:?}").contains(USER));
}

#[tokio::test]
async fn a_person_directory_past_the_page_limit_is_read_whole() {
    // 60,000 persons (~20 MB): more than one 16 MiB page answer, one directory answer.
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    let mut body = String::from("[");
    for i in 0..60_000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"id":{i},"firstName":"Agent","lastName":"Number {i}","email":"agent{i}@acme.example","displayName":"Agent Number {i}","groupId":1,"acdId":"0000000{i}-aaaa-4bbb-8ccc-dddddddddddd","acdServerId":3,"roles":[{{"id":2,"name":"Agent"}}],"companyStartDate":null,"departmentStartDate":null,"activated":1700000000000,"deactivated":null}}"#
        ));
    }
    body.push(']');
    assert!(body.len() > wfo_http::MAX_JSON_BODY, "{} bytes", body.len());
    Mock::given(method("GET"))
        .and(path("/api/rest/org/common/person/permission/ViewOrg"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let persons = client(&server).list_persons().await.unwrap();
    assert_eq!(persons.len(), 60_000);
}
