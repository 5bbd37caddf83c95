//! The shared port test suite against the embedded SQLite store.

use std::sync::Arc;

use wfo_ports::Store;
use wfo_ports::conformance;
use wfo_store::SqliteStore;

fn open() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    (dir, Arc::new(store))
}

#[tokio::test]
async fn ledger_discover_is_idempotent_and_writes_are_conditional() {
    let (_d, s) = open();
    conformance::ledger_rules(s.as_ref()).await;
}

#[tokio::test]
async fn ledger_due_skips_done_dead_future_and_leased_items() {
    let (_d, s) = open();
    conformance::ledger_due(s.as_ref()).await;
}

#[tokio::test]
async fn ledger_items_too_large_for_dynamodb_are_refused_permanently() {
    let (_d, s) = open();
    conformance::ledger_item_size(s.as_ref()).await;
}

#[tokio::test]
async fn queue_hides_redelivers_and_keeps_dead_letters() {
    let (_d, s) = open();
    conformance::queue_rules(s.as_ref()).await;
}

#[tokio::test]
async fn queue_ack_removes_the_message() {
    let (_d, s) = open();
    conformance::queue_ack(s.as_ref()).await;
}

#[tokio::test]
async fn connectors_keep_secrets_and_tokens_are_conditional() {
    let (_d, s) = open();
    conformance::connectors_and_tokens(s.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_token_writers_at_once_one_wins() {
    let (_d, s) = open();
    conformance::concurrent_token_writes(s).await;
}

#[tokio::test]
async fn values_and_locks() {
    let (_d, s) = open();
    conformance::kv_and_locks(s.as_ref()).await;
}

#[tokio::test]
async fn quotas_never_pass_their_limit_and_windows_are_independent() {
    let (_d, s) = open();
    conformance::quota_rules(s.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_quota_takers_get_exactly_the_limit() {
    let (_d, s) = open();
    conformance::concurrent_quota_takers(s).await;
}

#[tokio::test]
async fn two_processes_worth_of_handles_share_one_state_dir() {
    // Two independent opens of one directory behave like two processes: each sees the
    // other's writes, and conditional inserts stay exclusive.
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path()).unwrap();
    let b = SqliteStore::open(dir.path()).unwrap();
    use wfo_domain::ledger::Discovery;
    use wfo_ports::{Discovered, Ledger};
    let now = chrono::Utc::now();
    assert_eq!(
        a.discover("c", "x", Discovery::Webhook, now).await.unwrap(),
        Discovered::New
    );
    assert_eq!(
        b.discover("c", "x", Discovery::Poller, now).await.unwrap(),
        Discovered::Known
    );
    assert!(b.get("c", "x").await.unwrap().is_some());
}

#[tokio::test]
async fn secrets_are_not_stored_in_clear_text() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    use wfo_ports::ConnectorStore;
    s.put_connector(&conformance::sample_config("clear"), chrono::Utc::now())
        .await
        .unwrap();
    drop(s);
    let raw = std::fs::read(dir.path().join("state.db")).unwrap();
    let wal = std::fs::read(dir.path().join("state.db-wal")).unwrap_or_default();
    for needle in ["client-secret-value-123", "wfo-password-value-456"] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in state.db"
        );
        assert!(
            !wal.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in the WAL"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_takers_in_several_processes_on_one_state_dir_never_pass_the_limit() {
    // Independent opens of one directory behave like processes: each has its own
    // connection, so only the database file's write lock keeps the counter exact.
    use wfo_ports::KvStore;
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<SqliteStore> = (0..4).map(|_| SqliteStore::open(dir.path()).unwrap()).collect();
    let window = chrono::DateTime::from_timestamp(2_000_000_000, 0).unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = handles[i % handles.len()].clone();
        tasks.push(tokio::spawn(async move {
            s.take_quota("client-id", window, 1, 13, std::time::Duration::from_secs(3600))
                .await
                .unwrap()
        }));
    }
    let mut taken = Vec::new();
    for t in tasks {
        taken.extend(t.await.unwrap());
    }
    taken.sort_unstable();
    assert_eq!(taken, (1..=13).collect::<Vec<u32>>());
}

#[tokio::test]
async fn an_expired_quota_counter_is_cleaned_up() {
    let (_d, s) = open();
    let ttl = std::time::Duration::from_secs(60);
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(s.take_quota("b", past, 3, 3, ttl).await.unwrap(), Some(3));
    // Any later take deletes counters whose window_start + ttl has passed.
    let now = chrono::Utc::now();
    assert_eq!(s.take_quota("b", now, 1, 3, ttl).await.unwrap(), Some(1));
    assert_eq!(
        s.take_quota("b", past, 3, 3, ttl).await.unwrap(),
        Some(3),
        "the expired counter was deleted, so its window starts again"
    );
}

#[tokio::test]
async fn dead_letters_are_redriven_once() {
    let (_d, s) = open();
    conformance::dead_letter_redrive(s.as_ref()).await;
}

#[tokio::test]
async fn a_connector_changed_by_another_process_is_read_as_it_now_stands() {
    // The store keeps connectors it decoded: a change made through another handle on the
    // same directory (the CLI beside `serve`) must still be seen by the next read.
    use wfo_ports::ConnectorStore;
    let dir = tempfile::tempdir().unwrap();
    let serve = SqliteStore::open(dir.path()).unwrap();
    let cli = SqliteStore::open(dir.path()).unwrap();
    let now = chrono::Utc::now();
    let mut cfg = conformance::sample_config("changing");
    serve.put_connector(&cfg, now).await.unwrap();
    assert_eq!(serve.get_connector("changing").await.unwrap().unwrap().config, cfg);
    assert_eq!(serve.get_connector("changing").await.unwrap().unwrap().config, cfg);

    cfg.acd_name = "Renamed elsewhere".into();
    cli.put_connector(&cfg, now).await.unwrap();
    assert_eq!(
        serve.get_connector("changing").await.unwrap().unwrap().config.acd_name,
        "Renamed elsewhere"
    );
    let before = serve.get_connector("changing").await.unwrap().unwrap();
    let rotated = cli.rotate_webhook_secret("changing").await.unwrap();
    let after = serve.get_connector("changing").await.unwrap().unwrap();
    assert_ne!(
        before.secrets.webhook_secret.expose(),
        after.secrets.webhook_secret.expose()
    );
    assert_eq!(
        after.secrets.webhook_secret.expose(),
        rotated.secrets.webhook_secret.expose()
    );
}
