//! People, Licenses and call-recording settings (reference §5) for the user sync.
//!
//! The simulator holds an org of [`SimPerson`]s (seeded from `users.json`: every cast
//! member has Webex Calling Professional and recording `Always`) that tests and
//! benchmarks grow ([`SyntheticOrg`], 100,000 users in well under a second) and change.
//!
//! Routes:
//! - `GET /v1/people?callingData=&max=&excludeStatus=` (`spark-admin:people_read`):
//!   ordered by id, `max` ≤ 100 with `callingData=true` (else ≤ 1000), `Link rel="next"`
//!   with an opaque `cursor` (the position after the page's last id, so pages stay
//!   consistent when people are added or removed between pages).
//! - `GET /v1/licenses` (`spark-admin:licenses_read`).
//! - `GET /v1/telephony/config/callRecording/vendorUsers?max=&start=`
//!   (`spark-admin:telephony_config_read`): the people whose recording is enabled
//!   (assigned to the org's recording vendor), `max` ≤ 2000 (default 2000), `start`
//!   offset, `Link rel="next"` when more remain. Their `record` mode is not listed.
//! - `GET /v1/people/{id}/features/callRecording` (`spark-admin:people_read`).
//! - `GET /v1/adminAudit/events?orgId=&from=&to=&max=&offset=` (`audit:events_read`):
//!   the admin audit events created in `[from, to)`, oldest first, `max` ≤ 1000 (default
//!   100), `Link rel="next"` with the next `offset`. `orgId`, `from` and `to` are
//!   required (`400` without them), another org is `403`. Every change of a person's
//!   call-recording setting made through [`crate::RunningWebexSim::update_person`] or
//!   `upsert_people` records one event ([`record_setting_change`]). The event's wording
//!   is this project's working assumption (docs/user-sync.md): the real event names for
//!   call-recording changes are not confirmed by the reference.

use std::ops::Bound;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::{Caller, parse_query};
use crate::scenario::FixtureUser;
use crate::state::{SharedRef, State as SimState, webex_id};

pub const PEOPLE_READ: &str = "spark-admin:people_read";
pub const LICENSES_READ: &str = "spark-admin:licenses_read";
pub const TELEPHONY_CONFIG_READ: &str = "spark-admin:telephony_config_read";
pub const AUDIT_EVENTS_READ: &str = "audit:events_read";

/// `eventCategory` of the audit event a call-recording change records.
pub const AUDIT_CATEGORY_USERS: &str = "USERS";
/// `eventDescription` of that event (working assumption, see the module docs).
pub const AUDIT_RECORDING_DESCRIPTION: &str = "User call recording settings modified";
/// Audit events per page, at most.
const AUDIT_PAGE_MAX: usize = 1000;

/// Internal key of the default Webex Calling Professional license.
pub const PROFESSIONAL_LICENSE: &str = "wxc-professional-1";
/// Internal key of the default Webex Calling Basic license.
pub const BASIC_LICENSE: &str = "wxc-basic-1";
/// Internal key of the default Webex Calling Workspaces license.
pub const WORKSPACES_LICENSE: &str = "wxc-workspaces-1";

/// `record` values of the call-recording setting.
pub const RECORD_ALWAYS: &str = "Always";
pub const RECORD_NEVER: &str = "Never";

/// A license of the simulated org. Its public id is the base64 REST id of `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimLicense {
    pub key: String,
    pub name: String,
    pub subscription_id: String,
    pub total_units: u64,
}

impl SimLicense {
    pub fn new(key: &str, name: &str, subscription_id: &str) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            subscription_id: subscription_id.into(),
            total_units: 1_000_000,
        }
    }
}

/// The licenses a fresh simulator has: one Professional, Basic and Workspaces each.
pub fn default_licenses() -> Vec<SimLicense> {
    vec![
        SimLicense::new(PROFESSIONAL_LICENSE, "Webex Calling - Professional", "Sub-A"),
        SimLicense::new(BASIC_LICENSE, "Webex Calling - Basic", "Sub-A"),
        SimLicense::new(WORKSPACES_LICENSE, "Webex Calling - Workspaces", "Sub-A"),
    ]
}

