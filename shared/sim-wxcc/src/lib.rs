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
