//! The ports of wfo-connect: where the pipeline meets everything it does not own.
//!
//! - [`source`]: the **Source port**, what one source system (Webex Calling, Webex Contact
//!   Center 2.0 or 1.0) implements and only the pipeline calls, with its one error enum
//!   ([`SourceError`]) that says what the pipeline must do next; and [`Registry`], which
//!   maps a connector kind to its source.
//! - [`credentials`]: the **Credentials port** (OAuth tokens or an API key), so no step
//!   asks "does this connector have tokens?".
//! - [`store`]: the durable state and queue ports the embedded store and the AWS adapters
//!   implement.
//! - [`preflight`]: the named checks `wfo-connect connector check` prints, which each
//!   source adds its own probes to ([`Source::preflight`]).
//!
//! Source crates and store adapters depend on this crate; it depends on nothing of
//! theirs, so the map of the code reads downhill.

pub mod credentials;
pub mod preflight;
pub mod source;
pub mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use credentials::{AuthError, CredentialScheme, Credentials, RefreshOutcome};
pub use source::*;
pub use store::*;
