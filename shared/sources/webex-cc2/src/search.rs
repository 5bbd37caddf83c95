//! Tasks through Search (`POST /search`, GraphQL `taskDetails`, reference §2.3) and
//! their recordings through `POST /v1/captures/query` (§3.1).
//!
//! - **Listing** (the poller, backfill): tasks *ended* in a window (`timeComparator:
//!   endedTime`), id and end time only, cursor-paged (250 a page); windows are cut to
//!   [`LIST_WINDOW`] (Search is not for bulk export: small windows, each paged) and never
//!   reach back past [`MAX_AGE`] (36 months).
//! - **One task** (planning): every CSR field the segmentation and the metadata read,
//!   and every CAR node (`activities(first: 100, after: …)` walked to its end), found by
//!   id within a window around its end.
//! - **Captures**: at most [`MAX_CAPTURE_IDS`] task ids a call, `urlExpiration` at most 60
//!   minutes; an unknown task id answers an empty `recording` (not an error).
//!
//! GraphQL errors (`errors[]` with HTTP 200) are errors here, with their messages.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use wfo_domain::Secret;

use crate::client::{CcClient, Op, SCOPE_CONFIG_READ};
use crate::error::CcError;

/// The longest window one listing query covers.
pub const LIST_WINDOW: Duration = Duration::days(7);
/// Search does not reach further back (reference §2.3).
pub const MAX_AGE: Duration = Duration::days(3 * 365);
/// Task ids one `captures/query` call takes.
pub const MAX_CAPTURE_IDS: usize = 10;
/// CAR nodes per inner page (the API's maximum).
pub const ACTIVITIES_PAGE: u32 = 100;
/// The most pages one walk reads (tasks or one task's nodes): ends a walk that never ends.
pub const MAX_SEARCH_PAGES: usize = 2_000;

/// The CSR fields a planned task carries (segmentation, standard and mapped metadata).
pub const TASK_FIELDS: &str = "id status channelType createdTime endedTime origin destination direction \
    isOutdial terminationType captureRequested recordingCount \
    owner { id name } lastAgent { id name } lastQueue { id name } lastTeam { id name } lastEntryPoint { id name } \
    lastWrapupCodeName totalDuration holdCount consultCount conferenceCount transferCount blindTransferCount";
/// The CAR fields of each node.
pub const NODE_FIELDS: &str = "id eventName createdTime endedTime duration agentId agentName \
    queueId teamId transferType destinationAgentId destinationAgentName childContactId";

