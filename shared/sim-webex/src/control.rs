//! Inspection and control over HTTP (`/sim/...`), for the demo and for tests that drive
//! the simulator from another process. No bearer needed; loopback only.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::people::{SimPerson, SyntheticOrg};
use crate::scenario::RecordingSummary;
use crate::state::{DeliveryRecord, SharedRef, State as SimState, Webhook};

/// A recording as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingState {
    #[serde(flatten)]
    pub summary: RecordingSummary,
    pub available_at: DateTime<Utc>,
    pub metadata_ready_at: Option<DateTime<Utc>>,
    pub prevent_download: bool,
}

/// A webhook plus its delivery health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookState {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub consecutive_failures: u32,
}

/// Everything `GET /sim/state` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimSnapshot {
    pub now: DateTime<Utc>,
    /// Newest first (createTime, then id), as the list API orders them.
    pub recordings: Vec<RecordingState>,
    pub webhooks: Vec<WebhookState>,
    pub deliveries: Vec<DeliveryRecord>,
    /// Events waiting for `release_deliveries`.
    pub held_events: usize,
    /// Events waiting for their publication time.
    pub scheduled_events: usize,
}

pub(crate) fn snapshot(st: &SimState) -> SimSnapshot {
    let mut recordings: Vec<RecordingState> = st
        .recordings
        .values()
        .map(|r| RecordingState {
            summary: r.summary.clone(),
            available_at: r.available_at,
            metadata_ready_at: r.metadata_ready_at,
            prevent_download: r.prevent_download,
        })
        .collect();
    recordings.sort_by(|a, b| (b.summary.create_time, &b.summary.id).cmp(&(a.summary.create_time, &a.summary.id)));
    SimSnapshot {
        now: st.now(),
        recordings,
        webhooks: st
            .webhooks
            .iter()
            .map(|e| WebhookState {
                webhook: e.hook.clone(),
                consecutive_failures: e.consecutive_failures,
            })
            .collect(),
        deliveries: st.deliveries.clone(),
        held_events: st.held.as_ref().map_or(0, Vec::len),
        scheduled_events: st.scheduled.iter().map(|(_, v)| v.len()).sum(),
    }
}

async fn state(State(shared): State<SharedRef>) -> Response {
    axum::Json(snapshot(&shared.lock())).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlayBody {
    scenario: String,
    /// Call start; default now.
    base_time: Option<DateTime<Utc>>,
    /// When the recordings become available; default now.
    publish_at: Option<DateTime<Utc>>,
}

/// `POST /sim/play {"scenario", "baseTime"?, "publishAt"?}` → `{"recordingIds", "expected"}`.
async fn play(State(shared): State<SharedRef>, body: Bytes) -> Result<Response, ApiError> {
    let b: PlayBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let now = shared.lock().now();
    let instance = crate::instantiate_with(&shared, &b.scenario, b.base_time.unwrap_or(now), 1)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    match b.publish_at {
        Some(at) if at > now => crate::schedule(&shared, &instance, at),
        _ => crate::publish_now(&shared, std::slice::from_ref(&instance), 1).await,
    }
    Ok(axum::Json(json!({
        "scenario": instance.scenario,
        "recordingIds": instance.recording_ids(),
        "expected": instance.expected,
    }))
    .into_response())
}

async fn revoke(State(shared): State<SharedRef>, Path(client_id): Path<String>) -> Response {
    let n = shared.lock().identity.revoke(&client_id);
    axum::Json(json!({ "revoked": n })).into_response()
}

/// `POST /sim/people` with one person or an array: adds or replaces them.
async fn upsert_people(State(shared): State<SharedRef>, body: Bytes) -> Result<Response, ApiError> {
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let list = if v.is_array() {
        v
    } else {
        serde_json::Value::Array(vec![v])
    };
    let people: Vec<SimPerson> =
        serde_json::from_value(list).map_err(|e| ApiError::bad_request(format!("Invalid person: {e}")))?;
    let n = people.len();
    let mut st = shared.lock();
    for mut p in people {
        p.id = p.id.to_ascii_lowercase();
        st.people.insert(p.id.clone(), p);
    }
    Ok(axum::Json(json!({ "upserted": n, "people": st.people.len() })).into_response())
}

/// `POST /sim/people/generate {"count","seed","professionalShare","recordedShare"}`.
async fn generate_people(State(shared): State<SharedRef>, body: Bytes) -> Result<Response, ApiError> {
    let org: SyntheticOrg =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let people = crate::people::synthetic_people(&org);
    let mut st = shared.lock();
    for p in people {
        st.people.insert(p.id.clone(), p);
    }
    Ok(axum::Json(json!({ "generated": org.count, "people": st.people.len() })).into_response())
}

async fn delete_person(State(shared): State<SharedRef>, Path(id): Path<String>) -> Response {
    let removed = shared.lock().people.remove(&id.to_ascii_lowercase()).is_some();
    axum::Json(json!({ "removed": removed })).into_response()
}

/// `GET /sim/requests`: API requests per route.
async fn requests(State(shared): State<SharedRef>) -> Response {
    axum::Json(shared.lock().request_counts.clone()).into_response()
}

pub(crate) fn router() -> Router<SharedRef> {
    Router::new()
        .route("/sim/state", get(state))
        .route("/sim/play", post(play))
        .route("/sim/integrations/{client_id}/revoke", post(revoke))
        .route("/sim/people", post(upsert_people))
        .route("/sim/people/generate", post(generate_people))
        .route("/sim/people/{id}", axum::routing::delete(delete_person))
        .route("/sim/requests", get(requests))
}
