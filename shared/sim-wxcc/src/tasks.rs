//! The task plane: stored tasks (CSR fields + CAR activities, reference §2.3) with their
//! captures (§3.1), the routes that serve them (`POST /search`, `POST /v1/captures/query`,
//! `GET /sim-media/{ticket}`), the `task:ended` / `capture:available` events, and the
//! controls tests use (capture delay, link lifetime, faults, request counts).
//!
//! Time is the simulator's clock: a task is visible to Search once its `createdTime` has
//! come, has an `endedTime` only once that instant has passed, and its captures become
//! available `capture_delay` after it ended.
//!
//! UNCONFIRMED choices:
//! - `task:ended` data: `taskId`, `createdTime`, `endedTime`, `channelType`, `direction`,
//!   `status` (the reference names no fields). `capture:available` is one event per task
//!   (not per recording) with `taskId`, `filePath` (the main capture's presigned URL, only
//!   when [`TaskPlane::set_public_base_url`] was called), `createdTime` (ms when it
//!   became available) and `recordingIds`.
//! - A task still running (its `endedTime` in the future) has status `assigned` once an
//!   agent is connected, `queued` before; its stored status applies once it has ended.
//! - Fault answers use the WxCC error body (§1.4); media faults answer S3-style XML.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::broadcast;

use crate::clock::SimClock;
use crate::events::{TaskEvent, TaskEventKind};
use crate::scenario::Scenario;
use crate::wav::{CONSULT_TONES_HZ, MAIN_TONES_HZ, WavSource};

/// Path prefix of presigned capture downloads.
pub const MEDIA_PATH_PREFIX: &str = "/sim-media/";

/// An agent (or user) reference: the CI user id plus the session data CAR nodes carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    /// CI user id.
    pub id: String,
    pub name: String,
    pub session_id: String,
    pub channel_id: String,
    pub phone_number: Option<String>,
}

/// `{ id name }` of a queue, team, site or entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// One CAR node (`activities.nodes[]`): a state interval of the task.
#[derive(Debug, Clone, PartialEq)]
pub struct SimActivity {
    pub id: String,
    pub event_name: String,
    pub created_time: DateTime<Utc>,
    pub ended_time: DateTime<Utc>,
    pub agent: Option<AgentRef>,
    pub team: Option<NamedRef>,
    pub site: Option<NamedRef>,
    pub queue: Option<NamedRef>,
    pub entrypoint: Option<NamedRef>,
    pub transfer_type: Option<String>,
    pub destination_agent: Option<AgentRef>,
    pub destination_queue: Option<NamedRef>,
    pub previous_state: Option<String>,
    pub next_state: Option<String>,
    pub child_contact_id: Option<String>,
    pub child_contact_type: Option<String>,
    pub termination_reason: Option<String>,
}

/// `callType` of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Main,
    Consult,
}

impl CallType {
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Main => "main",
            CallType::Consult => "consult",
        }
    }
}

