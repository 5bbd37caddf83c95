//! Users, teams and queues for the configuration sync (reference §4, §9.9; the WxCC
//! integration guide's "Core Configuration Data").
//!
//! Each kind is one paged v2 list (`page` from 0, `meta.totalPages`), read to its end;
//! there is no server-side "changed since", so every run lists everything and the
//! pipeline's engines diff (a run with no change makes no WFO write).
//!
//! - A page is retried at this level (`Retry-After` honoured up to `max_page_wait`,
//!   doubling waits otherwise, one token renewal on `401`). A page that still fails makes
//!   that kind's listing **partial**: nothing of that kind is deactivated.
//! - An entry that cannot be read (no id, a field of the wrong type) is rejected with its
//!   reason; the rest of the page is synced.
//! - Users: the ACD id is the **CI user id** (what task activities and captures carry;
//!   reference §4 "ID mapping"), canonicalised; a user without one falls back to `id`
//!   (noted). "Not Active" users are skipped — neither created nor changed — until
//!   restored; a user gone from a complete listing is deactivated by the engine. Users
//!   without names get the engine's fallbacks (e-mail, then a placeholder).
//! - Teams: active or not, listed with their state (the engine creates active ones only).
//! - Queues: `channelType` mapped to WFO's channel (unknown → telephony, noted).

use std::collections::HashSet;

use futures::Future;
use wfo_domain::Secret;
use wfo_domain::org_sync::{SourceQueue, SourceTeam};
use wfo_domain::sync::{Eligibility, Listing, SourceUser, canonical_acd_id};
use wfo_ports::{
    CallKind, KindListing, ListingCalls, MAX_REJECTED, OrgListing, SourceError, UserListing, UserListingRequest,
};

use crate::client::{CcClient, ConfigList, MAX_PAGES};
use crate::error::{CcError, cc_error};
use crate::model::{CcQueue, CcTeam, CcUser, channel_type, read_entry};

/// One listing run (the calls through [`ListingCalls`]: one token, renewed once on a
/// `401`, each call retried at this level).
pub(crate) struct Lister<'a> {
    pub client: &'a CcClient,
    pub req: &'a UserListingRequest<'a>,
    calls: ListingCalls<'a>,
}

impl wfo_ports::CallError for CcError {
    fn is_unauthorized(&self) -> bool {
        matches!(self, CcError::Unauthorized { .. })
    }

    fn is_retryable(&self) -> bool {
        CcError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        CcError::retry_after(self)
    }

    fn into_source_error(self) -> SourceError {
        cc_error(self)
    }
}

/// Entries of one kind as read, before mapping.
struct Read<T> {
    items: Vec<T>,
    complete: bool,
    incomplete: Option<String>,
    rejected: Vec<String>,
    rejected_total: usize,
}

impl<'a> Lister<'a> {
    pub fn new(
        client: &'a CcClient,
        credentials: &'a dyn wfo_ports::Credentials,
        req: &'a UserListingRequest<'a>,
    ) -> Self {
        Self {
            client,
            req,
            calls: ListingCalls::new(req, credentials),
        }
    }

    async fn call<T, F, Fut>(&self, kind: CallKind, f: F) -> Result<T, SourceError>
    where
        F: FnMut(Secret) -> Fut,
        Fut: Future<Output = Result<T, CcError>>,
    {
        self.calls.call(kind, f).await
    }

