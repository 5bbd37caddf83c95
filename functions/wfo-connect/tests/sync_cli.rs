//! `wfo-connect sync ID` and the sync lines of `wfo-connect status`, against both
//! simulators on 127.0.0.1 (started and stopped by each test).

use std::path::Path;

use chrono::Utc;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_pipeline::ports::{ConnectorStore, TokenRecord, TokenStore};
use wfo_sim_webex::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningWebexSim, WebexSim, WebexSimConfig};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;

const SYNC_SCOPES: &[&str] = &[
    "spark-admin:people_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
];

mod common;
use common::run;

/// A state dir with connector `acme` pointing at the simulators; authorized when asked.
async fn setup(state: &Path, authorized: bool) -> (RunningSim, RunningWebexSim) {
    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let store = SqliteStore::open(state).unwrap();
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"acme\"\nacd_name = \"Acme\"\nkind = \"webex-calling\"\nacd_server_id = 3\n\
         [source]\napi_url = \"{w}\"\nidentity_url = \"{w}\"\nclient_id = \"{DEFAULT_CLIENT_ID}\"\nclient_secret = \"{DEFAULT_CLIENT_SECRET}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
         [sync]\ncreate_persons = \"all_eligible\"\n",
        w = webex.base_url(),
        f = wfo.base_url()
    ))
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
    if authorized {
        let t = webex.issue_tokens(DEFAULT_CLIENT_ID, SYNC_SCOPES).unwrap();
        let now = Utc::now();
        let tokens = wfo_harness::token_set(t, now);
        store
            .put_tokens(
                "acme",
                &TokenRecord {
                    tokens: Some(tokens),
                    reauth_required: None,
                    version: 0,
                },
                0,
            )
            .await
            .unwrap();
    }
    (wfo, webex)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_creates_the_users_once_and_status_shows_the_counts_of_the_last_run() {
    let state = tempfile::tempdir().unwrap();
    let (wfo, webex) = setup(state.path(), true).await;

    let before = run(&["status", "acme"], state.path()).await;
    assert!(String::from_utf8_lossy(&before.stdout).contains("sync:     not run yet"));

    let out = run(&["sync", "acme"], state.path()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("created 4, updated 0, reactivated 0, deactivated 0, unchanged 0"),
        "{text}"
    );
    assert_eq!(wfo.persons().len(), 4);

    let again = run(&["sync", "acme"], state.path()).await;
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("created 0, updated 0, reactivated 0, deactivated 0, unchanged 4")
    );
    let status = run(&["status", "acme"], state.path()).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("(complete): created 0, updated 0, reactivated 0, deactivated 0, unchanged 4"),
        "{text}"
    );
    assert!(!text.contains("last error"), "{text}");
    wfo.shutdown().await.unwrap();
    webex.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_exits_1_and_status_shows_the_last_error() {
    let state = tempfile::tempdir().unwrap();
    let (wfo, webex) = setup(state.path(), false).await;
    let out = run(&["sync", "acme"], state.path()).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not been authorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = run(&["status", "acme"], state.path()).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("(INCOMPLETE)") && text.contains("last error: connector 'acme' has not been authorized"),
        "{text}"
    );
    assert!(wfo.persons().is_empty());
    wfo.shutdown().await.unwrap();
    webex.shutdown().await;
}

/// `sync` on a Contact Center 2.0 connector: one line per kind, teams and queues first;
/// `status` shows the last run of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_center_sync_prints_a_line_per_kind_and_status_shows_each() {
    use wfo_sim_wxcc::{CONFIG_READ, SimQueue, SimTeam, SimUser, WxccSim, WxccSimConfig};
    let state = tempfile::tempdir().unwrap();
    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cc = WxccSim::start(WxccSimConfig::default()).await.unwrap();
    cc.upsert_user(SimUser::new("u1", "Ana", "Lima", "ana@acme.example"));
    cc.upsert_user(SimUser::new("u2", "Ben", "Okafor", "ben@acme.example"));
    cc.upsert_team(SimTeam::new("t1", "Sales"));
    cc.upsert_queue(SimQueue::new("q1", "Main line", "TELEPHONY"));
    cc.upsert_queue(SimQueue::new("q2", "Chat", "CHAT"));
    let store = SqliteStore::open(state.path()).unwrap();
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"acme-cc\"\nacd_name = \"Acme CC\"\nkind = \"webex-cc-2\"\nacd_server_id = 4\n\
         [source]\napi_url = \"{c}\"\nidentity_url = \"{c}\"\ntenant_id = \"{org}\"\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
         [sync]\ninterval_minutes = 10\n",
        c = cc.base_url(),
        org = cc.org_id(),
        id = wfo_sim_wxcc::DEFAULT_CLIENT_ID,
        secret = wfo_sim_wxcc::DEFAULT_CLIENT_SECRET,
        f = wfo.base_url()
    ))
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
    let t = cc
        .issue_tokens(wfo_sim_wxcc::DEFAULT_CLIENT_ID, &[CONFIG_READ])
        .unwrap();
    let now = Utc::now();
    store
        .put_tokens(
            "acme-cc",
            &TokenRecord {
                tokens: Some(wfo_harness::token_set(t, now)),
                reauth_required: None,
                version: 0,
            },
            0,
        )
        .await
        .unwrap();

    let out = run(&["sync", "acme-cc"], state.path()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "acme-cc: teams: created 1, updated 0, deactivated 0, unchanged 0",
        "{text}"
    );
    assert_eq!(
        lines[1], "acme-cc: queues: created 2, updated 0, deactivated 0, unchanged 0",
        "{text}"
    );
    assert!(
        lines[2].starts_with("acme-cc: users: created 2, updated 0, reactivated 0, deactivated 0, unchanged 0"),
        "{text}"
    );

    cc.remove_queue("q2");
    let again = run(&["sync", "acme-cc"], state.path()).await;
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("queues: created 0, updated 0, deactivated 1, unchanged 1"),
        "{text}"
    );
    assert!(
        text.contains("users: created 0, updated 0, reactivated 0, deactivated 0, unchanged 2"),
        "{text}"
    );

    let status = run(&["status", "acme-cc"], state.path()).await;
    let text = String::from_utf8_lossy(&status.stdout);
    for kind in ["teams: created 0", "queues: created 0", "users: created 0"] {
        assert!(text.contains(kind), "status shows the last run of each kind: {text}");
    }
    wfo.shutdown().await.unwrap();
    cc.shutdown().await;
}
