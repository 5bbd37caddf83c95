//! Webex Calling behind the Source port: one recording is one ledger item.
//!
//! | port | Webex Calling |
//! |---|---|
//! | delivery | `X-Spark-Signature` (HMAC-SHA1) over the raw body; a `convergedRecordings` `created` event names the recording |
//! | list items | `GET /v1/convergedRecordings` in ≤ 30-day windows, `Link` paging, a fresh token per page |
//! | plan | `GET …/{id}/metadata?showAllTypes=true` → the parser's timeline → segmentation; `204` is "not ready yet" |
//! | media | `GET …/{id}` for a fresh temporary link, then the MP3 (mono); an expired link is replaced once |
//! | users | licenses, recording roster, People, per-user recording setting ([`crate::users`]) |
//! | webhook | one org-level `convergedRecordings`/`created` webhook, reused, reactivated, secret re-set |

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_domain::ledger::AgentName;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::sync::SyncPolicy;
use wfo_domain::timeline::{CallTimeline, Party};
use wfo_domain::webex_id::canonical_webex_id;
use wfo_domain::wfo::AudioFormat;
use wfo_ports::preflight::{CheckResult, PreflightContext};
use wfo_ports::{
    CredentialScheme, Credentials, Delivery, DeliveryError, Identity, ItemPlan, Listed, ListedItem, Media, MediaFormat,
    PlannedContact, Registration, Source, SourceDeps, SourceError, SourceKind, StoredConnector, UserListing,
    UserListingRequest, UserSyncProfile,
};

use crate::parser::segment_webex_calling;
use crate::users::{Lister, REQUIRED_SCOPES};
use crate::{
    EVENT_CREATED, ListQuery, NewWebhook, Page, RESOURCE_CONVERGED_RECORDINGS, RecordingSummary, WebexCallingClient,
    WebexError, WebhookUpdate, parse_webhook_event, split_window, verify_signature,
};

/// A Webex error as what the pipeline must do about it (the tracking id kept for support).
pub fn webex_error(e: WebexError) -> SourceError {
    let tracking = e
        .tracking_id()
        .map(|t| format!(" [trackingId {t}]"))
        .unwrap_or_default();
    let text = format!("{e}{tracking}");
    match e {
        WebexError::Unauthorized { .. } => SourceError::Unauthorized(text),
        // A missing scope or role (the Compliance Officer's) and a token that gets no
        // audio link are fixed by an operator; the items wait for it, they do not die.
        WebexError::Forbidden { .. } | WebexError::AudioUnavailable { .. } => SourceError::Operator(text),
        ref other if other.is_retryable() => SourceError::Retry {
            message: text,
            after: other.retry_after(),
        },
        _ => SourceError::Permanent(text),
    }
}

/// The Webex Calling source kind (the registry's entry).
#[derive(Debug, Default, Clone, Copy)]
pub struct WebexCallingKind;

impl SourceKind for WebexCallingKind {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::WebexCalling
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
        verify_signature(&connector.secrets.webhook_secret, body, header)
            .map_err(|e| DeliveryError::Unauthenticated(e.to_string()))?;
        let event = parse_webhook_event(body).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
        // Signed with our secret is not enough: the secret is shown to whoever owns the
        // webhook, so only deliveries about this connector's own org count.
        let tenant = canonical_webex_id(&connector.config.source.tenant_id);
        match event.org_id.as_deref().map(canonical_webex_id) {
            Some(org) if !tenant.is_empty() && org == tenant => {}
            other => {
                return Err(DeliveryError::Unauthenticated(format!(
                    "the delivery is about org {}, not this connector's tenant",
                    other.as_deref().unwrap_or("(none)")
                )));
            }
        }
        match event.recording_id() {
            Some(id) => Ok(Delivery::Item(id.to_owned())),
            None => {
                tracing::info!(connector = %connector.config.id, resource = %event.resource, event = %event.event, "webhook: not a recording event; ignored");
                Ok(Delivery::Ignored("ignored: not a convergedRecordings event".to_owned()))
            }
        }
    }

    fn segment_file(
        &self,
        doc: &serde_json::Value,
        ctx: &SegmentContext,
    ) -> Result<Vec<SegmentedContact>, SourceError> {
        segment_webex_calling(doc, ctx).map_err(|e| SourceError::Permanent(e.to_string()))
    }

    fn connect(&self, connector: &StoredConnector, deps: SourceDeps) -> Result<Arc<dyn Source>, SourceError> {
        let api = url::Url::parse(&connector.config.source.api_url)
            .map_err(|e| SourceError::Operator(format!("source.api_url: {e}")))?;
        Ok(Arc::new(WebexCallingSource::new(
            WebexCallingClient::new(deps.http, api, deps.policy),
            deps.credentials,
        )))
    }
}

