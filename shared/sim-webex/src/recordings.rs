//! Converged recordings (§1.3–1.5), metadata (§2.1) and the audio download route.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::{ADMIN_READ, COMPLIANCE_READ, USER_READ};
use crate::error::ApiError;
use crate::identity::{Caller, parse_query};
use crate::scenario::{RecordingSummary, hide_detail, summary_field};
use crate::state::{Grant, SharedRef, StoredRecording, Ticket, to_chrono};

const ANY_READ: &[&str] = &[COMPLIANCE_READ, ADMIN_READ, USER_READ];
const MEDIA_PATH: &str = "/nbr/MultiThreadDownloadServlet";

fn parse_instant(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request(format!("Invalid {name}: {v:?} is not an ISO 8601 date-time.")))
}

fn one_of(name: &str, v: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid {name}: {v:?}; expected one of {}.",
            allowed.join(", ")
        )))
    }
}

/// Position after the last item of a page: (createTime ms, id), base64url.
fn encode_cursor(summary: &RecordingSummary) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        summary.create_time.timestamp_millis(),
        summary.id
    ))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ms, id) = text.split_once('|')?;
    Some((ms.parse().ok()?, id.to_owned()))
}

/// Newest first; equal createTimes ordered by id (descending) so pages never overlap.
fn sort_key(s: &RecordingSummary) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<String>) {
    (
        std::cmp::Reverse(s.create_time.timestamp_millis()),
        std::cmp::Reverse(s.id.clone()),
    )
}

/// Filter parameters carried into the next link (besides from, to, max, cursor).
const FILTERS: &[&str] = &[
    "status",
    "serviceType",
    "format",
    "ownerId",
    "ownerEmail",
    "ownerType",
    "storageRegion",
    "locationId",
    "topic",
];

pub(crate) async fn list_admin(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !caller.has_any(&[COMPLIANCE_READ, ADMIN_READ]) {
        return Err(ApiError::forbidden(
            "Listing recordings for the organization requires spark-admin:recordings_read or spark-compliance:recordings_read.",
        ));
    }
    if shared.lock().compliance_role_revoked && caller.has(COMPLIANCE_READ) {
        return Err(compliance_role_missing());
    }
    list(&shared, &caller, raw.as_deref(), true)
}

pub(crate) async fn list_own(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !caller.has_any(ANY_READ) {
        return Err(ApiError::forbidden(
            "Listing recordings requires a recordings_read scope.",
        ));
    }
    list(&shared, &caller, raw.as_deref(), false)
}

