//! No secret reaches a log line or a `Debug` output. One whole run is captured at TRACE
//! level for every crate (authorization, imports with a refused download link, token
//! rotation with a transient identity failure, refusal and re-authorization, identity
//! services that echo tokens in their errors, bad callbacks) and scanned for every secret
//! value it used.
//!
//! One test in this file: it owns the process-wide log subscriber.

mod common;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_harness::{CLIENT_ID, CLIENT_SECRET, CONNECTOR_ID, Harness, HarnessConfig, WFO_PASSWORD, WFO_USER};
use wfo_http::RetryPolicy;
use wfo_pipeline::auth;
use wfo_pipeline::health::access_lines;
use wfo_pipeline::ports::{ConnectorStore, Ledger, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::refresh_job;
use wfo_sim_webex::{Fault, FaultConfig};
use wfo_webex_calling::WebexCallingClient;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Secret values seen so far, with what they are.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what} is too short to scan for");
        self.0.push((what.to_owned(), value.to_owned()));
    }

    fn add_tokens(&mut self, what: &str, record: &TokenRecord) {
        if let Some(t) = &record.tokens {
            self.add(&format!("{what} access token"), t.access_token.expose());
            if let Some(r) = &t.refresh_token {
                self.add(&format!("{what} refresh token"), r.expose());
            }
        }
    }

    /// Every secret found in `text`, by name.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(w, _)| w.clone())
            .collect()
    }
}

