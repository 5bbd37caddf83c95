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
