//! Users, teams and queues (§4): the data model, the paged v2 lists and
//! `/v2/user/by-ci-user-id/{ciUserId}`.
//!
//! Choices where the reference is UNCONFIRMED:
//! - Items are listed by (`createdTime`, `id`), so pages stay stable while items change.
//! - `pageSize` above [`crate::ApiLimits::max_page_size`] (1000) is clamped silently; a
//!   page past the last answers `200` with empty `data`.
//! - `meta.links` are paths with query (`/organization/{orgId}/v2/user?page=1&pageSize=100`),
//!   relative to the regional base URL; `next` is absent on the last page, `prev` on the
//!   first; with no records `totalPages` is 0 and `last` names page 0.
//! - A user without a name has no `firstName`/`lastName` keys at all.
//! - `ciUserId` differs from `id` for generated users (the reference does not say they
//!   are equal, so clients must not assume it).
//! - Every item carries two fields the reference does not list (users: `imiUserCreated`,
//!   `simExtension`; teams: `teamMembershipSource`, `simExtension`; queues:
//!   `checkAgentAvailability`, `simExtension`): clients must tolerate new fields.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::{SharedRef, State as SimState};
use wfo_sim_identity::parse_query;

/// Which configuration list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConfigKind {
    Users,
    Teams,
    Queues,
}

impl ConfigKind {
    fn segment(self) -> &'static str {
        match self {
            ConfigKind::Users => "user",
            ConfigKind::Teams => "team",
            ConfigKind::Queues => "contact-service-queue",
        }
    }
    fn name(self) -> &'static str {
        match self {
            ConfigKind::Users => "user",
            ConfigKind::Teams => "team",
            ConfigKind::Queues => "queue",
        }
    }
}

/// How a listed item is broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Corruption {
    /// `firstName` (users) or `name` (teams, queues) is a number.
    NameNotString,
    /// The item has no `id`.
    MissingId,
    /// The item is a string instead of an object.
    NotAnObject,
}

/// A Contact Center user as `GET /organization/{orgId}/v2/user` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUser {
    pub id: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    pub email: String,
    pub ci_user_id: String,
    pub contact_center_enabled: bool,
    pub active: bool,
    pub team_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// `ADMINISTRATOR`, `SUPERVISOR`, `PREMIUM_AGENT`, `STANDARD_AGENT`, …
    pub user_profile_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Epoch ms. `0` on upsert: stamped with the simulator clock.
    pub created_time: i64,
    /// Epoch ms. `0` on upsert: stamped with the simulator clock.
    pub last_updated_time: i64,
}

impl SimUser {
    /// An active, Contact-Center-enabled standard agent without team or site; `ciUserId`
    /// equals `id`, times are stamped on upsert.
    pub fn new(id: &str, first_name: &str, last_name: &str, email: &str) -> Self {
        Self {
            id: id.to_owned(),
            version: 1,
            first_name: Some(first_name.to_owned()),
            last_name: Some(last_name.to_owned()),
            email: email.to_owned(),
            ci_user_id: id.to_owned(),
            contact_center_enabled: true,
            active: true,
            team_ids: Vec::new(),
            site_id: None,
            site_name: None,
            user_profile_type: "STANDARD_AGENT".to_owned(),
            timezone: None,
            created_time: 0,
            last_updated_time: 0,
        }
    }
}

/// A team as `GET /organization/{orgId}/v2/team` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimTeam {
    pub id: String,
    pub version: u64,
    pub name: String,
    /// `AGENT` or `CAPACITY`.
    pub team_type: String,
    /// `IN_SERVICE` or `NOT_AVAILABLE`.
    pub team_status: String,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    pub user_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_time: i64,
    pub last_updated_time: i64,
}

impl SimTeam {
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            version: 1,
            name: name.to_owned(),
            team_type: "AGENT".to_owned(),
            team_status: "IN_SERVICE".to_owned(),
            active: true,
            site_id: None,
            site_name: None,
            user_ids: Vec::new(),
            description: None,
            created_time: 0,
            last_updated_time: 0,
        }
    }
}