/// One capture (`recording[]` element) of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRecording {
    pub id: String,
    pub call_type: CallType,
    pub start_time: DateTime<Utc>,
    pub stop_time: DateTime<Utc>,
    /// Agent CI user ids and the masked customer number.
    pub participants: Vec<String>,
    pub channel1: String,
    pub channel2: Option<String>,
    pub file_name: String,
    pub sensitive: bool,
    /// Where the stitched main capture splits into segments (`includeSegments: true`):
    /// inner boundaries, strictly between start and stop. Ignored for consult captures.
    pub segment_starts: Vec<DateTime<Utc>>,
    /// Paused spans: silence in the audio, wall-clock time kept.
    pub paused: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl SimRecording {
    /// The audio of `[from, to)` of this capture.
    pub fn wav_source(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> WavSource {
        WavSource {
            origin_ms: self.start_time.timestamp_millis(),
            from_ms: from.timestamp_millis(),
            to_ms: to.timestamp_millis(),
            tones_hz: match self.call_type {
                CallType::Main => MAIN_TONES_HZ,
                CallType::Consult => CONSULT_TONES_HZ,
            },
            silences: self
                .paused
                .iter()
                .map(|(a, b)| (a.timestamp_millis(), b.timestamp_millis()))
                .collect(),
        }
    }

    /// `(start, stop)` of each segment: the whole span when there is no split.
    pub fn segments(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut bounds = vec![self.start_time];
        bounds.extend(
            self.segment_starts
                .iter()
                .copied()
                .filter(|t| *t > self.start_time && *t < self.stop_time),
        );
        bounds.sort();
        bounds.dedup();
        bounds.push(self.stop_time);
        bounds.windows(2).map(|w| (w[0], w[1])).collect()
    }
}

/// A task as stored: CSR fields, CAR nodes (ordered by `createdTime`) and captures.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTask {
    pub id: String,
    pub created_time: DateTime<Utc>,
    /// When the task ends (may still be ahead of the clock).
    pub ended_time: DateTime<Utc>,
    /// `telephony`, `chat`, `email`, `social`.
    pub channel_type: String,
    pub channel_sub_type: Option<String>,
    /// `inbound`, `outbound`, `outdial`.
    pub direction: String,
    pub origin: String,
    pub destination: String,
    /// Status once ended: `completed`, `abandoned`.
    pub status: String,
    pub termination_type: Option<String>,
    pub terminating_end: Option<String>,
    pub contact_handle_type: Option<String>,
    /// Last agent assigned.
    pub owner: Option<AgentRef>,
    pub previous_agent: Option<AgentRef>,
    pub last_queue: Option<NamedRef>,
    pub first_queue: Option<NamedRef>,
    pub last_team: Option<NamedRef>,
    pub last_site: Option<NamedRef>,
    pub last_entry_point: Option<NamedRef>,
    pub last_wrapup_code_name: Option<String>,
    pub customer_name: Option<String>,
    /// `Some(true)`: captures will exist; `Some(false)`: none; `None`: not known yet.
    pub capture_requested: Option<bool>,
    pub activities: Vec<SimActivity>,
    pub recordings: Vec<SimRecording>,
    /// The scenario that built the task (`None` for a task assembled by hand); not part
    /// of any API answer, it lets a test ask [`crate::scenario::expected_contacts`] what
    /// the task should become.
    pub scenario: Option<Scenario>,
}

impl SimTask {
    /// Whether the task has ended by `now`.
    pub fn ended_by(&self, now: DateTime<Utc>) -> bool {
        self.ended_time <= now
    }

    /// Whether captures are expected at all.
    pub fn expects_capture(&self) -> bool {
        self.capture_requested == Some(true) && !self.recordings.is_empty()
    }
}

/// Which route a fault or a count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskRoute {
    /// `POST /search`
    Search,
    /// `POST /v1/captures/query`
    Captures,
    /// `GET /sim-media/{ticket}`
    Media,
}

impl TaskRoute {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskRoute::Search => "POST /search",
            TaskRoute::Captures => "POST /v1/captures/query",
            TaskRoute::Media => "GET /sim-media/{ticket}",
        }
    }
}

/// A fault aimed at one route: the next `skip` requests pass, then `times` requests
/// answer `status` (e.g. `skip: 2, times: 1` fails the third Search page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskFault {
    pub route: TaskRoute,
    pub skip: u32,
    pub times: u32,
    pub status: u16,
}

/// What a presigned download link stands for.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub source: WavSource,
    pub file_name: String,
    pub issued_at: DateTime<Utc>,
    /// What the URL advertised (`X-Amz-Expires`).
    pub advertised_secs: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    ended_sent: bool,
    capture_sent: bool,
}

pub(crate) struct PlaneState {
    pub tasks: BTreeMap<String, Arc<SimTask>>,
    pending: BTreeMap<String, Pending>,
    pub tickets: BTreeMap<String, Ticket>,
    pub capture_delay: Duration,
    /// `Some`: links really live this long, whatever `urlExpiration` says.
    pub link_lifetime: Option<Duration>,
    pub faults: VecDeque<TaskFault>,
    pub request_counts: BTreeMap<TaskRoute, u64>,
    pub rng: StdRng,
    pub org_id: String,
    pub public_base_url: Option<String>,
}

pub(crate) struct Inner {
    pub clock: SimClock,
    pub state: Mutex<PlaneState>,
    pub events: broadcast::Sender<TaskEvent>,
    /// Keys the MAC of Search cursors, so tampered cursors are refused.
    pub cursor_key: [u8; 32],
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, PlaneState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The task plane. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct TaskPlane {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskPlane").finish_non_exhaustive()
    }
}

