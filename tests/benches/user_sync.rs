//! User sync benchmark: an org of 100,000 simulated Webex Calling users: onboarding, a
//! run without change, a run after 1 % were switched to recording Never (seen through
//! the admin audit events), and a run after 1 % changed in every other way. Reports the
//! source (Webex) requests by kind, the WFO writes (which must equal the changes) and the
//! time of each run.
//!
//! `cargo bench -p wfo-tests --bench user_sync [-- USERS]` (default 100000). Everything
//! runs on loopback against the simulators, so the times are the connector's own cost
//! plus the simulators'; real APIs add their latency and rate limits per request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use wfo_client::{WfoApi, WfoClient, WfoClientConfig};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_pipeline::ports::{ConnectorStore, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::sync::{SyncDeps, SyncRun, SyncSettings, sync_connector};
use wfo_sim_webex::people::{BASIC_LICENSE, synthetic_id};
use wfo_sim_webex::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningWebexSim, SimPerson, SimRecording, SyntheticOrg, WebexSim,
    WebexSimConfig,
};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;
use wfo_webex_calling::{REQUIRED_SCOPES, RetryPolicy, SCOPE_AUDIT_EVENTS};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn wfo_writes(wfo: &RunningSim) -> u64 {
    let stats = wfo.stats();
    [
        "POST /api/rest/org/common/person",
        "PUT /api/rest/org/common/person/{id}",
    ]
    .iter()
    .map(|r| stats.routes.get(*r).map_or(0, |s| s.calls))
    .sum()
}

fn report(label: &str, run: &SyncRun, secs: f64, webex: &RunningWebexSim, writes: u64) {
    let sim_calls: BTreeMap<String, u64> = webex.request_counts();
    let total: u64 = sim_calls.values().sum();
    let c = &run.counts;
    println!("{label}: {secs:.2} s, complete={}", run.complete);
    println!(
        "  Webex requests: {total} (licenses {}, roster pages {}, people pages {}, audit-event pages {}, recording settings {}; retried {})",
        run.source_calls.licenses,
        run.source_calls.roster_pages,
        run.source_calls.people_pages,
        run.source_calls.change_feed_pages,
        run.source_calls.setting_reads,
        run.source_calls.retried
    );
    println!(
        "  WFO: {writes} writes (created {}, updated {}, reactivated {}, deactivated {}; unchanged {}), {} reads",
        c.created, c.updated, c.reactivated, c.deactivated, c.unchanged, run.wfo_reads
    );
    if let Some(e) = &run.error {
        println!("  error: {e}");
    }
    for w in run.warning_samples.iter().take(3) {
        println!("  warning: {w}");
    }
}

