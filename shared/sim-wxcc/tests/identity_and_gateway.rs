//! Identity (code flow, refresh rotation, foreign consent) and the regional gateway
//! (bearer, scopes, org, TrackingId, the per-client-id rate limit), over HTTP.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get as get_route, post as post_route};
use base64::Engine;
use common::{client, get, sim, token, users_path};
use futures::StreamExt;
use serde_json::Value;
use wfo_sim_wxcc::{
    ApiLimits, CONFIG_READ, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI, ForeignAccount,
    Integration, RunningWxccSim, TokenResponse, WxccSim, WxccSimConfig,
};

/// Opens the authorize URL and returns the `code` of the redirect.
async fn authorize(sim: &RunningWxccSim, scope: &str) -> String {
    let resp = client()
        .get(format!("{}/v1/authorize", sim.base_url()))
        .query(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("scope", scope),
            ("state", "s-123"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with(DEFAULT_REDIRECT_URI), "{location}");
    let url = url::Url::parse(&location).expect("url");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("s-123"));
    q.get("code").cloned().expect("code in redirect")
}

async fn token_call(sim: &RunningWxccSim, form: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(format!("{}/v1/access_token", sim.base_url()))
        .form(form)
        .send()
        .await
        .expect("token call")
}

async fn exchange(sim: &RunningWxccSim, code: &str) -> reqwest::Response {
    token_call(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", code),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
        ],
    )
    .await
}

