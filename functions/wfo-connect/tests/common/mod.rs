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
