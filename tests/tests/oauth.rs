//! OAuth and webhook registration, bad inputs first: each case through the real routes
//! (`GET /oauth/{id}/authorize`, `GET /oauth/callback`) or the real job functions, with
//! the expected outcome and nothing half-stored. The identity service is the Webex
//! simulator where it can produce the case, and a `wiremock` server where it cannot
//! (malformed or token-less answers, non-OAuth error pages, slowness beyond a timeout).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_harness::{Harness, HarnessConfig};
use wfo_http::RetryPolicy;
use wfo_pipeline::auth::{self, AuthError, RefreshOutcome};
use wfo_pipeline::health::access_lines;
use wfo_pipeline::metrics::REAUTHORIZATION_REQUIRED;
use wfo_pipeline::ports::{ConnectorStore, Store, StoredConnector, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::refresh_job::{self, TokenResult};
use wfo_pipeline::registration::{self, Registration};
use wfo_pipeline::routes::{AppState, router};
use wfo_sim_webex::{Consent, Fault, Integration, WebexSim, WebexSimConfig};
use wfo_store::SqliteStore;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "Cwiremock0000000000000000000000000000000000000000000000000000001";
const CLIENT_SECRET: &str = "wm-client-secret-5d1e";

/// The routes of one runner over a store of their own, on 127.0.0.1.
struct Routes {
    base: String,
    store: Arc<SqliteStore>,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Routes {
    /// `token_timeout` bounds every token request (the runner uses 30 s).
    async fn start(token_timeout: Duration) -> Self {
        common::init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dyn_store: Arc<dyn Store> = store.clone();
        let app = router(AppState {
            connections: common::connections(
                dyn_store,
                &auth::token_http_client(token_timeout).unwrap(),
                &RetryPolicy::fast(),
            ),
            public_url: base.clone(),
            work_ready: Arc::new(tokio::sync::Notify::new()),
            connector_cache: Arc::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            store,
            http,
            stop,
            task,
            _dir: dir,
        }
    }

    async fn add(&self, id: &str, identity_url: &str) -> StoredConnector {
        self.store
            .put_connector(&config(id, identity_url), Utc::now())
            .await
            .unwrap()
    }

    /// Open the Authorization URL; returns where it redirects and the `state` in it.
    async fn authorize(&self, id: &str) -> (String, String) {
        let resp = self
            .http
            .get(format!("{}/oauth/{id}/authorize", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 302, "{}", resp.text().await.unwrap_or_default());
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let state = query_param(&location, "state").expect("state in the redirect");
        (location, state)
    }

    async fn callback(&self, query: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}/oauth/callback", self.base))
            .query(query)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn tokens(&self, id: &str) -> TokenRecord {
        self.store.get_tokens(id).await.unwrap()
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

fn query_param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn config(id: &str, identity_url: &str) -> ConnectorConfig {
    ConnectorConfig::from_toml(&format!(
        r#"
id = "{id}"
acd_name = "Test {id}"
kind = "webex-calling"
acd_server_id = 3

[source]
api_url = "{identity_url}"
identity_url = "{identity_url}"
tenant_id = "{WM_ORG}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"

[wfo]
api_url = "http://127.0.0.1:9"
username = "api-user"
password = "wm-wfo-password"
"#
    ))
    .unwrap()
}

fn token_answer(access: &str, refresh: Option<&str>) -> Value {
    let mut v = json!({"access_token": access, "expires_in": 1_209_600, "token_type": "Bearer", "scope": "spark-compliance:recordings_read"});
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
        v["refresh_token_expires_in"] = json!(7_776_000);
    }
    v
}

/// The organization of the wiremock connectors.
const WM_ORG: &str = "abcdefab-1111-4222-8333-444455556666";

/// `GET /v1/people/me` answering a person of [`WM_ORG`] (base64 REST id, as Webex does).
async fn identity_endpoint(server: &MockServer) {
    use base64::Engine;
    let org = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ciscospark://us/ORGANIZATION/{WM_ORG}"));
    Mock::given(method("GET"))
        .and(path("/v1/people/me"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "p1", "emails": ["admin@wm.example"], "orgId": org})),
        )
        .mount(server)
        .await;
}

async fn token_endpoint(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// Tokens as if authorized `age` ago, refresh token `refresh`.
async fn seed_tokens(store: &dyn Store, id: &str, refresh: &str, age: chrono::Duration) -> TokenSet {
    let obtained = Utc::now() - age;
    let set = TokenSet {
        access_token: Secret::new(format!("seeded-access-{id}")),
        access_expires_at: obtained + chrono::Duration::days(14),
        refresh_token: Some(Secret::new(refresh)),
        refresh_expires_at: Some(obtained + chrono::Duration::days(90)),
        scopes: vec!["spark-compliance:recordings_read".into()],
        obtained_at: obtained,
    };
    let current = store.get_tokens(id).await.unwrap();
    let record = TokenRecord {
        tokens: Some(set.clone()),
        reauth_required: None,
        version: current.version,
    };
    store.put_tokens(id, &record, current.version).await.unwrap();
    set
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::fast()
    }
}

// --- state ------------------------------------------------------------------------------

#[tokio::test]
async fn a_tampered_state_is_refused_with_400_and_nothing_is_stored_while_the_genuine_one_still_works() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_answer("wm-access-tamper", Some("wm-refresh-tamper"))),
        )
        .expect(1)
        .mount(&idp)
        .await;
    identity_endpoint(&idp).await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("tamper", &idp.uri()).await;
    let (_, state) = r.authorize("tamper").await;
    let parts: Vec<&str> = state.split('.').collect();
    assert_eq!(parts.len(), 4, "{{connector}}.{{nonce}}.{{expiry}}.{{signature}}");
    let later = (parts[2].parse::<i64>().unwrap() + 3600).to_string();
    let mut flipped_sig = parts[3].to_owned();
    flipped_sig.replace_range(0..1, if flipped_sig.starts_with('0') { "1" } else { "0" });
    let tampered = [
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], flipped_sig),
        format!("{}.{}.{}.{}", parts[0], parts[1], later, parts[3]),
        format!(
            "{}.{}.{}.{}",
            parts[0], "00112233445566778899aabbccddeeff", parts[2], parts[3]
        ),
        format!("{}.{}", parts[0], parts[1]),
        "garbage".to_owned(),
    ];
    for bad in &tampered {
        let (status, page) = r.callback(&[("code", "any-code"), ("state", bad)]).await;
        assert_eq!(status, 400, "{bad}: {page}");
        assert!(
            page.contains("invalid state") && page.contains("Nothing was stored"),
            "{page}"
        );
        assert!(r.tokens("tamper").await.tokens.is_none(), "{bad}");
    }
    // The refused attempts did not use up the genuine state.
    let (status, page) = r.callback(&[("code", "the-code"), ("state", &state)]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        r.tokens("tamper").await.tokens.unwrap().access_token.expose(),
        "wm-access-tamper"
    );
    r.shutdown().await;
}