/// A queue as `GET /organization/{orgId}/v2/contact-service-queue` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimQueue {
    pub id: String,
    pub version: u64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `INBOUND` or `OUTBOUND`.
    pub queue_type: String,
    /// `TELEPHONY`, `EMAIL`, `CHAT`, `SOCIAL_CHANNEL`.
    pub channel_type: String,
    pub active: bool,
    pub routing_type: String,
    pub recording_permitted: bool,
    pub recording_all_calls_permitted: bool,
    pub service_level_threshold: u32,
    pub max_time_in_queue: u32,
    pub created_time: i64,
    pub last_updated_time: i64,
}

impl SimQueue {
    pub fn new(id: &str, name: &str, channel_type: &str) -> Self {
        Self {
            id: id.to_owned(),
            version: 1,
            name: name.to_owned(),
            description: None,
            queue_type: "INBOUND".to_owned(),
            channel_type: channel_type.to_owned(),
            active: true,
            routing_type: "LONGEST_AVAILABLE_AGENT".to_owned(),
            recording_permitted: true,
            recording_all_calls_permitted: true,
            service_level_threshold: 30,
            max_time_in_queue: 3600,
            created_time: 0,
            last_updated_time: 0,
        }
    }
}

/// What the three kinds have in common.
pub(crate) trait ConfigItem: Clone + Serialize {
    fn id(&self) -> &str;
    fn set_id(&mut self, id: String);
    fn created_time(&self) -> i64;
    /// Stamps zero times with `now_ms`.
    fn stamp(&mut self, now_ms: i64);
    /// A change: version + 1, `lastUpdatedTime` now.
    fn touch(&mut self, now_ms: i64);
    /// The fields the reference does not list.
    fn extra_fields() -> [(&'static str, Value); 2];
}

macro_rules! config_item {
    ($t:ty, $extra:expr) => {
        impl ConfigItem for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn set_id(&mut self, id: String) {
                self.id = id;
            }
            fn created_time(&self) -> i64 {
                self.created_time
            }
            fn stamp(&mut self, now_ms: i64) {
                if self.created_time == 0 {
                    self.created_time = now_ms;
                }
                if self.last_updated_time == 0 {
                    self.last_updated_time = self.created_time;
                }
            }
            fn touch(&mut self, now_ms: i64) {
                self.version += 1;
                self.last_updated_time = now_ms.max(self.last_updated_time + 1);
            }
            fn extra_fields() -> [(&'static str, Value); 2] {
                $extra
            }
        }
    };
}

config_item!(
    SimUser,
    [
        ("imiUserCreated", json!(false)),
        ("simExtension", json!({ "reserved": true, "level": 1 }))
    ]
);
config_item!(
    SimTeam,
    [
        ("teamMembershipSource", json!("LOCAL")),
        ("simExtension", json!({ "reserved": true, "level": 1 }))
    ]
);
config_item!(
    SimQueue,
    [
        ("checkAgentAvailability", json!(true)),
        ("simExtension", json!({ "reserved": true, "level": 1 }))
    ]
);

/// Items by id, with the listing order (`createdTime`, `id`) kept as an index.
#[derive(Debug, Clone)]
pub(crate) struct Directory<T> {
    by_id: HashMap<String, T>,
    order: BTreeSet<(i64, String)>,
}

impl<T> Default for Directory<T> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<T: ConfigItem> Directory<T> {
    pub fn upsert(&mut self, mut item: T, now_ms: i64) {
        item.stamp(now_ms);
        let key = (item.created_time(), item.id().to_owned());
        if let Some(old) = self.by_id.insert(item.id().to_owned(), item) {
            let old_key = (old.created_time(), old.id().to_owned());
            if old_key != key {
                self.order.remove(&old_key);
            }
        }
        self.order.insert(key);
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        let old = self.by_id.remove(id)?;
        self.order.remove(&(old.created_time(), old.id().to_owned()));
        Some(old)
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.by_id.get(id)
    }

    /// Applies `change` (which may not change the id), then bumps version and time.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut T), now_ms: i64) -> bool {
        let Some(mut item) = self.by_id.get(id).cloned() else {
            return false;
        };
        change(&mut item);
        item.set_id(id.to_owned());
        item.touch(now_ms);
        self.upsert(item, now_ms);
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// In listing order.
    pub fn ordered(&self) -> impl Iterator<Item = &T> {
        self.order.iter().filter_map(|(_, id)| self.by_id.get(id))
    }
}

/// A generated org (see [`synthetic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntheticOrg {
    pub users: usize,
    pub teams: usize,
    pub queues: usize,
    pub seed: u64,
}

/// The ids [`crate::RunningWxccSim::generate_org`] added, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedOrg {
    pub user_ids: Vec<String>,
    pub team_ids: Vec<String>,
    pub queue_ids: Vec<String>,
}

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luca", "Maya", "Noah",
    "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoë",
];
const LAST_NAMES: &[&str] = &[
    "Schmidt",
    "Okafor",
    "Nguyen",
    "García",
    "Müller",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Dubois",
    "O'Brien",
    "Singh",
    "Johansson",
    "Papadopoulos",
    "Silva",
    "Novák",
    "Yılmaz",
];
const SITES: &[(&str, &str)] = &[
    ("b7f1c0de-0000-4000-8000-000000000001", "Site Berlin"),
    ("b7f1c0de-0000-4000-8000-000000000002", "Site Dublin"),
    ("b7f1c0de-0000-4000-8000-000000000003", "Site Austin"),
];
const CHANNELS: &[&str] = &["TELEPHONY", "TELEPHONY", "TELEPHONY", "CHAT", "EMAIL", "SOCIAL_CHANNEL"];
/// 2024-01-01T00:00:00Z: generated items were created from here on, one after another.
const GENERATED_EPOCH_MS: i64 = 1_704_067_200_000;

