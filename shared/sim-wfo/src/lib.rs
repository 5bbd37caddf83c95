//! A faithful simulator of the WFO ingest API (`shared/specs/wfo-ingest-api.md`).
//!
//! It keeps the awkward parts of the real product on purpose: creates are not
//! idempotent, sessions expire, an import naming an unknown agent or a missing / non-TEXT
//! metadata key answers `422`. On top it offers fault injection ([`Faults`]),
//! inspection (`GET /sim/state`, `GET /sim/table`, [`SimHandle`]) and persistence across
//! restarts (`SimConfig::state_dir`).
//!
//! Decisions the spec leaves open:
//! - A deactivated person still counts as an existing agent: its contacts import.
//! - A person's `groupId` must name a team and its role ids must exist (`422`).
//! - `PUT` of a team or person must carry the path id (`400`); a team's `isDefault`
//!   cannot change (`400`): exactly one team is the Default Team.
//! - `GET /api/rest/recording/contact` without `externalId` answers `400`.
//! - Sessions and request counters live in memory only: a restart logs everybody out.
//! - Queues (§3a): `GET …/acd/queue` without an integer `acdServerId` answers `400`; a
//!   queue's name and `acdId` must not be empty (`400`); a `PUT` must carry the path id and
//!   keep the queue's (`acdServerId`, `acdId`) (`400`); there is no `DELETE` (`405`). A
//!   second queue for one pair is created (creates are not idempotent) and reported as a
//!   contract violation ([`SimHandle::duplicate_queues`], `duplicateQueues` in `/sim/state`).
//! - `processed_then_dropped` applies to `POST /api/rest/wfo/contact/import` only.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wfo_domain::Secret;
use wfo_domain::wfo::{MetadataKey, MetadataKeyType, Person, Queue, Role, Team, TeamInput, metadata_key_from_label};

mod api;
mod audio;
mod faults;
mod inspect;
pub mod messages;
mod state;

pub use faults::Faults;
pub use state::{
    CreateCounts, DEFAULT_TEAM_NAME, DuplicateAgent, DuplicateExternalId, DuplicateQueue, RouteStats, SimContact,
    SimStats,
};

use faults::FaultState;
use state::{Db, STATE_FILE, Sessions, Storage};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "hazelcast.sessionId";
/// A tenant allows at most this many metadata keys.
pub const MAX_METADATA_KEYS: usize = 100;
/// The spec's audio limit: 2 GiB.
pub const DEFAULT_MAX_AUDIO_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// User of [`SimConfig::default`].
pub const DEFAULT_USER: &str = "wfo-api";
/// Password of [`SimConfig::default`].
pub const DEFAULT_PASSWORD: &str = "wfo-api-password";

/// Errors starting or stopping the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulator binds loopback addresses only, not {0}")]
    NotLoopback(SocketAddr),
    #[error("a tenant allows at most {MAX_METADATA_KEYS} metadata keys, the configuration has {0}")]
    TooManyMetadataKeys(usize),
    #[error("invalid fault configuration: {0}")]
    InvalidFaults(String),
    #[error("state file {path} is not valid: {source}")]
    CorruptState { path: PathBuf, source: serde_json::Error },
    #[error("simulator I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not encode the state: {0}")]
    Encode(#[from] serde_json::Error),
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; `None`: `127.0.0.1:0` (a free port). Must be a loopback address.
    pub addr: Option<SocketAddr>,
    /// API users `(userId, password)` that `POST /api/rest/authorize` accepts.
    pub users: Vec<(String, Secret)>,
    /// `Some`: state and audio are kept here and survive a restart. `None`: memory plus a
    /// temp dir removed when the simulator stops.
    pub state_dir: Option<PathBuf>,
    pub faults: Faults,
    /// Seed of the fault generator.
    pub seed: u64,
    /// The tenant's metadata keys (at most [`MAX_METADATA_KEYS`]); used only when the
    /// state dir holds no state yet.
    pub metadata_keys: Vec<MetadataKey>,
    /// Teams seeded besides the Default Team (fresh state only).
    pub teams: Vec<TeamInput>,
    /// Audio upload limit; the spec's is 2 GiB. Tests set a small one.
    pub max_audio_bytes: u64,
    /// Every `/api/rest/*` request is answered this much later (runtime, via
    /// [`SimHandle::set_latency`]): a remote WFO's round trip, for benchmarks. Default zero.
    pub latency: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            addr: None,
            users: vec![(DEFAULT_USER.to_owned(), Secret::new(DEFAULT_PASSWORD))],
            state_dir: None,
            faults: Faults::default(),
            seed: 0,
            metadata_keys: default_metadata_keys(),
            teams: Vec::new(),
            max_audio_bytes: DEFAULT_MAX_AUDIO_BYTES,
            latency: Duration::ZERO,
        }
    }
}