fn main() {
    let users: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let wfo = WfoSim::start(SimConfig { users: vec![("api".into(), Secret::new("pw"))], ..SimConfig::default() })
            .await
            .expect("WFO simulator");
        let webex = WebexSim::start(WebexSimConfig::default()).await.expect("Webex simulator");
        let generated = users.saturating_sub(webex.people_count());
        let t = Instant::now();
        let ids = webex.generate_people(&SyntheticOrg { count: generated, seed: 11, ..SyntheticOrg::default() });
        println!("user sync: org of {} users (all Professional, recording Always), generated in {:.2} s", webex.people_count(), t.elapsed().as_secs_f64());

        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path()).expect("store"));
        let config = ConnectorConfig::from_toml(&format!(
            "id = \"bench\"\nacd_name = \"Bench\"\nkind = \"webex-calling\"\nacd_server_id = 3\n\
             [source]\napi_url = \"{w}\"\nidentity_url = \"{w}\"\ntenant_id = \"{org}\"\nclient_id = \"{DEFAULT_CLIENT_ID}\"\nclient_secret = \"{DEFAULT_CLIENT_SECRET}\"\n\
             [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
             [sync]\ncreate_persons = \"all_eligible\"\n",
            w = webex.base_url(),
            f = wfo.base_url(),
            org = webex.org_id()
        ))
        .expect("config");
        let connector = store.put_connector(&config, Utc::now()).await.expect("connector");
        let mut scopes = REQUIRED_SCOPES.to_vec();
        scopes.push(SCOPE_AUDIT_EVENTS);
        let granted = webex.issue_tokens(DEFAULT_CLIENT_ID, &scopes).expect("tokens");
        let now = Utc::now();
        let tokens = TokenSet {
            access_token: Secret::new(granted.access_token),
            access_expires_at: now + chrono::Duration::days(1),
            refresh_token: Some(Secret::new(granted.refresh_token)),
            refresh_expires_at: None,
            scopes: granted.scope.split(' ').map(str::to_owned).collect(),
            obtained_at: now,
        };
        store.put_tokens("bench", &TokenRecord { tokens: Some(tokens), reauth_required: None, version: 0 }, 0).await.expect("put tokens");

        let http = reqwest::Client::new();
        let connections = wfo_pipeline::connections::Connections::with_clients(store.clone(), wfo_sources::Sources::shared(), RetryPolicy::default(), http.clone(), http.clone());
        let wfo_client = WfoClient::with_http_client(WfoClientConfig::new(wfo.base_url(), "api", Secret::new("pw")), http.clone());
        let deps = SyncDeps { connections: &connections, wfo: &wfo_client as &dyn WfoApi };
        let settings = SyncSettings::default();

        // Run 1: onboarding (every candidate's recording setting read once).
        let first = SyncSettings { max_setting_reads: usize::MAX, read_concurrency: 8, write_concurrency: 8, create_chunk: 5_000, ..settings.clone() };
        webex.reset_request_counts();
        let (w0, t) = (wfo_writes(&wfo), Instant::now());
        let run = sync_connector(&deps, &connector, &first).await.expect("first run");
        report("run 1, empty WFO (onboarding)", &run, t.elapsed().as_secs_f64(), &webex, wfo_writes(&wfo) - w0);

        // Run 2: nothing changed.
        webex.reset_request_counts();
        let (w0, t) = (wfo_writes(&wfo), Instant::now());
        let run = sync_connector(&deps, &connector, &settings).await.expect("second run");
        let writes = wfo_writes(&wfo) - w0;
        report("run 2, no change", &run, t.elapsed().as_secs_f64(), &webex, writes);
        assert_eq!(writes, 0, "a run without changes writes nothing");
        assert_eq!(run.source_calls.setting_reads, 0, "a run without changes reads no setting");

        // 1 % switched to recording Never in Control Hub (still enabled: still on the
        // vendor roster). Each switch is an admin audit event.
        let n = webex.people_count();
        let switched: Vec<String> = (0..n / 100).map(|i| ids[(i * 7919 + 13) % ids.len()].clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        for id in &switched {
            webex.update_person(id, |p| p.recording.record = "Never".into()).expect("switch to Never");
        }
        println!("switched {} users (1 %) to recording Never", switched.len());
        webex.reset_request_counts();
        let (w0, t) = (wfo_writes(&wfo), Instant::now());
        let run = sync_connector(&deps, &connector, &settings).await.expect("Never run");
        let writes = wfo_writes(&wfo) - w0;
        report("run 3, 1 % switched to Never", &run, t.elapsed().as_secs_f64(), &webex, writes);
        assert!(run.complete, "{:?}", run.error);
        assert_eq!(run.counts.deactivated as usize, switched.len(), "every switched user deactivated at this run");
        assert_eq!(run.source_calls.setting_reads as usize, switched.len(), "only the switched users' settings are read");
        // Back to Always, so the next run's changes are counted alone.
        for id in &switched {
            webex.update_person(id, |p| p.recording.record = "Always".into()).expect("switch back");
        }
        let run = sync_connector(&deps, &connector, &settings).await.expect("back run");
        assert_eq!(run.counts.reactivated as usize, switched.len(), "switched back: reactivated");

        // 1 % changed: renames, new users, deletions, licenses removed, recording turned off.
        let n = webex.people_count();
        let changes = n / 100;
        let (renames, new, deleted, unlicensed) = (changes * 3 / 10, changes / 4, changes / 5, changes / 8);
        let recording_off = changes - renames - new - deleted - unlicensed;
        let mut k = 0;
        let mut next = || {
            k += 1;
            ids[(k * 7919) % ids.len()].clone()
        };
        let mut touched = std::collections::BTreeSet::new();
        let mut pick = || loop {
            let id = next();
            if touched.insert(id.clone()) {
                return id;
            }
        };
        for _ in 0..renames {
            let id = pick();
            webex.update_person(&id, |p| p.last_name = Some(format!("{}-Renamed", p.last_name.clone().unwrap_or_default()))).expect("rename");
        }
        for _ in 0..deleted {
            webex.remove_person(&pick());
        }
        for _ in 0..unlicensed {
            webex.update_person(&pick(), |p| p.licenses = vec![BASIC_LICENSE.into()]).expect("license");
        }
        for _ in 0..recording_off {
            webex.update_person(&pick(), |p| p.recording = SimRecording::off()).expect("recording");
        }
        webex.upsert_people((0..new).map(|i| {
            SimPerson::recorded(&synthetic_id(99, i), "New", &format!("Hire{i}"), &format!("new.hire{i}@synthetic.example"))
        }));
        println!(
            "changed {changes} users (1 %): {renames} renamed, {new} new, {deleted} deleted, {unlicensed} lost Professional, {recording_off} recording off"
        );

        // Run 4: the delta.
        webex.reset_request_counts();
        let (w0, t) = (wfo_writes(&wfo), Instant::now());
        let run = sync_connector(&deps, &connector, &settings).await.expect("delta run");
        let writes = wfo_writes(&wfo) - w0;
        report("run 4, 1 % changed otherwise", &run, t.elapsed().as_secs_f64(), &webex, writes);
        assert!(run.complete, "{:?}", run.error);
        assert_eq!(writes as usize, changes, "WFO writes must equal the changes");
        println!("  WFO writes = changes: {writes} = {changes}");
        println!("peak RSS (both simulators, store and sync in one process): {:.0} MiB", peak_rss_mib());
        let _ = wfo_client.logout().await;
        wfo.shutdown().await.expect("WFO simulator stops");
        webex.shutdown().await;
    });
}
