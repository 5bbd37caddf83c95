//! Webex Contact Center 1.0 ("Cisco Customer Journey Platform" in WFO's ACD list), behind
//! the Source port (`docs/adding-a-source.md`): [`WebexCc1Kind`] / [`WebexCc1Source`].
//!
//! Public material on the 1.0 APIs is thin; this crate targets the working assumption of
//! the shared reference `webex-contact-center-api.md` §6.4, one module per concern so a
//! real tenant's traffic can correct each on its own (`docs/webex-cc1-assumptions.md`):
//! - [`auth`]: the API-key signature on every request;
//! - [`records`]: CSR and CAR queries, dataset paging, and their mapping onto the §2.4
//!   rules shared with 2.0 ([`wfo_webex_cc2::segment`]);
//! - [`config`]: users, teams and queues from the auxiliary data, and the ACD filters;
//! - [`media`]: the media API's mono WAV, `404` until ready.

pub mod auth;
mod client;
pub mod config;
mod error;
pub mod media;
mod preflight;
pub mod records;
mod source;

pub use client::{Cc1Client, REQUESTS_PER_MINUTE};
pub use error::{Cc1Error, cc1_error};
pub use source::{LIST_WINDOW, SPELLING, WEBEX_CC1_EXTERNAL_ID_PREFIX, WebexCc1Kind, WebexCc1Source, segment_session};
