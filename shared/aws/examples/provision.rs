//! Create a stack's tables, queues and key on a local emulator and print the environment
//! the functions and `wfo-connect --backend aws` read:
//!
//! ```sh
//! scripts/moto.sh start
//! eval "$(cargo run -q -p wfo-aws --example provision -- http://127.0.0.1:5055 dev)"
//! ```

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(prefix)) = (args.next(), args.next()) else {
        eprintln!("usage: provision ENDPOINT PREFIX");
        return ExitCode::from(2);
    };
    let clients = wfo_aws::AwsClients::for_emulator(&endpoint).await;
    match wfo_aws::provision::create_all(&clients, &prefix).await {
        Ok(n) => {
            for (k, v) in [
                (wfo_aws::env::LEDGER_TABLE, n.ledger_table),
                (wfo_aws::env::CONNECTORS_TABLE, n.connectors_table),
                (wfo_aws::env::TOKENS_TABLE, n.tokens_table),
                (wfo_aws::env::STATE_TABLE, n.state_table),
                (wfo_aws::env::QUEUE_URL, n.queue_url),
                (wfo_aws::env::DEAD_LETTER_QUEUE_URL, n.dead_letter_queue_url),
                (wfo_aws::env::KMS_KEY_ID, n.kms_key_id),
            ] {
                println!("export {k}={v}");
            }
            println!(
                "export AWS_ENDPOINT_URL={endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
