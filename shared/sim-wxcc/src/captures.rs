//! `POST /v1/captures/query` (reference §3.1) and the presigned downloads it hands out
//! (`GET /sim-media/{ticket}`).
//!
//! A task's captures are listed once `capture delay` has passed since it ended
//! (simulator clock); before that, and for unknown tasks or tasks without captures, its
//! `data[]` element has `recording: []`. Every `filePath` is `{base}/sim-media/{ticket}`
//! (plus S3-like `X-Amz-*` query parameters), `base` taken from the request's `Host`;
//! it stops working `urlExpiration` minutes later and then answers `403` with S3's
//! `AccessDenied` XML body.
//!
//! UNCONFIRMED choices:
//! - `includeSegments: true` replaces the stitched main capture by its segments
//!   (`segment: true`, `callType: main`, files `recording-N.wav`), split where the call
//!   was handed to another agent; a main capture without hand-over is one segment.
//!   Segment ids are derived from the capture id (stable across queries).
//! - `taskIds` must be non-empty; `urlExpiration` must be 1..=60; both → `400`.
//! - Captures are listed only once their task has ended (the reference says captures
//!   also exist for open voice tasks; the simulator does not model that).
//! - `transcription` is always `[]`; `includeVARecordings` is accepted, no VA captures exist.
//! - The media route answers `Range` requests (single range) with `206`.
//! - `base` is `http://{Host}`; `X-Forwarded-Proto` is honoured when present.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::tasks::{CallType, SimRecording, SimTask, TaskPlane, TaskRoute, issue_link, to_chrono};
use crate::wav::WavSource;

/// Most task ids per query.
pub const MAX_TASK_IDS: usize = 10;
/// Longest link validity, minutes (also the default).
pub const MAX_URL_EXPIRATION: i64 = 60;
/// Bytes per streamed chunk of a download.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
struct QueryBody {
    query: Query,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    org_id: Option<String>,
    task_ids: Vec<String>,
    url_expiration: Option<i64>,
    #[serde(default)]
    include_segments: bool,
    #[serde(default, rename = "includeVARecordings")]
    _include_va_recordings: bool,
}

/// The WxCC error body (reference §1.4).
pub(crate) fn api_error(status: StatusCode, headers: &HeaderMap, description: &str) -> Response {
    let tracking = headers
        .get("TrackingId")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("SIM_{}", uuid::Uuid::new_v4()));
    let body = json!({
        "trackingId": tracking,
        "error": { "key": status.as_u16().to_string(), "message": [ { "description": description } ] }
    });
    (status, axum::Json(body)).into_response()
}

