//! The scheduled token job: what an EventBridge schedule invokes on AWS and what the
//! timer of `wfo-connect serve` runs (every `refresh_interval`, 15 minutes by default).
//!
//! For each connector whose credentials need upkeep (OAuth; an API key needs none):
//! refresh its tokens when due ([`Credentials::keep_fresh`]: the access token expires
//! soon, or the set is older than 11 hours), retrying transient
//! failures with jittered exponential backoff within the run; then check its source
//! webhook (register once, reuse, reactivate with `PUT` when the source deactivated it).
//! A permanent refusal moves the connector to "re-authorization required" (recorded,
//! logged once, emitted as a metric by [`auth`]); the job then leaves it alone until an
//! operator re-authorizes.

use chrono::DateTime;
use chrono::Utc;
use wfo_http::RetryPolicy;
use wfo_ports::{AuthError, Credentials, RefreshOutcome};

use crate::connections::Connections;
use crate::ports::{StoreError, StoredConnector};
use crate::registration::{self, Registration};

/// What the job did for one connector's tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenResult {
    /// Fresh enough; nothing was asked of the identity service.
    NotDue,
    Refreshed {
        access_expires_at: DateTime<Utc>,
        attempts: u32,
    },
    /// Another process refreshed it meanwhile.
    AlreadyFresh,
    /// Not authorized, or re-authorization required: waits for an operator.
    NeedsOperator(String),
    /// Still failing after the run's retries (transient): the next run tries again.
    Failed { error: String, attempts: u32 },
}

/// One connector's part of a run.
#[derive(Debug, Clone)]
pub struct ConnectorRun {
    pub connector_id: String,
    pub tokens: TokenResult,
    /// `None` when the connector has no webhook to check (feature off, other kind, or
    /// waiting for an operator).
    pub webhook: Option<Result<Registration, String>>,
}

#[derive(Debug, Clone, Default)]
pub struct JobReport {
    pub connectors: Vec<ConnectorRun>,
}

impl JobReport {
    /// Some connector failed transiently (tokens or webhook): worth an earlier run.
    pub fn retry_soon(&self) -> bool {
        self.connectors
            .iter()
            .any(|c| matches!(c.tokens, TokenResult::Failed { .. }) || matches!(c.webhook, Some(Err(_))))
    }
}

/// One run over every stored connector.
pub async fn run(connections: &Connections, public_url: &str, policy: &RetryPolicy) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    for c in connections.store().list_connectors().await? {
        if let Some(run) = run_connector(connections, &c, public_url, policy).await {
            report.connectors.push(run);
        }
    }
    Ok(report)
}

/// One connector's run; `None` for connectors whose credentials need no upkeep (an API
/// key) or whose kind no source of this build serves.
pub async fn run_connector(
    connections: &Connections,
    c: &StoredConnector,
    public_url: &str,
    policy: &RetryPolicy,
) -> Option<ConnectorRun> {
    let credentials = match connections.credentials(c) {
        Ok(cr) if cr.needs_upkeep() => cr,
        Ok(_) => return None,
        Err(e) => {
            tracing::debug!(connector = %c.config.id, error = %e, "token job skips the connector");
            return None;
        }
    };
    let id = c.config.id.clone();
    let tokens = match refresh_with_backoff(credentials.as_ref(), &id, policy).await {
        (Ok(None), _) => TokenResult::NotDue,
        (Ok(Some(RefreshOutcome::Refreshed { access_expires_at })), attempts) => {
            tracing::info!(connector = %id, %access_expires_at, attempts, "tokens refreshed");
            TokenResult::Refreshed {
                access_expires_at,
                attempts,
            }
        }
        (Ok(Some(RefreshOutcome::AlreadyFresh)), _) => TokenResult::AlreadyFresh,
        (Err(e), _) if e.needs_operator() => {
            tracing::debug!(connector = %id, error = %e, "refresh skipped: waits for an operator");
            TokenResult::NeedsOperator(e.to_string())
        }
        (Err(e), attempts) => {
            tracing::warn!(connector = %id, error = %e, attempts, "token refresh failed; retried on the next run (imports refresh on their own when the token nears expiry)");
            TokenResult::Failed {
                error: e.to_string(),
                attempts,
            }
        }
    };
    emit_token_health(connections, &id, &tokens).await;
    let webhook = if c.config.registers_webhook() && !matches!(tokens, TokenResult::NeedsOperator(_)) {
        match registration::ensure_and_record(connections, c, public_url).await {
            Ok(r) => Some(Ok(r)),
            Err(e) if e.needs_operator() => None,
            Err(e) => Some(Err(e.to_string())),
        }
    } else {
        None
    };
    Some(ConnectorRun {
        connector_id: id,
        tokens,
        webhook,
    })
}

/// The connector's token health after this run, as gauges: usable unless
/// re-authorization is required or it was never authorized (a transient refresh failure
/// leaves it usable: the next run and the imports refresh again), and the time left until
/// the refresh token's horizon when the source gave it.
async fn emit_token_health(connections: &Connections, connector_id: &str, result: &TokenResult) {
    let now = Utc::now();
    match connections.store().get_tokens(connector_id).await {
        Ok(state) => {
            let healthy = state.reauth_required.is_none()
                && state.tokens.is_some()
                && !matches!(result, TokenResult::NeedsOperator(_));
            let horizon = state.tokens.as_ref().and_then(|t| t.refresh_expires_at);
            crate::metrics::token_health(connector_id, healthy, horizon, now);
        }
        Err(e) => {
            tracing::debug!(connector = %connector_id, error = %e, "token health not measured: tokens unreadable")
        }
    }
}

/// [`Credentials::keep_fresh`], repeated after transient failures with jittered
/// exponential backoff (`policy.backoff`) up to `policy.max_attempts` attempts within
/// `policy.budget`. Returns the outcome and the attempts made.
pub async fn refresh_with_backoff(
    credentials: &dyn Credentials,
    connector_id: &str,
    policy: &RetryPolicy,
) -> (Result<Option<RefreshOutcome>, AuthError>, u32) {
    let started = std::time::Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let result = credentials.keep_fresh().await;
        match result {
            Err(e) if e.is_retryable() && attempts < policy.max_attempts.max(1) => {
                let wait = policy.backoff(attempts);
                if started.elapsed() + wait > policy.budget {
                    return (Err(e), attempts);
                }
                tracing::debug!(connector = %connector_id, error = %e, attempts, ?wait, "token refresh failed; retrying");
                tokio::time::sleep(wait).await;
            }
            other => return (other, attempts),
        }
    }
}
