//! The whole life of a connector's access to its source (issue 3, "done when"): added,
//! authorized through its Authorization URL, importing, tokens rotated by the refresh
//! job, the refresh refused (`invalid_grant`), paused without losing anything while
//! webhooks keep arriving, re-authorized by an operator, and healed with every call in
//! WFO exactly once.
//!
//! One test in this file: it watches the process-wide log and metric output.

mod common;

use std::time::Duration;

use chrono::Utc;
use wfo_domain::ledger::{Health, Stage};
use wfo_harness::{CLIENT_ID, CLIENT_SECRET, CONNECTOR_ID, Harness, HarnessConfig};
use wfo_http::RetryPolicy;
use wfo_pipeline::auth;
use wfo_pipeline::health::access_lines;
use wfo_pipeline::metrics::REAUTHORIZATION_REQUIRED;
use wfo_pipeline::ports::{ConnectorStore, Ledger, TokenStore};
use wfo_pipeline::refresh_job::{self, TokenResult};
use wfo_sim_webex::{DeliveryOutcome, ScenarioInstance, TokenPolicy};

fn calls(h: &Harness, names: &[&str], minutes_ago: i64) -> Vec<ScenarioInstance> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            h.instantiate(n, Utc::now() - chrono::Duration::minutes(minutes_ago - 3 * i as i64))
                .unwrap()
        })
        .collect()
}

fn ids(calls: &[ScenarioInstance]) -> Vec<String> {
    calls.iter().flat_map(|c| c.recording_ids()).collect()
}

async fn status(h: &Harness) -> String {
    let c = h.store.get_connector(CONNECTOR_ID).await.unwrap().unwrap();
    access_lines(h.store.as_ref(), &c, Utc::now()).await.unwrap().join("\n")
}

async fn refresh_run(h: &Harness) -> TokenResult {
    let http = auth::token_http_client(Duration::from_secs(10)).unwrap();
    let report = refresh_job::run(
        &common::connections(h.store.clone(), &http, &RetryPolicy::fast()),
        &h.runtime.public_url,
        &RetryPolicy::fast(),
    )
    .await
    .unwrap();
    report
        .connectors
        .into_iter()
        .find(|c| c.connector_id == CONNECTOR_ID)
        .unwrap()
        .tokens
}