/// The default tenant keys: TEXT "Recording Id", "Call Session", "Queue Name",
/// "Wrap Up Code", "Agent Extension"; NUMBER "Hold Count"; DATE "Callback Date".
pub fn default_metadata_keys() -> Vec<MetadataKey> {
    let key = |label: &str, key_type| MetadataKey {
        key: metadata_key_from_label(label),
        label: label.to_owned(),
        key_type,
        exportable: true,
        encrypted: false,
        read_only: false,
    };
    vec![
        key("Recording Id", MetadataKeyType::Text),
        key("Call Session", MetadataKeyType::Text),
        key("Queue Name", MetadataKeyType::Text),
        key("Wrap Up Code", MetadataKeyType::Text),
        key("Agent Extension", MetadataKeyType::Text),
        key("Hold Count", MetadataKeyType::Number),
        key("Callback Date", MetadataKeyType::Date),
    ]
}

pub(crate) struct Inner {
    pub db: Mutex<Db>,
    pub sessions: Mutex<Sessions>,
    pub users: Vec<(String, Secret)>,
    pub faults: Mutex<FaultState>,
    pub stats: Mutex<SimStats>,
    pub storage: Storage,
    /// Serializes state writes so a later snapshot is never overwritten by an earlier one.
    pub persist_lock: tokio::sync::Mutex<()>,
    pub max_audio_bytes: u64,
    /// Audio uploads still to be held open: the body is read, no answer ever comes.
    pub held_uploads: std::sync::atomic::AtomicU32,
    /// [`SimConfig::latency`] in microseconds.
    pub latency_us: std::sync::atomic::AtomicU64,
    /// When each contact and its first audio arrived (memory only, like the counters).
    pub arrivals: Mutex<BTreeMap<i64, Arrival>>,
    /// Counts of `arrivals`, for waiting on them without reading them.
    pub arrival_counts: tokio::sync::watch::Sender<ArrivalCounts>,
    /// API users whose roles lack the ViewOrg permission: the organization's persons and
    /// teams listings answer them `403`.
    pub without_view_org: Mutex<std::collections::HashSet<String>>,
    /// Memory mode: small audio kept in memory by file name, instead of a file each.
    pub memory_audio: Mutex<std::collections::HashMap<String, (Vec<bytes::Bytes>, u64)>>,
    /// Bytes [`Inner::memory_audio`] may still take ([`MEMORY_AUDIO_BUDGET`] at start).
    pub memory_audio_left: std::sync::atomic::AtomicU64,
}

/// Memory mode keeps an upload of at most this many bytes in memory; a larger one goes
/// to a file in the temp dir as the upload streams (memory stays bounded whatever the
/// size). Creating a file per upload costs the kernel more than the whole upload of a
/// short call, and in memory mode nothing outlives the simulator anyway.
pub(crate) const MEMORY_AUDIO_FILE_MAX: usize = 1024 * 1024;
/// The most memory mode keeps in memory for all contacts together; past it, files.
pub(crate) const MEMORY_AUDIO_BUDGET: u64 = 256 * 1024 * 1024;

/// When a contact was created and when its audio was first stored, by the wall clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub contact_id: i64,
    pub external_id: String,
    pub imported_at: SystemTime,
    pub audio_at: Option<SystemTime>,
}

