//! The simulator against a real HTTP client: every rule of the WFO ingest contract.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wfo_domain::Secret;
use wfo_sim_wfo::{
    DEFAULT_PASSWORD, DEFAULT_USER, Faults, MAX_METADATA_KEYS, RunningSim, SimConfig, SimError, WfoSim,
    default_metadata_keys, messages,
};

const RECORDING_ID_KEY: &str = "Recording-Id-key";
const HOLD_COUNT_KEY: &str = "Hold-Count-key";
const ACD_SERVER: i64 = 7;

struct Api {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Api {
    async fn login(sim: &RunningSim) -> Self {
        let http = reqwest::Client::new();
        let base = sim.base_url();
        let session = authorize(&http, &base, DEFAULT_USER, DEFAULT_PASSWORD).await;
        Self { http, base, session }
    }

    fn cookie(&self) -> String {
        format!("hazelcast.sessionId={}", self.session)
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", self.cookie())
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path).send().await.unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, path).json(body).send().await.unwrap()
    }

    async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.req(reqwest::Method::PUT, path).json(body).send().await.unwrap()
    }

    async fn create_agent(&self, acd_id: &str) -> i64 {
        let res = self.post("/api/rest/org/common/person", &person_input(acd_id)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    async fn import(&self, body: &Value) -> reqwest::Response {
        self.post("/api/rest/wfo/contact/import", body).await
    }

    async fn import_ok(&self, body: &Value) -> i64 {
        let res = self.import(body).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["contactId"].as_i64().unwrap()
    }

    /// An upload streamed in `chunk`-byte pieces, without a Content-Length.
    async fn upload_chunked(
        &self,
        contact_id: i64,
        content_type: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> reqwest::Response {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
        self.req(
            reqwest::Method::PUT,
            &format!("/api/rest/wfo/contact/{contact_id}/audio"),
        )
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap()
    }

    async fn upload(&self, contact_id: i64, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.req(
            reqwest::Method::PUT,
            &format!("/api/rest/wfo/contact/{contact_id}/audio"),
        )
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
    }
}

async fn authorize(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let res = http
        .post(format!("{base}/api/rest/authorize"))
        .json(&json!({"userId": user, "password": password, "language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn person_input(acd_id: &str) -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "displayName": "Ada Lovelace", "groupId": 100,
        "acdId": acd_id, "acdServerId": ACD_SERVER,
        "roles": [{"id": 1, "name": "Agent"}],
        "companyStartDate": null, "departmentStartDate": null,
        "activated": 1_700_000_000_000i64, "deactivated": null
    })
}

fn contact_import(external_id: &str, acd_id: &str) -> Value {
    json!({
        "externalId": external_id, "assocCallId": "session-1", "contactType": "CALL",
        "startTime": 1_700_000_000_000i64, "callDuration": 65_000, "ani": "+4930123", "dnis": "100",
        "direction": "INBOUND", "agent": {"acdId": acd_id, "acdServerId": ACD_SERVER},
        "language": null, "events": [{"type": "HOLD", "time": 1_700_000_010_000i64}],
        "metadata": {RECORDING_ID_KEY: "rec-1"},
        "audio": {"expected": true, "format": "MP3", "channels": 2}
    })
}

async fn error_body(res: reqwest::Response) -> Value {
    let body: Value = res.json().await.unwrap();
    assert!(
        body["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "errors carry a requestId: {body}"
    );
    body
}

async fn start(config: SimConfig) -> RunningSim {
    WfoSim::start(config).await.unwrap()
}

#[tokio::test]
async fn authorize_issues_a_session_cookie_and_bad_credentials_are_401() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let roles: Value = api.get("/api/rest/org/common/role").await.json().await.unwrap();
    assert_eq!(roles.as_array().unwrap().len(), 3);
    assert_eq!(roles[0]["isAgentDefault"], true);

    let res = api
        .http
        .post(format!("{}/api/rest/authorize", api.base))
        .json(&json!({"userId": DEFAULT_USER, "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(res).await["errorMessage"], messages::BAD_CREDENTIALS);

    let res = api
        .req(reqwest::Method::DELETE, "/api/rest/authorize")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        api.get("/api/rest/org/common/role").await.status(),
        StatusCode::UNAUTHORIZED
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn calls_without_a_cookie_or_with_an_unknown_one_are_401() {
    let sim = start(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!(
            "{}/api/rest/org/common/team/permission/ViewOrg",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(res).await["errorMessage"], messages::SESSION_INVALID);

    let res = http
        .get(format!(
            "{}/api/rest/org/common/team/permission/ViewOrg",
            sim.base_url()
        ))
        .header("cookie", "other=1; hazelcast.sessionId=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(res).await["errorMessage"], messages::SESSION_INVALID);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_session_expires_after_n_calls_and_on_demand() {
    let faults = Faults {
        session_max_calls: Some(2),
        ..Faults::none()
    };
    let sim = start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let mut api = Api::login(&sim).await;
    assert_eq!(api.get("/api/rest/org/common/role").await.status(), StatusCode::OK);
    assert_eq!(api.get("/api/rest/org/common/role").await.status(), StatusCode::OK);
    assert_eq!(
        api.get("/api/rest/org/common/role").await.status(),
        StatusCode::UNAUTHORIZED
    );

    api.session = authorize(&api.http, &api.base, DEFAULT_USER, DEFAULT_PASSWORD).await;
    assert_eq!(api.get("/api/rest/org/common/role").await.status(), StatusCode::OK);
    assert_eq!(sim.expire_sessions(), 1);
    assert_eq!(
        api.get("/api/rest/org/common/role").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sim.stats().sessions_expired, 2);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_identical_person_posts_make_two_persons() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let a = api.create_agent("u-1").await;
    let b = api.create_agent("u-1").await;
    assert_ne!(a, b);
    let persons: Value = api
        .get("/api/rest/org/common/person/permission/ViewOrg")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(persons.as_array().unwrap().len(), 2);
    let state: Value = reqwest::get(format!("{}/sim/state", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["duplicateAgents"][0]["personIds"], json!([a, b]));
    assert_eq!(
        state["requests"]["routes"]["POST /api/rest/org/common/person"]["creates"],
        2
    );
    assert_eq!(sim.stats().creates.persons, 2);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_identical_team_posts_make_two_teams_and_exactly_one_stays_default() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let input = json!({"name": "Sales", "acdId": "t-1", "acdServerId": ACD_SERVER, "readOnly": true});
    assert_eq!(
        api.post("/api/rest/org/common/team", &input).await.status(),
        StatusCode::OK
    );
    let res = api.post("/api/rest/org/common/team", &input).await;
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let teams: Value = api
        .get("/api/rest/org/common/team/permission/ViewOrg")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(teams.as_array().unwrap().len(), 3);

    let renamed = json!({"id": id, "name": "Sales EMEA", "isDefault": false, "acdId": "t-1", "acdServerId": ACD_SERVER, "readOnly": true});
    assert_eq!(
        api.put(&format!("/api/rest/org/common/team/{id}"), &renamed)
            .await
            .status(),
        StatusCode::OK
    );
    let as_default = json!({"id": id, "name": "Sales EMEA", "isDefault": true, "acdId": "t-1", "acdServerId": ACD_SERVER, "readOnly": true});
    assert_eq!(
        api.put(&format!("/api/rest/org/common/team/{id}"), &as_default)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(sim.teams().iter().filter(|t| t.is_default).count(), 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn import_naming_an_unknown_agent_is_422_but_a_deactivated_agent_still_imports() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let res = api.import(&contact_import("ext-1", "nobody")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = error_body(res).await;
    assert_eq!(
        body["errorMessage"],
        messages::unknown_agent_message(ACD_SERVER, "nobody")
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with(messages::UNKNOWN_AGENT_PREFIX)
    );
    assert!(sim.contacts().is_empty());

    let id = api.create_agent("u-1").await;
    let mut person: Value = api
        .get(&format!("/api/rest/org/common/person/{id}"))
        .await
        .json()
        .await
        .unwrap();
    person["deactivated"] = json!(1_700_000_500_000i64);
    assert_eq!(
        api.put(&format!("/api/rest/org/common/person/{id}"), &person)
            .await
            .status(),
        StatusCode::OK
    );
    api.import_ok(&contact_import("ext-1", "u-1")).await;
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn metadata_keys_that_are_unknown_or_not_text_are_422_on_import_and_put() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;

    let mut body = contact_import("ext-1", "u-1");
    body["metadata"] = json!({HOLD_COUNT_KEY: "3"});
    let res = api.import(&body).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_body(res).await["errorMessage"],
        messages::metadata_key_not_text_message(HOLD_COUNT_KEY)
    );

    body["metadata"] = json!({"No-Such-key": "x"});
    let res = api.import(&body).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let msg = error_body(res).await["errorMessage"].as_str().unwrap().to_owned();
    assert!(msg.starts_with(messages::UNKNOWN_METADATA_KEY_PREFIX), "{msg}");

    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;
    let put = json!({HOLD_COUNT_KEY: {"key": HOLD_COUNT_KEY, "value": "3"}});
    let res = api
        .put(&format!("/api/rest/recording/contact/{id}/metadata"), &put)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let keys: Value = api.get("/api/rest/recording/metadatakey").await.json().await.unwrap();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["key"] == RECORDING_ID_KEY && k["type"] == "TEXT")
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn metadata_put_merges_and_replaces_only_the_keys_sent() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;
    let put = json!({
        "Call-Session-key": {"key": "Call-Session-key", "value": "s-9"},
        RECORDING_ID_KEY: {"key": RECORDING_ID_KEY, "value": "rec-2"}
    });
    assert_eq!(
        api.put(&format!("/api/rest/recording/contact/{id}/metadata"), &put)
            .await
            .status(),
        StatusCode::OK
    );
    let put = json!({"Queue-Name-key": {"key": "Queue-Name-key", "value": "Support"}});
    assert_eq!(
        api.put(&format!("/api/rest/recording/contact/{id}/metadata"), &put)
            .await
            .status(),
        StatusCode::OK
    );
    let contact: Value = api
        .get(&format!("/api/rest/recording/contact/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        contact["metadata"],
        json!({RECORDING_ID_KEY: "rec-2", "Call-Session-key": "s-9", "Queue-Name-key": "Support"})
    );
    let res = api.put("/api/rest/recording/contact/1/metadata", &put).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn lookup_by_external_id_lists_every_match_and_an_empty_list_when_none() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let none: Value = api
        .get("/api/rest/recording/contact?externalId=ext-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
    let a = api.import_ok(&contact_import("ext-1", "u-1")).await;
    let b = api.import_ok(&contact_import("ext-1", "u-1")).await;
    assert_ne!(a, b, "imports are not idempotent");
    let found: Value = api
        .get("/api/rest/recording/contact?externalId=ext-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 2);
    assert_eq!(found[0]["audioUploaded"], false);
    assert_eq!(found[0]["audioBytes"], Value::Null);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_problem() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let mut body = contact_import("ext-1", "u-1");
    body.as_object_mut().unwrap().remove("agent");
    let res = api.import(&body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let msg = error_body(res).await["errorMessage"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(messages::MALFORMED_JSON_PREFIX) && msg.contains("agent"),
        "{msg}"
    );

    let res = api
        .req(reqwest::Method::POST, "/api/rest/org/common/team")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn audio_upload_stores_the_bytes_with_their_sha256_and_a_second_upload_replaces_them() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;
    assert!(sim.render_table().contains("File not yet uploaded"));

    let first = b"ID3 first take".to_vec();
    let res = api.upload(id, "audio/mpeg", first.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["audioUploaded"], true);
    assert_eq!(body["bytes"], first.len());
    // sha256("ID3 first take")
    let expected = sha_hex(&first);
    assert_eq!(body["sha256"], expected);
    assert_eq!(sim.audio_bytes(id), Some(first));

    // chunked, no Content-Length
    let second: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let res = api.upload_chunked(id, "audio/wav", &second, 7_000).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["sha256"], sha_hex(&second));
    assert_eq!(sim.audio_bytes(id), Some(second.clone()));

    let contact: Value = api
        .get(&format!("/api/rest/recording/contact/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(contact["audioUploaded"], true);
    assert_eq!(contact["audioBytes"], second.len());
    let sim_contact = &sim.contacts()[0];
    assert_eq!(sim_contact.audio_sha256.as_deref(), Some(sha_hex(&second).as_str()));
    assert!(sim.render_table().contains("uploaded, 100000 bytes"));
    sim.shutdown().await.unwrap();
}

/// Memory mode keeps a small upload in memory and moves one that grows past its bound
/// into a file as it streams: either way the stored bytes are the uploaded ones, and a
/// replacement of either kind reads back whole.
#[tokio::test]
async fn audio_larger_than_memory_mode_keeps_in_memory_spills_to_a_file_mid_stream() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;
    // 3 MiB in 64 KiB chunks with no length: starts in memory, spills after 1 MiB.
    let large: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let res = api.upload_chunked(id, "audio/mpeg", &large, 65_536).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["sha256"], sha_hex(&large));
    assert_eq!(sim.audio_bytes(id), Some(large.clone()));
    // Replaced by a small one (memory), then by a large one with a length (a file).
    let small = b"ID3 small".to_vec();
    assert_eq!(
        api.upload(id, "audio/mpeg", small.clone()).await.status(),
        StatusCode::OK
    );
    assert_eq!(sim.audio_bytes(id), Some(small));
    let res = api.upload(id, "audio/mpeg", large[..1024 * 1024 + 1].to_vec()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sim.audio_bytes(id), Some(large[..1024 * 1024 + 1].to_vec()));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn audio_with_another_content_type_is_415_and_for_an_unknown_contact_404() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;
    let res = api.upload(id, "application/octet-stream", vec![1, 2, 3]).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    error_body(res).await;
    let res = api.upload(id + 1000, "audio/mpeg", vec![1, 2, 3]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_body(res).await["errorMessage"],
        messages::not_found_message(&format!("contact {}", id + 1000))
    );
    assert_eq!(sim.audio_bytes(id), None);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn audio_over_the_limit_is_413_with_or_without_content_length() {
    let sim = start(SimConfig {
        max_audio_bytes: 1024,
        ..SimConfig::default()
    })
    .await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    let id = api.import_ok(&contact_import("ext-1", "u-1")).await;

    let res = api.upload(id, "audio/mpeg", vec![0u8; 4096]).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    error_body(res).await;

    let res = api.upload_chunked(id, "audio/mpeg", &[1u8; 4096], 512).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(sim.audio_bytes(id), None);
    assert!(!sim.contacts()[0].contact.audio_uploaded);

    assert_eq!(
        api.upload(id, "audio/mpeg", vec![0u8; 1024]).await.status(),
        StatusCode::OK
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_at_share_one_answer_429_500_503_or_drop_but_never_on_sim_routes() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;

    sim.set_faults(Faults {
        rate_limited: 1.0,
        retry_after_secs: 3,
        ..Faults::none()
    })
    .unwrap();
    let res = api.get("/api/rest/org/common/role").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "3");
    error_body(res).await;

    sim.set_faults(Faults {
        server_error: 1.0,
        ..Faults::none()
    })
    .unwrap();
    assert_eq!(
        api.get("/api/rest/org/common/role").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // over HTTP too
    let res = api
        .http
        .post(format!("{}/sim/faults", api.base))
        .json(&json!({"unavailable": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        api.get("/api/rest/org/common/role").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        reqwest::get(format!("{}/sim/state", api.base)).await.unwrap().status(),
        StatusCode::OK
    );

    sim.set_faults(Faults {
        drop_connection: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let err = api.req(reqwest::Method::GET, "/api/rest/org/common/role").send().await;
    assert!(err.is_err(), "the connection is closed without an answer");

    sim.set_faults(Faults {
        slow: 1.0,
        slow_delay_ms: 300,
        ..Faults::none()
    })
    .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(api.get("/api/rest/org/common/role").await.status(), StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    let route = &sim.stats().routes["GET /api/rest/org/common/role"];
    assert_eq!(route.dropped, 1);
    assert_eq!(route.statuses["429"], 1);
    assert_eq!(route.faults, 4);
    let bad = api
        .http
        .post(format!("{}/sim/faults", api.base))
        .json(&json!({"slow": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let faults = Faults {
            unavailable: 0.5,
            ..Faults::none()
        };
        let sim = start(SimConfig {
            seed,
            faults,
            ..SimConfig::default()
        })
        .await;
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..20 {
            let res = http
                .get(format!("{}/api/rest/org/common/role", sim.base_url()))
                .send()
                .await
                .unwrap();
            out.push(res.status().as_u16());
        }
        sim.shutdown().await.unwrap();
        out
    }
    let a = pattern(11).await;
    assert_eq!(a, pattern(11).await);
    assert!(a.contains(&503) && a.contains(&401), "{a:?}");
}

#[tokio::test]
async fn an_import_processed_then_dropped_leaves_the_contact_behind() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    sim.set_faults(Faults {
        processed_then_dropped: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let sent = api
        .req(reqwest::Method::POST, "/api/rest/wfo/contact/import")
        .json(&contact_import("ext-1", "u-1"))
        .send()
        .await;
    assert!(sent.is_err(), "the client sees a dropped connection");
    let found: Value = api
        .get("/api/rest/recording/contact?externalId=ext-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "yet the contact was created");
    assert_eq!(sim.stats().creates.contacts, 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_write_failed_after_it_took_effect_answers_5xx_and_leaves_the_contact_behind() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    sim.set_faults(Faults {
        unavailable: 1.0,
        fail_after_write: 1.0,
        only_paths: vec!["/api/rest/wfo/contact/import".into()],
        ..Faults::none()
    })
    .unwrap();
    let sent = api
        .req(reqwest::Method::POST, "/api/rest/wfo/contact/import")
        .json(&contact_import("ext-1", "u-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the client sees a failure"
    );
    let found: Value = api
        .get("/api/rest/recording/contact?externalId=ext-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "yet the contact was created");
    let stats = sim.stats();
    assert_eq!(stats.creates.contacts, 1);
    let import = &stats.routes["POST /api/rest/wfo/contact/import"];
    assert_eq!((import.faults, import.failed_after_write), (1, 1));
    assert_eq!(import.statuses.get("503"), Some(&1));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_with_a_state_dir_keeps_persons_contacts_audio_and_id_counters() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..SimConfig::default()
    };
    let sim = start(config.clone()).await;
    let api = Api::login(&sim).await;
    let person = api.create_agent("u-1").await;
    let contact = api.import_ok(&contact_import("ext-1", "u-1")).await;
    let audio = b"RIFF....WAVEfmt ".to_vec();
    assert_eq!(
        api.upload(contact, "audio/wav", audio.clone()).await.status(),
        StatusCode::OK
    );
    let before = sim.contacts();
    sim.shutdown().await.unwrap();

    let sim = start(config).await;
    assert_eq!(sim.contacts(), before);
    assert_eq!(sim.audio_bytes(contact), Some(audio));
    assert_eq!(sim.persons().len(), 1);
    let api = Api::login(&sim).await;
    let next = api.import_ok(&contact_import("ext-2", "u-1")).await;
    assert!(next > contact, "the id counter survived");
    assert_eq!(
        api.get(&format!("/api/rest/org/common/person/{person}")).await.status(),
        StatusCode::OK
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn inspection_lists_contacts_with_their_audio_state_without_a_session() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    api.create_agent("u-1").await;
    api.import_ok(&contact_import("ext-1", "u-1")).await;
    let state: Value = reqwest::get(format!("{}/sim/state", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["contacts"][0]["audioUploaded"], false);
    assert_eq!(state["contacts"][0]["audioSha256"], Value::Null);
    assert_eq!(state["teams"][0]["name"], "Default Team");
    assert_eq!(state["requests"]["creates"]["contacts"], 1);
    let table = reqwest::get(format!("{}/sim/table", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("ext-1") && table.contains("File not yet uploaded"),
        "{table}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_tenant_with_more_than_100_metadata_keys_does_not_start() {
    let key = default_metadata_keys()[0].clone();
    let keys = vec![key; MAX_METADATA_KEYS + 1];
    let err = WfoSim::start(SimConfig {
        metadata_keys: keys,
        ..SimConfig::default()
    })
    .await
    .err();
    assert!(matches!(err, Some(SimError::TooManyMetadataKeys(101))));
    let users = vec![("other".to_owned(), Secret::new("pw"))];
    let sim = start(SimConfig {
        users,
        ..SimConfig::default()
    })
    .await;
    authorize(&reqwest::Client::new(), &sim.base_url(), "other", "pw").await;
    sim.shutdown().await.unwrap();
}

fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

// ---- queues (§3a) -------------------------------------------------------------------------------

const QUEUE_PATH: &str = "/api/rest/org/acd/queue";

fn queue_input(acd_id: &str, name: &str) -> Value {
    json!({"name": name, "acdId": acd_id, "acdServerId": ACD_SERVER, "channelType": "TELEPHONY", "active": true})
}

impl Api {
    async fn create_queue(&self, body: &Value) -> i64 {
        let res = self.post(QUEUE_PATH, body).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    async fn queues(&self, acd_server_id: i64) -> Value {
        let res = self.get(&format!("{QUEUE_PATH}?acdServerId={acd_server_id}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_queue_is_created_listed_per_acd_server_and_updated_whole() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let id = api.create_queue(&queue_input("q-1", "Billing")).await;
    let mut other = queue_input("q-1", "Billing");
    other["acdServerId"] = json!(ACD_SERVER + 1);
    api.create_queue(&other).await;

    let listed = api.queues(ACD_SERVER).await;
    assert_eq!(
        listed,
        json!([{"id": id, "name": "Billing", "acdId": "q-1", "acdServerId": ACD_SERVER,
                "channelType": "TELEPHONY", "active": true}])
    );
    assert_eq!(api.queues(99).await, json!([]));

    let renamed = json!({"id": id, "name": "Payments", "acdId": "q-1", "acdServerId": ACD_SERVER,
                         "channelType": "CHAT", "active": false});
    assert_eq!(
        api.put(&format!("{QUEUE_PATH}/{id}"), &renamed).await.status(),
        StatusCode::OK
    );
    assert_eq!(api.queues(ACD_SERVER).await, json!([renamed]));
    let q = &sim.queues()[0];
    assert_eq!((q.name.as_str(), q.active), ("Payments", false));
    assert_eq!(sim.stats().creates.queues, 2);
    assert_eq!(
        sim.stats().routes["PUT /api/rest/org/acd/queue/{id}"].statuses["200"],
        1
    );
    assert!(sim.duplicate_queues().is_empty(), "one queue per pair and server");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_identical_queue_posts_make_two_queues_and_a_recorded_violation() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let a = api.create_queue(&queue_input("q-1", "Billing")).await;
    let b = api.create_queue(&queue_input("q-1", "Billing")).await;
    assert_ne!(a, b);
    assert_eq!(api.queues(ACD_SERVER).await.as_array().unwrap().len(), 2);
    let state: Value = reqwest::get(format!("{}/sim/state", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["duplicateQueues"][0]["queueIds"], json!([a, b]));
    assert_eq!(state["queues"].as_array().unwrap().len(), 2);
    assert_eq!(
        state["requests"]["routes"]["POST /api/rest/org/acd/queue"]["creates"],
        2
    );
    assert_eq!(sim.duplicate_queues()[0].queue_ids, vec![a, b]);
    assert!(
        sim.render_table()
            .contains(&format!("WARNING: queue {ACD_SERVER}/q-1 exists 2 times"))
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn queue_requests_that_break_the_contract_are_rejected_with_the_error_body() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    let id = api.create_queue(&queue_input("q-1", "Billing")).await;

    let cases = [
        (api.get(QUEUE_PATH).await, StatusCode::BAD_REQUEST, "acdServerId"),
        (
            api.get(&format!("{QUEUE_PATH}?acdServerId=x")).await,
            StatusCode::BAD_REQUEST,
            "integer",
        ),
        (
            api.post(QUEUE_PATH, &queue_input("q-2", " ")).await,
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            api.post(QUEUE_PATH, &queue_input("", "Sales")).await,
            StatusCode::BAD_REQUEST,
            "acdId",
        ),
        (
            api.post(
                QUEUE_PATH,
                &json!({"name": "Sales", "acdId": "q-2", "acdServerId": ACD_SERVER,
                                          "channelType": "VOICE", "active": true}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "VOICE",
        ),
        (
            api.put(
                &format!("{QUEUE_PATH}/{}", id + 1),
                &json!({"id": id, "name": "B", "acdId": "q-1",
                     "acdServerId": ACD_SERVER, "channelType": "SMS", "active": true}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "does not match",
        ),
        (
            api.put(
                &format!("{QUEUE_PATH}/{}", id + 7),
                &json!({"id": id + 7, "name": "B", "acdId": "q-1",
                     "acdServerId": ACD_SERVER, "channelType": "SMS", "active": true}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "queue",
        ),
        (
            api.put(
                &format!("{QUEUE_PATH}/{id}"),
                &json!({"id": id, "name": "B", "acdId": "q-9",
                     "acdServerId": ACD_SERVER, "channelType": "SMS", "active": true}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "cannot change",
        ),
        (
            api.req(reqwest::Method::DELETE, &format!("{QUEUE_PATH}/{id}"))
                .send()
                .await
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "DELETE",
        ),
    ];
    for (i, (res, status, needle)) in cases.into_iter().enumerate() {
        assert_eq!(res.status(), status, "case {i}");
        let body = error_body(res).await;
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "case {i}: {message}");
    }
    let q = &sim.queues();
    assert_eq!(
        (q.len(), q[0].name.as_str(), q[0].active),
        (1, "Billing", true),
        "nothing changed, nothing deleted"
    );

    let res = reqwest::Client::new()
        .get(format!("{}{QUEUE_PATH}?acdServerId={ACD_SERVER}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a session is required");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_queue_post_failed_after_it_took_effect_leaves_the_queue_behind() {
    let sim = start(SimConfig::default()).await;
    let api = Api::login(&sim).await;
    sim.set_faults(Faults {
        server_error: 1.0,
        fail_after_write: 1.0,
        only_paths: vec![QUEUE_PATH.into()],
        ..Faults::none()
    })
    .unwrap();
    let res = api.post(QUEUE_PATH, &queue_input("q-1", "Billing")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sim.queues().len(), 1, "yet the queue was created");
    let route = &sim.stats().routes["POST /api/rest/org/acd/queue"];
    assert_eq!((route.faults, route.failed_after_write, route.creates), (1, 1, 1));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_with_a_state_dir_keeps_queues_and_their_id_counter() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..SimConfig::default()
    };
    let sim = start(config.clone()).await;
    let api = Api::login(&sim).await;
    let first = api.create_queue(&queue_input("q-1", "Billing")).await;
    let before = sim.queues();
    sim.shutdown().await.unwrap();

    let sim = start(config).await;
    assert_eq!(sim.queues(), before);
    let api = Api::login(&sim).await;
    assert!(api.create_queue(&queue_input("q-2", "Sales")).await > first);
    sim.shutdown().await.unwrap();
}
