//! `POST /search`: the GraphQL Search API's `taskDetails` root (reference §2.3), served
//! with `async-graphql` over the stored tasks.
//!
//! Supported: `taskDetails(from: Long!, to: Long!, timeComparator: QueryTimeType,
//! filter: TaskDetailsFilters, pagination: Pagination): TaskDetailsList` (type names as
//! Cisco's Search README gives them, so typed variables validate) returning
//! `{ tasks { <CSR fields> activities(first, after) { totalCount nodes { <CAR fields> }
//! pageInfo { hasNextPage endCursor } } } pageInfo { hasNextPage endCursor } }`.
//! Enforced: `from` not older than 36 months, `to` in the future clamped to now,
//! `from < to`, span ≤ 365 days, span ≤ 30 days when `activities` are selected, 250
//! tasks per page, at most 100,000 tasks reachable per query, inner `first` 1..=100
//! (default 25), ≤ 1000 filter predicates. Cursors carry a MAC: a tampered or foreign
//! cursor is a GraphQL error, never a wrong page.
//!
//! UNCONFIRMED choices:
//! - Errors (window, cursor, `first`) are GraphQL `errors` with HTTP 200 and
//!   `data: null` (or `activities: null` for an inner `first`/`after` error); message
//!   wording is ours. A body that is not a GraphQL request is HTTP 400 (WxCC error body).
//! - The window is `[from, to)` on the compared time; a task is visible once its
//!   `createdTime` has come; `endedTime` is null (and `timeComparator: endedTime` skips
//!   the task) until it has ended; CAR nodes not yet started are hidden, open ones have
//!   `endedTime: null`, `isActive: true` and a duration up to now.
//! - The span limit is the [OAS] 365 days (the README's 13 months is looser).
//! - Tasks are ordered by the compared time, then id; `createdTime(sort: desc)` (or
//!   `endedTime(sort: desc)`) on `tasks` reverses it, `createdTime(sort: desc)` on
//!   activity nodes reverses the nodes.
//! - Filter operators: `equals`, `notequals`, `match` (the whole value against a
//!   pattern of literals, `.`, `*`, `+`, `?`; no classes or groups), `contains`
//!   (case-insensitive substring), `gt`, `gte`, `lt`, `lte`; compound `and`/`or`; nested
//!   `owner`/`lastAgent`/`lastQueue`/`lastTeam { id name }`. No `in`: the reference shows
//!   none (use `or: [{ id: { equals } }, …]`). `extFilter` and aggregations are not
//!   implemented (unknown argument → validation error).
//! - CSR counters are derived from the CAR nodes (`connected`, `on-hold`, `consulting`,
//!   `conferencing`, transfer nodes, `WrapUp`, `parked`); `recordingCount` counts the
//!   captures once they are available.

use std::sync::{Arc, OnceLock};

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, InputObject, InputValueError, InputValueResult, Lookahead, Object,
    Scalar, ScalarType, Schema, SimpleObject, Value,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Months, Utc};
use sha2::{Digest, Sha256};

use crate::captures::api_error;
use crate::tasks::{AgentRef, NamedRef, SimActivity, SimTask, TaskPlane, TaskRoute, to_chrono};

/// Tasks per page (fixed for raw `taskDetails` queries).
pub const PAGE_SIZE: usize = 250;
/// Tasks reachable by paging one query.
pub const MAX_REACHABLE: usize = 100_000;
/// Default and largest `activities(first:)`.
pub const ACTIVITIES_DEFAULT: i32 = 25;
pub const ACTIVITIES_MAX: i32 = 100;
/// Longest `to - from`, days; with `activities` selected.
pub const MAX_SPAN_DAYS: i64 = 365;
pub const MAX_RAW_SPAN_DAYS: i64 = 30;
/// How far back `from` may go, months.
pub const MAX_AGE_MONTHS: u32 = 36;
/// Most predicates in one filter.
pub const MAX_PREDICATES: usize = 1000;

/// What one request sees: a snapshot of the tasks at one instant.
struct SearchCtx {
    tasks: Vec<Arc<SimTask>>,
    now: DateTime<Utc>,
    capture_delay: chrono::Duration,
    key: [u8; 32],
}

type SearchSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

fn schema() -> &'static SearchSchema {
    static SCHEMA: OnceLock<SearchSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .limit_depth(16)
            .limit_recursive_depth(16)
            .finish()
    })
}

/// The schema in SDL (for documentation and tests).
pub fn sdl() -> String {
    schema().sdl()
}