/// Does the simulated identity service still accept this refresh token?
async fn refresh_token_accepted(h: &Harness, refresh: &str) -> bool {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/access_token", h.webex.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .unwrap();
    resp.status().is_success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connector_lives_through_authorization_rotation_refusal_pause_and_reauthorization_without_loss_or_duplicates()
{
    let logs = common::capture_logs();
    common::metric_lines();
    let dir = tempfile::tempdir().unwrap();

    // Added (the harness stores the connector), not authorized yet.
    let h = Harness::start(HarnessConfig::new(dir.path().join("state")))
        .await
        .unwrap();
    assert!(status(&h).await.contains("not authorized yet"), "{}", status(&h).await);
    // Access tokens live 30 minutes: every refresh run finds them due.
    h.webex.set_token_policy(TokenPolicy {
        access_lifetime: Duration::from_secs(1800),
        ..TokenPolicy::default()
    });

    // Authorized through the Authorization URL: runner → Webex consent → callback.
    let hops = h.authorize().await.unwrap();
    assert_eq!(hops.len(), 3, "{hops:?}");
    assert!(
        hops[1].starts_with(&format!("{}/v1/authorize?", h.webex.base_url())),
        "{hops:?}"
    );
    assert!(
        hops[2].starts_with(&format!("{}/oauth/callback?code=", h.runtime.public_url)),
        "{hops:?}"
    );
    assert!(
        h.wait_for_webhook(Duration::from_secs(10)).await,
        "webhook registered after authorization"
    );
    assert!(status(&h).await.contains("token:    ok"));

    // Imports run.
    let first = calls(&h, &["basic-inbound", "consult-transfer"], 180);
    h.webex.publish_all(&first).await;
    assert!(h.wait_settled(&ids(&first), Duration::from_secs(20)).await.is_empty());

    // The refresh job rotates the tokens; the old refresh token is dead at the source.
    let before = h.store.get_tokens(CONNECTOR_ID).await.unwrap().tokens.unwrap();
    assert!(matches!(
        refresh_run(&h).await,
        TokenResult::Refreshed { attempts: 1, .. }
    ));
    let after = h.store.get_tokens(CONNECTOR_ID).await.unwrap().tokens.unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_ne!(after.refresh_token, before.refresh_token);
    assert!(after.obtained_at > before.obtained_at);
    assert!(
        !refresh_token_accepted(&h, before.refresh_token.as_ref().unwrap().expose()).await,
        "rotated away"
    );

    // The source admin's password changes: every token of the integration is revoked,
    // and the next refresh run is refused with invalid_grant.
    assert!(h.webex.revoke_integration(CLIENT_ID) > 0);
    let refused_at = Utc::now();
    assert!(matches!(refresh_run(&h).await, TokenResult::NeedsOperator(e) if e.contains("invalid_grant")));
    let record = h.store.get_tokens(CONNECTOR_ID).await.unwrap();
    let (since, reason) = record.reauth_required.clone().expect("re-authorization required");
    assert!(
        since >= refused_at && reason.contains("invalid_grant"),
        "{since} {reason}"
    );
    let text = status(&h).await;
    assert!(
        text.contains("REAUTHORIZATION REQUIRED") && text.contains("invalid_grant"),
        "{text}"
    );
    assert!(
        text.contains(&format!("wfo-connect connector auth-url {CONNECTOR_ID}")),
        "{text}"
    );

    // Meanwhile calls keep coming. Webhook deliveries are accepted and recorded; the
    // events of the last calls never arrive (only the poller can find those).
    let paused = calls(&h, &["blind-transfer", "conference", "hold-resume"], 120);
    h.webex.publish_all(&paused).await;
    let unheard = calls(&h, &["call-queue", "park-retrieve-same-user"], 90);
    h.webex.hold_deliveries();
    h.webex.publish_all(&unheard).await;
    let paused_ids = ids(&paused);
    for d in h
        .webex
        .deliveries()
        .iter()
        .filter(|d| paused_ids.contains(&d.recording_id))
    {
        assert!(matches!(d.outcome, DeliveryOutcome::Response { status: 200 }), "{d:?}");
    }
    let recorded = common::eventually(Duration::from_secs(5), || async {
        let mut all = Vec::new();
        for id in &paused_ids {
            all.push(h.store.get(CONNECTOR_ID, id).await.unwrap()?);
        }
        Some(all)
    })
    .await
    .expect("every delivered call is in the ledger");
    // Watch a while: nothing imports, nothing dies, no attempt is counted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for item in recorded.iter().map(|i| &i.item_id) {
        let item = h.store.get(CONNECTOR_ID, item).await.unwrap().unwrap();
        assert_eq!(item.stage, Stage::Discovered, "{item:?}");
        assert_ne!(item.health, Health::Dead, "{item:?}");
        // (A step caught in progress has counted its attempt; its wait gives it back.)
        if !item.in_step {
            assert_eq!(item.attempts, 0, "{item:?}");
        }
    }
    for id in ids(&unheard) {
        assert!(
            h.store.get(CONNECTOR_ID, &id).await.unwrap().is_none(),
            "not heard of yet"
        );
    }
    assert!(h.received(&paused_ids).is_empty());
    assert!(status(&h).await.contains("REAUTHORIZATION REQUIRED"));

    // The operator re-authorizes through the Authorization URL; the connector resumes
    // by itself and the poller finds what no webhook announced.
    h.authorize().await.unwrap();
    let backlog: Vec<String> = paused_ids.iter().cloned().chain(ids(&unheard)).collect();
    let pending = h.wait_settled(&backlog, Duration::from_secs(30)).await;
    assert!(pending.is_empty(), "not imported: {pending:?}");
    for call in first.iter().chain(&paused).chain(&unheard) {
        let problems = h.check(call);
        assert!(problems.is_empty(), "{}: {problems:#?}", call.scenario);
    }
    let (dup_ext, dup_agents) = common::wfo_duplicates(&h).await;
    assert!(
        dup_ext.is_empty() && dup_agents.is_empty(),
        "{dup_ext:?} {dup_agents:?}"
    );
    let all_ids: Vec<String> = ids(&first).into_iter().chain(backlog).collect();
    for id in &all_ids {
        let item = h.store.get(CONNECTOR_ID, id).await.unwrap().unwrap();
        assert_eq!((item.stage, item.health), (Stage::Done, Health::Ok), "{item:?}");
    }
    let record = h.store.get_tokens(CONNECTOR_ID).await.unwrap();
    assert!(record.reauth_required.is_none());
    assert!(status(&h).await.contains("token:    ok"));

    // The refusal was said once: one error line, one metric data point.
    let text = logs.text();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" ERROR ") && l.contains("reauthorization required"))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(CONNECTOR_ID) && errors[0].contains("invalid_grant"),
        "{}",
        errors[0]
    );
    assert!(!text.lines().any(|l| l.contains("import dead")), "no item died");
    let metrics = common::metrics_of(CONNECTOR_ID, REAUTHORIZATION_REQUIRED);
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    h.shutdown().await;
}
