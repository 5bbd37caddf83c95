//! Contact Center 2.0's preflight probes (`wfo-connect connector check`), reads only:
//!
//! - **region reachable**: one Search page of the tasks ended in the last hour at
//!   `source.api_url` (the region's API host);
//! - **captures queryable**: `POST /v1/captures/query` for one task id that names no task
//!   (a read: nothing is created);
//! - **users readable** (when the user sync is on): the first page of the users list;
//! - **subscription** (when the connector registers one): this connector's capture
//!   subscriptions listed and active.

use chrono::{Duration as Span, Utc};
use wfo_ports::SourceError;
use wfo_ports::preflight::{CheckResult, PreflightContext, probe_fix, within};

use crate::client::ConfigList;
use crate::error::cc_error;
use crate::source::WebexCc2Source;

/// A task id no task has: the capture query reads nothing and changes nothing.
const PROBE_TASK_ID: &str = "00000000-0000-4000-8000-000000000000";

/// Where the guide's 2.0 settings get their rights: the consenting administrator.
const ADMIN: &str = "sign in to the Authorization URL as a Contact Center administrator of this organization (a Full admin in Control Hub)";

impl WebexCc2Source {
    pub(crate) async fn preflight_checks(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        let cfg = &ctx.connector.config;
        let id = &cfg.id;
        let t = ctx.timeout;
        let token = match within(t, async { Ok::<_, SourceError>(self.credentials.current().await?) }).await {
            Ok(token) => token,
            Err(e) => {
                return vec![CheckResult::fail(
                    "region reachable",
                    probe_fix(&e, "the token could not be had"),
                )];
            }
        };
        let mut checks = Vec::new();
        let client = self.client();
        let now = Utc::now();

        let region = within(t, async {
            client
                .list_tasks_page(&token, now - Span::hours(1), now, None)
                .await
                .map_err(cc_error)
        })
        .await;
        let reachable = region.is_ok();
        checks.push(match region {
            Ok(_) => CheckResult::pass("region reachable", format!("Search answers at {}", cfg.source.api_url)),
            Err(e) if e.is_forbidden() => CheckResult::fail(
                "region reachable",
                probe_fix(&e, &format!("Search refused the token: keep cjp:config_read in the scopes and {ADMIN}")),
            ),
            Err(e) => CheckResult::fail(
                "region reachable",
                format!(
                    "the Contact Center API at source.api_url ({}) did not answer: {e}; set source.api_url to your organization's region (the Authorization URL's host names it) and add the connector again (wfo-connect connector add FILE)",
                    cfg.source.api_url
                ),
            ),
        });
        if !reachable {
            checks.push(CheckResult::skipped(
                "captures queryable",
                "the region is not reachable",
            ));
            return checks;
        }

        checks.push(
            match within(t, async {
                client.captures(&token, &[PROBE_TASK_ID], 1).await.map_err(cc_error)
            })
            .await
            {
                Ok(_) => CheckResult::pass("captures queryable", "the capture API answers"),
                Err(e) => CheckResult::fail(
                    "captures queryable",
                    probe_fix(
                        &e,
                        &format!("the capture API refused the token: keep cjp:config_read in the scopes and {ADMIN}"),
                    ),
                ),
            },
        );

        if cfg.features.user_sync {
            checks.push(
                match within(t, async {
                    client.list_page(ConfigList::Users, 0, &token).await.map_err(cc_error)
                })
                .await
                {
                    Ok(_) => CheckResult::pass("users readable", "the users list answers"),
                    Err(e) => CheckResult::fail(
                        "users readable",
                        probe_fix(
                            &e,
                            &format!(
                                "the users list refused the token: keep cjp:config_read in the scopes and {ADMIN}"
                            ),
                        ),
                    ),
                },
            );
        } else {
            checks.push(CheckResult::skipped("users readable", "features.user_sync = false"));
        }

        if cfg.registers_webhook() {
            let subs = within(t, async { client.list_subscriptions(&token).await.map_err(cc_error) }).await;
            checks.push(match subs {
                Err(e) => CheckResult::fail(
                    "subscription",
                    probe_fix(&e, "the subscriptions could not be listed: keep cjp:config_write in the scopes"),
                ),
                Ok(subs) => {
                    let ours: Vec<_> = subs
                        .iter()
                        .filter(|s| ctx.webhook_id == Some(s.id.as_str()) || ctx.is_our_target(&s.destination_url))
                        .collect();
                    let inactive: Vec<&str> = ours.iter().filter(|s| !s.is_active()).map(|s| s.id.as_str()).collect();
                    if ours.is_empty() {
                        CheckResult::fail(
                            "subscription",
                            format!("no capture subscription of connector {id} is registered: the runner's token refresh registers it once the connector is authorized (restart `wfo-connect serve --public-url URL` to do it now; on AWS the refresh function's next run)"),
                        )
                    } else if !inactive.is_empty() {
                        CheckResult::fail(
                            "subscription",
                            format!("subscription {} is not active (Contact Center deactivates one whose deliveries keep failing): make sure the runner's public URL is reachable; the runner's token refresh then reactivates it (restart `wfo-connect serve` to do it now; on AWS the refresh function's next run). The poller imports meanwhile", inactive.join(", ")),
                        )
                    } else {
                        CheckResult::pass("subscription", format!("{} active", ours.len()))
                    }
                }
            });
        }
        checks
    }
}