    /// Every entry of one list. `Err` only when the first page cannot be read (nothing
    /// is known); a later page that fails ends the walk as partial.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        list: ConfigList,
        kind: CallKind,
    ) -> Result<Read<T>, SourceError> {
        let mut out = Read {
            items: Vec::new(),
            complete: true,
            incomplete: None,
            rejected: Vec::new(),
            rejected_total: 0,
        };
        let mut page = 0u64;
        loop {
            let got = self
                .call(
                    kind,
                    |token| async move { self.client.list_page(list, page, &token).await },
                )
                .await;
            let body = match got {
                Ok(b) => b,
                Err(e) if page == 0 => return Err(e),
                Err(e) if !e.is_retryable() && !matches!(e, SourceError::Permanent(_)) => return Err(e),
                Err(e) => {
                    out.complete = false;
                    out.incomplete = Some(format!("{} page {} could not be read: {e}", list.operation(), page + 1));
                    return Ok(out);
                }
            };
            let empty = body.data.is_empty();
            for (i, entry) in body.data.into_iter().enumerate() {
                match read_entry::<T>(list.noun(), i, entry) {
                    Ok(v) => out.items.push(v),
                    Err(reason) => {
                        out.rejected_total += 1;
                        tracing::warn!(connector = %self.req.connector.config.id, %reason, "Contact Center entry skipped");
                        if out.rejected.len() < MAX_REJECTED {
                            out.rejected.push(reason);
                        }
                    }
                }
            }
            page += 1;
            let more = match body.meta.total_pages {
                Some(t) if page < t && empty => {
                    // The server says more pages follow but this one is empty: what the
                    // rest holds is unknown, so nothing may be deactivated.
                    out.complete = false;
                    out.incomplete = Some(format!(
                        "{} page {page} is empty although the answer counts {t} pages",
                        list.operation()
                    ));
                    return Ok(out);
                }
                Some(t) => page < t,
                // No meta: page until an empty page (the v1 lists' rule).
                None => !empty,
            };
            if !more {
                return Ok(out);
            }
            if page >= MAX_PAGES {
                out.complete = false;
                out.incomplete = Some(format!(
                    "{} did not end after {MAX_PAGES} pages; the rest is not read",
                    list.operation()
                ));
                return Ok(out);
            }
        }
    }

    pub async fn users(&self) -> Result<UserListing, SourceError> {
        let read = self.read::<CcUser>(ConfigList::Users, CallKind::People).await?;
        let listed = read.items.len() as u64 + read.rejected_total as u64;
        let mut rejected = read.rejected;
        let mut seen = HashSet::new();
        let mut users = Vec::with_capacity(read.items.len());
        for u in read.items {
            let ci = u.ci_user_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let raw = match ci {
                Some(ci) => ci,
                None if !u.id.trim().is_empty() => {
                    tracing::info!(connector = %self.req.connector.config.id, user = %u.id, "Contact Center user without ciUserId: keyed on its id");
                    u.id.trim()
                }
                None => {
                    if rejected.len() < MAX_REJECTED {
                        rejected.push("user with a blank id and no ciUserId".to_owned());
                    }
                    continue;
                }
            };
            let acd_id = canonical_acd_id(raw);
            if !seen.insert(acd_id.clone()) {
                if rejected.len() < MAX_REJECTED {
                    rejected.push(format!(
                        "user {}: a second user with CI user id {acd_id}; the first is synced",
                        u.id
                    ));
                }
                continue;
            }
            let first = u.first_name.unwrap_or_default().trim().to_owned();
            let last = u.last_name.unwrap_or_default().trim().to_owned();
            users.push(SourceUser {
                acd_id,
                display_name: wfo_domain::sync::display_name(&first, &last),
                first_name: first,
                last_name: last,
                email: u.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()),
                eligibility: if u.active {
                    Eligibility::Eligible
                } else {
                    Eligibility::Skipped
                },
                agent_role: u.contact_center_enabled.unwrap_or(true),
            });
        }
        let candidates = users.iter().filter(|u| u.eligibility == Eligibility::Eligible).count() as u64;
        Ok(UserListing {
            users,
            listing: if read.complete {
                Listing::Complete
            } else {
                Listing::Partial
            },
            incomplete: read.incomplete,
            people_listed: listed,
            candidates,
            setting_failures: 0,
            rejected,
            notes: Vec::new(),
        })
    }

    pub async fn org(&self) -> Result<OrgListing, SourceError> {
        let teams = self.read::<CcTeam>(ConfigList::Teams, CallKind::Teams).await?;
        let queues = self.read::<CcQueue>(ConfigList::Queues, CallKind::Queues).await?;
        let mut team_rejected = teams.rejected;
        let team_items = teams
            .items
            .into_iter()
            .filter_map(|t| {
                let id = t.id.trim().to_owned();
                if id.is_empty() || t.name.trim().is_empty() {
                    if team_rejected.len() < MAX_REJECTED {
                        team_rejected.push(format!("team '{}' ({}): blank id or name", t.name, t.id));
                    }
                    return None;
                }
                let in_service = t
                    .team_status
                    .as_deref()
                    .is_none_or(|s| !s.eq_ignore_ascii_case("NOT_AVAILABLE"));
                Some(SourceTeam {
                    id,
                    name: t.name.trim().to_owned(),
                    active: t.active && in_service,
                })
            })
            .collect();
        let mut queue_rejected = queues.rejected;
        let queue_items = queues
            .items
            .into_iter()
            .filter_map(|q| {
                let id = q.id.trim().to_owned();
                if id.is_empty() || q.name.trim().is_empty() {
                    if queue_rejected.len() < MAX_REJECTED {
                        queue_rejected.push(format!("queue '{}' ({}): blank id or name", q.name, q.id));
                    }
                    return None;
                }
                let (channel, known) = channel_type(q.channel_type.as_deref());
                if !known {
                    tracing::info!(connector = %self.req.connector.config.id, queue = %id, channel = ?q.channel_type, "unknown queue channelType: synced as TELEPHONY");
                }
                Some(SourceQueue {
                    id,
                    name: q.name.trim().to_owned(),
                    active: q.active,
                    channel_type: channel,
                })
            })
            .collect();
        Ok(OrgListing {
            teams: KindListing {
                items: team_items,
                listing: if teams.complete {
                    Listing::Complete
                } else {
                    Listing::Partial
                },
                incomplete: teams.incomplete,
                rejected: team_rejected,
            },
            queues: KindListing {
                items: queue_items,
                listing: if queues.complete {
                    Listing::Complete
                } else {
                    Listing::Partial
                },
                incomplete: queues.incomplete,
                rejected: queue_rejected,
            },
        })
    }
}
