//! Webex Contact Center 2.0 behind the Source port.
//!
//! | port | Contact Center 2.0 |
//! |---|---|
//! | delivery | `X-WebexCC-Signature` (HMAC-SHA256, hex) over the raw body, `X-WebexCC-Timestamp` within 5 minutes, `comciscoorgid` = the tenant ([`crate::delivery`]) |
//! | users, teams, queues | the paged v2 configuration lists ([`crate::listing`]) |
//! | identity | `GET {identity_url}/v1/people/me` (the Webex identity the token belongs to) |
//! | webhook | one `capture:available` v2 subscription, reused, reactivated, secret re-set ([`crate::subscriptions`]) |
//! | list items, plan, media | the contact import (tasks via Search, captures): not in this crate yet — nothing is listed, so no item is created, and deliveries are acknowledged as not imported |

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::Method;
use serde::Deserialize;
use url::Url;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorKind;
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::sync::SyncPolicy;
use wfo_domain::webex_id::canonical_webex_id;
use wfo_http::{Idempotency, RetryPolicy};
use wfo_ports::{
    CredentialScheme, Credentials, Delivery, DeliveryError, Identity, ItemPlan, Listed, Media, OrgListing,
    Registration, Source, SourceDeps, SourceError, SourceKind, StoredConnector, UserListing, UserListingRequest,
    UserSyncProfile,
};

use crate::client::CcClient;
use crate::delivery::{TIMESTAMP_HEADER, parse_envelope, verify};
use crate::error::{CcError, cc_error};
use crate::listing::Lister;
use crate::subscriptions::{EVENT_CAPTURE_AVAILABLE, description};

/// Scopes the configuration sync needs.
pub const SYNC_SCOPES: &[&str] = &["cjp:config_read"];

/// Why tasks are not imported yet (said in logs, delivery answers and errors).
pub const IMPORT_NOT_BUILT: &str =
    "Contact Center 2.0 contact import (tasks and captures) is not part of this build; the configuration sync is";

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
        tracing::info!(connector = %connector.config.id, event = %env.event_type, task, "Contact Center delivery verified; {IMPORT_NOT_BUILT}");
        Ok(Delivery::Ignored(format!(
            "{} for task {task}: not imported ({IMPORT_NOT_BUILT})",
            env.event_type
        )))
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
        Ok(Arc::new(WebexCc2Source {
            client,
            http: deps.http,
            identity_url: identity,
            identity_policy: deps.policy,
            credentials: deps.credentials,
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
    credentials: Arc<dyn Credentials>,
}

impl WebexCc2Source {
    pub fn client(&self) -> &CcClient {
        &self.client
    }
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
    fn list_items(&self, _from: DateTime<Utc>, _to: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        // No checkpoint either: the poll cursor stays where it is, so the contact import,
        // when it comes, starts from the connector's first poll window.
        futures::stream::empty().boxed()
    }

    async fn plan(&self, item_id: &str, _ctx: &SegmentContext) -> Result<ItemPlan, SourceError> {
        Err(SourceError::Permanent(format!("task {item_id}: {IMPORT_NOT_BUILT}")))
    }

    async fn open_media(&self, media: &MediaSlice) -> Result<Media, SourceError> {
        Err(SourceError::Permanent(format!(
            "recording {}: {IMPORT_NOT_BUILT}",
            media.recording_id
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

    async fn ensure_webhook(&self, name: &str, target: &str, secret: &Secret) -> Result<Registration, SourceError> {
        let token = self.credentials.current().await?;
        let existing = self.client.list_subscriptions(&token).await.map_err(cc_error)?;
        let found = existing
            .iter()
            .find(|s| s.destination_url == target && s.event_types.iter().any(|e| e == EVENT_CAPTURE_AVAILABLE));
        let Some(sub) = found else {
            let created = self
                .client
                .create_subscription(&token, name, target, secret)
                .await
                .map_err(cc_error)?;
            return Ok(Registration::Created(created.id));
        };
        let secret_differs = sub.description.as_deref() != Some(description(secret).as_str());
        if !sub.is_active() || secret_differs {
            self.client
                .repair_subscription(&token, &sub.id, secret)
                .await
                .map_err(cc_error)?;
            tracing::warn!(subscription = %sub.id, inactive = !sub.is_active(), secret_differs, "Contact Center subscription repaired");
            return Ok(if sub.is_active() {
                Registration::SecretUpdated(sub.id.clone())
            } else {
                Registration::Reactivated(sub.id.clone())
            });
        }
        Ok(Registration::Unchanged(sub.id.clone()))
    }
}
