//! The port test suite: behaviour every store adapter must show. The embedded store runs
//! it in its tests; the AWS adapters run the same functions against a local emulator.
//!
//! Each function panics with a message naming the broken rule (these are test helpers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wfo_domain::config::ConnectorConfig;
use wfo_domain::ledger::{Discovery, Health, RetrySchedule, Stage};

use crate::store::*;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000 + secs, 0).unwrap()
}

/// Discover is an idempotent conditional insert; puts are optimistic; leases exclude.
pub async fn ledger_rules(store: &dyn Store) {
    assert_eq!(
        store.discover("c1", "r1", Discovery::Webhook, t(0)).await.unwrap(),
        Discovered::New
    );
    assert_eq!(
        store.discover("c1", "r1", Discovery::Poller, t(1)).await.unwrap(),
        Discovered::Known,
        "second discover must be a no-op"
    );
    let item = store
        .get("c1", "r1")
        .await
        .unwrap()
        .expect("discovered item is readable");
    assert_eq!(item.discovered_by, Discovery::Webhook, "the first discovery wins");
    assert_eq!(item.stage, Stage::Discovered);

    let mut a = item.clone();
    a.advance(Stage::MetadataFetched, t(2));
    let v = store.put(&a).await.unwrap();
    assert!(v > item.version);
    let mut stale = item.clone();
    stale.fail("x", &RetrySchedule::default(), None, t(3));
    assert!(
        matches!(store.put(&stale).await, Err(StoreError::Conflict(_))),
        "a stale write must conflict"
    );
    let now = store.get("c1", "r1").await.unwrap().unwrap();
    assert_eq!(now.stage, Stage::MetadataFetched);

    assert!(
        store
            .lease("c1", "r1", "w1", Duration::from_secs(60), t(10))
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease("c1", "r1", "w2", Duration::from_secs(60), t(11))
            .await
            .unwrap(),
        "a held lease excludes others"
    );
    assert!(
        store
            .lease("c1", "r1", "w2", Duration::from_secs(60), t(100))
            .await
            .unwrap(),
        "an expired lease can be taken"
    );
    store.release("c1", "r1", "w2").await.unwrap();
    assert!(
        store
            .lease("c1", "r1", "w3", Duration::from_secs(60), t(101))
            .await
            .unwrap(),
        "a released lease can be taken"
    );
    store.release("c1", "r1", "w3").await.unwrap();
    assert!(
        !store
            .lease("c1", "missing", "w1", Duration::from_secs(60), t(0))
            .await
            .unwrap()
    );

    // lease_get: the lease and the stored item (with its version) at once; nothing when
    // another holds it or there is no such item.
    let leased = store
        .lease_get("c1", "r1", "w4", Duration::from_secs(60), t(200))
        .await
        .unwrap()
        .expect("a free item is leased and returned");
    assert_eq!(leased.stage, Stage::MetadataFetched);
    assert_eq!(leased.version, v, "the stored version comes with it");
    assert!(
        store
            .lease_get("c1", "r1", "w5", Duration::from_secs(60), t(201))
            .await
            .unwrap()
            .is_none(),
        "a held lease excludes others"
    );
    assert!(
        store
            .lease_get("c1", "missing", "w4", Duration::from_secs(60), t(201))
            .await
            .unwrap()
            .is_none()
    );
    // A finished item's put ends its lease: another can take it at once (a revive).
    let mut finished = leased.clone();
    finished.advance(Stage::Done, t(202));
    store.put(&finished).await.unwrap();
    assert!(
        store
            .lease("c1", "r1", "w6", Duration::from_secs(60), t(203))
            .await
            .unwrap(),
        "a done item's lease ended with its put"
    );
    store.release("c1", "r1", "w6").await.unwrap();
}

/// `due` returns unfinished, unleased items whose time has come; done and dead are never due.
/// The ids of `connector`'s items that `due` returns at `now`.
async fn due_ids(store: &dyn Store, now: DateTime<Utc>, connector: &str) -> Vec<String> {
    store
        .due(now, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.connector_id == connector)
        .map(|i| i.item_id)
        .collect()
}