#[tokio::test]
async fn an_expired_state_is_refused_with_400_and_nothing_is_stored() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&idp)
        .await;
    let r = Routes::start(Duration::from_secs(5)).await;
    let c = r.add("expired", &idp.uri()).await;
    // An Authorization URL opened 11 minutes ago (states live 10).
    let url = auth::authorization_url(
        r.store.as_ref(),
        &c,
        wfo_pipeline::ports::CredentialScheme::OAuth,
        &r.base,
        Utc::now() - chrono::Duration::minutes(11),
    )
    .await
    .unwrap();
    let state = query_param(&url, "state").unwrap();
    let (status, page) = r.callback(&[("code", "c"), ("state", &state)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");
    assert!(r.tokens("expired").await.tokens.is_none());
    r.shutdown().await;
}

#[tokio::test]
async fn a_reused_state_is_refused_with_400_and_the_stored_tokens_stay_as_they_were() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer("wm-access-once", Some("wm-refresh-once"))))
        .expect(1)
        .mount(&idp)
        .await;
    identity_endpoint(&idp).await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("reuse", &idp.uri()).await;
    let (_, state) = r.authorize("reuse").await;
    assert_eq!(r.callback(&[("code", "c1"), ("state", &state)]).await.0, 200);
    let before = r.tokens("reuse").await;

    let (status, page) = r.callback(&[("code", "c2"), ("state", &state)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("already used"), "{page}");
    assert_eq!(r.tokens("reuse").await, before, "nothing changed");
    r.shutdown().await;
}

#[tokio::test]
async fn a_state_of_another_connector_another_installation_or_no_connector_is_refused() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&idp)
        .await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("ours", &idp.uri()).await;
    r.add("theirs", &idp.uri()).await;
    let (_, theirs) = r.authorize("theirs").await;
    let (_, ours) = r.authorize("ours").await;
    let rest = theirs.split_once('.').unwrap().1;
    // Another installation: same connector id, a state key we never had.
    let elsewhere = {
        let other = Routes::start(Duration::from_secs(5)).await;
        other.add("ours", &idp.uri()).await;
        let (_, s) = other.authorize("ours").await;
        other.shutdown().await;
        s
    };
    let ours_rest = ours.split_once('.').unwrap().1;
    for (case, bad) in [
        ("another connector's state relabelled", format!("ours.{rest}")),
        ("another installation's state", elsewhere),
        ("a state naming no connector", format!("nobody.{ours_rest}")),
    ] {
        let (status, page) = r.callback(&[("code", "c"), ("state", &bad)]).await;
        assert_eq!(status, 400, "{case}: {page}");
        assert!(page.contains("invalid state"), "{case}: {page}");
    }
    assert!(r.tokens("ours").await.tokens.is_none());
    assert!(r.tokens("theirs").await.tokens.is_none());
    r.shutdown().await;
}