/// A person's call-recording setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimRecording {
    /// Recording enabled: the person is on the vendor roster (`vendorUsers`).
    pub enabled: bool,
    /// `Always | Never | Always with Pause/Resume | On Demand with User Initiated Start`.
    pub record: String,
}

impl SimRecording {
    pub fn always() -> Self {
        Self {
            enabled: true,
            record: RECORD_ALWAYS.into(),
        }
    }
    pub fn off() -> Self {
        Self {
            enabled: false,
            record: RECORD_NEVER.into(),
        }
    }
}

/// A user of the simulated org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimPerson {
    /// Plain lowercase UUID (as recordings carry it); the API shows the base64 REST id.
    pub id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// License keys ([`SimLicense::key`]).
    #[serde(default)]
    pub licenses: Vec<String>,
    pub recording: SimRecording,
    /// `person | bot | appuser`.
    #[serde(default = "person_type")]
    pub person_type: String,
}

fn person_type() -> String {
    "person".into()
}

impl SimPerson {
    /// A Professional user with recording `Always`.
    pub fn recorded(id: &str, first: &str, last: &str, email: &str) -> Self {
        Self {
            id: id.to_ascii_lowercase(),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            display_name: Some(format!("{first} {last}").trim().into()),
            emails: vec![email.into()],
            licenses: vec![PROFESSIONAL_LICENSE.into()],
            recording: SimRecording::always(),
            person_type: person_type(),
        }
    }

    /// The base64 REST id the API shows.
    pub fn rest_id(&self) -> String {
        webex_id("PEOPLE", &self.id)
    }
}

/// A generated org: `count` users with deterministic ids and names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyntheticOrg {
    pub count: usize,
    pub seed: u64,
    /// Share holding the Professional license (the others hold Basic).
    pub professional_share: f64,
    /// Share with recording enabled and `Always`.
    pub recorded_share: f64,
}

impl Default for SyntheticOrg {
    fn default() -> Self {
        Self {
            count: 1000,
            seed: 1,
            professional_share: 1.0,
            recorded_share: 1.0,
        }
    }
}

const FIRST: &[&str] = &[
    "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan", "Morgan", "Parker",
    "Quinn", "Riley", "Sage", "Taylor",
];
const LAST: &[&str] = &[
    "Adams", "Brown", "Chen", "Diaz", "Evans", "Garcia", "Hughes", "Ito", "Jones", "Khan", "Lopez", "Meyer", "Novak",
    "Okafor", "Patel", "Rossi",
];

/// The deterministic id of generated user `index` of `seed`.
pub fn synthetic_id(seed: u64, index: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64).wrapping_add(0xD1B5_4A32_D192_ED03);
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// The users of `org`, in index order.
pub fn synthetic_people(org: &SyntheticOrg) -> Vec<SimPerson> {
    let mut rng = StdRng::seed_from_u64(org.seed);
    (0..org.count)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len()) % LAST.len()];
            let id = synthetic_id(org.seed, i);
            let mut p = SimPerson::recorded(
                &id,
                first,
                &format!("{last}{i}"),
                &format!("{}.{}{i}@synthetic.example", first.to_lowercase(), last.to_lowercase()),
            );
            if rng.random::<f64>() >= org.professional_share {
                p.licenses = vec![BASIC_LICENSE.into()];
            }
            if rng.random::<f64>() >= org.recorded_share {
                p.recording = SimRecording::off();
            }
            p
        })
        .collect()
}

pub(crate) fn seed_from_fixtures(st: &mut SimState, users: &[FixtureUser]) {
    for u in users {
        let p = SimPerson::recorded(&u.id, &u.first_name, &u.last_name, &u.email);
        st.people.insert(p.id.clone(), p);
    }
}

/// One admin audit event of the simulated org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimAuditEvent {
    pub id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub event_category: String,
    pub event_description: String,
    pub action_text: String,
    /// `USER` for a person.
    pub target_type: String,
    /// The base64 REST id of the person changed.
    pub target_id: String,
    pub target_name: String,
}

