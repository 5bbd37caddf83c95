//! **Configuration** (reference §6.2, §6.4; UNCONFIRMED as a whole): users, teams and
//! queues from the auxiliary-data lists, and the ACD filters that decide which users sync.
//!
//! - `GET {api_url}/auxiliary-data/resources/{user|team|virtualTeam}?page=<n>&pageSize=100`
//!   → `{"auxiliaryDataList":[{"id","attributes":{…}}]}`, pages from 0 until an empty list.
//!   Attribute names carry type suffixes (`login__s`, `active__b`); a value is read from a
//!   string, a number or a boolean as sent.
//! - WXCC1-A05: a user's ACD id is its auxiliary-data `id` (what CARs carry as `agentId`);
//!   `active__b: false` users are skipped (neither created nor changed) until restored.
//! - WXCC1-A06: a user's team is `teamId__s`; the `team_name` filter field is that team's
//!   `name__s` from the team list.
//! - A page that fails after this level's retries makes the kind's listing **partial**
//!   (nothing of it is deactivated); an entry that cannot be read is rejected with its
//!   reason and the rest synced.
//! - ACD filters ([`wfo_domain::acd_filter`]): a user no filter matches is left out of
//!   the listing, so the sync deactivates them like a deleted one.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use wfo_domain::Secret;
use wfo_domain::acd_filter::{Verdict, passes};
use wfo_domain::config::AcdFilter;
use wfo_domain::org_sync::{SourceQueue, SourceTeam};
use wfo_domain::sync::{Eligibility, Listing, SourceUser, canonical_acd_id, display_name};
use wfo_ports::{
    CallKind, KindListing, ListingCalls, MAX_REJECTED, OrgListing, SourceError, UserListing, UserListingRequest,
};
use wfo_webex_cc2::model::channel_type;

use crate::client::Cc1Client;
use crate::error::Cc1Error;

/// Entries asked for per page.
pub const PAGE_SIZE: usize = 100;
/// Pages of one list before the walk stops as partial (a list that never ends).
pub const MAX_PAGES: u64 = 1_000;

/// The auxiliary-data resource types read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Team,
    /// A queue.
    VirtualTeam,
}

impl Resource {
    pub fn path(self) -> &'static str {
        match self {
            Resource::User => "auxiliary-data/resources/user",
            Resource::Team => "auxiliary-data/resources/team",
            Resource::VirtualTeam => "auxiliary-data/resources/virtualTeam",
        }
    }

    fn operation(self) -> &'static str {
        match self {
            Resource::User => "list users",
            Resource::Team => "list teams",
            Resource::VirtualTeam => "list queues (virtual teams)",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Resource::User => "user",
            Resource::Team => "team",
            Resource::VirtualTeam => "queue",
        }
    }
}

/// One auxiliary-data entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuxEntry {
    pub id: String,
    pub attributes: Map<String, Value>,
}

impl AuxEntry {
    /// A text attribute (a string, or a number or boolean spelled out); blank is absent.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.attributes.get(name)? {
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean attribute (also `"true"`/`"false"`); `Err` names a value of another kind.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, String> {
        match self.attributes.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(format!("attributes.{name} is {other}, not a boolean")),
        }
    }
}

/// One page: its entries, and the reasons of those that could not be read.
pub fn read_page(resource: Resource, body: Value) -> Result<(Vec<AuxEntry>, Vec<String>), Cc1Error> {
    let operation = resource.operation();
    let list = match body {
        Value::Object(mut o) => match o.remove("auxiliaryDataList") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(Cc1Error::Malformed {
                    operation,
                    message: "auxiliaryDataList is not an array".to_owned(),
                });
            }
        },
        _ => {
            return Err(Cc1Error::Malformed {
                operation,
                message: "the answer is not a JSON object".to_owned(),
            });
        }
    };
    let mut entries = Vec::with_capacity(list.len());
    let mut rejected = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        let id = match v.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                rejected.push(format!("{} #{i} of its page: no id", resource.noun()));
                continue;
            }
        };
        let attributes = match v.get("attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(_) => {
                rejected.push(format!("{} {id}: attributes is not an object", resource.noun()));
                continue;
            }
        };
        entries.push(AuxEntry { id, attributes });
    }
    Ok((entries, rejected))
}

impl Cc1Client {
    /// Page `page` (from 0) of an auxiliary-data list.
    pub async fn aux_page(&self, key: &Secret, resource: Resource, page: u64) -> Result<Value, Cc1Error> {
        let url = self.url(
            resource.path(),
            &[("page", &page.to_string()), ("pageSize", &PAGE_SIZE.to_string())],
        )?;
        self.get_json(resource.operation(), url, key).await
    }
}

/// Entries of one kind as read.
struct Read {
    entries: Vec<AuxEntry>,
    complete: bool,
    incomplete: Option<String>,
    rejected: Vec<String>,
    rejected_total: usize,
}

impl Read {
    fn listing(&self) -> Listing {
        if self.complete {
            Listing::Complete
        } else {
            Listing::Partial
        }
    }
}

