//! The users a Webex Calling connector syncs (the source half of the user sync; the WFO
//! half is the pipeline's `sync` module).
//!
//! `GET /v1/licenses` → the ids of every license named "Webex Calling - Professional"
//! (none → the run stops before any write: a license list without Professional must not
//! deactivate everybody); the call-recording roster `GET /v1/telephony/config/
//! callRecording/vendorUsers` (people assigned to the org's recording vendor, 2,000 a
//! page); `GET /v1/people?callingData=true&max=100&excludeStatus=true` through every
//! `Link rel="next"`. A *candidate* holds a Professional license and is on the roster.
//! Eligible = candidate and `record` is not `Never`.
//!
//! The roster does not carry the `record` mode, and a user switched to `Never` stays on
//! it (the reference's own example is `"enabled": true, "record": "Never"`), so the mode
//! comes from `GET /v1/people/{id}/features/callRecording`, kept per candidate in a
//! snapshot (`KvStore`). What makes it fresh within one run is the admin audit events
//! (`GET /v1/adminAudit/events`, `audit:events_read`) since the last run: a candidate
//! they name as having had their call-recording setting changed is read again this run
//! ([`crate::AuditEvent::recording_change`] is the one place that decides which events
//! count: a working assumption). A mode is also read when the snapshot has none (new
//! candidate, or back on the roster) and, as a backstop for changes the feed might not
//! show, after `record_mode_ttl` (staggered per user between half and all of it). So an
//! unchanged org costs one audit-events page per run and no per-user read.
//!
//! When the feed cannot be used (scope not granted: `403`; not there: `404`; any other
//! failure; no `source.tenant_id`; no position stored while verdicts are; a call-
//! recording change not tied to one person) every candidate's mode is read again, oldest
//! verdict first, at most `max_setting_reads` per run: the listing says so in
//! [`UserListing::notes`]. The feed position moves on when every candidate was read; a
//! feed that failed is read from its old position next run; without a usable position
//! the listing *catches up* (every mode read again, run after run, until each was read
//! after the catch-up began; then the feed is read from that moment). Users the feed
//! named and that could not be read are left alone (`Skipped`) and read first next run.
//!
//! Each call is retried at this level (429 `Retry-After` honoured up to `max_page_wait`,
//! doubling waits otherwise, one credential renewal on 401). Licenses or roster not read →
//! the listing fails. A People page that still fails after earlier pages → the listing is
//! *partial*: nobody is deactivated.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;
use wfo_domain::sync::{Eligibility, Listing, SourceUser, canonical_acd_id};
use wfo_ports::{CallKind, KvStore, ListingCalls, SourceError, StoreError, UserListing, UserListingRequest};

use crate::source::{WebexCallingSource, webex_error};
use crate::{
    AuditEvent, CallRecordingSetting, Page, ROSTER_PAGE_SIZE, RecordingChange, WebexError, WebexPerson,
    professional_license_ids,
};

/// Which stored verdicts this run cannot trust, from the change feed.
#[derive(Debug)]
enum Changes {
    /// The feed was read: these people (canonical ids) had their setting changed, as the
    /// events of `seen` (ids) said.
    Named { people: HashSet<String>, seen: Vec<String> },
    /// Nothing to read yet (no verdicts stored): every candidate is read as new.
    FirstRun,
    /// The feed could not tell: every candidate's mode is read again. Why, for the run.
    Everyone(String),
}

/// Manifest of the record-mode verdict snapshot; chunks are `{VERDICTS_KEY}:{n}`.
pub const VERDICTS_KEY: &str = "user-sync:verdicts";
/// Where the admin audit events were read up to, and the recording-change events already
/// acted on (`{"readUpTo": RFC 3339, "seen": [event ids]}`): the next read overlaps the
/// last one and skips those, so a change costs one setting read, not one per run.
pub const CHANGE_FEED_KEY: &str = "user-sync:recording-changes";
/// Each feed read starts this long before the last one ended (events written late, clock
/// differences); an event read twice only costs one more setting read.
const FEED_OVERLAP_MINUTES: i64 = 10;
/// A feed position older than this is not trusted (every candidate is read instead).
const FEED_MAX_AGE_DAYS: i64 = 30;
/// Audit-event pages per run, at most (1,000 events each); more → every candidate is read.
const FEED_MAX_PAGES: usize = 50;
/// Verdicts per snapshot chunk, at most (keeps one stored value well under 400 KB).
const VERDICTS_PER_CHUNK: usize = 2000;
/// Concurrent calls are set up this many at a time (bounds memory on big runs).
const BATCH: usize = 1000;

