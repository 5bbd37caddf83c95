//! The commands, on the local backend.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use wfo_domain::config::{ConnectorConfig, ConnectorKind};
use wfo_http::RetryPolicy;
use wfo_pipeline::auth::{AuthError, RefreshOutcome};
use wfo_pipeline::connections::Connections;
use wfo_pipeline::health::API_KEY_CHECK_TIMEOUT;
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::{ConnectorStore, Store, StoredConnector};
use wfo_pipeline::ports::{CredentialScheme, Registry};
use wfo_pipeline::reconcile::{CURSOR_KEY, Cursor, PollSettings};
use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};
use wfo_pipeline::sync::{SyncDeps, SyncError, SyncRun, SyncSettings, load_status as load_sync_status, sync_connector};
use wfo_store::SqliteStore;

use crate::{Backend, Cli, Command, ConnectorCmd, Failure, Timing};

/// Where `serve` announces the public URL it runs at, for `connector auth-url`.
const RUNTIME_KEY: &str = "_runtime";

/// How connectors of `kind` authenticate, by the sources built into this binary.
fn scheme_of(kind: ConnectorKind) -> CredentialScheme {
    wfo_pipeline::credentials::scheme_of(&wfo_sources::Sources, kind)
}

/// Every source built into this binary, bound to `store`.
pub(crate) fn connections(store: Arc<dyn Store>) -> Result<Arc<Connections>, Failure> {
    Connections::new(store, wfo_sources::Sources::shared(), wfo_http::RetryPolicy::default()).map_err(Failure::job)
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    if cli.backend == Backend::Aws {
        return crate::aws_backend::run(cli).await;
    }
    match cli.command {
        Command::Segment {
            kind,
            acd_server_id,
            files,
        } => segment(&kind, acd_server_id, &files),
        Command::Demo { keep_state } => crate::demo::run(keep_state).await,
        Command::Serve {
            config,
            listen,
            public_url,
            timing,
            operator_token,
        } => {
            let store = open(&cli.state_dir)?;
            if let Some(path) = config {
                for cfg in load_configs(&path)? {
                    let stored = store.put_connector(&cfg, Utc::now()).await.map_err(Failure::job)?;
                    eprintln!("connector '{}' loaded from {}", stored.config.id, path.display());
                }
            }
            serve(store, runtime_config(listen, public_url, timing), operator_token).await
        }
        Command::Connector {
            action: ConnectorCmd::Check { id },
        } => crate::check::run(Arc::new(open(&cli.state_dir)?), &id).await,
        Command::Connector { action } => {
            let store = open(&cli.state_dir)?;
            connector(&store, action).await
        }
        Command::Refresh { id } => {
            let store = open(&cli.state_dir)?;
            refresh(Arc::new(store), id.as_deref()).await
        }
        Command::Backfill { id, from, to } => {
            let store = open(&cli.state_dir)?;
            crate::backfill::run(
                Arc::new(store),
                Some(cli.state_dir.as_path()),
                &id,
                &from,
                &to,
                ImportBy::ThisProcess,
            )
            .await
        }
        Command::Dlq { action } => {
            let store = open(&cli.state_dir)?;
            crate::dlq::run(&store, Vec::new(), "`wfo-connect serve`", action).await
        }
        Command::Status { id } => {
            let store = open(&cli.state_dir)?;
            status(Arc::new(store), id.as_deref()).await
        }
        Command::Sync { id } => {
            let store = open(&cli.state_dir)?;
            sync(Arc::new(store), &id).await
        }
    }
}

fn open(dir: &Path) -> Result<SqliteStore, Failure> {
    SqliteStore::open(dir).map_err(|e| Failure::job(format!("cannot open the state directory {}: {e}", dir.display())))
}

fn load_configs(path: &Path) -> Result<Vec<ConnectorConfig>, Failure> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_owned()]
    };
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).map_err(|e| Failure::usage(format!("cannot read {}: {e}", f.display())))?;
            ConnectorConfig::from_toml(&text).map_err(|e| Failure::usage(format!("{}: {e}", f.display())))
        })
        .collect()
}

