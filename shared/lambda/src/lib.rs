//! What the Lambda functions do, so their binaries (`functions/*`) stay a few lines and
//! the handlers can be tested without Lambda: each `main` builds its `Deps` once per cold
//! start and hands one of these handlers to the runtime.
//!
//! | function | trigger | handler |
//! |---|---|---|
//! | `webhook` | API Gateway `POST /webhooks/{id}`, `GET /healthz` | [`http::HttpDeps::handle`] |
//! | `oauth` | API Gateway `GET /oauth/{id}/authorize`, `GET /oauth/callback` | [`http::HttpDeps::handle`] |
//! | `import-worker` | SQS import queue (partial batch failures) | [`worker::WorkerDeps::handle_batch`] |
//! | `scheduler` | EventBridge schedules, input `{"task": …}` | [`scheduler::SchedulerDeps::run`] |

pub mod http;
pub mod scheduler;
pub mod worker;

use std::sync::Arc;

use wfo_aws::{AwsClients, AwsNames, AwsStore};

/// A cold-start failure: logged and the process exits, so Lambda reports an init error.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] wfo_aws::ConfigError),
    #[error("invalid {name}: {why}")]
    Invalid { name: &'static str, why: String },
    #[error("cannot build HTTP clients: {0}")]
    Http(#[from] reqwest::Error),
}

/// JSON log lines (one object per line, with the span fields: message id, connector,
/// item), filtered by `RUST_LOG` (default `info`). CloudWatch Logs Insights reads the
/// fields directly (see `infra/README.md` for the queries).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .try_init();
}

/// The AWS store from the environment: names from the `WFO_*` variables, clients from
/// the Lambda role. Built once per cold start.
pub async fn store_from_env() -> Result<Arc<AwsStore>, InitError> {
    let names = AwsNames::from_env()?;
    let clients = AwsClients::from_env().await;
    Ok(Arc::new(AwsStore::new(&clients, names)))
}

/// An optional environment variable: unset or blank is `None`.
pub fn env_opt(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A whole-number environment variable with a default.
pub fn env_u64(name: &'static str, default: u64) -> Result<u64, InitError> {
    match env_opt(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| InitError::Invalid {
            name,
            why: format!("'{v}' is not a whole number"),
        }),
    }
}