/// Scopes the sync needs besides those of the importer.
pub const REQUIRED_SCOPES: &[&str] = &[
    "spark-admin:people_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
];

/// The message of a listing stopped because the org has no Professional license.
pub const NO_PROFESSIONAL_LICENSE: &str = "the org's license list has no \"Webex Calling - Professional\" license; nothing was changed (every synced user would be deactivated)";

/// One listing run.
pub(crate) struct Lister<'a> {
    pub source: &'a WebexCallingSource,
    pub req: &'a UserListingRequest<'a>,
    pub calls: ListingCalls<'a>,
}

impl wfo_ports::CallError for WebexError {
    fn is_unauthorized(&self) -> bool {
        matches!(self, WebexError::Unauthorized { .. })
    }

    fn is_retryable(&self) -> bool {
        WebexError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        WebexError::retry_after(self)
    }

    fn into_source_error(self) -> SourceError {
        webex_error(self)
    }
}

impl Lister<'_> {
    /// One source call with this level's retries ([`ListingCalls::call`]).
    async fn call<T, F, Fut>(&self, kind: CallKind, f: F) -> Result<T, SourceError>
    where
        F: FnMut(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, WebexError>>,
    {
        self.calls.call(kind, f).await
    }

    pub(crate) async fn list(&self) -> Result<UserListing, SourceError> {
        let now = self.req.now;
        let webex = self.source.client();
        let licenses = self
            .call(CallKind::Licenses, |t| async move { webex.list_licenses(&t).await })
            .await?;
        let professional: HashSet<String> = professional_license_ids(&licenses)
            .iter()
            .map(|id| license_key(id))
            .collect();
        if professional.is_empty() {
            return Err(SourceError::Permanent(NO_PROFESSIONAL_LICENSE.to_owned()));
        }
        let (roster, roster_unreadable) = self.read_roster().await?;

        // People: page by page; a page that keeps failing makes the listing partial.
        let mut people: Vec<WebexPerson> = Vec::new();
        let mut unreadable = Vec::new();
        let mut incomplete = None;
        match self
            .call(CallKind::People, |t| async move { webex.list_people_page(&t).await })
            .await
        {
            Err(e) => incomplete = Some(format!("the People listing failed on page 1: {e}")),
            Ok(first) => {
                let mut page: Page<WebexPerson> = first;
                let mut n = 1;
                loop {
                    people.append(&mut page.items);
                    unreadable.append(&mut page.unreadable);
                    if !page.has_next() {
                        break;
                    }
                    n += 1;
                    let current = &page;
                    match self
                        .call(CallKind::People, |t| async move { webex.next_page(&t, current).await })
                        .await
                    {
                        Ok(Some(next)) => page = next,
                        Ok(None) => break,
                        Err(e) => {
                            incomplete = Some(format!(
                                "the People listing failed on page {n} after {} people were read; nobody was deactivated: {e}",
                                people.len()
                            ));
                            break;
                        }
                    }
                }
            }
        }
        // A person without a usable id is no user to sync, and might be anyone: the same
        // as one that could not be read.
        let blank_ids = people
            .iter()
            .filter(|p| canonical_acd_id(&p.id).is_empty() && p.is_person())
            .count();
        people.retain(|p| !canonical_acd_id(&p.id).is_empty());
        // Someone the listing showed but could not read might be anyone: deactivating
        // on this listing could remove a real user, so it counts as partial.
        if incomplete.is_none() && (!unreadable.is_empty() || blank_ids > 0 || roster_unreadable > 0) {
            incomplete = Some(format!(
                "{} people and {roster_unreadable} recording-roster members could not be read{}; nobody was deactivated",
                unreadable.len() + blank_ids,
                unreadable
                    .first()
                    .map(|u| format!(" (first: {})", u.reason))
                    .or_else(|| (blank_ids > 0).then(|| " (first: a person with a blank id)".to_owned()))
                    .unwrap_or_default()
            ));
        }
        let complete = incomplete.is_none();

        // Candidates and their record-mode verdicts.
        let mut verdicts = Verdicts::load(self.req.kv, &self.req.connector.config.id).await;
        let mut users = Vec::with_capacity(people.len());
        let mut candidates: Vec<(String, String)> = Vec::new(); // (canonical id, REST id)
        for p in people.iter().filter(|p| p.is_person()) {
            let id = canonical_acd_id(&p.id);
            let pro = p.licenses.iter().any(|l| professional.contains(&license_key(l)));
            if pro && roster.contains(&id) {
                candidates.push((id.clone(), p.id.clone()));
            }
            users.push(SourceUser {
                acd_id: id,
                first_name: p.first_name.clone().unwrap_or_default(),
                last_name: p.last_name.clone().unwrap_or_default(),
                display_name: p
                    .display_name
                    .clone()
                    .or_else(|| p.nick_name.clone())
                    .unwrap_or_default(),
                email: p.email().map(str::to_owned),
                eligibility: Eligibility::NotEligible,
                agent_role: true,
            });
        }
        let mut setting_failures = 0;
        let mut notes = Vec::new();
        let recording: BTreeMap<String, Option<bool>> = match self.req.settings.record_mode_ttl {
            None => candidates.iter().map(|(id, _)| (id.clone(), Some(true))).collect(),
            Some(ttl) => {
                let cursor = load_cursor(self.req.kv, &self.req.connector.config.id).await;
                let changes = self.recording_changes(cursor.as_ref(), verdicts.is_empty()).await?;
                let empty = HashSet::new();
                let (changed, ttl) = match &changes {
                    Changes::Named { people, .. } => (people, ttl),
                    Changes::FirstRun => (&empty, ttl),
                    // Every verdict is stale: re-read oldest first.
                    Changes::Everyone(_) => (&empty, chrono::Duration::zero()),
                };
                let due = verdicts.due(&candidates, changed, now, ttl, self.req.settings.max_setting_reads);
                let mut read: Vec<(String, Result<CallRecordingSetting, SourceError>)> = Vec::with_capacity(due.len());
                for batch in due.chunks(BATCH) {
                    let reads: Vec<_> = batch
                        .iter()
                        .map(|(id, rest_id)| async move {
                            let r = self
                                .call(CallKind::Setting, |t| async move {
                                    webex.person_call_recording(&t, rest_id).await
                                })
                                .await;
                            (id.clone(), r)
                        })
                        .collect();
                    let done: Vec<_> = futures::stream::iter(reads)
                        .buffer_unordered(self.req.settings.read_concurrency.max(1))
                        .collect()
                        .await;
                    read.extend(done);
                }
                let mut fresh = HashSet::with_capacity(read.len());
                for (id, r) in read {
                    match r {
                        Ok(setting) => {
                            verdicts.set(&id, setting.records(), now);
                            fresh.insert(id);
                        }
                        Err(e @ (SourceError::Credentials(_) | SourceError::Unauthorized(_))) => return Err(e),
                        Err(e) => {
                            setting_failures += 1;
                            tracing::debug!(acd_id = %id, error = %e, "cannot read the recording setting; keeping the last verdict");
                        }
                    }
                }
                // A verdict the feed says is out of date and that was not read again is
                // dropped: that user is left alone now and read first next run.
                for id in changed.iter().filter(|id| !fresh.contains(*id)) {
                    verdicts.remove(id);
                }
                let next_cursor = match &changes {
                    Changes::Named { seen, .. } => Some(Cursor::at(now, seen.iter().cloned().collect())),
                    Changes::FirstRun => Some(Cursor::at(now, HashSet::new())),
                    Changes::Everyone(why) => {
                        let all = complete && candidates.iter().all(|(id, _)| fresh.contains(id));
                        notes.push(format!(
                            "recording modes read again for {} of {} candidates: {why}{}",
                            fresh.len(),
                            candidates.len(),
                            if all {
                                String::new()
                            } else {
                                "; the others keep their last verdict and are read first in the next runs (a switch to Never may take more than one run to show)".to_owned()
                            }
                        ));
                        if all {
                            Some(Cursor::at(now, HashSet::new()))
                        } else {
                            match &cursor {
                                // Catching up: the feed from `since` vouches for every
                                // verdict once each was read after it.
                                Some(c) if c.catching_up => (complete
                                    && verdicts.all_checked_since(&candidates, c.read_up_to))
                                .then(|| Cursor {
                                    catching_up: false,
                                    ..Cursor::at(c.read_up_to, HashSet::new())
                                }),
                                // The feed failed: it is read from its position next run.
                                Some(c) if now - c.read_up_to <= chrono::Duration::days(FEED_MAX_AGE_DAYS) => None,
                                // No usable position: start catching up from this run.
                                _ => Some(Cursor {
                                    catching_up: true,
                                    ..Cursor::at(now, HashSet::new())
                                }),
                            }
                        }
                    }
                };
                let result = candidates
                    .iter()
                    .map(|(id, _)| (id.clone(), verdicts.get(id)))
                    .collect();
                if complete {
                    let keep: BTreeSet<&str> = candidates.iter().map(|(id, _)| id.as_str()).collect();
                    verdicts.retain(&keep);
                }
                match verdicts.save(self.req.kv, &self.req.connector.config.id).await {
                    // The feed position moves only once the verdicts it vouches for are stored.
                    Ok(()) if next_cursor.is_some() => {
                        let next = next_cursor.as_ref().map(save_value).unwrap_or_default();
                        if let Err(e) = self
                            .req
                            .kv
                            .put_value(&self.req.connector.config.id, CHANGE_FEED_KEY, &next)
                            .await
                        {
                            tracing::warn!(connector = %self.req.connector.config.id, error = %e, "cannot store the recording change-feed position (next run reads every candidate)");
                        }
                    }
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(connector = %self.req.connector.config.id, error = %e, "cannot store the recording verdicts (next run reads them again)");
                    }
                }
                result
            }
        };
        for u in &mut users {
            u.eligibility = match recording.get(&u.acd_id) {
                None => Eligibility::NotEligible,
                Some(Some(true)) => Eligibility::Eligible,
                Some(Some(false)) => Eligibility::NotEligible,
                Some(None) => Eligibility::Skipped,
            };
        }
        Ok(UserListing {
            people_listed: people.len() as u64,
            candidates: candidates.len() as u64,
            users,
            listing: if complete { Listing::Complete } else { Listing::Partial },
            incomplete,
            setting_failures,
            rejected: Vec::new(),
            notes,
        })
    }

    /// Whose recording setting changed since the feed position `cursor`, from the admin
    /// audit events in `[cursor − overlap, now)`. `no_verdicts`: nothing is cached, so a
    /// missing position is a first run rather than a gap.
    async fn recording_changes(&self, cursor: Option<&Cursor>, no_verdicts: bool) -> Result<Changes, SourceError> {
        let now = self.req.now;
        let org = self.req.connector.config.source.tenant_id.trim();
        if cursor.is_some_and(|c| c.catching_up) {
            return Ok(Changes::Everyone(
                "catching up: the admin audit events vouch for a recording mode only once it was read after they were first read"
                    .to_owned(),
            ));
        }
        let Some(cursor) = cursor else {
            return Ok(if no_verdicts {
                Changes::FirstRun
            } else {
                Changes::Everyone(
                    "no change-feed position is stored (first run with the admin audit events)".to_owned(),
                )
            });
        };
        if org.is_empty() {
            return Ok(Changes::Everyone(
                "source.tenant_id is not set, so the admin audit events (which need the orgId) cannot be read"
                    .to_owned(),
            ));
        }
        if now - cursor.read_up_to > chrono::Duration::days(FEED_MAX_AGE_DAYS) {
            return Ok(Changes::Everyone(format!(
                "the admin audit events were last read more than {FEED_MAX_AGE_DAYS} days ago"
            )));
        }
        let from = (cursor.read_up_to - chrono::Duration::minutes(FEED_OVERLAP_MINUTES))
            .min(now - chrono::Duration::seconds(1));
        let webex = self.source.client();
        let unusable = |e: SourceError| -> Result<Changes, SourceError> {
            match e {
                e @ SourceError::Credentials(_) => Err(e),
                e => Ok(Changes::Everyone(format!(
                    "the admin audit events (GET /v1/adminAudit/events, scope {}) could not be read: {e}",
                    crate::SCOPE_AUDIT_EVENTS
                ))),
            }
        };
        let mut page: Page<AuditEvent> = match self
            .call(CallKind::ChangeFeed, |t| async move {
                webex.admin_audit_events_page(&t, org, from, now).await
            })
            .await
        {
            Ok(p) => p,
            Err(e) => return unusable(e),
        };
        let mut named = HashSet::new();
        let mut seen = Vec::new();
        let mut pages = 1;
        loop {
            if !page.unreadable.is_empty() {
                return Ok(Changes::Everyone(format!(
                    "{} admin audit events could not be read (any of them may be a recording change)",
                    page.unreadable.len()
                )));
            }
            for event in &page.items {
                match event.recording_change() {
                    RecordingChange::None => {}
                    RecordingChange::Person(id) => {
                        let id = canonical_acd_id(&id);
                        if !id.is_empty() && !cursor.seen.contains(&event.id) {
                            named.insert(id);
                        }
                        seen.push(event.id.clone());
                    }
                    RecordingChange::Wider => {
                        return Ok(Changes::Everyone(format!(
                            "admin audit event {} changed call recording beyond one person ({})",
                            event.id,
                            event.data.target_type.as_deref().unwrap_or("no target type")
                        )));
                    }
                }
            }
            if !page.has_next() {
                break;
            }
            if pages >= FEED_MAX_PAGES {
                return Ok(Changes::Everyone(format!(
                    "more than {} admin audit events since the last run",
                    FEED_MAX_PAGES * crate::AUDIT_PAGE_SIZE as usize
                )));
            }
            pages += 1;
            let current = &page;
            match self
                .call(
                    CallKind::ChangeFeed,
                    |t| async move { webex.next_page(&t, current).await },
                )
                .await
            {
                Ok(Some(next)) => page = next,
                Ok(None) => break,
                Err(e) => return unusable(e),
            }
        }
        Ok(Changes::Named { people: named, seen })
    }

    /// Every member of the call-recording roster (canonical ids of people), and how many
    /// entries could not be read. `Link` is followed; without one, a full page is
    /// followed by the next `start` offset.
    async fn read_roster(&self) -> Result<(HashSet<String>, usize), SourceError> {
        let webex = self.source.client();
        let mut out = HashSet::new();
        let mut unreadable = 0usize;
        // Members read so far = the offset of the next page.
        let mut read = 0u32;
        let mut page = self
            .call(CallKind::Roster, |t| async move {
                webex.recording_roster_page(&t, 0, ROSTER_PAGE_SIZE).await
            })
            .await?;
        loop {
            unreadable += page.unreadable.len();
            let len = (page.items.len() + page.unreadable.len()) as u32;
            read += len;
            out.extend(
                page.items
                    .iter()
                    .filter(|m| m.is_person())
                    .map(|m| canonical_acd_id(&m.id)),
            );
            if page.has_next() {
                let current = &page;
                match self
                    .call(CallKind::Roster, |t| async move { webex.next_page(&t, current).await })
                    .await?
                {
                    Some(next) => page = next,
                    None => break,
                }
            } else if len >= ROSTER_PAGE_SIZE {
                // A full page without `Link`: ask for the next offset explicitly.
                let start = read;
                page = self
                    .call(CallKind::Roster, |t| async move {
                        webex.recording_roster_page(&t, start, ROSTER_PAGE_SIZE).await
                    })
                    .await?;
            } else {
                break;
            }
        }
        Ok((out, unreadable))
    }
}

