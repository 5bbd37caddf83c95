//! What `wfo-connect status` says about a connector's access to its source: token
//! health (re-authorization required, since when and why, and how long the 60-day
//! window lasts), the source webhook's registration, and a missed window with the exact
//! backfill command. Plain lines, so the CLI and any other front end print the same.
//!
//! Everything here reads the store only, except [`api_key_line`]: an API key has no
//! stored state to show (it is never refreshed, and a refusal is only learnt by calling),
//! so whether it works is asked of the source with one cheap authenticated call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use wfo_domain::webex_id::canonical_webex_id;

use crate::connections::Connections;
use crate::ports::{CredentialScheme, Source, SourceError, Store, StoreError, StoredConnector};
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
        // An API key has no token state: [`api_key_line`] says whether it works.
        (None, None) => {}
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

/// How long `status` waits for the source to answer the API-key check.
pub const API_KEY_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// `  api key:  …` for a connector whose kind authenticates with an API key, `None` for
/// any other: the connector's source is bound ([`Connections::get`]) and asked
/// [`api_key_line`].
pub async fn api_key_status(
    connections: &Connections,
    connector: &StoredConnector,
    timeout: Duration,
    now: DateTime<Utc>,
) -> Option<String> {
    if connections.credential_scheme(connector.config.kind) != CredentialScheme::ApiKey {
        return None;
    }
    Some(match connections.get(connector).await {
        Ok(conn) => api_key_line(conn.source.as_ref(), connector, timeout, now).await,
        Err(e) => format!(
            "  api key:  could not be checked: {}",
            safe_reason(connector, &e.to_string())
        ),
    })
}

/// Whether the connector's API key works, as one line: `source.identity()` (one small
/// authenticated request) within `timeout`.
///
/// - `  api key:  works (tenant <org_id> answered at <now>)`
/// - `  api key:  works, but tenant <org_id> answered, not source.tenant_id <tenant>; …`
/// - `  api key:  REFUSED: <reason>; put a valid key in source.api_key …` (the source
///   refused the key or its permissions: nothing works until an operator changes it)
/// - `  api key:  could not be checked: <reason>` (the source did not answer in time or
///   failed; says nothing about the key)
///
/// The key itself never appears: the reason is redacted like every logged error, and any
/// occurrence of the key is replaced as well.
pub async fn api_key_line(
    source: &dyn Source,
    connector: &StoredConnector,
    timeout: Duration,
    now: DateTime<Utc>,
) -> String {
    let fix = format!(
        "put a valid key in source.api_key and add the connector again (wfo-connect connector add FILE); items wait meanwhile, nothing is lost (`wfo-connect status {}` checks again)",
        connector.config.id
    );
    match tokio::time::timeout(timeout, source.identity()).await {
        Err(_) => format!(
            "  api key:  could not be checked: the source did not answer within {} s",
            timeout.as_secs()
        ),
        Ok(Ok(identity)) => {
            let got = canonical_webex_id(&identity.org_id);
            let expected = canonical_webex_id(&connector.config.source.tenant_id);
            if !expected.is_empty() && got != expected {
                format!(
                    "  api key:  works, but tenant {got} answered, not source.tenant_id {expected}: put this tenant's key in source.api_key and add the connector again (wfo-connect connector add FILE)"
                )
            } else {
                format!("  api key:  works (tenant {got} answered at {now})")
            }
        }
        Ok(Err(e)) => {
            let reason = safe_reason(connector, &e.to_string());
            if refuses_key(&e) {
                format!("  api key:  REFUSED: {reason}; {fix}")
            } else {
                format!("  api key:  could not be checked: {reason}")
            }
        }
    }
}

/// The source refused the key itself (`401`, no key configured) or what it may do (a
/// missing permission): only an operator can change that.
fn refuses_key(e: &SourceError) -> bool {
    matches!(e, SourceError::Unauthorized(_)) || e.needs_operator()
}

/// `text` fit to print: secret-bearing fields and URL queries redacted, and the
/// connector's own key replaced wherever a source echoed it.
fn safe_reason(connector: &StoredConnector, text: &str) -> String {
    let mut out = wfo_domain::redact::redact_secrets(text);
    if let Some(key) = connector.config.source.api_key.as_ref().map(|k| k.expose())
        && !key.is_empty()
    {
        out = out.replace(key, "[redacted]");
    }
    out
}
