//! The registry: which [`SourceKind`] serves each [`ConnectorKind`].
//!
//! Entry points (the CLI, the Lambda functions, the harness) hand [`Sources`] to the
//! pipeline, which names no source itself. Adding a source is one crate beside
//! the others and one line below (`docs/adding-a-source.md`).

use std::sync::Arc;

use wfo_domain::config::ConnectorKind;
use wfo_ports::{Registry, SourceKind};

/// Every source built into this binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sources;

impl Sources {
    pub fn shared() -> Arc<dyn Registry> {
        Arc::new(Sources)
    }
}

impl Registry for Sources {
    fn source_kind(&self, kind: ConnectorKind) -> Option<Arc<dyn SourceKind>> {
        match kind {
            ConnectorKind::WebexCalling => Some(Arc::new(wfo_webex_calling::WebexCallingKind)),
            ConnectorKind::WebexCc2 => Some(Arc::new(wfo_webex_cc2::WebexCc2Kind)),
            ConnectorKind::WebexCc1 => Some(Arc::new(wfo_webex_cc1::WebexCc1Kind)),
        }
    }
}