/// One listing run (through [`ListingCalls`]: each call retried at this level, a `401`
/// renews the key once — which, for an API key, asks for an operator).
pub(crate) struct Lister<'a> {
    client: &'a Cc1Client,
    req: &'a UserListingRequest<'a>,
    calls: ListingCalls<'a>,
    filters: &'a [AcdFilter],
}

impl<'a> Lister<'a> {
    pub fn new(
        client: &'a Cc1Client,
        credentials: &'a dyn wfo_ports::Credentials,
        req: &'a UserListingRequest<'a>,
        filters: &'a [AcdFilter],
    ) -> Self {
        Self {
            client,
            req,
            calls: ListingCalls::new(req, credentials),
            filters,
        }
    }

    /// Every entry of one list. `Err` only when the first page cannot be read.
    async fn read(&self, resource: Resource, kind: CallKind) -> Result<Read, SourceError> {
        let mut out = Read {
            entries: Vec::new(),
            complete: true,
            incomplete: None,
            rejected: Vec::new(),
            rejected_total: 0,
        };
        let mut seen = HashSet::new();
        for page in 0..MAX_PAGES {
            let got = self
                .calls
                .call(
                    kind,
                    |key| async move { self.client.aux_page(&key, resource, page).await },
                )
                .await
                .and_then(|body| read_page(resource, body).map_err(crate::error::cc1_error));
            let (entries, rejected) = match got {
                Ok(v) => v,
                Err(e) if page == 0 => return Err(e),
                Err(e)
                    if e.needs_operator()
                        || matches!(e, SourceError::Unauthorized(_) | SourceError::Credentials(_)) =>
                {
                    return Err(e);
                }
                Err(e) => {
                    out.complete = false;
                    out.incomplete = Some(format!(
                        "{} page {} could not be read: {e}",
                        resource.operation(),
                        page + 1
                    ));
                    return Ok(out);
                }
            };
            if entries.is_empty() && rejected.is_empty() {
                return Ok(out);
            }
            for reason in rejected {
                out.rejected_total += 1;
                tracing::warn!(connector = %self.req.connector.config.id, %reason, "Contact Center 1.0 entry skipped");
                if out.rejected.len() < MAX_REJECTED {
                    out.rejected.push(reason);
                }
            }
            let before = out.entries.len();
            for e in entries {
                if seen.insert(e.id.clone()) {
                    out.entries.push(e);
                }
            }
            if out.entries.len() == before && page > 0 {
                // A page that only repeats what came: the server ignores `page`.
                out.complete = false;
                out.incomplete = Some(format!(
                    "{} page {} repeats earlier entries (paging ignored?); the rest is not read",
                    resource.operation(),
                    page + 1
                ));
                return Ok(out);
            }
        }
        out.complete = false;
        out.incomplete = Some(format!(
            "{} did not end after {MAX_PAGES} pages; the rest is not read",
            resource.operation()
        ));
        Ok(out)
    }

    /// Team names by id (for the `team_name` filter field).
    async fn team_names(&self) -> Result<(HashMap<String, String>, Read), SourceError> {
        let teams = self.read(Resource::Team, CallKind::Teams).await?;
        let names = teams
            .entries
            .iter()
            .filter_map(|t| Some((t.id.clone(), t.text("name__s")?)))
            .collect();
        Ok((names, teams))
    }

