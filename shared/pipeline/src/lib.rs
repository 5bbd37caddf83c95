//! The pipeline: everything that drives the ports, for every source alike — webhook
//! intake, the import worker, the reconciliation poller and sweeper, the user sync, the
//! OAuth and API-key credentials, the one schedule, and the HTTP routes. It names no
//! source: each connector's source comes from the [`wfo_ports::Registry`] the entry point
//! hands in ([`connections::Connections`]).

pub mod attention;
pub mod auth;
pub mod authorization;
pub mod connections;
pub mod credentials;
pub mod health;
pub mod import;
pub mod mapping_watch;
pub mod metrics;
pub mod monitor;
pub mod org_sync;
pub mod preflight;
pub mod reconcile;
pub mod refresh_job;
pub mod registration;
pub mod routes;
pub mod runtime;
pub mod schedule;
pub mod status;
pub mod status_page;
pub mod sync;
pub mod webhook;

pub use wfo_http::error_chain;
/// The ports, as the pipeline's modules and its callers name them.
pub use wfo_ports as ports;