pub(crate) async fn handle(State(plane): State<TaskPlane>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(status) = plane.admit(TaskRoute::Search) {
        return api_error(status, &headers, "Injected fault.");
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &headers,
                &format!("The body is not a GraphQL request: {e}"),
            );
        }
    };
    let ctx = {
        let st = plane.inner.lock();
        SearchCtx {
            tasks: st.tasks.values().cloned().collect(),
            now: plane.clock().now(),
            capture_delay: to_chrono(st.capture_delay),
            key: plane.inner.cursor_key,
        }
    };
    let response = schema().execute(request.data(ctx)).await;
    axum::Json(response).into_response()
}

// ---------------------------------------------------------------- cursors

fn mac(key: &[u8; 32], payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update(payload.as_bytes());
    hex::encode(&h.finalize()[..12])
}

fn seal(key: &[u8; 32], payload: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{payload}|{}", mac(key, payload)))
}

/// The payload of a cursor this server made, or `None`.
fn open(key: &[u8; 32], cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (payload, tag) = text.rsplit_once('|')?;
    (mac(key, payload) == tag).then(|| payload.to_owned())
}

fn bad_cursor() -> async_graphql::Error {
    async_graphql::Error::new("Invalid pagination cursor: it was not issued for this query.")
}

// ---------------------------------------------------------------- inputs

/// Epoch milliseconds, the schema's `Long` (`from: Long!`, `to: Long!`).
#[derive(Debug, Clone, Copy)]
struct Long(i64);

#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .map(Long)
                .ok_or_else(|| InputValueError::custom(format!("{n} is not a whole number of milliseconds"))),
            Value::String(s) => s
                .parse()
                .map(Long)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a whole number of milliseconds"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }
    fn is_valid(value: &Value) -> bool {
        match value {
            Value::Number(n) => n.as_i64().is_some(),
            Value::String(s) => s.parse::<i64>().is_ok(),
            _ => false,
        }
    }
    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "QueryTimeType", rename_items = "camelCase")]
enum TimeComparator {
    CreatedTime,
    EndedTime,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "lowercase")]
enum Sort {
    Asc,
    Desc,
}

#[derive(InputObject, Debug, Default)]
struct Pagination {
    cursor: Option<String>,
}

/// A filter operand: a string, an enum literal (`telephony`), a number or a boolean.
#[derive(Debug, Clone)]
struct FilterValue(Value);

#[Scalar(name = "FilterValue")]
impl ScalarType for FilterValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(FilterValue(value))
    }
    fn to_value(&self) -> Value {
        self.0.clone()
    }
}