fn list(shared: &SharedRef, caller: &Grant, raw: Option<&str>, admin: bool) -> Result<Response, ApiError> {
    let q = parse_query(raw);
    let st = shared.lock();
    let now = st.now();

    let max = match q.get("max") {
        None => 10,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid max: {v:?}; it must be between 1 and 100."
                )));
            }
        },
    } as usize;
    let from = q.get("from").map(|v| parse_instant("from", v)).transpose()?;
    let to = q.get("to").map(|v| parse_instant("to", v)).transpose()?;
    let week = ChronoDuration::days(7);
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f + week),
        (None, Some(t)) => (t - week, t),
        (None, None) => (now - week, now),
    };
    if from >= to {
        return Err(ApiError::bad_request("Invalid time range: from must be before to."));
    }
    if admin && to - from > ChronoDuration::days(30) {
        return Err(ApiError::bad_request(
            "Invalid time range: the interval between from and to must be within 30 days.",
        ));
    }
    let status = q.get("status").map(String::as_str).unwrap_or("available");
    one_of(
        "status",
        status,
        if admin {
            &["available", "deleted", "purged"]
        } else {
            &["available", "deleted"]
        },
    )?;
    if let Some(v) = q.get("serviceType") {
        one_of("serviceType", v, &["calling", "customerAssist"])?;
    }
    if let Some(v) = q.get("format") {
        one_of("format", v, &["MP3"])?;
    }
    if let Some(v) = q.get("ownerType") {
        one_of("ownerType", v, &["user", "place", "virtualLine", "callQueue"])?;
    }
    if let Some(v) = q.get("storageRegion") {
        one_of("storageRegion", v, &["US", "SG", "GB", "JP", "DE", "AU", "IN", "CA"])?;
    }
    if !admin && (q.contains_key("ownerId") || q.contains_key("ownerEmail")) {
        return Err(ApiError::bad_request(
            "ownerId and ownerEmail are only supported on the admin endpoint.",
        ));
    }
    let after = match q.get("cursor") {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::bad_request("Invalid cursor."))?),
        None => None,
    };

    let matches = |r: &StoredRecording| -> bool {
        let s = &r.summary;
        if r.available_at > now || s.status != status || s.create_time < from || s.create_time >= to {
            return false;
        }
        if !admin && s.owner_id != caller.account.user_id {
            return false;
        }
        for key in FILTERS.iter().filter(|k| **k != "status") {
            let Some(wanted) = q.get(*key) else { continue };
            let actual = summary_field(s, key).unwrap_or_default();
            let ok = match *key {
                "topic" => actual.to_lowercase().contains(&wanted.to_lowercase()),
                "ownerEmail" => actual.eq_ignore_ascii_case(wanted),
                _ => &actual == wanted,
            };
            if !ok {
                return false;
            }
        }
        true
    };
    let mut items: Vec<&RecordingSummary> = st
        .recordings
        .values()
        .filter(|r| matches(r))
        .map(|r| &r.summary)
        .collect();
    items.sort_by_key(|s| sort_key(s));
    if let Some((ms, id)) = &after {
        let cursor_key = (std::cmp::Reverse(*ms), std::cmp::Reverse(id.clone()));
        items.retain(|s| sort_key(s) > cursor_key);
    }
    let has_more = items.len() > max;
    items.truncate(max);

    let mut response = axum::Json(json!({ "items": items })).into_response();
    if has_more && let Some(last) = items.last() {
        let path = if admin {
            "/v1/admin/convergedRecordings"
        } else {
            "/v1/convergedRecordings"
        };
        let mut next = format!("{}{}?", shared.base_url, path);
        {
            let mut ser = url::form_urlencoded::Serializer::new(&mut next);
            ser.append_pair("from", &from.to_rfc3339_opts(SecondsFormat::Millis, true));
            ser.append_pair("to", &to.to_rfc3339_opts(SecondsFormat::Millis, true));
            ser.append_pair("max", &max.to_string());
            for key in FILTERS {
                if let Some(v) = q.get(*key) {
                    ser.append_pair(key, v);
                }
            }
            ser.append_pair("cursor", &encode_cursor(last));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// What Webex answers a compliance-scoped call when the user lost the role.
fn compliance_role_missing() -> ApiError {
    ApiError::forbidden("The user does not have the Compliance Officer role required for this operation.")
}

/// Looks a recording up for `caller`: user-scope callers only see their own.
fn readable<'a>(st: &'a crate::state::State, caller: &Grant, id: &str) -> Result<&'a StoredRecording, ApiError> {
    if !caller.has_any(ANY_READ) {
        return Err(ApiError::forbidden(
            "Reading recordings requires a recordings_read scope.",
        ));
    }
    if st.compliance_role_revoked && caller.has(COMPLIANCE_READ) {
        return Err(compliance_role_missing());
    }
    let rec = st.visible(id).ok_or_else(ApiError::not_found)?;
    if !caller.has_any(&[COMPLIANCE_READ, ADMIN_READ]) && rec.summary.owner_id != caller.account.user_id {
        return Err(ApiError::not_found());
    }
    Ok(rec)
}