pub(crate) async fn get_connector(store: &dyn Store, id: &str) -> Result<StoredConnector, Failure> {
    store
        .get_connector(id)
        .await
        .map_err(Failure::job)?
        .ok_or_else(|| Failure::usage(format!("no connector '{id}' (see `wfo-connect connector list`)")))
}

/// Lease of the fast timings: a killed runner's items are taken up again this soon. It
/// stays above [`FAST_HTTP_BUDGET`] so that a step still running keeps its item.
const FAST_LEASE: Duration = Duration::from_secs(15);
/// Longest one HTTP call (retries included) may take under the fast timings.
const FAST_HTTP_BUDGET: Duration = Duration::from_secs(10);

/// The runtime `serve` runs: production timings, or the fast ones of the end-to-end tests
/// (what `wfo_harness::Harness::start` uses, with a lease of seconds instead of a minute).
pub(crate) fn runtime_config(listen: SocketAddr, public_url: Option<String>, timing: Timing) -> RuntimeConfig {
    match timing {
        Timing::Normal => RuntimeConfig {
            listen,
            public_url,
            ..RuntimeConfig::default()
        },
        Timing::Fast => RuntimeConfig {
            listen,
            public_url,
            workers: 4,
            sweep_interval: Duration::from_millis(100),
            poll_interval: Some(Duration::from_secs(1)),
            refresh_interval: Duration::from_secs(3600),
            poll: PollSettings {
                initial_lookback: chrono::Duration::days(2),
                ..PollSettings::default()
            },
            import: ImportSettings {
                lease: FAST_LEASE,
                http_policy: RetryPolicy {
                    budget: FAST_HTTP_BUDGET,
                    attempt_timeout: Duration::from_secs(5),
                    ..RetryPolicy::fast()
                },
                ..ImportSettings::fast()
            },
            poller_enabled: true,
        },
    }
}

/// Ctrl-C (SIGINT) or SIGTERM, whichever comes first. Both are listened for from the
/// call on: one that comes while the runtime starts still stops it cleanly.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            (int, term) => {
                if let Some(e) = int.err().or(term.err()) {
                    tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM; waiting for Ctrl-C only");
                }
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(
    store: SqliteStore,
    cfg: RuntimeConfig,
    operator_token: Option<wfo_domain::Secret>,
) -> Result<(), Failure> {
    let stop = stop_signal();
    let store: Arc<dyn Store> = Arc::new(store);
    let rt =
        RunningRuntime::start_with_operator_token(store.clone(), wfo_sources::Sources::shared(), cfg, operator_token)
            .await
            .map_err(Failure::job)?;
    store
        .put_value(RUNTIME_KEY, "public_url", &serde_json::json!(rt.public_url))
        .await
        .map_err(Failure::job)?;
    eprintln!(
        "wfo-connect serving on http://{} (public URL {}); Ctrl-C or SIGTERM stops",
        rt.addr, rt.public_url
    );
    stop.await;
    eprintln!("stopping…");
    rt.shutdown().await;
    Ok(())
}