impl FilterValue {
    fn as_text(&self) -> Option<String> {
        match &self.0 {
            Value::String(s) => Some(s.clone()),
            Value::Enum(e) => Some(e.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

#[derive(InputObject, Debug, Default)]
#[graphql(name = "ValueFilter")]
struct ValueFilter {
    equals: Option<FilterValue>,
    notequals: Option<FilterValue>,
    #[graphql(name = "match")]
    matches: Option<FilterValue>,
    contains: Option<FilterValue>,
    gt: Option<FilterValue>,
    gte: Option<FilterValue>,
    lt: Option<FilterValue>,
    lte: Option<FilterValue>,
}

#[derive(InputObject, Debug, Default)]
struct RefFilter {
    id: Option<ValueFilter>,
    name: Option<ValueFilter>,
}

#[derive(InputObject, Debug, Default)]
#[graphql(name = "TaskDetailsFilters")]
struct TaskFilter {
    id: Option<ValueFilter>,
    status: Option<ValueFilter>,
    channel_type: Option<ValueFilter>,
    channel_sub_type: Option<ValueFilter>,
    direction: Option<ValueFilter>,
    origin: Option<ValueFilter>,
    destination: Option<ValueFilter>,
    termination_type: Option<ValueFilter>,
    terminating_end: Option<ValueFilter>,
    contact_handle_type: Option<ValueFilter>,
    capture_requested: Option<ValueFilter>,
    is_active: Option<ValueFilter>,
    is_outdial: Option<ValueFilter>,
    created_time: Option<ValueFilter>,
    ended_time: Option<ValueFilter>,
    owner: Option<RefFilter>,
    last_agent: Option<RefFilter>,
    last_queue: Option<RefFilter>,
    last_team: Option<RefFilter>,
    and: Option<Vec<TaskFilter>>,
    or: Option<Vec<TaskFilter>>,
}

/// One element of a `match` pattern: a literal or `.`, with how often it may repeat.
#[derive(Debug, Clone, Copy)]
struct PatternItem {
    /// `None` = `.` (any character).
    ch: Option<char>,
    min: usize,
    many: bool,
}

/// Whether `pattern` matches the whole of `text`. Patterns are literals, `.`, the
/// quantifiers `*`, `+`, `?` and `\` escapes (a quantifier with nothing before it is a
/// literal). Runs in O(len(pattern) × len(text)): no backtracking.
fn pattern_matches(pattern: &str, text: &str) -> bool {
    let mut items: Vec<PatternItem> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '+' | '?' if items.last().is_some_and(|i| i.min == 1 && !i.many) => {
                if let Some(last) = items.last_mut() {
                    last.min = usize::from(c == '+');
                    last.many = c != '?';
                }
            }
            '\\' => {
                let lit = chars.next().unwrap_or('\\');
                items.push(PatternItem {
                    ch: Some(lit),
                    min: 1,
                    many: false,
                });
            }
            '.' => items.push(PatternItem {
                ch: None,
                min: 1,
                many: false,
            }),
            _ => items.push(PatternItem {
                ch: Some(c),
                min: 1,
                many: false,
            }),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // reach[j]: the items so far can consume exactly text[..j].
    let mut reach = vec![false; text.len() + 1];
    reach[0] = true;
    for item in &items {
        let fits = |c: char| item.ch.is_none_or(|p| p == c);
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            if item.min == 0 && reach[j] {
                next[j] = true;
            }
            if j > 0 && fits(text[j - 1]) && (reach[j - 1] || (item.many && next[j - 1])) {
                next[j] = true;
            }
        }
        reach = next;
    }
    reach[text.len()]
}

/// A CSR field's value as filters compare it.
enum Field {
    Text(Option<String>),
    Num(Option<i64>),
}

impl ValueFilter {
    fn predicates(&self) -> usize {
        [
            &self.equals,
            &self.notequals,
            &self.matches,
            &self.contains,
            &self.gt,
            &self.gte,
            &self.lt,
            &self.lte,
        ]
        .iter()
        .filter(|p| p.is_some())
        .count()
    }

    fn test(&self, field: &Field) -> bool {
        let text = |v: &FilterValue| v.as_text();
        let eq = |v: &FilterValue| match field {
            Field::Text(Some(s)) => text(v).is_some_and(|t| &t == s),
            Field::Num(Some(n)) => v.as_i64() == Some(*n),
            _ => false,
        };
        let has = |v: &FilterValue| match (field, text(v)) {
            (Field::Text(Some(s)), Some(t)) => s.to_lowercase().contains(&t.to_lowercase()),
            _ => false,
        };
        let matches = |v: &FilterValue| match (field, text(v)) {
            (Field::Text(Some(s)), Some(p)) => pattern_matches(&p, s),
            _ => false,
        };
        let cmp = |v: &FilterValue, f: fn(i64, i64) -> bool| match field {
            Field::Num(Some(n)) => v.as_i64().is_some_and(|x| f(*n, x)),
            _ => false,
        };
        self.equals.as_ref().is_none_or(eq)
            && self.notequals.as_ref().is_none_or(|v| !eq(v))
            && self.matches.as_ref().is_none_or(matches)
            && self.contains.as_ref().is_none_or(has)
            && self.gt.as_ref().is_none_or(|v| cmp(v, |a, b| a > b))
            && self.gte.as_ref().is_none_or(|v| cmp(v, |a, b| a >= b))
            && self.lt.as_ref().is_none_or(|v| cmp(v, |a, b| a < b))
            && self.lte.as_ref().is_none_or(|v| cmp(v, |a, b| a <= b))
    }
}

impl RefFilter {
    fn predicates(&self) -> usize {
        self.id.as_ref().map_or(0, ValueFilter::predicates) + self.name.as_ref().map_or(0, ValueFilter::predicates)
    }

    fn test(&self, id: Option<&str>, name: Option<&str>) -> bool {
        self.id
            .as_ref()
            .is_none_or(|f| f.test(&Field::Text(id.map(str::to_owned))))
            && self
                .name
                .as_ref()
                .is_none_or(|f| f.test(&Field::Text(name.map(str::to_owned))))
    }
}

impl TaskFilter {
    fn predicates(&self) -> usize {
        let values = [
            &self.id,
            &self.status,
            &self.channel_type,
            &self.channel_sub_type,
            &self.direction,
            &self.origin,
            &self.destination,
            &self.termination_type,
            &self.terminating_end,
            &self.contact_handle_type,
            &self.capture_requested,
            &self.is_active,
            &self.is_outdial,
            &self.created_time,
            &self.ended_time,
        ];
        let refs = [&self.owner, &self.last_agent, &self.last_queue, &self.last_team];
        values
            .iter()
            .filter_map(|v| v.as_ref())
            .map(ValueFilter::predicates)
            .sum::<usize>()
            + refs
                .iter()
                .filter_map(|r| r.as_ref())
                .map(RefFilter::predicates)
                .sum::<usize>()
            + [&self.and, &self.or]
                .iter()
                .filter_map(|l| l.as_ref())
                .flatten()
                .map(TaskFilter::predicates)
                .sum::<usize>()
    }

    fn test(&self, view: &TaskView) -> bool {
        let t = &view.task;
        let text = |s: &str| Field::Text(Some(s.to_owned()));
        let opt = |s: &Option<String>| Field::Text(s.clone());
        let flag = |b: Option<bool>| Field::Text(b.map(|b| b.to_string()));
        let checks: [(&Option<ValueFilter>, Field); 15] = [
            (&self.id, text(&t.id)),
            (&self.status, text(&view.current_status())),
            (&self.channel_type, text(&t.channel_type)),
            (&self.channel_sub_type, opt(&t.channel_sub_type)),
            (&self.direction, text(&t.direction)),
            (&self.origin, text(&t.origin)),
            (&self.destination, text(&t.destination)),
            (&self.termination_type, opt(&view.ended_only(&t.termination_type))),
            (&self.terminating_end, opt(&view.ended_only(&t.terminating_end))),
            (&self.contact_handle_type, opt(&view.ended_only(&t.contact_handle_type))),
            (&self.capture_requested, flag(t.capture_requested)),
            (&self.is_active, flag(Some(!view.ended()))),
            (&self.is_outdial, flag(Some(t.direction == "outdial"))),
            (&self.created_time, Field::Num(Some(t.created_time.timestamp_millis()))),
            (&self.ended_time, Field::Num(view.ended_ms())),
        ];
        let refs = [
            (&self.owner, t.owner.as_ref().map(|a| (a.id.as_str(), a.name.as_str()))),
            (
                &self.last_agent,
                t.owner.as_ref().map(|a| (a.id.as_str(), a.name.as_str())),
            ),
            (
                &self.last_queue,
                t.last_queue.as_ref().map(|q| (q.id.as_str(), q.name.as_str())),
            ),
            (
                &self.last_team,
                t.last_team.as_ref().map(|q| (q.id.as_str(), q.name.as_str())),
            ),
        ];
        checks.iter().all(|(f, v)| f.as_ref().is_none_or(|f| f.test(v)))
            && refs
                .iter()
                .all(|(f, r)| f.as_ref().is_none_or(|f| f.test(r.map(|r| r.0), r.map(|r| r.1))))
            && self.and.as_ref().is_none_or(|all| all.iter().all(|f| f.test(view)))
            && self.or.as_ref().is_none_or(|any| any.iter().any(|f| f.test(view)))
    }
}

/// Whether a `sort: desc` argument sits on any of the looked-ahead fields.
fn wants_desc(look: Lookahead<'_>) -> bool {
    look.selection_fields().iter().any(|f| {
        f.arguments().is_ok_and(|args| {
            args.iter().any(|(name, v)| {
                name.as_str() == "sort"
                    && match v {
                        Value::Enum(e) => e.as_str() == "desc",
                        Value::String(s) => s == "desc",
                        _ => false,
                    }
            })
        })
    })
}

// ---------------------------------------------------------------- query root

struct QueryRoot;

#[Object]
impl QueryRoot {
    /// CSR records with their CAR nodes.
    async fn task_details(
        &self,
        ctx: &Context<'_>,
        from: Long,
        to: Long,
        time_comparator: Option<TimeComparator>,
        filter: Option<TaskFilter>,
        pagination: Option<Pagination>,
    ) -> async_graphql::Result<TaskDetails> {
        let sc = ctx.data::<SearchCtx>()?;
        let now = sc.now;
        let now_ms = now.timestamp_millis();
        let (Long(from), Long(to)) = (from, to);
        let to = to.min(now_ms);
        if from >= to {
            return Err(async_graphql::Error::new(format!(
                "Invalid time range: 'from' ({from}) must be less than 'to' ({to}, clamped to now)."
            )));
        }
        let oldest = now
            .checked_sub_months(Months::new(MAX_AGE_MONTHS))
            .map_or(i64::MIN, |t| t.timestamp_millis());
        if from < oldest {
            return Err(async_graphql::Error::new(format!(
                "Invalid time range: 'from' must not be older than {MAX_AGE_MONTHS} months."
            )));
        }
        let day = 86_400_000i64;
        if to - from > MAX_SPAN_DAYS * day {
            return Err(async_graphql::Error::new(format!(
                "Invalid time range: 'to' - 'from' must not exceed {MAX_SPAN_DAYS} days."
            )));
        }
        let look = ctx.look_ahead().field("tasks");
        if look.field("activities").exists() && to - from > MAX_RAW_SPAN_DAYS * day {
            return Err(async_graphql::Error::new(format!(
                "Invalid time range: queries for activities must not span more than {MAX_RAW_SPAN_DAYS} days."
            )));
        }
        if let Some(f) = &filter
            && f.predicates() > MAX_PREDICATES
        {
            return Err(async_graphql::Error::new(format!(
                "The filter has more than {MAX_PREDICATES} predicates."
            )));
        }
        let comparator = time_comparator.unwrap_or(TimeComparator::CreatedTime);
        let desc = wants_desc(look.field(match comparator {
            TimeComparator::CreatedTime => "createdTime",
            TimeComparator::EndedTime => "endedTime",
        }));
        let dir = if desc { "d" } else { "a" };

        let mut matched: Vec<(i64, TaskView)> = sc
            .tasks
            .iter()
            .filter(|t| t.created_time <= now)
            .filter_map(|t| {
                let view = TaskView {
                    task: t.clone(),
                    now,
                    capture_delay: sc.capture_delay,
                };
                let key = match comparator {
                    TimeComparator::CreatedTime => Some(t.created_time.timestamp_millis()),
                    TimeComparator::EndedTime => view.ended_ms(),
                }?;
                (key >= from && key < to).then_some((key, view))
            })
            .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.test(v)))
            .collect();
        matched.sort_by(|a, b| (a.0, &a.1.task.id).cmp(&(b.0, &b.1.task.id)));
        if desc {
            matched.reverse();
        }

        let cursor = pagination.and_then(|p| p.cursor).filter(|c| c != "NA" && c != "0");
        let start = match cursor {
            None => 0,
            Some(c) => {
                let payload = open(&sc.key, &c).ok_or_else(bad_cursor)?;
                let mut parts = payload.splitn(4, '|');
                let (Some("t"), Some(d), Some(ms), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad_cursor());
                };
                if d != dir {
                    return Err(bad_cursor());
                }
                let ms: i64 = ms.parse().map_err(|_| bad_cursor())?;
                let after = (ms, id.to_owned());
                matched
                    .iter()
                    .position(|(k, v)| {
                        let key = (*k, v.task.id.clone());
                        if desc { key < after } else { key > after }
                    })
                    .unwrap_or(matched.len())
            }
        };
        let end = (start + PAGE_SIZE).min(matched.len()).min(MAX_REACHABLE.max(start));
        let has_next = end < matched.len() && end < MAX_REACHABLE;
        let page: Vec<(i64, TaskView)> = matched.drain(start.min(end)..end).collect();
        let end_cursor = page
            .last()
            .map(|(k, v)| seal(&sc.key, &format!("t|{dir}|{k}|{}", v.task.id)));
        Ok(TaskDetails {
            tasks: page.into_iter().map(|(_, v)| v).collect(),
            page_info: PageInfo {
                has_next_page: has_next,
                end_cursor,
            },
        })
    }
}