/// One connector's Webex Calling source.
pub struct WebexCallingSource {
    client: WebexCallingClient,
    credentials: Arc<dyn Credentials>,
    eligibility: crate::eligibility::Eligibility,
}

impl WebexCallingSource {
    pub fn new(client: WebexCallingClient, credentials: Arc<dyn Credentials>) -> Self {
        Self {
            client,
            credentials,
            eligibility: Default::default(),
        }
    }

    pub fn client(&self) -> &WebexCallingClient {
        &self.client
    }

    pub fn credentials(&self) -> &dyn Credentials {
        self.credentials.as_ref()
    }

    async fn token(&self) -> Result<Secret, SourceError> {
        Ok(self.credentials.current().await?)
    }
}

/// The owner's name, keyed by the owner's id as the parser spells agents.
fn owner_name(tl: &CallTimeline) -> Option<(String, AgentName)> {
    let Party::Agent { user_id, .. } = &tl.recording.owner else {
        return None;
    };
    let name = AgentName::from_display(tl.recording.owner_name.as_deref()?, tl.recording.owner_email.clone())?;
    Some((user_id.clone(), name))
}

/// A stable ledger id for a listed item whose own id could not be read.
fn unreadable_id(reason: &str) -> String {
    let h = reason.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("unreadable-{h:016x}")
}

/// A recording's `durationSeconds` in milliseconds; `None` (unknown) when the answer's
/// number does not fit, rather than a wrapped or overflowing one.
fn recording_ms(seconds: Option<u64>) -> Option<i64> {
    i64::try_from(seconds?).ok()?.checked_mul(1000)
}