/// Deterministic, realistic data: the same `seed` gives the same org. About 1 user in 23
/// has no name, 1 in 17 is not Contact-Center-enabled, 1 in 19 is inactive; users are
/// spread over the teams round-robin, and each team lists its members.
pub fn synthetic(org: &SyntheticOrg) -> (Vec<SimUser>, Vec<SimTeam>, Vec<SimQueue>) {
    let mut rng = StdRng::seed_from_u64(org.seed);
    let mut uuid = move || uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string();
    let mut teams: Vec<SimTeam> = (0..org.teams)
        .map(|i| {
            let (site_id, site_name) = SITES[i % SITES.len()];
            let created = GENERATED_EPOCH_MS + i as i64 * 60_000;
            SimTeam {
                site_id: Some(site_id.to_owned()),
                site_name: Some(site_name.to_owned()),
                active: i % 11 != 10,
                created_time: created,
                last_updated_time: created,
                ..SimTeam::new(&uuid(), &format!("Team {:03}", i + 1))
            }
        })
        .collect();
    let queues: Vec<SimQueue> = (0..org.queues)
        .map(|i| {
            let created = GENERATED_EPOCH_MS + 3_600_000 + i as i64 * 60_000;
            SimQueue {
                description: (i % 3 == 0).then(|| format!("Queue {} of the synthetic org", i + 1)),
                active: i % 13 != 12,
                recording_permitted: i % 7 != 6,
                created_time: created,
                last_updated_time: created,
                ..SimQueue::new(&uuid(), &format!("Queue {:03}", i + 1), CHANNELS[i % CHANNELS.len()])
            }
        })
        .collect();
    let mut users = Vec::with_capacity(org.users);
    for i in 0..org.users {
        let id = uuid();
        let ci = uuid();
        let first = FIRST_NAMES[(i * 7 + org.seed as usize) % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i * 5 + i / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let nameless = i % 23 == 7;
        let email = if nameless {
            format!("agent{i:05}@sim.example")
        } else {
            format!(
                "{}.{}.{i}@sim.example",
                first.to_lowercase(),
                last.to_lowercase().replace('\'', "")
            )
        };
        let team_ids = if teams.is_empty() {
            Vec::new()
        } else {
            let t = i % teams.len();
            teams[t].user_ids.push(id.clone());
            vec![teams[t].id.clone()]
        };
        let (site_id, site_name) = SITES[i % SITES.len()];
        let profile = match i {
            0 => "ADMINISTRATOR",
            _ if i % 25 == 1 => "SUPERVISOR",
            _ if i % 4 == 2 => "PREMIUM_AGENT",
            _ => "STANDARD_AGENT",
        };
        let created = GENERATED_EPOCH_MS + 86_400_000 + i as i64 * 1000;
        users.push(SimUser {
            id,
            version: 1 + (i % 3) as u64,
            first_name: (!nameless).then(|| first.to_owned()),
            last_name: (!nameless).then(|| last.to_owned()),
            email,
            ci_user_id: ci,
            contact_center_enabled: i % 17 != 3,
            active: i % 19 != 5,
            team_ids,
            site_id: Some(site_id.to_owned()),
            site_name: Some(site_name.to_owned()),
            user_profile_type: profile.to_owned(),
            timezone: Some("Europe/Berlin".to_owned()),
            created_time: created,
            last_updated_time: created,
        });
    }
    (users, teams, queues)
}

/// Parsed `page` and `pageSize`.
fn paging(raw: Option<&str>, default: u32, max: u32) -> Result<(u64, u64), ApiError> {
    let q = parse_query(raw);
    let page = match q.get("page") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid page: {v:?}; expected an integer from 0.")))?,
    };
    let size =
        match q.get("pageSize") {
            None => u64::from(default),
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid pageSize: {v:?}; expected an integer from 1."))
            })?,
        };
    Ok((page, size.min(u64::from(max.max(1)))))
}

