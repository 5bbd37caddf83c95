//! The operator verbs that act (`sync`, `refresh`, `backfill`, `dlq`) with `--backend aws`,
//! against a stack provisioned on the local emulator and the Webex and WFO simulators on
//! 127.0.0.1; and `dlq` on the local backend. The real `wfo-connect` binary runs each
//! verb, with the stack's names in its environment as an operator copies them from the
//! stack outputs. The AWS tests skip with a note when `MOTO_ENDPOINT` is unset
//! (`scripts/moto.sh start`).

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use chrono::Utc;
use wfo_aws::{AwsClients, AwsNames, AwsStore, provision};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::Stage;
use wfo_pipeline::ports::{ConnectorStore, Ledger, TokenRecord, TokenStore, WorkMessage, WorkQueue};
use wfo_sim_webex::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningWebexSim, WebexSim, WebexSimConfig};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_store::SqliteStore;

const SCOPES: &[&str] = &[
    "spark-compliance:recordings_read",
    "spark-admin:people_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
];

fn env_of(names: &AwsNames, endpoint: &str) -> Vec<(&'static str, String)> {
    common::aws_env(names, endpoint)
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joins")
}

async fn aws(env: &[(&'static str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfo-connect"));
    cmd.arg("--backend")
        .arg("aws")
        .args(args)
        .env_remove("AWS_PROFILE")
        .env_remove("WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\n{}\n{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// A stack on the emulator, or `None` (with a note) when there is none.
async fn stack(test: &str) -> Option<(String, AwsClients, AwsStore)> {
    let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
        println!("note: MOTO_ENDPOINT is not set; skipping {test} (start one with scripts/moto.sh start)");
        return None;
    };
    let clients = AwsClients::for_emulator(&endpoint).await;
    let prefix = format!("vb{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let names = provision::create_all(&clients, &prefix).await.unwrap();
    let store = AwsStore::new(&clients, names);
    Some((endpoint, clients, store))
}

/// Connector `acme` on the simulators, stored in the stack and authorized.
async fn connector_on_sims(store: &AwsStore) -> (RunningSim, RunningWebexSim) {
    let wfo = WfoSim::start(SimConfig {
        users: vec![("api".to_owned(), Secret::new("pw"))],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let webex = WebexSim::start(WebexSimConfig::default()).await.unwrap();
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"acme\"\nacd_name = \"Acme\"\nkind = \"webex-calling\"\nacd_server_id = 3\n\
         [source]\napi_url = \"{w}\"\nidentity_url = \"{w}\"\ntenant_id = \"{org}\"\n\
         client_id = \"{DEFAULT_CLIENT_ID}\"\nclient_secret = \"{DEFAULT_CLIENT_SECRET}\"\n\
         [wfo]\napi_url = \"{f}\"\nusername = \"api\"\npassword = \"pw\"\n\
         [features]\nwebhook = false\nuser_sync = true\n\
         [sync]\ncreate_persons = \"all_eligible\"\n",
        w = webex.base_url(),
        org = webex.org_id(),
        f = wfo.base_url()
    ))
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
    let t = webex.issue_tokens(DEFAULT_CLIENT_ID, SCOPES).unwrap();
    let now = Utc::now();
    let tokens = wfo_harness::token_set(t, now);
    let record = TokenRecord {
        tokens: Some(tokens),
        reauth_required: None,
        version: 0,
    };
    store.put_tokens("acme", &record, 0).await.unwrap();
    (wfo, webex)
}

/// `sync` and `refresh` run here on the stack's state; `backfill` records the window's
/// items in the ledger and sends them to the import queue for the stack's worker, and
/// imports nothing itself; `status` shows them waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_refresh_backfill_and_status_on_a_deployed_stack() {
    let Some((endpoint, _clients, store)) = stack("the --backend aws verbs").await else {
        return;
    };
    let env = env_of(store.names(), &endpoint);
    let (wfo, webex) = connector_on_sims(&store).await;

    let synced = ok(&aws(&env, &["sync", "acme"]).await);
    assert!(synced.contains("acme: created "), "{synced}");
    assert!(!wfo.persons().is_empty(), "the sync created people in WFO");

    let before = store.get_tokens("acme").await.unwrap();
    let refreshed = ok(&aws(&env, &["refresh", "acme"]).await);
    assert!(
        refreshed.contains("acme: refreshed; access token valid until"),
        "{refreshed}"
    );
    let after = store.get_tokens("acme").await.unwrap();
    assert!(
        after.version > before.version,
        "the new tokens are in the stack's table"
    );
    assert_ne!(
        after.tokens.as_ref().map(|t| t.access_token.expose().to_owned()),
        before.tokens.as_ref().map(|t| t.access_token.expose().to_owned())
    );

    let base = Utc::now() - chrono::Duration::hours(3);
    let instances: Vec<_> = ["call-queue", "consult-transfer"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            webex
                .instantiate(s, base + chrono::Duration::minutes(10 * i as i64))
                .unwrap()
        })
        .collect();
    webex.publish_all(&instances).await;
    let mut ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    ids.sort();
    let n = ids.len();
    let from = (base - chrono::Duration::hours(1)).to_rfc3339();
    let to = Utc::now().to_rfc3339();
    let args = ["backfill", "acme", "--from", from.as_str(), "--to", to.as_str()];
    let filled = ok(&aws(&env, &args).await);
    assert!(filled.contains(&format!("{n} recordings listed, {n} new")), "{filled}");
    assert!(
        filled.contains(&format!("{n} item(s) sent to the import queue"))
            && filled.contains("wfo-connect --backend aws status acme"),
        "it says where the work went and how to watch it: {filled}"
    );
    for id in &ids {
        let item = store.get("acme", id).await.unwrap().expect("the item is in the ledger");
        assert_eq!(item.stage, Stage::Discovered, "{id}: imported by the worker, not here");
    }
    assert!(wfo.contacts().is_empty(), "the CLI imports nothing on AWS");

    let status = ok(&aws(&env, &["status", "acme"]).await);
    assert!(status.contains(&format!("items:    {n} total")), "{status}");
    assert!(
        status.contains(&format!("queue: {n} waiting, 0 dead letters")),
        "{status}"
    );

    // The preflight reads the connector and its tokens from the stack's tables: the
    // source side passes (token, org, scopes, recordings, users); the WFO side names
    // what the bare simulator tenant lacks, if anything — never a usage error.
    let checked = aws(&env, &["connector", "check", "acme"]).await;
    let text = stdout(&checked);
    assert!(
        matches!(checked.status.code(), Some(0 | 1)),
        "{text}\n{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for name in [
        "source credentials:",
        "organization:",
        "recordings listable:",
        "WFO login:",
    ] {
        let line = text.lines().find(|l| l.contains(name)).unwrap_or_default();
        assert!(line.starts_with('✓'), "{name}\n{text}");
    }

    let mut queued: Vec<String> = store
        .receive(50, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::from_str::<WorkMessage>(&r.body).unwrap())
        .inspect(|m| assert_eq!(m.connector_id, "acme"))
        .map(|m| m.item_id)
        .collect();
    queued.sort();
    assert_eq!(queued, ids, "one work message per item, for the stack's import worker");

    // A repeated backfill finds everything known and enqueues nothing more.
    let again = ok(&aws(&env, &args).await);
    assert!(again.contains(", 0 new") && again.contains("0 item(s) sent"), "{again}");

    webex.shutdown().await;
    wfo.shutdown().await.unwrap();
}

/// `dlq list` shows the import DLQ (and the scheduler's, when named); `replay ID` moves a
/// dead letter back to the import queue once; `replay --all` empties the DLQ.
#[tokio::test]
async fn dlq_list_and_replay_on_a_deployed_stack() {
    let Some((endpoint, clients, store)) = stack("the --backend aws dlq verbs").await else {
        return;
    };
    let mut env = env_of(store.names(), &endpoint);
    let dead_letter = |item: &'static str| {
        let store = &store;
        async move {
            let msg = WorkMessage {
                connector_id: "acme".into(),
                item_id: item.into(),
            };
            store.send(&msg, Duration::ZERO).await.unwrap();
            let got = store.receive(10, Duration::from_secs(30)).await.unwrap();
            let mine = got.iter().find(|r| r.body.contains(item)).expect("received");
            store
                .dead_letter(&mine.receipt, &format!("names no ledger item {item}"))
                .await
                .unwrap();
        }
    };
    dead_letter("rec-9").await;
    // The scheduler's DLQ: what Lambda sends there for a failed asynchronous invocation.
    let sched = clients
        .sqs
        .create_queue()
        .queue_name(format!("{}-sched-dlq", store.names().ledger_table))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let error = aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value("Task timed out after 300.00 seconds")
        .build()
        .unwrap();
    clients
        .sqs
        .send_message()
        .queue_url(&sched)
        .message_body(r#"{"task":"sweep"}"#)
        .message_attributes("ErrorMessage", error)
        .send()
        .await
        .unwrap();
    env.push(("WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL", sched.clone()));

    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let id = dead[0].message_id.clone();
    let list = ok(&aws(&env, &["dlq", "list"]).await);
    assert!(list.contains("work queue: 1 dead letter(s)"), "{list}");
    let line = list
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("the id {id} is listed: {list}"));
    assert!(line.contains("connector=acme item=rec-9"), "{line}");
    assert!(line.contains("reason: names no ledger item rec-9"), "{line}");
    assert!(
        line.contains(&format!(" at {}", Utc::now().format("%Y-%m-%d"))),
        "{line}"
    );
    assert!(
        list.contains("scheduler queue (failed scheduled runs): 1 dead letter(s)"),
        "{list}"
    );
    assert!(
        list.contains(r#"not a work message: {"task":"sweep"}"#) && list.contains("Task timed out"),
        "{list}"
    );

    let replayed = ok(&aws(&env, &["dlq", "replay", &id]).await);
    assert!(
        replayed.contains(&format!("dead letter {id} back on the work queue")),
        "{replayed}"
    );
    assert!(
        store.dead_letters(10).await.unwrap().is_empty(),
        "the DLQ is empty after"
    );
    let back = store.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(back.len(), 1, "the message is back on the work queue, once");
    let msg: WorkMessage = serde_json::from_str(&back[0].body).unwrap();
    assert_eq!(msg.item_id, "rec-9");
    store.ack(&back[0].receipt).await.unwrap();

    let twice = ok(&aws(&env, &["dlq", "replay", &id]).await);
    assert!(twice.contains("already replayed"), "{twice}");
    assert_eq!(store.depth().await.unwrap(), 0, "a second replay sends nothing");

    let sched_id = store.dead_letters_in(&sched, 10).await.unwrap()[0].message_id.clone();
    let refused = aws(&env, &["dlq", "replay", &sched_id]).await;
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not replayed"));

    dead_letter("rec-10").await;
    dead_letter("rec-11").await;
    let all = ok(&aws(&env, &["dlq", "replay", "--all"]).await);
    assert!(all.contains("2 dead letter(s) back on the work queue"), "{all}");
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(store.depth().await.unwrap(), 2);
    assert_eq!(
        store.dead_letters_in(&sched, 10).await.unwrap().len(),
        1,
        "replay leaves the scheduler's DLQ alone"
    );
    let empty = ok(&aws(&env, &["dlq", "list"]).await);
    assert!(empty.contains("work queue: 0 dead letter(s)"), "{empty}");
}

/// The same verbs on the embedded store.
#[tokio::test]
async fn dlq_list_and_replay_on_the_local_backend() {
    let state = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(state.path()).unwrap();
    for item in ["rec-1", "rec-2"] {
        let msg = WorkMessage {
            connector_id: "acme".into(),
            item_id: item.into(),
        };
        store.send(&msg, Duration::ZERO).await.unwrap();
    }
    for r in store.receive(10, Duration::from_secs(30)).await.unwrap() {
        store.dead_letter(&r.receipt, "set aside for the test").await.unwrap();
    }
    let local = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfo-connect"));
        cmd.arg("--state-dir").arg(state.path()).args(args);
        run(cmd)
    };
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 2);
    let list = ok(&local(&["dlq", "list"]).await);
    assert!(list.contains("work queue: 2 dead letter(s)"), "{list}");
    for d in &dead {
        let line = list.lines().find(|l| l.contains(&format!("  {}  ", d.message_id)));
        let line = line.unwrap_or_else(|| panic!("{} listed: {list}", d.message_id));
        assert!(line.contains("connector=acme item=rec-") && line.contains("set aside for the test"));
    }

    let one = ok(&local(&["dlq", "replay", &dead[0].message_id]).await);
    assert!(one.contains("back on the work queue"), "{one}");
    let again = ok(&local(&["dlq", "replay", &dead[0].message_id]).await);
    assert!(again.contains("already replayed"), "{again}");
    assert_eq!(store.depth().await.unwrap(), 1);

    let all = ok(&local(&["dlq", "replay", "--all"]).await);
    assert!(all.contains("1 dead letter(s) back on the work queue"), "{all}");
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    let back = store.receive(10, Duration::from_secs(30)).await.unwrap();
    let mut items: Vec<String> = back
        .iter()
        .map(|r| serde_json::from_str::<WorkMessage>(&r.body).unwrap().item_id)
        .collect();
    items.sort();
    assert_eq!(items, ["rec-1", "rec-2"], "each is back once, receivable at once");

    let usage = local(&["dlq", "replay"]).await;
    assert_eq!(usage.status.code(), Some(2), "replay needs an ID or --all");
}
