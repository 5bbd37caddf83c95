//! `wfo-connect connector check ID` against the simulators: with every prerequisite in
//! place it passes (exit 0); with each one missing in turn it fails (exit 1) on exactly
//! that check, whose line names the fix. Contact Center 2.0 and 1.0: all present and two
//! missing each. No secret is ever printed.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::wfo::{MetadataKey, MetadataKeyType};
use wfo_harness::{
    CC_CLIENT_SECRET, CC_CONNECTOR_ID, CLIENT_SECRET, CONNECTOR_ID, Harness, HarnessConfig, WFO_PASSWORD, WFO_USER,
};
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::ConnectorStore;

mod common;
use common::run;

/// The check's exit code and its stdout.
async fn check(state: &Path, id: &str) -> (i32, String) {
    let out = run(&["connector", "check", id], state).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// Exit 0, and no line is a failure.
fn assert_all_pass(code: i32, text: &str) {
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains('✗'), "{text}");
    assert!(text.contains("all checks passed"), "{text}");
}

/// Exit 1, and the failed lines are exactly those of `names`; the line of `names[0]`
/// contains `fix`.
fn assert_fails(code: i32, text: &str, names: &[&str], fix: &str) {
    assert_eq!(code, 1, "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with('✗')).collect();
    let failed_names: Vec<&str> = failed
        .iter()
        .filter_map(|l| l.strip_prefix("✗ ")?.split(':').next())
        .collect();
    assert_eq!(failed_names, names, "{text}");
    let line = failed
        .iter()
        .find(|l| l.starts_with(&format!("✗ {}:", names[0])))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(fix), "the line names the fix ({fix}): {line}");
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "a secret was printed: {text}");
    }
}

/// A Webex Calling world with its connector authorized and its webhook registered.
async fn calling_world(state: &Path) -> Harness {
    let h = Harness::start(HarnessConfig::new(state.to_owned())).await.unwrap();
    authorize(&h).await;
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await);
    h
}

/// Authorize the connector and wait for the webhook registration that follows it, so
/// that nothing the runner does afterwards undoes a prerequisite a test removes.
async fn authorize(h: &Harness) {
    authorize_connector(h, CONNECTOR_ID).await
}

