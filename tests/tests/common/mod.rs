//! Helpers shared by the workspace-level tests: a store wrapper that counts queue sends
//! and can fail (or "crash") on the Nth ledger write, a private store wired to a running
//! harness, and a look at the WFO simulator's duplicate report.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::{Discovery, LedgerItem};
use wfo_harness::Harness;
use wfo_pipeline::ports::{
    ConnectorStore, Discovered, KvStore, Ledger, LedgerCounts, Received, StoreError, StoreResult, StoredConnector,
    TokenRecord, TokenStore, WorkMessage, WorkQueue,
};
use wfo_store::SqliteStore;

/// Log lines of the code under test, when `RUST_LOG` asks for them.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Every built-in source over `store`: `token_http` for token calls, `policy` for source
/// calls (what a runner or a scheduled function builds once).
pub fn connections(
    store: Arc<dyn wfo_pipeline::ports::Store>,
    token_http: &reqwest::Client,
    policy: &wfo_http::RetryPolicy,
) -> Arc<wfo_pipeline::connections::Connections> {
    wfo_pipeline::connections::Connections::with_clients(
        store,
        wfo_sources::Sources::shared(),
        policy.clone(),
        reqwest::Client::new(),
        token_http.clone(),
    )
}

/// How [`FaultyStore`] fails ledger writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFailure {
    /// Only the Nth `put` fails; the store works again right after (a lost write).
    Once,
    /// The Nth `put` fails and so does every later call: the process died there.
    Crash,
}

/// Delegates every port to a [`SqliteStore`]; counts `send`s and ledger `put`s, and can
/// fail the Nth `put`.
pub struct FaultyStore {
    pub inner: SqliteStore,
    sends: AtomicUsize,
    puts: AtomicUsize,
    connector_reads: AtomicUsize,
    fail_at: AtomicUsize,
    mode: std::sync::Mutex<PutFailure>,
    down: AtomicBool,
}

impl FaultyStore {
    pub fn open(dir: &Path) -> Self {
        Self {
            inner: SqliteStore::open(dir).expect("open store"),
            sends: AtomicUsize::new(0),
            puts: AtomicUsize::new(0),
            connector_reads: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(0),
            mode: std::sync::Mutex::new(PutFailure::Once),
            down: AtomicBool::new(false),
        }
    }

    /// Messages enqueued so far.
    pub fn sends(&self) -> usize {
        self.sends.load(Ordering::SeqCst)
    }

    /// Connector reads (each a table read and a decryption on AWS).
    pub fn connector_reads(&self) -> usize {
        self.connector_reads.load(Ordering::SeqCst)
    }

