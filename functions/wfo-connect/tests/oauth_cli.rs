//! `wfo-connect status` and `backfill` around a long pause: re-authorization required
//! past the 60-day window, the poller healing 60 days after re-authorization, and the
//! exact backfill command for the rest. Against both simulators on 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use wfo_domain::Secret;
use wfo_harness::{CONNECTOR_ID, Harness, HarnessConfig};
use wfo_pipeline::ports::{KvStore, Ledger, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::reconcile::{CURSOR_KEY, Cursor};

mod common;
use common::run;

async fn status(state: &Path) -> String {
    let out = run(&["status", CONNECTOR_ID], state).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_70_day_pause_the_poller_heals_60_days_and_status_names_the_backfill_that_imports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut cfg = HarnessConfig::new(state.clone());
    cfg.webhook = false;
    let h = Harness::start(cfg).await.unwrap();
    let now = Utc::now();
    let days = chrono::Duration::days;

    // The refresh was refused 70 days ago; the poller last saw a recording then.
    let refused = now - days(70);
    let stale = TokenSet {
        access_token: Secret::new("stale-access-token-of-70-days-ago"),
        access_expires_at: refused,
        refresh_token: Some(Secret::new("stale-refresh-token-of-70-days-ago")),
        refresh_expires_at: None,
        scopes: vec![],
        obtained_at: refused,
    };
    let record = TokenRecord {
        tokens: Some(stale),
        reauth_required: Some((refused, "invalid_grant: revoked".into())),
        version: 0,
    };
    h.store.put_tokens(CONNECTOR_ID, &record, 0).await.unwrap();
    let cursor = Cursor {
        newest_seen: refused,
        last_run_at: refused,
        last_window: (refused - days(1), refused),
        last_listed: 3,
        last_new: 0,
    };
    h.store
        .put_value(CONNECTOR_ID, CURSOR_KEY, &serde_json::to_value(&cursor).unwrap())
        .await
        .unwrap();

    let text = status(&state).await;
    assert!(
        text.contains("REAUTHORIZATION REQUIRED") && text.contains("invalid_grant: revoked"),
        "{text}"
    );
    assert!(text.contains("the 60-day window ended"), "{text}");

    // Calls made meanwhile: one beyond the window, three within it (two 30-day windows).
    let at = |d: i64, name: &str| h.instantiate(name, now - days(d)).unwrap();
    let too_old = at(65, "basic-inbound");
    let healed = vec![
        at(45, "blind-transfer"),
        at(20, "hold-resume"),
        h.instantiate("basic-outbound", now - chrono::Duration::hours(1))
            .unwrap(),
    ];
    h.webex
        .publish_all(&[vec![too_old.clone()], healed.clone()].concat())
        .await;
    h.webex.reset_request_counts();

    // The operator re-authorizes: the poller imports the last 60 days by itself.
    h.authorize().await.unwrap();
    let healed_ids: Vec<String> = healed.iter().flat_map(|c| c.recording_ids()).collect();
    assert!(h.wait_settled(&healed_ids, Duration::from_secs(30)).await.is_empty());
    for c in &healed {
        assert!(h.check(c).is_empty(), "{}: {:?}", c.scenario, h.check(c));
    }
    let lists = h
        .webex
        .request_counts()
        .iter()
        .filter(|(r, _)| r.contains("convergedRecordings") && !r.contains("{id}"))
        .map(|(_, n)| *n)
        .sum::<u64>();
    assert!(
        lists >= 2,
        "60 days are listed in windows of at most 30 days: {:?}",
        h.webex.request_counts()
    );
    let old_id = too_old.recording_ids()[0].clone();
    assert!(
        h.store.get(CONNECTOR_ID, &old_id).await.unwrap().is_none(),
        "never read further back than 60 days"
    );

    // Status says what was missed and how to get it.
    let text = status(&state).await;
    assert!(text.contains("token:    ok"), "{text}");
    let missed = text
        .lines()
        .find(|l| l.contains("MISSED:"))
        .unwrap_or_else(|| panic!("{text}"));
    let command = missed.split('`').nth(1).unwrap_or_else(|| panic!("{missed}"));
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&args[..2], ["wfo-connect", "backfill"], "{command}");
    assert_eq!(args[2], CONNECTOR_ID);
    let from = chrono::DateTime::parse_from_rfc3339(args[4])
        .unwrap()
        .with_timezone(&Utc);
    let to = chrono::DateTime::parse_from_rfc3339(args[6])
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        from <= refused - chrono::Duration::hours(1) && (to - (now - days(60))).num_seconds().abs() < 60,
        "{command}"
    );

    // Running exactly that imports the rest, and status no longer mentions it.
    let out = run(&args[1..], &state).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        h.wait_settled(std::slice::from_ref(&old_id), Duration::from_secs(30))
            .await
            .is_empty()
    );
    assert!(h.check(&too_old).is_empty(), "{:?}", h.check(&too_old));
    let text = status(&state).await;
    assert!(!text.contains("MISSED"), "{text}");
    h.shutdown().await;
}
