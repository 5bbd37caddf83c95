//! `--backend aws`: the same commands on a deployed stack, through the AWS adapters.
//!
//! Names come from the environment, one variable per stack output (see
//! `infra/README.md`): `WFO_LEDGER_TABLE`, `WFO_CONNECTORS_TABLE`, `WFO_TOKENS_TABLE`,
//! `WFO_STATE_TABLE`, `WFO_QUEUE_URL`, `WFO_DEAD_LETTER_QUEUE_URL`, `WFO_KMS_KEY_ID`, and
//! `WFO_PUBLIC_URL` (the `ApiUrl` output) for `connector auth-url`. Region and
//! credentials come from the usual AWS environment or profile.
//!
//! Supported: `connector add|list|show|auth-url|check` and `status`. The rest runs on the
//! stack's schedules (`sync`, `refresh`) or needs the local runner (`serve`, `demo`).

use std::sync::Arc;

use wfo_aws::{AwsClients, AwsNames, AwsStore};
use wfo_pipeline::ports::Store;

use crate::{Cli, Command, ConnectorCmd, Failure};

pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Connector {
            action: ConnectorCmd::Check { id },
        } => crate::check::run(open().await?, &id).await,
        Command::Connector { action } => {
            let store = open().await?;
            let action = match action {
                ConnectorCmd::AuthUrl { id, public_url: None } => {
                    let url = std::env::var(wfo_aws::env::PUBLIC_URL)
                        .ok()
                        .filter(|u| !u.trim().is_empty())
                        .ok_or_else(|| {
                            Failure::usage(format!(
                                "set {} to the stack's ApiUrl output, or pass --public-url",
                                wfo_aws::env::PUBLIC_URL
                            ))
                        })?;
                    ConnectorCmd::AuthUrl {
                        id,
                        public_url: Some(url),
                    }
                }
                other => other,
            };
            crate::commands::connector(store.as_ref(), action).await
        }
        Command::Status { id } => {
            let store = open().await?;
            crate::commands::status(store, id.as_deref()).await
        }
        Command::Segment { .. } | Command::Demo { .. } => {
            Err(Failure::usage("segment and demo run offline: leave out --backend aws"))
        }
        Command::Serve { .. } => Err(Failure::usage(
            "serve runs everything on this machine: leave out --backend aws (the stack's functions are the server on AWS)",
        )),
        Command::Sync { .. } | Command::Refresh { .. } | Command::Backfill { .. } => Err(Failure::usage(
            "on AWS, sync and refresh run on the stack's schedules and backfill is not available yet; --backend aws supports connector add|list|show|auth-url|check and status",
        )),
    }
}

async fn open() -> Result<Arc<dyn Store>, Failure> {
    let names = AwsNames::from_env().map_err(Failure::usage)?;
    let clients = AwsClients::from_env().await;
    Ok(Arc::new(AwsStore::new(&clients, names)))
}