#[derive(SimpleObject)]
#[graphql(name = "TaskDetailsList")]
struct TaskDetails {
    tasks: Vec<TaskView>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(SimpleObject)]
struct Agent {
    id: String,
    name: String,
    session_id: String,
    channel_id: String,
    phone_number: Option<String>,
}

impl From<&AgentRef> for Agent {
    fn from(a: &AgentRef) -> Self {
        Agent {
            id: a.id.clone(),
            name: a.name.clone(),
            session_id: a.session_id.clone(),
            channel_id: a.channel_id.clone(),
            phone_number: a.phone_number.clone(),
        }
    }
}

#[derive(SimpleObject)]
struct Named {
    id: String,
    name: String,
}

impl From<&NamedRef> for Named {
    fn from(r: &NamedRef) -> Self {
        Named {
            id: r.id.clone(),
            name: r.name.clone(),
        }
    }
}

#[derive(SimpleObject)]
struct Customer {
    name: Option<String>,
    phone_number: Option<String>,
    email: Option<String>,
}

/// A task as seen at one instant.
struct TaskView {
    task: Arc<SimTask>,
    now: DateTime<Utc>,
    capture_delay: chrono::Duration,
}

const TRANSFERS: &[&str] = &["transferred", "blind-transfer", "consulttransfer", "vt-transfer"];

