//! The connector's subscriptions (reference §5.1): `capture:available` and `task:ended`,
//! one each (one resource per subscription), each reused, repaired or created, never
//! doubled.
//!
//! The API does not give a subscription's secret back, so the secret's fingerprint (the
//! first 16 hex digits of its SHA-256 — not the secret) is kept in the subscription's
//! `description`: a subscription whose fingerprint differs gets the secret set again.
//! UNCONFIRMED: `GET /v2/subscriptions` lists v2 subscriptions with `data[]` of the
//! create answer's shape (the v1 list is documented to hold only v1 subscriptions).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;
use wfo_domain::Secret;

use crate::client::{CcClient, Op, SCOPE_CONFIG_WRITE};
use crate::error::CcError;

pub const EVENT_CAPTURE_AVAILABLE: &str = "capture:available";
pub const RESOURCE_VERSION_CAPTURE: &str = "capture:1.0.0";
pub const EVENT_TASK_ENDED: &str = "task:ended";
pub const RESOURCE_VERSION_TASK: &str = "task:1.0.0";

/// The subscriptions the import keeps: `(event type, resource version)`. The capture one
/// first: it is the one the webhook registration reports.
pub const SUBSCRIBED: &[(&str, &str)] = &[
    (EVENT_CAPTURE_AVAILABLE, RESOURCE_VERSION_CAPTURE),
    (EVENT_TASK_ENDED, RESOURCE_VERSION_TASK),
];

/// One subscription as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub destination_url: String,
    #[serde(default)]
    pub status: Option<String>,
}

impl Subscription {
    pub fn is_active(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("active"))
    }
}

#[derive(Debug, Deserialize)]
struct ListAnswer {
    #[serde(default)]
    data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct OneAnswer {
    data: Subscription,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NewSubscription<'a> {
    name: &'a str,
    description: String,
    event_types: [&'a str; 1],
    destination_url: &'a str,
    secret: &'a str,
    resource_version: &'a str,
}

/// The description that carries the secret's fingerprint.
pub fn description(secret: &Secret) -> String {
    let digest = sha2::Sha256::digest(secret.expose().as_bytes());
    format!(
        "wfo-connect capture import; secret fingerprint {}",
        &hex::encode(digest)[..16]
    )
}

impl CcClient {
    pub async fn list_subscriptions(&self, token: &Secret) -> Result<Vec<Subscription>, CcError> {
        let url = self.url_of("/v2/subscriptions")?;
        let answer: ListAnswer = self
            .call::<(), _>(
                Op::read("list subscriptions", SCOPE_CONFIG_WRITE, Method::GET),
                url,
                None,
                token,
            )
            .await?;
        // One unreadable entry is not ours to repair; the rest are still compared.
        Ok(answer
            .data
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }

    /// A subscription to `(event, resource version)` (one of [`SUBSCRIBED`]).
    pub async fn create_subscription(
        &self,
        token: &Secret,
        name: &str,
        target: &str,
        secret: &Secret,
        (event, resource_version): (&str, &str),
    ) -> Result<Subscription, CcError> {
        let url = self.url_of("/v2/subscriptions")?;
        let body = NewSubscription {
            name,
            description: description(secret),
            event_types: [event],
            destination_url: target,
            secret: secret.expose(),
            resource_version,
        };
        let answer: OneAnswer = self
            .call(
                Op::create("create subscription", SCOPE_CONFIG_WRITE),
                url,
                Some(&body),
                token,
            )
            .await?;
        Ok(answer.data)
    }

    /// Set a subscription active again, with this secret.
    pub async fn repair_subscription(&self, token: &Secret, id: &str, secret: &Secret) -> Result<(), CcError> {
        let url = self.url_of(&format!("/v2/subscriptions/{}", urlencode(id)))?;
        let body = serde_json::json!({
            "status": "active",
            "secret": secret.expose(),
            "description": description(secret),
        });
        let _: Value = self
            .call(
                Op::read("update subscription", SCOPE_CONFIG_WRITE, Method::PATCH),
                url,
                Some(&body),
                token,
            )
            .await?;
        Ok(())
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
