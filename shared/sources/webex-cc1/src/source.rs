//! Webex Contact Center 1.0 behind the Source port.
//!
//! | port | Contact Center 1.0 |
//! |---|---|
//! | credentials | the API key of `source.api_key`, signing every request ([`crate::auth`]) |
//! | delivery | none: 1.0 has no webhooks, its sessions are polled |
//! | users, teams, queues | the auxiliary-data lists, users through the ACD filters ([`crate::config`]) |
//! | identity | one signed configuration read: the key works for `source.tenant_id` |
//! | list items | CSRs by start in day windows reaching [`MAX_SESSION`] back, kept when they ended inside the window, up to `now − capture delay` ([`crate::records`]) |
//! | plan | the session's CARs and CSR (kept on the item while audio is awaited), the media API asked whether the recording is there, segmented per §2.4 (the 2.0 rules, [`wfo_webex_cc2::segment::segment_task`]) |
//! | media | the media API's mono WAV of the session ([`crate::media`]) |

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use url::Url;
use wfo_domain::Secret;
use wfo_domain::config::{AcdFilter, ConnectorKind};
use wfo_domain::ledger::AgentName;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::sync::{SyncPolicy, canonical_acd_id};
use wfo_domain::wfo::ContactType;
use wfo_ports::preflight::{CheckResult, PreflightContext};
use wfo_ports::{
    CredentialScheme, Credentials, Delivery, DeliveryError, Identity, ItemPlan, Listed, ListedItem, Media, OrgListing,
    PlannedContact, Registration, Source, SourceDeps, SourceError, SourceKind, StoredConnector, UserListing,
    UserListingRequest, UserSyncProfile,
};
use wfo_webex_cc2::ImportConfig;
use wfo_webex_cc2::audio_wait::{CHECKS_MINUTES, audio_wait};
use wfo_webex_cc2::segment::{AudioState, Spelling, segment_task};

use crate::client::Cc1Client;
use crate::config::{Lister, Resource};
use crate::error::{Cc1Error, cc1_error};
use crate::media::Recording;
use crate::records::{MAX_CSR_PAGES, MAX_SESSION, RecordingState, csr_key, parse_session_file, task_file};

/// `externalId` prefix of Contact Center 1.0 contacts: `wxcc1:{sid}:{n}`.
pub const WEBEX_CC1_EXTERNAL_ID_PREFIX: &str = "wxcc1";

/// How 1.0 contacts are spelled: their own prefix, mono audio.
pub const SPELLING: Spelling = Spelling {
    external_id_prefix: WEBEX_CC1_EXTERNAL_ID_PREFIX,
    pending_channels: 1,
};

/// Listing windows (by session end) of at most this long: each is one checkpoint.
pub const LIST_WINDOW: Duration = Duration::days(1);

/// Around the first CAR of a session its CSR is looked for this far back first.
const CSR_NEAR: Duration = Duration::minutes(5);

/// The Contact Center 1.0 source kind (the registry's entry).
#[derive(Debug, Default, Clone, Copy)]
pub struct WebexCc1Kind;

/// One session file segmented offline (`wfo-connect segment --kind webex-cc-1`): the
/// recording is taken to exist, as it will for a recorded telephony session.
pub fn segment_session(doc: &Value, ctx: &SegmentContext) -> Result<Vec<SegmentedContact>, SourceError> {
    let bad = |e: wfo_domain::segment::SegmentError| SourceError::Permanent(e.to_string());
    let (csr, cars) = parse_session_file(doc).map_err(bad)?;
    let mapped = task_file(csr, cars, RecordingState::Available).map_err(bad)?;
    let seg = segment_task(&mapped.file, csr, ctx, &SPELLING);
    Ok(seg.contacts.into_iter().map(|c| c.contact).collect())
}

