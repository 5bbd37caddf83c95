//! Contact Center 1.0's preflight probes (`wfo-connect connector check`), reads only (the
//! key itself has been checked by the pipeline's identity call):
//!
//! - **captures queryable**: one page of the sessions (CSRs) started in the last hour;
//! - **media API reachable**: the media API at `source.media_api_url` asked for a session
//!   id no session has (it answers `404`, or a recording; a web page means a wrong URL).

use chrono::{Duration as Span, Utc};
use wfo_ports::SourceError;
use wfo_ports::preflight::{CheckResult, PreflightContext, ProbeError, probe_fix, within};

use crate::error::cc1_error;
use crate::media::Recording;
use crate::source::WebexCc1Source;

/// A session id no session has: the media API answers it without changing anything.
const PROBE_SESSION_ID: &str = "wfo-connect-preflight-0000";

/// What the key's user needs, in the guide's words.
const KEY_RIGHTS: &str = "the API key's user (source.username) needs access to the reporting and recording APIs of this tenant: ask the Contact Center administrator, put the new key in source.api_key and add the connector again (wfo-connect connector add FILE)";

impl WebexCc1Source {
    pub(crate) async fn preflight_checks(&self, ctx: &PreflightContext<'_>) -> Vec<CheckResult> {
        let cfg = &ctx.connector.config;
        let t = ctx.timeout;
        let key = match within(t, async { Ok::<_, SourceError>(self.credentials.current().await?) }).await {
            Ok(k) => k,
            Err(e) => return vec![CheckResult::fail("captures queryable", probe_fix(&e, KEY_RIGHTS))],
        };
        let now = Utc::now();
        let mut checks = Vec::new();
        checks.push(
            match within(t, async {
                self.client
                    .csr_page(&key, now - Span::hours(1), now)
                    .await
                    .map_err(cc1_error)
            })
            .await
            {
                Ok(_) => CheckResult::pass("captures queryable", "the session records (CSRs) answer"),
                Err(e) => CheckResult::fail("captures queryable", probe_fix(&e, KEY_RIGHTS)),
            },
        );
        let media_url = cfg.source.media_api_url.as_deref().unwrap_or("(not set)");
        checks.push(
            match within(t, async { self.client.recording(&key, PROBE_SESSION_ID).await }).await {
                Ok(Recording::NotThere) | Ok(Recording::Ready(_)) => {
                    CheckResult::pass("media API reachable", format!("answers at {media_url}"))
                }
                Err(e @ ProbeError::Source(SourceError::Unauthorized(_))) => {
                    CheckResult::fail("media API reachable", format!("the media API refused the key ({e}): {KEY_RIGHTS}"))
                }
                Err(e) => CheckResult::fail(
                    "media API reachable",
                    format!(
                        "the media API at source.media_api_url ({media_url}) did not answer as the Media API: {e}; set source.media_api_url to the tenant's Media API (e.g. https://rd-<tenant>.ccone.net/cr/get-decrypted-recording) and add the connector again (wfo-connect connector add FILE)"
                    ),
                ),
            },
        );
        checks
    }
}