pub(crate) async fn connector(store: &dyn Store, action: ConnectorCmd) -> Result<(), Failure> {
    match action {
        ConnectorCmd::Add { file } => {
            for cfg in load_configs(&file)? {
                let now = Utc::now();
                let existed = store.get_connector(&cfg.id).await.map_err(Failure::job)?.is_some();
                let stored = store.put_connector(&cfg, now).await.map_err(Failure::job)?;
                let id = &stored.config.id;
                println!("connector '{id}' ({}) stored", stored.config.kind);
                match scheme_of(stored.config.kind) {
                    // OAuth connectors are authorized by an operator next.
                    CredentialScheme::OAuth => {
                        println!("next: open its Authorization URL: wfo-connect connector auth-url {id}")
                    }
                    CredentialScheme::ApiKey => {
                        println!("it authenticates with source.api_key: `wfo-connect status {id}` checks the key")
                    }
                }
                println!("then check its setup: wfo-connect connector check {id}");
                // A changed configuration (a new API key, a fixed setting) may be what
                // held items waited for: they look again now, not at their next periodic look.
                if existed {
                    let resumed = wfo_pipeline::reconcile::resume_held(store, id, now)
                        .await
                        .map_err(Failure::job)?;
                    if resumed > 0 {
                        println!("{resumed} item(s) held for an operator look again now");
                    }
                }
            }
            Ok(())
        }
        ConnectorCmd::List => {
            let all = store.list_connectors().await.map_err(Failure::job)?;
            if all.is_empty() {
                println!("no connectors (add one with `wfo-connect connector add FILE`)");
            }
            for c in all {
                println!(
                    "{:<24} {:<14} acd_server_id={:<4} {}",
                    c.config.id, c.config.kind, c.config.acd_server_id, c.config.acd_name
                );
            }
            Ok(())
        }
        ConnectorCmd::Show { id } => {
            let c = get_connector(store, &id).await?;
            let text = serde_json::to_string_pretty(&c.config.redacted()).map_err(Failure::job)?;
            println!("{text}");
            Ok(())
        }
        // Needs the store shared (`Arc`): both backends dispatch it before coming here.
        ConnectorCmd::Check { id } => Err(Failure::usage(format!(
            "connector check {id}: not available through this path"
        ))),
        ConnectorCmd::AuthUrl { id, public_url } => {
            let c = get_connector(store, &id).await?;
            // An API-key connector has nothing to authorize (the route says the same).
            wfo_pipeline::auth::check_oauth(&c, scheme_of(c.config.kind)).map_err(Failure::usage)?;
            let public_url = match public_url {
                Some(u) => u,
                None => store
                    .get_value(RUNTIME_KEY, "public_url")
                    .await
                    .map_err(Failure::job)?
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .ok_or_else(|| {
                        Failure::usage("no public URL known: pass --public-url, or start `wfo-connect serve` first")
                    })?,
            };
            if c.config.source.client_id.is_none() || c.config.source.client_secret.is_none() {
                return Err(Failure::usage(format!(
                    "connector '{id}' has no OAuth client credentials (source.client_id / source.client_secret)"
                )));
            }
            // The URL operators open is the runner's own route: it mints a fresh
            // single-use state and redirects to the source's consent page.
            println!("{}/oauth/{}/authorize", public_url.trim_end_matches('/'), c.config.id);
            Ok(())
        }
    }
}

pub(crate) async fn refresh(store: Arc<dyn Store>, id: Option<&str>) -> Result<(), Failure> {
    let connectors = match id {
        Some(id) => vec![get_connector(store.as_ref(), id).await?],
        None => store.list_connectors().await.map_err(Failure::job)?,
    };
    let connections = connections(store)?;
    let mut failed = false;
    for c in &connectors {
        // Credentials without upkeep (an API key) have nothing to refresh.
        let credentials = match connections.credentials(c) {
            Ok(cr) if cr.needs_upkeep() => cr,
            _ => continue,
        };
        match credentials.renew().await {
            Ok(RefreshOutcome::Refreshed { access_expires_at }) => {
                println!(
                    "{}: refreshed; access token valid until {access_expires_at}",
                    c.config.id
                )
            }
            Ok(RefreshOutcome::AlreadyFresh) => println!("{}: refreshed by another process just now", c.config.id),
            Err(e @ (AuthError::ReauthRequired { .. } | AuthError::NotAuthorized(_))) => {
                failed = true;
                println!("{}: reauthorization required: {e}", c.config.id);
            }
            Err(e) => {
                failed = true;
                println!("{}: refresh failed: {e}", c.config.id);
            }
        }
    }
    if failed {
        Err(Failure::job("some connectors could not be refreshed (see above)"))
    } else {
        Ok(())
    }
}

pub(crate) fn parse_time(s: &str, what: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(Failure::usage(format!(
        "--{what} '{s}' must be RFC 3339 (2026-11-01T00:00:00Z) or YYYY-MM-DD"
    )))
}

/// Who imports what a backfill discovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportBy {
    /// This process, before `backfill` returns (the local backend: no server needed).
    ThisProcess,
    /// The deployed stack's import worker, from the queue discovery sent the items to:
    /// `backfill` returns once they are recorded and enqueued.
    Stack,
}

