//! `oauth`: API Gateway `GET /oauth/{connector_id}/authorize` and `GET /oauth/callback`.
//!
//! The Authorization URL mints a single-use signed state and redirects to the source's
//! consent page; the callback exchanges the code and stores the tokens (KMS-enveloped).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    wfo_lambda::http::run_function().await
}
