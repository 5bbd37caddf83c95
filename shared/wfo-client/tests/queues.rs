//! The queue calls (`wfo-ingest-api.md` §3a) against wiremock, and `ensure_queue` against
//! wiremock and the WFO simulator: lookup by (acdServerId, acdId) before every create.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use wfo_client::{WfoApi, WfoClient, WfoClientConfig, WfoError, ensure_queue, find_queue_by_acd};
use wfo_domain::Secret;
use wfo_domain::wfo::{ChannelType, Queue, QueueInput};
use wfo_http::RetryPolicy;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const QUEUES: &str = "/api/rest/org/acd/queue";
const SERVER: i64 = 3;
/// A simulator seed whose fault pattern fails the first queue create after it took effect.
const SEED: u64 = 1;

fn queue_json(id: i64, acd_id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "acdId": acd_id, "acdServerId": SERVER, "channelType": "CHAT", "active": true})
}

fn input(acd_id: &str) -> QueueInput {
    QueueInput {
        name: "Billing".into(),
        acd_id: acd_id.into(),
        acd_server_id: SERVER,
        channel_type: ChannelType::Chat,
        active: true,
    }
}

/// `GET …/queue?acdServerId=3` answers `answer`; `times`: only that many times (tried first).
async fn mount_list(server: &MockServer, answer: Value, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path(QUEUES))
        .and(query_param("acdServerId", SERVER.to_string()))
        .and(header("cookie", cookie(SESSION).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer));
    let mock = match times {
        Some(n) => mock.up_to_n_times(n).expect(n).with_priority(1),
        None => mock,
    };
    mock.mount(server).await;
}

async fn mount_create(server: &MockServer, answer: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(QUEUES))
        .and(header("cookie", cookie(SESSION).as_str()))
        .and(body_json(
            json!({"name": "Billing", "acdId": "q-1", "acdServerId": SERVER, "channelType": "CHAT", "active": true}),
        ))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

// ---- the three calls ----------------------------------------------------------------------------

#[tokio::test]
async fn list_queues_asks_for_one_acd_server_with_the_session_cookie() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_list(&server, json!([queue_json(40, "q-1", "Billing")]), Some(1)).await;
    let api = client(&server);

    let queues = api.list_queues(SERVER).await.unwrap();

    assert_eq!(
        queues,
        vec![Queue {
            id: 40,
            name: "Billing".into(),
            acd_id: "q-1".into(),
            acd_server_id: SERVER,
            channel_type: ChannelType::Chat,
            active: true,
        }]
    );
}

#[tokio::test]
async fn create_queue_posts_the_queue_input_and_returns_the_new_id() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_create(&server, ResponseTemplate::new(200).set_body_json(json!({"id": 41})), 1).await;
    let api = client(&server);

    assert_eq!(api.create_queue(&input("q-1")).await.unwrap(), 41);
}

#[tokio::test]
async fn a_queue_create_answered_504_is_not_repeated_and_reports_an_unknown_outcome() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_create(&server, error(504, "Gateway timeout"), 1).await;
    let api = client(&server);

    let err = api.create_queue(&input("q-1")).await.unwrap_err();

    assert!(err.is_retryable() && err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn update_queue_puts_the_whole_object_at_its_id() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    let mut deactivated = queue_json(40, "q-1", "Billing");
    deactivated["active"] = json!(false);
    Mock::given(method("PUT"))
        .and(path(format!("{QUEUES}/40")))
        .and(header("cookie", cookie(SESSION).as_str()))
        .and(body_json(deactivated.clone()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);

    let q: Queue = serde_json::from_value(deactivated).unwrap();
    api.update_queue(&q).await.unwrap();
}

#[tokio::test]
async fn a_queue_listing_on_an_expired_session_logs_in_again_once_and_repeats() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 2).await;
    Mock::given(method("GET"))
        .and(path(QUEUES))
        .respond_with(error(401, wfo_client::messages::SESSION_INVALID))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_list(&server, json!([]), None).await;
    let api = client(&server);

    assert!(api.list_queues(SERVER).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_throttled_queue_listing_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("GET"))
        .and(path(QUEUES))
        .respond_with(error(429, "Too many requests").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_list(&server, json!([]), Some(1)).await;
    let api = client(&server);
    let started = Instant::now();

    api.list_queues(SERVER).await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_rejected_queue_update_is_rejected_and_not_retried() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    Mock::given(method("PUT"))
        .and(path(format!("{QUEUES}/40")))
        .respond_with(error(400, "queue name must not be empty"))
        .expect(1)
        .mount(&server)
        .await;
    let api = client(&server);
    let q: Queue = serde_json::from_value(queue_json(40, "q-1", "")).unwrap();

    let err = api.update_queue(&q).await.unwrap_err();

    assert!(matches!(err, WfoError::Rejected { status: 400, .. }), "{err:?}");
}

// ---- ensure_queue -------------------------------------------------------------------------------