/// Records the audit event of a change of `p`'s call-recording setting (now as set).
pub(crate) fn record_setting_change(st: &mut SimState, p: &SimPerson) {
    let n = st.audit_events.len();
    let name = p
        .display_name
        .clone()
        .or_else(|| p.emails.first().cloned())
        .unwrap_or_else(|| p.id.clone());
    let event = SimAuditEvent {
        id: format!("audit-{n:08}"),
        created: st.now(),
        event_category: AUDIT_CATEGORY_USERS.into(),
        event_description: AUDIT_RECORDING_DESCRIPTION.into(),
        action_text: format!(
            "{} modified the call recording settings of {name}: enabled {}, record {}",
            st.admin.email, p.recording.enabled, p.recording.record
        ),
        target_type: "USER".into(),
        target_id: p.rest_id(),
        target_name: name,
    };
    st.audit_events.push(event);
}

/// The plain id behind a path id (base64 REST id or UUID).
fn plain_id(raw: &str) -> String {
    let raw = raw.trim();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.starts_with("ciscospark://"));
    match decoded {
        Some(s) => s.rsplit('/').next().unwrap_or_default().to_ascii_lowercase(),
        None => raw.to_ascii_lowercase(),
    }
}

/// `GET /v1/people/me`: the person the token was issued to, with their organisation.
pub(crate) async fn me(State(shared): State<SharedRef>, Caller(grant): Caller) -> Response {
    let mut body = json!({
        "id": webex_id("PEOPLE", &grant.account.user_id),
        "emails": [grant.account.email],
        "orgId": webex_id("ORGANIZATION", &grant.account.org_id),
        "type": "person",
    });
    let st = shared.lock();
    if let Some(p) = st.people.values().find(|p| p.id == grant.account.user_id) {
        body = person_json(&st, p, false, false);
    }
    axum::Json(body).into_response()
}

/// `GET /v1/people/{personId}` (`spark-admin:people_read`, or the caller themself):
/// one person of the org with their licenses; `404` for anyone else.
pub(crate) async fn get_person(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let st = shared.lock();
    let p = st.people.get(&plain_id(&id)).ok_or_else(ApiError::not_found)?;
    if !caller.has(PEOPLE_READ) && p.id != caller.account.user_id {
        return Err(ApiError::forbidden(
            "Reading another person's details requires spark-admin:people_read.",
        ));
    }
    Ok(axum::Json(person_json(&st, p, true, false)).into_response())
}

fn person_json(st: &SimState, p: &SimPerson, calling_data: bool, with_status: bool) -> Value {
    let mut o = json!({
        "id": p.rest_id(),
        "emails": p.emails,
        "phoneNumbers": [],
        "orgId": webex_id("ORGANIZATION", &st.org_id),
        "licenses": p.licenses.iter().map(|k| webex_id("LICENSE", k)).collect::<Vec<_>>(),
        "created": "2024-01-02T03:04:05.000Z",
        "type": p.person_type,
        "invitePending": "false",
        "loginEnabled": "true",
    });
    if let Some(obj) = o.as_object_mut() {
        for (k, v) in [
            ("displayName", &p.display_name),
            ("firstName", &p.first_name),
            ("lastName", &p.last_name),
        ] {
            if let Some(v) = v {
                obj.insert(k.into(), Value::String(v.clone()));
            }
        }
        if calling_data {
            obj.insert("locationId".into(), Value::String(webex_id("LOCATION", "hq")));
            obj.insert("extension".into(), Value::String(format!("{}", 1000 + p.id.len())));
        }
        if with_status {
            obj.insert("status".into(), Value::String("unknown".into()));
        }
    }
    o
}

fn flag(q: &std::collections::HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "Invalid {name}: {v:?}; expected true or false."
        ))),
    }
}

fn link_next(response: &mut Response, next: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, v);
    }
}

