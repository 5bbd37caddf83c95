//! Configuration ("CMS v1" auxiliary data, reference §6.2, §6.4):
//! `GET /auxiliary-data/resources/{user|team|virtualTeam}?page=<n>&pageSize=<m>` →
//! `{"auxiliaryDataList":[{"id","attributes":{…}}]}`, paged until an empty list.
//!
//! UNCONFIRMED choices: pages count from 0 (a missing `page` is 0); `pageSize` defaults to
//! 100 and is clamped to 1..=[`MAX_PAGE_SIZE`]; items are ordered by `id`; a `page` or
//! `pageSize` that is not a non-negative integer answers `400`; another resource type
//! answers `404`. Attribute names carry the type suffixes of §6.2 (`__s` string, `__b`
//! boolean).
//!
//! For tests: entries served as given after the items ([`crate::RunningWxcc1Sim::push_raw_aux`]),
//! and pages that keep failing ([`crate::RunningWxcc1Sim::fail_aux_page`]).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::state::{Route, SharedRef};

/// The largest page the simulator serves.
pub const MAX_PAGE_SIZE: usize = 1000;
/// The page size when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The resource types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuxResource {
    User,
    Team,
    /// A queue.
    VirtualTeam,
}

impl AuxResource {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            AuxResource::User => "user",
            AuxResource::Team => "team",
            AuxResource::VirtualTeam => "virtualTeam",
        }
    }

    pub fn from_path(s: &str) -> Option<AuxResource> {
        [AuxResource::User, AuxResource::Team, AuxResource::VirtualTeam]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One `auxiliaryDataList` element.
#[derive(Debug, Clone, PartialEq)]
pub struct AuxItem {
    pub id: String,
    pub attributes: Map<String, Value>,
}

impl AuxItem {
    /// A user (agent): `login__s`, `firstName__s`, `lastName__s`, `name__s` (full name),
    /// `active__b`, `teamId__s` (when on a team).
    pub fn user(id: &str, login: &str, first_name: &str, last_name: &str, team_id: Option<&str>, active: bool) -> Self {
        let mut attributes = Map::new();
        attributes.insert("login__s".into(), login.into());
        attributes.insert("firstName__s".into(), first_name.into());
        attributes.insert("lastName__s".into(), last_name.into());
        attributes.insert("name__s".into(), format!("{first_name} {last_name}").into());
        attributes.insert("active__b".into(), active.into());
        if let Some(team) = team_id {
            attributes.insert("teamId__s".into(), team.into());
        }
        AuxItem {
            id: id.to_owned(),
            attributes,
        }
    }

    /// A team or a queue (virtual team): `name__s`, `active__b`.
    pub fn named(id: &str, name: &str, active: bool) -> Self {
        let mut attributes = Map::new();
        attributes.insert("name__s".into(), name.into());
        attributes.insert("active__b".into(), active.into());
        AuxItem {
            id: id.to_owned(),
            attributes,
        }
    }

    fn to_json(&self) -> Value {
        json!({ "id": self.id, "attributes": self.attributes })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageParams {
    page: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
}

fn non_negative(name: &str, value: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("{name} must be a non-negative integer, got {v:?}"))),
    }
}

/// `GET /auxiliary-data/resources/{type}`
pub(crate) async fn list(
    State(shared): State<SharedRef>,
    Path(kind): Path<String>,
    Query(p): Query<PageParams>,
) -> Response {
    if let Some(status) = shared.admit(Route::AuxData) {
        return ApiError::new(status, format!("injected fault on {}", Route::AuxData.as_str())).into_response();
    }
    let Some(kind) = AuxResource::from_path(&kind) else {
        return ApiError::not_found(format!(
            "unknown auxiliary-data resource {kind:?}; known: user, team, virtualTeam"
        ))
        .into_response();
    };
    let page = match non_negative("page", p.page.as_deref(), 0) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let size = match non_negative("pageSize", p.page_size.as_deref(), DEFAULT_PAGE_SIZE) {
        Ok(n) => n.clamp(1, MAX_PAGE_SIZE),
        Err(e) => return e.into_response(),
    };
    let items: Vec<Value> = {
        let st = shared.lock();
        if let Some(&status) = st.aux_page_faults.get(&(kind, page)) {
            let status =
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            return ApiError::new(status, format!("injected fault on {} page {page}", kind.as_str())).into_response();
        }
        st.aux
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.values().map(AuxItem::to_json))
            .chain(st.aux_raw.get(&kind).into_iter().flatten().cloned())
            .skip(page.saturating_mul(size))
            .take(size)
            .collect()
    };
    axum::Json(json!({ "auxiliaryDataList": items })).into_response()
}
