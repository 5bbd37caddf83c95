//! Webex Contact Center 2.0 behind the Source port.
//!
//! | port | Contact Center 2.0 |
//! |---|---|
//! | delivery | `X-WebexCC-Signature` (HMAC-SHA256, hex) over the raw body, `X-WebexCC-Timestamp` within 5 minutes, `comciscoorgid` = the tenant ([`crate::delivery`]) |
//! | users, teams, queues | the paged v2 configuration lists ([`crate::listing`]) |
//! | identity | `GET {identity_url}/v1/people/me` (the Webex identity the token belongs to) |
//! | webhook | one `capture:available` v2 subscription, reused, reactivated, secret re-set ([`crate::subscriptions`]) |
//! | list items | Search `taskDetails` by `endedTime` in windows of at most a week, cursor-paged, up to `now − capture delay` ([`crate::search`]) |
//! | plan | the task with every CAR node (kept on the item while audio is awaited), its captures (batched by ten across items), segmented per §2.4 ([`crate::segment`]); audio that is not there yet waits ([`crate::audio_wait`]) |
//! | media | the capture's presigned link, fresh or kept while valid ([`crate::captures`]), downloaded without a bearer |

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_domain::ledger::AgentName;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::sync::SyncPolicy;
use wfo_domain::sync::canonical_acd_id;
use wfo_domain::webex_id::canonical_webex_id;
use wfo_domain::wfo::{AudioFormat, ContactType};
use wfo_http::{Idempotency, RetryPolicy};
use wfo_ports::preflight::{CheckResult, PreflightContext};
use wfo_ports::{
    CredentialScheme, Credentials, Delivery, DeliveryError, Identity, ItemPlan, Listed, ListedItem, Media, MediaFormat,
    OrgListing, PlannedContact, Registration, Source, SourceDeps, SourceError, SourceKind, StoredConnector,
    UserListing, UserListingRequest, UserSyncProfile,
};

use crate::audio_wait::{CHECKS_MINUTES, audio_wait};
use crate::captures::{BatchSettings, CaptureBatcher, LINK_MARGIN};
use crate::search::{MAX_AGE, MAX_SEARCH_PAGES, epoch_ms, list_windows, selection_of};
use crate::segment::{AudioState, segment_webex_cc2_detailed};

use crate::client::CcClient;
use crate::delivery::{TIMESTAMP_HEADER, parse_envelope, verify};
use crate::error::{CcError, cc_error};
use crate::import_config::ImportConfig;

/// The service name of capture downloads in logs and errors.
const DOWNLOAD_SERVICE: &str = "webex-cc capture download";
use crate::listing::Lister;
use crate::subscriptions::{SUBSCRIBED, description};

/// Scopes the configuration sync needs.
pub const SYNC_SCOPES: &[&str] = &["cjp:config_read"];

/// Search answers `activities` only for windows of at most 30 days: a task is looked for
/// among those ended this long before now first (almost every task is).
pub const RECENT_WINDOW: Duration = Duration::days(29);
/// Then its end time is looked for in windows this long, back to [`MAX_AGE`].
pub const OLD_WINDOW: Duration = Duration::days(365);

/// The Contact Center 2.0 source kind (the registry's entry).
#[derive(Debug, Default, Clone, Copy)]
pub struct WebexCc2Kind;

