//! Webhooks (§3): CRUD, matching, signed delivery under a [`DeliveryPolicy`], and
//! auto-deactivation after consecutive failures.
//!
//! Working assumptions (UNCONFIRMED in the reference, chosen here):
//! - `data` of a `convergedRecordings`/`created` event is
//!   `{id, orgId, ownerId, ownerType, ownerEmail, serviceType, createTime, callSessionId?}`
//!   (`ownerType` in list form, `orgId` a plain UUID, `callSessionId` when known).
//! - A `creator` webhook only hears about recordings its creator owns; an `org` webhook
//!   hears about the whole org. `ownedBy: org` needs an admin or compliance scope.
//! - Filter keys: `ownerId`, `ownerEmail`, `ownerType`, `serviceType`, `storageRegion`,
//!   `locationId`, combined with `&`; owner keys require `ownedBy: org`.
//! - Each event is delivered once (no retry); failures count toward deactivation.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::SecondsFormat;
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{ADMIN_READ, COMPLIANCE_READ, USER_READ};
use crate::error::ApiError;
use crate::identity::{Caller, parse_query};
use crate::scenario::{RecordingSummary, summary_field};
use crate::state::{DeliveryOutcome, DeliveryRecord, Grant, SharedRef, Webhook, WebhookEntry, webex_id};

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Spark-Signature";

const RESOURCES: &[&str] = &[
    "attachmentActions",
    "dataSources",
    "memberships",
    "messages",
    "rooms",
    "meetings",
    "recordings",
    "convergedRecordings",
    "meetingParticipants",
    "meetingTranscripts",
    "telephony_calls",
    "telephony_conference",
    "telephony_mwi",
    "uc_counters",
    "serviceApp",
    "adminBatchJobs",
];
const EVENTS: &[&str] = &[
    "created",
    "updated",
    "deleted",
    "started",
    "ended",
    "joined",
    "left",
    "migrated",
    "authorized",
    "deauthorized",
    "statusChanged",
    "all",
];
const FILTER_KEYS: &[&str] = &[
    "ownerId",
    "ownerEmail",
    "ownerType",
    "serviceType",
    "storageRegion",
    "locationId",
];
const OWNER_KEYS: &[&str] = &["ownerId", "ownerEmail", "hostEmail", "hostUserId"];

/// Hex HMAC-SHA1 of `body` keyed by `secret`: the `X-Spark-Signature` value.
pub fn sign(secret: &str, body: &[u8]) -> String {
    match <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

fn parse_filter(filter: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in url::form_urlencoded::parse(filter.as_bytes()) {
        let (k, v) = (pair.0.into_owned(), pair.1.into_owned());
        if !FILTER_KEYS.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid filter key {k:?} for convergedRecordings; supported: {}.",
                FILTER_KEYS.join(", ")
            )));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn filter_matches(filter: Option<&str>, summary: &RecordingSummary) -> bool {
    let Some(filter) = filter else { return true };
    let Ok(pairs) = parse_filter(filter) else {
        return false;
    };
    pairs.iter().all(|(k, v)| {
        let actual = summary_field(summary, k).unwrap_or_default();
        if k == "ownerEmail" {
            actual.eq_ignore_ascii_case(v)
        } else {
            &actual == v
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    target_url: Option<String>,
    resource: Option<String>,
    event: Option<String>,
    filter: Option<String>,
    secret: Option<String>,
    owned_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    name: Option<String>,
    target_url: Option<String>,
    secret: Option<String>,
    owned_by: Option<String>,
    status: Option<String>,
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

fn required(name: &str, v: Option<String>) -> Result<String, ApiError> {
    v.filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("{name} is required.")))
}

fn check_url(v: &str) -> Result<(), ApiError> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ApiError::bad_request(format!("Invalid targetUrl: {v:?}."))),
    }
}

fn check_owned_by(caller: &Grant, owned_by: &str) -> Result<(), ApiError> {
    match owned_by {
        "creator" => Ok(()),
        "org" if caller.has_any(&[COMPLIANCE_READ, ADMIN_READ]) => Ok(()),
        "org" => Err(ApiError::forbidden(
            "Org-level webhooks need an admin or compliance officer scope.",
        )),
        other => Err(ApiError::bad_request(format!(
            "Invalid ownedBy: {other:?}; expected creator or org."
        ))),
    }
}

fn visible_to(entry: &WebhookEntry, caller: &Grant) -> bool {
    entry.client_id == caller.client_id && entry.creator_user == caller.account.user_id
}