pub(crate) async fn details(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut st = shared.lock();
    let rec = readable(&st, &caller, &id)?;
    let mut body = serde_json::to_value(&rec.summary)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let links_allowed = caller.has(COMPLIANCE_READ) && !rec.prevent_download;
    if links_allowed {
        let ticket = st.random_token(48);
        let now = st.now();
        let expires_at = now + to_chrono(st.link_lifetime);
        st.tickets.insert(
            ticket.clone(),
            Ticket {
                recording_id: id.clone(),
                expires_at,
            },
        );
        let mut link = format!("{}{}?", shared.base_url, MEDIA_PATH);
        url::form_urlencoded::Serializer::new(&mut link)
            .append_pair("type", "calling")
            .append_pair("orgId", &st.org_id)
            .append_pair("recordUUID", &id)
            .append_pair("ticket", &ticket)
            .append_pair("timestamp", &now.timestamp_millis().to_string());
        if let Some(obj) = body.as_object_mut() {
            obj.insert(
                "temporaryDirectDownloadLinks".into(),
                json!({
                    "audioDownloadLink": link,
                    "expiration": expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                }),
            );
        }
    }
    Ok(axum::Json(body).into_response())
}

pub(crate) async fn metadata(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_query(raw.as_deref());
    let show_all = match q.get("showAllTypes").map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "Invalid showAllTypes: {v:?}; expected true or false."
            )));
        }
    };
    let (doc, json) = {
        let st = shared.lock();
        let rec = readable(&st, &caller, &id)?;
        let ready = rec.metadata_ready_at.is_some_and(|t| t <= st.now());
        if !ready {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        (
            std::sync::Arc::clone(&rec.metadata),
            std::sync::Arc::clone(&rec.metadata_json),
        )
    };
    // Serialized once per recording, and not under the lock every request takes.
    let (all, brief) = json.get_or_init(|| {
        let bytes = |v: &Value| bytes::Bytes::from(serde_json::to_vec(v).unwrap_or_default());
        (bytes(&doc), bytes(&hide_detail(&doc)))
    });
    let body = if show_all { all.clone() } else { brief.clone() };
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /nbr/MultiThreadDownloadServlet?...&recordUUID=&ticket=`: the MP3, no bearer
/// needed (the ticket authorises). Unknown, expired or mismatched tickets: `403`.
pub(crate) async fn media(State(shared): State<SharedRef>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = parse_query(raw.as_deref());
    let mut st = shared.lock();
    let denied = || ApiError::forbidden("The download link is invalid or has expired.");
    if st.link_expired {
        return Err(denied());
    }
    let ticket = q.get("ticket").and_then(|t| st.tickets.get(t)).ok_or_else(denied)?;
    if ticket.expires_at <= st.now() || q.get("recordUUID") != Some(&ticket.recording_id) {
        return Err(denied());
    }
    let rec = st
        .recordings
        .get(&ticket.recording_id)
        .ok_or_else(ApiError::not_found)?;
    let bytes = rec.audio.bytes.clone();
    let recording_id = ticket.recording_id.clone();
    if let Some(bad) = st.bad_downloads.pop_front() {
        drop(st);
        let (body, kind) = match bad {
            crate::state::BadDownload::Empty => (bytes::Bytes::new(), "audio/mpeg"),
            crate::state::BadDownload::Html => (
                bytes::Bytes::from_static(
                    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>Try again later.</body></html>",
                ),
                "text/html; charset=utf-8",
            ),
            crate::state::BadDownload::Truncated => (bytes.slice(..bytes.len() / 2), "audio/mpeg"),
        };
        let declared = if bad == crate::state::BadDownload::Truncated {
            bytes.len()
        } else {
            body.len()
        };
        // Streamed, so the announced length may differ from what is sent.
        let mut response =
            axum::body::Body::from_stream(futures::stream::iter([Ok::<_, std::io::Error>(body)])).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
        return Ok(response);
    }
    let stall = st.stall_downloads > 0;
    if stall {
        st.stall_downloads -= 1;
        st.injected.stalled_downloads += 1;
    }
    drop(st);
    let mut response = if stall {
        // Half the audio, then silence with the connection open: a stalled transfer.
        let half = bytes.slice(..bytes.len() / 2);
        let body = futures::StreamExt::chain(
            futures::stream::iter([Ok::<_, std::io::Error>(half)]),
            futures::stream::pending(),
        );
        axum::body::Body::from_stream(body).into_response()
    } else {
        bytes.clone().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{recording_id}.mp3\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

pub(crate) fn media_path() -> &'static str {
    MEDIA_PATH
}