/// Events kept for slow subscribers before the oldest are dropped.
const EVENT_BUFFER: usize = 4096;
/// How often the scheduler looks for due events.
pub const TICK: Duration = Duration::from_millis(50);

impl TaskPlane {
    pub fn new(clock: SimClock) -> TaskPlane {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut rng = StdRng::from_os_rng();
        let cursor_key = rng.random();
        TaskPlane {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(PlaneState {
                    tasks: BTreeMap::new(),
                    pending: BTreeMap::new(),
                    tickets: BTreeMap::new(),
                    capture_delay: Duration::ZERO,
                    link_lifetime: None,
                    faults: VecDeque::new(),
                    request_counts: BTreeMap::new(),
                    rng,
                    org_id: "7d5a6c8e-2f3b-4c1d-9e0a-5b6c7d8e9f01".to_owned(),
                    public_base_url: None,
                }),
                events,
                cursor_key,
            }),
        }
    }

    /// `POST /search`, `POST /v1/captures/query`, `GET /sim-media/{ticket}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/search", post(crate::search::handle))
            .route("/v1/captures/query", post(crate::captures::handle))
            .route("/sim-media/{ticket}", get(crate::captures::media))
            .with_state(self.clone())
    }

    /// Events from now on (`task:ended`, `capture:available`).
    pub fn subscribe(&self) -> broadcast::Receiver<TaskEvent> {
        self.inner.events.subscribe()
    }

    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// Adds (or replaces) a task; its `task:ended` and `capture:available` events are
    /// emitted when their time comes (by [`TaskPlane::process_due`]).
    pub fn insert_task(&self, task: SimTask) {
        let mut st = self.inner.lock();
        st.pending.insert(task.id.clone(), Pending::default());
        st.tasks.insert(task.id.clone(), Arc::new(task));
    }

    /// Adds tasks as history: searchable and capturable, but no events are ever emitted
    /// for them (bulk loads for benchmarks and back-fills).
    pub fn insert_history(&self, tasks: impl IntoIterator<Item = SimTask>) {
        let mut st = self.inner.lock();
        for task in tasks {
            st.pending.remove(&task.id);
            st.tasks.insert(task.id.clone(), Arc::new(task));
        }
    }

    /// Every stored task, ordered by id.
    pub fn tasks(&self) -> Vec<Arc<SimTask>> {
        self.inner.lock().tasks.values().cloned().collect()
    }

    pub fn task(&self, id: &str) -> Option<Arc<SimTask>> {
        self.inner.lock().tasks.get(id).cloned()
    }

    /// Captures become available this long after their task ended (simulator clock).
    pub fn set_capture_delay(&self, delay: Duration) {
        self.inner.lock().capture_delay = delay;
    }

    pub fn capture_delay(&self) -> Duration {
        self.inner.lock().capture_delay
    }

    /// `Some(d)`: links issued from now on stop working after `d` (simulator clock),
    /// whatever `urlExpiration` asked for; `None`: `urlExpiration` decides (default).
    pub fn set_link_lifetime(&self, lifetime: Option<Duration>) {
        self.inner.lock().link_lifetime = lifetime;
    }

    /// Every link issued so far stops working now.
    pub fn expire_links(&self) {
        let now = self.inner.clock.now();
        for ticket in self.inner.lock().tickets.values_mut() {
            ticket.expires_at = ticket.expires_at.min(now);
        }
    }

    /// The org id the captures `meta` reports when a request names none.
    pub fn set_org_id(&self, org_id: impl Into<String>) {
        self.inner.lock().org_id = org_id.into();
    }

    /// The server's public base URL (`http://127.0.0.1:PORT`), used for the `filePath`
    /// of `capture:available` events (requests take theirs from `Host`).
    pub fn set_public_base_url(&self, base: impl Into<String>) {
        self.inner.lock().public_base_url = Some(base.into().trim_end_matches('/').to_owned());
    }

    /// Requests per route so far (faulted ones included).
    pub fn request_counts(&self) -> BTreeMap<TaskRoute, u64> {
        self.inner.lock().request_counts.clone()
    }

    /// Queues a fault; faults of one route apply in the order pushed.
    pub fn push_fault(&self, fault: TaskFault) {
        self.inner.lock().faults.push_back(fault);
    }

    /// Counts a request on `route` and says which status to fail it with, if any.
    pub(crate) fn admit(&self, route: TaskRoute) -> Option<StatusCode> {
        let mut st = self.inner.lock();
        *st.request_counts.entry(route).or_default() += 1;
        let i = st.faults.iter().position(|f| f.route == route)?;
        let f = &mut st.faults[i];
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        let status = f.status;
        f.times = f.times.saturating_sub(1);
        if f.times == 0 {
            st.faults.remove(i);
        }
        Some(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }

    /// Emits the events whose time has come; returns how many. Each event is emitted
    /// once per task.
    pub fn process_due(&self) -> usize {
        let now = self.inner.clock.now();
        let mut guard = self.inner.lock();
        let st = &mut *guard;
        let delay = to_chrono(st.capture_delay);
        let mut due = Vec::new();
        let mut done = Vec::new();
        for (id, pending) in st.pending.iter_mut() {
            let Some(task) = st.tasks.get(id) else {
                done.push(id.clone());
                continue;
            };
            if !pending.ended_sent && task.ended_by(now) {
                pending.ended_sent = true;
                due.push((TaskEventKind::TaskEnded, task.clone(), task.ended_time));
            }
            let ready_at = task.ended_time + delay;
            if task.expects_capture() && pending.ended_sent && !pending.capture_sent && ready_at <= now {
                pending.capture_sent = true;
                due.push((TaskEventKind::CaptureAvailable, task.clone(), ready_at));
            }
            if pending.ended_sent && (pending.capture_sent || !task.expects_capture()) {
                done.push(id.clone());
            }
        }
        for id in done {
            st.pending.remove(&id);
        }
        let count = due.len();
        for (kind, task, at) in due {
            let data = match kind {
                TaskEventKind::TaskEnded => json!({
                    "taskId": task.id,
                    "createdTime": task.created_time.timestamp_millis(),
                    "endedTime": task.ended_time.timestamp_millis(),
                    "channelType": task.channel_type,
                    "direction": task.direction,
                    "status": task.status,
                }),
                TaskEventKind::CaptureAvailable => {
                    let mut data = json!({
                        "taskId": task.id,
                        "createdTime": at.timestamp_millis(),
                        "recordingIds": task.recordings.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                    });
                    let main = task.recordings.iter().find(|r| r.call_type == CallType::Main);
                    if let (Some(base), Some(main)) = (st.public_base_url.clone(), main)
                        && let Some(obj) = data.as_object_mut()
                    {
                        let url = issue_link(st, &base, main, main.start_time, main.stop_time, 60, now);
                        obj.insert("filePath".into(), url.into());
                    }
                    data
                }
            };
            // No subscriber is not an error: the event is simply not wanted.
            let _ = self.inner.events.send(TaskEvent {
                kind,
                task_id: task.id.clone(),
                at,
                data,
            });
        }
        count
    }

    /// Runs [`TaskPlane::process_due`] every [`TICK`] until every clone of this plane is
    /// dropped. Needs a Tokio runtime.
    pub fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(inner) = weak.upgrade() else { break };
                TaskPlane { inner }.process_due();
            }
        })
    }
}