impl SourceKind for WebexCc2Kind {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::WebexCc2
    }

    fn credential_scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }

    fn parse_delivery(
        &self,
        connector: &StoredConnector,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<Delivery, DeliveryError> {
        verify(&connector.secrets.webhook_secret, body, header, Utc::now())
            .map_err(|e| DeliveryError::Unauthenticated(e.to_string()))?;
        let ts = header(TIMESTAMP_HEADER).or_else(|| header(&TIMESTAMP_HEADER.to_ascii_lowercase()));
        let env = parse_envelope(body, ts.as_deref()).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
        // The secret is shown to whoever manages the subscription: only deliveries about
        // this connector's own org count.
        let tenant = canonical_webex_id(&connector.config.source.tenant_id);
        match env.comciscoorgid.as_deref().map(canonical_webex_id) {
            Some(org) if !tenant.is_empty() && org == tenant => {}
            other => {
                return Err(DeliveryError::Unauthenticated(format!(
                    "the delivery is about org {}, not this connector's tenant",
                    other.as_deref().unwrap_or("(none)")
                )));
            }
        }
        let Some(task) = env.task_id() else {
            return Err(DeliveryError::Malformed(format!(
                "a {} delivery without data.taskId",
                env.event_type
            )));
        };
        match env.event_type.as_str() {
            // Both name a task to import (or, when it is known and waits for its capture,
            // to look at again now).
            crate::subscriptions::EVENT_CAPTURE_AVAILABLE | crate::subscriptions::EVENT_TASK_ENDED => {
                tracing::debug!(connector = %connector.config.id, event = %env.event_type, task, "Contact Center delivery verified");
                Ok(Delivery::Item(task.to_owned()))
            }
            other => Ok(Delivery::Ignored(format!(
                "{other} for task {task}: not an event the import uses"
            ))),
        }
    }

    fn segment_file(
        &self,
        doc: &serde_json::Value,
        ctx: &SegmentContext,
    ) -> Result<Vec<SegmentedContact>, SourceError> {
        crate::segment::segment_webex_cc2(doc, ctx).map_err(|e| SourceError::Permanent(e.to_string()))
    }

    fn connect(&self, connector: &StoredConnector, deps: SourceDeps) -> Result<Arc<dyn Source>, SourceError> {
        let src = &connector.config.source;
        let api = Url::parse(&src.api_url).map_err(|e| SourceError::Operator(format!("source.api_url: {e}")))?;
        let identity =
            Url::parse(&src.identity_url).map_err(|e| SourceError::Operator(format!("source.identity_url: {e}")))?;
        let client_id = src.client_id.as_deref().unwrap_or_default();
        let client = CcClient::new(deps.http.clone(), api, &src.tenant_id, client_id, deps.policy.clone());
        if let (Some(quota), Some(limit)) = (deps.quota.clone(), client.rate_limit()) {
            limit.share_through(quota);
        }
        let batcher = CaptureBatcher::new(client.clone(), deps.credentials.clone(), BatchSettings::default());
        let cfg = &connector.config;
        Ok(Arc::new(WebexCc2Source {
            client,
            http: deps.http,
            identity_url: identity,
            identity_policy: deps.policy,
            credentials: deps.credentials,
            batcher,
            import: ImportConfig::from_config(cfg),
        }))
    }
}

/// One connector's Contact Center 2.0 source.
pub struct WebexCc2Source {
    client: CcClient,
    http: reqwest::Client,
    identity_url: Url,
    /// The identity host is not the regional API: its calls do not spend the API's limit.
    identity_policy: RetryPolicy,
    pub(crate) credentials: Arc<dyn Credentials>,
    batcher: CaptureBatcher,
    import: ImportConfig,
}

impl WebexCc2Source {
    pub fn client(&self) -> &CcClient {
        &self.client
    }

    /// `captures/query` calls this source has made.
    pub fn capture_calls(&self) -> u64 {
        self.batcher.calls()
    }

    /// The task `id` with every CAR node and the mapped fields, or `None` when Search does
    /// not have it (yet). Looked for among tasks ended in the last [`RECENT_WINDOW`]
    /// first, then by its end time back to [`MAX_AGE`].
    async fn find_task(
        &self,
        token: &Secret,
        id: &str,
        now: DateTime<Utc>,
        notes: &mut Vec<String>,
    ) -> Result<Option<Value>, CcError> {
        let to = now + Duration::seconds(1);
        if let Some(t) = self.task_in(token, id, to - RECENT_WINDOW, to, notes).await? {
            return Ok(Some(t));
        }
        let oldest = now - MAX_AGE + Duration::days(1);
        let mut end = to - RECENT_WINDOW;
        while end > oldest {
            let start = (end - OLD_WINDOW).max(oldest);
            if let Some(ended) = self.client.task_end(token, id, start, end).await? {
                let from = (ended - Duration::days(1)).max(oldest);
                return self.task_in(token, id, from, ended + Duration::days(1), notes).await;
            }
            end = start;
        }
        Ok(None)
    }

    /// One task lookup selecting the mapped fields; when Search refuses them (a path that
    /// is no Search field), again without them, with a note.
    async fn task_in(
        &self,
        token: &Secret,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        notes: &mut Vec<String>,
    ) -> Result<Option<Value>, CcError> {
        let extra = selection_of(self.import.mapping.iter().map(|(path, _)| path.as_str()));
        if extra.is_empty() {
            return self.client.task(token, id, from, to).await;
        }
        match self.client.task_with(token, id, from, to, &extra).await {
            Err(CcError::Malformed { message, .. }) if message.starts_with("Search answered errors") => {
                notes.push(format!(
                    "Search refused the mapped fields ({extra}): {message}; the task is read without them"
                ));
                self.client.task(token, id, from, to).await
            }
            other => other,
        }
    }
}

