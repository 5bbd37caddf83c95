//! Webhooks API (reference §3.1): list, create, update, delete.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wfo_domain::Secret;
use wfo_http::Idempotency;

use crate::client::{Call, Page, WebexCallingClient, non_empty_id};
use crate::error::WebexError;
use crate::lenient::{de_opt_datetime, lenient_enum};

/// `resource` of converged-recording webhooks.
pub const RESOURCE_CONVERGED_RECORDINGS: &str = "convergedRecordings";
/// The event fired for a new recording.
pub const EVENT_CREATED: &str = "created";
/// `ownedBy` of org-level (admin / compliance officer) webhooks.
pub const OWNED_BY_ORG: &str = "org";

const SCOPE_WEBHOOKS_READ: &str = "spark-compliance:webhooks_read (UNCONFIRMED; or spark:webhooks_read)";
const SCOPE_WEBHOOKS_WRITE: &str = "spark-compliance:webhooks_write (UNCONFIRMED) plus the resource's read scope, \
e.g. spark-compliance:recordings_read";

lenient_enum!(
    /// Webex sets a webhook `inactive` after repeated delivery failures.
    WebhookStatus {
        Active => "active",
        Inactive => "inactive",
    }
);

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub target_url: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
    #[serde(
        default,
        deserialize_with = "de_opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
}

impl Webhook {
    pub fn is_active(&self) -> bool {
        self.status.as_ref().is_none_or(|s| *s == WebhookStatus::Active)
    }
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewWebhook {
    pub name: String,
    pub target_url: String,
    pub resource: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
}

impl NewWebhook {
    /// An org-level `convergedRecordings`/`created` webhook signed with `secret`.
    pub fn converged_recordings_created(
        name: impl Into<String>,
        target_url: impl Into<String>,
        secret: Secret,
    ) -> Self {
        Self {
            name: name.into(),
            target_url: target_url.into(),
            resource: RESOURCE_CONVERGED_RECORDINGS.to_owned(),
            event: EVENT_CREATED.to_owned(),
            filter: None,
            secret: Some(secret),
            owned_by: Some(OWNED_BY_ORG.to_owned()),
        }
    }
}

/// Body of `PUT /v1/webhooks/{id}`: `name` and `targetUrl` are required by Webex;
/// `status: active` re-activates an auto-deactivated webhook (it cannot deactivate).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookUpdate {
    pub name: String,
    pub target_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
}

impl WebhookUpdate {
    /// Re-activate `hook` keeping its name, target and ownership.
    pub fn reactivate(hook: &Webhook) -> Self {
        Self {
            name: hook.name.clone(),
            target_url: hook.target_url.clone(),
            secret: None,
            owned_by: hook.owned_by.clone(),
            status: Some(WebhookStatus::Active),
        }
    }
}

impl WebexCallingClient {
    /// All webhooks visible to the token (`ownedBy=org` when `org_only`), every page.
    pub async fn list_webhooks(&self, token: &Secret, org_only: bool) -> Result<Vec<Webhook>, WebexError> {
        let mut page = self.list_webhooks_page(token, org_only).await?;
        let mut out = std::mem::take(&mut page.items);
        while let Some(mut next) = self.next_page(token, &page).await? {
            out.append(&mut next.items);
            page = next;
        }
        Ok(out)
    }

    /// The first page of `GET /v1/webhooks?max=100`.
    pub async fn list_webhooks_page(&self, token: &Secret, org_only: bool) -> Result<Page<Webhook>, WebexError> {
        let url = self.endpoint(&["v1", "webhooks"])?;
        let mut query = vec![("max", "100".to_owned())];
        if org_only {
            query.push(("ownedBy", OWNED_BY_ORG.to_owned()));
        }
        self.fetch_list_page(token, "list webhooks", SCOPE_WEBHOOKS_READ, url, &query)
            .await
    }

    /// `POST /v1/webhooks`. Not repeated after an unknown outcome: list before retrying.
    pub async fn create_webhook(&self, token: &Secret, new: &NewWebhook) -> Result<Webhook, WebexError> {
        let url = self.endpoint(&["v1", "webhooks"])?;
        let call = Call {
            operation: "create webhook",
            scope: SCOPE_WEBHOOKS_WRITE,
            what: "webhooks endpoint".into(),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::NonIdempotent, || {
                self.http().post(url.clone()).json(new)
            })
            .await?;
        self.decode(&call, resp, &tracking).await
    }

    /// `PUT /v1/webhooks/{id}`.
    pub async fn update_webhook(
        &self,
        token: &Secret,
        id: &str,
        update: &WebhookUpdate,
    ) -> Result<Webhook, WebexError> {
        let id = non_empty_id(id)?;
        let url = self.endpoint(&["v1", "webhooks", id])?;
        let call = Call {
            operation: "update webhook",
            scope: SCOPE_WEBHOOKS_WRITE,
            what: format!("webhook {id}"),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || {
                self.http().put(url.clone()).json(update)
            })
            .await?;
        self.decode(&call, resp, &tracking).await
    }

    /// `DELETE /v1/webhooks/{id}`; an already deleted webhook is not an error.
    pub async fn delete_webhook(&self, token: &Secret, id: &str) -> Result<(), WebexError> {
        let id = non_empty_id(id)?;
        let url = self.endpoint(&["v1", "webhooks", id])?;
        let call = Call {
            operation: "delete webhook",
            scope: SCOPE_WEBHOOKS_WRITE,
            what: format!("webhook {id}"),
        };
        match self
            .send_api(&call, token, Idempotency::Idempotent, || {
                self.http().delete(url.clone())
            })
            .await
        {
            Ok(_) | Err(WebexError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