/// Issues a presigned link for `[from, to)` of `rec`, valid `minutes` (or the override).
pub(crate) fn issue_link(
    st: &mut PlaneState,
    base: &str,
    rec: &SimRecording,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    minutes: i64,
    now: DateTime<Utc>,
) -> String {
    // Forget links that are long dead, so tickets stay bounded.
    let horizon = now - chrono::Duration::hours(2);
    st.tickets.retain(|_, t| t.expires_at > horizon);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let ticket: String = (0..40)
        .map(|_| char::from(ALPHABET[st.rng.random_range(0..ALPHABET.len())]))
        .collect();
    let advertised_secs = minutes * 60;
    let lifetime = match st.link_lifetime {
        Some(d) => to_chrono(d),
        None => chrono::Duration::seconds(advertised_secs),
    };
    st.tickets.insert(
        ticket.clone(),
        Ticket {
            source: rec.wav_source(from, to),
            file_name: rec.file_name.clone(),
            issued_at: now,
            advertised_secs,
            expires_at: now + lifetime,
        },
    );
    format!(
        "{base}{MEDIA_PATH_PREFIX}{ticket}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={}&X-Amz-Expires={advertised_secs}&X-Amz-SignedHeaders=host",
        now.format("%Y%m%dT%H%M%SZ")
    )
}

pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
