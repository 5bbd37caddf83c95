//! What the CLI tests share: running the real binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Run `wfo-connect --state-dir STATE ARGS…` to its end (off the async runtime's threads).
pub async fn run(args: &[&str], state: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfo-connect"));
    cmd.arg("--state-dir").arg(state).args(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joins")
}

/// The environment `--backend aws` reads for a stack provisioned on the local emulator
/// at `endpoint` (its table and queue names, the emulator, static test credentials).
pub fn aws_env(names: &wfo_aws::AwsNames, endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WFO_LEDGER_TABLE", names.ledger_table.clone()),
        ("WFO_CONNECTORS_TABLE", names.connectors_table.clone()),
        ("WFO_TOKENS_TABLE", names.tokens_table.clone()),
        ("WFO_STATE_TABLE", names.state_table.clone()),
        ("WFO_QUEUE_URL", names.queue_url.clone()),
        ("WFO_DEAD_LETTER_QUEUE_URL", names.dead_letter_queue_url.clone()),
        ("WFO_KMS_KEY_ID", names.kms_key_id.clone()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}