/// `wfo-connect status [ID]`. Reads the store, except for API-key connectors, whose key
/// is checked with one call to the source each ([`wfo_pipeline::health::api_key_status`],
/// at most [`API_KEY_CHECK_TIMEOUT`]); with several connectors those checks run at once.
pub(crate) async fn status(shared: Arc<dyn Store>, id: Option<&str>) -> Result<(), Failure> {
    let store = shared.as_ref();
    let connectors = match id {
        Some(id) => vec![get_connector(store, id).await?],
        None => store.list_connectors().await.map_err(Failure::job)?,
    };
    if connectors.is_empty() {
        println!("no connectors (add one with `wfo-connect connector add FILE`)");
    }
    let now = Utc::now();
    let mut key_checks = api_key_checks(shared.clone(), &connectors, now)?;
    for c in &connectors {
        let cid = &c.config.id;
        println!(
            "connector {cid} ({}, acd_server_id {})",
            c.config.kind, c.config.acd_server_id
        );
        if let Some(check) = key_checks.remove(cid) {
            let line = check
                .await
                .unwrap_or_else(|e| Some(format!("  api key:  could not be checked: the check stopped ({e})")));
            if let Some(line) = line {
                println!("{line}");
            }
        }
        // What the `/status` page of `serve` shows too.
        let summary = wfo_pipeline::status::summarize(store, c, now)
            .await
            .map_err(Failure::job)?;
        for line in &summary.access {
            println!("{line}");
        }
        let cursor: Option<Cursor> = store
            .get_value(cid, CURSOR_KEY)
            .await
            .map_err(Failure::job)?
            .and_then(|v| serde_json::from_value(v).ok());
        match cursor {
            Some(cur) => println!(
                "  poller:   last run {}; newest item seen {}; last window listed {}, {} new",
                cur.last_run_at, cur.newest_seen, cur.last_listed, cur.last_new
            ),
            None => println!("  poller:   not run yet"),
        }
        if c.config.sync.data_recapture {
            let zone = c.config.sync.time_zone.as_deref().unwrap_or("UTC");
            let at = format!("daily at {} {zone}", c.config.sync.recapture_time);
            match wfo_pipeline::reconcile::recapture_state(store, cid)
                .await
                .map_err(Failure::job)?
            {
                None => println!("  recapture: {at}; not run yet"),
                Some(st) => {
                    let last = st
                        .last_day
                        .map(|d| format!("last complete run {d}"))
                        .unwrap_or_else(|| "no complete run yet".to_owned());
                    let r = &st.report;
                    println!(
                        "  recapture: {at}; {last} ({} listed, {} new, {} planned again){}",
                        r.listed,
                        r.new,
                        r.replanned,
                        st.error
                            .as_deref()
                            .map(|e| format!("; last attempt {} failed: {e}", st.last_attempt_at.to_rfc3339()))
                            .unwrap_or_default()
                    );
                }
            }
        }
        print_sync_status(store, c).await?;
        if let Some(held) = &summary.needs_operator {
            println!(
                "  NEEDS OPERATOR since {}: {} (items are held, not lost; they resume by themselves once this is fixed)",
                held.since.to_rfc3339(),
                held.reason
            );
        }
        let watch = wfo_pipeline::mapping_watch::load(store, cid)
            .await
            .map_err(Failure::job)?;
        for never in watch.never_matching(now) {
            println!("  mapping:  {}", wfo_pipeline::mapping_watch::describe(&never));
        }
        print_items(&summary);
    }
    let queue = wfo_pipeline::status::queue_summary(store).await.map_err(Failure::job)?;
    println!(
        "queue: {} waiting, {} dead letters",
        queue.depth,
        queue.dead_letters.len()
    );
    for (body, reason) in &queue.dead_letters {
        println!("  dead letter: {body} ({reason})");
    }
    Ok(())
}

