//! A Webex Contact Center 2.0 simulator (see the crate description).
//!
//! Two halves, joined here:
//! - the **control plane** — identity, the regional API's rate limit and `TrackingId`,
//!   paged users/teams/queues, subscriptions and signed deliveries;
//! - the **task plane** — tasks (`tasks`), GraphQL Search (`search`), captures with
//!   expiring download links (`captures`), WAV audio (`wav`) and the scenario player
//!   (`scenario`), which knows nothing of authentication: the control plane's middleware
//!   authenticates and rate-limits every regional request before it reaches them.

pub mod clock;
pub mod events;

pub use clock::SimClock;
pub use events::{TaskEvent, TaskEventKind};

// --- task plane (tasks.rs, search.rs, captures.rs, wav.rs, scenario.rs) ---
pub mod captures;
pub mod scenario;
pub mod search;
pub mod tasks;
pub mod wav;

pub use scenario::{Scenario, ScenarioAgent, ScenarioError, ScenarioIds, generate_tasks};
pub use tasks::{
    AgentRef, CallType, MEDIA_PATH_PREFIX, NamedRef, SimActivity, SimRecording, SimTask, TaskFault, TaskPlane,
    TaskRoute,
};