async fn refresh(sim: &RunningWxccSim, refresh_token: &str) -> reqwest::Response {
    token_call(
        sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn decoded_org(org_id: &str) -> String {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(org_id)
        .expect("base64 org id");
    String::from_utf8(bytes).expect("utf8")
}

async fn me(sim: &RunningWxccSim, access: &str) -> Value {
    let resp = client()
        .get(format!("{}/v1/people/me", sim.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

#[tokio::test]
async fn a_code_is_single_use_and_refresh_tokens_rotate() {
    let sim = sim().await;
    let code = authorize(&sim, "cjp:config_read spark:kms").await;
    let resp = exchange(&sim, &code).await;
    assert_eq!(resp.status(), 200);
    let first: TokenResponse = resp.json().await.expect("tokens");
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_in, 12 * 3600);
    assert!(first.access_token.ends_with(&format!("_PF84_{}", sim.org_id())));

    let again = exchange(&sim, &code).await;
    assert_eq!(again.status(), 400);
    let err: Value = again.json().await.expect("json");
    assert_eq!(err["error"], "invalid_grant");

    let me_body = me(&sim, &first.access_token).await;
    assert!(decoded_org(me_body["orgId"].as_str().expect("orgId")).ends_with(&sim.org_id()));
    assert_eq!(me_body["emails"][0], "cc.admin@sim.example");
    assert_eq!(me_body["displayName"], "CC Admin");

    let second: TokenResponse = refresh(&sim, &first.refresh_token)
        .await
        .json()
        .await
        .expect("refreshed");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        refresh(&sim, &first.refresh_token).await.status(),
        400,
        "old refresh token is spent"
    );
    assert_eq!(get(&sim, &second.access_token, &users_path(&sim)).await.status(), 200);

    // Access tokens expire on the simulator clock.
    sim.advance_clock(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(get(&sim, &second.access_token, &users_path(&sim)).await.status(), 401);
    let third = refresh(&sim, &second.refresh_token).await;
    assert_eq!(
        third.status(),
        200,
        "refresh token still valid after the access token expired"
    );

    // Revoking the integration ends every token.
    let third: TokenResponse = third.json().await.expect("json");
    assert!(sim.revoke_integration(DEFAULT_CLIENT_ID) >= 2);
    assert_eq!(get(&sim, &third.access_token, &users_path(&sim)).await.status(), 401);
    assert_eq!(refresh(&sim, &third.refresh_token).await.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stranger_of_another_org_is_told_apart_by_people_me_and_refused_by_the_api() {
    let sim = sim().await;
    let stranger_org = "99999999-8888-4777-8666-555555555555";
    sim.set_consenting_account(Some(ForeignAccount {
        id: "11111111-2222-4333-8444-555555555555".into(),
        email: "mallory@elsewhere.example".into(),
        org_id: stranger_org.into(),
    }));
    let code = authorize(&sim, "cjp:config").await;
    let tokens: TokenResponse = exchange(&sim, &code).await.json().await.expect("tokens");
    let me_body = me(&sim, &tokens.access_token).await;
    assert!(decoded_org(me_body["orgId"].as_str().expect("orgId")).ends_with(stranger_org));
    assert_eq!(me_body["emails"][0], "mallory@elsewhere.example");

    let resp = get(&sim, &tokens.access_token, &users_path(&sim)).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(sim.foreign_org_calls(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bearer_problems_answer_400_401_403_with_the_wxcc_error_body() {
    let sim = sim().await;
    let path = users_path(&sim);
    let url = format!("{}{path}", sim.base_url());

    let missing = client()
        .get(&url)
        .header("TrackingId", "T-1")
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["trackingId"], "T-1");
    assert_eq!(body["error"]["key"], "400");
    assert!(body["error"]["message"][0]["description"].is_string());

    let malformed = client()
        .get(&url)
        .header("Authorization", "Token abc")
        .send()
        .await
        .expect("req");
    assert_eq!(malformed.status(), 400);
    assert_eq!(get(&sim, "not-a-token", &path).await.status(), 401);

    let kms_only = sim
        .issue_tokens(DEFAULT_CLIENT_ID, &["spark:kms"])
        .expect("tokens")
        .access_token;
    let no_scope = get(&sim, &kms_only, &path).await;
    assert_eq!(no_scope.status(), 403);
    let body: Value = no_scope.json().await.expect("json");
    assert_eq!(body["error"]["key"], "403");

    let reader = sim
        .issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
        .expect("tokens")
        .access_token;
    assert_eq!(get(&sim, &reader, &path).await.status(), 200);
    let other_org = get(
        &sim,
        &reader,
        "/organization/00000000-0000-4000-8000-000000000000/v2/user",
    )
    .await;
    assert_eq!(other_org.status(), 403);
    sim.shutdown().await;
}

#[tokio::test]
async fn tracking_ids_are_echoed_or_minted_and_missing_ones_are_counted() {
    let sim = sim().await;
    let t = token(&sim);
    let url = format!("{}{}", sim.base_url(), users_path(&sim));

    let resp = get(&sim, &t, &users_path(&sim)).await;
    assert_eq!(resp.headers()["trackingid"], "TEST_tracking");
    assert_eq!(sim.requests_without_tracking_id(), 0);

    let resp = client().get(&url).bearer_auth(&t).send().await.expect("req");
    let minted = resp.headers()["trackingid"].to_str().expect("str").to_owned();
    assert!(minted.starts_with("WXCCSIM_"), "{minted}");
    assert_eq!(sim.requests_without_tracking_id(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_is_per_client_id_shared_by_its_tokens_and_says_when_to_retry() {
    let sim = sim().await;
    sim.set_limits(ApiLimits {
        requests_per_minute: 10,
        ..ApiLimits::default()
    });
    sim.add_integration(Integration::new("other-client", "other-secret", DEFAULT_REDIRECT_URI));
    let a = token(&sim);
    let b = token(&sim);
    let other = sim
        .issue_tokens("other-client", &["cjp:config"])
        .expect("tokens")
        .access_token;
    let path = users_path(&sim);

    for i in 0..10 {
        let t = if i % 2 == 0 { &a } else { &b };
        assert_eq!(get(&sim, t, &path).await.status(), 200, "request {i}");
    }
    let refused = get(&sim, &b, &path).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("str")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["key"], "429");

    // Another client id has its own window.
    assert_eq!(get(&sim, &other, &path).await.status(), 200);

    sim.advance_clock(Duration::from_secs(retry_after));
    assert_eq!(get(&sim, &a, &path).await.status(), 200, "the window freed");

    assert_eq!(sim.requests_by_client(DEFAULT_CLIENT_ID), 12);
    assert_eq!(sim.peak_requests_per_minute(DEFAULT_CLIENT_ID), 11);
    assert_eq!(sim.peak_requests_per_minute("other-client"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_default_limit_is_300_per_minute() {
    let sim = sim().await;
    let t = token(&sim);
    let path = format!("{}?pageSize=1", users_path(&sim));
    // Sixteen at a time, so the 300 land well inside one minute even on a slow machine.
    let statuses: Vec<u16> = futures::stream::iter(0..300)
        .map(|_| async { get(&sim, &t, &path).await.status().as_u16() })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(get(&sim, &t, &path).await.status(), 429);
    assert_eq!(sim.peak_requests_per_minute(DEFAULT_CLIENT_ID), 301);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_storm_answers_its_retry_after_then_passes() {
    let sim = sim().await;
    let t = token(&sim);
    sim.push_429(2, 7);
    for _ in 0..2 {
        let resp = get(&sim, &t, &users_path(&sim)).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
    }
    assert_eq!(get(&sim, &t, &users_path(&sim)).await.status(), 200);
    assert_eq!(sim.injected_faults().get(&429), Some(&2));
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_answer_404_and_identity_routes_need_no_regional_token() {
    let sim = sim().await;
    let resp = client()
        .get(format!("{}/nowhere", sim.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().contains_key("trackingid"));
    let resp = client()
        .get(format!("{}/v1/people/me", sim.base_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn extra_routes_sit_behind_the_gateway_except_open_media_paths() {
    // A stand-in for the task plane's router.
    let extra = Router::new()
        .route("/search", post_route(|| async { "{\"data\":{}}" }))
        .route("/sim-media/{file}", get_route(|| async { "RIFF" }));
    let sim = WxccSim::start(WxccSimConfig {
        extra_router: Some(extra),
        limits: ApiLimits {
            requests_per_minute: 1,
            ..ApiLimits::default()
        },
        ..WxccSimConfig::default()
    })
    .await
    .expect("sim");
    let search = format!("{}/search", sim.base_url());
    assert_eq!(client().post(&search).send().await.expect("req").status(), 400);
    let t = token(&sim);
    let ok = client().post(&search).bearer_auth(&t).send().await.expect("req");
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("trackingid"));
    let limited = client().post(&search).bearer_auth(&t).send().await.expect("req");
    assert_eq!(limited.status(), 429, "search counts toward the limit");
    assert_eq!(sim.request_counts().get("POST /search"), Some(&3));

    for _ in 0..3 {
        let media = client()
            .get(format!("{}/sim-media/abc.wav", sim.base_url()))
            .send()
            .await
            .expect("req");
        assert_eq!(media.status(), 200, "no token, no limit");
    }
    assert_eq!(sim.requests_by_client(DEFAULT_CLIENT_ID), 2);
    sim.shutdown().await;
}