/// The item lines of `status`: counts, items waiting for their capture, held or failing
/// items, dead items with the backfill that revives them, and the import's notes.
fn print_items(s: &wfo_pipeline::status::ConnectorSummary) {
    let states: Vec<String> = s.counts.by_state.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "  items:    {} total{}{}",
        s.counts.total,
        if states.is_empty() { "" } else { ": " },
        states.join(", ")
    );
    // Contacts in WFO whose audio the source has not given yet: normal for a contact
    // center (captures come minutes to hours after the call), shown apart from failures.
    if s.waiting_total > 0 {
        println!("  waiting for their capture: {}", s.waiting_total);
    }
    for w in &s.waiting {
        println!(
            "    {} contacts in WFO {}/{}, {} without audio; next check {} (check {}), gives up {}{}",
            w.item_id,
            w.imported,
            w.contacts,
            w.without_audio,
            w.next_check.to_rfc3339(),
            w.check,
            w.give_up_at.to_rfc3339(),
            if w.requested {
                " (recorded: a capture is expected)"
            } else {
                ""
            }
        );
    }
    for p in &s.problems {
        println!(
            "    {} {} attempts={} next={} {}",
            p.item_id,
            p.state,
            p.attempts,
            p.next_attempt_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into()),
            p.reason.as_deref().unwrap_or("")
        );
    }
    for d in &s.dead {
        println!(
            "    DEAD {} at {} after {} attempt(s): {}\n      retry: {}",
            d.item_id,
            d.stage.as_str(),
            d.attempts,
            d.reason.as_deref().unwrap_or(""),
            d.retry
        );
    }
    for (item, note) in &s.notes {
        println!("    note {item}: {note}");
    }
}

/// The API-key check of every API-key connector among `connectors`, started at once.
fn api_key_checks(
    store: Arc<dyn Store>,
    connectors: &[StoredConnector],
    now: DateTime<Utc>,
) -> Result<HashMap<String, tokio::task::JoinHandle<Option<String>>>, Failure> {
    let keyed: Vec<&StoredConnector> = connectors
        .iter()
        .filter(|c| scheme_of(c.config.kind) == CredentialScheme::ApiKey)
        .collect();
    if keyed.is_empty() {
        return Ok(HashMap::new());
    }
    let connections = connections(store)?;
    Ok(keyed
        .into_iter()
        .map(|c| {
            let (connections, c) = (connections.clone(), c.clone());
            let id = c.config.id.clone();
            let check = tokio::spawn(async move {
                wfo_pipeline::health::api_key_status(&connections, &c, API_KEY_CHECK_TIMEOUT, now).await
            });
            (id, check)
        })
        .collect())
}

/// `wfo-connect sync ID`: one user sync run, now.
pub(crate) async fn sync(store: Arc<dyn Store>, id: &str) -> Result<(), Failure> {
    let c = &get_connector(store.as_ref(), id).await?;
    if !c.config.features.user_sync {
        return Err(Failure::usage(format!(
            "connector '{id}' has features.user_sync = false"
        )));
    }
    let cfg = &c.config;
    let connections = connections(store)?;
    let wfo = wfo_client::WfoClient::with_http_client(
        wfo_client::WfoClientConfig::new(
            cfg.wfo.api_url.clone(),
            cfg.wfo.username.clone(),
            cfg.wfo.password.clone(),
        ),
        connections.http().clone(),
    );
    let deps = SyncDeps {
        connections: &connections,
        wfo: &wfo,
    };
    let run = sync_connector(&deps, c, &SyncSettings::default())
        .await
        .map_err(|e| match e {
            e @ (SyncError::Busy(_) | SyncError::Disabled(_) | SyncError::Unsupported(_)) => {
                Failure::usage(e.to_string())
            }
            e => Failure::job(format!("user sync of '{}' failed: {e}", cfg.id)),
        })?;
    let _ = wfo.logout().await;
    let org = org_lines(&run);
    if org.is_empty() {
        println!("{}: {}", cfg.id, sync_summary(&run));
        println!(
            "  {} people listed, {} licensed and recorded candidates; {} Webex calls, {} WFO writes",
            run.people_listed,
            run.candidates,
            run.source_calls.total(),
            run.wfo_writes
        );
    } else {
        // Contact center: one line per kind, in the order they are synced.
        for line in org {
            println!("{}: {line}", cfg.id);
        }
        println!("{}: users: {}", cfg.id, sync_summary(&run));
        println!(
            "  {} users listed ({} active); {} Contact Center requests ({} user, {} team, {} queue pages), {} WFO writes",
            run.people_listed,
            run.candidates,
            run.source_calls.total(),
            run.source_calls.people_pages,
            run.source_calls.team_pages,
            run.source_calls.queue_pages,
            run.wfo_writes
        );
    }
    for w in &run.warning_samples {
        println!("  warning: {w}");
    }
    match &run.error {
        Some(e) => Err(Failure::job(format!("user sync of '{}' incomplete: {e}", cfg.id))),
        None => Ok(()),
    }
}