/// Contacts created and contacts with audio since the simulator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrivalCounts {
    pub contacts: u64,
    pub with_audio: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    pub fn db(&self) -> MutexGuard<'_, Db> {
        lock(&self.db)
    }
    pub fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.sessions)
    }
    pub fn fault_state(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }
    pub fn stats(&self) -> MutexGuard<'_, SimStats> {
        lock(&self.stats)
    }

    /// Records that contact `contact_id` was just created.
    pub fn contact_arrived(&self, contact_id: i64, external_id: &str) {
        lock(&self.arrivals).insert(
            contact_id,
            Arrival {
                contact_id,
                external_id: external_id.to_owned(),
                imported_at: SystemTime::now(),
                audio_at: None,
            },
        );
        self.arrival_counts.send_modify(|c| c.contacts += 1);
    }

    /// Records that audio of `contact_id` was just stored (only the first time counts).
    pub fn audio_arrived(&self, contact_id: i64) {
        let first = match lock(&self.arrivals).get_mut(&contact_id) {
            Some(a) if a.audio_at.is_none() => {
                a.audio_at = Some(SystemTime::now());
                true
            }
            _ => false,
        };
        if first {
            self.arrival_counts.send_modify(|c| c.with_audio += 1);
        }
    }

    /// Keep `chunks` (`len` bytes in all) in memory as audio file `name` if the budget
    /// allows (memory mode); refused, they come back.
    pub fn keep_in_memory(&self, name: &str, chunks: Vec<bytes::Bytes>, len: usize) -> Result<(), Vec<bytes::Bytes>> {
        let len = len as u64;
        let taken = self
            .memory_audio_left
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |left| left.checked_sub(len),
            )
            .is_ok();
        if !taken {
            return Err(chunks);
        }
        lock(&self.memory_audio).insert(name.to_owned(), (chunks, len));
        Ok(())
    }

    /// Forget audio file `name`, kept in memory or on disk.
    pub async fn remove_audio(&self, name: &str) {
        let kept = lock(&self.memory_audio).remove(name);
        match kept {
            Some((_, len)) => {
                self.memory_audio_left
                    .fetch_add(len, std::sync::atomic::Ordering::SeqCst);
            }
            None => {
                let _ = tokio::fs::remove_file(self.storage.audio_dir.join(name)).await;
            }
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Writes the database to `state.json` (persistent mode only).
    pub async fn persist(&self) -> Result<(), SimError> {
        let Some(dir) = &self.storage.state_dir else {
            return Ok(());
        };
        let _guard = self.persist_lock.lock().await;
        let bytes = serde_json::to_vec_pretty(&*self.db())?;
        state::write_atomic(&dir.join(STATE_FILE), &bytes).await?;
        Ok(())
    }
}

/// A cheap, clonable handle on a running simulator's state.
#[derive(Clone)]
pub struct SimHandle(pub(crate) Arc<Inner>);

impl SimHandle {
    pub fn persons(&self) -> Vec<Person> {
        self.0.db().persons.values().cloned().collect()
    }

    pub fn teams(&self) -> Vec<Team> {
        self.0.db().teams.values().cloned().collect()
    }

    pub fn roles(&self) -> Vec<Role> {
        self.0.db().roles.clone()
    }

    /// Every queue of every ACD server, in id order.
    pub fn queues(&self) -> Vec<Queue> {
        self.0.db().queues.values().cloned().collect()
    }

    /// Contract violations: (acdServerId, acdId) pairs with more than one queue.
    pub fn duplicate_queues(&self) -> Vec<DuplicateQueue> {
        self.0.db().duplicate_queues()
    }

    /// Contract violations: (acdServerId, acdId) pairs with more than one person.
    pub fn duplicate_agents(&self) -> Vec<DuplicateAgent> {
        self.0.db().duplicate_agents()
    }

    pub fn metadata_keys(&self) -> Vec<MetadataKey> {
        self.0.db().metadata_keys.clone()
    }

    /// Every contact with its audio state, in id order.
    pub fn contacts(&self) -> Vec<SimContact> {
        self.0.db().contacts.values().map(|c| c.to_sim()).collect()
    }

    /// The stored audio of a contact (from memory or its file); `None` when the contact
    /// does not exist or has no audio yet.
    pub fn audio_bytes(&self, contact_id: i64) -> Option<Vec<u8>> {
        let file = self.0.db().contacts.get(&contact_id)?.audio.as_ref()?.file.clone();
        if let Some((chunks, _)) = lock(&self.0.memory_audio).get(&file) {
            return Some(chunks.concat());
        }
        std::fs::read(self.0.storage.audio_dir.join(file)).ok()
    }

    pub fn stats(&self) -> SimStats {
        self.0.stats().clone()
    }

    /// When each contact created since the simulator started arrived, and its audio.
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.0.arrivals).values().cloned().collect()
    }

    /// The counts of [`SimHandle::arrivals`], changing as they grow: a cheap way to wait
    /// for a number of contacts (`rx.wait_for(|c| c.contacts >= n)`).
    pub fn arrival_counts(&self) -> tokio::sync::watch::Receiver<ArrivalCounts> {
        self.0.arrival_counts.subscribe()
    }

    /// Every `/api/rest/*` request from now on is answered `latency` later.
    pub fn set_latency(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.latency_us.store(us, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn faults(&self) -> Faults {
        self.0.fault_state().faults().clone()
    }

    /// The next `n` audio uploads are read and then never answered (the connection is
    /// held open), as a WFO that hangs would.
    pub fn hold_audio_uploads(&self, n: u32) {
        self.0.held_uploads.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Replaces the faults (and restarts the seeded generator).
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults.validate().map_err(SimError::InvalidFaults)?;
        self.0.fault_state().set(faults);
        Ok(())
    }

    /// Replaces the tenant's metadata keys, as an administrator does in the Metadata
    /// Manager (at most [`MAX_METADATA_KEYS`]). Saved with the rest of the state.
    pub async fn set_metadata_keys(&self, keys: Vec<MetadataKey>) -> Result<(), SimError> {
        if keys.len() > MAX_METADATA_KEYS {
            return Err(SimError::TooManyMetadataKeys(keys.len()));
        }
        self.0.db().metadata_keys = keys;
        self.0.persist().await
    }

    /// Give API user `user` the ViewOrg permission (through its roles) or take it away, as
    /// an administrator does in User Configuration: without it the persons and teams
    /// listings (`…/permission/ViewOrg`) answer `403`; logging in still works.
    pub fn set_view_org(&self, user: &str, allowed: bool) {
        let mut denied = lock(&self.0.without_view_org);
        if allowed {
            denied.remove(user);
        } else {
            denied.insert(user.to_owned());
        }
    }

    /// Whether the session `session_id` may list the organization (ViewOrg).
    pub(crate) fn may_view_org(&self, session_id: &str) -> bool {
        let user = match self.0.sessions().get(session_id) {
            Some(s) => s.user.clone(),
            None => return false,
        };
        !lock(&self.0.without_view_org).contains(&user)
    }

    /// Mark team `id` as the tenant's Default Team or not, as an administrator does in
    /// User Configuration > Teams (a tenant may end up with none). Saved with the state;
    /// `Ok(false)` when no team has that id.
    pub async fn set_team_default(&self, id: i64, is_default: bool) -> Result<bool, SimError> {
        let found = match self.0.db().teams.get_mut(&id) {
            Some(t) => {
                t.is_default = is_default;
                true
            }
            None => false,
        };
        self.0.persist().await?;
        Ok(found)
    }

    /// Ends every live session now; the next call with any of them answers `401`.
    pub fn expire_sessions(&self) -> usize {
        let mut sessions = self.0.sessions();
        let n = sessions.len();
        sessions.clear();
        drop(sessions);
        self.0.stats().sessions_expired += n as u64;
        n
    }

    /// The ids of the live sessions (the values of the session cookie), for tests that
    /// check no session id reaches a log.
    pub fn session_ids(&self) -> Vec<String> {
        self.0.sessions().keys().cloned().collect()
    }

    /// Persons, teams and contacts as a text table (contacts without audio show
    /// "File not yet uploaded").
    pub fn render_table(&self) -> String {
        inspect::render_table(&self.0.db())
    }
}

/// The simulator.
pub struct WfoSim;

impl WfoSim {
    /// Binds, seeds or loads the state, and serves until [`RunningSim::shutdown`].
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let addr = config
            .addr
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        if !addr.ip().is_loopback() {
            return Err(SimError::NotLoopback(addr));
        }
        if config.metadata_keys.len() > MAX_METADATA_KEYS {
            return Err(SimError::TooManyMetadataKeys(config.metadata_keys.len()));
        }
        config.faults.validate().map_err(SimError::InvalidFaults)?;

        let (storage, loaded) = match &config.state_dir {
            Some(dir) => {
                let audio_dir = dir.join("audio");
                tokio::fs::create_dir_all(&audio_dir).await?;
                let path = dir.join(STATE_FILE);
                let loaded = match tokio::fs::read(&path).await {
                    Ok(bytes) => {
                        Some(
                            serde_json::from_slice::<Db>(&bytes).map_err(|source| SimError::CorruptState {
                                path: path.clone(),
                                source,
                            })?,
                        )
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e.into()),
                };
                (
                    Storage {
                        state_dir: Some(dir.clone()),
                        audio_dir,
                        owned_temp: None,
                    },
                    loaded,
                )
            }
            None => {
                let temp = std::env::temp_dir().join(format!("wfo-sim-wfo-{}", uuid::Uuid::new_v4().simple()));
                tokio::fs::create_dir_all(&temp).await?;
                (
                    Storage {
                        state_dir: None,
                        audio_dir: temp.clone(),
                        owned_temp: Some(temp),
                    },
                    None,
                )
            }
        };
        let fresh = loaded.is_none();
        let db = loaded.unwrap_or_else(|| Db::seeded(config.metadata_keys.clone(), &config.teams));

        let inner = Arc::new(Inner {
            db: Mutex::new(db),
            sessions: Mutex::new(Sessions::new()),
            users: config.users.clone(),
            faults: Mutex::new(FaultState::new(config.faults.clone(), config.seed)),
            stats: Mutex::new(SimStats::default()),
            storage,
            persist_lock: tokio::sync::Mutex::new(()),
            max_audio_bytes: config.max_audio_bytes,
            held_uploads: std::sync::atomic::AtomicU32::new(0),
            latency_us: std::sync::atomic::AtomicU64::new(
                u64::try_from(config.latency.as_micros()).unwrap_or(u64::MAX),
            ),
            arrivals: Mutex::new(BTreeMap::new()),
            arrival_counts: tokio::sync::watch::Sender::new(ArrivalCounts::default()),
            without_view_org: Mutex::new(std::collections::HashSet::new()),
            memory_audio: Mutex::new(std::collections::HashMap::new()),
            memory_audio_left: std::sync::atomic::AtomicU64::new(MEMORY_AUDIO_BUDGET),
        });
        if fresh {
            inner.persist().await?;
        }
        let handle = SimHandle(inner);

        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let app = api::router(handle.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(addr = %local, persistent = config.state_dir.is_some(), "WFO simulator listening");
        Ok(RunningSim {
            addr: local,
            handle,
            shutdown_tx: Some(tx),
            task: Some(task),
        })
    }
}

/// A simulator serving on a loopback port. Stop it with [`RunningSim::shutdown`];
/// dropping it aborts the server.
pub struct RunningSim {
    addr: SocketAddr,
    handle: SimHandle,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A clonable handle on the state, usable after the `RunningSim` moved.
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    pub fn persons(&self) -> Vec<Person> {
        self.handle.persons()
    }
    pub fn teams(&self) -> Vec<Team> {
        self.handle.teams()
    }
    pub fn queues(&self) -> Vec<Queue> {
        self.handle.queues()
    }
    pub fn duplicate_queues(&self) -> Vec<DuplicateQueue> {
        self.handle.duplicate_queues()
    }
    pub fn contacts(&self) -> Vec<SimContact> {
        self.handle.contacts()
    }
    pub fn audio_bytes(&self, contact_id: i64) -> Option<Vec<u8>> {
        self.handle.audio_bytes(contact_id)
    }
    pub fn stats(&self) -> SimStats {
        self.handle.stats()
    }
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.handle.arrivals()
    }
    pub fn arrival_counts(&self) -> tokio::sync::watch::Receiver<ArrivalCounts> {
        self.handle.arrival_counts()
    }
    pub fn set_latency(&self, latency: Duration) {
        self.handle.set_latency(latency)
    }
    pub fn faults(&self) -> Faults {
        self.handle.faults()
    }
    pub fn hold_audio_uploads(&self, n: u32) {
        self.handle.hold_audio_uploads(n)
    }
    /// Holds still to come (0 once every one set has happened).
    pub fn holds_left(&self) -> u32 {
        self.handle.0.held_uploads.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        self.handle.set_faults(faults)
    }
    pub fn expire_sessions(&self) -> usize {
        self.handle.expire_sessions()
    }
    pub fn session_ids(&self) -> Vec<String> {
        self.handle.session_ids()
    }
    pub fn render_table(&self) -> String {
        self.handle.render_table()
    }

    /// Stops accepting, lets open requests finish (at most 5 s), then stops.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(result)) => result?,
                Ok(Err(join)) => return Err(std::io::Error::other(join).into()),
                Err(_) => task.abort(),
            }
        }
        Ok(())
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