    /// Ledger writes attempted since the last [`Self::fail_put`] / [`Self::heal`].
    pub fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    /// Fail the `n`th ledger write from now (1-based).
    pub fn fail_put(&self, n: usize, mode: PutFailure) {
        *self.mode.lock().expect("mode") = mode;
        self.puts.store(0, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Back to healthy; the write counter restarts.
    pub fn heal(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
        self.puts.store(0, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
    }

    fn check(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("test: the process crashed".to_owned()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Ledger for FaultyStore {
    async fn discover(&self, c: &str, i: &str, by: Discovery, now: DateTime<Utc>) -> StoreResult<Discovered> {
        self.check()?;
        self.inner.discover(c, i, by, now).await
    }
    async fn get(&self, c: &str, i: &str) -> StoreResult<Option<LedgerItem>> {
        self.check()?;
        self.inner.get(c, i).await
    }
    async fn put(&self, item: &LedgerItem) -> StoreResult<i64> {
        self.check()?;
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            if *self.mode.lock().expect("mode") == PutFailure::Crash {
                self.down.store(true, Ordering::SeqCst);
            }
            return Err(StoreError::Unavailable(format!("test: ledger write #{n} lost")));
        }
        self.inner.put(item).await
    }
    async fn lease(&self, c: &str, i: &str, owner: &str, lease: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        self.check()?;
        self.inner.lease(c, i, owner, lease, now).await
    }
    async fn release(&self, c: &str, i: &str, owner: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.release(c, i, owner).await
    }
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        self.check()?;
        self.inner.due(now, limit).await
    }
    async fn list(&self, c: &str, only_open: bool, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        self.check()?;
        self.inner.list(c, only_open, limit).await
    }
    async fn counts(&self, c: &str) -> StoreResult<LedgerCounts> {
        self.check()?;
        self.inner.counts(c).await
    }
}

#[async_trait]
impl WorkQueue for FaultyStore {
    async fn send(&self, msg: &WorkMessage, delay: Duration) -> StoreResult<()> {
        self.check()?;
        self.inner.send(msg, delay).await?;
        self.sends.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn receive(&self, max: usize, visibility: Duration) -> StoreResult<Vec<Received>> {
        self.check()?;
        self.inner.receive(max, visibility).await
    }
    async fn ack(&self, receipt: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.ack(receipt).await
    }
    async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
        self.check()?;
        self.inner.retry_later(receipt, delay).await
    }
    async fn dead_letter(&self, receipt: &str, reason: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.dead_letter(receipt, reason).await
    }
    async fn dead_letters(&self, limit: usize) -> StoreResult<Vec<Received>> {
        self.check()?;
        self.inner.dead_letters(limit).await
    }
    async fn redrive(&self, id: &str) -> StoreResult<bool> {
        self.check()?;
        self.inner.redrive(id).await
    }
    async fn depth(&self) -> StoreResult<u64> {
        self.check()?;
        self.inner.depth().await
    }
}

#[async_trait]
impl ConnectorStore for FaultyStore {
    async fn put_connector(&self, config: &ConnectorConfig, now: DateTime<Utc>) -> StoreResult<StoredConnector> {
        self.check()?;
        self.inner.put_connector(config, now).await
    }
    async fn get_connector(&self, id: &str) -> StoreResult<Option<StoredConnector>> {
        self.check()?;
        self.connector_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_connector(id).await
    }
    async fn list_connectors(&self) -> StoreResult<Vec<StoredConnector>> {
        self.check()?;
        self.inner.list_connectors().await
    }
    async fn rotate_webhook_secret(&self, id: &str) -> StoreResult<StoredConnector> {
        self.check()?;
        self.inner.rotate_webhook_secret(id).await
    }
}

#[async_trait]
impl TokenStore for FaultyStore {
    async fn get_tokens(&self, c: &str) -> StoreResult<TokenRecord> {
        self.check()?;
        self.inner.get_tokens(c).await
    }
    async fn put_tokens(&self, c: &str, record: &TokenRecord, expected_version: i64) -> StoreResult<i64> {
        self.check()?;
        self.inner.put_tokens(c, record, expected_version).await
    }
    async fn put_oauth_state(&self, nonce: &str, c: &str, expires_at: DateTime<Utc>) -> StoreResult<()> {
        self.check()?;
        self.inner.put_oauth_state(nonce, c, expires_at).await
    }
    async fn take_oauth_state(&self, nonce: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        self.check()?;
        self.inner.take_oauth_state(nonce, now).await
    }
}

#[async_trait]
impl KvStore for FaultyStore {
    async fn get_value(&self, c: &str, key: &str) -> StoreResult<Option<Value>> {
        self.check()?;
        self.inner.get_value(c, key).await
    }
    async fn put_value(&self, c: &str, key: &str, value: &Value) -> StoreResult<()> {
        self.check()?;
        self.inner.put_value(c, key, value).await
    }
    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        self.check()?;
        self.inner.try_lock(name, owner, ttl, now).await
    }
    async fn unlock(&self, name: &str, owner: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.unlock(name, owner).await
    }
    async fn take_quota(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> StoreResult<Option<u32>> {
        self.check()?;
        self.inner.take_quota(bucket, window_start, n, limit, ttl).await
    }
}

/// A store of its own (no runtime sweeps it) holding the harness's connector and the
/// tokens the harness obtained, for driving an `Importer` step by step.
pub async fn private_store(h: &Harness, dir: &Path) -> Arc<FaultyStore> {
    let store = Arc::new(FaultyStore::open(dir));
    store
        .put_connector(&h.connector, Utc::now())
        .await
        .expect("put connector");
    let mut tokens = h.store.get_tokens(&h.connector.id).await.expect("harness tokens");
    assert!(tokens.tokens.is_some(), "authorize the harness first");
    tokens.version = 0;
    store
        .put_tokens(&h.connector.id, &tokens, 0)
        .await
        .expect("copy tokens");
    store
}

/// `duplicateExternalIds` and `duplicateAgents` of the WFO simulator's `/sim/state`.
pub async fn wfo_duplicates(h: &Harness) -> (Vec<Value>, Vec<Value>) {
    let state: Value = reqwest::get(format!("{}/sim/state", h.wfo.base_url()))
        .await
        .expect("GET /sim/state")
        .json()
        .await
        .expect("/sim/state JSON");
    let list = |k: &str| state.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    (list("duplicateExternalIds"), list("duplicateAgents"))
}

/// Poll `f` every 20 ms until it returns `Some`, or give up after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every metric line (`wfo_pipeline::metrics`) emitted in this test process; the tap
/// is installed on first use.
pub fn metric_lines() -> Arc<std::sync::Mutex<Vec<String>>> {
    static LINES: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<String>>>> = std::sync::OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
            let tap = lines.clone();
            wfo_pipeline::metrics::set_tap(Some(Arc::new(move |line: &str| {
                tap.lock().expect("metric lines").push(line.to_owned());
            })));
            lines
        })
        .clone()
}

/// The metric lines named `metric` for `connector`, parsed.
pub fn metrics_of(connector: &str, metric: &str) -> Vec<Value> {
    metric_lines()
        .lock()
        .expect("metric lines")
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["Connector"] == connector && v.get(metric).is_some())
        .collect()
}

/// Log output of the whole test process, captured at TRACE level for every crate.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

pub struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.0.clone())
    }
}

/// Install (once per test process) a subscriber that keeps every log line at TRACE,
/// except `wiremock`'s: a stand-in for a remote server, it logs the requests it receives
/// (bearer tokens included) as the remote server would.
pub fn capture_logs() -> CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace,wiremock=off"))
            .with_ansi(false)
            .with_writer(logs.clone())
            .try_init();
        logs
    })
    .clone()
}
