//! `oauth`: API Gateway `GET /oauth/{connector_id}/authorize` and `GET /oauth/callback`.
//!
//! The Authorization URL mints a single-use signed state and redirects to the source's
//! consent page; the callback exchanges the code and stores the tokens (KMS-enveloped).

use std::process::ExitCode;

use lambda_http::{Request, service_fn};
use wfo_lambda::http::HttpDeps;

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
    match lambda_http::run(service_fn(move |req: Request| async move { deps.handle(req).await })).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<HttpDeps, wfo_lambda::InitError> {
    let store = wfo_lambda::store_from_env().await?;
    HttpDeps::new(store, wfo_lambda::env_opt(wfo_aws::env::PUBLIC_URL))
}
