//! Users, teams and queues over HTTP: paging meta, clamp, stable order, faults, broken
//! items, unknown fields, lookup by CI user id.

mod common;

use std::time::Instant;

use common::{get, sim, token, users_path};
use serde_json::Value;
use wfo_sim_wxcc::{ConfigKind, Corruption, RunningWxccSim, SimQueue, SimTeam, SimUser, SyntheticOrg};

async fn page(sim: &RunningWxccSim, token: &str, path: &str) -> Value {
    let resp = get(sim, token, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.expect("json")
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn pages_carry_meta_and_walk_the_whole_list_in_a_stable_order() {
    let sim = sim().await;
    let t = token(&sim);
    sim.generate_org(&SyntheticOrg {
        users: 250,
        teams: 4,
        queues: 3,
        seed: 7,
    });
    let base = users_path(&sim);

    let first = page(&sim, &t, &base).await;
    let meta = &first["meta"];
    assert_eq!(meta["orgid"], sim.org_id());
    assert_eq!((meta["page"].as_u64(), meta["pageSize"].as_u64()), (Some(0), Some(100)));
    assert_eq!(
        (meta["totalPages"].as_u64(), meta["totalRecords"].as_u64()),
        (Some(3), Some(250))
    );
    assert_eq!(meta["links"]["next"], format!("{base}?page=1&pageSize=100"));
    assert!(meta["links"].get("prev").is_none());

    // A change between pages neither moves nor duplicates anyone.
    let some_id = ids(&first)[3].clone();
    let before = sim.user(&some_id).expect("user").version;
    sim.update_user(&some_id, |u| u.last_name = Some("Renamed".into()))
        .expect("update");
    let mut all = ids(&first);
    for p in 1..3 {
        let body = page(&sim, &t, &format!("{base}?page={p}")).await;
        all.extend(ids(&body));
        if p == 2 {
            assert!(body["meta"]["links"].get("next").is_none());
            assert_eq!(body["meta"]["links"]["prev"], format!("{base}?page=1&pageSize=100"));
        }
    }
    let expected: Vec<String> = sim.users().into_iter().map(|u| u.id).collect();
    assert_eq!(all, expected);
    let updated = sim.user(&some_id).expect("user");
    assert_eq!(updated.version, before + 1);
    assert!(updated.last_updated_time > updated.created_time);

    // Past the end: empty page. Too big: clamped to 1000.
    let past = page(&sim, &t, &format!("{base}?page=9")).await;
    assert_eq!(past["data"].as_array().map(Vec::len), Some(0));
    let clamped = page(&sim, &t, &format!("{base}?pageSize=5000")).await;
    assert_eq!(clamped["meta"]["pageSize"], 1000);
    assert_eq!(clamped["data"].as_array().map(Vec::len), Some(250));

    for bad in ["page=-1", "pageSize=0", "page=abc"] {
        assert_eq!(get(&sim, &t, &format!("{base}?{bad}")).await.status(), 400, "{bad}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn items_have_the_documented_fields_plus_unknown_ones() {
    let sim = sim().await;
    let t = token(&sim);
    let mut user = SimUser::new("u-1", "Ada", "Lovelace", "ada@sim.example");
    user.team_ids = vec!["t-1".into()];
    sim.upsert_user(user);
    sim.upsert_team(SimTeam::new("t-1", "Team One"));
    sim.upsert_queue(SimQueue::new("q-1", "Sales", "TELEPHONY"));
    let org = sim.org_id();

    let users = page(&sim, &t, &users_path(&sim)).await;
    let u = &users["data"][0];
    for key in [
        "id",
        "organizationId",
        "version",
        "firstName",
        "lastName",
        "email",
        "ciUserId",
        "contactCenterEnabled",
        "active",
        "teamIds",
        "userProfileType",
        "createdTime",
        "lastUpdatedTime",
        "imiUserCreated",
        "simExtension",
    ] {
        assert!(u.get(key).is_some(), "user lacks {key}: {u}");
    }
    assert_eq!(u["organizationId"], org);

    let teams = page(&sim, &t, &format!("/organization/{org}/v2/team")).await;
    for key in [
        "id",
        "name",
        "teamType",
        "teamStatus",
        "active",
        "userIds",
        "createdTime",
        "teamMembershipSource",
    ] {
        assert!(teams["data"][0].get(key).is_some(), "team lacks {key}");
    }
    let queues = page(&sim, &t, &format!("/organization/{org}/v2/contact-service-queue")).await;
    let q = &queues["data"][0];
    assert_eq!(q["channelType"], "TELEPHONY");
    for key in [
        "id",
        "name",
        "queueType",
        "active",
        "recordingPermitted",
        "lastUpdatedTime",
        "checkAgentAvailability",
    ] {
        assert!(q.get(key).is_some(), "queue lacks {key}");
    }

    // Removed: gone from the listing.
    assert!(sim.remove_queue("q-1"));
    let queues = page(&sim, &t, &format!("/organization/{org}/v2/contact-service-queue")).await;
    assert_eq!(queues["meta"]["totalRecords"], 0);
    assert_eq!(queues["meta"]["totalPages"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_page_can_fail_midway_and_items_can_be_broken() {
    let sim = sim().await;
    let t = token(&sim);
    let generated = sim.generate_org(&SyntheticOrg {
        users: 30,
        teams: 2,
        queues: 2,
        seed: 1,
    });
    let base = format!("{}?pageSize=10", users_path(&sim));
    sim.fail_page(ConfigKind::Users, 1, 503, 1);
    assert_eq!(get(&sim, &t, &base).await.status(), 200);
    let failed = get(&sim, &t, &format!("{base}&page=1")).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(
        get(&sim, &t, &format!("{base}&page=1")).await.status(),
        200,
        "fails once only"
    );
    assert_eq!(sim.request_counts().get("GET /organization/{orgId}/v2/user"), Some(&3));
    sim.reset_request_counts();
    assert!(sim.request_counts().is_empty());

    let (a, b) = (&generated.user_ids[0], &generated.user_ids[1]);
    sim.corrupt_user(a, Corruption::NameNotString);
    sim.corrupt_user(b, Corruption::MissingId);
    let body = page(&sim, &t, &base).await;
    assert!(body["data"][0]["firstName"].is_number());
    assert!(body["data"][1].get("id").is_none());
    sim.repair_item(ConfigKind::Users, a);
    let body = page(&sim, &t, &base).await;
    assert!(!body["data"][0]["firstName"].is_number());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_user_is_found_by_ci_user_id() {
    let sim = sim().await;
    let t = token(&sim);
    let mut user = SimUser::new("u-7", "Grace", "Hopper", "grace@sim.example");
    user.ci_user_id = "ci-77".into();
    sim.upsert_user(user);
    let org = sim.org_id();
    let found = page(&sim, &t, &format!("/organization/{org}/v2/user/by-ci-user-id/ci-77")).await;
    assert_eq!(found["id"], "u-7");
    let missing = get(&sim, &t, &format!("/organization/{org}/v2/user/by-ci-user-id/nobody")).await;
    assert_eq!(missing.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn twenty_thousand_users_generate_and_list_quickly() {
    let sim = sim().await;
    let t = token(&sim);
    let started = Instant::now();
    let generated = sim.generate_org(&SyntheticOrg {
        users: 20_000,
        teams: 60,
        queues: 40,
        seed: 3,
    });
    assert_eq!(generated.user_ids.len(), 20_000);
    let body = page(&sim, &t, &format!("{}?page=19&pageSize=1000", users_path(&sim))).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1000));
    assert_eq!(body["meta"]["totalPages"], 20);
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
    let users = sim.users();
    assert!(users.iter().any(|u| u.first_name.is_none()));
    assert!(users.iter().any(|u| !u.contact_center_enabled));
    assert!(users.iter().any(|u| !u.active));
    sim.shutdown().await;
}