pub async fn ledger_due(store: &dyn Store) {
    for id in ["d1", "d2", "d3", "d4"] {
        store.discover("c2", id, Discovery::Poller, t(0)).await.unwrap();
    }
    // A new item is enqueued by whoever discovered it; it is due for the sweeper only
    // once the pickup grace has passed (else every discovery is sent twice).
    let due_at_once: Vec<String> = due_ids(store, t(1), "c2").await;
    assert!(
        due_at_once.is_empty(),
        "new items are not due before the pickup grace: {due_at_once:?}"
    );
    assert_eq!(
        store.get("c2", "d1").await.unwrap().unwrap().next_attempt_at,
        Some(t(0) + wfo_domain::ledger::PICKUP_GRACE)
    );
    let mut done = store.get("c2", "d2").await.unwrap().unwrap();
    done.advance(Stage::Done, t(1));
    store.put(&done).await.unwrap();
    let mut dead = store.get("c2", "d3").await.unwrap().unwrap();
    dead.kill("bad", t(1));
    store.put(&dead).await.unwrap();
    let mut later = store.get("c2", "d4").await.unwrap().unwrap();
    later.fail(
        "flaky",
        &RetrySchedule::default(),
        Some(chrono::Duration::hours(1)),
        t(1),
    );
    store.put(&later).await.unwrap();
    let due: Vec<String> = due_ids(store, t(120), "c2").await;
    assert_eq!(
        due,
        vec!["d1".to_owned()],
        "only the open item whose time has come is due"
    );
    let due_later: Vec<String> = due_ids(store, t(7200), "c2").await;
    assert_eq!(due_later.len(), 2);
    assert!(
        store
            .lease("c2", "d1", "w", Duration::from_secs(3600), t(7200))
            .await
            .unwrap()
    );
    let due_leased: Vec<String> = due_ids(store, t(7201), "c2").await;
    assert_eq!(due_leased, vec!["d4".to_owned()], "a leased item is not due");
    let counts = store.counts("c2").await.unwrap();
    assert_eq!(counts.total, 4);
    assert_eq!(counts.by_state.get("done"), Some(&1));
    assert_eq!(counts.by_state.get("discovered/dead"), Some(&1));
    let open = store.list("c2", true, 10).await.unwrap();
    assert_eq!(open.len(), 2);
    let d = store.get("c2", "d3").await.unwrap().unwrap();
    assert_eq!(d.health, Health::Dead);
}

/// An item too large for DynamoDB is refused by every store alike, as a permanent
/// [`StoreError::Invalid`], and the stored item is left as it was.
pub async fn ledger_item_size(store: &dyn Store) {
    store.discover("c-size", "big", Discovery::Webhook, t(0)).await.unwrap();
    let mut item = store.get("c-size", "big").await.unwrap().unwrap();
    let before = item.clone();
    item.last_error = Some("x".repeat(MAX_ITEM_BODY + 1));
    let err = store.put(&item).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.is_retryable(), "permanent: the same write can never succeed");
    assert_eq!(store.get("c-size", "big").await.unwrap().unwrap(), before, "unchanged");
    // Just under the limit is accepted.
    item.last_error = Some("x".repeat(MAX_ITEM_BODY - 4096));
    store.put(&item).await.unwrap();
}

/// Messages are hidden while received, redelivered when not acked, and never dropped.
pub async fn queue_rules(store: &dyn Store) {
    queue_rules_with(store, Duration::from_millis(300)).await;
}