impl TaskView {
    fn ended(&self) -> bool {
        self.task.ended_by(self.now)
    }
    fn ended_ms(&self) -> Option<i64> {
        self.ended().then(|| self.task.ended_time.timestamp_millis())
    }
    fn ended_only(&self, v: &Option<String>) -> Option<String> {
        if self.ended() { v.clone() } else { None }
    }
    fn current_status(&self) -> String {
        if self.ended() {
            self.task.status.clone()
        } else if self
            .visible_nodes()
            .any(|a| a.event_name.eq_ignore_ascii_case("connected"))
        {
            "assigned".to_owned()
        } else {
            "queued".to_owned()
        }
    }
    fn visible_nodes(&self) -> impl Iterator<Item = &SimActivity> {
        self.task.activities.iter().filter(|a| a.created_time <= self.now)
    }
    /// Count and total duration (ms, up to now) of nodes named one of `names`.
    fn tally(&self, names: &[&str], extra: impl Fn(&SimActivity) -> bool) -> (i64, i64) {
        self.visible_nodes()
            .filter(|a| names.iter().any(|n| a.event_name.eq_ignore_ascii_case(n)) && extra(a))
            .fold((0, 0), |(c, d), a| {
                (
                    c + 1,
                    d + (a.ended_time.min(self.now) - a.created_time).num_milliseconds(),
                )
            })
    }
    fn capture_ready(&self) -> bool {
        self.task.expects_capture() && self.task.ended_time + self.capture_delay <= self.now
    }
}