/// State of one listing walk.
struct ListState {
    windows: VecDeque<(DateTime<Utc>, DateTime<Utc>)>,
    cursor: Option<String>,
    pages: usize,
    buffer: VecDeque<Listed>,
    done: bool,
}

/// The fields of `GET /v1/people/me` the identity check reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    emails: Vec<String>,
}

#[async_trait]
impl Source for WebexCc2Source {
    fn list_items(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        // Tasks inside the capture delay are left for a later walk: the cursor stops there.
        let now = Utc::now();
        let windows = list_windows(from, to.min(now - self.import.capture_delay), now);
        let state = ListState {
            windows: windows.into(),
            cursor: None,
            pages: 0,
            buffer: VecDeque::new(),
            done: false,
        };
        futures::stream::unfold(state, move |mut st| async move {
            loop {
                if let Some(x) = st.buffer.pop_front() {
                    return Some((Ok(x), st));
                }
                if st.done {
                    return None;
                }
                let (a, b) = *st.windows.front()?;
                let token = match self.credentials.current().await {
                    Ok(t) => t,
                    Err(e) => {
                        st.done = true;
                        return Some((Err(SourceError::from(e)), st));
                    }
                };
                let page = match self.client.list_tasks_page(&token, a, b, st.cursor.as_deref()).await {
                    Ok(p) => p,
                    Err(e) => {
                        st.done = true;
                        return Some((Err(cc_error(e)), st));
                    }
                };
                st.pages += 1;
                for t in page.tasks {
                    st.buffer.push_back(Listed::Item(ListedItem {
                        id: t.id,
                        time: t.ended,
                        unreadable: None,
                    }));
                }
                for (id, reason) in page.unreadable {
                    match id {
                        Some(id) => st.buffer.push_back(Listed::Item(ListedItem {
                            id,
                            time: a,
                            unreadable: Some(format!("search tasks: {reason}")),
                        })),
                        None => tracing::warn!(window_start = %a, "search tasks: {reason}; skipped"),
                    }
                }
                match page.next_cursor {
                    Some(c) if st.cursor.as_ref() != Some(&c) && st.pages < MAX_SEARCH_PAGES => st.cursor = Some(c),
                    Some(_) => {
                        st.done = true;
                        st.buffer.push_back(Listed::Checkpoint(a));
                        return Some((
                            Err(SourceError::retry(format!(
                                "search tasks: the cursor of window {a}..{b} repeats or runs past {MAX_SEARCH_PAGES} pages"
                            ))),
                            st,
                        ));
                    }
                    None => {
                        st.windows.pop_front();
                        st.cursor = None;
                        st.buffer.push_back(Listed::Checkpoint(b));
                    }
                }
            }
        })
        .boxed()
    }