/// `GET /v1/people`.
pub(crate) async fn list_people(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !caller.has(PEOPLE_READ) {
        return Err(ApiError::forbidden(
            "Listing people of the organization requires spark-admin:people_read.",
        ));
    }
    let q = parse_query(raw.as_deref());
    let calling_data = flag(&q, "callingData")?;
    let exclude_status = flag(&q, "excludeStatus")?;
    let limit = if calling_data { 100 } else { 1000 };
    let max = match q.get("max") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=limit).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid max: {v:?}; it must be between 1 and {limit}{}.",
                    if calling_data { " when callingData is true" } else { "" }
                )));
            }
        },
    };
    let after = match q.get("cursor") {
        Some(c) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::bad_request("Invalid cursor."))?,
        ),
        None => None,
    };
    let st = shared.lock();
    let lower = match &after {
        Some(a) => Bound::Excluded(a.clone()),
        None => Bound::Unbounded,
    };
    let mut page: Vec<&SimPerson> = st
        .people
        .range((lower, Bound::Unbounded))
        .take(max + 1)
        .map(|(_, p)| p)
        .collect();
    let has_more = page.len() > max;
    page.truncate(max);
    let items: Vec<Value> = page
        .iter()
        .map(|p| person_json(&st, p, calling_data, !exclude_status))
        .collect();
    let mut response = axum::Json(json!({ "items": items, "notFoundIds": null })).into_response();
    if has_more && let Some(last) = page.last() {
        let mut next = format!("{}/v1/people?", shared.base_url);
        {
            let mut ser = url::form_urlencoded::Serializer::new(&mut next);
            ser.append_pair("callingData", &calling_data.to_string());
            ser.append_pair("max", &max.to_string());
            ser.append_pair("excludeStatus", &exclude_status.to_string());
            ser.append_pair(
                "cursor",
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.id),
            );
        }
        link_next(&mut response, &next);
    }
    Ok(response)
}

/// `GET /v1/licenses`.
pub(crate) async fn list_licenses(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    if !caller.has(LICENSES_READ) {
        return Err(ApiError::forbidden(
            "Listing licenses requires spark-admin:licenses_read.",
        ));
    }
    let st = shared.lock();
    let items: Vec<Value> = st
        .licenses
        .iter()
        .map(|l| {
            let consumed = st.people.values().filter(|p| p.licenses.contains(&l.key)).count();
            json!({
                "id": webex_id("LICENSE", &l.key),
                "name": l.name,
                "totalUnits": l.total_units,
                "consumedUnits": consumed,
                "consumedByUsers": consumed,
                "consumedByWorkspaces": 0,
                "subscriptionId": l.subscription_id,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "items": items })).into_response())
}

/// `GET /v1/telephony/config/callRecording/vendorUsers`.
pub(crate) async fn vendor_users(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !caller.has(TELEPHONY_CONFIG_READ) {
        return Err(ApiError::forbidden(
            "Reading call recording vendor users requires spark-admin:telephony_config_read.",
        ));
    }
    let q = parse_query(raw.as_deref());
    let number = |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| -> Result<usize, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}: {v:?}."))),
        }
    };
    let max = number("max", 2000, 1..=2000)?;
    let start = number("start", 0, 0..=usize::MAX)?;
    let st = shared.lock();
    let professional: Vec<&str> = st
        .licenses
        .iter()
        .filter(|l| l.name.to_lowercase().contains("professional"))
        .map(|l| l.key.as_str())
        .collect();
    let mut members: Vec<Value> = st
        .people
        .values()
        .filter(|p| p.recording.enabled)
        .skip(start)
        .take(max + 1)
        .map(|p| {
            let pro = p.licenses.iter().any(|k| professional.contains(&k.as_str()));
            json!({
                "id": p.rest_id(),
                "firstName": p.first_name,
                "lastName": p.last_name,
                "type": "PEOPLE",
                "licenseType": if pro { "PROFESSIONAL_USER" } else { "BASIC_USER" },
            })
        })
        .collect();
    let has_more = members.len() > max;
    members.truncate(max);
    let mut response =
        axum::Json(json!({ "vendorId": webex_id("VENDOR", "webex"), "members": members })).into_response();
    if has_more {
        let next = format!(
            "{}/v1/telephony/config/callRecording/vendorUsers?max={max}&start={}",
            shared.base_url,
            start + max
        );
        link_next(&mut response, &next);
    }
    Ok(response)
}