#[Object]
impl TaskView {
    async fn id(&self) -> &str {
        &self.task.id
    }
    async fn status(&self) -> String {
        self.current_status()
    }
    async fn channel_type(&self) -> &str {
        &self.task.channel_type
    }
    async fn channel_sub_type(&self) -> Option<&str> {
        self.task.channel_sub_type.as_deref()
    }
    async fn created_time(&self, #[graphql(name = "sort")] _sort: Option<Sort>) -> i64 {
        self.task.created_time.timestamp_millis()
    }
    async fn ended_time(&self, #[graphql(name = "sort")] _sort: Option<Sort>) -> Option<i64> {
        self.ended_ms()
    }
    async fn is_active(&self) -> bool {
        !self.ended()
    }
    async fn last_activity_time(&self) -> i64 {
        self.visible_nodes()
            .map(|a| a.ended_time.min(self.now).max(a.created_time).timestamp_millis())
            .max()
            .unwrap_or_else(|| self.task.created_time.timestamp_millis())
    }
    async fn origin(&self) -> &str {
        &self.task.origin
    }
    async fn destination(&self) -> &str {
        &self.task.destination
    }
    async fn direction(&self) -> &str {
        &self.task.direction
    }
    async fn is_outdial(&self) -> bool {
        self.task.direction == "outdial"
    }
    async fn termination_type(&self) -> Option<String> {
        self.ended_only(&self.task.termination_type)
    }
    async fn terminating_end(&self) -> Option<String> {
        self.ended_only(&self.task.terminating_end)
    }
    async fn contact_handle_type(&self) -> Option<String> {
        self.ended_only(&self.task.contact_handle_type)
    }
    async fn owner(&self) -> Option<Agent> {
        self.task.owner.as_ref().map(Agent::from)
    }
    async fn last_agent(&self) -> Option<Agent> {
        self.task.owner.as_ref().map(Agent::from)
    }
    async fn previous_agent_id(&self) -> Option<&str> {
        self.task.previous_agent.as_ref().map(|a| a.id.as_str())
    }
    async fn previous_agent_name(&self) -> Option<&str> {
        self.task.previous_agent.as_ref().map(|a| a.name.as_str())
    }
    async fn previous_agent_session_id(&self) -> Option<&str> {
        self.task.previous_agent.as_ref().map(|a| a.session_id.as_str())
    }
    async fn last_queue(&self) -> Option<Named> {
        self.task.last_queue.as_ref().map(Named::from)
    }
    async fn first_queue_id(&self) -> Option<&str> {
        self.task.first_queue.as_ref().map(|q| q.id.as_str())
    }
    async fn first_queue_name(&self) -> Option<&str> {
        self.task.first_queue.as_ref().map(|q| q.name.as_str())
    }
    async fn last_team(&self) -> Option<Named> {
        self.task.last_team.as_ref().map(Named::from)
    }
    async fn last_site(&self) -> Option<Named> {
        self.task.last_site.as_ref().map(Named::from)
    }
    async fn last_entry_point(&self) -> Option<Named> {
        self.task.last_entry_point.as_ref().map(Named::from)
    }
    async fn last_wrapup_code_name(&self) -> Option<String> {
        self.ended_only(&self.task.last_wrapup_code_name)
    }
    async fn customer(&self) -> Customer {
        let phone = (self.task.direction == "inbound").then(|| self.task.origin.clone());
        Customer {
            name: self.task.customer_name.clone(),
            phone_number: phone.or_else(|| Some(self.task.destination.clone())),
            email: None,
        }
    }
    async fn total_duration(&self) -> Option<i64> {
        self.ended()
            .then(|| (self.task.ended_time - self.task.created_time).num_milliseconds())
    }
    async fn connected_count(&self) -> i64 {
        self.tally(&["connected"], |_| true).0
    }
    async fn connected_duration(&self) -> i64 {
        self.tally(&["connected"], |_| true).1
    }
    async fn hold_count(&self) -> i64 {
        self.tally(&["on-hold"], |_| true).0
    }
    async fn hold_duration(&self) -> i64 {
        self.tally(&["on-hold"], |_| true).1
    }
    async fn consult_count(&self) -> i64 {
        self.tally(&["consulting"], |_| true).0
    }
    async fn consult_duration(&self) -> i64 {
        self.tally(&["consulting"], |_| true).1
    }
    async fn conference_count(&self) -> i64 {
        self.tally(&["conferencing"], |_| true).0
    }
    async fn conference_duration(&self) -> i64 {
        self.tally(&["conferencing"], |_| true).1
    }
    async fn transfer_count(&self) -> i64 {
        self.tally(TRANSFERS, |_| true).0
    }
    async fn blind_transfer_count(&self) -> i64 {
        self.tally(&["blind-transfer"], |_| true).0
    }
    async fn agent_to_agent_transfer_count(&self) -> i64 {
        self.tally(TRANSFERS, |a| a.destination_agent.is_some()).0
    }
    async fn agent_to_queue_transfer_count(&self) -> i64 {
        self.tally(TRANSFERS, |a| {
            a.destination_agent.is_none() && a.destination_queue.is_some()
        })
        .0
    }
    async fn wrapup_duration(&self) -> i64 {
        self.tally(&["wrapup"], |_| true).1
    }
    async fn queue_count(&self) -> i64 {
        self.tally(&["parked"], |_| true).0
    }
    async fn queue_duration(&self) -> i64 {
        self.tally(&["parked"], |_| true).1
    }
    async fn capture_requested(&self) -> Option<bool> {
        self.task.capture_requested
    }
    async fn recording_count(&self) -> i64 {
        if self.capture_ready() {
            self.task.recordings.len() as i64
        } else {
            0
        }
    }
    async fn recording_error_count(&self) -> i64 {
        0
    }
    async fn is_recording_deleted(&self) -> bool {
        false
    }
    /// CAR nodes, paged.
    async fn activities(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<ActivityConnection>> {
        let sc = ctx.data::<SearchCtx>()?;
        let first = first.unwrap_or(ACTIVITIES_DEFAULT);
        if !(1..=ACTIVITIES_MAX).contains(&first) {
            return Err(async_graphql::Error::new(format!(
                "activities(first:) must be between 1 and {ACTIVITIES_MAX}; got {first}."
            )));
        }
        let desc = wants_desc(ctx.look_ahead().field("nodes").field("createdTime"));
        let mut nodes: Vec<&SimActivity> = self.visible_nodes().collect();
        nodes.sort_by_key(|a| a.created_time);
        if desc {
            nodes.reverse();
        }
        let dir = if desc { "d" } else { "a" };
        let start = match after {
            None => 0,
            Some(c) => {
                let payload = open(&sc.key, &c).ok_or_else(bad_cursor)?;
                let mut parts = payload.splitn(4, '|');
                let (Some("a"), Some(d), Some(n), Some(task)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad_cursor());
                };
                if task != self.task.id || d != dir {
                    return Err(bad_cursor());
                }
                n.parse::<usize>().map_err(|_| bad_cursor())?
            }
        };
        let total = nodes.len();
        let end = start.saturating_add(first as usize).min(total);
        let start = start.min(end);
        let page: Vec<ActivityView> = nodes[start..end]
            .iter()
            .map(|a| ActivityView {
                node: (*a).clone(),
                now: self.now,
            })
            .collect();
        Ok(Some(ActivityConnection {
            total_count: total as i64,
            end_cursor: (end > start).then(|| seal(&sc.key, &format!("a|{dir}|{end}|{}", self.task.id))),
            has_next_page: end < total,
            nodes: page,
        }))
    }
}