/// A connector of the harness's store whose identity service is `idp` (and which does
/// nothing else: no webhook, no user sync), with tokens whose refresh token is `refresh`.
async fn leaky_connector(h: &Harness, id: &str, idp: &MockServer, refresh: &str) -> ConnectorConfig {
    let cfg = ConnectorConfig::from_toml(&format!(
        "id = \"{id}\"\nacd_name = \"{id}\"\nkind = \"webex-calling\"\nacd_server_id = 4\n\
         [source]\napi_url = \"{u}\"\nidentity_url = \"{u}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
         [wfo]\napi_url = \"{w}\"\nusername = \"{WFO_USER}\"\npassword = \"{WFO_PASSWORD}\"\n\
         [features]\nuser_sync = false\nwebhook = false\n",
        u = idp.uri(),
        w = h.wfo.base_url()
    ))
    .unwrap();
    h.store.put_connector(&cfg, Utc::now()).await.unwrap();
    let old = Utc::now() - chrono::Duration::hours(12);
    let set = TokenSet {
        access_token: Secret::new(format!("{refresh}-access")),
        access_expires_at: old + chrono::Duration::days(14),
        refresh_token: Some(Secret::new(refresh)),
        refresh_expires_at: None,
        scopes: vec![],
        obtained_at: old,
    };
    h.store
        .put_tokens(
            id,
            &TokenRecord {
                tokens: Some(set),
                reauth_required: None,
                version: 0,
            },
            0,
        )
        .await
        .unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_used_in_a_whole_run_appears_in_any_log_line_or_debug_output() {
    let logs = common::capture_logs();
    let metric_lines = common::metric_lines();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(HarnessConfig::new(dir.path().join("state")))
        .await
        .unwrap();
    let mut secrets = Secrets::default();
    let mut debug = Vec::<String>::new();
    secrets.add("client secret", CLIENT_SECRET);
    secrets.add("WFO password", WFO_PASSWORD);
    let c = h.store.get_connector(CONNECTOR_ID).await.unwrap().unwrap();
    secrets.add("webhook secret", c.secrets.webhook_secret.expose());
    secrets.add("state key", c.secrets.state_key.expose());
    let http = auth::token_http_client(Duration::from_secs(10)).unwrap();
    let policy = RetryPolicy::fast();

    // Authorization through the Authorization URL.
    let hops = h.authorize().await.unwrap();
    let callback = hops.last().unwrap().clone();
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    secrets.add("authorization code", &code);
    secrets.add_tokens("first", &h.store.get_tokens(CONNECTOR_ID).await.unwrap());
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await);

    // Imports, one of them through a refused download link first.
    h.webex.set_link_expired(true);
    let first = h
        .instantiate("consult-transfer", Utc::now() - chrono::Duration::minutes(90))
        .unwrap();
    h.webex.publish(&first).await;
    let refused = common::eventually(Duration::from_secs(10), || async {
        let item = h.store.get(CONNECTOR_ID, &first.recording_ids()[0]).await.ok()??;
        item.last_error
            .as_deref()
            .is_some_and(|e| e.contains("download link"))
            .then_some(item)
    })
    .await
    .expect("the download was refused at least once");
    debug.push(format!("{refused:?}"));
    h.webex.set_link_expired(false);
    assert!(
        h.wait_settled(&first.recording_ids(), Duration::from_secs(20))
            .await
            .is_empty()
    );
    for s in h.wfo.session_ids() {
        secrets.add("WFO session id", &s);
    }
    assert!(!h.wfo.session_ids().is_empty(), "the connector holds a WFO session");

    // A refresh that meets a transient identity failure, then rotates.
    h.webex.set_faults(FaultConfig {
        include_identity: true,
        ..FaultConfig::default()
    });
    h.webex.push_faults([Fault::Status(503)]);
    let mut record = h.store.get_tokens(CONNECTOR_ID).await.unwrap();
    if let Some(t) = record.tokens.as_mut() {
        t.obtained_at -= chrono::Duration::hours(12);
    }
    h.store.put_tokens(CONNECTOR_ID, &record, record.version).await.unwrap();
    let report = refresh_job::run(
        &common::connections(h.store.clone(), &http, &policy),
        &h.runtime.public_url,
        &policy,
    )
    .await
    .unwrap();
    debug.push(format!("{report:?}"));
    h.webex.set_faults(FaultConfig::default());
    secrets.add_tokens("rotated", &h.store.get_tokens(CONNECTOR_ID).await.unwrap());

    // Identity services that echo the refresh token in an error, or answer malformed
    // JSON carrying a token.
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "refresh token echoedrefreshtoken0123456789abcdef is revoked",
        })))
        .mount(&echo)
        .await;
    let malformed = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "{\"access_token\": \"malformedaccesstoken0123456789abcdef\", \"refresh_token\": \"malformedrefresh0123456789abcdef\", \"expires_in\": \"soon\"",
            "application/json",
        ))
        .mount(&malformed)
        .await;
    let echo_cfg = leaky_connector(&h, "leaky-echo", &echo, "echoedrefreshtoken0123456789abcdef").await;
    let malformed_cfg = leaky_connector(&h, "leaky-malformed", &malformed, "malformedoldrefresh0123456789abcdef").await;
    secrets.add("echoed refresh token", "echoedrefreshtoken0123456789abcdef");
    secrets.add(
        "malformed answer's access token",
        "malformedaccesstoken0123456789abcdef",
    );
    secrets.add("malformed answer's refresh token", "malformedrefresh0123456789abcdef");
    secrets.add(
        "refresh token refused by a malformed answer",
        "malformedoldrefresh0123456789abcdef",
    );
    for cfg in [&echo_cfg, &malformed_cfg] {
        let stored = h.store.get_connector(&cfg.id).await.unwrap().unwrap();
        let err = auth::refresh(h.store.as_ref(), &stored, &http, Utc::now())
            .await
            .unwrap_err();
        debug.push(format!("{err:?} / {err}"));
        debug.push(format!("{stored:?}"));
        debug.push(format!("{:?}", h.store.get_tokens(&cfg.id).await.unwrap()));
        debug.push(
            access_lines(h.store.as_ref(), &stored, Utc::now())
                .await
                .unwrap()
                .join("\n"),
        );
    }

    // Refusal, a pause with webhooks arriving, and re-authorization.
    h.webex.revoke_integration(CLIENT_ID);
    let report = refresh_job::run(
        &common::connections(h.store.clone(), &http, &policy),
        &h.runtime.public_url,
        &policy,
    )
    .await
    .unwrap();
    debug.push(format!("{report:?}"));
    let paused = h
        .instantiate("blind-transfer", Utc::now() - chrono::Duration::minutes(60))
        .unwrap();
    h.webex.publish(&paused).await;
    let hops = h.authorize().await.unwrap();
    let again = hops.last().unwrap().clone();
    let code = url::Url::parse(&again)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    secrets.add("second authorization code", &code);
    secrets.add_tokens("re-authorized", &h.store.get_tokens(CONNECTOR_ID).await.unwrap());
    assert!(
        h.wait_settled(&paused.recording_ids(), Duration::from_secs(20))
            .await
            .is_empty()
    );
    for s in h.wfo.session_ids() {
        secrets.add("WFO session id", &s);
    }

    // Bad callbacks: the used callback URL again (its code and state), a tampered state.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(plain.get(&again).send().await.unwrap().status().as_u16(), 400);
    let tampered = again.replace("state=", "state=x");
    assert_eq!(plain.get(&tampered).send().await.unwrap().status().as_u16(), 400);

    // Debug output of everything that holds a secret.
    let c = h.store.get_connector(CONNECTOR_ID).await.unwrap().unwrap();
    let tokens = h.store.get_tokens(CONNECTOR_ID).await.unwrap();
    debug.push(format!("{c:?}"));
    debug.push(format!("{:?}", c.config));
    debug.push(format!("{:#?}", c.secrets));
    debug.push(format!("{tokens:?}"));
    debug.push(format!("{:?}", tokens.tokens));
    debug.push(format!("{:?}", h.store));
    let wfo = wfo_client::WfoClient::new(wfo_client::WfoClientConfig::new(
        h.wfo.base_url(),
        WFO_USER,
        Secret::new(WFO_PASSWORD),
    ))
    .unwrap();
    debug.push(format!("{wfo:?}"));
    let token = tokens.tokens.as_ref().unwrap().access_token.clone();
    let webex = WebexCallingClient::new(
        reqwest::Client::new(),
        url::Url::parse(h.webex.base_url()).unwrap(),
        policy.clone(),
    );
    let details = webex
        .recording_details(&token, &paused.recording_ids()[0])
        .await
        .unwrap();
    debug.push(format!("{details:?}"));
    debug.push(format!("{:?}", webex.list_webhooks(&token, true).await.unwrap()));
    debug.push(format!("{webex:?}"));
    debug.push(access_lines(h.store.as_ref(), &c, Utc::now()).await.unwrap().join("\n"));
    debug.push(format!("{:?}", ConnectorConfig::from_toml("id = \"x\"").unwrap_err()));
    h.shutdown().await;

    let log_text = logs.text();
    let metrics = metric_lines.lock().unwrap().join("\n");
    assert!(
        log_text.lines().count() > 100,
        "the run was logged at TRACE:\n{log_text}"
    );
    assert!(
        log_text.contains("reauthorization required"),
        "the refusal is in the log"
    );
    assert!(log_text.contains("download link"), "the refused download is in the log");
    for (name, text) in [
        ("logs", &log_text),
        ("metric lines", &metrics),
        ("debug output", &debug.join("\n")),
    ] {
        let found = secrets.found_in(text);
        let all: Vec<&str> = text.lines().collect();
        let lines: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(_, l)| secrets.0.iter().any(|(_, v)| l.contains(v.as_str())))
            .take(2)
            .map(|(i, _)| all[i.saturating_sub(8)..=i].join("\n"))
            .collect();
        assert!(found.is_empty(), "{name} show {found:?}:\n{}", lines.join("\n"));
        // Whatever tokens or tickets were minted in between: Webex tokens all end in
        // `_PF84_{org}`, and a download link's credential is its `ticket=`.
        assert!(!text.contains("_PF84_"), "{name} show a Webex token");
        assert!(!text.contains("ticket="), "{name} show a download ticket");
        assert!(!text.contains("code="), "{name} show an authorization code parameter");
    }
    println!(
        "scanned {} log lines, {} debug outputs, for {} secret values",
        log_text.lines().count(),
        debug.len(),
        secrets.0.len()
    );
}
