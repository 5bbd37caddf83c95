//! The embedded store: every port of `wfo_ports` on one SQLite database in
//! the state directory (`.wfo-connect/` by default).
//!
//! SQLite in WAL mode with a busy timeout lets several processes use one state directory
//! at once (`wfo-connect serve` beside `status` or `backfill`), which a single-process
//! embedded store could not. Conditional writes are single SQL statements
//! (`UPDATE … WHERE version = ?`), so they are atomic across processes too. Secrets
//! (connector secrets, tokens, webhook secrets) are encrypted with the local key file.

mod crypto;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

pub use crypto::Cipher;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::{Discovery, LedgerItem};
use wfo_ports::{
    ConnectorSecrets, ConnectorStore, Discovered, KvStore, Ledger, LedgerCounts, Received, StoreError, StoreResult,
    StoredConnector, TokenRecord, TokenStore, WorkMessage, WorkQueue,
};

/// Receives after which a queue message is moved to the dead letters.
pub const MAX_RECEIVES: u32 = 20;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ledger (
    connector_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    updated_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (connector_id, item_id)
);
CREATE INDEX IF NOT EXISTS ledger_due ON ledger (done, next_attempt_at);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receipt TEXT,
    receive_count INTEGER NOT NULL DEFAULT 0,
    dead_reason TEXT,
    dead_at INTEGER
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue (dead_reason, visible_at);
CREATE TABLE IF NOT EXISTS connectors (
    id TEXT PRIMARY KEY,
    config BLOB NOT NULL,
    secrets BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    connector_id TEXT PRIMARY KEY,
    record BLOB NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_states (
    nonce TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    connector_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (connector_id, key)
);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quotas (
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX IF NOT EXISTS quotas_expiry ON quotas (expires_at);
"#;

/// Stores created before dead letters carried their time have no `queue.dead_at`: add it
/// (empty for the dead letters already there).
fn add_dead_at_column(conn: &Connection) -> StoreResult<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info('queue') WHERE name = 'dead_at'")
        .and_then(|mut st| st.exists([]))
        .map_err(unavailable)?;
    if !has {
        conn.execute_batch("ALTER TABLE queue ADD COLUMN dead_at INTEGER")
            .map_err(unavailable)?;
    }
    Ok(())
}

/// The SQLite-backed store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Operations for the connection thread ([`connection_thread`]).
    jobs: std::sync::mpsc::Sender<Job>,
    /// Long reads for the reader thread ([`reader_thread`]).
    reads: std::sync::mpsc::Sender<ReadJob>,
    dir: PathBuf,
    /// Connectors as last decoded ([`ConnectorStore::get_connector`]).
    decoded: Arc<std::sync::Mutex<HashMap<String, Decoded>>>,
}

/// A connector as last decoded, with the stored bytes it was decoded from: a read that
/// finds the same bytes (every import step reads its connector) skips the two
/// decryptions and JSON documents. The same bytes (under the store's one key) decode to
/// the same connector, and bytes changed by any writer — this process or another —
/// decode afresh, so nothing stale is ever answered.
struct Decoded {
    config: Vec<u8>,
    secrets: Vec<u8>,
    created: i64,
    connector: StoredConnector,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("dir", &self.inner.dir).finish()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl SqliteStore {
    /// Open (creating when needed) the store in `dir`: `state.db` and the key file `key`.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let cipher = Cipher::from_key_file(&dir.join("key"))?;
        let conn = Connection::open(dir.join("state.db")).map_err(unavailable)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        // Checkpoints (the only writes that wait for the disk in WAL mode with
        // `synchronous = NORMAL`) run on their own thread ([`checkpoint_thread`]), never
        // on the connection thread, which every operation waits for.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        add_dead_at_column(&conn)?;
        let checkpoints = Connection::open(dir.join("state.db")).map_err(unavailable)?;
        checkpoints.busy_timeout(CHECKPOINT_BUSY).map_err(unavailable)?;
        let reader = Connection::open(dir.join("state.db")).map_err(unavailable)?;
        reader.busy_timeout(Duration::from_secs(10)).map_err(unavailable)?;
        reader.pragma_update(None, "query_only", true).map_err(unavailable)?;
        let (reads, read_queue) = std::sync::mpsc::channel::<ReadJob>();
        std::thread::Builder::new()
            .name("wfo-store-read".to_owned())
            .spawn(move || reader_thread(reader, read_queue))
            .map_err(|e| unavailable(format!("cannot start the store's reader thread: {e}")))?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        // One pending "written" at most: the checkpoint thread needs to know that there
        // is something to do, not how much.
        let (written, writes) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("wfo-store".to_owned())
            .spawn(move || connection_thread(conn, cipher, queue, &written))
            .map_err(|e| unavailable(format!("cannot start the store's connection thread: {e}")))?;
        std::thread::Builder::new()
            .name("wfo-store-checkpoint".to_owned())
            .spawn(move || checkpoint_thread(&checkpoints, &writes))
            .map_err(|e| unavailable(format!("cannot start the store's checkpoint thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                reads,
                dir: dir.to_owned(),
                decoded: Arc::default(),
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Run `f` on the connection, on the store's own thread. Its answer is handed back
    /// only once what it wrote is committed (see [`connection_thread`]): a caller never
    /// sees success for a write that a failed commit took back.
    async fn with<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Cipher) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn, cipher| {
            let result = f(conn, cipher);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(unavailable(format!("the store could not commit: {e}"))),
                });
            });
            (ok, reply)
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| unavailable("the store's connection thread has stopped"))?;
        rx.await
            .map_err(|_| unavailable("a store operation panicked (see the log)"))?
    }

    /// Run the read `f` on the reader thread's own connection: listings and counts that
    /// go through every item of a connector (`status`, the status page, reconcile) take
    /// as long as they take there, while every other operation goes on on the
    /// connection thread (in WAL mode a reader and the writer do not wait for each
    /// other). It sees everything committed before it starts, so everything a caller
    /// was told is written.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.inner
            .reads
            .send(job)
            .map_err(|_| unavailable("the store's reader thread has stopped"))?;
        rx.await
            .map_err(|_| unavailable("a store read panicked (see the log)"))?
    }
}

