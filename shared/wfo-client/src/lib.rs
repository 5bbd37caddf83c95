//! Client for the WFO ingest API (`shared/specs/wfo-ingest-api.md`, OpenAPI document in
//! `docs/openapi/wfo-ingest-api.yaml`).
//!
//! - [`WfoApi`]: the port, one method per call of the contract.
//! - [`WfoClient`]: its JSON/HTTP implementation (sessions with one re-login on `401`,
//!   retries through `wfo_http`, streamed audio).
//! - [`WfoError`]: what went wrong, and whether to try again.
//! - [`ensure`]: idempotent helpers (lookup before create) on top of any [`WfoApi`].
//! - [`messages`]: the `errorMessage` texts shared with the simulator.

pub mod api;
pub mod client;
pub mod ensure;
pub mod error;
pub use wfo_domain::wfo_messages as messages;

pub use api::{AudioBody, WfoApi};
pub use client::{WfoClient, WfoClientConfig};
pub use ensure::{
    NewAgent, default_agent_role, default_team, ensure_agent_person, ensure_agent_person_fenced, ensure_contact,
    ensure_queue, find_person_by_acd, find_queue_by_acd, import_new_contact, put_metadata,
};
pub use error::WfoError;
