//! `import-worker`: the SQS import queue → `Importer::process` per message → partial
//! batch failures (only messages whose ledger write failed come back). See
//! `wfo_lambda::worker` and `infra/README.md`.
//!
//! Environment beyond the `WFO_*` names: `WFO_LEASE_SECONDS` (default 60: the lease is
//! renewed every third of it while a step runs, so an invocation that dies frees its items
//! within a minute), `WFO_WORKER_CONCURRENCY` (messages of a batch at once, default 10: ten Contact
//! Center tasks planned together share one `captures/query` call).

use std::process::ExitCode;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use wfo_lambda::worker::WorkerDeps;
use wfo_pipeline::import::ImportSettings;

#[tokio::main]
async fn main() -> ExitCode {
    wfo_lambda::init_logging();
    let deps = match init().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("cold start done");
    let deps = &deps;
    let handler = service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = event.context.deadline;
        Ok::<SqsBatchResponse, lambda_runtime::Error>(deps.handle_batch_until(event.payload, Some(deadline)).await)
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<WorkerDeps, wfo_lambda::InitError> {
    let store = wfo_lambda::store_from_env().await?;
    let settings = ImportSettings {
        lease: Duration::from_secs(wfo_lambda::env_u64("WFO_LEASE_SECONDS", 60)?),
        ..ImportSettings::default()
    };
    let concurrency = wfo_lambda::env_u64("WFO_WORKER_CONCURRENCY", 10)?;
    WorkerDeps::new(store, settings, usize::try_from(concurrency).unwrap_or(10))
}