/// One read for the reader thread.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The thread that owns the read connection (`query_only`): reads run one after another,
/// each statement prepared once; a panicking read is caught (its caller gets an error)
/// and the thread goes on. It ends when the last [`SqliteStore`] clone is dropped.
fn reader_thread(conn: Connection, reads: std::sync::mpsc::Receiver<ReadJob>) {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    while let Ok(job) = reads.recv() {
        let run = std::panic::AssertUnwindSafe(|| job(&conn));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!("a store read panicked; the store goes on");
        }
    }
}

/// One operation for the connection thread: it runs, says whether it succeeded (a failed
/// one's writes are taken back) and leaves the answer to send once the group it ran in is
/// committed (or with the commit's error).
type Job = Box<dyn FnOnce(&mut Connection, &Cipher) -> (bool, Reply) + Send>;

/// Sends one operation's answer, given the outcome of its group's commit.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Operations run in one transaction at most: a bound on how long other processes (the
/// CLI beside `serve`) wait for the write lock, and on the answers held back.
const MAX_GROUP: usize = 64;

/// The thread that owns the connection: operations run one after another in the order
/// they were sent, each SQL statement prepared once and kept
/// ([`Connection::prepare_cached`]).
///
/// **Group commit.** The operations waiting when the thread takes one (up to
/// [`MAX_GROUP`]) run in one transaction, each inside its own savepoint (one alone needs
/// none; the transaction statements are prepared once too): an operation
/// that fails or panics has its writes rolled back alone, the others stand, and nobody
/// is answered before the commit (a failed commit answers every operation of the group
/// with its error, and none of their writes stays). With many workers saving at once,
/// the WAL takes one set of page writes per group instead of one per statement; alone,
/// an operation is its own group, as before. A panicking operation is caught (its caller
/// gets an error) and the thread goes on. It ends when the last [`SqliteStore`] clone is
/// dropped.
fn connection_thread(
    mut conn: Connection,
    cipher: Cipher,
    jobs: std::sync::mpsc::Receiver<Job>,
    written: &std::sync::mpsc::SyncSender<()>,
) {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_GROUP);
    while let Ok(first) = jobs.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            // No group transaction (the write lock stayed taken past the busy timeout):
            // each operation runs on its own, as it would alone, and answers for itself.
            tracing::warn!(error = %e, "store: cannot begin a transaction; running the operations one by one");
            for job in group.drain(..) {
                let run = std::panic::AssertUnwindSafe(|| job(&mut conn, &cipher));
                match std::panic::catch_unwind(run) {
                    Ok((_, reply)) => reply(Ok(())),
                    Err(_) => tracing::error!("a store operation panicked; the store goes on"),
                }
            }
            let _ = written.try_send(());
            continue;
        }
        let committed = if group.len() == 1 {
            // Alone, an operation needs no savepoint: the transaction is its own, kept
            // when it succeeded and rolled back whole when it failed or panicked.
            let job = group.pop().expect("one operation");
            let run = std::panic::AssertUnwindSafe(|| job(&mut conn, &cipher));
            match std::panic::catch_unwind(run) {
                Ok((ok, reply)) => {
                    replies.push(reply);
                    if ok { commit(&conn) } else { rollback(&conn) }
                }
                Err(_) => {
                    tracing::error!("a store operation panicked; the store goes on");
                    rollback(&conn)
                }
            }
        } else {
            for job in group.drain(..) {
                if let Some(reply) = run_in_savepoint(&mut conn, &cipher, job) {
                    replies.push(reply);
                }
            }
            commit(&conn)
        };
        for reply in replies.drain(..) {
            reply(committed.clone());
        }
        // Full: the checkpoint thread has not yet taken the last one, and will see this
        // group's pages with it.
        let _ = written.try_send(());
    }
}

/// One statement without parameters, prepared once and kept (the transaction and
/// savepoint statements run several times per group).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Commit the group (rolled back when the commit fails): the outcome every operation
/// of the group is answered with.
fn commit(conn: &Connection) -> Result<(), String> {
    let committed = exec(conn, "COMMIT").map_err(|e| e.to_string());
    if committed.is_err() {
        let _ = exec(conn, "ROLLBACK");
    }
    committed
}

/// Roll back a group of one failed operation: its answer is its own error, not the
/// rollback's.
fn rollback(conn: &Connection) -> Result<(), String> {
    let _ = exec(conn, "ROLLBACK");
    Ok(())
}

/// Run one operation inside a savepoint of the group's transaction: released when it
/// succeeded, rolled back to when it failed or panicked (its caller's answer is then
/// the operation's error, or "panicked" when it never made one).
fn run_in_savepoint(conn: &mut Connection, cipher: &Cipher, job: Job) -> Option<Reply> {
    if let Err(e) = exec(conn, "SAVEPOINT op") {
        tracing::warn!(error = %e, "store: cannot open a savepoint");
        return None;
    }
    let undo = |conn: &Connection| {
        let _ = exec(conn, "ROLLBACK TO op");
        let _ = exec(conn, "RELEASE op");
    };
    let run = std::panic::AssertUnwindSafe(|| job(conn, cipher));
    match std::panic::catch_unwind(run) {
        Ok((true, reply)) => {
            let _ = exec(conn, "RELEASE op");
            Some(reply)
        }
        Ok((false, reply)) => {
            undo(conn);
            Some(reply)
        }
        Err(_) => {
            tracing::error!("a store operation panicked; the store goes on");
            undo(conn);
            None
        }
    }
}