/// One task as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTask {
    pub id: String,
    pub ended: DateTime<Utc>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct TaskPage {
    pub tasks: Vec<ListedTask>,
    /// Entries that could not be read (no id or no end time), with the reason.
    pub unreadable: Vec<(Option<String>, String)>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GraphQl {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(default)]
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

/// A time Search or captures sends as epoch milliseconds, a number or a numeric string.
pub fn epoch_ms(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .and_then(DateTime::from_timestamp_millis)
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

impl CcClient {
    async fn graphql(&self, operation: &'static str, query: String, token: &Secret) -> Result<Value, CcError> {
        let url = self.url_of("/search")?;
        let body = json!({ "query": query });
        let answer: GraphQl = self
            .call(
                Op::read(operation, SCOPE_CONFIG_READ, Method::POST),
                url,
                Some(&body),
                token,
            )
            .await?;
        if !answer.errors.is_empty() {
            let messages: Vec<String> = answer.errors.into_iter().map(|e| e.message).collect();
            return Err(CcError::Malformed {
                operation,
                message: format!("Search answered errors: {}", messages.join("; ")),
            });
        }
        answer.data.ok_or(CcError::Malformed {
            operation,
            message: "Search answered neither data nor errors".to_owned(),
        })
    }

    /// One page of the tasks ended in `[from, to)` (`cursor` from the previous page).
    pub async fn list_tasks_page(
        &self,
        token: &Secret,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<TaskPage, CcError> {
        const OP: &str = "search tasks";
        let pagination = cursor
            .map(|c| format!(", pagination: {{ cursor: {} }}", quote(c)))
            .unwrap_or_default();
        let query = format!(
            "{{ taskDetails(from: {}, to: {}, timeComparator: endedTime{pagination}) {{ tasks {{ id endedTime }} pageInfo {{ hasNextPage endCursor }} }} }}",
            ms(from),
            ms(to)
        );
        let data = self.graphql(OP, query, token).await?;
        let details = &data["taskDetails"];
        let mut page = TaskPage::default();
        let tasks = details["tasks"].as_array().cloned().unwrap_or_default();
        for t in tasks {
            let id = t["id"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let ended = epoch_ms(&t["endedTime"]);
            match (id, ended) {
                (Some(id), Some(ended)) => page.tasks.push(ListedTask { id, ended }),
                (id, _) => {
                    let reason = format!(
                        "a listed task has no readable {}",
                        if id.is_some() { "endedTime" } else { "id" }
                    );
                    page.unreadable.push((id, reason));
                }
            }
        }
        let info: PageInfo = serde_json::from_value(details["pageInfo"].clone()).unwrap_or_default();
        page.next_cursor = info.end_cursor.filter(|c| info.has_next_page && !c.is_empty());
        Ok(page)
    }

    /// The task `id` with every CAR node, searched among tasks ended in `[from, to)`
    /// (`None` when Search does not know it there).
    pub async fn task(
        &self,
        token: &Secret,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Value>, CcError> {
        self.task_with(token, id, from, to, "").await
    }

    /// When task `id` ended, searched among tasks ended in `[from, to)` without its
    /// activities (so the window may span up to a year).
    pub async fn task_end(
        &self,
        token: &Secret,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, CcError> {
        const OP: &str = "search one task's end";
        let query = format!(
            "{{ taskDetails(from: {}, to: {}, timeComparator: endedTime, filter: {{ id: {{ equals: {} }} }}) {{ tasks {{ id endedTime }} }} }}",
            ms(from),
            ms(to),
            quote(id)
        );
        let data = self.graphql(OP, query, token).await?;
        Ok(data["taskDetails"]["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["id"].as_str() == Some(id)))
            .and_then(|t| epoch_ms(&t["endedTime"])))
    }

    /// [`Self::task`] also selecting `extra` CSR fields (GraphQL selections, from the
    /// connector's metadata mapping: [`selection_of`]).
    pub async fn task_with(
        &self,
        token: &Secret,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        extra: &str,
    ) -> Result<Option<Value>, CcError> {
        const OP: &str = "search one task";
        let mut task: Option<Value> = None;
        let mut nodes: Vec<Value> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let after_arg = after
                .as_deref()
                .map(|a| format!(", after: {}", quote(a)))
                .unwrap_or_default();
            let query = format!(
                "{{ taskDetails(from: {}, to: {}, timeComparator: endedTime, filter: {{ id: {{ equals: {} }} }}) {{ tasks {{ {TASK_FIELDS} {extra} activities(first: {ACTIVITIES_PAGE}{after_arg}) {{ totalCount nodes {{ {NODE_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}",
                ms(from),
                ms(to),
                quote(id)
            );
            let data = self.graphql(OP, query, token).await?;
            let Some(found) = data["taskDetails"]["tasks"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["id"].as_str() == Some(id)))
                .cloned()
            else {
                return Ok(None);
            };
            let activities = &found["activities"];
            nodes.extend(activities["nodes"].as_array().cloned().unwrap_or_default());
            let info: PageInfo = serde_json::from_value(activities["pageInfo"].clone()).unwrap_or_default();
            if task.is_none() {
                task = Some(found);
            }
            match info.end_cursor.filter(|c| info.has_next_page && !c.is_empty()) {
                Some(c) if Some(&c) != after.as_ref() => after = Some(c),
                Some(_) => {
                    return Err(CcError::Malformed {
                        operation: OP,
                        message: format!("task {id}: the activities cursor repeats"),
                    });
                }
                None => {
                    let mut t = task.unwrap_or_default();
                    t["activities"] = json!({ "nodes": nodes });
                    return Ok(Some(t));
                }
            }
        }
        Err(CcError::Malformed {
            operation: OP,
            message: format!("task {id}: more than {MAX_SEARCH_PAGES} pages of activities"),
        })
    }

    /// The captures of up to [`MAX_CAPTURE_IDS`] tasks, links valid `url_expiration_min`
    /// minutes (1–60): each answer's `data[]` element, in the API's order.
    pub async fn captures(
        &self,
        token: &Secret,
        task_ids: &[&str],
        url_expiration_min: u32,
    ) -> Result<Vec<Value>, CcError> {
        const OP: &str = "query captures";
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        if task_ids.len() > MAX_CAPTURE_IDS {
            return Err(CcError::Malformed {
                operation: OP,
                message: format!(
                    "{} task ids asked in one call; at most {MAX_CAPTURE_IDS}",
                    task_ids.len()
                ),
            });
        }
        let url = self.url_of("/v1/captures/query")?;
        let body = json!({ "query": {
            "orgId": self.org_id(),
            "taskIds": task_ids,
            "urlExpiration": url_expiration_min.clamp(1, 60),
            "includeSegments": false,
        }});
        let answer: Value = self
            .call(Op::read(OP, SCOPE_CONFIG_READ, Method::POST), url, Some(&body), token)
            .await?;
        Ok(answer["data"].as_array().cloned().unwrap_or_default())
    }
}

/// GraphQL selections for dotted field paths (`lastQueue.name` → `lastQueue { name }`),
/// merged, leaving out what [`TASK_FIELDS`] selects already and anything that is not a
/// GraphQL name (such a path cannot be a Search field; the mapping reports it unmatched).
pub fn selection_of<'a>(paths: impl IntoIterator<Item = &'a str>) -> String {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Node(BTreeMap<String, Node>);
    fn render(n: &Node) -> String {
        n.0.iter()
            .map(|(k, child)| {
                if child.0.is_empty() {
                    k.clone()
                } else {
                    format!("{k} {{ {} }}", render(child))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
    let is_name = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    };
    let base: Vec<&str> = TASK_FIELDS.split_whitespace().collect();
    let mut root = Node::default();
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.is_empty() || !parts.iter().all(|p| is_name(p)) || parts[0] == "activities" {
            continue;
        }
        // Scalars TASK_FIELDS selects already; a sub-field of one of its objects is added.
        if parts.len() == 1 && base.contains(&parts[0]) {
            continue;
        }
        let mut node = &mut root;
        for p in parts {
            node = node.0.entry(p.to_owned()).or_default();
        }
    }
    render(&root)
}

/// `[from, to)` cut into listing windows of at most [`LIST_WINDOW`], oldest first,
/// starting no earlier than `now − MAX_AGE`.
pub fn list_windows(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let from = from.max(now - MAX_AGE);
    let to = to.min(now);
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + LIST_WINDOW).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_paths_become_merged_selections() {
        assert_eq!(
            selection_of([
                "lastWrapupCodeName",
                "callAssociatedData.reason",
                "callAssociatedData.region",
                "bad path",
                "a..b",
                "activities.nodes"
            ]),
            "callAssociatedData { reason region }"
        );
        assert_eq!(
            selection_of(["customerName", "lastSite.name"]),
            "customerName lastSite { name }"
        );
        assert_eq!(selection_of(std::iter::empty()), "");
    }

    #[test]
    fn windows_are_at_most_a_week_and_never_older_than_36_months() {
        let now = Utc::now();
        let w = list_windows(now - Duration::days(20), now, now);
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|(a, b)| *b - *a <= LIST_WINDOW && a < b));
        assert_eq!(w.first().unwrap().0, now - Duration::days(20));
        assert_eq!(w.last().unwrap().1, now);
        let old = list_windows(now - Duration::days(5000), now - Duration::days(3 * 365 - 1), now);
        assert_eq!(old.first().unwrap().0, now - MAX_AGE);
        assert!(list_windows(now, now - Duration::days(1), now).is_empty());
    }
}