async fn authorize_connector(h: &Harness, id: &str) {
    let before = Utc::now();
    h.authorize_connector(id).await.unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = wfo_pipeline::registration::load_status(h.store.as_ref(), id)
            .await
            .unwrap();
        if status.is_some_and(|s| s.at >= before) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the webhook was not registered after authorization"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Store `change`d copy of the harness's connector (as `connector add` does).
async fn put_connector(h: &Harness, change: impl FnOnce(&mut ConnectorConfig)) {
    let mut cfg = h.connector.clone();
    change(&mut cfg);
    h.store.put_connector(&cfg, Utc::now()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webex_calling_passes_with_everything_in_place_and_names_the_fix_of_each_prerequisite_missing_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let h = calling_world(&state).await;
    let mut secrets = vec![WFO_PASSWORD.to_owned(), CLIENT_SECRET.to_owned()];

    // Everything in place.
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_all_pass(code, &text);
    for name in [
        "source credentials",
        "organization",
        "scopes",
        "recordings listable",
        "users readable",
        "licenses readable",
        "webhook",
        "WFO login",
        "WFO default agent role",
        "WFO Default Team",
        "WFO persons readable",
        "WFO metadata label 'Recording Id'",
        "WFO metadata label 'Call Session'",
    ] {
        assert!(text.contains(&format!("✓ {name}: ")), "{name}: {text}");
    }

    // The Compliance officer role taken from the authorizing account.
    h.webex.set_compliance_role(false);
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["recordings listable"], "Compliance officer");
    h.webex.set_compliance_role(true);

    // The connector configured for another organization than the token's.
    put_connector(&h, |c| {
        c.source.tenant_id = "0f1e2d3c-4b5a-4968-8776-655443322110".into()
    })
    .await;
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["organization"], "auth-url");
    assert!(text.contains("not source.tenant_id"), "{text}");
    put_connector(&h, |_| {}).await;

    // A scope left out of the consent: the scope check and the read that needs it.
    put_connector(&h, |c| {
        c.source.scopes = Some(
            c.scopes()
                .into_iter()
                .filter(|s| s != "spark-admin:licenses_read")
                .collect(),
        )
    })
    .await;
    authorize(&h).await;
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(
        code,
        &text,
        &["scopes", "licenses readable"],
        "spark-admin:licenses_read",
    );
    put_connector(&h, |_| {}).await;
    authorize(&h).await;

    // The webhook deactivated by Webex.
    let hook = h.webex.webhooks()[0].webhook.id.clone();
    assert!(h.webex.deactivate_webhook(&hook));
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["webhook"], "not active");
    // What the runner's token refresh does reactivates it.
    let connections = Connections::new(
        h.store.clone(),
        wfo_sources::Sources::shared(),
        wfo_http::RetryPolicy::default(),
    )
    .unwrap();
    let stored = h.store.get_connector(CONNECTOR_ID).await.unwrap().unwrap();
    wfo_pipeline::registration::ensure_and_record(&connections, &stored, &h.runtime.public_url)
        .await
        .unwrap();

    // The WFO API user's password changed in WFO but not in the connector.
    put_connector(&h, |c| {
        c.wfo.password = wfo_domain::Secret::new("an-old-wfo-password-0000")
    })
    .await;
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["WFO login"], "wfo.password");
    put_connector(&h, |_| {}).await;
    secrets.push("an-old-wfo-password-0000".to_owned());

    // The WFO API user without the permission to view the organization.
    h.wfo.handle().set_view_org(WFO_USER, false);
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(
        code,
        &text,
        &["WFO Default Team", "WFO persons readable"],
        "assign the default agent and administrator roles to the API user",
    );
    h.wfo.handle().set_view_org(WFO_USER, true);

    // No Default Team in the tenant.
    let default = h.wfo.teams().into_iter().find(|t| t.is_default).unwrap();
    assert!(h.wfo.handle().set_team_default(default.id, false).await.unwrap());
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["WFO Default Team"], "mark one team as the default");
    assert!(h.wfo.handle().set_team_default(default.id, true).await.unwrap());

    // A mapped metadata label that is not TEXT.
    let keys = h.wfo.handle().metadata_keys();
    let changed: Vec<MetadataKey> = keys
        .iter()
        .cloned()
        .map(|mut k| {
            if k.label == "Call Session" {
                k.key_type = MetadataKeyType::Date;
            }
            k
        })
        .collect();
    h.wfo.handle().set_metadata_keys(changed).await.unwrap();
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["WFO metadata label 'Call Session'"], "TEXT");
    // …and one that does not exist.
    let without: Vec<MetadataKey> = keys.iter().filter(|k| k.label != "Recording Id").cloned().collect();
    h.wfo.handle().set_metadata_keys(without).await.unwrap();
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(code, &text, &["WFO metadata label 'Recording Id'"], "Metadata Manager");
    h.wfo.handle().set_metadata_keys(keys).await.unwrap();

    // Everything back in place passes again.
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_all_pass(code, &text);
    secrets.extend(h.webex.issued_tokens());
    assert_no_secret(&text, &secrets);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connector_never_authorized_fails_on_its_credentials_and_skips_what_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let h = Harness::start(HarnessConfig::new(state.clone())).await.unwrap();
    let (code, text) = check(&state, CONNECTOR_ID).await;
    assert_fails(
        code,
        &text,
        &["source credentials"],
        "wfo-connect connector auth-url demo-calling",
    );
    assert!(text.contains("- source permissions: skipped"), "{text}");
    // WFO is checked all the same.
    assert!(text.contains("✓ WFO login"), "{text}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_connector_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = check(dir.path(), "nobody").await;
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no connector 'nobody'"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contact_center_2_passes_with_everything_in_place_and_fails_on_a_wrong_region_and_an_inactive_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut cfg = HarnessConfig::new(state.clone());
    cfg.poller_enabled = false;
    let h = Harness::start(cfg).await.unwrap();
    let cc = h.add_contact_center(4, 2, 2).await.unwrap();
    authorize_connector(&h, CC_CONNECTOR_ID).await;

    let (code, text) = check(&state, CC_CONNECTOR_ID).await;
    assert_all_pass(code, &text);
    for name in [
        "source credentials",
        "organization",
        "scopes",
        "region reachable",
        "captures queryable",
        "users readable",
        "subscription",
        "WFO login",
        "WFO Default Team",
    ] {
        assert!(text.contains(&format!("✓ {name}: ")), "{name}: {text}");
    }

    // source.api_url names another region than the organization's (nothing answers there).
    let mut moved = cc.connector.clone();
    moved.source.api_url = "http://127.0.0.1:9".into();
    h.store.put_connector(&moved, Utc::now()).await.unwrap();
    let (code, text) = check(&state, CC_CONNECTOR_ID).await;
    assert_fails(
        code,
        &text,
        &["region reachable"],
        "set source.api_url to your organization's region",
    );
    assert!(text.contains("- captures queryable: skipped"), "{text}");
    h.store.put_connector(&cc.connector, Utc::now()).await.unwrap();

    // Contact Center deactivated the capture subscription.
    let sub = cc.sim.subscriptions()[0].subscription.id.clone();
    assert!(cc.sim.deactivate_subscription(&sub));
    let (code, text) = check(&state, CC_CONNECTOR_ID).await;
    assert_fails(code, &text, &["subscription"], "not active");
    assert_no_secret(
        &text,
        &[WFO_PASSWORD.to_owned(), CC_CLIENT_SECRET.to_owned()]
            .into_iter()
            .chain(cc.sim.issued_tokens())
            .collect::<Vec<_>>(),
    );
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// A Contact Center 1.0 connector over its simulator and a WFO simulator, stored in
/// `state` with `api_key` and `media_api_url`.
async fn put_cc1_connector(
    state: &Path,
    cc: &wfo_sim_wxcc1::RunningWxcc1Sim,
    wfo: &wfo_sim_wfo::RunningSim,
    api_key: &str,
    media: &str,
) {
    let store = wfo_store::SqliteStore::open(state).unwrap();
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"acme-cc1\"\nacd_name = \"Acme CC 1.0\"\nkind = \"webex-cc-1\"\nacd_server_id = 5\n\
         [source]\napi_url = \"{c}\"\nmedia_api_url = \"{media}\"\ntenant_id = \"{t}\"\n\
         username = \"{u}\"\napi_key = \"{api_key}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"wfo-cc1-password\"\n\
         [[metadata_mapping]]\nacd_field = \"sid\"\nlabel = \"Recording Id\"\n",
        c = cc.base_url(),
        t = wfo_sim_wxcc1::DEFAULT_TENANT_ID,
        u = wfo_sim_wxcc1::DEFAULT_USERNAME,
        f = wfo.base_url()
    ))
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_center_1_passes_with_everything_in_place_and_fails_on_a_refused_key_and_a_wrong_media_api() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let wfo = wfo_sim_wfo::WfoSim::start(wfo_sim_wfo::SimConfig {
        users: vec![("api".to_owned(), wfo_domain::Secret::new("wfo-cc1-password"))],
        ..wfo_sim_wfo::SimConfig::default()
    })
    .await
    .unwrap();
    let cc = wfo_sim_wxcc1::Wxcc1Sim::start(wfo_sim_wxcc1::Wxcc1SimConfig::default())
        .await
        .unwrap();
    let key = wfo_sim_wxcc1::DEFAULT_API_KEY;

    put_cc1_connector(state, &cc, &wfo, key, &cc.media_url()).await;
    let (code, text) = check(state, "acme-cc1").await;
    assert_all_pass(code, &text);
    for name in [
        "source credentials",
        "organization",
        "captures queryable",
        "media API reachable",
        "WFO login",
        "WFO metadata label 'Recording Id'",
    ] {
        assert!(text.contains(&format!("✓ {name}: ")), "{name}: {text}");
    }
    assert!(text.contains("- scopes: skipped"), "{text}");

    // A key the tenant does not know.
    let wrong = "not-the-tenant-key-4242424242";
    put_cc1_connector(state, &cc, &wfo, wrong, &cc.media_url()).await;
    let (code, text) = check(state, "acme-cc1").await;
    assert_fails(
        code,
        &text,
        &["source credentials"],
        "put a valid key in source.api_key",
    );
    assert_no_secret(&text, &[wrong.to_owned(), "wfo-cc1-password".to_owned()]);

    // source.media_api_url pointing where no Media API answers.
    put_cc1_connector(state, &cc, &wfo, key, "http://127.0.0.1:9/cr/get-decrypted-recording").await;
    let (code, text) = check(state, "acme-cc1").await;
    assert_fails(code, &text, &["media API reachable"], "set source.media_api_url");
    assert_no_secret(&text, &[key.to_owned(), "wfo-cc1-password".to_owned()]);
    cc.shutdown().await;
    wfo.shutdown().await.unwrap();
}