struct ActivityConnection {
    total_count: i64,
    nodes: Vec<ActivityView>,
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[Object]
impl ActivityConnection {
    async fn total_count(&self) -> i64 {
        self.total_count
    }
    async fn nodes(&self) -> &[ActivityView] {
        &self.nodes
    }
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            end_cursor: self.end_cursor.clone(),
        }
    }
}

struct ActivityView {
    node: SimActivity,
    now: DateTime<Utc>,
}

impl ActivityView {
    fn open(&self) -> bool {
        self.node.ended_time > self.now
    }
    fn agent(&self) -> Option<&AgentRef> {
        self.node.agent.as_ref()
    }
    fn dest(&self) -> Option<&AgentRef> {
        self.node.destination_agent.as_ref()
    }
}

#[Object]
impl ActivityView {
    async fn id(&self) -> &str {
        &self.node.id
    }
    async fn is_active(&self) -> bool {
        self.open()
    }
    async fn created_time(&self, #[graphql(name = "sort")] _sort: Option<Sort>) -> i64 {
        self.node.created_time.timestamp_millis()
    }
    async fn ended_time(&self) -> Option<i64> {
        (!self.open()).then(|| self.node.ended_time.timestamp_millis())
    }
    async fn last_activity_time(&self) -> i64 {
        self.node.ended_time.min(self.now).timestamp_millis()
    }
    async fn duration(&self) -> i64 {
        (self.node.ended_time.min(self.now) - self.node.created_time)
            .num_milliseconds()
            .max(0)
    }
    async fn event_name(&self) -> &str {
        &self.node.event_name
    }
    async fn previous_state(&self) -> Option<&str> {
        self.node.previous_state.as_deref()
    }
    async fn next_state(&self) -> Option<&str> {
        self.node.next_state.as_deref()
    }
    async fn agent_id(&self) -> Option<&str> {
        self.agent().map(|a| a.id.as_str())
    }
    async fn agent_name(&self) -> Option<&str> {
        self.agent().map(|a| a.name.as_str())
    }
    async fn agent_phone_number(&self) -> Option<&str> {
        self.agent().and_then(|a| a.phone_number.as_deref())
    }
    async fn agent_session_id(&self) -> Option<&str> {
        self.agent().map(|a| a.session_id.as_str())
    }
    async fn agent_channel_id(&self) -> Option<&str> {
        self.agent().map(|a| a.channel_id.as_str())
    }
    async fn team_id(&self) -> Option<&str> {
        self.node.team.as_ref().map(|t| t.id.as_str())
    }
    async fn team_name(&self) -> Option<&str> {
        self.node.team.as_ref().map(|t| t.name.as_str())
    }
    async fn site_id(&self) -> Option<&str> {
        self.node.site.as_ref().map(|t| t.id.as_str())
    }
    async fn site_name(&self) -> Option<&str> {
        self.node.site.as_ref().map(|t| t.name.as_str())
    }
    async fn queue_id(&self) -> Option<&str> {
        self.node.queue.as_ref().map(|t| t.id.as_str())
    }
    async fn queue_name(&self) -> Option<&str> {
        self.node.queue.as_ref().map(|t| t.name.as_str())
    }
    async fn entrypoint_id(&self) -> Option<&str> {
        self.node.entrypoint.as_ref().map(|t| t.id.as_str())
    }
    async fn entrypoint_name(&self) -> Option<&str> {
        self.node.entrypoint.as_ref().map(|t| t.name.as_str())
    }
    async fn transfer_type(&self) -> Option<&str> {
        self.node.transfer_type.as_deref()
    }
    async fn destination_agent_id(&self) -> Option<&str> {
        self.dest().map(|a| a.id.as_str())
    }
    async fn destination_agent_name(&self) -> Option<&str> {
        self.dest().map(|a| a.name.as_str())
    }
    async fn destination_agent_session_id(&self) -> Option<&str> {
        self.dest().map(|a| a.session_id.as_str())
    }
    async fn destination_agent_channel_id(&self) -> Option<&str> {
        self.dest().map(|a| a.channel_id.as_str())
    }
    async fn destination_agent_phone_number(&self) -> Option<&str> {
        self.dest().and_then(|a| a.phone_number.as_deref())
    }
    async fn destination_queue_id(&self) -> Option<&str> {
        self.node.destination_queue.as_ref().map(|q| q.id.as_str())
    }
    async fn destination_queue_name(&self) -> Option<&str> {
        self.node.destination_queue.as_ref().map(|q| q.name.as_str())
    }
    async fn child_contact_id(&self) -> Option<&str> {
        self.node.child_contact_id.as_deref()
    }
    async fn child_contact_type(&self) -> Option<&str> {
        self.node.child_contact_type.as_deref()
    }
    async fn termination_reason(&self) -> Option<&str> {
        self.node.termination_reason.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn match_patterns_cover_the_whole_value() {
        assert!(pattern_matches("+12345678.+", "+123456789"));
        assert!(!pattern_matches("+12345678.+", "+12345678"));
        assert!(pattern_matches("+1408.*", "+14085550100"));
        assert!(!pattern_matches("1408", "+14085550100"));
        assert!(pattern_matches("a?b*c", "c"));
        assert!(pattern_matches("a\\.b", "a.b"));
        assert!(!pattern_matches("a\\.b", "axb"));
        assert!(pattern_matches(".*", ""));
        // No blow-up on patterns that would make a backtracker crawl.
        let text = "a".repeat(2000);
        assert!(!pattern_matches(&format!("{}b", "a*".repeat(50)), &text));
    }
}