impl SourceKind for WebexCc1Kind {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::WebexCc1
    }

    fn credential_scheme(&self) -> CredentialScheme {
        CredentialScheme::ApiKey
    }

    fn parse_delivery(
        &self,
        connector: &StoredConnector,
        _header: &dyn Fn(&str) -> Option<String>,
        _body: &[u8],
    ) -> Result<Delivery, DeliveryError> {
        Err(DeliveryError::NotAccepted(format!(
            "connector '{}' is Contact Center 1.0, which sends no webhooks (its sessions are polled)",
            connector.config.id
        )))
    }

    fn segment_file(&self, doc: &Value, ctx: &SegmentContext) -> Result<Vec<SegmentedContact>, SourceError> {
        segment_session(doc, ctx)
    }

    fn connect(&self, connector: &StoredConnector, deps: SourceDeps) -> Result<Arc<dyn Source>, SourceError> {
        let cfg = &connector.config;
        let src = &cfg.source;
        let api = Url::parse(&src.api_url).map_err(|e| SourceError::Operator(format!("source.api_url: {e}")))?;
        let media = src
            .media_api_url
            .as_deref()
            .ok_or_else(|| SourceError::Operator("source.media_api_url is not set".to_owned()))
            .and_then(|m| Url::parse(m).map_err(|e| SourceError::Operator(format!("source.media_api_url: {e}"))))?;
        let client = Cc1Client::new(deps.http, api, media, &src.username, &src.tenant_id, deps.policy);
        if let (Some(quota), Some(limit)) = (deps.quota, client.rate_limit()) {
            limit.share_through(quota);
        }
        Ok(Arc::new(WebexCc1Source {
            client,
            credentials: deps.credentials,
            import: ImportConfig::from_config(cfg),
            filters: cfg.acd_filter.clone(),
        }))
    }
}

/// One connector's Contact Center 1.0 source.
pub struct WebexCc1Source {
    pub(crate) client: Cc1Client,
    pub(crate) credentials: Arc<dyn Credentials>,
    import: ImportConfig,
    /// `[[acd_filter]]`: who is synced and imported.
    filters: Vec<AcdFilter>,
}

