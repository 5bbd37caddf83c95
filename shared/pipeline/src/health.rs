//! What `wfo-connect status` says about a connector's access to its source: token
//! health (re-authorization required, since when and why, and how long the 60-day
//! window lasts), the source webhook's registration, and a missed window with the exact
//! backfill command. Plain lines, so the CLI and any other front end print the same.

use chrono::{DateTime, Utc};

use crate::ports::{Store, StoreError, StoredConnector};
use crate::reconcile::{self, MAX_LOOKBACK};
use crate::registration;

/// The access lines of `connector`, each starting with its label (`  token:    ` …).
pub async fn access_lines(
    store: &dyn Store,
    connector: &StoredConnector,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let cid = &connector.config.id;
    let mut lines = Vec::new();
    let tokens = store.get_tokens(cid).await?;
    match (&tokens.reauth_required, &tokens.tokens) {
        (Some((since, reason)), _) => {
            lines.push(format!("  token:    REAUTHORIZATION REQUIRED since {since}: {reason}"));
            let window_end = *since + MAX_LOOKBACK;
            if window_end < now {
                lines.push(format!(
                    "            the {}-day window ended {window_end}: after re-authorizing (`wfo-connect connector auth-url {cid}`), `status` names the backfill command for what is older",
                    MAX_LOOKBACK.num_days()
                ));
            } else {
                lines.push(format!(
                    "            open the Authorization URL (`wfo-connect connector auth-url {cid}`) before {window_end} and everything since will import; webhooks are still recorded meanwhile"
                ));
            }
        }
        (None, Some(t)) => lines.push(format!(
            "  token:    ok; access valid until {} (refreshed {}){}",
            t.access_expires_at,
            t.obtained_at,
            t.refresh_expires_at
                .map(|r| format!("; refresh token until {r}"))
                .unwrap_or_default()
        )),
        (None, None) if connector.config.source.client_id.is_some() => lines.push(format!(
            "  token:    not authorized yet: open `wfo-connect connector auth-url {cid}`"
        )),
        (None, None) => lines.push("  token:    (API key)".to_owned()),
    }
    if let Some(by) = crate::authorization::authorized_by(store, cid).await? {
        let account = by.account.as_deref().unwrap_or("an account the source did not name");
        lines.push(format!("  consent:  by {account} (org {}) at {}", by.org_id, by.at));
        let expected = connector.config.source.username.trim();
        if !expected.is_empty()
            && !by
                .account
                .as_deref()
                .is_some_and(|a| a.trim().eq_ignore_ascii_case(expected))
        {
            lines.push(format!(
                "            NOTE: that is not source.username ({expected}); if the account is not meant to own this connector, re-authorize with {expected}"
            ));
        }
    }
    if connector.config.registers_webhook() {
        match registration::load_status(store, cid).await? {
            Some(s) if s.ok => lines.push(format!(
                "  webhook:  {} (id {}), checked {}",
                s.detail,
                s.webhook_id.as_deref().unwrap_or("?"),
                s.at
            )),
            Some(s) => lines.push(format!(
                "  webhook:  NOT REGISTERED at {}: {}; the poller imports meanwhile and every refresh run tries again",
                s.at, s.detail
            )),
            None => lines.push("  webhook:  not registered yet (after authorization)".to_owned()),
        }
    }
    if let Some(w) = reconcile::missed_window(store, cid).await? {
        lines.push(format!(
            "  MISSED:   recordings from {} to {} are older than the {}-day window and were not imported; run `{}`",
            w.from,
            w.to,
            MAX_LOOKBACK.num_days(),
            w.backfill_command(cid)
        ));
    }
    Ok(lines)
}
