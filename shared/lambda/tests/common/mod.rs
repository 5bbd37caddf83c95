//! Helpers for the handler tests against moto: a fresh stack per test, and SQS events
//! built from messages really received from the emulator (so receipt handles are real).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use wfo_aws::{AwsClients, AwsNames, AwsStore, provision};
use wfo_pipeline::ports::{Received, WorkQueue};

pub struct Moto {
    pub clients: AwsClients,
    pub names: AwsNames,
    pub store: Arc<AwsStore>,
}

/// A fresh set of tables, queues and key on the emulator, or `None` (with a note) when
/// `MOTO_ENDPOINT` is not set.
pub async fn moto(test: &str) -> Option<Moto> {
    let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
        println!("note: MOTO_ENDPOINT is not set; skipping {test} (start one with scripts/moto.sh start)");
        return None;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let clients = AwsClients::for_emulator(&endpoint).await;
    let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let names = provision::create_all(&clients, &prefix)
        .await
        .expect("create tables, queues and key on moto");
    let store = Arc::new(AwsStore::new(&clients, names.clone()));
    Some(Moto { clients, names, store })
}

/// Receive what is in the queue (hidden for a minute) and wrap it as the SQS event
/// Lambda's event source mapping would deliver; message ids are `m-0`, `m-1`, ….
pub async fn receive_as_event(store: &AwsStore, max: usize) -> (SqsEvent, Vec<Received>) {
    let got = store
        .receive(max, Duration::from_secs(60))
        .await
        .expect("receive from moto");
    (event_of(&got), got)
}

pub fn event_of(messages: &[Received]) -> SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({
                "messageId": format!("m-{i}"),
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": m.receive_count.to_string()},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:imports",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("an SQS event")
}