    async fn plan(&self, item_id: &str, ctx: &SegmentContext, kept: Option<&Value>) -> Result<ItemPlan, SourceError> {
        let now = Utc::now();
        let mut notes = Vec::new();
        // A kept task is the one planned before (activities and all); one whose recording
        // was not known then is read again to learn it.
        let task = match kept.filter(|k| k.get("captureRequested").is_some_and(Value::is_boolean)) {
            Some(k) => k.clone(),
            None => {
                let token = self.credentials.current().await?;
                match self
                    .find_task(&token, item_id, now, &mut notes)
                    .await
                    .map_err(cc_error)?
                {
                    Some(t) => t,
                    None => {
                        return Err(SourceError::NotReady(format!(
                            "task {item_id} is not in Search yet (Search lists a task once it has ended)"
                        )));
                    }
                }
            }
        };
        let channel = task["channelType"].as_str();
        let (voice, ready_at) = match self
            .import
            .gate("task", item_id, epoch_ms(&task["endedTime"]), channel, now)?
            .or_skip(item_id, &mut notes)
        {
            Ok(plan) => plan,
            Err(skipped) => return Ok(*skipped),
        };
        let features = &self.import.features;
        let requested = task["captureRequested"].as_bool();
        let captures = if !voice || !features.media_import || requested == Some(false) {
            Value::Null
        } else if kept.is_some() {
            // Looking again for late audio: a few seconds more let many tasks share a call.
            self.batcher.fetch_patiently(item_id).await?.data
        } else if now - ready_at < Duration::minutes(CHECKS_MINUTES[0]) {
            // Ended moments ago (a task:ended delivery): its capture is not there yet.
            // The capture:available delivery or the first check asks for it.
            Value::Null
        } else {
            self.batcher.fetch(item_id).await?.data
        };
        let doc = json!({ "task": task, "captures": captures });
        let seg = segment_webex_cc2_detailed(&doc, ctx)
            .map_err(|e| SourceError::Permanent(format!("task {item_id}: cannot segment it: {e}")))?;
        notes.extend(seg.notes);
        notes.extend(seg.warnings);
        let names: HashMap<String, String> = doc["task"]["activities"]["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| {
                        let id = canonical_acd_id(n["agentId"].as_str()?);
                        let name = n["agentName"].as_str()?.trim().to_owned();
                        (!id.is_empty() && !name.is_empty()).then_some((id, name))
                    })
                    .collect()
            })
            .unwrap_or_default();
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
                contact.contact.language = Some(self.import.language_of(&doc["task"]));
            }
            let agent_name = names
                .get(&canonical_acd_id(&contact.contact.agent.acd_id))
                .and_then(|n| AgentName::from_display(n, None));
            contacts.push(PlannedContact { contact, agent_name });
        }
        let mapping_misses = wfo_domain::mapping::unmatched_paths(&doc["task"], &ctx.metadata);
        let (keep, audio_wait) = if pending {
            (
                Some(doc["task"].clone()),
                Some(audio_wait(ready_at, now, requested == Some(true))),
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
        let capture_id = media.recording_id.as_str();
        for attempt in 0..2 {
            let now = Utc::now();
            let kept = if attempt == 0 {
                self.batcher.kept_with_link(item_id, capture_id, now)
            } else {
                None
            };
            let caps = match kept {
                Some(c) => c,
                None => self.batcher.fetch(item_id).await?,
            };
            let Some(rec) = caps.capture(capture_id) else {
                return Err(SourceError::Permanent(format!(
                    "capture {capture_id} of task {item_id} is no longer listed by captures/query (deleted by the retention policy?)"
                )));
            };
            let attrs = &rec["attributes"];
            let Some(link) = attrs["filePath"].as_str().filter(|l| !l.trim().is_empty()) else {
                return Err(SourceError::retry(format!(
                    "capture {capture_id} of task {item_id}: captures/query gave no filePath"
                )));
            };
            if !caps.link_usable(capture_id, now) {
                if attempt == 0 {
                    continue;
                }
                return Err(SourceError::retry(format!(
                    "capture {capture_id} of task {item_id}: captures/query answered a link that expires within {} minutes",
                    LINK_MARGIN.num_minutes()
                )));
            }
            let url = Url::parse(link).map_err(|e| {
                SourceError::Permanent(format!("capture {capture_id} of task {item_id}: invalid filePath: {e}"))
            })?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(SourceError::Permanent(format!(
                    "capture {capture_id} of task {item_id}: filePath is not HTTP(S)"
                )));
            }
            // Presigned: no bearer, and not the API's rate limit.
            let sent = wfo_http::send(DOWNLOAD_SERVICE, &self.identity_policy, Idempotency::Idempotent, || {
                self.http.get(url.clone())
            })
            .await;
            let resp = match sent {
                Ok(r) => r,
                // The link died before its stated time (clock skew, a revoked signature):
                // a fresh one, once.
                Err(e) if matches!(e.status(), Some(400 | 401 | 403 | 410)) && attempt == 0 => {
                    tracing::info!(task = item_id, capture = capture_id, error = %e, "capture link refused; asking for a fresh one");
                    self.batcher.forget(item_id);
                    continue;
                }
                Err(e) if e.is_retryable() || matches!(e.status(), Some(400 | 401 | 403 | 410)) => {
                    return Err(SourceError::Retry {
                        message: format!("capture {capture_id} of task {item_id}: download: {e}"),
                        after: e.retry_after(),
                    });
                }
                Err(e) => {
                    return Err(SourceError::Permanent(format!(
                        "capture {capture_id} of task {item_id}: download: {e}"
                    )));
                }
            };
            let length = resp.content_length();
            let stream = resp.bytes_stream().map_err(std::io::Error::other).boxed();
            let start = epoch_ms(&attrs["startTime"]);
            let stop = epoch_ms(&attrs["stopTime"]);
            let duration_ms = match (start, stop) {
                (Some(a), Some(b)) if b >= a => Some((b - a).num_milliseconds()),
                _ => None,
            };
            let channels = if attrs["channel2"].as_str().is_some_and(|c| !c.trim().is_empty()) {
                2
            } else {
                1
            };
            return Ok(Media {
                stream,
                length,
                format: MediaFormat {
                    format: AudioFormat::Wav,
                    channels,
                },
                duration_ms,
            });
        }
        Err(SourceError::retry(format!(
            "capture {capture_id} of task {item_id}: no usable link after asking twice"
        )))
    }

    fn user_sync(&self) -> Option<UserSyncProfile> {
        Some(UserSyncProfile {
            required_scopes: SYNC_SCOPES,
            policy: SyncPolicy::contact_center(),
        })
    }

    async fn list_users(&self, req: UserListingRequest<'_>) -> Result<UserListing, SourceError> {
        Lister::new(&self.client, self.credentials.as_ref(), &req).users().await
    }

    async fn list_org(&self, req: UserListingRequest<'_>) -> Result<Option<OrgListing>, SourceError> {
        Lister::new(&self.client, self.credentials.as_ref(), &req)
            .org()
            .await
            .map(Some)
    }

    async fn identity(&self) -> Result<Identity, SourceError> {
        let token = self.credentials.current().await?;
        let url = self
            .identity_url
            .join("/v1/people/me")
            .map_err(|e| SourceError::Operator(format!("source.identity_url: {e}")))?;
        let resp = wfo_http::send(
            crate::client::SERVICE,
            &self.identity_policy,
            Idempotency::Idempotent,
            || {
                self.http
                    .request(Method::GET, url.clone())
                    .bearer_auth(token.expose())
                    .header(crate::client::TRACKING_HEADER, wfo_http::new_tracking_id())
            },
        )
        .await
        .map_err(|e| cc_error(CcError::from_http("people/me", "spark:people_read", e)))?;
        let me: Me = wfo_http::json(crate::client::SERVICE, resp)
            .await
            .map_err(|e| cc_error(CcError::from_http("people/me", "spark:people_read", e)))?;
        let org_id = me
            .org_id
            .filter(|o| !o.trim().is_empty())
            .ok_or_else(|| SourceError::retry("Webex people/me: the answer names no orgId"))?;
        Ok(Identity {
            org_id,
            account: me.emails.into_iter().next(),
        })
    }

    fn import_scopes(&self) -> &'static [&'static str] {
        &["cjp:config_read", "spark:people_read"]
    }

    async fn preflight(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        self.preflight_checks(ctx).await
    }

    async fn ensure_webhook(&self, name: &str, target: &str, secret: &Secret) -> Result<Registration, SourceError> {
        let token = self.credentials.current().await?;
        let existing = self.client.list_subscriptions(&token).await.map_err(cc_error)?;
        let mut first = None;
        for (k, &(event, version)) in SUBSCRIBED.iter().enumerate() {
            // Names are 4–64 characters; the task one says what it is.
            let sub_name = if k == 0 {
                name.to_owned()
            } else {
                format!("{} ({event})", name.chars().take(48).collect::<String>())
            };
            let reg = ensure_one(
                &self.client,
                &token,
                &existing,
                &sub_name,
                target,
                secret,
                (event, version),
            )
            .await?;
            tracing::info!(
                event,
                subscription = reg.webhook_id(),
                "Contact Center subscription {}",
                reg.describe()
            );
            first.get_or_insert(reg);
        }
        first.ok_or_else(|| SourceError::Permanent("no subscription to keep".to_owned()))
    }
}

/// One subscription to `event` delivering to `target`: reused, repaired or created.
async fn ensure_one(
    client: &CcClient,
    token: &Secret,
    existing: &[crate::subscriptions::Subscription],
    name: &str,
    target: &str,
    secret: &Secret,
    (event, version): (&str, &str),
) -> Result<Registration, SourceError> {
    let found = existing
        .iter()
        .find(|s| s.destination_url == target && s.event_types.iter().any(|e| e == event));
    let Some(sub) = found else {
        let created = client
            .create_subscription(token, name, target, secret, (event, version))
            .await
            .map_err(cc_error)?;
        return Ok(Registration::Created(created.id));
    };
    let secret_differs = sub.description.as_deref() != Some(description(secret).as_str());
    if !sub.is_active() || secret_differs {
        client
            .repair_subscription(token, &sub.id, secret)
            .await
            .map_err(cc_error)?;
        tracing::warn!(subscription = %sub.id, event, inactive = !sub.is_active(), secret_differs, "Contact Center subscription repaired");
        return Ok(if sub.is_active() {
            Registration::SecretUpdated(sub.id.clone())
        } else {
            Registration::Reactivated(sub.id.clone())
        });
    }
    Ok(Registration::Unchanged(sub.id.clone()))
}
