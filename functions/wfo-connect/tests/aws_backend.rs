//! `wfo-connect --backend aws` against a stack on the local emulator: names from the
//! environment (as an operator copies them from the stack outputs), the emulator's
//! endpoint through `AWS_ENDPOINT_URL`. Skips with a note when `MOTO_ENDPOINT` is unset.

mod common;

use std::process::{Command, Output};

use wfo_aws::{AwsClients, AwsNames, provision};

fn fixture(name: &str) -> String {
    format!("{}/../../fixtures/connectors/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn env_of(names: &AwsNames, endpoint: &str) -> Vec<(&'static str, String)> {
    let mut env = common::aws_env(names, endpoint);
    env.push((
        "WFO_PUBLIC_URL",
        "https://abc123.execute-api.us-east-1.amazonaws.com".to_owned(),
    ));
    env
}

async fn wfo_connect(env: &[(&'static str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfo-connect"));
    cmd.arg("--backend").arg("aws").args(args).env_remove("AWS_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joins")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn connectors_and_status_on_a_deployed_stack() {
    let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
        println!("note: MOTO_ENDPOINT is not set; skipping the --backend aws CLI test (scripts/moto.sh start)");
        return;
    };
    let clients = AwsClients::for_emulator(&endpoint).await;
    let prefix = format!("cli{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let names = provision::create_all(&clients, &prefix).await.unwrap();
    let env = env_of(&names, &endpoint);

    let added = wfo_connect(&env, &["connector", "add", &fixture("acme-calling.toml")]).await;
    assert!(added.status.success(), "{added:?}");
    assert!(
        stdout(&added).contains("connector 'acme-calling' (webex-calling) stored"),
        "{}",
        stdout(&added)
    );

    let list = wfo_connect(&env, &["connector", "list"]).await;
    assert!(stdout(&list).contains("acme-calling"), "{}", stdout(&list));

    let show = wfo_connect(&env, &["connector", "show", "acme-calling"]).await;
    let text = stdout(&show);
    assert!(show.status.success());
    assert!(
        !text.contains("example-wfo-password") && !text.contains("example-client-secret"),
        "secrets never printed: {text}"
    );

    let url = wfo_connect(&env, &["connector", "auth-url", "acme-calling"]).await;
    assert_eq!(
        stdout(&url).trim(),
        "https://abc123.execute-api.us-east-1.amazonaws.com/oauth/acme-calling/authorize"
    );

    let status = wfo_connect(&env, &["status", "acme-calling"]).await;
    let text = stdout(&status);
    assert!(status.status.success(), "{status:?}");
    assert!(text.contains("not authorized yet"), "{text}");
    assert!(text.contains("queue: 0 waiting, 0 dead letters"), "{text}");

    let unknown = wfo_connect(&env, &["connector", "show", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test]
async fn a_missing_stack_name_is_a_usage_error_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
        .args(["--backend", "aws", "connector", "list"])
        .env_remove("WFO_LEDGER_TABLE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WFO_LEDGER_TABLE"),
        "{out:?}"
    );
}
