//! The import worker's batch contract against moto: which messages are reported as
//! `BatchItemFailure`s (only those whose ledger write failed, or that could not be set
//! aside), and that malformed or unknown messages are kept, visible, in the DLQ.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{event_of, moto, receive_as_event};
use wfo_aws::AwsStore;
use wfo_lambda::worker::WorkerDeps;
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::{WorkMessage, WorkQueue};

fn worker(store: Arc<AwsStore>) -> WorkerDeps {
    WorkerDeps::new(store, ImportSettings::fast(), 4).unwrap()
}

#[tokio::test]
async fn a_malformed_message_is_moved_to_the_dlq_with_its_reason_and_not_reported_failed() {
    let Some(m) = moto("malformed message").await else {
        return;
    };
    m.store.send_raw("recording 62807eaf created").await.unwrap();
    let (event, _) = receive_as_event(&m.store, 10).await;
    assert_eq!(event.records.len(), 1);
    let response = worker(m.store.clone()).handle_batch(event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "set aside, not retried: {response:?}"
    );
    let dead = m.store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "kept, visible");
    assert_eq!(dead[0].body, "recording 62807eaf created");
    assert!(
        dead[0].dead_reason.as_deref().unwrap_or("").starts_with("malformed:"),
        "{:?}",
        dead[0].dead_reason
    );
    assert_eq!(
        m.store.depth().await.unwrap(),
        0,
        "gone from the import queue only after the copy"
    );
}

#[tokio::test]
async fn a_message_naming_no_ledger_item_is_moved_to_the_dlq() {
    let Some(m) = moto("unknown item").await else { return };
    m.store
        .send(
            &WorkMessage {
                connector_id: "nobody".into(),
                item_id: "nothing".into(),
            },
            Duration::ZERO,
        )
        .await
        .unwrap();
    let (event, _) = receive_as_event(&m.store, 10).await;
    let response = worker(m.store.clone()).handle_batch(event).await;
    assert!(response.batch_item_failures.is_empty());
    let dead = m.store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].dead_reason.as_deref(), Some("names no ledger item"));
}

#[tokio::test]
async fn only_the_message_whose_ledger_write_failed_is_a_batch_item_failure() {
    let Some(m) = moto("ledger write failure").await else {
        return;
    };
    m.store
        .send(
            &WorkMessage {
                connector_id: "c".into(),
                item_id: "r1".into(),
            },
            Duration::ZERO,
        )
        .await
        .unwrap();
    m.store.send_raw("{not json").await.unwrap();
    let (event, got) = receive_as_event(&m.store, 10).await;
    assert_eq!(got.len(), 2);
    // The worker's ledger table is gone (deleted, or access denied): its lease write fails.
    let mut names = m.names.clone();
    names.ledger_table = "no-such-table".into();
    let broken = Arc::new(AwsStore::new(&m.clients, names));
    let response = worker(broken).handle_batch(event).await;
    let valid = got.iter().position(|r| r.body.contains("\"r1\"")).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": format!("m-{valid}")}]}),
        "the shape Lambda reads, with only the message whose ledger write failed"
    );
    assert_eq!(
        m.store.dead_letters(10).await.unwrap().len(),
        1,
        "the malformed one went to the DLQ meanwhile"
    );
}

#[tokio::test]
async fn a_message_the_dlq_cannot_take_is_reported_failed_not_dropped() {
    let Some(m) = moto("dlq unavailable").await else { return };
    m.store.send_raw("garbage").await.unwrap();
    let got = m.store.receive(10, Duration::from_secs(60)).await.unwrap();
    let mut names = m.names.clone();
    names.dead_letter_queue_url = format!("{}-missing", m.names.dead_letter_queue_url);
    let broken = Arc::new(AwsStore::new(&m.clients, names));
    let response = worker(broken).handle_batch(event_of(&got)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "m-0");
}

#[test]
fn the_fixture_batch_parses_as_an_sqs_event() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/aws/sqs-import-batch.json"
    ))
    .unwrap();
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(event.records.len(), 2);
    let empty = aws_lambda_events::event::sqs::SqsBatchResponse::default();
    assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"batchItemFailures":[]}"#);
}