#[tokio::test]
async fn ensure_queue_when_the_pair_exists_creates_nothing() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    // Another pair and another spelling of the id are not this queue.
    let listed = json!([queue_json(39, "Q-1", "Other"), queue_json(40, "q-1", "Old name")]);
    mount_list(&server, listed, Some(1)).await;
    mount_create(&server, ResponseTemplate::new(200), 0).await;
    let api = client(&server);

    assert_eq!(ensure_queue(&api, &input("q-1")).await.unwrap(), 40);
}

#[tokio::test]
async fn ensure_queue_when_absent_creates_once() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_list(&server, json!([queue_json(39, "Q-1", "Other")]), Some(1)).await;
    mount_create(&server, ResponseTemplate::new(200).set_body_json(json!({"id": 41})), 1).await;
    let api = client(&server);

    assert_eq!(ensure_queue(&api, &input("q-1")).await.unwrap(), 41);
}

#[tokio::test]
async fn ensure_queue_after_a_504_finds_the_queue_by_lookup_and_posts_exactly_once() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_list(&server, json!([]), Some(1)).await;
    mount_list(&server, json!([queue_json(42, "q-1", "Billing")]), None).await;
    mount_create(&server, error(504, "Gateway timeout"), 1).await;
    let api = client(&server);

    assert_eq!(ensure_queue(&api, &input("q-1")).await.unwrap(), 42);
}

#[tokio::test]
async fn ensure_queue_after_unknown_outcomes_with_nothing_found_gives_up_after_the_attempts() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_list(&server, json!([]), None).await;
    mount_create(
        &server,
        error(500, "Internal error"),
        u64::from(wfo_client::ensure::MAX_CREATE_ATTEMPTS),
    )
    .await;
    let api = client(&server);

    let err = ensure_queue(&api, &input("q-1")).await.unwrap_err();

    assert!(err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn ensure_queue_on_a_rejected_create_does_not_try_again() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    mount_list(&server, json!([]), Some(1)).await;
    mount_create(&server, error(400, "queue acdId must not be empty"), 1).await;
    let api = client(&server);

    let err = ensure_queue(&api, &input("q-1")).await.unwrap_err();

    assert!(matches!(err, WfoError::Rejected { status: 400, .. }), "{err:?}");
}

#[tokio::test]
async fn find_queue_by_acd_picks_the_lowest_id_of_a_duplicated_pair() {
    let server = MockServer::start().await;
    mount_login(&server, SESSION, 1).await;
    let listed = json!([queue_json(44, "q-1", "B"), queue_json(43, "q-1", "A")]);
    mount_list(&server, listed, Some(1)).await;
    let api = client(&server);

    let found = find_queue_by_acd(&api, SERVER, "q-1").await.unwrap();

    assert_eq!(found.map(|q| q.id), Some(43));
}

// ---- against the simulator ----------------------------------------------------------------------

fn sim_client(sim: &wfo_sim_wfo::RunningSim) -> WfoClient {
    let mut config = WfoClientConfig::new(
        sim.base_url(),
        wfo_sim_wfo::DEFAULT_USER,
        Secret::new(wfo_sim_wfo::DEFAULT_PASSWORD),
    );
    config.policy = RetryPolicy::fast();
    match WfoClient::new(config) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

#[tokio::test]
async fn ensure_queue_whose_create_took_effect_but_failed_leaves_one_queue_in_the_simulator() {
    // Half the queue requests fail with 500 (listings are retried); with this seed the
    // create is processed and then answered 500, so the helper must find it by lookup.
    let faults = wfo_sim_wfo::Faults {
        server_error: 0.5,
        fail_after_write: 1.0,
        only_paths: vec![QUEUES.into()],
        ..wfo_sim_wfo::Faults::none()
    };
    let config = wfo_sim_wfo::SimConfig {
        faults,
        seed: SEED,
        ..wfo_sim_wfo::SimConfig::default()
    };
    let sim = wfo_sim_wfo::WfoSim::start(config).await.unwrap();
    let api = sim_client(&sim);

    let id = ensure_queue(&api, &input("q-1")).await.unwrap();
    assert_eq!(
        ensure_queue(&api, &input("q-1")).await.unwrap(),
        id,
        "the next run finds it too"
    );

    let post = sim.stats().routes["POST /api/rest/org/acd/queue"].clone();
    assert_eq!((post.calls, post.failed_after_write), (1, 1), "{post:?}");
    assert_eq!(sim.queues().len(), 1);
    assert!(sim.duplicate_queues().is_empty());
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_client_round_trips_queues_through_the_simulator() {
    let sim = wfo_sim_wfo::WfoSim::start(wfo_sim_wfo::SimConfig::default())
        .await
        .unwrap();
    let api = sim_client(&sim);

    let id = api.create_queue(&input("q-1")).await.unwrap();
    let mut q = api.list_queues(SERVER).await.unwrap().remove(0);
    assert_eq!(q.id, id);
    q.name = "Payments".into();
    q.active = false;
    api.update_queue(&q).await.unwrap();

    assert_eq!(api.list_queues(SERVER).await.unwrap(), vec![q.clone()]);
    assert!(api.list_queues(SERVER + 1).await.unwrap().is_empty());
    assert_eq!(sim.queues(), vec![q]);
    sim.shutdown().await.unwrap();
}
