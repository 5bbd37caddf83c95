//! The auxiliary-data test hooks: entries served as given after the items, and a page
//! that keeps failing until cleared.

use serde_json::{Value, json};
use wfo_sim_wxcc1::{AuxItem, AuxResource, RunningWxcc1Sim, Wxcc1Sim, Wxcc1SimConfig};

async fn page(sim: &RunningWxcc1Sim, kind: &str, page: usize, size: usize) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!(
            "{}/auxiliary-data/resources/{kind}?page={page}&pageSize={size}",
            sim.base_url()
        ))
        .header("From", sim.credentials().username)
        .header("Authorization", sim.authorization())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn raw_entries_follow_the_items_and_are_paged_with_them() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    sim.upsert_aux(AuxResource::User, AuxItem::named("b", "B", true));
    sim.upsert_aux(AuxResource::User, AuxItem::named("a", "A", true));
    sim.push_raw_aux(AuxResource::User, json!({"attributes": {"name__s": "no id"}}));
    sim.push_raw_aux(AuxResource::User, json!({"id": "z", "attributes": "text"}));
    let (_, first) = page(&sim, "user", 0, 2).await;
    let ids: Vec<&Value> = first["auxiliaryDataList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&json!("a"), &json!("b")], "items first, by id");
    let (_, second) = page(&sim, "user", 1, 2).await;
    assert_eq!(
        second["auxiliaryDataList"],
        json!([{"attributes": {"name__s": "no id"}}, {"id": "z", "attributes": "text"}]),
        "then the raw entries exactly as given"
    );
    let (_, teams) = page(&sim, "team", 0, 2).await;
    assert_eq!(teams["auxiliaryDataList"], json!([]), "raw entries stay in their list");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_page_keeps_failing_until_cleared_and_other_pages_answer() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    for id in ["t1", "t2", "t3"] {
        sim.upsert_aux(AuxResource::Team, AuxItem::named(id, id, true));
    }
    sim.fail_aux_page(AuxResource::Team, 1, 503);
    for _ in 0..3 {
        assert_eq!(page(&sim, "team", 1, 2).await.0, 503);
    }
    assert_eq!(page(&sim, "team", 0, 2).await.0, 200);
    assert_eq!(page(&sim, "user", 1, 2).await.0, 200, "other lists are not affected");
    sim.clear_aux_page_faults();
    let (status, body) = page(&sim, "team", 1, 2).await;
    assert_eq!((status, body["auxiliaryDataList"][0]["id"].clone()), (200, json!("t3")));
    sim.shutdown().await;
}