/// "teams: …" and "queues: …" of a contact-center run (empty for other sources).
pub(crate) fn org_lines(run: &SyncRun) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, r) in [("teams", &run.teams), ("queues", &run.queues)] {
        let Some(r) = r else { continue };
        let c = &r.counts;
        let mut line = format!(
            "{kind}: created {}, updated {}, deactivated {}, unchanged {}",
            c.created, c.updated, c.deactivated, c.unchanged
        );
        if c.reactivated > 0 {
            line.push_str(&format!(", reactivated {}", c.reactivated));
        }
        if !r.rejected.is_empty() {
            line.push_str(&format!(", {} unreadable entries skipped", r.rejected.len()));
        }
        if r.incomplete.is_some() {
            line.push_str(" (listing incomplete: nothing deactivated)");
        }
        out.push(line);
    }
    out
}

pub(crate) fn sync_summary(run: &SyncRun) -> String {
    let c = &run.counts;
    let waiting = if c.awaiting_first_recording > 0 {
        format!(
            ", {} awaiting their first recording (sync.create_persons = \"all_eligible\" creates them now)",
            c.awaiting_first_recording
        )
    } else {
        String::new()
    };
    format!(
        "created {}, updated {}, reactivated {}, deactivated {}, unchanged {}{waiting}",
        c.created, c.updated, c.reactivated, c.deactivated, c.unchanged
    )
}

async fn print_sync_status(store: &dyn Store, c: &StoredConnector) -> Result<(), Failure> {
    if !c.config.features.user_sync {
        println!("  sync:     off (features.user_sync = false)");
        return Ok(());
    }
    let Some(status) = load_sync_status(store, &c.config.id).await.map_err(Failure::job)? else {
        println!(
            "  sync:     not run yet (every {} minutes under `serve`; now: `wfo-connect sync {}`)",
            c.config.sync.interval_minutes, c.config.id
        );
        return Ok(());
    };
    let run = &status.last_run;
    let when = run.finished_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
    let state = if run.complete { "complete" } else { "INCOMPLETE" };
    let org = org_lines(run);
    if org.is_empty() {
        println!("  sync:     last run {when} ({state}): {}", sync_summary(run));
    } else {
        println!("  sync:     last run {when} ({state})");
        for line in org {
            println!("            {line}");
        }
        println!("            users: {}", sync_summary(run));
    }
    if let Some(t) = status.last_complete_at.filter(|_| !run.complete) {
        println!("            last complete run {t}");
    }
    if let Some(e) = &run.error {
        println!("            last error: {e}");
    }
    Ok(())
}

fn segment(kind: &str, acd_server_id: i64, files: &[PathBuf]) -> Result<(), Failure> {
    let kind = ConnectorKind::parse(kind).ok_or_else(|| {
        Failure::usage(format!(
            "--kind '{kind}' must be webex-calling, webex-cc-2 or webex-cc-1"
        ))
    })?;
    let Some(source) = wfo_sources::Sources.source_kind(kind) else {
        return Err(Failure::usage(format!(
            "segment --kind {kind} is not available yet; webex-calling is"
        )));
    };
    let ctx = wfo_domain::segment::SegmentContext {
        acd_server_id,
        metadata: Vec::new(),
    };
    let mut all = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| Failure::usage(format!("cannot read {}: {e}", f.display())))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Failure::usage(format!("{}: not JSON: {e}", f.display())))?;
        let contacts = source
            .segment_file(&doc, &ctx)
            .map_err(|e| Failure::job(format!("{}: {e}", f.display())))?;
        all.extend(contacts);
    }
    all.sort_by(|a, b| {
        (
            a.contact.assoc_call_id.as_str(),
            a.contact.start_time,
            a.contact.external_id.as_str(),
        )
            .cmp(&(
                b.contact.assoc_call_id.as_str(),
                b.contact.start_time,
                b.contact.external_id.as_str(),
            ))
    });
    let text = serde_json::to_string_pretty(&all).map_err(Failure::job)?;
    println!("{text}");
    Ok(())
}
