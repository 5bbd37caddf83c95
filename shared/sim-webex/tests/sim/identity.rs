use std::time::Duration;

use serde_json::Value;
use wfo_sim_webex::{COMPLIANCE_READ, Consent, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TokenPolicy};

use crate::common::{REDIRECT, http, start};

fn authorize_url(base: &str, redirect: &str) -> String {
    let mut url = url::Url::parse(&format!("{base}/v1/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", DEFAULT_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "spark-compliance:recordings_read spark:kms")
        .append_pair("state", "st8 with spaces&more");
    url.to_string()
}

/// Follows `/v1/authorize` and returns the query of the redirect back.
async fn authorize(base: &str) -> Vec<(String, String)> {
    let resp = http().get(authorize_url(base, REDIRECT)).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(&location).unwrap().query_pairs().into_owned().collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn token_request(base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(format!("{base}/v1/access_token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn exchange(base: &str, code: &str) -> (u16, Value) {
    token_request(
        base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

async fn refresh(base: &str, refresh_token: &str) -> (u16, Value) {
    token_request(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn api_status(base: &str, token: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{base}/v1/webhooks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let header = resp.headers().get("trackingid").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    if status != 200 {
        assert_eq!(
            body["trackingId"].as_str(),
            header.as_deref(),
            "tracking id in body and header"
        );
    }
    (status, body)
}

#[tokio::test]
async fn code_flow_then_refresh_rotates_and_revoke_gives_invalid_grant() {
    let sim = start().await;
    let base = sim.base_url().to_owned();

    let back = authorize(&base).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st8 with spaces&more"));
    let code = param(&back, "code").expect("code in redirect");

    let (status, tokens) = exchange(&base, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1_209_600);
    assert_eq!(tokens["refresh_token_expires_in"], 7_776_000);
    assert_eq!(tokens["scope"], "spark-compliance:recordings_read spark:kms");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&base, &access).await.0, 200);

    // The code is single-use.
    let (status, err) = exchange(&base, &code).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));

    // Refresh rotates: a new refresh token, the old one is dead.
    let (status, rotated) = refresh(&base, &refresh1).await;
    assert_eq!(status, 200);
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh1);
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&base, &access2).await.0, 200);
    let (status, err) = refresh(&base, &refresh1).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    assert!(err["error_description"].as_str().unwrap().contains("expired, revoked"));

    // A password change: everything of the integration is revoked.
    assert!(sim.revoke_integration(DEFAULT_CLIENT_ID) >= 2);
    let (status, body) = api_status(&base, &access2).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("access token"));
    assert!(body["errors"][0]["description"].is_string());
    let (status, err) = refresh(&base, &refresh2).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_and_basic_auth_is_accepted() {
    let sim = start().await;
    let base = sim.base_url().to_owned();
    let code = param(&authorize(&base).await, "code").unwrap();
    let (status, err) = token_request(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", "wrong"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (401, Some("invalid_client")));

    // The failed attempt did not burn the code; HTTP Basic client auth works too.
    let resp = http()
        .post(format!("{base}/v1/access_token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn code_is_bound_to_redirect_uri_and_short_lived() {
    let sim = start().await;
    let base = sim.base_url().to_owned();
    let code = param(&authorize(&base).await, "code").unwrap();
    let (status, err) = token_request(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));

    let code = param(&authorize(&base).await, "code").unwrap();
    sim.advance_clock(Duration::from_secs(301));
    let (status, err) = exchange(&base, &code).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    sim.shutdown().await;
}

#[tokio::test]
async fn authorize_checks_client_and_redirect_and_can_refuse() {
    let sim = start().await;
    let base = sim.base_url().to_owned();
    let resp = http()
        .get(authorize_url(&base, "http://127.0.0.1:9/evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "an unregistered redirect_uri is never redirected to"
    );

    sim.set_consent(Consent::Refuse);
    let back = authorize(&base).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st8 with spaces&more"));
    assert_eq!(param(&back, "code"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_can_be_non_rotating() {
    let sim = start().await;
    let base = sim.base_url().to_owned();
    sim.set_token_policy(TokenPolicy {
        access_lifetime: Duration::from_secs(60),
        rotate_refresh_tokens: false,
        ..TokenPolicy::default()
    });
    let tokens = sim.issue_tokens(DEFAULT_CLIENT_ID, &[COMPLIANCE_READ]).unwrap();
    assert_eq!(tokens.expires_in, 60);
    assert_eq!(api_status(&base, &tokens.access_token).await.0, 200);
    sim.advance_clock(Duration::from_secs(61));
    assert_eq!(api_status(&base, &tokens.access_token).await.0, 401);

    let (status, again) = refresh(&base, &tokens.refresh_token).await;
    assert_eq!(status, 200);
    assert_eq!(again["refresh_token"].as_str(), Some(tokens.refresh_token.as_str()));
    let (status, _) = refresh(&base, &tokens.refresh_token).await;
    assert_eq!(status, 200, "without rotation the refresh token stays valid");
    assert_eq!(api_status(&base, again["access_token"].as_str().unwrap()).await.0, 200);
    // Every token issued is listed for secret scans, in order.
    let issued = sim.issued_tokens();
    assert_eq!(issued.len(), 4, "one refresh token and three access tokens: {issued:?}");
    assert_eq!(issued[0], tokens.refresh_token);
    assert_eq!(issued[1], tokens.access_token);
    assert!(
        issued
            .iter()
            .any(|t| Some(t.as_str()) == again["access_token"].as_str())
    );
    sim.shutdown().await;
}