/// `http://{Host}` (or the forwarded scheme).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("X-Forwarded-Proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A stable UUID-shaped id derived from `base` and `salt`.
pub(crate) fn derived_id(base: &str, salt: &str) -> String {
    let digest = Sha256::digest(format!("{base}/{salt}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn recording_json(
    rec: &SimRecording,
    id: String,
    segment: bool,
    file_name: String,
    span: (DateTime<Utc>, DateTime<Utc>),
    file_path: String,
) -> Value {
    let mut attributes = json!({
        "fileName": file_name,
        "filePath": file_path,
        "startTime": span.0.timestamp_millis(),
        "stopTime": span.1.timestamp_millis(),
        "participants": rec.participants,
        "channel1": rec.channel1,
        "callType": rec.call_type.as_str(),
        "sensitive": rec.sensitive,
    });
    if let (Some(c2), Some(obj)) = (&rec.channel2, attributes.as_object_mut()) {
        obj.insert("channel2".into(), c2.clone().into());
    }
    json!({ "id": id, "segment": segment, "attributes": attributes })
}

pub(crate) async fn handle(State(plane): State<TaskPlane>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(status) = plane.admit(TaskRoute::Captures) {
        return api_error(status, &headers, "Injected fault.");
    }
    let parsed: QueryBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return api_error(StatusCode::BAD_REQUEST, &headers, &format!("Invalid request body: {e}"));
        }
    };
    let q = parsed.query;
    if q.task_ids.is_empty() {
        return api_error(StatusCode::BAD_REQUEST, &headers, "taskIds must not be empty.");
    }
    if q.task_ids.len() > MAX_TASK_IDS {
        return api_error(
            StatusCode::BAD_REQUEST,
            &headers,
            &format!(
                "taskIds can contain at most {MAX_TASK_IDS} ids; got {}.",
                q.task_ids.len()
            ),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = q.task_ids.iter().find(|id| !seen.insert(id.as_str())) {
        return api_error(
            StatusCode::BAD_REQUEST,
            &headers,
            &format!("taskIds must be unique; {dup:?} appears twice."),
        );
    }
    let minutes = q.url_expiration.unwrap_or(MAX_URL_EXPIRATION);
    if !(1..=MAX_URL_EXPIRATION).contains(&minutes) {
        return api_error(
            StatusCode::BAD_REQUEST,
            &headers,
            &format!("urlExpiration must be between 1 and {MAX_URL_EXPIRATION} minutes; got {minutes}."),
        );
    }
    let base = base_url(&headers);
    let now = plane.clock().now();
    let mut guard = plane.inner.lock();
    let st = &mut *guard;
    let delay = to_chrono(st.capture_delay);
    let org_id = q.org_id.clone().unwrap_or_else(|| st.org_id.clone());
    let mut data = Vec::with_capacity(q.task_ids.len());
    for task_id in &q.task_ids {
        let task: Option<std::sync::Arc<SimTask>> = st.tasks.get(task_id).cloned();
        let mut recordings = Vec::new();
        if let Some(task) = task.filter(|t| t.expects_capture() && t.ended_time + delay <= now) {
            for rec in &task.recordings {
                if rec.call_type == CallType::Main && q.include_segments {
                    for (n, span) in rec.segments().into_iter().enumerate() {
                        let url = issue_link(st, &base, rec, span.0, span.1, minutes, now);
                        let id = derived_id(&rec.id, &format!("segment-{}", n + 1));
                        recordings.push(recording_json(
                            rec,
                            id,
                            true,
                            format!("recording-{}.wav", n + 1),
                            span,
                            url,
                        ));
                    }
                } else {
                    let url = issue_link(st, &base, rec, rec.start_time, rec.stop_time, minutes, now);
                    recordings.push(recording_json(
                        rec,
                        rec.id.clone(),
                        false,
                        rec.file_name.clone(),
                        (rec.start_time, rec.stop_time),
                        url,
                    ));
                }
            }
        }
        data.push(json!({ "taskId": task_id, "recording": recordings, "transcription": [] }));
    }
    drop(guard);
    axum::Json(json!({ "meta": { "orgId": org_id, "urlExpiration": minutes }, "data": data })).into_response()
}

/// S3's error document.
fn s3_error(code: &str, message: &str, extra: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        &request_id[..16],
        request_id
    );
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// A parsed single `Range: bytes=...`: `Ok(None)` = no range, `Err(())` = unsatisfiable.
fn parse_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        // Not a byte range: ignored, as HTTP allows.
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: answered with the whole file, as HTTP allows.
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (start, "") => (start.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (start, end) => {
            let s: u64 = start.parse().map_err(|_| ())?;
            let e: u64 = end.parse().map_err(|_| ())?;
            if e < s {
                return Err(());
            }
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Streams `[start, end]` (inclusive) of the file in fixed-size chunks.
fn stream_body(source: WavSource, start: u64, end: u64) -> Body {
    let stream = futures::stream::unfold(start, move |pos| {
        let source = source.clone();
        async move {
            if pos > end {
                return None;
            }
            let want = usize::try_from((end - pos + 1).min(CHUNK as u64)).unwrap_or(CHUNK);
            let chunk = source.read_at(pos, want);
            if chunk.is_empty() {
                return None;
            }
            let next = pos + chunk.len() as u64;
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
        }
    });
    Body::from_stream(stream)
}

pub(crate) async fn media(State(plane): State<TaskPlane>, Path(ticket): Path<String>, headers: HeaderMap) -> Response {
    if let Some(status) = plane.admit(TaskRoute::Media) {
        let mut r = s3_error(
            "InternalError",
            "We encountered an internal error. Please try again.",
            "",
        );
        *r.status_mut() = status;
        return r;
    }
    let now = plane.clock().now();
    let found = plane.inner.lock().tickets.get(&ticket).cloned();
    let Some(t) = found else {
        return s3_error("AccessDenied", "Access Denied", "");
    };
    if t.expires_at <= now {
        let extra = format!(
            "<X-Amz-Expires>{}</X-Amz-Expires><Expires>{}</Expires><ServerTime>{}</ServerTime>",
            t.advertised_secs,
            (t.issued_at + chrono::Duration::seconds(t.advertised_secs)).to_rfc3339_opts(SecondsFormat::Secs, true),
            now.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        return s3_error("AccessDenied", "Request has expired", &extra);
    }
    let len = t.source.len();
    let range = match parse_range(&headers, len) {
        Ok(r) => r,
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let (status, start, end) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
    };
    let mut response = (status, stream_body(t.source, start, end)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", t.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