    pub async fn users(&self) -> Result<UserListing, SourceError> {
        let needs_teams = self.filters.iter().any(|f| f.field.trim() == "team_name");
        let (team_names, teams_complete, teams_incomplete) = if needs_teams {
            let (names, read) = self.team_names().await?;
            (names, read.complete, read.incomplete)
        } else {
            (HashMap::new(), true, None)
        };
        let read = self.read(Resource::User, CallKind::People).await?;
        let listed = read.entries.len() as u64 + read.rejected_total as u64;
        let mut rejected = read.rejected.clone();
        let mut users = Vec::with_capacity(read.entries.len());
        let mut filtered_out = 0u64;
        let mut seen = HashSet::new();
        for u in &read.entries {
            let acd_id = canonical_acd_id(&u.id);
            if !seen.insert(acd_id.clone()) {
                if rejected.len() < MAX_REJECTED {
                    rejected.push(format!(
                        "user {}: a second user with that id; the first is synced",
                        u.id
                    ));
                }
                continue;
            }
            let active = match u.flag("active__b") {
                Ok(a) => a.unwrap_or(true),
                Err(reason) => {
                    if rejected.len() < MAX_REJECTED {
                        rejected.push(format!("user {}: {reason}", u.id));
                    }
                    continue;
                }
            };
            let team_id = u.text("teamId__s");
            let login = u.text("login__s");
            let email = u.text("email__s").or_else(|| login.clone().filter(|l| l.contains('@')));
            let first = u.text("firstName__s").unwrap_or_default();
            let last = u.text("lastName__s").unwrap_or_default();
            let full = u.text("name__s");
            let verdict = passes(self.filters, |field| match field {
                "team_name" => team_id.as_ref().and_then(|t| team_names.get(t).cloned()),
                "team_id" => team_id.clone(),
                "login" => login.clone(),
                "email" => email.clone(),
                "first_name" => Some(first.clone()).filter(|s| !s.is_empty()),
                "last_name" => Some(last.clone()).filter(|s| !s.is_empty()),
                "name" => full.clone(),
                raw => u.text(raw),
            });
            if verdict == Verdict::NotMatched {
                filtered_out += 1;
                continue;
            }
            let display = match &full {
                Some(f) if first.is_empty() && last.is_empty() => f.clone(),
                _ => display_name(&first, &last),
            };
            users.push(SourceUser {
                acd_id,
                first_name: first,
                last_name: last,
                display_name: display,
                email,
                eligibility: if active {
                    Eligibility::Eligible
                } else {
                    Eligibility::Skipped
                },
                agent_role: true,
            });
        }
        let mut notes = Vec::new();
        if !self.filters.is_empty() {
            notes.push(format!(
                "ACD filters: {} of {} users match ({}); the others are not synced",
                users.len(),
                users.len() as u64 + filtered_out,
                self.filters
                    .iter()
                    .map(|f| format!("{} = \"{}\"", f.field.trim(), f.pattern))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        // A user's team name unknown (the team list partial) could wrongly fail a
        // team_name filter: then nobody may be deactivated.
        let (listing, incomplete) = match (read.complete, teams_complete) {
            (true, true) => (Listing::Complete, None),
            (false, _) => (Listing::Partial, read.incomplete.clone()),
            (true, false) => (
                Listing::Partial,
                teams_incomplete.map(|t| format!("{t} (needed by the team_name ACD filter)")),
            ),
        };
        let candidates = users.iter().filter(|u| u.eligibility == Eligibility::Eligible).count() as u64;
        Ok(UserListing {
            users,
            listing,
            incomplete,
            people_listed: listed,
            candidates,
            setting_failures: 0,
            rejected,
            notes,
        })
    }

    pub async fn org(&self) -> Result<OrgListing, SourceError> {
        let teams = self.read(Resource::Team, CallKind::Teams).await?;
        let queues = self.read(Resource::VirtualTeam, CallKind::Queues).await?;
        let mut team_rejected = teams.rejected.clone();
        let mut team_items = Vec::with_capacity(teams.entries.len());
        for t in &teams.entries {
            match (t.text("name__s"), t.flag("active__b")) {
                (Some(name), Ok(active)) => team_items.push(SourceTeam {
                    id: t.id.clone(),
                    name,
                    active: active.unwrap_or(true),
                }),
                (None, _) => push_bounded(&mut team_rejected, format!("team {}: no name__s", t.id)),
                (_, Err(reason)) => push_bounded(&mut team_rejected, format!("team {}: {reason}", t.id)),
            }
        }
        let mut queue_rejected = queues.rejected.clone();
        let mut queue_items = Vec::with_capacity(queues.entries.len());
        for q in &queues.entries {
            let raw_channel = q.text("channelType__s").or_else(|| q.text("channelType"));
            let (channel, known) = channel_type(raw_channel.as_deref());
            if !known {
                tracing::info!(connector = %self.req.connector.config.id, queue = %q.id, channel = ?raw_channel, "unknown queue channel type: synced as TELEPHONY");
            }
            match (q.text("name__s"), q.flag("active__b")) {
                (Some(name), Ok(active)) => queue_items.push(SourceQueue {
                    id: q.id.clone(),
                    name,
                    active: active.unwrap_or(true),
                    channel_type: channel,
                }),
                (None, _) => push_bounded(&mut queue_rejected, format!("queue {}: no name__s", q.id)),
                (_, Err(reason)) => push_bounded(&mut queue_rejected, format!("queue {}: {reason}", q.id)),
            }
        }
        Ok(OrgListing {
            teams: KindListing {
                items: team_items,
                listing: teams.listing(),
                incomplete: teams.incomplete,
                rejected: team_rejected,
            },
            queues: KindListing {
                items: queue_items,
                listing: queues.listing(),
                incomplete: queues.incomplete,
                rejected: queue_rejected,
            },
        })
    }
}

fn push_bounded(v: &mut Vec<String>, reason: String) {
    if v.len() < MAX_REJECTED {
        v.push(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_keeps_readable_entries_and_names_the_others() {
        let (entries, rejected) = read_page(
            Resource::User,
            json!({"auxiliaryDataList": [
                {"id": "u1", "attributes": {"login__s": "a@x", "active__b": "false"}},
                {"attributes": {}},
                {"id": "u3", "attributes": [1]},
                {"id": 7}
            ]}),
        )
        .unwrap();
        assert_eq!(entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["u1", "7"]);
        assert_eq!(entries[0].flag("active__b"), Ok(Some(false)));
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert!(rejected[1].contains("u3"));
        assert!(read_page(Resource::Team, json!({"auxiliaryDataList": 3})).is_err());
        assert_eq!(read_page(Resource::Team, json!({})).unwrap().0.len(), 0);
    }
}