fn corrupt(item: Value, kind: ConfigKind, how: Corruption) -> Value {
    match (how, item) {
        (Corruption::NotAnObject, _) => Value::String(format!("<corrupt {}>", kind.name())),
        (Corruption::MissingId, Value::Object(mut o)) => {
            o.remove("id");
            Value::Object(o)
        }
        (Corruption::NameNotString, Value::Object(mut o)) => {
            let key = if kind == ConfigKind::Users { "firstName" } else { "name" };
            o.insert(key.to_owned(), json!(12345));
            Value::Object(o)
        }
        (_, other) => other,
    }
}

/// One item as the API shows it: its fields, `organizationId`, the extra fields, and
/// any corruption set on it.
fn render<T: ConfigItem>(st: &SimState, kind: ConfigKind, item: &T) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("organizationId".to_owned(), json!(st.org_id));
        for (k, extra) in T::extra_fields() {
            o.insert(k.to_owned(), extra);
        }
    }
    match st.corrupted.get(&(kind, item.id().to_owned())) {
        Some(how) => corrupt(v, kind, *how),
        None => v,
    }
}

/// Answers a pending page fault for this page, if any.
fn page_fault(st: &mut SimState, kind: ConfigKind, page: u64) -> Result<(), ApiError> {
    let Some(i) = st
        .page_faults
        .iter()
        .position(|f| f.kind == kind && u64::from(f.page) == page)
    else {
        return Ok(());
    };
    let f = &mut st.page_faults[i];
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        st.page_faults.remove(i);
    }
    *st.injected.entry(status.as_u16()).or_default() += 1;
    let err = ApiError::new(status, "Something went wrong while reading this page; try again later.");
    Err(
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            err.with_retry_after(1)
        } else {
            err
        },
    )
}

