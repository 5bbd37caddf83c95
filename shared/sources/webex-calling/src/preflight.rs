//! Webex Calling's preflight probes (`wfo-connect connector check`), reads only:
//!
//! - **recordings listable**: one page of `GET /v1/admin/convergedRecordings` over the
//!   last day, `max=1`; a `403` is the missing Compliance officer role the guide asks for;
//! - **users readable** and **licenses readable** (when the user sync is on): one page
//!   of `GET /v1/people`, and `GET /v1/licenses`;
//! - **webhook** (when the connector registers one): the org's webhooks listed, this
//!   connector's `convergedRecordings`/`created` one found and active.

use chrono::{Duration as Days, Utc};
use wfo_domain::Secret;
use wfo_ports::SourceError;
use wfo_ports::preflight::{CheckResult, PreflightContext, probe_fix, within};

use crate::source::{WebexCallingSource, webex_error};
use crate::{EVENT_CREATED, ListQuery, RESOURCE_CONVERGED_RECORDINGS};

/// Where the guide gives the authorizing account its roles.
const ROLES: &str =
    "in Control Hub, Users > the account that authorized the connector (source.username) > Administrator roles";

impl WebexCallingSource {
    pub(crate) async fn preflight_checks(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        let cfg = &ctx.connector.config;
        let id = &cfg.id;
        let t = ctx.timeout;
        let token: Secret = match within(t, async { Ok::<_, SourceError>(self.credentials().current().await?) }).await {
            Ok(t) => t,
            Err(e) => {
                return vec![CheckResult::fail(
                    "recordings listable",
                    probe_fix(&e, "the token could not be had"),
                )];
            }
        };
        let mut checks = Vec::new();

        let now = Utc::now();
        let mut query = ListQuery::new(now - Days::days(1), now);
        query.max = 1;
        checks.push(
            match within(t, async { self.client().list_recordings_page(&token, &query).await.map_err(webex_error) }).await
            {
                Ok(_) => CheckResult::pass("recordings listable", "the org's recordings can be listed"),
                Err(e) => CheckResult::fail(
                    "recordings listable",
                    probe_fix(
                        &e,
                        &format!("{ROLES} > Functional: select the Compliance officer check box and Save (and keep spark-compliance:recordings_read in the scopes)"),
                    ),
                ),
            },
        );

        if cfg.features.user_sync {
            checks.push(
                match within(t, async { self.client().list_people_page(&token).await.map_err(webex_error) }).await {
                    Ok(page) => CheckResult::pass("users readable", format!("{} on the first page", page.items.len())),
                    Err(e) => CheckResult::fail(
                        "users readable",
                        probe_fix(
                            &e,
                            &format!("{ROLES} > Organizational: select Organization admin and Full admin, Save (and keep spark-admin:people_read in the scopes)"),
                        ),
                    ),
                },
            );
            checks.push(
                match within(t, async { self.client().list_licenses(&token).await.map_err(webex_error) }).await {
                    Ok(l) => CheckResult::pass("licenses readable", format!("{} licenses", l.len())),
                    Err(e) => CheckResult::fail(
                        "licenses readable",
                        probe_fix(
                            &e,
                            &format!("{ROLES} > Organizational: select Organization admin and Full admin, Save (and keep spark-admin:licenses_read in the scopes)"),
                        ),
                    ),
                },
            );
        } else {
            checks.push(CheckResult::skipped("users readable", "features.user_sync = false"));
        }

        if cfg.registers_webhook() {
            let hooks = within(t, async {
                self.client().list_webhooks(&token, true).await.map_err(webex_error)
            })
            .await;
            checks.push(match hooks {
                Err(e) => CheckResult::fail(
                    "webhook",
                    probe_fix(&e, "the webhooks could not be listed: keep spark-compliance:webhooks_read and spark-compliance:webhooks_write in the scopes"),
                ),
                Ok(hooks) => {
                    let ours = hooks.iter().find(|h| match ctx.webhook_id {
                        Some(wid) => h.id == wid,
                        None => {
                            h.resource == RESOURCE_CONVERGED_RECORDINGS
                                && h.event == EVENT_CREATED
                                && ctx.is_our_target(&h.target_url)
                        }
                    });
                    match ours {
                        None => CheckResult::fail(
                            "webhook",
                            format!("no webhook of connector {id} is registered at Webex (do not delete it in the developer portal: that breaks the connection): the runner's token refresh registers it once the connector is authorized (restart `wfo-connect serve --public-url URL` to do it now; on AWS the refresh function's next run)"),
                        ),
                        Some(h) if !h.is_active() => CheckResult::fail(
                            "webhook",
                            format!("webhook {} is not active (Webex deactivates a webhook whose deliveries keep failing): make sure the runner's public URL is reachable from Webex; the runner's token refresh then reactivates it (restart `wfo-connect serve` to do it now; on AWS the refresh function's next run). The poller imports meanwhile", h.id),
                        ),
                        Some(h) => CheckResult::pass("webhook", format!("{} active", h.id)),
                    }
                }
            });
        }
        checks
    }
}
