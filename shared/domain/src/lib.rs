//! The pure core of wfo-connect: models, call timelines, segmentation, metadata mapping
//! and configuration validation. No IO, no async, no HTTP: everything here is a function
//! of its inputs, so most tests live here and run in milliseconds.

pub mod config;
pub mod ledger;
pub mod secret;
pub mod wfo;
pub mod wfo_messages;

pub use secret::Secret;
pub mod acd_filter;
pub mod json_fields;
pub mod mapping;
pub mod org_sync;
pub mod recapture;
pub mod redact;
pub mod replan;
pub mod segment;
pub mod sync;
pub mod timeline;
pub mod webex_id;