/// The stored position of the change feed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    read_up_to: DateTime<Utc>,
    /// Recording-change events of the last read (acted on; skipped in the overlap).
    #[serde(default)]
    seen: HashSet<String>,
    /// Every candidate's mode is being read again (more candidates than one run may read)
    /// because there was no usable position: `read_up_to` is when that began, and the
    /// feed is used again from there once every verdict was read after it.
    #[serde(default)]
    catching_up: bool,
}

impl Cursor {
    fn at(read_up_to: DateTime<Utc>, seen: HashSet<String>) -> Self {
        Self {
            read_up_to,
            seen,
            catching_up: false,
        }
    }
}

fn save_value(c: &Cursor) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or_default()
}

/// Where the admin audit events were read up to; `None` when never (or unreadable).
async fn load_cursor(store: &dyn KvStore, connector_id: &str) -> Option<Cursor> {
    match store.get_value(connector_id, CHANGE_FEED_KEY).await {
        Ok(Some(v)) => serde_json::from_value(v).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(connector = connector_id, error = %e, "cannot read the recording change-feed position; reading every candidate");
            None
        }
    }
}

/// A license id compared across the listing and `person.licenses` (decoded when it is a
/// base64 REST id, so two encodings of one id match).
fn license_key(id: &str) -> String {
    crate::webex_id_to_uuid(id)
}