fn page_of<T: ConfigItem>(st: &SimState, kind: ConfigKind, dir: &Directory<T>, page: u64, size: u64) -> Value {
    let total = dir.len() as u64;
    let total_pages = total.div_ceil(size);
    let base = format!("/organization/{}/v2/{}", st.org_id, kind.segment());
    let link = |p: u64| format!("{base}?page={p}&pageSize={size}");
    let mut links = json!({
        "self": link(page),
        "first": link(0),
        "last": link(total_pages.saturating_sub(1)),
    });
    if page + 1 < total_pages {
        links["next"] = json!(link(page + 1));
    }
    if page > 0 {
        links["prev"] = json!(link((page - 1).min(total_pages.saturating_sub(1))));
    }
    let skip = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let data: Vec<Value> = dir
        .ordered()
        .skip(skip)
        .take(take)
        .map(|i| render(st, kind, i))
        .collect();
    json!({
        "meta": {
            "orgid": st.org_id,
            "page": page,
            "pageSize": size,
            "totalPages": total_pages,
            "totalRecords": total,
            "links": links,
        },
        "data": data,
    })
}

fn list(shared: &SharedRef, kind: ConfigKind, raw: Option<&str>) -> Result<Response, ApiError> {
    let mut st = shared.lock();
    let (page, size) = paging(raw, st.limits.default_page_size, st.limits.max_page_size)?;
    page_fault(&mut st, kind, page)?;
    let body = match kind {
        ConfigKind::Users => page_of(&st, kind, &st.users, page, size),
        ConfigKind::Teams => page_of(&st, kind, &st.teams, page, size),
        ConfigKind::Queues => page_of(&st, kind, &st.queues, page, size),
    };
    Ok(axum::Json(body).into_response())
}

/// `GET /organization/{orgId}/v2/user`.
pub(crate) async fn list_users(State(shared): State<SharedRef>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    list(&shared, ConfigKind::Users, raw.as_deref())
}

/// `GET /organization/{orgId}/v2/team`.
pub(crate) async fn list_teams(State(shared): State<SharedRef>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    list(&shared, ConfigKind::Teams, raw.as_deref())
}

/// `GET /organization/{orgId}/v2/contact-service-queue`.
pub(crate) async fn list_queues(
    State(shared): State<SharedRef>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    list(&shared, ConfigKind::Queues, raw.as_deref())
}

/// `GET /organization/{orgId}/v2/user/by-ci-user-id/{ciUserId}`: the user object alone.
pub(crate) async fn user_by_ci_id(
    State(shared): State<SharedRef>,
    Path((_org, ci)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let st = shared.lock();
    let user = st
        .users
        .ordered()
        .find(|u| u.ci_user_id.eq_ignore_ascii_case(&ci))
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(render(&st, ConfigKind::Users, user)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_org() {
        let org = SyntheticOrg {
            users: 300,
            teams: 7,
            queues: 5,
            seed: 9,
        };
        assert_eq!(synthetic(&org), synthetic(&org));
        let (users, teams, _) = synthetic(&org);
        assert!(users.iter().any(|u| u.first_name.is_none()));
        assert!(users.iter().any(|u| !u.contact_center_enabled));
        assert!(users.iter().any(|u| !u.active));
        assert_eq!(teams.iter().map(|t| t.user_ids.len()).sum::<usize>(), 300);
        assert!(users.iter().all(|u| u.ci_user_id != u.id));
    }

    #[test]
    fn page_parameters_are_checked_and_clamped() {
        assert_eq!(paging(None, 100, 1000).ok(), Some((0, 100)));
        assert_eq!(paging(Some("page=2&pageSize=5000"), 100, 1000).ok(), Some((2, 1000)));
        for bad in ["page=-1", "page=x", "pageSize=0", "pageSize=-5", "pageSize=ten"] {
            assert!(paging(Some(bad), 100, 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_update_keeps_the_listing_position_and_bumps_the_version() {
        let mut dir = Directory::default();
        dir.upsert(SimUser::new("b", "B", "B", "b@x"), 10);
        dir.upsert(SimUser::new("a", "A", "A", "a@x"), 20);
        assert!(dir.update("b", |u| u.first_name = Some("Bee".into()), 30));
        let order: Vec<(&str, u64)> = dir.ordered().map(|u| (u.id.as_str(), u.version)).collect();
        assert_eq!(order, vec![("b", 2), ("a", 1)]);
        assert_eq!(dir.get("b").map(|u| u.last_updated_time), Some(30));
    }
}