pub(crate) async fn create(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = json_body(&body)?;
    let name = required("name", b.name)?;
    let target_url = required("targetUrl", b.target_url)?;
    let resource = required("resource", b.resource)?;
    let event = required("event", b.event)?;
    check_url(&target_url)?;
    if !RESOURCES.contains(&resource.as_str()) {
        return Err(ApiError::bad_request(format!("Invalid resource: {resource:?}.")));
    }
    if !EVENTS.contains(&event.as_str()) {
        return Err(ApiError::bad_request(format!("Invalid event: {event:?}.")));
    }
    let owned_by = b.owned_by.unwrap_or_else(|| "creator".into());
    check_owned_by(&caller, &owned_by)?;
    if resource == "convergedRecordings" && !caller.has_any(&[COMPLIANCE_READ, ADMIN_READ, USER_READ]) {
        return Err(ApiError::forbidden(
            "Creating a webhook requires read scope on the resource it is for.",
        ));
    }
    let filter = b.filter.filter(|f| !f.is_empty());
    if let Some(f) = &filter {
        let pairs = if resource == "convergedRecordings" {
            parse_filter(f)?
        } else {
            url::form_urlencoded::parse(f.as_bytes()).into_owned().collect()
        };
        if owned_by != "org" && pairs.iter().any(|(k, _)| OWNER_KEYS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                "If a filter of hostEmail, hostUserId, ownerEmail or ownerId is specified, ownedBy must be set to org.",
            ));
        }
    }

    let mut st = shared.lock();
    let uuid = st.random_uuid();
    let now = st.now();
    let hook = Webhook {
        id: webex_id("WEBHOOK", &uuid.to_string()),
        name,
        target_url,
        resource,
        event,
        filter,
        secret: b.secret.filter(|s| !s.is_empty()),
        status: "active".into(),
        created: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        owned_by,
        org_id: webex_id("ORGANIZATION", &st.org_id),
        created_by: webex_id("PEOPLE", &caller.account.user_id),
        app_id: webex_id("APPLICATION", &caller.client_id),
    };
    st.webhooks.push(WebhookEntry {
        hook: hook.clone(),
        creator_user: caller.account.user_id.clone(),
        client_id: caller.client_id.clone(),
        consecutive_failures: 0,
    });
    Ok(axum::Json(hook).into_response())
}

pub(crate) async fn list(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_query(raw.as_deref());
    let max = match q.get("max") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid max: {v:?}.")))?,
    };
    let st = shared.lock();
    let items: Vec<&Webhook> = st
        .webhooks
        .iter()
        .filter(|e| visible_to(e, &caller))
        .filter(|e| q.get("ownedBy").is_none_or(|o| &e.hook.owned_by == o))
        .map(|e| &e.hook)
        .take(max)
        .collect();
    Ok(axum::Json(json!({ "items": items })).into_response())
}

pub(crate) async fn get_one(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let st = shared.lock();
    let entry = st
        .webhooks
        .iter()
        .find(|e| e.hook.id == id && visible_to(e, &caller))
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(&entry.hook).into_response())
}

pub(crate) async fn update(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: UpdateBody = json_body(&body)?;
    let name = required("name", b.name)?;
    let target_url = required("targetUrl", b.target_url)?;
    check_url(&target_url)?;
    if let Some(owned_by) = &b.owned_by {
        check_owned_by(&caller, owned_by)?;
    }
    match b.status.as_deref() {
        None | Some("active") => {}
        Some("inactive") => {
            return Err(ApiError::bad_request(
                "A webhook cannot be deactivated; status can only be set to active.",
            ));
        }
        Some(other) => return Err(ApiError::bad_request(format!("Invalid status: {other:?}."))),
    }
    let mut st = shared.lock();
    let entry = st
        .webhooks
        .iter_mut()
        .find(|e| e.hook.id == id && visible_to(e, &caller))
        .ok_or_else(ApiError::not_found)?;
    entry.hook.name = name;
    entry.hook.target_url = target_url;
    if let Some(secret) = b.secret {
        entry.hook.secret = Some(secret).filter(|s| !s.is_empty());
    }
    if let Some(owned_by) = b.owned_by {
        entry.hook.owned_by = owned_by;
    }
    if b.status.as_deref() == Some("active") {
        entry.hook.status = "active".into();
        entry.consecutive_failures = 0;
    }
    Ok(axum::Json(&entry.hook).into_response())
}