/// How long a `RESTART` checkpoint waits for the writer and the readers. While it runs
/// SQLite holds every new write back, so a long read (a status listing of a large
/// ledger, here or in another process) must not make it wait long: with a 10 s wait,
/// and `RESTART` copying the frames of the 250 ms since the last checkpoint, writes
/// beside a 100,000-item listing stalled up to 0.93 s (5 ms without `RESTART`). When the
/// wait runs out the checkpoint has done what `PASSIVE` does, and `RESTART` is tried
/// again after the next writes.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(25);

/// How often the checkpoint thread copies the WAL's committed pages into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL frames (pages) past which a checkpoint waits for the writer (`RESTART`) so the
/// log starts over: under writes that never pause, passive checkpoints keep up but the
/// log is only reset between two write transactions, and would otherwise grow without
/// bound. 16,384 pages: 64 MiB at SQLite's 4 KiB page.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// The checkpointer: its own connection copies the WAL into the database at most every
/// [`CHECKPOINT_EVERY`] after a write (`PASSIVE`: beside the writer, never blocking it),
/// so the disk's sync latency is paid here and not by an operation on the connection
/// thread (SQLite's automatic checkpoint would run inside whichever commit crossed 1,000
/// pages). Idle, it sleeps until the connection thread says it wrote (`writes`). A WAL
/// grown past [`WAL_RESTART_FRAMES`] is checkpointed with `RESTART`, which waits for the
/// writer (bounded by the busy timeout) and lets the log start over. One last passive
/// checkpoint runs when the connection thread has ended (the store was dropped). A
/// failed checkpoint is logged and tried again after the next write: the WAL keeps
/// everything committed in the meantime.
fn checkpoint_thread(conn: &Connection, writes: &std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        // Wait for a write, then let the writes of the next moment gather behind it.
        let mut last = writes.recv().is_err();
        if !last {
            let at = std::time::Instant::now() + CHECKPOINT_EVERY;
            loop {
                match writes.recv_timeout(at.saturating_duration_since(std::time::Instant::now())) {
                    Ok(()) => {}
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        last = true;
                        break;
                    }
                }
            }
        }
        checkpoint(conn);
        if last {
            break;
        }
    }
}

/// One checkpoint: `PASSIVE` copies what it can beside the writer and the readers; when
/// the log is longer than [`WAL_RESTART_FRAMES`], a `RESTART` right after it copies the
/// few frames written since (it holds new writes back while it runs, so it must find
/// little to do) and lets the log start over, waiting [`CHECKPOINT_BUSY`] at most for
/// readers (when they outlast it, the log starts over at a later checkpoint).
fn checkpoint(conn: &Connection) {
    let run = |mode: &str| conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1));
    match run("PASSIVE") {
        Ok(frames) if frames > WAL_RESTART_FRAMES => {
            if let Err(e) = run("RESTART") {
                tracing::warn!(error = %e, "store: checkpoint (RESTART) failed; trying again after the next write");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "store: checkpoint failed; trying again after the next write"),
    }
}

/// Takes the lease of one item for `?1` until `?2` (ms), when it is free, already
/// `?1`'s, or ran out before `?5` (ms): the one lease condition of `lease` and
/// `lease_get`.
macro_rules! take_lease {
    () => {
        "UPDATE ledger SET lease_owner = ?1, lease_until = ?2
         WHERE connector_id = ?3 AND item_id = ?4
           AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until < ?5)"
    };
}

/// Prepared statements kept: every distinct statement of this file fits.
const STATEMENT_CACHE: usize = 128;

fn decode_item(body: &str) -> StoreResult<LedgerItem> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("ledger item: {e}")))
}

/// A ledger row's body and version, decoded on the caller's thread (the connection
/// thread only reads the row).
fn decode_row(row: Option<(String, i64)>) -> StoreResult<Option<LedgerItem>> {
    row.map(|(body, version)| {
        let mut item = decode_item(&body)?;
        item.version = version;
        Ok(item)
    })
    .transpose()
}

