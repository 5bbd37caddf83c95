//! Webex Contact Center 2.0, behind the Source port (`docs/adding-a-source.md`):
//! [`WebexCc2Kind`] / [`WebexCc2Source`], its regional API client [`CcClient`] (every
//! call `TrackingId`-tagged, `Retry-After` honoured, and under the **client id's rate
//! limit** of 300 requests/minute), the users/teams/queues listings of the configuration
//! sync, subscription deliveries and the `capture:available` subscription, and the
//! segmentation of a task into WFO contacts ([`segment`], reference §2.4).
//!
//! Facts and assumptions: the shared reference `webex-contact-center-api.md` §1, §4, §5,
//! §7, §9.

pub mod audio_wait;
pub mod captures;
mod client;
pub mod delivery;
mod error;
mod import_config;
mod listing;
pub mod model;
mod preflight;
pub mod search;
pub mod segment;
mod source;
pub mod subscriptions;

pub use client::{CcClient, ConfigList, MAX_PAGES, PAGE_SIZE, REQUESTS_PER_MINUTE, TRACKING_HEADER};
pub use error::{CcError, cc_error};
pub use import_config::{Gate, ImportConfig};
pub use segment::{AudioState, Cc2Segmentation, CcContact, segment_webex_cc2, segment_webex_cc2_detailed};
pub use source::{SYNC_SCOPES, WebexCc2Kind, WebexCc2Source};