/// The stored `record` verdicts: canonical id → (recording on, checked at, epoch s).
struct Verdicts {
    entries: BTreeMap<String, (bool, i64)>,
    /// The chunks as loaded, to write back only what changed.
    loaded: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    chunks: usize,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Verdicts {
    async fn load(store: &dyn KvStore, connector_id: &str) -> Self {
        let mut out = Self {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        let chunks = match store.get_value(connector_id, VERDICTS_KEY).await {
            Ok(Some(v)) => serde_json::from_value::<Manifest>(v).map(|m| m.chunks).unwrap_or(0),
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!(connector = connector_id, error = %e, "cannot read the recording verdicts; reading settings again");
                0
            }
        };
        for n in 0..chunks {
            let v = store
                .get_value(connector_id, &format!("{VERDICTS_KEY}:{n}"))
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if let Ok(map) = serde_json::from_value::<BTreeMap<String, (bool, i64)>>(v.clone()) {
                out.entries.extend(map);
            }
            out.loaded.push(v);
        }
        out
    }

    fn get(&self, id: &str) -> Option<bool> {
        self.entries.get(id).map(|(on, _)| *on)
    }

    fn set(&mut self, id: &str, on: bool, now: DateTime<Utc>) {
        self.entries.insert(id.to_owned(), (on, now.timestamp()));
    }

    fn remove(&mut self, id: &str) {
        self.entries.remove(id);
    }

    /// Every candidate has a verdict read at or after `since` (to the second: the feed is
    /// read from 10 minutes before it anyway).
    fn all_checked_since(&self, candidates: &[(String, String)], since: DateTime<Utc>) -> bool {
        candidates
            .iter()
            .all(|(id, _)| self.entries.get(id).is_some_and(|(_, at)| *at >= since.timestamp()))
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn retain(&mut self, keep: &BTreeSet<&str>) {
        self.entries.retain(|id, _| keep.contains(id.as_str()));
    }

    /// Candidates the change feed named (first), then those whose verdict is missing (in
    /// listing order), then stale ones (oldest first), at most `budget`. A verdict is
    /// stale after `ttl × (0.5 + 0.5 × h)`, h a per-user hash fraction, so the verdicts of
    /// one big first run expire spread out.
    fn due(
        &self,
        candidates: &[(String, String)],
        changed: &HashSet<String>,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        budget: usize,
    ) -> Vec<(String, String)> {
        let mut named = Vec::new();
        let mut missing = Vec::new();
        let mut stale = Vec::new();
        for (id, rest) in candidates {
            if changed.contains(id) {
                named.push((id.clone(), rest.clone()));
                continue;
            }
            match self.entries.get(id) {
                None => missing.push((id.clone(), rest.clone())),
                Some((_, at)) => {
                    let h = (fnv1a(id) % 1000) as f64 / 1000.0;
                    let limit = ttl.num_seconds() as f64 * (0.5 + 0.5 * h);
                    if (now.timestamp() - at) as f64 >= limit {
                        stale.push((*at, id.clone(), rest.clone()));
                    }
                }
            }
        }
        stale.sort();
        named
            .into_iter()
            .chain(missing)
            .chain(stale.into_iter().map(|(_, id, rest)| (id, rest)))
            .take(budget)
            .collect()
    }

    async fn save(&self, store: &dyn KvStore, connector_id: &str) -> Result<(), StoreError> {
        let chunks = self
            .entries
            .len()
            .div_ceil(VERDICTS_PER_CHUNK)
            .max(1)
            .next_power_of_two();
        let mut parts: Vec<BTreeMap<&str, (bool, i64)>> = vec![BTreeMap::new(); chunks];
        for (id, v) in &self.entries {
            parts[(fnv1a(id) % chunks as u64) as usize].insert(id, *v);
        }
        for (n, part) in parts.iter().enumerate() {
            let v = serde_json::to_value(part).unwrap_or_default();
            if self.loaded.get(n) != Some(&v) || self.loaded.len() != chunks {
                store
                    .put_value(connector_id, &format!("{VERDICTS_KEY}:{n}"), &v)
                    .await?;
            }
        }
        if self.loaded.len() != chunks {
            store
                .put_value(connector_id, VERDICTS_KEY, &serde_json::json!({ "chunks": chunks }))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_verdicts_come_first_then_stale_ones_oldest_first_within_the_budget() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let ttl = chrono::Duration::days(7);
        let mut v = Verdicts {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        v.set("fresh", true, now - chrono::Duration::hours(1));
        v.set("old", true, now - chrono::Duration::days(8));
        v.set("older", true, now - chrono::Duration::days(9));
        let c = |ids: &[&str]| {
            ids.iter()
                .map(|i| ((*i).to_owned(), format!("rest-{i}")))
                .collect::<Vec<_>>()
        };
        let none = HashSet::new();
        let due = v.due(&c(&["fresh", "old", "new", "older"]), &none, now, ttl, 10);
        let ids: Vec<&str> = due.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["new", "older", "old"]);
        assert_eq!(
            v.due(&c(&["fresh", "old", "new", "older"]), &none, now, ttl, 2).len(),
            2
        );
        let changed: HashSet<String> = ["fresh".to_owned()].into();
        let due = v.due(&c(&["fresh", "old", "new", "older"]), &changed, now, ttl, 2);
        let ids: Vec<&str> = due.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["fresh", "new"],
            "a user the feed named comes first, fresh or not"
        );
    }

    #[test]
    fn verdicts_expire_spread_between_half_and_all_of_the_ttl() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let ttl = chrono::Duration::days(8);
        let mut v = Verdicts {
            entries: BTreeMap::new(),
            loaded: Vec::new(),
        };
        let ids: Vec<(String, String)> = (0..1000).map(|i| (format!("user-{i}"), String::new())).collect();
        for (id, _) in &ids {
            v.set(id, true, now - chrono::Duration::days(6));
        }
        let none = HashSet::new();
        let due = v.due(&ids, &none, now, ttl, usize::MAX).len();
        assert!(
            (300..700).contains(&due),
            "about half are due after 3/4 of the ttl: {due}"
        );
        assert!(
            v.due(&ids, &none, now - chrono::Duration::days(3), ttl, usize::MAX)
                .is_empty(),
            "none before half"
        );
    }
}