#[async_trait]
impl Ledger for SqliteStore {
    async fn discover(
        &self,
        connector_id: &str,
        item_id: &str,
        by: Discovery,
        now: DateTime<Utc>,
    ) -> StoreResult<Discovered> {
        let item = LedgerItem::discovered(connector_id, item_id, by, now);
        let body = serde_json::to_string(&item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (c, i) = (connector_id.to_owned(), item_id.to_owned());
        // The indexed column must say what the item says: a new item is due only after
        // the pickup grace (its discoverer enqueues it), or the sweeper sends it twice.
        let due_at = item.next_attempt_at.map(ms);
        self.with(move |conn, _| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO ledger (connector_id, item_id, done, next_attempt_at, updated_at, version, body)
                     VALUES (?1, ?2, 0, ?3, ?4, 1, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(unavailable)?
                .execute(params![c, i, due_at, ms(now), body])
                .map_err(unavailable)?;
            Ok(if n == 1 { Discovered::New } else { Discovered::Known })
        })
        .await
    }

    async fn get(&self, connector_id: &str, item_id: &str) -> StoreResult<Option<LedgerItem>> {
        let (c, i) = (connector_id.to_owned(), item_id.to_owned());
        self.with(move |conn, _| {
            let row: Option<(String, i64)> = conn
                .prepare_cached("SELECT body, version FROM ledger WHERE connector_id = ?1 AND item_id = ?2")
                .map_err(unavailable)?
                .query_row(params![c, i], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            Ok(row)
        })
        .await
        .and_then(decode_row)
    }

    async fn put(&self, item: &LedgerItem) -> StoreResult<i64> {
        let body = serde_json::to_string(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        wfo_ports::check_item_size(&item.connector_id, &item.item_id, &body)?;
        // The indexed columns and the key: the body says the rest.
        let (done, due_at, updated_at, version) = (
            item.is_terminal() as i64,
            item.next_attempt_at.map(ms),
            ms(item.updated_at),
            item.version,
        );
        let (c, i) = (item.connector_id.clone(), item.item_id.clone());
        self.with(move |conn, _| {
            let n = conn
                .prepare_cached("UPDATE ledger SET done = ?1, next_attempt_at = ?2, updated_at = ?3, body = ?4, version = version + 1,
                        lease_owner = CASE WHEN ?1 = 1 THEN NULL ELSE lease_owner END,
                        lease_until = CASE WHEN ?1 = 1 THEN NULL ELSE lease_until END
                     WHERE connector_id = ?5 AND item_id = ?6 AND version = ?7").map_err(unavailable)?.execute(params![
                        done, due_at, updated_at, body, c, i, version
                    ],
                )
                .map_err(unavailable)?;
            if n == 1 {
                Ok(version + 1)
            } else {
                Err(StoreError::Conflict(format!("ledger item {c}/{i}")))
            }
        })
        .await
    }

    async fn lease(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (c, i, o) = (connector_id.to_owned(), item_id.to_owned(), owner.to_owned());
        let until = ms(now) + lease.as_millis() as i64;
        self.with(move |conn, _| {
            let n = conn
                .prepare_cached(take_lease!())
                .map_err(unavailable)?
                .execute(params![o, until, c, i, ms(now)])
                .map_err(unavailable)?;
            Ok(n == 1)
        })
        .await
    }

    async fn lease_get(
        &self,
        connector_id: &str,
        item_id: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LedgerItem>> {
        let (c, i, o) = (connector_id.to_owned(), item_id.to_owned(), owner.to_owned());
        let until = ms(now) + lease.as_millis() as i64;
        self.with(move |conn, _| {
            let row: Option<(String, i64)> = conn
                .prepare_cached(concat!(take_lease!(), " RETURNING body, version"))
                .map_err(unavailable)?
                .query_row(params![o, until, c, i, ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            Ok(row)
        })
        .await
        .and_then(decode_row)
    }

    async fn release(&self, connector_id: &str, item_id: &str, owner: &str) -> StoreResult<()> {
        let (c, i, o) = (connector_id.to_owned(), item_id.to_owned(), owner.to_owned());
        self.with(move |conn, _| {
            conn.prepare_cached(
                "UPDATE ledger SET lease_owner = NULL, lease_until = NULL
                 WHERE connector_id = ?1 AND item_id = ?2 AND lease_owner = ?3",
            )
            .map_err(unavailable)?
            .execute(params![c, i, o])
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        self.with(move |conn, _| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT body, version FROM ledger
                     WHERE done = 0 AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
                       AND (lease_until IS NULL OR lease_until < ?1)
                     ORDER BY next_attempt_at LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![ms(now), limit as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let (body, version) = row.map_err(unavailable)?;
                let mut item = decode_item(&body)?;
                item.version = version;
                out.push(item);
            }
            Ok(out)
        })
        .await
    }

    async fn list(&self, connector_id: &str, only_open: bool, limit: usize) -> StoreResult<Vec<LedgerItem>> {
        let c = connector_id.to_owned();
        self.read(move |conn| {
            let sql = if only_open {
                "SELECT body, version FROM ledger WHERE connector_id = ?1 AND done = 0 ORDER BY updated_at DESC LIMIT ?2"
            } else {
                "SELECT body, version FROM ledger WHERE connector_id = ?1 ORDER BY updated_at DESC LIMIT ?2"
            };
            let mut stmt = conn.prepare_cached(sql).map_err(unavailable)?;
            let rows = stmt
                .query_map(params![c, limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let (body, version) = row.map_err(unavailable)?;
                let mut item = decode_item(&body)?;
                item.version = version;
                out.push(item);
            }
            Ok(out)
        })
        .await
    }

    async fn counts(&self, connector_id: &str) -> StoreResult<LedgerCounts> {
        let c = connector_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT body FROM ledger WHERE connector_id = ?1")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![c], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            let mut counts = LedgerCounts::default();
            for row in rows {
                let item = decode_item(&row.map_err(unavailable)?)?;
                *counts.by_state.entry(item.state_label()).or_default() += 1;
                counts.total += 1;
            }
            Ok(counts)
        })
        .await
    }
}

/// The queue row a receipt names: receipts are `"{id}:{random}"`, so acknowledging looks
/// the row up by its key and checks the receipt, instead of scanning the queue for it
/// (a scan per ack made a deep queue quadratic). A receipt of another form names no row.
fn receipt_row(receipt: &str) -> Option<i64> {
    receipt.split_once(':')?.0.parse().ok()
}

fn new_receipt() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

#[async_trait]
impl WorkQueue for SqliteStore {
    async fn send(&self, msg: &WorkMessage, delay: Duration) -> StoreResult<()> {
        let body = serde_json::to_string(msg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let visible_at = ms(Utc::now()) + delay.as_millis() as i64;
        self.with(move |conn, _| {
            conn.prepare_cached("INSERT INTO queue (body, visible_at) VALUES (?1, ?2)")
                .map_err(unavailable)?
                .execute(params![body, visible_at])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> StoreResult<Vec<Received>> {
        self.with(move |conn, _| {
            let now = ms(Utc::now());
            let tx = conn.savepoint().map_err(unavailable)?;
            let candidates: Vec<(i64, String, u32)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id, body, receive_count FROM queue
                         WHERE dead_reason IS NULL AND visible_at <= ?1 ORDER BY visible_at, id",
                    )
                    .map_err(unavailable)?;
                // No `LIMIT ?`: SQLite plans a bound LIMIT as a constant and prepares the
                // statement again whenever the value changes (every call here). The rows
                // come in index order, so taking `max` of them stops the scan there.
                let rows = stmt
                    .query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(unavailable)?;
                rows.take(max).collect::<Result<_, _>>().map_err(unavailable)?
            };
            let mut out = Vec::new();
            for (id, body, count) in candidates {
                let count = count + 1;
                if count > MAX_RECEIVES {
                    tx.prepare_cached(
                        "UPDATE queue SET dead_reason = ?1, receive_count = ?2, dead_at = ?3 WHERE id = ?4",
                    )
                    .map_err(unavailable)?
                    .execute(params![
                        format!("received {MAX_RECEIVES} times without being completed"),
                        count,
                        now,
                        id
                    ])
                    .map_err(unavailable)?;
                    continue;
                }
                let receipt = format!("{id}:{}", new_receipt());
                tx.prepare_cached("UPDATE queue SET receipt = ?1, visible_at = ?2, receive_count = ?3 WHERE id = ?4")
                    .map_err(unavailable)?
                    .execute(params![receipt, now + visibility.as_millis() as i64, count, id])
                    .map_err(unavailable)?;
                out.push(Received {
                    receipt,
                    message_id: id.to_string(),
                    body,
                    receive_count: count,
                    dead_reason: None,
                    dead_at: None,
                });
            }
            tx.commit().map_err(unavailable)?;
            Ok(out)
        })
        .await
    }

    async fn ack(&self, receipt: &str) -> StoreResult<()> {
        let Some(id) = receipt_row(receipt) else {
            return Ok(());
        };
        let r = receipt.to_owned();
        self.with(move |conn, _| {
            conn.prepare_cached("DELETE FROM queue WHERE id = ?1 AND receipt = ?2")
                .map_err(unavailable)?
                .execute(params![id, r])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> StoreResult<()> {
        let Some(id) = receipt_row(receipt) else {
            return Ok(());
        };
        let r = receipt.to_owned();
        let at = ms(Utc::now()) + delay.as_millis() as i64;
        self.with(move |conn, _| {
            conn.prepare_cached("UPDATE queue SET visible_at = ?1 WHERE id = ?2 AND receipt = ?3")
                .map_err(unavailable)?
                .execute(params![at, id, r])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> StoreResult<()> {
        let Some(id) = receipt_row(receipt) else {
            return Ok(());
        };
        let (r, why) = (receipt.to_owned(), reason.to_owned());
        let now = ms(Utc::now());
        self.with(move |conn, _| {
            conn.prepare_cached("UPDATE queue SET dead_reason = ?1, dead_at = ?2 WHERE id = ?3 AND receipt = ?4")
                .map_err(unavailable)?
                .execute(params![why, now, id, r])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn dead_letters(&self, limit: usize) -> StoreResult<Vec<Received>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, body, receive_count, dead_reason, dead_at FROM queue WHERE dead_reason IS NOT NULL ORDER BY id LIMIT ?1")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![limit as i64], |r| {
                    let id = r.get::<_, i64>(0)?;
                    Ok(Received {
                        receipt: format!("{id}:dead"),
                        message_id: id.to_string(),
                        body: r.get(1)?,
                        receive_count: r.get(2)?,
                        dead_reason: r.get(3)?,
                        dead_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    /// One `UPDATE` in place: the "send" and the "delete" are a single write here, so
    /// there is nothing between them to crash in.
    async fn redrive(&self, id: &str) -> StoreResult<bool> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let now = ms(Utc::now());
        self.with(move |conn, _| {
            let changed = conn
                .prepare_cached(
                    "UPDATE queue SET dead_reason = NULL, dead_at = NULL, receipt = NULL, receive_count = 0, visible_at = ?1
                     WHERE id = ?2 AND dead_reason IS NOT NULL",
                )
                .map_err(unavailable)?
                .execute(params![now, id])
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn depth(&self) -> StoreResult<u64> {
        self.with(|conn, _| {
            conn.prepare_cached("SELECT COUNT(*) FROM queue WHERE dead_reason IS NULL")
                .map_err(unavailable)?
                .query_row([], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(unavailable)
        })
        .await
    }
}

fn decode_connector(
    cipher: &Cipher,
    id: &str,
    config: &[u8],
    secrets: &[u8],
    created: i64,
) -> StoreResult<StoredConnector> {
    let config = cipher.decrypt(config, &format!("connector:{id}"))?;
    let config: ConnectorConfig =
        serde_json::from_slice(&config).map_err(|e| StoreError::Corrupt(format!("connector {id}: {e}")))?;
    let secrets = cipher.decrypt(secrets, &format!("connector-secrets:{id}"))?;
    let secrets: ConnectorSecrets =
        serde_json::from_slice(&secrets).map_err(|e| StoreError::Corrupt(format!("connector {id} secrets: {e}")))?;
    Ok(StoredConnector {
        config,
        secrets,
        created_at: from_ms(created),
    })
}

#[async_trait]
impl ConnectorStore for SqliteStore {
    async fn put_connector(&self, config: &ConnectorConfig, now: DateTime<Utc>) -> StoreResult<StoredConnector> {
        let cfg = config.clone();
        self.with(move |conn, cipher| {
            let id = cfg.id.clone();
            let json = serde_json::to_vec(&cfg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let blob = cipher.encrypt(&json, &format!("connector:{id}"))?;
            let tx = conn.savepoint().map_err(unavailable)?;
            let existing: Option<(Vec<u8>, i64)> = tx
                .prepare_cached("SELECT secrets, created_at FROM connectors WHERE id = ?1")
                .map_err(unavailable)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            let (secret_blob, created) = match existing {
                Some(found) => found,
                None => {
                    let secrets = serde_json::to_vec(&ConnectorSecrets::generate())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    (cipher.encrypt(&secrets, &format!("connector-secrets:{id}"))?, ms(now))
                }
            };
            tx.prepare_cached(
                "INSERT INTO connectors (id, config, secrets, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET config = excluded.config",
            )
            .map_err(unavailable)?
            .execute(params![id, blob, secret_blob, created])
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            decode_connector(cipher, &id, &blob, &secret_blob, created)
        })
        .await
    }

    async fn get_connector(&self, id: &str) -> StoreResult<Option<StoredConnector>> {
        let id = id.to_owned();
        let decoded = self.inner.decoded.clone();
        self.with(move |conn, cipher| {
            let row: Option<(Vec<u8>, Vec<u8>, i64)> = conn
                .prepare_cached("SELECT config, secrets, created_at FROM connectors WHERE id = ?1")
                .map_err(unavailable)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(unavailable)?;
            let mut decoded = decoded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some((config, secrets, created)) = row else {
                decoded.remove(&id);
                return Ok(None);
            };
            if let Some(d) = decoded.get(&id)
                && d.config == config
                && d.secrets == secrets
                && d.created == created
            {
                return Ok(Some(d.connector.clone()));
            }
            let connector = decode_connector(cipher, &id, &config, &secrets, created)?;
            decoded.insert(
                id,
                Decoded {
                    config,
                    secrets,
                    created,
                    connector: connector.clone(),
                },
            );
            Ok(Some(connector))
        })
        .await
    }

    async fn rotate_webhook_secret(&self, id: &str) -> StoreResult<StoredConnector> {
        let id = id.to_owned();
        self.with(move |conn, cipher| {
            let tx = conn.savepoint().map_err(unavailable)?;
            let row: Option<(Vec<u8>, Vec<u8>, i64)> = tx
                .prepare_cached("SELECT config, secrets, created_at FROM connectors WHERE id = ?1")
                .map_err(unavailable)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(unavailable)?;
            let Some((config, secrets, created)) = row else {
                return Err(StoreError::NotFound(format!("connector {id}")));
            };
            let current = decode_connector(cipher, &id, &config, &secrets, created)?;
            let rotated = serde_json::to_vec(&current.secrets.with_new_webhook_secret())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let blob = cipher.encrypt(&rotated, &format!("connector-secrets:{id}"))?;
            tx.prepare_cached("UPDATE connectors SET secrets = ?2 WHERE id = ?1")
                .map_err(unavailable)?
                .execute(params![id, blob])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            decode_connector(cipher, &id, &config, &blob, created)
        })
        .await
    }

    async fn list_connectors(&self) -> StoreResult<Vec<StoredConnector>> {
        self.with(move |conn, cipher| {
            let mut stmt = conn
                .prepare_cached("SELECT id, config, secrets, created_at FROM connectors ORDER BY id")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, c, s, t) = row.map_err(unavailable)?;
                out.push(decode_connector(cipher, &id, &c, &s, t)?);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn get_tokens(&self, connector_id: &str) -> StoreResult<TokenRecord> {
        let id = connector_id.to_owned();
        self.with(move |conn, cipher| {
            let row: Option<(Vec<u8>, i64)> = conn
                .prepare_cached("SELECT record, version FROM tokens WHERE connector_id = ?1")
                .map_err(unavailable)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            match row {
                None => Ok(TokenRecord {
                    tokens: None,
                    reauth_required: None,
                    version: 0,
                }),
                Some((blob, version)) => {
                    let json = cipher.decrypt(&blob, &format!("tokens:{id}"))?;
                    let mut rec: TokenRecord =
                        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("tokens {id}: {e}")))?;
                    rec.version = version;
                    Ok(rec)
                }
            }
        })
        .await
    }

    async fn put_tokens(&self, connector_id: &str, record: &TokenRecord, expected_version: i64) -> StoreResult<i64> {
        let id = connector_id.to_owned();
        let rec = record.clone();
        self.with(move |conn, cipher| {
            let json = serde_json::to_vec(&rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let blob = cipher.encrypt(&json, &format!("tokens:{id}"))?;
            let n = if expected_version == 0 {
                conn.prepare_cached(
                    "INSERT INTO tokens (connector_id, record, version) VALUES (?1, ?2, 1) ON CONFLICT DO NOTHING",
                )
                .map_err(unavailable)?
                .execute(params![id, blob])
            } else {
                conn.prepare_cached(
                    "UPDATE tokens SET record = ?1, version = version + 1 WHERE connector_id = ?2 AND version = ?3",
                )
                .map_err(unavailable)?
                .execute(params![blob, id, expected_version])
            }
            .map_err(unavailable)?;
            if n == 1 {
                Ok(expected_version + 1)
            } else {
                Err(StoreError::Conflict(format!("tokens of {id}")))
            }
        })
        .await
    }

    async fn put_oauth_state(&self, nonce: &str, connector_id: &str, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let (n, c) = (nonce.to_owned(), connector_id.to_owned());
        self.with(move |conn, _| {
            conn.prepare_cached("DELETE FROM oauth_states WHERE expires_at < ?1")
                .map_err(unavailable)?
                .execute(params![ms(Utc::now())])
                .map_err(unavailable)?;
            conn.prepare_cached("INSERT INTO oauth_states (nonce, connector_id, expires_at) VALUES (?1, ?2, ?3)")
                .map_err(unavailable)?
                .execute(params![n, c, ms(expires_at)])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn take_oauth_state(&self, nonce: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        let n = nonce.to_owned();
        self.with(move |conn, _| {
            let row: Option<(String, i64)> = conn
                .prepare_cached("DELETE FROM oauth_states WHERE nonce = ?1 RETURNING connector_id, expires_at")
                .map_err(unavailable)?
                .query_row(params![n], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(unavailable)?;
            Ok(row.and_then(|(c, exp)| (exp >= ms(now)).then_some(c)))
        })
        .await
    }
}

#[async_trait]
impl KvStore for SqliteStore {
    async fn get_value(&self, connector_id: &str, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let (c, k) = (connector_id.to_owned(), key.to_owned());
        self.with(move |conn, _| {
            let v: Option<String> = conn
                .prepare_cached("SELECT value FROM kv WHERE connector_id = ?1 AND key = ?2")
                .map_err(unavailable)?
                .query_row(params![c, k], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            v.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{c}/{k}: {e}"))))
                .transpose()
        })
        .await
    }

    async fn put_value(&self, connector_id: &str, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        let (c, k, v) = (connector_id.to_owned(), key.to_owned(), value.to_string());
        self.with(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO kv (connector_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connector_id, key) DO UPDATE SET value = excluded.value",
            )
            .map_err(unavailable)?
            .execute(params![c, k, v])
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration, now: DateTime<Utc>) -> StoreResult<bool> {
        let (n, o) = (name.to_owned(), owner.to_owned());
        let until = ms(now) + ttl.as_millis() as i64;
        self.with(move |conn, _| {
            let changed = conn
                .prepare_cached(
                    "INSERT INTO locks (name, owner, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                     WHERE locks.owner = excluded.owner OR locks.expires_at < ?4",
                )
                .map_err(unavailable)?
                .execute(params![n, o, until, ms(now)])
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn unlock(&self, name: &str, owner: &str) -> StoreResult<()> {
        let (n, o) = (name.to_owned(), owner.to_owned());
        self.with(move |conn, _| {
            conn.prepare_cached("DELETE FROM locks WHERE name = ?1 AND owner = ?2")
                .map_err(unavailable)?
                .execute(params![n, o])
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// One immediate (write-locked) transaction: expired counters are deleted, then one
    /// upsert inserts the counter at `n` or adds `n` only `WHERE count + n <= limit`, and
    /// `RETURNING` tells which happened. The write lock is the database file's, so takers
    /// in several processes on one state directory are serialised like the locks above.
    async fn take_quota(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        ttl: Duration,
    ) -> StoreResult<Option<u32>> {
        if n > limit {
            return Ok(None);
        }
        let b = bucket.to_owned();
        let window = ms(window_start);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = window.saturating_add(ttl_ms);
        self.with(move |conn, _| {
            let tx = conn.savepoint().map_err(unavailable)?;
            tx.prepare_cached("DELETE FROM quotas WHERE expires_at < ?1")
                .map_err(unavailable)?
                .execute(params![ms(Utc::now())])
                .map_err(unavailable)?;
            let total: Option<i64> = tx
                .prepare_cached(
                    "INSERT INTO quotas (bucket, window_start, count, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (bucket, window_start) DO UPDATE SET count = quotas.count + excluded.count
                     WHERE quotas.count + excluded.count <= ?5
                     RETURNING count",
                )
                .map_err(unavailable)?
                .query_row(params![b, window, i64::from(n), expires_at, i64::from(limit)], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            total
                .map(|t| u32::try_from(t).map_err(|_| StoreError::Corrupt(format!("quota {b}: count {t}"))))
                .transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(item: &str) -> WorkMessage {
        WorkMessage {
            connector_id: "rc".into(),
            item_id: item.into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_read_holds_up_no_write_and_sees_every_write_answered_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.send(&msg("before"), Duration::ZERO).await.unwrap();
        // A read that does not end until the test says so (a status listing of a huge
        // ledger): the writes below must go through meanwhile.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, start) = tokio::sync::oneshot::channel::<()>();
        let reading = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .read(move |conn| {
                        let n: i64 = conn
                            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
                            .map_err(unavailable)?;
                        let _ = started.send(());
                        let _ = held.recv_timeout(Duration::from_secs(10));
                        Ok(n)
                    })
                    .await
            })
        };
        start.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            store.send(&msg("during"), Duration::ZERO).await.unwrap();
            assert_eq!(store.receive(10, Duration::from_secs(60)).await.unwrap().len(), 2);
        })
        .await
        .expect("writes go on while a long read runs");
        release.send(()).unwrap();
        assert_eq!(
            reading.await.unwrap().unwrap(),
            1,
            "the read saw what was committed before it"
        );
        assert_eq!(store.depth().await.unwrap(), 2);
        let late = store
            .read(|conn| {
                conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))
                    .map_err(unavailable)
            })
            .await
            .unwrap();
        assert_eq!(late, 2, "a read sees every write answered before it started");
        // A panicking read fails alone; the reader goes on.
        assert!(store.read(|_| -> StoreResult<()> { panic!("boom") }).await.is_err());
        assert_eq!(store.dead_letters(10).await.unwrap().len(), 0);
    }

    #[tokio::test]
    async fn receive_takes_at_most_max_in_order_and_acks_go_by_the_receipt_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        for i in 0..5 {
            store.send(&msg(&i.to_string()), Duration::ZERO).await.unwrap();
        }
        // The batch size changes from call to call (free worker slots): each call takes
        // exactly that many, oldest first.
        let first = store.receive(2, Duration::from_millis(200)).await.unwrap();
        let second = store.receive(1, Duration::from_secs(60)).await.unwrap();
        let third = store.receive(3, Duration::from_secs(60)).await.unwrap();
        let items = |r: &[Received]| -> Vec<String> {
            r.iter()
                .map(|m| serde_json::from_str::<WorkMessage>(&m.body).unwrap().item_id)
                .collect()
        };
        assert_eq!(items(&first), ["0", "1"]);
        assert_eq!(items(&second), ["2"]);
        assert_eq!(items(&third), ["3", "4"]);

        // A receipt names its row and must match it: another form, an unknown row or a
        // receipt from an earlier receive of the same message acks nothing.
        store.ack("not-a-receipt").await.unwrap();
        store.ack("999999:abc").await.unwrap();
        let row = first[0].receipt.split_once(':').unwrap().0;
        store.ack(&format!("{row}:forged")).await.unwrap();
        store
            .retry_later(&format!("{row}:forged"), Duration::ZERO)
            .await
            .unwrap();
        store.dead_letter(&format!("{row}:forged"), "no").await.unwrap();
        assert_eq!(store.depth().await.unwrap(), 5);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = store.receive(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(items(&again), ["0", "1"], "unacked messages come back");
        store.ack(&first[0].receipt).await.unwrap();
        assert_eq!(store.depth().await.unwrap(), 5, "a stale receipt acks nothing");

        store.ack(&again[0].receipt).await.unwrap();
        store.dead_letter(&again[1].receipt, "set aside").await.unwrap();
        store
            .retry_later(&second[0].receipt, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(store.depth().await.unwrap(), 3);
        assert_eq!(store.dead_letters(10).await.unwrap().len(), 1);
        assert!(store.receive(10, Duration::from_secs(60)).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_panicking_operation_fails_alone_and_the_store_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let e = store
            .with(|_, _| -> StoreResult<()> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
        let put = store.discover("c", "i", Discovery::Webhook, Utc::now()).await.unwrap();
        assert_eq!(put, Discovered::New);
        assert!(store.get("c", "i").await.unwrap().is_some());
    }

    /// Operations sent together run in one transaction, each in its own savepoint: a
    /// failing or panicking one takes back only its own writes, and every caller is
    /// answered with its own outcome.
    #[tokio::test]
    async fn in_a_group_a_failing_or_panicking_operation_takes_back_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        // Hold the connection thread so that everything below queues up into one group.
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let s = store.clone();
        let blocker = tokio::spawn(async move {
            s.with(move |_, _| {
                let _ = hold_rx.recv_timeout(Duration::from_secs(10));
                Ok(())
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut tasks = Vec::new();
        for n in 0..30 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.with(move |conn, _| -> StoreResult<()> {
                    conn.execute(
                        "INSERT INTO ledger (connector_id, item_id, done, next_attempt_at, updated_at, version, body)
                         VALUES ('g', ?1, 0, NULL, 0, 1, '{}')",
                        params![format!("i{n}")],
                    )
                    .map_err(unavailable)?;
                    match n % 3 {
                        0 => Ok(()),
                        1 => Err(StoreError::Conflict(format!("op {n} refuses after writing"))),
                        _ => panic!("op {n} panics after writing"),
                    }
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        hold_tx.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (n, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            match n % 3 {
                0 => assert!(r.is_ok(), "op {n}: {r:?}"),
                1 => assert!(matches!(r, Err(StoreError::Conflict(_))), "op {n}: {r:?}"),
                _ => assert!(r.unwrap_err().to_string().contains("panicked"), "op {n}"),
            }
        }
        let kept: Vec<String> = store
            .with(|conn, _| {
                let mut stmt = conn
                    .prepare("SELECT item_id FROM ledger WHERE connector_id = 'g' ORDER BY item_id")
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(unavailable)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                Ok(rows)
            })
            .await
            .unwrap();
        let mut want: Vec<String> = (0..30).filter(|n| n % 3 == 0).map(|n| format!("i{n}")).collect();
        want.sort();
        assert_eq!(kept, want);
    }

    #[tokio::test]
    async fn operations_from_many_tasks_all_complete() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.discover("c", &format!("i{n}"), Discovery::Webhook, Utc::now()).await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Discovered::New);
        }
        assert_eq!(store.list("c", false, 1_000).await.unwrap().len(), 200);
    }

    /// Commits never checkpoint (SQLite's automatic checkpoint is off on the writer):
    /// the checkpoint thread copies the WAL into the database file on its own, and a
    /// store dropped leaves everything readable by a fresh open.
    #[tokio::test]
    async fn the_checkpoint_thread_moves_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = SqliteStore::open(dir.path()).unwrap();
        let empty = std::fs::metadata(&db).unwrap().len();
        for n in 0..300 {
            store
                .discover(
                    "c",
                    &format!("item-{n:04}-{}", "x".repeat(200)),
                    Discovery::Webhook,
                    Utc::now(),
                )
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&db).unwrap().len() <= empty {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file never grew: no checkpoint ran"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(store);
        let again = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(again.list("c", false, 1_000).await.unwrap().len(), 300);
    }
}
