//! Subscriptions (§5.1, v2): `POST|GET /v2/subscriptions`,
//! `GET|PATCH|DELETE /v2/subscriptions/{id}`.
//!
//! Validation: `name` 4–64 characters; `description` at most 1024; `eventTypes` 1–32,
//! each a known event type of the one resource `resourceVersion` names (required,
//! `resource:version`, a known pair); `secret` 32–256 characters when given (without it
//! deliveries are unsigned); `destinationUrl` https with a host that has a dot, a path,
//! port 443 (or none), no query, fragment or userinfo.
//!
//! The simulator's one relaxation (for tests on loopback): `http://127.0.0.1:<any
//! port>/<path>` is accepted as well.
//!
//! UNCONFIRMED choices: times are epoch ms; the secret is never shown back; `PATCH`
//! takes `status` (`active|inactive`), `secret`, `destinationUrl`, `name`,
//! `description`; setting `active` resets the failure count; no org-level cap.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::state::{Caller, SharedRef};

/// Event types known to the simulated platform (§5.1).
pub const EVENT_TYPES: &[&str] = &[
    "agent:login",
    "agent:logout",
    "agent:state_change",
    "agent:channel_state_change",
    "agent:channelType_state_change",
    "capture:available",
    "task:new",
    "task:connect",
    "task:connected",
    "task:parked",
    "task:on-hold",
    "task:hold-done",
    "task:consulting",
    "task:consult-done",
    "task:conferencing",
    "task:conference-done",
    "task:conference-transferred",
    "task:ended",
    "task:failed",
    "task:origin-updated",
    "task-message:appended",
    "task-message:append-failed",
];

/// Known `resourceVersion` values.
pub const RESOURCE_VERSIONS: &[&str] = &[
    "agent:1.0.0",
    "agent:2.0.0",
    "capture:1.0.0",
    "task:1.0.0",
    "task-message:1.0.0",
];

/// A subscription as the API shows it (`data` of the answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub destination_url: String,
    pub resource_version: String,
    pub created_time: i64,
    pub created_by: String,
    /// `active | inactive`.
    pub status: String,
    pub last_updated_time: i64,
    pub last_updated_by: String,
}

/// A subscription with what the API does not show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionEntry {
    #[serde(flatten)]
    pub subscription: Subscription,
    pub secret: Option<String>,
    pub client_id: String,
    pub consecutive_failures: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    destination_url: Option<String>,
    secret: Option<String>,
    resource_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchBody {
    name: Option<String>,
    description: Option<String>,
    destination_url: Option<String>,
    secret: Option<String>,
    status: Option<String>,
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

fn check_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.ok_or_else(|| ApiError::bad_request("name is required."))?;
    let n = name.chars().count();
    if !(4..=64).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "name must be 4 to 64 characters long; it has {n}."
        )));
    }
    Ok(name)
}

fn check_description(d: &Option<String>) -> Result<(), ApiError> {
    match d {
        Some(d) if d.chars().count() > 1024 => {
            Err(ApiError::bad_request("description must be at most 1024 characters."))
        }
        _ => Ok(()),
    }
}

fn check_secret(secret: &Option<String>) -> Result<(), ApiError> {
    match secret {
        Some(s) if !(32..=256).contains(&s.chars().count()) => Err(ApiError::bad_request(format!(
            "secret must be 32 to 256 characters long; it has {}.",
            s.chars().count()
        ))),
        _ => Ok(()),
    }
}

/// See the module docs for the rule.
pub fn check_destination_url(v: &str) -> Result<(), String> {
    let url = url::Url::parse(v).map_err(|e| format!("destinationUrl is not a URL ({e})."))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("destinationUrl must not contain userinfo.".into());
    }
    if url.query().is_some() {
        return Err("destinationUrl must not contain a query string.".into());
    }
    if url.fragment().is_some() {
        return Err("destinationUrl must not contain a fragment.".into());
    }
    if url.path().trim_start_matches('/').is_empty() {
        return Err("destinationUrl must have a path.".into());
    }
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "http" if host == "127.0.0.1" => Ok(()),
        "https" if host.contains('.') && !host.ends_with('.') && url.port().is_none_or(|p| p == 443) => Ok(()),
        "https" => Err("destinationUrl must name a public host on port 443.".into()),
        _ => Err("destinationUrl must be an https URL.".into()),
    }
}

/// The resource of an event type or resource version (`capture:available` → `capture`).
fn resource_of(s: &str) -> &str {
    s.split(':').next().unwrap_or_default()
}

fn check_events(event_types: Option<Vec<String>>, resource_version: &str) -> Result<Vec<String>, ApiError> {
    let events = event_types.ok_or_else(|| ApiError::bad_request("eventTypes is required."))?;
    if events.is_empty() || events.len() > 32 {
        return Err(ApiError::bad_request(format!(
            "eventTypes must list 1 to 32 event types; it lists {}.",
            events.len()
        )));
    }
    for e in &events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::bad_request(format!("Unknown event type {e:?}.")));
        }
        if resource_of(e) != resource_of(resource_version) {
            return Err(ApiError::bad_request(format!(
                "Event type {e:?} is not of resource version {resource_version:?}: one resource per subscription."
            )));
        }
    }
    Ok(events)
}