#[tokio::test]
async fn a_callback_without_state_or_without_code_is_refused_and_stores_nothing() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&idp)
        .await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("partial", &idp.uri()).await;
    let (status, page) = r.callback(&[("code", "c")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("no state"), "{page}");
    let (_, state) = r.authorize("partial").await;
    let (status, page) = r.callback(&[("state", &state)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("no code"), "{page}");
    let (status, _) = r.callback(&[("state", &state), ("code", "")]).await;
    assert_eq!(status, 400, "the state was used by the first callback");
    assert!(r.tokens("partial").await.tokens.is_none());
    r.shutdown().await;
}

#[tokio::test]
async fn an_admin_refusing_consent_gets_a_page_saying_so_and_nothing_is_stored() {
    let r = Routes::start(Duration::from_secs(5)).await;
    let sim = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    sim.add_integration(Integration::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{}/oauth/callback", r.base),
    ));
    sim.set_consent(Consent::Refuse);
    r.add("refused", sim.base_url()).await;

    let (consent_page, _) = r.authorize("refused").await;
    let back = r.http.get(&consent_page).send().await.unwrap();
    assert_eq!(back.status().as_u16(), 302);
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&callback, "error").as_deref(), Some("access_denied"));
    let resp = r.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Authorization refused") && page.contains("access_denied"),
        "{page}"
    );
    assert!(page.contains("Nothing was stored"), "{page}");
    assert!(r.tokens("refused").await.tokens.is_none());
    sim.shutdown().await;
    r.shutdown().await;
}

// --- the code exchange --------------------------------------------------------------------

#[tokio::test]
async fn every_failing_code_exchange_answers_a_page_naming_the_problem_and_stores_nothing() {
    let leaked_token = "wm-access-in-a-broken-answer-0123456789abcdef";
    let cases: Vec<(&str, ResponseTemplate, u16, &str)> = vec![
        (
            "400 invalid_grant (code used or expired)",
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "The authorization code is invalid."}),
            ),
            400,
            "invalid_grant",
        ),
        (
            "401 invalid_client (wrong client secret)",
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
            400,
            "invalid_client",
        ),
        (
            "401 from a proxy, no OAuth body",
            ResponseTemplate::new(401).set_body_string("<html>Unauthorized</html>"),
            400,
            "HTTP 401",
        ),
        (
            "500",
            ResponseTemplate::new(500).set_body_string("internal error"),
            502,
            "HTTP 500",
        ),
        (
            "503 with Retry-After",
            ResponseTemplate::new(503).insert_header("Retry-After", "5"),
            502,
            "HTTP 503",
        ),
        (
            "slower than the timeout",
            ResponseTemplate::new(200)
                .set_body_json(token_answer("late", Some("late")))
                .set_delay(Duration::from_secs(3)),
            502,
            "could not be reached",
        ),
        (
            "malformed JSON carrying a token",
            ResponseTemplate::new(200).set_body_raw(
                format!("{{\"access_token\": \"{leaked_token}\", \"expires_in\": "),
                "application/json",
            ),
            502,
            "malformed token response",
        ),
        (
            "200 without an access token",
            ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})),
            502,
            "malformed token response",
        ),
    ];
    let r = Routes::start(Duration::from_millis(800)).await;
    for (i, (case, answer, want_status, want_text)) in cases.into_iter().enumerate() {
        let idp = MockServer::start().await;
        token_endpoint(&idp, answer).await;
        let id = format!("exchange-{i}");
        r.add(&id, &idp.uri()).await;
        let (_, state) = r.authorize(&id).await;
        let (status, page) = r.callback(&[("code", "a-code"), ("state", &state)]).await;
        assert_eq!(status, want_status, "{case}: {page}");
        assert!(page.contains(want_text), "{case}: {page}");
        assert!(
            page.contains("Nothing was stored") && page.contains("Open the Authorization URL again"),
            "{case}: {page}"
        );
        assert!(!page.contains(leaked_token), "{case}: the page repeats a token: {page}");
        let record = r.tokens(&id).await;
        assert!(
            record.tokens.is_none() && record.reauth_required.is_none(),
            "{case}: {record:?}"
        );
    }
    r.shutdown().await;
}

