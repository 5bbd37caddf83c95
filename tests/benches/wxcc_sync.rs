//! Contact Center 2.0 configuration-sync benchmark: an org of 20,000 users, 500 teams and
//! 1,000 queues (simulated): onboarding, a run without change, and a run after 1 % of
//! each kind changed (renamed, deactivated, deleted, restored). Reports the Contact
//! Center requests by kind (≈ ⌈N / pageSize⌉ each), the WFO writes (which must equal the
//! changes), the time, and the peak requests in any 60 seconds against Cisco's 300 per
//! client id.
//!
//! `cargo bench -p wfo-tests --bench wxcc_sync [-- USERS TEAMS QUEUES PAGE]` (defaults
//! 20000 500 1000 1000). PAGE is the simulator's largest `pageSize` (the real one is not
//! published; the API's default page is 100): at 100 the run needs more requests than
//! the limiter lets out in a minute, which is what shows it at work. Everything runs on
//! loopback; real APIs add their latency per request.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use wfo_client::{WfoApi, WfoClient, WfoClientConfig};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_http::RetryPolicy;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::{ConnectorStore, TokenRecord, TokenStore};
use wfo_pipeline::sync::{SyncDeps, SyncRun, SyncSettings, sync_connector};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_sim_wxcc::{
    ApiLimits, CONFIG_READ, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningWxccSim, SimQueue, SimUser, SyntheticOrg,
    WxccSim, WxccSimConfig,
};
use wfo_store::SqliteStore;

fn wfo_writes(wfo: &RunningSim) -> u64 {
    let stats = wfo.stats();
    stats
        .routes
        .iter()
        .filter(|(route, _)| route.starts_with("POST ") || route.starts_with("PUT "))
        .filter(|(route, _)| !route.contains("/authorize"))
        .map(|(_, s)| s.calls)
        .sum()
}

fn report(label: &str, run: &SyncRun, secs: f64, cc: &RunningWxccSim, writes: u64, changes: u64) {
    let calls = &run.source_calls;
    println!("{label}: {secs:.2} s, complete={}", run.complete);
    println!(
        "  Contact Center requests: {} (user pages {}, team pages {}, queue pages {}; retried {}); peak {} in any 60 s (limit 300)",
        calls.total(),
        calls.people_pages,
        calls.team_pages,
        calls.queue_pages,
        calls.retried,
        cc.peak_requests_per_minute(DEFAULT_CLIENT_ID)
    );
    let kind = |r: &Option<wfo_pipeline::org_sync::KindRun>| {
        r.as_ref()
            .map(|k| {
                format!(
                    "created {} updated {} deactivated {} reactivated {} unchanged {}",
                    k.counts.created, k.counts.updated, k.counts.deactivated, k.counts.reactivated, k.counts.unchanged
                )
            })
            .unwrap_or_default()
    };
    println!("  teams:  {}", kind(&run.teams));
    println!("  queues: {}", kind(&run.queues));
    let c = &run.counts;
    println!(
        "  users:  created {} updated {} deactivated {} reactivated {} unchanged {} skipped (Not Active) {}",
        c.created, c.updated, c.deactivated, c.reactivated, c.unchanged, c.skipped
    );
    println!("  WFO writes: {writes} (changes made at the source: {changes})");
    if let Some(e) = &run.error {
        println!("  error: {e}");
    }
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users = arg(0, 20_000);
    let teams = arg(1, 500);
    let queues = arg(2, 1_000);
    let page = arg(3, 1_000) as u32;
    println!("Contact Center sync: {users} users, {teams} teams, {queues} queues; simulator pageSize ≤ {page}");

    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .expect("WFO simulator");
    let cc = WxccSim::start(WxccSimConfig {
        limits: ApiLimits {
            max_page_size: page,
            ..ApiLimits::default()
        },
        ..WxccSimConfig::default()
    })
    .await
    .expect("Contact Center simulator");
    let org = cc.generate_org(&SyntheticOrg {
        users,
        teams,
        queues,
        seed: 20_000,
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("store"));
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"bench-cc\"\nacd_name = \"Bench CC\"\nkind = \"webex-cc-2\"\nacd_server_id = 4\n\
         [source]\napi_url = \"{c}\"\nidentity_url = \"{c}\"\ntenant_id = \"{o}\"\nclient_id = \"{DEFAULT_CLIENT_ID}\"\nclient_secret = \"{DEFAULT_CLIENT_SECRET}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n[sync]\ninterval_minutes = 10\n",
        c = cc.base_url(),
        o = cc.org_id(),
        f = wfo.base_url()
    ))
    .expect("config");
    let connector = store.put_connector(&config, Utc::now()).await.expect("connector");
    let t = cc.issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ]).expect("tokens");
    let now = Utc::now();
    store
        .put_tokens(
            "bench-cc",
            &TokenRecord {
                tokens: Some(wfo_harness::token_set(t, now)),
                reauth_required: None,
                version: 0,
            },
            0,
        )
        .await
        .expect("tokens stored");
    let http = reqwest::Client::new();
    let connections = Connections::with_clients(
        store.clone(),
        wfo_sources::Sources::shared(),
        RetryPolicy::default(),
        http.clone(),
        http.clone(),
    );
    let wfo_client: Arc<dyn WfoApi> = Arc::new(WfoClient::with_http_client(
        WfoClientConfig::new(wfo.base_url(), "api", Secret::new("pw")),
        http,
    ));
    let deps = SyncDeps {
        connections: &connections,
        wfo: wfo_client.as_ref(),
    };
    let settings = SyncSettings::default();

    let mut runs: Vec<(&str, u64)> = Vec::new();
    let mut writes_before = 0;
    for label in ["onboarding", "unchanged", "1 % changed"] {
        let mut changes = 0;
        if label == "1 % changed" {
            // 1 % of each kind: users renamed or deleted; teams renamed; queues renamed or
            // deactivated.
            let n_users = (users / 100).max(1);
            // Active users only: a Not Active user is left alone by the rules, so changing
            // one would be a change that (rightly) makes no write.
            let active: Vec<&String> = org
                .user_ids
                .iter()
                .filter(|id| cc.user(id).is_some_and(|u| u.active))
                .collect();
            for (i, id) in active.into_iter().take(n_users).enumerate() {
                match i % 2 {
                    0 => cc
                        .update_user(id, |u: &mut SimUser| u.last_name = Some(format!("Renamed {i}")))
                        .map(|_| ())
                        .unwrap_or(()),
                    _ => {
                        cc.remove_user(id);
                    }
                }
                changes += 1;
            }
            for (i, id) in org.team_ids.iter().take((teams / 100).max(1)).enumerate() {
                let _ = cc.update_team(id, |t| t.name = format!("Team renamed {i}"));
                changes += 1;
            }
            for (i, id) in org.queue_ids.iter().take((queues / 100).max(1)).enumerate() {
                let _ = cc.update_queue(id, |q: &mut SimQueue| {
                    if i % 2 == 0 {
                        q.name = format!("Queue renamed {i}");
                    } else {
                        q.active = false;
                    }
                });
                changes += 1;
            }
        }
        let started = Instant::now();
        let run = sync_connector(&deps, &connector, &settings).await.expect("sync runs");
        let secs = started.elapsed().as_secs_f64();
        let total = wfo_writes(&wfo);
        report(label, &run, secs, &cc, total - writes_before, changes);
        writes_before = total;
        runs.push((label, run.source_calls.total()));
    }
    let _ = wfo.shutdown().await;
    cc.shutdown().await;
}
