//! `wfo-connect sync ID` and `status` on a Contact Center 1.0 connector (API key, no
//! authorization step), against the WFO and 1.0 simulators on 127.0.0.1 (started and
//! stopped by each test).

use std::path::Path;

use chrono::Utc;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_pipeline::ports::ConnectorStore;
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_sim_wxcc1::{
    AuxItem, AuxResource, DEFAULT_API_KEY, DEFAULT_TENANT_ID, DEFAULT_USERNAME, RunningWxcc1Sim, Wxcc1Sim,
    Wxcc1SimConfig,
};
use wfo_store::SqliteStore;

mod common;
use common::run;

/// Connector `acme-cc1` with `api_key`, stored in `state`.
async fn put_connector(state: &Path, cc: &RunningWxcc1Sim, wfo: &RunningSim, api_key: &str) {
    let store = SqliteStore::open(state).unwrap();
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"acme-cc1\"\nacd_name = \"Acme CC 1.0\"\nkind = \"webex-cc-1\"\nacd_server_id = 5\n\
         [source]\napi_url = \"{c}\"\nmedia_api_url = \"{m}\"\ntenant_id = \"{DEFAULT_TENANT_ID}\"\n\
         username = \"{DEFAULT_USERNAME}\"\napi_key = \"{api_key}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
         [sync]\ninterval_minutes = 10\n\
         [[acd_filter]]\nfield = \"team_name\"\npattern = \"Sales*\"\n",
        c = cc.base_url(),
        m = cc.media_url(),
        f = wfo.base_url()
    ))
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
}

async fn simulators() -> (RunningSim, RunningWxcc1Sim) {
    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cc = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    cc.upsert_aux(AuxResource::Team, AuxItem::named("t1", "Sales EMEA", true));
    cc.upsert_aux(AuxResource::Team, AuxItem::named("t2", "Support", true));
    cc.upsert_aux(AuxResource::VirtualTeam, AuxItem::named("q1", "Main line", true));
    cc.upsert_aux(
        AuxResource::User,
        AuxItem::user("a1", "ana@acme.example", "Ana", "Lima", Some("t1"), true),
    );
    cc.upsert_aux(
        AuxResource::User,
        AuxItem::user("a2", "ben@acme.example", "Ben", "Okafor", Some("t1"), true),
    );
    cc.upsert_aux(
        AuxResource::User,
        AuxItem::user("a3", "chloe@acme.example", "Chloe", "Martin", Some("t2"), true),
    );
    (wfo, cc)
}

/// One line per kind, teams and queues first; the ACD filter leaves the Support user
/// out; a user who moves off the Sales team is deactivated at the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_center_1_0_sync_prints_a_line_per_kind_and_follows_the_acd_filter() {
    let state = tempfile::tempdir().unwrap();
    let (wfo, cc) = simulators().await;
    put_connector(state.path(), &cc, &wfo, DEFAULT_API_KEY).await;

    let out = run(&["sync", "acme-cc1"], state.path()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "acme-cc1: teams: created 2, updated 0, deactivated 0, unchanged 0",
        "{text}"
    );
    assert_eq!(
        lines[1], "acme-cc1: queues: created 1, updated 0, deactivated 0, unchanged 0",
        "{text}"
    );
    assert!(
        lines[2].starts_with("acme-cc1: users: created 2, updated 0, reactivated 0, deactivated 0, unchanged 0"),
        "{text}"
    );
    assert!(text.contains("ACD filters"), "the filter is mentioned: {text}");

    cc.upsert_aux(
        AuxResource::User,
        AuxItem::user("a2", "ben@acme.example", "Ben", "Okafor", Some("t2"), true),
    );
    let again = run(&["sync", "acme-cc1"], state.path()).await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("acme-cc1: users: created 0, updated 0, reactivated 0, deactivated 1, unchanged 1"),
        "{text}"
    );
    assert!(
        text.contains("acme-cc1: teams: created 0, updated 0, deactivated 0, unchanged 2"),
        "{text}"
    );

    let status = run(&["status", "acme-cc1"], state.path()).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("api key:  works (tenant "),
        "status checks the key with one signed call: {text}"
    );
    for kind in ["teams: created 0", "queues: created 0", "users: created 0"] {
        assert!(text.contains(kind), "status shows the last run of each kind: {text}");
    }
    wfo.shutdown().await.unwrap();
    cc.shutdown().await;
}

/// A refused key: exit 1 naming `source.api_key` (never the key), and `status` says what
/// the operator must do; re-added with the right key, the next run works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_api_key_fails_the_sync_and_status_names_what_to_fix() {
    const WRONG: &str = "wrong-key-77c1d0";
    let state = tempfile::tempdir().unwrap();
    let (wfo, cc) = simulators().await;
    put_connector(state.path(), &cc, &wfo, WRONG).await;

    let out = run(&["sync", "acme-cc1"], state.path()).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("source.api_key") && err.contains("refused"), "{err}");
    let all = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !all.contains(WRONG) && !all.contains(DEFAULT_API_KEY),
        "never the key: {all}"
    );
    let status = run(&["status", "acme-cc1"], state.path()).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("(INCOMPLETE)") && text.contains("last error:") && text.contains("add the connector again"),
        "{text}"
    );
    assert!(!text.contains(WRONG), "{text}");
    assert!(wfo.persons().is_empty());

    put_connector(state.path(), &cc, &wfo, DEFAULT_API_KEY).await;
    let out = run(&["sync", "acme-cc1"], state.path()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(wfo.persons().len(), 2);
    wfo.shutdown().await.unwrap();
    cc.shutdown().await;
}