pub(crate) async fn delete(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut st = shared.lock();
    let before = st.webhooks.len();
    st.webhooks.retain(|e| !(e.hook.id == id && visible_to(e, &caller)));
    if st.webhooks.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One planned send.
#[derive(Clone)]
struct Job {
    webhook_id: String,
    recording_id: String,
    target_url: String,
    secret: Option<String>,
    body: String,
    duplicate: bool,
}

fn envelope(hook: &Webhook, org_id: &str, summary: &RecordingSummary) -> Value {
    let mut data = json!({
        "id": summary.id,
        "orgId": org_id,
        "ownerId": summary.owner_id,
        "ownerType": summary.owner_type,
        "ownerEmail": summary.owner_email,
        "serviceType": summary.service_type,
        "createTime": summary.create_time.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    if let (Some(sd), Some(obj)) = (&summary.service_data, data.as_object_mut()) {
        obj.insert("callSessionId".into(), json!(sd.call_session_id));
    }
    let mut env = json!({
        "id": hook.id,
        "name": hook.name,
        "targetUrl": hook.target_url,
        "resource": hook.resource,
        "event": "created",
        "orgId": hook.org_id,
        "createdBy": hook.created_by,
        "appId": hook.app_id,
        "ownedBy": hook.owned_by,
        "status": hook.status,
        "created": hook.created,
        "actorId": webex_id("PEOPLE", &summary.owner_id),
        "data": data,
    });
    if let (Some(f), Some(obj)) = (&hook.filter, env.as_object_mut()) {
        obj.insert("filter".into(), json!(f));
    }
    env
}

/// Delivers `created` events for `batch` to every matching active webhook, applying the
/// delivery policy. Up to `concurrency` sends are in flight at once (1: one after
/// another, in the planned order); the batch is finished on return.
pub(crate) async fn deliver_batch(shared: &SharedRef, batch: Vec<RecordingSummary>, concurrency: usize) {
    if batch.is_empty() {
        return;
    }
    let _gate = shared.delivery_gate.lock().await;
    let (jobs, delay, timeout) = {
        let mut st = shared.lock();
        let policy = st.delivery.clone();
        let org_id = st.org_id.clone();
        let mut planned = Vec::new();
        for summary in &batch {
            for entry in &st.webhooks {
                let h = &entry.hook;
                let for_resource = h.resource == "convergedRecordings" && matches!(h.event.as_str(), "created" | "all");
                let in_scope = h.owned_by == "org" || entry.creator_user == summary.owner_id;
                if h.status == "active" && for_resource && in_scope && filter_matches(h.filter.as_deref(), summary) {
                    let body = envelope(h, &org_id, summary).to_string();
                    planned.push(Job {
                        webhook_id: h.id.clone(),
                        recording_id: summary.id.clone(),
                        target_url: h.target_url.clone(),
                        secret: h.secret.clone(),
                        body,
                        duplicate: false,
                    });
                }
            }
        }
        let mut jobs = Vec::new();
        for job in planned {
            if st.rng.random::<f64>() < policy.drop_share {
                let record = DeliveryRecord {
                    seq: st.next_delivery_seq(),
                    webhook_id: job.webhook_id,
                    recording_id: job.recording_id,
                    target_url: job.target_url,
                    at: st.now(),
                    duplicate: false,
                    outcome: DeliveryOutcome::Dropped,
                    body: job.body,
                };
                st.deliveries.push(record);
                continue;
            }
            let twice = st.rng.random::<f64>() < policy.duplicate_share;
            // Drawn only when asked for, so a policy without it sees the same pattern.
            let thrice = twice && policy.triple_share > 0.0 && st.rng.random::<f64>() < policy.triple_share;
            let copies: Vec<Job> = (0..usize::from(twice) + usize::from(thrice))
                .map(|_| Job {
                    duplicate: true,
                    ..job.clone()
                })
                .collect();
            jobs.push(job);
            jobs.extend(copies);
        }
        if policy.reorder {
            jobs.shuffle(&mut st.rng);
        }
        (jobs, policy.delay, st.delivery_timeout)
    };

    // Each delivery is its own task (as Webex's senders are separate machines): polled
    // together in the caller's task, their work would share one core.
    futures::stream::iter(jobs)
        .map(|job| {
            let shared = std::sync::Arc::clone(shared);
            tokio::spawn(async move { send(&shared, job, delay, timeout).await })
        })
        .buffer_unordered(concurrency.max(1))
        .for_each(|_| async {})
        .await;
}

/// Sends one planned delivery (unless its webhook turned inactive meanwhile), counts a
/// failure toward deactivation and records the attempt.
async fn send(shared: &SharedRef, job: Job, delay: std::time::Duration, timeout: std::time::Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let still_active = {
        let st = shared.lock();
        st.webhooks
            .iter()
            .any(|e| e.hook.id == job.webhook_id && e.hook.status == "active")
    };
    let outcome = if still_active {
        let mut request = shared
            .http
            .post(&job.target_url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(job.body.clone());
        if let Some(secret) = &job.secret {
            request = request.header(SIGNATURE_HEADER, sign(secret, job.body.as_bytes()));
        }
        match request.send().await {
            Ok(resp) => DeliveryOutcome::Response {
                status: resp.status().as_u16(),
            },
            Err(e) => DeliveryOutcome::ConnectionError { error: e.to_string() },
        }
    } else {
        DeliveryOutcome::Skipped
    };
    let mut st = shared.lock();
    let threshold = st.failure_threshold;
    if still_active && let Some(entry) = st.webhooks.iter_mut().find(|e| e.hook.id == job.webhook_id) {
        let ok = matches!(outcome, DeliveryOutcome::Response { status } if (200..300).contains(&status));
        if ok {
            entry.consecutive_failures = 0;
        } else {
            entry.consecutive_failures += 1;
            if entry.consecutive_failures >= threshold {
                entry.hook.status = "inactive".into();
            }
        }
    }
    let record = DeliveryRecord {
        seq: st.next_delivery_seq(),
        webhook_id: job.webhook_id,
        recording_id: job.recording_id,
        target_url: job.target_url,
        at: st.now(),
        duplicate: job.duplicate,
        outcome,
        body: job.body,
    };
    st.deliveries.push(record);
}