/// `GET /v1/adminAudit/events`.
pub(crate) async fn admin_audit_events(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    if !caller.has(AUDIT_EVENTS_READ) {
        return Err(ApiError::forbidden(
            "Listing admin audit events requires audit:events_read and a full administrator.",
        ));
    }
    let q = parse_query(raw.as_deref());
    let time = |name: &str| -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
        let v = q
            .get(name)
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required.")))?;
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| ApiError::bad_request(format!("Invalid {name}: {v:?}.")))
    };
    let (from, to) = (time("from")?, time("to")?);
    if from >= to {
        return Err(ApiError::bad_request("from must be before to."));
    }
    let number = |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| -> Result<usize, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}: {v:?}."))),
        }
    };
    let max = number("max", 100, 1..=AUDIT_PAGE_MAX)?;
    let offset = number("offset", 0, 0..=usize::MAX)?;
    let st = shared.lock();
    let org = q
        .get("orgId")
        .ok_or_else(|| ApiError::bad_request("orgId is required."))?;
    if plain_id(org) != st.org_id.to_ascii_lowercase() {
        return Err(ApiError::forbidden("The organization is not the caller's."));
    }
    let mut page: Vec<Value> = st
        .audit_events
        .iter()
        .filter(|e| from <= e.created && e.created < to)
        .skip(offset)
        .take(max + 1)
        .map(|e| {
            json!({
                "id": e.id,
                "created": e.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "actorId": webex_id("PEOPLE", &st.admin.id),
                "actorOrgId": webex_id("ORGANIZATION", &st.org_id),
                "data": {
                    "actorOrgName": "Simulated Org",
                    "actorName": "Admin",
                    "actorEmail": st.admin.email,
                    "adminRoles": ["Full_Admin"],
                    "trackingId": format!("ATLAS_{}", e.id),
                    "eventCategory": e.event_category,
                    "eventDescription": e.event_description,
                    "actionText": e.action_text,
                    "targetType": e.target_type,
                    "targetId": e.target_id,
                    "targetName": e.target_name,
                    "targetOrgId": webex_id("ORGANIZATION", &st.org_id),
                },
            })
        })
        .collect();
    let has_more = page.len() > max;
    page.truncate(max);
    let mut response = axum::Json(json!({ "items": page })).into_response();
    if has_more {
        let mut next = format!("{}/v1/adminAudit/events?", shared.base_url);
        {
            let mut ser = url::form_urlencoded::Serializer::new(&mut next);
            ser.append_pair("orgId", org);
            ser.append_pair("from", &from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            ser.append_pair("to", &to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            ser.append_pair("max", &max.to_string());
            ser.append_pair("offset", &(offset + max).to_string());
        }
        link_next(&mut response, &next);
    }
    Ok(response)
}

/// `GET /v1/people/{id}/features/callRecording`.
pub(crate) async fn call_recording(
    State(shared): State<SharedRef>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !caller.has(PEOPLE_READ) {
        return Err(ApiError::forbidden(
            "Reading a person's call recording settings requires spark-admin:people_read.",
        ));
    }
    let st = shared.lock();
    let p = st.people.get(&plain_id(&id)).ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(json!({
        "enabled": p.recording.enabled,
        "record": p.recording.record,
        "recordVoicemailEnabled": false,
        "startStopAnnouncementEnabled": false,
        "notification": { "enabled": false, "type": "None" },
        "repeat": { "interval": 15, "enabled": false },
        "serviceProvider": "WSWYZ25455",
        "externalGroup": "WSWYZ25455L31161",
        "externalIdentifier": format!("{}@sim.bcld.webex.com", &p.id[..8.min(p.id.len())]),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_ids_are_distinct_uuids_and_stable() {
        let a = synthetic_id(7, 0);
        assert_eq!(a, synthetic_id(7, 0));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        let ids: std::collections::BTreeSet<String> = (0..20_000).map(|i| synthetic_id(7, i)).collect();
        assert_eq!(ids.len(), 20_000);
    }

    #[test]
    fn shares_shape_the_generated_org() {
        let org = SyntheticOrg {
            count: 2000,
            seed: 3,
            professional_share: 0.5,
            recorded_share: 1.0,
        };
        let people = synthetic_people(&org);
        let pro = people.iter().filter(|p| p.licenses == [PROFESSIONAL_LICENSE]).count();
        assert!((800..1200).contains(&pro), "{pro}");
        assert!(people.iter().all(|p| p.recording.enabled));
    }

    #[test]
    fn path_ids_may_be_rest_ids_or_uuids() {
        let p = SimPerson::recorded("3F6C2A1E-8B4D-4C7A-9E21-5D0B7F3A9C11", "A", "B", "a@b");
        assert_eq!(plain_id(&p.rest_id()), "3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11");
        assert_eq!(plain_id("3F6C2A1E-8B4D-4C7A-9E21-5D0B7F3A9C11"), p.id);
    }
}