#[tokio::test]
async fn a_connector_without_client_credentials_gets_a_clear_error_at_every_door() {
    // Configuration: refused when added, naming the field.
    let text = r#"
id = "no-creds"
acd_name = "No creds"
kind = "webex-calling"
acd_server_id = 3
[source]
api_url = "https://webexapis.com"
client_id = "C123"
[wfo]
api_url = "https://wfo.example"
username = "u"
password = "p"
"#;
    let err = ConnectorConfig::from_toml(text).unwrap_err().to_string();
    assert!(err.contains("source.client_secret"), "{err}");

    // A stored connector that lost them (an older state directory): the Authorization
    // URL answers a page naming the fields and mints no state; a refresh says the same.
    let r = Routes::start(Duration::from_secs(5)).await;
    let mut cfg = config("no-creds", "http://127.0.0.1:9");
    cfg.source.client_secret = None;
    let c = r.store.put_connector(&cfg, Utc::now()).await.unwrap();
    let resp = r
        .http
        .get(format!("{}/oauth/no-creds/authorize", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let page = resp.text().await.unwrap();
    assert!(page.contains("source.client_id / source.client_secret"), "{page}");
    seed_tokens(
        r.store.as_ref(),
        "no-creds",
        "wm-refresh-nocreds",
        chrono::Duration::hours(12),
    )
    .await;
    let http = auth::token_http_client(Duration::from_secs(1)).unwrap();
    let err = auth::refresh(r.store.as_ref(), &c, &http, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::NoClientCredentials(_)) && err.needs_operator(),
        "{err}"
    );
    let run = refresh_job::run_connector(
        &common::connections(r.store.clone(), &http, &fast_policy()),
        &c,
        &r.base,
        &fast_policy(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&run.tokens, TokenResult::NeedsOperator(e) if e.contains("client credentials")),
        "{run:?}"
    );
    r.shutdown().await;
}

// --- refresh --------------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_answer_without_a_new_refresh_token_keeps_the_stored_one_and_its_expiry() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=wm-refresh-kept"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "wm-access-new", "expires_in": 3600, "token_type": "Bearer"})),
        )
        .expect(1)
        .mount(&idp)
        .await;
    let r = Routes::start(Duration::from_secs(5)).await;
    let c = r.add("keep-refresh", &idp.uri()).await;
    let before = seed_tokens(
        r.store.as_ref(),
        "keep-refresh",
        "wm-refresh-kept",
        chrono::Duration::hours(12),
    )
    .await;
    let http = auth::token_http_client(Duration::from_secs(5)).unwrap();
    let now = Utc::now();
    let outcome = auth::refresh(r.store.as_ref(), &c, &http, now).await.unwrap();
    assert!(matches!(outcome, RefreshOutcome::Refreshed { .. }), "{outcome:?}");
    let after = r.tokens("keep-refresh").await.tokens.unwrap();
    assert_eq!(after.access_token.expose(), "wm-access-new");
    assert_eq!(
        after.access_expires_at,
        now + chrono::Duration::seconds(3600),
        "expires_in is trusted"
    );
    assert_eq!(after.refresh_token, before.refresh_token);
    assert_eq!(after.refresh_expires_at, before.refresh_expires_at);
    assert_eq!(
        after.scopes, before.scopes,
        "no scope in the answer: the ones held stay"
    );
    r.shutdown().await;
}

#[tokio::test]
async fn transient_refresh_failures_are_retried_with_backoff_within_the_same_run() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&idp)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_answer("wm-access-retried", Some("wm-refresh-retried"))),
        )
        .expect(1)
        .mount(&idp)
        .await;
    let r = Routes::start(Duration::from_secs(5)).await;
    let c = r.add("retry", &idp.uri()).await;
    seed_tokens(r.store.as_ref(), "retry", "wm-refresh-old", chrono::Duration::hours(12)).await;
    let http = auth::token_http_client(Duration::from_secs(5)).unwrap();
    let run = refresh_job::run_connector(
        &common::connections(r.store.clone(), &http, &fast_policy()),
        &c,
        &r.base,
        &fast_policy(),
    )
    .await
    .unwrap();
    assert!(
        matches!(run.tokens, TokenResult::Refreshed { attempts: 3, .. }),
        "{run:?}"
    );
    let t = r.tokens("retry").await;
    assert_eq!(t.tokens.unwrap().refresh_token.unwrap().expose(), "wm-refresh-retried");
    assert!(t.reauth_required.is_none());
    r.shutdown().await;
}

