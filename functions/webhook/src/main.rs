//! `webhook`: API Gateway `POST /webhooks/{connector_id}` and `GET /healthz`.
//!
//! Verify the signature over the raw body, record the item in the ledger (conditional
//! insert), enqueue one SQS message, answer 200 fast. See `infra/README.md`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    wfo_lambda::http::run_function().await
}
