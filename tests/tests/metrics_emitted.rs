//! The metrics the import emits (`wfo_pipeline::metrics`), counted against what the
//! ledger recorded: once per contact imported and per audio upload, however many
//! attempts the item took; and the monitor's gauges over the same store. One test per
//! file: the metric lines are collected process-wide.

mod common;

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use wfo_domain::ledger::{Discovery, Health, Stage};
use wfo_harness::{Harness, HarnessConfig};
use wfo_pipeline::import::{ImportSettings, Importer, Outcome};
use wfo_pipeline::metrics;
use wfo_pipeline::monitor::{self, MonitorSettings};
use wfo_pipeline::ports::{Ledger, Store};

fn lines_of(connector: &str, item: Option<&str>, metric: &str) -> Vec<Value> {
    common::metrics_of(connector, metric)
        .into_iter()
        .filter(|v| item.is_none_or(|i| v["Item"] == i))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_and_audio_are_counted_once_across_a_retry_and_the_gauges_follow_the_ledger() {
    common::init_tracing();
    let _ = common::metric_lines();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = HarnessConfig::new(dir.path().join("state"));
    cfg.webhook = false;
    cfg.poller_enabled = false;
    let h = Harness::start(cfg).await.unwrap();
    h.authorize().await.unwrap();
    let cid = h.connector.id.clone();
    let store = common::private_store(&h, &dir.path().join("private")).await;
    let dyn_store: std::sync::Arc<dyn Store> = store.clone();
    let settings = ImportSettings {
        lease: Duration::from_secs(60),
        ..ImportSettings::fast()
    };
    let connections = wfo_pipeline::connections::Connections::new(
        dyn_store.clone(),
        wfo_sources::Sources::shared(),
        settings.http_policy.clone(),
    )
    .unwrap();
    let worker = Importer::new(connections, settings);

    // A call that ended about half an hour ago, whose audio cannot be downloaded at first.
    let call = h
        .instantiate("park-retrieve-same-user", Utc::now() - chrono::Duration::minutes(30))
        .unwrap();
    let id = call.recording_ids()[0].clone();
    h.webex.publish(&call).await;
    store.discover(&cid, &id, Discovery::Webhook, Utc::now()).await.unwrap();
    h.webex.set_link_expired(true);
    assert!(matches!(worker.process(&cid, &id).await, Outcome::Later(_)));
    let item = store.get(&cid, &id).await.unwrap().unwrap();
    assert_eq!((item.stage, item.health), (Stage::ContactsImported, Health::Failed));
    let contacts = item.contacts.len();
    assert!(contacts >= 2, "a parked call is several contacts");
    assert_eq!(lines_of(&cid, Some(&id), metrics::CONTACTS_IMPORTED).len(), contacts);
    assert!(lines_of(&cid, Some(&id), metrics::AUDIO_BYTES_UPLOADED).is_empty());
    let last = monitor::last_import(store.as_ref(), &cid).await.unwrap();
    assert!(
        last.is_some_and(|t| Utc::now() - t < chrono::Duration::minutes(1)),
        "{last:?}"
    );

    // The gauges see the failed item.
    monitor::run(store.as_ref(), &MonitorSettings::default(), Utc::now())
        .await
        .unwrap();
    let gauge = lines_of(&cid, None, metrics::ITEMS_FAILED);
    assert_eq!(
        gauge.last().and_then(|v| v["ItemsFailed"].as_f64()),
        Some(1.0),
        "{gauge:?}"
    );

    // The retry uploads the audio; no contact is counted twice.
    h.webex.set_link_expired(false);
    assert_eq!(worker.process(&cid, &id).await, Outcome::Done);
    let item = store.get(&cid, &id).await.unwrap().unwrap();
    let imported = lines_of(&cid, Some(&id), metrics::CONTACTS_IMPORTED);
    assert_eq!(imported.len(), contacts, "once per contact, not per attempt");
    for line in &imported {
        // Ended 30 minutes ago at most (less the call's own length); no negative value.
        let latency = line[metrics::IMPORT_LATENCY].as_f64().unwrap();
        assert!((0.0..=31.0 * 60.0).contains(&latency), "{latency}");
    }
    let uploaded: Vec<f64> = lines_of(&cid, Some(&id), metrics::AUDIO_BYTES_UPLOADED)
        .iter()
        .map(|v| v[metrics::AUDIO_BYTES_UPLOADED].as_f64().unwrap())
        .collect();
    let mut recorded: Vec<f64> = item
        .contacts
        .iter()
        .filter_map(|c| c.audio_bytes)
        .map(|b| b as f64)
        .collect();
    let mut sent = uploaded.clone();
    recorded.sort_by(f64::total_cmp);
    sent.sort_by(f64::total_cmp);
    assert!(!recorded.is_empty());
    assert_eq!(sent, recorded, "one line per upload, with the bytes WFO stored");

    monitor::run(store.as_ref(), &MonitorSettings::default(), Utc::now())
        .await
        .unwrap();
    let gauge = lines_of(&cid, None, metrics::ITEMS_FAILED);
    assert_eq!(gauge.last().and_then(|v| v["ItemsFailed"].as_f64()), Some(0.0));
    h.shutdown().await;
}