#[tokio::test]
async fn a_refresh_failing_transiently_all_run_long_keeps_the_tokens_and_asks_for_an_early_rerun() {
    let cases = [
        ("502", ResponseTemplate::new(502)),
        (
            "429 Retry-After",
            ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        ),
        (
            "temporarily_unavailable",
            ResponseTemplate::new(503).set_body_json(json!({"error": "temporarily_unavailable"})),
        ),
        (
            "malformed JSON",
            ResponseTemplate::new(200).set_body_raw("{\"access_token\":", "application/json"),
        ),
        (
            "slow",
            ResponseTemplate::new(200)
                .set_body_json(token_answer("late", Some("late")))
                .set_delay(Duration::from_secs(2)),
        ),
    ];
    let r = Routes::start(Duration::from_secs(5)).await;
    let http = auth::token_http_client(Duration::from_millis(500)).unwrap();
    for (i, (case, answer)) in cases.into_iter().enumerate() {
        let idp = MockServer::start().await;
        // Four attempts in the run with backoff, then one more run of a single attempt.
        Mock::given(method("POST"))
            .and(path("/v1/access_token"))
            .respond_with(answer)
            .expect(5)
            .mount(&idp)
            .await;
        let id = format!("flaky-{i}");
        let c = r.add(&id, &idp.uri()).await;
        let before = seed_tokens(r.store.as_ref(), &id, "wm-refresh-flaky", chrono::Duration::hours(12)).await;
        let started = std::time::Instant::now();
        let (result, attempts) = refresh_job::refresh_with_backoff(
            common::connections(r.store.clone(), &http, &fast_policy())
                .credentials(&c)
                .unwrap()
                .as_ref(),
            &c.config.id,
            &fast_policy(),
        )
        .await;
        let err = result.unwrap_err();
        assert!(err.is_retryable(), "{case}: {err}");
        assert_eq!(attempts, 4, "{case}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{case}: backoff stays within the budget"
        );
        let t = r.tokens(&id).await;
        assert_eq!(t.tokens.as_ref(), Some(&before), "{case}: tokens untouched");
        assert!(
            t.reauth_required.is_none(),
            "{case}: a transient failure never asks for re-authorization"
        );
        let once = RetryPolicy {
            max_attempts: 1,
            ..fast_policy()
        };
        let run =
            refresh_job::run_connector(&common::connections(r.store.clone(), &http, &once), &c, &r.base, &once).await;
        let report = refresh_job::JobReport {
            connectors: run.into_iter().collect(),
        };
        assert!(report.retry_soon(), "{case}: {report:?}");
        idp.reset().await;
    }
    r.shutdown().await;
}

#[tokio::test]
async fn a_permanently_refused_refresh_requires_reauthorization_once_recorded_with_time_reason_and_a_metric() {
    let cases = [
        ("invalid_grant", ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": "The refresh token provided is expired, revoked, malformed, or invalid."})), "invalid_grant"),
        ("invalid_client", ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})), "invalid_client"),
        ("403 without OAuth body", ResponseTemplate::new(403).set_body_string("Forbidden"), "HTTP 403"),
    ];
    common::metric_lines();
    let r = Routes::start(Duration::from_secs(5)).await;
    let http = auth::token_http_client(Duration::from_secs(5)).unwrap();
    for (i, (case, answer, reason)) in cases.into_iter().enumerate() {
        let idp = MockServer::start().await;
        // One request in all, however many runs follow.
        Mock::given(method("POST"))
            .and(path("/v1/access_token"))
            .respond_with(answer)
            .expect(1)
            .mount(&idp)
            .await;
        let id = format!("refused-{i}");
        let c = r.add(&id, &idp.uri()).await;
        let before = seed_tokens(r.store.as_ref(), &id, "wm-refresh-refused", chrono::Duration::hours(12)).await;
        let started = Utc::now();
        for _ in 0..3 {
            let run = refresh_job::run_connector(
                &common::connections(r.store.clone(), &http, &fast_policy()),
                &c,
                &r.base,
                &fast_policy(),
            )
            .await
            .unwrap();
            assert!(
                matches!(&run.tokens, TokenResult::NeedsOperator(e) if e.contains(reason)),
                "{case}: {run:?}"
            );
        }
        let t = r.tokens(&id).await;
        let (since, why) = t.reauth_required.clone().unwrap();
        assert!(since >= started && since <= Utc::now(), "{case}: recorded when");
        assert!(why.contains(reason), "{case}: {why}");
        assert_eq!(
            t.tokens.as_ref(),
            Some(&before),
            "{case}: the refused tokens are kept, not half-replaced"
        );
        let lines = access_lines(r.store.as_ref(), &c, Utc::now()).await.unwrap().join("\n");
        assert!(
            lines.contains("REAUTHORIZATION REQUIRED") && lines.contains(reason),
            "{case}: {lines}"
        );
        assert!(
            lines.contains(&format!("wfo-connect connector auth-url {id}")),
            "{lines}"
        );
        let metrics = common::metrics_of(&id, REAUTHORIZATION_REQUIRED);
        assert_eq!(metrics.len(), 1, "{case}: one metric for one transition: {metrics:?}");
        assert_eq!(metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "wfo-connect");
        assert!(metrics[0]["Reason"].as_str().unwrap().contains(reason));
    }
    r.shutdown().await;
}

// --- webhook registration ------------------------------------------------------------------

async fn harness(tweak: impl FnOnce(&mut HarnessConfig)) -> (Harness, tempfile::TempDir) {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().join("state"));
    tweak(&mut cfg);
    (Harness::start(cfg).await.unwrap(), dir)
}

async fn stored(h: &Harness) -> StoredConnector {
    h.store.get_connector(&h.connector.id).await.unwrap().unwrap()
}

