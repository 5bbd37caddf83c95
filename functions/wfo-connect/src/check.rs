//! `wfo-connect connector check ID`: the preflight of one connector
//! ([`wfo_pipeline::preflight`]) printed as a checklist, on either backend.
//!
//! Exit status: 0 when every check passed (or did not apply), 1 when any failed, 2 for an
//! unknown connector.

use std::sync::Arc;
use std::time::Duration;

use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::Store;
use wfo_pipeline::preflight::{PreflightSettings, all_passed, check_connector, render};

use crate::Failure;

/// Run every check of connector `id` and print one line per check.
pub(crate) async fn run(store: Arc<dyn Store>, id: &str) -> Result<(), Failure> {
    let c = crate::commands::get_connector(store.as_ref(), id).await?;
    let settings = PreflightSettings::default();
    let connections = Connections::new(store, wfo_sources::Sources::shared(), wfo_http::RetryPolicy::default())
        .map_err(Failure::job)?;
    let wfo = wfo_pipeline::preflight::wfo_client(&connections, &c, &settings);
    println!("checking connector '{id}' ({})", c.config.kind);
    let checks = check_connector(&connections, &c, &wfo, &settings).await;
    // The session is ours to end; a logout that fails changes nothing about the checks.
    let _ = tokio::time::timeout(Duration::from_secs(5), wfo.logout()).await;
    for line in render(&checks) {
        println!("{line}");
    }
    if all_passed(&checks) {
        println!("all checks passed");
        Ok(())
    } else {
        let failed = checks.iter().filter(|c| c.failed()).count();
        Err(Failure::job(format!(
            "{failed} of {} checks failed: fix them as each line says, then run `wfo-connect connector check {id}` again",
            checks.len()
        )))
    }
}
