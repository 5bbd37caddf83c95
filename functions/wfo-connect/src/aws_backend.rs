//! `--backend aws`: the same commands on a deployed stack, through the AWS adapters.
//!
//! Names come from the environment, one variable per stack output (see
//! `infra/README.md`): `WFO_LEDGER_TABLE`, `WFO_CONNECTORS_TABLE`, `WFO_TOKENS_TABLE`,
//! `WFO_STATE_TABLE`, `WFO_QUEUE_URL`, `WFO_DEAD_LETTER_QUEUE_URL`, `WFO_KMS_KEY_ID`, and
//! `WFO_PUBLIC_URL` (the `ApiUrl` output) for `connector auth-url`. Region and
//! credentials come from the usual AWS environment or profile.
//!
//! Every operator verb runs here, on the stack's tables and queues, with the same code as
//! on the local backend (`crate::commands`, over the port traits):
//!
//! | verb | on AWS |
//! |---|---|
//! | `connector add\|list\|show\|auth-url`, `status` | read and write the DynamoDB tables |
//! | `connector check ID` | the same preflight as locally, with the tokens from the stack's table |
//! | `sync ID`, `refresh [ID]` | run here, now, as the scheduler's `user-sync` and `token-refresh` do: their locks and conditional writes make a run beside the schedule safe |
//! | `backfill ID --from --to` | lists the window here, records each item in the ledger and sends it to the import queue (`WFO_QUEUE_URL`), as the scheduler's poll and the webhook do; **returns after enqueuing**, with the counts: the stack's import worker imports them, and `status` shows the progress |
//! | `dlq list`, `dlq replay [--all\|ID]` | the import DLQ (`WFO_DEAD_LETTER_QUEUE_URL`); `list` also shows the scheduler's DLQ when `WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL` is set (output `SchedulerDeadLetterQueueUrl`) |
//!
//! `serve`, `segment` and `demo` need the local runner or run offline.

use std::sync::Arc;

use wfo_aws::{AwsClients, AwsNames, AwsStore};
use wfo_pipeline::ports::Store;
use wfo_pipeline::reconcile::PollReport;

use crate::commands::ImportBy;
use crate::dlq::OtherQueue;
use crate::{Cli, Command, ConnectorCmd, Failure};

/// Who takes up what is enqueued here.
const WORKER: &str = "the stack's import worker";

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
        Command::Sync { id } => crate::commands::sync(open().await?, &id).await,
        Command::Refresh { id } => crate::commands::refresh(open().await?, id.as_deref()).await,
        Command::Backfill { id, from, to } => {
            crate::backfill::run(open().await?, None, &id, &from, &to, ImportBy::Stack).await
        }
        Command::Dlq { action } => {
            let store = open_aws().await?;
            let others = scheduler_dead_letters(&store).await?;
            crate::dlq::run(store.as_ref(), others, WORKER, action).await
        }
    }
}

/// What `backfill` says once the window's items are in the ledger and on the queue.
pub(crate) fn enqueued(id: &str, report: &PollReport) -> Result<(), Failure> {
    let sent = (report.new + report.revived).saturating_sub(report.enqueue_failures);
    println!(
        "{sent} item(s) sent to the import queue; {WORKER} imports them in the background: watch `wfo-connect --backend aws status {id}`"
    );
    if report.enqueue_failures > 0 {
        println!(
            "{} item(s) recorded but not enqueued: the stack's sweep enqueues them within a minute",
            report.enqueue_failures
        );
    }
    Ok(())
}

/// The scheduler's dead letters, when `WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL` names its queue.
async fn scheduler_dead_letters(store: &AwsStore) -> Result<Vec<OtherQueue>, Failure> {
    let Some(url) = std::env::var(wfo_aws::env::SCHEDULER_DEAD_LETTER_QUEUE_URL)
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        return Ok(Vec::new());
    };
    let letters = store.dead_letters_in(&url, 100).await.map_err(Failure::job)?;
    Ok(vec![OtherQueue {
        label: "scheduler queue (failed scheduled runs)".to_owned(),
        letters,
        advice: "the schedules run again by themselves: read the reason, fix its cause, then delete them (aws sqs purge-queue)".to_owned(),
    }])
}

async fn open() -> Result<Arc<dyn Store>, Failure> {
    Ok(open_aws().await?)
}

async fn open_aws() -> Result<Arc<AwsStore>, Failure> {
    let names = AwsNames::from_env().map_err(Failure::usage)?;
    let clients = AwsClients::from_env().await;
    Ok(Arc::new(AwsStore::new(&clients, names)))
}