/// The ledger id of a listed recording: trimmed, the spelling a webhook delivery names it
/// by (`parse_webhook_event` trims `data.id`); `None` when blank, since a blank id can be
/// no ledger key.
fn ledger_id(id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// One page's items as listed items. Unreadable items, and items whose id is blank, are
/// listed as unreadable (placed at `at`, the start of their window); one without a usable
/// id of its own gets [`unreadable_id`].
fn listed_items(
    items: Vec<RecordingSummary>,
    unreadable: Vec<crate::client::Unreadable>,
    at: DateTime<Utc>,
) -> VecDeque<ListedItem> {
    let readable = items.into_iter().map(|r| match ledger_id(&r.id) {
        Some(id) => ListedItem {
            id,
            time: r.create_time,
            unreadable: None,
        },
        None => {
            let reason = format!(
                "list recordings: an item has a blank id (created {})",
                crate::client::format_time(r.create_time)
            );
            ListedItem {
                id: unreadable_id(&reason),
                time: r.create_time,
                unreadable: Some(reason),
            }
        }
    });
    let unreadable = unreadable.into_iter().map(|u| ListedItem {
        id: u
            .id
            .as_deref()
            .and_then(ledger_id)
            .unwrap_or_else(|| unreadable_id(&u.reason)),
        time: at,
        unreadable: Some(u.reason),
    });
    readable.chain(unreadable).collect()
}

/// Where a listing walk stands.
struct Walk {
    windows: VecDeque<(DateTime<Utc>, DateTime<Utc>)>,
    /// The window being read (unreadable items are placed at its start).
    window_start: DateTime<Utc>,
    /// Its end, until its checkpoint has been yielded.
    window_end: Option<DateTime<Utc>>,
    buffer: VecDeque<ListedItem>,
    page: Option<Page<RecordingSummary>>,
    done: bool,
}

#[async_trait]
impl Source for WebexCallingSource {
    fn list_items(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        let windows = match split_window(from, to) {
            Ok(w) => w,
            Err(e) => return futures::stream::once(async move { Err(webex_error(e)) }).boxed(),
        };
        let start = Walk {
            windows: windows.into(),
            window_start: from,
            window_end: None,
            buffer: VecDeque::new(),
            page: None,
            done: false,
        };
        // A token is asked for per page, so a walk longer than a token's life goes on.
        futures::stream::unfold(start, move |mut st| async move {
            loop {
                if let Some(item) = st.buffer.pop_front() {
                    return Some((Ok(Listed::Item(item)), st));
                }
                if st.done {
                    return None;
                }
                // A window read to its last page: everything created before its end is listed.
                if !st.page.as_ref().is_some_and(Page::has_next)
                    && let Some(end) = st.window_end.take()
                {
                    return Some((Ok(Listed::Checkpoint(end)), st));
                }
                let token = match self.token().await {
                    Ok(t) => t,
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                };
                let fetched = match st.page.take() {
                    Some(prev) if prev.has_next() => self.client.next_page(&token, &prev).await,
                    _ => match st.windows.pop_front() {
                        None => return None,
                        Some((from, to)) => {
                            st.window_start = from;
                            st.window_end = Some(to);
                            self.client
                                .list_recordings_page(&token, &ListQuery::new(from, to))
                                .await
                                .map(Some)
                        }
                    },
                };
                match fetched {
                    Ok(Some(mut page)) => {
                        let items = std::mem::take(&mut page.items);
                        let unreadable = std::mem::take(&mut page.unreadable);
                        st.buffer = listed_items(items, unreadable, st.window_start);
                        st.page = Some(page);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        st.done = true;
                        return Some((Err(webex_error(e)), st));
                    }
                }
            }
        })
        .boxed()
    }

    async fn plan(
        &self,
        item_id: &str,
        ctx: &SegmentContext,
        _kept: Option<&serde_json::Value>,
    ) -> Result<ItemPlan, SourceError> {
        let token = self.token().await?;
        let doc = match self.client.recording_metadata(&token, item_id).await {
            Ok(Some(doc)) => doc,
            Ok(None) => return Err(SourceError::NotReady("metadata not ready yet (204)".to_owned())),
            Err(e) => return Err(webex_error(e)),
        };
        let segmented = crate::parser::segment_webex_calling_detailed(&doc, ctx)
            .map_err(|e| SourceError::Permanent(format!("recording {item_id}: cannot segment its metadata: {e}")))?;
        let owner = owner_name(&segmented.timeline);
        // Each agent once: an agent the source excludes gets no person and no contact.
        // The check needs the admin read scopes the user sync uses; a connector
        // authorized without them imports every agent, and each item says so.
        let mut notes = segmented.warnings;
        let can_check = match self.credentials.granted_scopes().await {
            Ok(Some(granted)) => crate::eligibility::REQUIRED_SCOPES
                .iter()
                .all(|need| granted.iter().any(|g| g == need)),
            _ => true,
        };
        if !can_check {
            notes.push(format!(
                "agents' eligibility (Professional license, recording on) not checked: the authorization lacks {}",
                crate::eligibility::REQUIRED_SCOPES.join(", ")
            ));
        }
        let mut verdicts: std::collections::HashMap<String, Option<String>> = Default::default();
        for c in segmented.contacts.iter().filter(|_| can_check) {
            let agent = &c.contact.agent.acd_id;
            if !verdicts.contains_key(agent) {
                let v = self
                    .eligibility
                    .check(&self.client, &token, agent)
                    .await
                    .map_err(webex_error)?;
                verdicts.insert(agent.clone(), v);
            }
        }
        let mut contacts = Vec::new();
        let mut skipped = Vec::new();
        for contact in segmented.contacts {
            if let Some(Some(why)) = verdicts.get(&contact.contact.agent.acd_id) {
                let slice = contact.media.as_ref().map_or_else(
                    || "without audio".to_owned(),
                    |m| format!("at {} ms for {} ms", m.offset_ms, m.duration_ms),
                );
                skipped.push(format!(
                    "segment of agent {} {slice} ({}) not imported: {why}",
                    contact.contact.agent.acd_id, contact.contact.external_id
                ));
                continue;
            }
            contacts.push(PlannedContact {
                agent_name: owner
                    .as_ref()
                    .filter(|(id, _)| *id == contact.contact.agent.acd_id)
                    .map(|(_, name)| name.clone()),
                contact,
            });
        }
        Ok(ItemPlan {
            interaction_id: Some(segmented.timeline.interaction_key),
            contacts,
            notes,
            skipped,
            mapping_misses: wfo_domain::mapping::unmatched_paths(&doc, &ctx.metadata),
            ..Default::default()
        })
    }

    async fn open_media(&self, _item_id: &str, media: &MediaSlice) -> Result<Media, SourceError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let token = self.token().await?;
            let details = self
                .client
                .recording_details(&token, &media.recording_id)
                .await
                .map_err(webex_error)?;
            let download = match self.client.download_audio(&details).await {
                Ok(d) => d,
                // A temporary link that expired meanwhile: fresh details, once.
                Err(WebexError::LinkExpired { .. }) if tries < 2 => continue,
                Err(e) => return Err(webex_error(e)),
            };
            return Ok(Media {
                stream: download.stream,
                length: download.length,
                format: MediaFormat {
                    format: AudioFormat::Mp3,
                    channels: 1,
                },
                duration_ms: recording_ms(details.summary.duration_seconds),
            });
        }
    }

    fn user_sync(&self) -> Option<UserSyncProfile> {
        Some(UserSyncProfile {
            required_scopes: REQUIRED_SCOPES,
            policy: SyncPolicy::webex_calling(),
        })
    }

    async fn list_users(&self, req: UserListingRequest<'_>) -> Result<UserListing, SourceError> {
        Lister {
            source: self,
            req: &req,
            calls: wfo_ports::ListingCalls::new(&req, self.credentials.as_ref()),
        }
        .list()
        .await
    }

    async fn identity(&self) -> Result<Identity, SourceError> {
        let token = self.token().await?;
        let me = self.client.people_me(&token).await.map_err(webex_error)?;
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
        &["spark-compliance:recordings_read"]
    }

    async fn preflight(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        self.preflight_checks(ctx).await
    }

    async fn ensure_webhook(&self, name: &str, target: &str, secret: &Secret) -> Result<Registration, SourceError> {
        let token = self.token().await?;
        let existing = self.client.list_webhooks(&token, true).await.map_err(webex_error)?;
        let found = existing.iter().find(|h| {
            h.resource == RESOURCE_CONVERGED_RECORDINGS && h.event == EVENT_CREATED && h.target_url == target
        });
        let Some(hook) = found else {
            let created = self
                .client
                .create_webhook(
                    &token,
                    &NewWebhook::converged_recordings_created(name.to_owned(), target.to_owned(), secret.clone()),
                )
                .await
                .map_err(webex_error)?;
            return Ok(Registration::Created(created.id));
        };
        let secret_differs = hook.secret.as_ref().is_some_and(|s| s != secret);
        if !hook.is_active() || secret_differs {
            let mut update = WebhookUpdate::reactivate(hook);
            if secret_differs {
                update.secret = Some(secret.clone());
            }
            self.client
                .update_webhook(&token, &hook.id, &update)
                .await
                .map_err(webex_error)?;
            tracing::warn!(webhook = %hook.id, inactive = !hook.is_active(), secret_differs, "webhook repaired; the poller imports anything missed meanwhile");
            return Ok(if hook.is_active() {
                Registration::SecretUpdated(hook.id.clone())
            } else {
                Registration::Reactivated(hook.id.clone())
            });
        }
        Ok(Registration::Unchanged(hook.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> serde_json::Value {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../fixtures/webex-calling/scenarios")
            .join(path);
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    #[test]
    fn a_duration_too_large_for_milliseconds_is_unknown_not_negative() {
        // Found by fuzzing: `"durationSeconds": 18446744073709551615` made the recording
        // last -1000 ms (and a pipeline upload the whole file for a slice); one above
        // i64::MAX / 1000 overflowed.
        assert_eq!(recording_ms(Some(326)), Some(326_000));
        assert_eq!(recording_ms(None), None);
        assert_eq!(recording_ms(Some(u64::MAX)), None);
        assert_eq!(recording_ms(Some(i64::MAX as u64)), None);
        assert_eq!(recording_ms(Some(i64::MAX as u64 / 1000)), Some(i64::MAX / 1000 * 1000));
    }

    #[test]
    fn blank_and_padded_ids_never_become_ledger_keys_as_they_are() {
        // Found by fuzzing: `{"id": ""}` in a page (readable or not) was listed with the
        // empty string as its ledger id.
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let summary = |id: &str| -> RecordingSummary {
            serde_json::from_value(serde_json::json!({"id": id, "createTime": "2026-01-02T00:00:00Z"})).unwrap()
        };
        let unreadable = |id: Option<&str>| crate::client::Unreadable {
            id: id.map(str::to_owned),
            reason: format!("list recordings: an item could not be read ({id:?})"),
        };
        let listed = listed_items(
            vec![summary(" r1 "), summary(""), summary("  ")],
            vec![unreadable(Some("")), unreadable(Some(" r2")), unreadable(None)],
            at,
        );
        let ids: Vec<&str> = listed.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids[0], "r1");
        assert_eq!(ids[4], "r2");
        assert!(
            listed.iter().all(|l| !l.id.is_empty() && l.id.trim() == l.id),
            "{ids:?}"
        );
        assert!(listed[1].unreadable.is_some() && listed[1].id.starts_with("unreadable-"));
        assert_eq!(listed.iter().filter(|l| l.unreadable.is_some()).count(), 5);
    }

    #[test]
    fn the_owner_is_named_from_the_parsed_timeline_under_the_parsers_spelling_of_its_id() {
        let mut doc = fixture("basic-inbound/alice.json");
        // Upper case: the name must still land on the agent as the parser spells it.
        doc["ownerId"] = "3F6C2A1E-8B4D-4C7A-9E21-5D0B7F3A9C11".into();
        let s = crate::parser::segment_webex_calling_detailed(&doc, &SegmentContext::default()).unwrap();
        let (id, name) = owner_name(&s.timeline).unwrap();
        assert_eq!(id, s.contacts[0].contact.agent.acd_id);
        assert_eq!(
            name,
            AgentName {
                first_name: "Alice".into(),
                last_name: "Nguyen".into(),
                email: Some("alice.nguyen@acme-demo.example".into()),
            }
        );
        doc["ownerName"] = serde_json::json!(42);
        let s = crate::parser::segment_webex_calling_detailed(&doc, &SegmentContext::default()).unwrap();
        assert!(
            owner_name(&s.timeline).is_none(),
            "a name of the wrong type is left out, not an error"
        );
    }
}
