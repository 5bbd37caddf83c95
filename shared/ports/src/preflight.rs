//! Preflight checks: whether a connector has every permission and setting it needs, found
//! with harmless calls (reads only; nothing is created at the source or in WFO).
//!
//! Each check is named and ends [`CheckOutcome::Pass`], [`CheckOutcome::Fail`] with the fix
//! in the integration guides' words, or [`CheckOutcome::Skipped`] with why it could not
//! run. The pipeline runs the checks that concern every source (credentials, scopes,
//! WFO); each source adds its own through [`crate::Source::preflight`], probing the calls
//! only it knows (a recordings listing, a capture query, its webhook's registration).

use std::future::Future;
use std::time::Duration;

use crate::source::SourceError;
use crate::store::StoredConnector;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It works; `detail` says what was seen (no secret).
    Pass { detail: String },
    /// It does not: what an operator must do about it.
    Fail { fix: String },
    /// It could not be tried (an earlier check failed, or it does not apply).
    Skipped { why: String },
}

/// One named check and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
}

impl CheckResult {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: CheckOutcome::Pass { detail: detail.into() },
        }
    }

    pub fn fail(name: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: CheckOutcome::Fail { fix: fix.into() },
        }
    }

    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: CheckOutcome::Skipped { why: why.into() },
        }
    }

    /// It failed (a skipped check is not a failure).
    pub fn failed(&self) -> bool {
        matches!(self.outcome, CheckOutcome::Fail { .. })
    }
}

/// What a source's preflight gets.
pub struct PreflightContext<'a> {
    pub connector: &'a StoredConnector,
    /// The id of the webhook or subscription the pipeline last registered for this
    /// connector, when it recorded one.
    pub webhook_id: Option<&'a str>,
    /// The path every webhook target of this connector ends with (the pipeline's route,
    /// `/webhooks/{id}`), to find its registration when no id was recorded.
    pub webhook_path: String,
    /// The longest any one probe may take.
    pub timeout: Duration,
}

impl PreflightContext<'_> {
    /// Whether `target_url` is one of this connector's webhook targets.
    pub fn is_our_target(&self, target_url: &str) -> bool {
        target_url.trim_end_matches('/').ends_with(&self.webhook_path)
    }
}

/// Why a probe gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer within {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl ProbeError {
    /// The source refused it for want of a permission, role or scope (`403`, an
    /// operator's fix), rather than failing to answer.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ProbeError::Source(SourceError::Operator(_)))
    }
}

/// `probe`, bounded by `timeout`.
pub async fn within<T, F>(timeout: Duration, probe: F) -> Result<T, ProbeError>
where
    F: Future<Output = Result<T, SourceError>>,
{
    match tokio::time::timeout(timeout, probe).await {
        Ok(r) => r.map_err(ProbeError::from),
        Err(_) => Err(ProbeError::TimedOut(timeout)),
    }
}

/// The fix for a probe that failed: `forbidden_fix` when the source refused it for a
/// permission, else what went wrong and that the check is worth running again.
pub fn probe_fix(e: &ProbeError, forbidden_fix: &str) -> String {
    let reason = wfo_domain::redact::redact_secrets(&e.to_string());
    if e.is_forbidden() {
        format!("{forbidden_fix} (the source answered: {reason})")
    } else {
        format!(
            "the source did not answer this read: {reason}; check source.api_url and the network, then run the check again"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_probe_that_hangs_ends_as_timed_out() {
        let r = within(Duration::from_millis(20), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, SourceError>(())
        })
        .await;
        assert!(matches!(r, Err(ProbeError::TimedOut(_))));
    }

    #[test]
    fn a_forbidden_probe_names_the_fix_and_another_failure_says_try_again() {
        let forbidden = ProbeError::Source(SourceError::Operator("403 no role".into()));
        assert!(
            probe_fix(&forbidden, "give the Compliance officer role").starts_with("give the Compliance officer role")
        );
        let down = ProbeError::Source(SourceError::retry("503"));
        assert!(probe_fix(&down, "give the role").contains("run the check again"));
    }
}
