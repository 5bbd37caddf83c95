//! Search and captures against the Contact Center simulator: listing by end time across
//! cursor pages, one task with every CAR node, captures in batches of ten with empty
//! answers for tasks not ready or unknown.

use std::sync::Arc;

use chrono::{Duration, Utc};
use wfo_domain::Secret;
use wfo_http::RetryPolicy;
use wfo_http::limit::RateLimit;
use wfo_sim_wxcc::{
    CONFIG_READ, DEFAULT_CLIENT_ID, ScenarioAgent, ScenarioIds, WxccSim, WxccSimConfig, generate_tasks,
};
use wfo_webex_cc2::CcClient;
use wfo_webex_cc2::search::{MAX_CAPTURE_IDS, list_windows};

fn agents() -> Vec<ScenarioAgent> {
    (0..4)
        .map(|i| ScenarioAgent {
            ci_user_id: format!("1a2b3c4d-0000-4000-8000-00000000000{i}"),
            name: format!("Agent {i}"),
        })
        .collect()
}

#[tokio::test]
async fn tasks_are_listed_by_end_time_across_pages_and_one_task_comes_with_every_node() {
    let sim = WxccSim::start(WxccSimConfig::default()).await.unwrap();
    let plane = sim.tasks().unwrap();
    let now = Utc::now();
    plane.insert_history(generate_tasks(
        600,
        (now - Duration::days(2), now - Duration::hours(1)),
        &agents(),
        7,
    ));
    let token = Secret::new(
        sim.issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
            .unwrap()
            .access_token,
    );
    let client = CcClient::with_limit(
        reqwest::Client::new(),
        url::Url::parse(sim.base_url()).unwrap(),
        &sim.org_id(),
        RetryPolicy::fast(),
        Arc::new(RateLimit::new("search-test", 300)),
    );
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    for (from, to) in list_windows(now - Duration::days(3), now, now) {
        let mut cursor: Option<String> = None;
        loop {
            let page = client
                .list_tasks_page(&token, from, to, cursor.as_deref())
                .await
                .unwrap();
            pages += 1;
            assert!(page.unreadable.is_empty());
            for t in &page.tasks {
                assert!(t.ended >= from && t.ended < to, "ended within the window");
                assert!(seen.insert(t.id.clone()), "a task is listed once");
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    let ended = plane.tasks().iter().filter(|t| t.ended_time <= now).count();
    assert_eq!(seen.len(), ended, "every ended task listed");
    assert!(pages >= 3, "250 a page: {pages} pages");

    let one = plane.tasks()[0].clone();
    let task = client
        .task(&token, &one.id, now - Duration::days(3), now)
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(task["id"], one.id.as_str());
    let nodes = task["activities"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), one.activities.len(), "every CAR node");
    assert!(
        client
            .task(&token, "no-such-task", now - Duration::days(3), now)
            .await
            .unwrap()
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn captures_come_ten_tasks_a_call_and_a_task_not_ready_answers_empty() {
    let sim = WxccSim::start(WxccSimConfig::default()).await.unwrap();
    let plane = sim.tasks().unwrap();
    plane.set_capture_delay(std::time::Duration::from_secs(3600));
    let task = plane
        .play(
            "consult-transfer",
            Utc::now() - Duration::minutes(30),
            &agents(),
            &ScenarioIds::default(),
        )
        .unwrap();
    let token = Secret::new(
        sim.issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
            .unwrap()
            .access_token,
    );
    let client = CcClient::with_limit(
        reqwest::Client::new(),
        url::Url::parse(sim.base_url()).unwrap(),
        &sim.org_id(),
        RetryPolicy::fast(),
        Arc::new(RateLimit::new("captures-test", 300)),
    );
    let not_yet = client.captures(&token, &[&task.id, "unknown-task"], 30).await.unwrap();
    assert_eq!(not_yet.len(), 2);
    assert!(
        not_yet
            .iter()
            .all(|d| d["recording"].as_array().is_some_and(Vec::is_empty)),
        "{not_yet:?}"
    );
    sim.advance_clock(std::time::Duration::from_secs(2 * 3600));
    let ready = client.captures(&token, &[&task.id], 30).await.unwrap();
    let recordings = ready[0]["recording"].as_array().unwrap();
    assert!(recordings.len() >= 2, "main and consult recordings: {recordings:?}");
    let eleven: Vec<String> = (0..=MAX_CAPTURE_IDS).map(|i| format!("t{i}")).collect();
    let ids: Vec<&str> = eleven.iter().map(String::as_str).collect();
    assert!(
        client.captures(&token, &ids, 30).await.is_err(),
        "more than ten ids is refused before sending"
    );
    sim.shutdown().await;
}