fn envelope(org_id: &str, data: impl Serialize) -> Response {
    axum::Json(json!({ "meta": { "orgId": org_id }, "data": data })).into_response()
}

pub(crate) async fn create(
    State(shared): State<SharedRef>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = json_body(&body)?;
    let name = check_name(b.name)?;
    check_description(&b.description)?;
    let resource_version = b
        .resource_version
        .ok_or_else(|| ApiError::bad_request("resourceVersion is required."))?;
    if !RESOURCE_VERSIONS.contains(&resource_version.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unknown resourceVersion {resource_version:?}; known: {}.",
            RESOURCE_VERSIONS.join(", ")
        )));
    }
    let event_types = check_events(b.event_types, &resource_version)?;
    let destination_url = b
        .destination_url
        .ok_or_else(|| ApiError::bad_request("destinationUrl is required."))?;
    check_destination_url(&destination_url).map_err(ApiError::bad_request)?;
    check_secret(&b.secret)?;

    let mut st = shared.lock();
    let id = st.random_uuid().to_string();
    let now = st.now().timestamp_millis();
    let subscription = Subscription {
        id,
        name,
        description: b.description,
        event_types,
        destination_url,
        resource_version,
        created_time: now,
        created_by: caller.account.user_id.clone(),
        status: "active".into(),
        last_updated_time: now,
        last_updated_by: caller.account.user_id.clone(),
    };
    st.subscriptions.push(SubscriptionEntry {
        subscription: subscription.clone(),
        secret: b.secret,
        client_id: caller.client_id.clone(),
        consecutive_failures: 0,
    });
    let mut response = envelope(&st.org_id, &subscription);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(crate) async fn list(State(shared): State<SharedRef>) -> Result<Response, ApiError> {
    let st = shared.lock();
    let data: Vec<&Subscription> = st.subscriptions.iter().map(|e| &e.subscription).collect();
    let body = json!({
        "meta": { "orgId": st.org_id, "subscriptionCount": data.len() },
        "data": data,
    });
    Ok(axum::Json(body).into_response())
}

pub(crate) async fn get_one(State(shared): State<SharedRef>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let st = shared.lock();
    let entry = st
        .subscriptions
        .iter()
        .find(|e| e.subscription.id == id)
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope(&st.org_id, &entry.subscription))
}

pub(crate) async fn patch(
    State(shared): State<SharedRef>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: PatchBody = json_body(&body)?;
    let name = b.name.map(|n| check_name(Some(n))).transpose()?;
    check_description(&b.description)?;
    if let Some(u) = &b.destination_url {
        check_destination_url(u).map_err(ApiError::bad_request)?;
    }
    check_secret(&b.secret)?;
    match b.status.as_deref() {
        None | Some("active" | "inactive") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid status {other:?}; expected active or inactive."
            )));
        }
    }
    let mut st = shared.lock();
    let now = st.now().timestamp_millis();
    let org_id = st.org_id.clone();
    let entry = st
        .subscriptions
        .iter_mut()
        .find(|e| e.subscription.id == id)
        .ok_or_else(ApiError::not_found)?;
    let s = &mut entry.subscription;
    if let Some(name) = name {
        s.name = name;
    }
    if let Some(d) = b.description {
        s.description = Some(d);
    }
    if let Some(u) = b.destination_url {
        s.destination_url = u;
    }
    if let Some(secret) = b.secret {
        entry.secret = Some(secret);
    }
    if let Some(status) = b.status {
        if status == "active" {
            entry.consecutive_failures = 0;
        }
        s.status = status;
    }
    s.last_updated_time = now.max(s.last_updated_time);
    s.last_updated_by = caller.account.user_id.clone();
    Ok(envelope(&org_id, &entry.subscription))
}

pub(crate) async fn delete(State(shared): State<SharedRef>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let mut st = shared.lock();
    let before = st.subscriptions.len();
    st.subscriptions.retain(|e| e.subscription.id != id);
    if st.subscriptions.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_urls_follow_the_documented_rules_plus_loopback() {
        for ok in [
            "https://hooks.example.com/webhooks/acme",
            "https://hooks.example.com:443/x",
            "http://127.0.0.1:8080/webhooks/acme",
        ] {
            assert!(check_destination_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/x",
            "https://hooks.example.com/",
            "https://hooks.example.com/x?a=1",
            "https://hooks.example.com/x#f",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com:8443/x",
            "https://localhost/x",
            "http://localhost:8080/x",
            "not a url",
        ] {
            assert!(check_destination_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types_must_be_known_and_of_one_resource() {
        let ev = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert!(check_events(ev(&["capture:available"]), "capture:1.0.0").is_ok());
        assert!(check_events(ev(&["task:ended"]), "capture:1.0.0").is_err());
        assert!(check_events(ev(&["capture:exploded"]), "capture:1.0.0").is_err());
        assert!(check_events(ev(&[]), "capture:1.0.0").is_err());
        assert!(check_events(None, "capture:1.0.0").is_err());
    }
}
