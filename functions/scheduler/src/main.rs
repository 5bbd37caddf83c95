//! `scheduler`: EventBridge schedules with the input `{"task": "sweep" | "reconcile" |
//! "token-refresh" | "user-sync" | "monitor"}`. See `wfo_lambda::scheduler` and `infra/README.md`.
//!
//! Environment beyond the `WFO_*` names: `WFO_PUBLIC_URL` (required: webhook targets),
//! `WFO_RUN_BUDGET_SECONDS` (stop starting new work after this, default 240), and for the
//! `monitor` task `WFO_QUIET_MINUTES` (0: no quiet-connector gauge), `WFO_BUSINESS_HOURS`
//! (`Mon-Fri 08:00-18:00`) and `WFO_BUSINESS_TIME_ZONE` (`UTC`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use wfo_lambda::scheduler::{ScheduledEvent, SchedulerDeps};
use wfo_pipeline::ports::Store;

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
    let handler = service_fn(move |event: LambdaEvent<ScheduledEvent>| async move {
        let task = event.payload.task;
        deps.run(event.payload).await.map_err(|e| {
            tracing::error!(task = ?task, error = %e, "scheduled run failed");
            lambda_runtime::Error::from(e.to_string())
        })
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<SchedulerDeps, wfo_lambda::InitError> {
    let aws = wfo_lambda::store_from_env().await?;
    let store: Arc<dyn Store> = aws.clone();
    let public_url = wfo_lambda::env_opt(wfo_aws::env::PUBLIC_URL).ok_or(wfo_lambda::InitError::Config(
        wfo_aws::ConfigError::Missing(wfo_aws::env::PUBLIC_URL),
    ))?;
    let budget = Duration::from_secs(wfo_lambda::env_u64("WFO_RUN_BUDGET_SECONDS", 240)?);
    let monitor = wfo_lambda::scheduler::monitor_settings_from_env()?;
    Ok(SchedulerDeps::new(store, public_url, budget)?.with_monitor(monitor, Some(aws)))
}