/// [`queue_rules`] with a visibility of `hide`, for queues that count it in whole
/// seconds (SQS): the message is received hidden for `hide` and looked for again after
/// one and a half times that.
pub async fn queue_rules_with(store: &dyn Store, hide: Duration) {
    let base = store.depth().await.unwrap();
    let msg = WorkMessage {
        connector_id: "q".into(),
        item_id: "1".into(),
    };
    store.send(&msg, Duration::ZERO).await.unwrap();
    store
        .send(
            &WorkMessage {
                connector_id: "q".into(),
                item_id: "2".into(),
            },
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert_eq!(store.depth().await.unwrap(), base + 2);
    let got = store.receive(10, hide).await.unwrap();
    let mine: Vec<_> = got.iter().filter(|r| r.body.contains("\"q\"")).collect();
    assert_eq!(mine.len(), 1, "a delayed message is not visible yet");
    let first: WorkMessage = serde_json::from_str(&mine[0].body).unwrap();
    assert_eq!(first, msg);
    assert!(
        store
            .receive(10, hide)
            .await
            .unwrap()
            .iter()
            .all(|r| !r.body.contains("\"q\"")),
        "a received message is hidden"
    );
    tokio::time::sleep(hide * 3 / 2).await;
    let again = store.receive(10, Duration::from_secs(30)).await.unwrap();
    let again: Vec<_> = again.into_iter().filter(|r| r.body.contains("\"q\"")).collect();
    assert_eq!(again.len(), 1, "an unacked message comes back");
    assert_eq!(again[0].receive_count, 2);
    store
        .dead_letter(&again[0].receipt, "malformed for the test")
        .await
        .unwrap();
    let dead = store.dead_letters(100).await.unwrap();
    assert!(
        dead.iter()
            .any(|d| d.body.contains("\"q\"") && d.dead_reason.as_deref() == Some("malformed for the test")),
        "dead letters are kept and visible"
    );
    assert_eq!(
        store.depth().await.unwrap(),
        base + 1,
        "only the delayed message is still queued"
    );
}

/// A dead letter keeps its id and time, goes back to the work queue once on
/// `redrive` (a second `redrive` finds nothing), and `redrive_all` empties the dead letters.
pub async fn dead_letter_redrive(store: &dyn Store) {
    let mine = |r: &Received| r.body.contains("\"rd\"");
    let before = Utc::now() - chrono::Duration::minutes(5);
    for item in ["1", "2", "3"] {
        let msg = WorkMessage {
            connector_id: "rd".into(),
            item_id: item.into(),
        };
        store.send(&msg, Duration::ZERO).await.unwrap();
    }
    let got: Vec<_> = store
        .receive(50, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .filter(mine)
        .collect();
    assert_eq!(got.len(), 3);
    for r in &got {
        store.dead_letter(&r.receipt, "set aside by the test").await.unwrap();
    }
    let dead: Vec<_> = store
        .dead_letters(100)
        .await
        .unwrap()
        .into_iter()
        .filter(mine)
        .collect();
    assert_eq!(dead.len(), 3, "every set-aside message is a dead letter");
    for d in &dead {
        assert!(!d.message_id.is_empty(), "a dead letter has an id");
        let at = d.dead_at.expect("a dead letter says when it was set aside");
        assert!(at >= before && at <= Utc::now() + chrono::Duration::minutes(5), "{at}");
    }
    let first = &dead[0];
    assert!(
        store.redrive(&first.message_id).await.unwrap(),
        "a dead letter is redriven"
    );
    assert!(
        !store.redrive(&first.message_id).await.unwrap(),
        "a second redrive of the same dead letter finds nothing"
    );
    assert!(!store.redrive("no-such-message").await.unwrap());
    let back: Vec<_> = store
        .receive(50, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .filter(mine)
        .collect();
    assert_eq!(back.len(), 1, "exactly one copy is back on the work queue");
    assert_eq!(back[0].body, first.body);
    assert_eq!(
        back[0].receive_count, 1,
        "a redriven message starts its receive count again"
    );
    store.ack(&back[0].receipt).await.unwrap();
    let left: Vec<_> = store
        .dead_letters(100)
        .await
        .unwrap()
        .into_iter()
        .filter(mine)
        .collect();
    assert_eq!(left.len(), 2, "the redriven message left the dead letters");
    assert!(left.iter().all(|d| d.message_id != first.message_id));

    assert_eq!(store.redrive_all(100).await.unwrap(), 2);
    assert!(
        store.dead_letters(100).await.unwrap().iter().all(|d| !mine(d)),
        "redrive_all empties the dead letters"
    );
    let mut bodies: Vec<String> = store
        .receive(50, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .filter(mine)
        .map(|r| r.body)
        .collect();
    bodies.sort();
    let mut expected: Vec<String> = left.iter().map(|d| d.body.clone()).collect();
    expected.sort();
    assert_eq!(bodies, expected, "each dead letter is back once");
}

/// Acked messages are gone.
pub async fn queue_ack(store: &dyn Store) {
    store
        .send(
            &WorkMessage {
                connector_id: "ack".into(),
                item_id: "1".into(),
            },
            Duration::ZERO,
        )
        .await
        .unwrap();
    let got: Vec<_> = store
        .receive(50, Duration::from_millis(100))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.body.contains("\"ack\""))
        .collect();
    assert_eq!(got.len(), 1);
    store.ack(&got[0].receipt).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        store
            .receive(50, Duration::from_secs(1))
            .await
            .unwrap()
            .iter()
            .all(|r| !r.body.contains("\"ack\"")),
        "an acked message never returns"
    );
}

pub fn sample_config(id: &str) -> ConnectorConfig {
    ConnectorConfig::from_toml(&format!(
        r#"
id = "{id}"
acd_name = "Test"
kind = "webex-calling"
acd_server_id = 3
[source]
api_url = "http://127.0.0.1:1"
identity_url = "http://127.0.0.1:1"
client_id = "cid"
client_secret = "client-secret-value-123"
[wfo]
api_url = "http://127.0.0.1:1"
username = "api"
password = "wfo-password-value-456"
"#
    ))
    .expect("sample config is valid")
}

/// Connectors keep their generated secrets across updates; tokens are conditional.
pub async fn connectors_and_tokens(store: &dyn Store) {
    let first = store.put_connector(&sample_config("conf-a"), t(0)).await.unwrap();
    assert!(!first.secrets.webhook_secret.is_empty());
    let mut changed = sample_config("conf-a");
    changed.acd_name = "Renamed".into();
    let second = store.put_connector(&changed, t(5)).await.unwrap();
    assert_eq!(second.secrets, first.secrets, "updating a connector keeps its secrets");
    assert_eq!(
        store.get_connector("conf-a").await.unwrap().unwrap().config.acd_name,
        "Renamed"
    );
    assert!(store.get_connector("nope").await.unwrap().is_none());
    let rotated = store.rotate_webhook_secret("conf-a").await.unwrap();
    assert_ne!(
        rotated.secrets.webhook_secret, first.secrets.webhook_secret,
        "a rotation makes a new webhook secret"
    );
    assert_eq!(
        rotated.secrets.state_key, first.secrets.state_key,
        "and keeps the state key"
    );
    assert_eq!(rotated.config.acd_name, "Renamed");
    assert_eq!(
        store.get_connector("conf-a").await.unwrap().unwrap().secrets,
        rotated.secrets,
        "the rotated secret is what is stored"
    );
    assert!(matches!(
        store.rotate_webhook_secret("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .list_connectors()
            .await
            .unwrap()
            .iter()
            .any(|c| c.config.id == "conf-a")
    );

    let empty = store.get_tokens("conf-a").await.unwrap();
    assert!(empty.tokens.is_none());
    let set = TokenSet {
        access_token: "at-1".into(),
        access_expires_at: t(3600),
        refresh_token: Some("rt-1".into()),
        refresh_expires_at: Some(t(86400)),
        scopes: vec!["a".into()],
        obtained_at: t(0),
    };
    let rec = TokenRecord {
        tokens: Some(set.clone()),
        reauth_required: None,
        version: 0,
    };
    let v1 = store.put_tokens("conf-a", &rec, 0).await.unwrap();
    assert!(
        matches!(store.put_tokens("conf-a", &rec, 0).await, Err(StoreError::Conflict(_))),
        "a second first-write conflicts"
    );
    let v2 = store.put_tokens("conf-a", &rec, v1).await.unwrap();
    assert!(
        matches!(store.put_tokens("conf-a", &rec, v1).await, Err(StoreError::Conflict(_))),
        "a stale token write conflicts"
    );
    let back = store.get_tokens("conf-a").await.unwrap();
    assert_eq!((back.tokens, back.version), (Some(set), v2));

    store.put_oauth_state("nonce-1", "conf-a", t(600)).await.unwrap();
    assert_eq!(
        store.take_oauth_state("nonce-1", t(10)).await.unwrap().as_deref(),
        Some("conf-a")
    );
    assert_eq!(
        store.take_oauth_state("nonce-1", t(11)).await.unwrap(),
        None,
        "a state is single-use"
    );
    store.put_oauth_state("nonce-2", "conf-a", t(600)).await.unwrap();
    assert_eq!(
        store.take_oauth_state("nonce-2", t(601)).await.unwrap(),
        None,
        "an expired state is refused"
    );
}

/// Two refreshers racing on one version: exactly one wins.
pub async fn concurrent_token_writes(store: Arc<dyn Store>) {
    store.put_connector(&sample_config("conf-race"), t(0)).await.unwrap();
    let rec = TokenRecord {
        tokens: None,
        reauth_required: None,
        version: 0,
    };
    let v = store.put_tokens("conf-race", &rec, 0).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        let r = rec.clone();
        handles.push(tokio::spawn(async move {
            let mut r = r;
            r.reauth_required = Some((t(i), format!("writer {i}")));
            s.put_tokens("conf-race", &r, v).await.is_ok()
        }));
    }
    let mut wins = 0;
    for h in handles {
        if h.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one conditional write wins");
}

/// Values and locks.
pub async fn kv_and_locks(store: &dyn Store) {
    assert!(store.get_value("k", "cursor").await.unwrap().is_none());
    store
        .put_value("k", "cursor", &serde_json::json!({"a": 1}))
        .await
        .unwrap();
    store
        .put_value("k", "cursor", &serde_json::json!({"a": 2}))
        .await
        .unwrap();
    assert_eq!(
        store.get_value("k", "cursor").await.unwrap(),
        Some(serde_json::json!({"a": 2}))
    );
    assert!(store.try_lock("L", "o1", Duration::from_secs(60), t(0)).await.unwrap());
    assert!(
        !store.try_lock("L", "o2", Duration::from_secs(60), t(1)).await.unwrap(),
        "a held lock excludes others"
    );
    assert!(
        store.try_lock("L", "o1", Duration::from_secs(60), t(2)).await.unwrap(),
        "the holder may renew"
    );
    assert!(
        store
            .try_lock("L", "o2", Duration::from_secs(60), t(100))
            .await
            .unwrap(),
        "an expired lock can be taken"
    );
    store.unlock("L", "o1").await.unwrap();
    assert!(
        !store
            .try_lock("L", "o3", Duration::from_secs(60), t(101))
            .await
            .unwrap(),
        "only the holder can unlock"
    );
    store.unlock("L", "o2").await.unwrap();
    assert!(
        store
            .try_lock("L", "o3", Duration::from_secs(60), t(101))
            .await
            .unwrap()
    );
}

/// Quotas: a counter per (bucket, window) that never passes its limit; what would pass
/// it is refused whole and adds nothing; windows and buckets are independent.
pub async fn quota_rules(store: &dyn Store) {
    let ttl = Duration::from_secs(3600);
    // Windows far in the future, so no cleanup of expired counters touches them.
    let w1 = t(1_000_000);
    let w2 = t(1_000_060);
    assert_eq!(store.take_quota("q-rules", w1, 3, 5, ttl).await.unwrap(), Some(3));
    assert_eq!(
        store.take_quota("q-rules", w1, 2, 5, ttl).await.unwrap(),
        Some(5),
        "up to the limit"
    );
    assert_eq!(
        store.take_quota("q-rules", w1, 1, 5, ttl).await.unwrap(),
        None,
        "past the limit is refused"
    );
    assert_eq!(
        store.take_quota("q-rules", w1, 0, 5, ttl).await.unwrap(),
        Some(5),
        "a refusal added nothing; n = 0 reads the total"
    );
    assert_eq!(
        store.take_quota("q-rules", w1, 1, 6, ttl).await.unwrap(),
        Some(6),
        "the limit is the caller's: a higher one admits more"
    );
    assert_eq!(
        store.take_quota("q-rules", w2, 4, 5, ttl).await.unwrap(),
        Some(4),
        "another window is another counter"
    );
    assert_eq!(
        store.take_quota("q-other", w1, 5, 5, ttl).await.unwrap(),
        Some(5),
        "another bucket is another counter"
    );
    assert_eq!(
        store.take_quota("q-big", w1, 8, 7, ttl).await.unwrap(),
        None,
        "n over the limit is never taken"
    );
    assert_eq!(
        store.take_quota("q-big", w1, 7, 7, ttl).await.unwrap(),
        Some(7),
        "and the refused n > limit left nothing behind"
    );
    let w3 = t(1_000_120);
    assert_eq!(store.take_quota("q-rules", w3, 2, 3, ttl).await.unwrap(), Some(2));
    assert_eq!(
        store.take_quota("q-rules", w3, 2, 3, ttl).await.unwrap(),
        None,
        "a take that does not fit is refused whole, not in part"
    );
    assert_eq!(store.take_quota("q-rules", w3, 1, 3, ttl).await.unwrap(), Some(3));
}

/// Concurrent takers never pass the limit: 20 tasks taking 1 each with limit 7 get
/// exactly 7 `Some`, with the totals 1..=7 each handed out once.
pub async fn concurrent_quota_takers(store: Arc<dyn Store>) {
    let window = t(2_000_000);
    let mut handles = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.take_quota("q-race", window, 1, 7, Duration::from_secs(3600))
                .await
                .unwrap()
        }));
    }
    let mut totals = Vec::new();
    for h in handles {
        if let Some(total) = h.await.unwrap() {
            totals.push(total);
        }
    }
    totals.sort_unstable();
    assert_eq!(
        totals,
        (1..=7).collect::<Vec<u32>>(),
        "exactly the limit is taken, once each"
    );
    assert_eq!(
        store
            .take_quota("q-race", window, 0, 7, Duration::from_secs(3600))
            .await
            .unwrap(),
        Some(7)
    );
}