fn token_http() -> reqwest::Client {
    auth::token_http_client(Duration::from_secs(10)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_webhook_api_refusing_creation_leaves_the_poller_importing_says_why_and_is_retried_on_the_next_refresh_run()
{
    let (h, _dir) = harness(|_| {}).await;
    h.webex.push_route_fault("POST /v1/webhooks", 0, 1, Fault::Status(403));
    h.authorize().await.unwrap();
    let c = stored(&h).await;
    let status = common::eventually(Duration::from_secs(10), || async {
        registration::load_status(h.store.as_ref(), &h.connector.id)
            .await
            .unwrap()
    })
    .await
    .expect("the refusal is recorded");
    assert!(!status.ok && status.detail.contains("403"), "{status:?}");
    assert!(h.webex.webhooks().is_empty());
    let lines = access_lines(h.store.as_ref(), &c, Utc::now()).await.unwrap().join("\n");
    assert!(
        lines.contains("webhook:  NOT REGISTERED")
            && lines.contains("403")
            && lines.contains("the poller imports meanwhile"),
        "{lines}"
    );

    // Imports go on through the poller.
    let call = h
        .instantiate("basic-inbound", Utc::now() - chrono::Duration::minutes(30))
        .unwrap();
    h.webex.publish(&call).await;
    assert!(
        h.wait_settled(&call.recording_ids(), Duration::from_secs(20))
            .await
            .is_empty()
    );
    assert!(h.check(&call).is_empty(), "{:?}", h.check(&call));

    // The next refresh run registers it.
    let report = refresh_job::run(
        &common::connections(h.store.clone(), &token_http(), &fast_policy()),
        &h.runtime.public_url,
        &fast_policy(),
    )
    .await
    .unwrap();
    assert!(
        matches!(report.connectors[0].webhook, Some(Ok(Registration::Created(_)))),
        "{report:?}"
    );
    assert_eq!(h.webex.webhooks().len(), 1);
    let lines = access_lines(h.store.as_ref(), &c, Utc::now()).await.unwrap().join("\n");
    assert!(lines.contains("webhook:  created"), "{lines}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_lists_first_and_reuses_the_one_webhook_across_runs_restarts_and_concurrent_callers() {
    let (h, dir) = harness(|c| c.webhook = false).await;
    h.authorize().await.unwrap();
    let c = stored(&h).await;
    let policy = fast_policy();
    let http = token_http();
    let conns = common::connections(h.store.clone(), &http, &policy);

    // Four at once (the callback, the refresh job, another process…): one creates.
    let runs =
        futures::future::join_all((0..4).map(|_| registration::ensure_webhook(&conns, &c, &h.runtime.public_url)))
            .await;
    let created = runs
        .iter()
        .filter(|r| matches!(r, Ok(Registration::Created(_))))
        .count();
    assert_eq!(created, 1, "{runs:?}");
    assert!(runs.iter().all(|r| r.is_ok()), "{runs:?}");
    assert_eq!(h.webex.webhooks().len(), 1);
    let id = h.webex.webhooks()[0].webhook.id.clone();

    // Later runs, and a restarted process over the same state directory, reuse it.
    for _ in 0..3 {
        let r = registration::ensure_webhook(&conns, &c, &h.runtime.public_url)
            .await
            .unwrap();
        assert_eq!(r, Registration::Unchanged(id.clone()));
    }
    let reopened = Arc::new(SqliteStore::open(&dir.path().join("state")).unwrap());
    let r = registration::ensure_webhook(
        &common::connections(reopened, &http, &policy),
        &c,
        &h.runtime.public_url,
    )
    .await
    .unwrap();
    assert_eq!(r, Registration::Unchanged(id.clone()));

    // A connector re-added on a fresh state directory (new webhook secret) takes the
    // existing webhook over and re-sets its secret instead of creating a second one.
    let fresh = Arc::new(SqliteStore::open(&dir.path().join("fresh")).unwrap());
    let re_added = fresh.put_connector(&h.connector, Utc::now()).await.unwrap();
    assert_ne!(re_added.secrets.webhook_secret, c.secrets.webhook_secret);
    let mut tokens = h.store.get_tokens(&h.connector.id).await.unwrap();
    tokens.version = 0;
    fresh.put_tokens(&h.connector.id, &tokens, 0).await.unwrap();
    let r = registration::ensure_webhook(
        &common::connections(fresh.clone(), &http, &policy),
        &re_added,
        &h.runtime.public_url,
    )
    .await
    .unwrap();
    assert_eq!(r, Registration::SecretUpdated(id.clone()));
    let hooks = h.webex.webhooks();
    assert_eq!(hooks.len(), 1, "never a duplicate");
    assert_eq!(
        hooks[0].webhook.secret.as_deref(),
        Some(re_added.secrets.webhook_secret.expose())
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_the_source_deactivated_after_failed_deliveries_is_reactivated_by_the_next_refresh_run() {
    let (h, _dir) = harness(|_| {}).await;
    h.authorize().await.unwrap();
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await);
    let hook = h.webex.webhooks()[0].webhook.clone();
    // Deliveries start failing (signed with a secret we do not hold: our route answers
    // 401), and after two failures in a row the source deactivates the webhook.
    h.webex.set_webhook_failure_threshold(2);
    let token = h
        .store
        .get_tokens(&h.connector.id)
        .await
        .unwrap()
        .tokens
        .unwrap()
        .access_token;
    let webex = wfo_webex_calling::WebexCallingClient::new(
        reqwest::Client::new(),
        url::Url::parse(h.webex.base_url()).unwrap(),
        RetryPolicy::fast(),
    );
    let listed = webex.list_webhooks(&token, true).await.unwrap();
    let mut update = wfo_webex_calling::WebhookUpdate::reactivate(&listed[0]);
    update.secret = Some(Secret::new("a-secret-we-do-not-hold"));
    webex.update_webhook(&token, &hook.id, &update).await.unwrap();
    let missed: Vec<_> = (0..2)
        .map(|i| {
            h.instantiate("basic-outbound", Utc::now() - chrono::Duration::minutes(60 - i))
                .unwrap()
        })
        .collect();
    for m in &missed {
        h.webex.publish(m).await;
    }
    assert_eq!(h.webex.webhooks()[0].webhook.status, "inactive");

    let report = refresh_job::run(
        &common::connections(h.store.clone(), &token_http(), &fast_policy()),
        &h.runtime.public_url,
        &fast_policy(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.connectors[0].webhook,
        Some(Ok(Registration::Reactivated(hook.id.clone()))),
        "{report:?}"
    );
    let after = h.webex.webhooks();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].webhook.status, "active");
    assert_eq!(
        after[0].webhook.secret.as_deref(),
        Some(stored(&h).await.secrets.webhook_secret.expose())
    );

    // Deliveries work again, and the poller imported what the webhook missed.
    let next = h
        .instantiate("hold-resume", Utc::now() - chrono::Duration::minutes(20))
        .unwrap();
    h.webex.publish(&next).await;
    let last = h.webex.deliveries().last().cloned().unwrap();
    assert!(
        matches!(last.outcome, wfo_sim_webex::DeliveryOutcome::Response { status: 200 }),
        "{last:?}"
    );
    let ids: Vec<String> = missed.iter().chain([&next]).flat_map(|c| c.recording_ids()).collect();
    assert!(h.wait_settled(&ids, Duration::from_secs(20)).await.is_empty());
    for c in missed.iter().chain([&next]) {
        assert!(h.check(c).is_empty(), "{}: {:?}", c.scenario, h.check(c));
    }
    h.shutdown().await;
}

// ---- who authorized ---------------------------------------------------------------------

const STRANGER_ORG: &str = "11111111-2222-4333-8444-555555555555";

fn stranger() -> wfo_sim_webex::ForeignAccount {
    wfo_sim_webex::ForeignAccount {
        id: "99999999-8888-4777-8666-555555555555".into(),
        email: "stranger@elsewhere.example".into(),
        org_id: STRANGER_ORG.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_org_completing_the_authorization_url_flow_stores_nothing_and_the_own_org_can_authorize_after() {
    let (h, _dir) = harness(|_| {}).await;
    let before = stored(&h).await;
    h.webex.set_consenting_account(Some(stranger()));
    let err = h.authorize().await.unwrap_err().to_string();
    assert!(err.contains("403"), "{err}");
    assert!(
        err.contains(&h.webex.org_id()) && err.contains(STRANGER_ORG),
        "the page names both orgs: {err}"
    );
    assert!(err.contains("Nothing was stored"), "{err}");
    let tokens = h.store.get_tokens(&h.connector.id).await.unwrap();
    assert!(tokens.tokens.is_none(), "no token of the stranger is kept");
    assert_eq!(stored(&h).await.secrets, before.secrets, "the secrets are untouched");
    // Give a registration that should not happen the time to show itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.webex.foreign_org_calls(),
        0,
        "nothing but people/me was asked with the stranger's token"
    );
    assert!(h.webex.webhooks().is_empty(), "no webhook anywhere");

    // The connector's own admin authorizes afterwards, and the secret rotates.
    h.webex.set_consenting_account(None);
    h.authorize().await.unwrap();
    assert!(h.store.get_tokens(&h.connector.id).await.unwrap().tokens.is_some());
    let after = stored(&h).await;
    assert_ne!(
        after.secrets.webhook_secret, before.secrets.webhook_secret,
        "authorization rotates the webhook secret"
    );
    let hooks = common::eventually(Duration::from_secs(10), || async {
        Some(h.webex.webhooks()).filter(|w| !w.is_empty())
    })
    .await
    .expect("the webhook is registered");
    assert_eq!(
        hooks[0].webhook.secret.as_deref(),
        Some(after.secrets.webhook_secret.expose())
    );
    let lines = access_lines(h.store.as_ref(), &after, Utc::now())
        .await
        .unwrap()
        .join("\n");
    assert!(lines.contains("consent:  by"), "{lines}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_identity_call_is_retried_and_the_authorization_goes_through() {
    let (h, _dir) = harness(|c| c.webhook = false).await;
    h.webex.push_route_fault("GET /v1/people/me", 0, 2, Fault::Status(429));
    h.authorize().await.unwrap();
    assert!(h.store.get_tokens(&h.connector.id).await.unwrap().tokens.is_some());
    assert_eq!(h.webex.request_counts().get("GET /v1/people/me"), Some(&3));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn re_authorizing_with_another_account_of_the_org_is_kept_and_status_says_it_is_not_the_configured_user() {
    let (h, _dir) = harness(|c| c.webhook = false).await;
    let mut colleague = stranger();
    colleague.org_id = h.webex.org_id();
    colleague.email = "someone.else@sim.example".into();
    h.webex.set_consenting_account(Some(colleague));
    h.authorize().await.unwrap();
    let lines = access_lines(h.store.as_ref(), &stored(&h).await, Utc::now())
        .await
        .unwrap()
        .join("\n");
    assert!(lines.contains("someone.else@sim.example"), "{lines}");
    assert!(lines.contains("not source.username"), "{lines}");
    h.shutdown().await;
}

#[tokio::test]
async fn absurd_token_lifetimes_from_the_identity_service_are_clamped_and_the_authorization_is_kept() {
    let idp = MockServer::start().await;
    let mut answer = token_answer("wm-access-huge", Some("wm-refresh-huge"));
    answer["expires_in"] = json!(10_000_000_000_000u64);
    answer["refresh_token_expires_in"] = json!(10_000_000_000_000u64);
    token_endpoint(&idp, ResponseTemplate::new(200).set_body_json(answer)).await;
    identity_endpoint(&idp).await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("huge", &idp.uri()).await;
    let (_, state) = r.authorize("huge").await;
    let (status, page) = r.callback(&[("code", "c"), ("state", &state)]).await;
    assert_eq!(status, 200, "{page}");
    let t = r.tokens("huge").await.tokens.unwrap();
    assert!(t.access_expires_at <= Utc::now() + chrono::Duration::days(366), "{t:?}");
    assert!(
        t.refresh_expires_at.unwrap() <= Utc::now() + chrono::Duration::days(3651),
        "{t:?}"
    );
    r.shutdown().await;
}

#[tokio::test]
async fn the_callback_answers_without_doing_the_backlogs_work_which_runs_as_queued_work_after() {
    use wfo_domain::ledger::{Discovery, Health};
    use wfo_pipeline::ports::Ledger;
    let idp = MockServer::start().await;
    token_endpoint(
        &idp,
        ResponseTemplate::new(200).set_body_json(token_answer("wm-access-backlog", Some("wm-refresh-backlog"))),
    )
    .await;
    identity_endpoint(&idp).await;
    let r = Routes::start(Duration::from_secs(5)).await;
    r.add("backlog", &idp.uri()).await;
    let now = Utc::now();
    for n in 0..50 {
        let id = format!("waiting-{n}");
        r.store.discover("backlog", &id, Discovery::Webhook, now).await.unwrap();
        let mut item = r.store.get("backlog", &id).await.unwrap().unwrap();
        item.wait("not authorized yet", now + chrono::Duration::hours(1), now);
        r.store.put(&item).await.unwrap();
    }
    let (_, state) = r.authorize("backlog").await;
    let (status, page) = r.callback(&[("code", "c"), ("state", &state)]).await;
    assert_eq!(status, 200, "{page}");
    let waiting = |items: Vec<wfo_domain::ledger::LedgerItem>| {
        items
            .iter()
            .filter(|i| i.health == Health::Waiting && i.next_attempt_at > Some(Utc::now()))
            .count()
    };
    assert_eq!(
        waiting(r.store.list("backlog", true, 100).await.unwrap()),
        50,
        "the callback itself resumed nothing"
    );
    let connections = common::connections(r.store.clone(), &token_http(), &fast_policy());
    let resumed = wfo_pipeline::authorization::run_follow_ups(&connections, &r.base, Utc::now()).await;
    assert_eq!(resumed, 50, "the queued follow-up resumes them");
    assert_eq!(waiting(r.store.list("backlog", true, 100).await.unwrap()), 0);
    assert_eq!(
        wfo_pipeline::authorization::run_follow_ups(&connections, &r.base, Utc::now()).await,
        0,
        "and is done"
    );
    r.shutdown().await;
}