fn ms(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// State of one listing walk.
struct ListState {
    windows: VecDeque<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next query's `dateBegin` within the front window.
    begin: Option<DateTime<Utc>>,
    pages: usize,
    seen: HashSet<String>,
    buffer: VecDeque<Listed>,
    done: bool,
}

impl WebexCc1Source {
    pub fn client(&self) -> &Cc1Client {
        &self.client
    }

    /// A CSR of another tenant: the key reads someone else's data.
    fn check_tenant(&self, tid: Option<&str>, sid: &str) -> Result<(), SourceError> {
        match tid {
            Some(t) if !t.trim().eq_ignore_ascii_case(self.client.tenant_id()) => {
                Err(cc1_error(Cc1Error::TenantMismatch {
                    operation: "read CSRs",
                    message: format!(
                        "session {sid} belongs to tenant '{t}', not source.tenant_id '{}': check the tenant id and the API key",
                        self.client.tenant_id()
                    ),
                }))
            }
            _ => Ok(()),
        }
    }

    /// The CSR of `sid`, looked for among sessions started near its first CAR.
    async fn find_csr(&self, key: &Secret, sid: &str, first_car: DateTime<Utc>) -> Result<Option<Value>, Cc1Error> {
        let to = first_car + Duration::milliseconds(1);
        for (from, to) in [
            (first_car - CSR_NEAR, to),
            (first_car - MAX_SESSION, first_car - CSR_NEAR),
        ] {
            let mut begin = from;
            for _ in 0..MAX_CSR_PAGES {
                let page = self.client.csr_page(key, begin, to).await?;
                let mut newest = begin;
                for r in &page.records {
                    if let Ok(k) = csr_key(r) {
                        if k.sid == sid {
                            return Ok(Some(r.clone()));
                        }
                        if let Some(s) = k.start {
                            newest = newest.max(ms(s));
                        }
                    }
                }
                if page.complete || newest <= begin {
                    break;
                }
                begin = newest;
            }
        }
        Ok(None)
    }

    /// One page of the front window; what it lists goes to the buffer.
    async fn list_page(&self, st: &mut ListState) -> Result<(), SourceError> {
        let Some(&(a, b)) = st.windows.front() else {
            st.done = true;
            return Ok(());
        };
        let begin = *st.begin.get_or_insert(a - MAX_SESSION);
        let key = self.credentials.current().await?;
        let page = self.client.csr_page(&key, begin, b).await.map_err(cc1_error)?;
        st.pages += 1;
        let mut newest = begin;
        for r in &page.records {
            let k = match csr_key(r) {
                Ok(k) => k,
                Err((Some(sid), reason)) => {
                    if st.seen.insert(sid.clone()) {
                        st.buffer.push_back(Listed::Item(ListedItem {
                            id: sid,
                            time: a,
                            unreadable: Some(format!("CSR: {reason}")),
                        }));
                    }
                    continue;
                }
                Err((None, reason)) => {
                    tracing::warn!(window_start = %a, "CSR: {reason}; skipped");
                    continue;
                }
            };
            self.check_tenant(k.tenant.as_deref(), &k.sid)?;
            if let Some(s) = k.start {
                newest = newest.max(ms(s));
            }
            // Sessions still open, or ended outside this window, belong to another walk.
            let Some(end) = k.end.map(ms) else { continue };
            if end < a || end >= b {
                continue;
            }
            if st.seen.insert(k.sid.clone()) {
                st.buffer.push_back(Listed::Item(ListedItem {
                    id: k.sid,
                    time: end,
                    unreadable: None,
                }));
            }
        }
        if page.complete {
            st.windows.pop_front();
            st.begin = None;
            st.pages = 0;
            st.seen.clear();
            st.buffer.push_back(Listed::Checkpoint(b));
            return Ok(());
        }
        if newest <= begin || st.pages >= MAX_CSR_PAGES {
            st.done = true;
            return Err(SourceError::retry(format!(
                "query CSRs: window {a}..{b} does not end (a page of {} sessions starting at {begin}, page {}): the rest is listed by the next poll",
                page.records.len(),
                st.pages
            )));
        }
        // Not past the newest start: sessions sharing that millisecond are on the next
        // page too (the `seen` set drops the repeats).
        st.begin = Some(newest);
        Ok(())
    }
}

#[async_trait]
impl Source for WebexCc1Source {
    fn list_items(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        let now = Utc::now();
        let end = to.min(now - self.import.capture_delay);
        let mut windows = VecDeque::new();
        let mut a = from;
        while a < end {
            let b = (a + LIST_WINDOW).min(end);
            windows.push_back((a, b));
            a = b;
        }
        let state = ListState {
            windows,
            begin: None,
            pages: 0,
            seen: HashSet::new(),
            buffer: VecDeque::new(),
            done: false,
        };
        futures::stream::unfold(state, move |mut st| async move {
            loop {
                if let Some(x) = st.buffer.pop_front() {
                    return Some((Ok(x), st));
                }
                if st.done || st.windows.is_empty() {
                    return None;
                }
                if let Err(e) = self.list_page(&mut st).await {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
        })
        .boxed()
    }

    async fn plan(&self, item_id: &str, ctx: &SegmentContext, kept: Option<&Value>) -> Result<ItemPlan, SourceError> {
        let now = Utc::now();
        let mut notes = Vec::new();
        let key = self.credentials.current().await?;
        let (csr, cars) = match kept.filter(|k| k.get("csr").is_some_and(Value::is_object)) {
            Some(k) => (
                k["csr"].clone(),
                k.get("cars").and_then(Value::as_array).cloned().unwrap_or_default(),
            ),
            None => {
                let cars = self.client.cars(&key, item_id).await.map_err(cc1_error)?;
                let first = cars
                    .iter()
                    .filter_map(|c| c.get("cstts").and_then(Value::as_i64))
                    .min()
                    .ok_or_else(|| {
                        SourceError::NotReady(format!("session {item_id} has no activity records (CARs) yet"))
                    })?;
                let csr = self
                    .find_csr(&key, item_id, ms(first))
                    .await
                    .map_err(cc1_error)?
                    .ok_or_else(|| SourceError::NotReady(format!("session {item_id} has no CSR yet")))?;
                (csr, cars)
            }
        };
        let k =
            csr_key(&csr).map_err(|(_, reason)| SourceError::Permanent(format!("session {item_id}: CSR: {reason}")))?;
        self.check_tenant(k.tenant.as_deref(), item_id)?;
        let channel = csr["channelType"].as_str();
        let (voice, ready_at) = match self
            .import
            .gate("session", item_id, k.end.map(ms), channel, now)?
            .or_skip(item_id, &mut notes)
        {
            Ok(plan) => plan,
            Err(skipped) => return Ok(*skipped),
        };
        let features = &self.import.features;
        let recording = if !voice || !features.media_import {
            RecordingState::None
        } else if kept.is_none() && now - ready_at < Duration::minutes(CHECKS_MINUTES[0]) {
            // Ended moments ago: the recording is not there yet; the first check asks.
            RecordingState::Awaited
        } else {
            match self.client.recording(&key, item_id).await? {
                // Dropping the body after its head: only "is it there" was asked.
                Recording::Ready(_) => RecordingState::Available,
                Recording::NotThere => RecordingState::Awaited,
            }
        };
        let mapped = task_file(&csr, &cars, recording)
            .map_err(|e| SourceError::Permanent(format!("session {item_id}: cannot segment it: {e}")))?;
        notes.extend(mapped.notes.iter().cloned());
        let seg = segment_task(&mapped.file, &csr, ctx, &SPELLING);
        notes.extend(seg.notes);
        notes.extend(seg.warnings);
        let names: HashMap<String, String> = mapped
            .file
            .task
            .nodes
            .iter()
            .flatten()
            .filter_map(|n| Some((n.agent_id.clone()?, n.agent_name.clone()?)))
            .collect();
        let mut pending = false;
        let mut contacts = Vec::with_capacity(seg.contacts.len());
        for c in seg.contacts {
            let mut contact = c.contact;
            if !features.media_import {
                contact.media = None;
                contact.contact.audio = None;
            } else if c.audio == AudioState::Pending {
                pending = true;
            }
            if contact.contact.contact_type != ContactType::Call {
                contact.contact.language = Some(self.import.language_of(&csr));
            }
            let agent_name = names
                .get(&canonical_acd_id(&contact.contact.agent.acd_id))
                .and_then(|n| AgentName::from_display(n, None));
            contacts.push(PlannedContact { contact, agent_name });
        }
        let mapping_misses = wfo_domain::mapping::unmatched_paths(&csr, &ctx.metadata);
        let (keep, audio_wait) = if pending {
            // WXCC1-A04: a 404 that outlasts the wait means the session has no recording;
            // the contacts stay, without audio, with a note.
            (
                Some(json!({ "csr": csr, "cars": cars })),
                Some(audio_wait(ready_at, now, false)),
            )
        } else {
            (None, None)
        };
        Ok(ItemPlan {
            interaction_id: Some(seg.task_id),
            contacts,
            notes,
            skipped: Vec::new(),
            mapping_misses,
            keep,
            audio_wait,
        })
    }

    async fn open_media(&self, item_id: &str, media: &MediaSlice) -> Result<Media, SourceError> {
        let key = self.credentials.current().await?;
        match self.client.recording(&key, &media.recording_id).await? {
            Recording::Ready(m) => Ok(m),
            Recording::NotThere => Err(SourceError::NotReady(format!(
                "the media API has no recording of session {} (item {item_id}) at the moment (404)",
                media.recording_id
            ))),
        }
    }

    fn user_sync(&self) -> Option<UserSyncProfile> {
        Some(UserSyncProfile {
            required_scopes: &[],
            policy: SyncPolicy::contact_center(),
        })
    }

    async fn list_users(&self, req: UserListingRequest<'_>) -> Result<UserListing, SourceError> {
        Lister::new(&self.client, self.credentials.as_ref(), &req, &self.filters)
            .users()
            .await
    }

    async fn list_org(&self, req: UserListingRequest<'_>) -> Result<Option<OrgListing>, SourceError> {
        Lister::new(&self.client, self.credentials.as_ref(), &req, &self.filters)
            .org()
            .await
            .map(Some)
    }

    /// One signed read (the first page of teams): the key works for this tenant.
    async fn identity(&self) -> Result<Identity, SourceError> {
        let key = self.credentials.current().await?;
        let body = self.client.aux_page(&key, Resource::Team, 0).await.map_err(cc1_error)?;
        crate::config::read_page(Resource::Team, body).map_err(cc1_error)?;
        Ok(Identity {
            org_id: self.client.tenant_id().to_owned(),
            account: Some(self.client.username().to_owned()),
        })
    }

    async fn preflight(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        self.preflight_checks(ctx).await
    }

    async fn ensure_webhook(&self, _name: &str, _target: &str, _secret: &Secret) -> Result<Registration, SourceError> {
        Err(SourceError::Operator(
            "Contact Center 1.0 sends no webhooks: set features.webhook = false (its sessions are polled)".to_owned(),
        ))
    }
}
