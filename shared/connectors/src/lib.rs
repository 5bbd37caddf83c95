//! Ports (traits) for state, queue and secrets, and the pipelines that tie the source
//! clients and the WFO client to them: webhook intake, the import worker, the
//! reconciliation poller and sweeper, OAuth, and the HTTP routes.

pub mod auth;
pub mod conformance;
pub mod health;
pub mod import;
pub mod metrics;
pub mod ports;
pub mod reconcile;
pub mod refresh_job;
pub mod registration;
pub mod routes;
pub mod runtime;
pub mod sync;
pub mod webhook;

pub use wfo_http::error_chain;
