//! `wfo-connect connector check ID`: a preflight that tries each permission a connector
//! needs with harmless calls (reads only: nothing is created in WFO or at the source) and
//! names the fix of each one missing, in the integration guides' words.
//!
//! The checks, in order:
//! 1. **source credentials**: the token (refreshed through the credential flow when due,
//!    and once more if the source refuses it) or the API key is accepted, by the source's
//!    identity call;
//! 2. **organization**: that identity's organization is `source.tenant_id`;
//! 3. **scopes** (OAuth): the granted scopes hold what the connector asks for, what the
//!    importer needs ([`Source::import_scopes`]) and what the user sync needs;
//! 4. the source's own probes ([`Source::preflight`]): recordings listable, users and
//!    licenses readable, captures and media API reachable, its webhook or subscription
//!    registered and active;
//! 5. **WFO**: login, the default agent role, the Default Team, persons readable, the API
//!    user's roles and team, each `[[metadata_mapping]]` label existing and of type TEXT.
//!
//! Each probe is bounded ([`PreflightSettings`]); every error becomes a failed check, never
//! an `Err` or a panic; no secret reaches the output ([`scrub`]).
//!
//! The same list backs the "needs operator" state ([`heal`]): a marked connector is
//! checked again every [`HEAL_EVERY`] by the runner (the sweeper) and the stack (the
//! scheduler's monitor task), and once every check passes the mark is cleared and its held
//! items are looked at now, instead of at their next look up to `paused_delay` later.

use std::time::Duration;

use wfo_client::WfoApi;
use wfo_client::WfoError;
use wfo_client::ensure::{default_agent_role, default_team};
use wfo_domain::mapping::{MappingError, resolve_rules};
use wfo_domain::webex_id::canonical_webex_id;
use wfo_domain::wfo::{Role, Team};
use wfo_ports::preflight::{CheckOutcome, CheckResult, PreflightContext, ProbeError, within};
use wfo_ports::{CredentialScheme, Identity, Source, SourceError, StoredConnector};

use crate::connections::{Connections, with_renewal};
use crate::registration;

/// How long the checks may take.
#[derive(Debug, Clone)]
pub struct PreflightSettings {
    /// The longest one probe may take.
    pub probe_timeout: Duration,
    /// The longest the listing of WFO's whole person directory may take (a large tenant
    /// takes a minute and more to answer it).
    pub directory_timeout: Duration,
}

impl Default for PreflightSettings {
    fn default() -> Self {
        Self {
            probe_timeout: Duration::from_secs(10),
            directory_timeout: Duration::from_secs(120),
        }
    }
}

/// How often a connector that needs an operator is checked again ([`heal`]).
pub const HEAL_EVERY: Duration = Duration::from_secs(120);

/// The WFO client the checks use for `connector`: its own session, the probe timeouts.
pub fn wfo_client(
    connections: &Connections,
    connector: &StoredConnector,
    settings: &PreflightSettings,
) -> wfo_client::WfoClient {
    let cfg = &connector.config;
    let mut wfo_config = wfo_client::WfoClientConfig::new(
        cfg.wfo.api_url.clone(),
        cfg.wfo.username.clone(),
        cfg.wfo.password.clone(),
    );
    wfo_config.request_timeout = settings.probe_timeout;
    wfo_config.directory_timeout = settings.directory_timeout;
    wfo_client::WfoClient::with_http_client(wfo_config, connections.http().clone())
}

/// What [`heal`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healing {
    /// The connector needs no operator: nothing checked.
    NotMarked,
    /// Still needed: the first check that fails, as `connector check` prints it.
    StillNeeded(String),
    /// Every check passes: the mark is cleared and this many held items look again now.
    Healed(usize),
}

/// A connector marked "needs operator" is checked with the preflight; when every check
/// passes, the mark is cleared and the held items are due now. A check that fails leaves
/// everything as it is (the items keep their own schedule, so a problem the checks cannot
/// see still heals by the items' next look).
pub async fn heal(
    connections: &Connections,
    connector: &StoredConnector,
    settings: &PreflightSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Healing, crate::ports::StoreError> {
    let store = connections.store();
    let id = connector.config.id.as_str();
    let Some(mark) = crate::attention::load(store.as_ref(), id).await? else {
        return Ok(Healing::NotMarked);
    };
    let wfo = wfo_client(connections, connector, settings);
    let checks = check_connector(connections, connector, &wfo, settings).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), wfo.logout()).await;
    if let Some(failed) = checks.iter().find(|c| c.failed()) {
        let line = render(std::slice::from_ref(failed)).join(" ");
        tracing::debug!(connector = id, check = %line, "still needs an operator");
        return Ok(Healing::StillNeeded(line));
    }
    store
        .put_value(id, crate::attention::NEEDS_OPERATOR_KEY, &serde_json::Value::Null)
        .await?;
    let woken = crate::reconcile::resume_held(store.as_ref(), id, now).await?;
    tracing::info!(connector = id, since = %mark.since, woken, "connector no longer needs an operator: every preflight check passes; held items resume now");
    Ok(Healing::Healed(woken))
}

/// Where the WFO guide says roles are given to the API user.
const ASSIGN_ROLES: &str = "assign the default agent and administrator roles to the API user (the Calabrio API Username, wfo.username): Application Management > User Configuration > Users > Edit an existing user > Roles, move the default agent role to Assigned, Save";

/// Every check of `connector`, in the order of the module docs. `wfo` is a client for the
/// connector's WFO tenant (its session is the caller's to end).
pub async fn check_connector(
    connections: &Connections,
    connector: &StoredConnector,
    wfo: &dyn WfoApi,
    settings: &PreflightSettings,
) -> Vec<CheckResult> {
    let mut checks = source_checks(connections, connector, settings).await;
    checks.extend(wfo_checks(connector, wfo, settings).await);
    for c in &mut checks {
        scrub(connector, c);
    }
    checks
}

/// Whether every check passed or was skipped.
pub fn all_passed(checks: &[CheckResult]) -> bool {
    !checks.iter().any(CheckResult::failed)
}

/// One line per check: `✓ name: detail`, `✗ name: fix`, `- name: skipped: why`.
pub fn render(checks: &[CheckResult]) -> Vec<String> {
    checks
        .iter()
        .map(|c| match &c.outcome {
            CheckOutcome::Pass { detail } => format!("✓ {}: {detail}", c.name),
            CheckOutcome::Fail { fix } => format!("✗ {}: {fix}", c.name),
            CheckOutcome::Skipped { why } => format!("- {}: skipped: {why}", c.name),
        })
        .collect()
}

/// The checks against the source: credentials, organization, scopes, then its own.
async fn source_checks(
    connections: &Connections,
    connector: &StoredConnector,
    settings: &PreflightSettings,
) -> Vec<CheckResult> {
    let cfg = &connector.config;
    let id = &cfg.id;
    let t = settings.probe_timeout;
    let conn = match connections.get(connector).await {
        Ok(c) => c,
        Err(e) => {
            return vec![CheckResult::fail(
                "source credentials",
                format!("the connector's source could not be set up: {e}"),
            )];
        }
    };
    let scheme = conn.credentials.scheme();
    let reauthorize = format!("open the Authorization URL (wfo-connect connector auth-url {id}) and sign in");
    let new_key =
        "put a valid key in source.api_key and add the connector again (wfo-connect connector add FILE)".to_owned();
    let mut checks = Vec::new();
    let blocked = |checks: &mut Vec<CheckResult>, why: &str| {
        checks.push(CheckResult::skipped("organization", why));
        checks.push(CheckResult::skipped("source permissions", why));
    };

    // 1. The credential, by the identity call.
    if let Err(e) = conn.credentials.ready().await {
        checks.push(CheckResult::fail(
            "source credentials",
            auth_fix(&e, scheme, &reauthorize, &new_key),
        ));
        blocked(&mut checks, "the source credentials do not work");
        return checks;
    }
    let source = conn.source.as_ref();
    let identity = within(t, with_renewal(conn.credentials.as_ref(), || source.identity())).await;
    let identity: Identity = match identity {
        Ok(i) => {
            let what = match scheme {
                CredentialScheme::OAuth => "token valid",
                CredentialScheme::ApiKey => "API key accepted",
            };
            let by = i
                .account
                .as_deref()
                .map(|a| format!(" (account {a})"))
                .unwrap_or_default();
            checks.push(CheckResult::pass("source credentials", format!("{what}{by}")));
            i
        }
        Err(e) => {
            checks.push(CheckResult::fail(
                "source credentials",
                identity_fix(&e, scheme, &reauthorize, &new_key),
            ));
            blocked(&mut checks, "the source credentials do not work");
            return checks;
        }
    };

    // 2. The organization.
    let expected = canonical_webex_id(&cfg.source.tenant_id);
    let got = canonical_webex_id(&identity.org_id);
    if expected.is_empty() {
        checks.push(CheckResult::fail(
            "organization",
            "source.tenant_id is not set: set it to the organization id and add the connector again (wfo-connect connector add FILE)",
        ));
    } else if got != expected {
        let fix = match scheme {
            CredentialScheme::OAuth => format!(
                "the token belongs to organization {got}, not source.tenant_id {expected}: {reauthorize} as {} (an administrator of {expected})",
                if cfg.source.username.trim().is_empty() {
                    "source.username"
                } else {
                    cfg.source.username.trim()
                }
            ),
            CredentialScheme::ApiKey => format!(
                "the key belongs to tenant {got}, not source.tenant_id {expected}: put this tenant's key in source.api_key and add the connector again (wfo-connect connector add FILE)"
            ),
        };
        checks.push(CheckResult::fail("organization", fix));
    } else {
        checks.push(CheckResult::pass("organization", format!("{got} (source.tenant_id)")));
    }

    // 3. The scopes.
    checks.push(scope_check(connector, source, conn.credentials.as_ref(), &reauthorize).await);

    // 4. The source's own probes.
    let status = registration::load_status(connections.store().as_ref(), id)
        .await
        .ok()
        .flatten();
    let ctx = PreflightContext {
        connector,
        webhook_id: status.as_ref().and_then(|s| s.webhook_id.as_deref()),
        webhook_path: format!("/webhooks/{id}"),
        timeout: t,
    };
    checks.extend(source.preflight(&ctx).await);
    checks
}

/// Granted scopes against what the connector asks for, the importer needs and the user
/// sync needs.
async fn scope_check(
    connector: &StoredConnector,
    source: &dyn Source,
    credentials: &dyn wfo_ports::Credentials,
    reauthorize: &str,
) -> CheckResult {
    let granted = match credentials.granted_scopes().await {
        Ok(Some(g)) => g,
        Ok(None) => return CheckResult::skipped("scopes", "an API key carries no scopes"),
        Err(e) => return CheckResult::skipped("scopes", format!("the granted scopes could not be read: {e}")),
    };
    let mut needed: Vec<String> = connector.config.scopes();
    needed.extend(source.import_scopes().iter().map(|s| (*s).to_owned()));
    if connector.config.features.user_sync
        && let Some(profile) = source.user_sync()
    {
        needed.extend(profile.required_scopes.iter().map(|s| (*s).to_owned()));
    }
    let mut missing: Vec<String> = needed.into_iter().filter(|s| !granted.contains(s)).collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        CheckResult::pass("scopes", format!("{} granted", granted.len()))
    } else {
        CheckResult::fail(
            "scopes",
            format!(
                "the token lacks {}: add them to the integration's scopes and to source.scopes, add the connector again (wfo-connect connector add FILE), then {reauthorize}",
                missing.join(", ")
            ),
        )
    }
}

/// The fix for a credential that is not ready (never authorized, re-authorization
/// required, no key).
fn auth_fix(e: &wfo_ports::AuthError, scheme: CredentialScheme, reauthorize: &str, new_key: &str) -> String {
    use wfo_ports::AuthError as A;
    match (e, scheme) {
        (A::NotAuthorized(_), _) => format!("not authorized yet: {reauthorize}"),
        (A::ReauthRequired { reason, .. }, _) => format!("re-authorization required ({reason}): {reauthorize}"),
        (A::ApiKey { reason, .. }, _) => format!("{reason}: {new_key}"),
        (other, CredentialScheme::OAuth) if other.needs_operator() => format!("{other}"),
        (other, _) => format!("the credential could not be read: {other}; run the check again"),
    }
}

/// The fix for an identity call that failed.
fn identity_fix(e: &ProbeError, scheme: CredentialScheme, reauthorize: &str, new_key: &str) -> String {
    match e {
        ProbeError::Source(SourceError::Credentials(a)) => auth_fix(a, scheme, reauthorize, new_key),
        ProbeError::Source(SourceError::Unauthorized(reason)) => match scheme {
            CredentialScheme::OAuth => {
                format!("the source refused the token even after a refresh ({reason}): {reauthorize}")
            }
            CredentialScheme::ApiKey => format!("the source refused source.api_key ({reason}): {new_key}"),
        },
        ProbeError::Source(SourceError::Operator(reason)) => match scheme {
            CredentialScheme::OAuth => format!(
                "the source refused to say who the token belongs to ({reason}): give the account the Full admin role, then {reauthorize}"
            ),
            CredentialScheme::ApiKey => format!("the source refused source.api_key ({reason}): {new_key}"),
        },
        other => format!(
            "the source did not answer the identity call: {other}; check source.api_url and the network, then run the check again"
        ),
    }
}

/// The checks against WFO.
async fn wfo_checks(connector: &StoredConnector, wfo: &dyn WfoApi, settings: &PreflightSettings) -> Vec<CheckResult> {
    let cfg = &connector.config;
    let t = settings.probe_timeout;
    let mut checks = Vec::new();

    // Login happens on the first call: the roles listing.
    let roles = bounded(t, wfo.list_roles()).await;
    let roles: Option<Vec<Role>> = match roles {
        Err(Probe::Wfo(WfoError::Unauthorized)) => {
            checks.push(CheckResult::fail(
                "WFO login",
                format!(
                    "WFO rejected the API user {}: check wfo.username and wfo.password (the Calabrio API Username and Password; when the password changes, update wfo.password at once) and add the connector again (wfo-connect connector add FILE)",
                    cfg.wfo.username
                ),
            ));
            checks.push(CheckResult::skipped("WFO tenant", "the WFO login failed"));
            return checks;
        }
        Err(e) if !e.is_forbidden() => {
            checks.push(CheckResult::fail(
                "WFO login",
                format!(
                    "WFO did not answer: {e}; check wfo.api_url ({}) and the network, then run the check again",
                    cfg.wfo.api_url
                ),
            ));
            checks.push(CheckResult::skipped("WFO tenant", "WFO could not be reached"));
            return checks;
        }
        Err(e) => {
            checks.push(CheckResult::pass("WFO login", format!("as {}", cfg.wfo.username)));
            checks.push(CheckResult::fail(
                "WFO roles",
                format!("{ASSIGN_ROLES} (WFO answered: {e})"),
            ));
            None
        }
        Ok(roles) => {
            checks.push(CheckResult::pass("WFO login", format!("as {}", cfg.wfo.username)));
            Some(roles)
        }
    };
    let agent_role = roles.as_deref().and_then(|roles| match default_agent_role(roles) {
        Ok(r) => {
            checks.push(CheckResult::pass("WFO default agent role", format!("'{}'", r.name)));
            Some(r.clone())
        }
        Err(_) => {
            checks.push(CheckResult::fail(
                "WFO default agent role",
                "the WFO tenant has no default agent role: the user sync assigns it to every new agent; mark one role as the default agent role in Application Management > User Configuration > Roles",
            ));
            None
        }
    });

    let team: Option<Team> = match bounded(t, wfo.list_teams()).await {
        Ok(teams) => match default_team(&teams) {
            Ok(team) => {
                checks.push(CheckResult::pass("WFO Default Team", format!("'{}'", team.name)));
                Some(team.clone())
            }
            Err(_) => {
                checks.push(CheckResult::fail(
                    "WFO Default Team",
                    "the WFO tenant has no default team: the user sync assigns every new user to the default team; mark one team as the default in Application Management > User Configuration > Teams",
                ));
                None
            }
        },
        Err(e) => {
            checks.push(CheckResult::fail(
                "WFO Default Team",
                wfo_fix(&e, "teams could not be read"),
            ));
            None
        }
    };

    match bounded(settings.directory_timeout, wfo.list_persons()).await {
        Ok(persons) => {
            checks.push(CheckResult::pass(
                "WFO persons readable",
                format!("{} persons", persons.len()),
            ));
            let me = persons.iter().find(|p| {
                p.input
                    .email
                    .as_deref()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(cfg.wfo.username.trim()))
            });
            checks.push(match me {
                None => CheckResult::skipped(
                    "WFO API user",
                    "no WFO person has wfo.username as its email, so its roles and team could not be read",
                ),
                Some(me) => {
                    let has_role = agent_role
                        .as_ref()
                        .is_some_and(|r| me.input.roles.iter().any(|x| x.id == r.id));
                    let in_team = team.as_ref().is_some_and(|t| me.input.group_id == t.id);
                    match (has_role, in_team) {
                        (true, true) => CheckResult::pass("WFO API user", "has the default agent role, in the Default Team"),
                        (false, _) => CheckResult::fail("WFO API user", format!("the API user lacks the default agent role: {ASSIGN_ROLES}")),
                        (true, false) => CheckResult::fail(
                            "WFO API user",
                            "the API user is not in the Default Team: move it to the default team in Application Management > User Configuration > Users",
                        ),
                    }
                }
            });
        }
        Err(e) => checks.push(CheckResult::fail(
            "WFO persons readable",
            wfo_fix(&e, "persons could not be read"),
        )),
    }

    if cfg.metadata_mapping.is_empty() {
        checks.push(CheckResult::skipped(
            "WFO metadata labels",
            "no [[metadata_mapping]] configured",
        ));
        return checks;
    }
    match bounded(t, wfo.list_metadata_keys()).await {
        Ok(keys) => {
            for m in &cfg.metadata_mapping {
                let name = format!("WFO metadata label '{}'", m.label);
                let one = [(m.acd_field.clone(), m.label.clone())];
                checks.push(match resolve_rules(&one, &keys) {
                    Ok(rules) => CheckResult::pass(
                        name,
                        format!("TEXT key {}", rules.first().map(|r| r.wfo_key.as_str()).unwrap_or("?")),
                    ),
                    Err(e) => CheckResult::fail(name, mapping_fix(&e)),
                });
            }
        }
        Err(e) => checks.push(CheckResult::fail(
            "WFO metadata labels",
            wfo_fix(&e, "metadata keys could not be read"),
        )),
    }
    checks
}

/// The fix for a mapping label WFO cannot take.
fn mapping_fix(e: &MappingError) -> String {
    const MANAGER: &str = "Application Management > QM > QM Configuration > Metadata Manager";
    match e {
        MappingError::UnknownLabel { label, .. } => {
            format!("no metadata label '{label}' in WFO: create it as a TEXT label in Metadata Manager ({MANAGER})")
        }
        MappingError::NotText { label, key_type } => format!(
            "label '{label}' is of type {key_type}; Webex WFO supports text-based metadata only: map a TEXT label created in Metadata Manager ({MANAGER}) instead"
        ),
        other => format!("{other}: fix the label in [[metadata_mapping]] or in Metadata Manager ({MANAGER})"),
    }
}

/// Why a WFO probe gave no answer.
#[derive(Debug, thiserror::Error)]
enum Probe {
    #[error("no answer within {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error(transparent)]
    Wfo(WfoError),
}

impl Probe {
    /// WFO refused it for want of a permission (`403`).
    fn is_forbidden(&self) -> bool {
        matches!(self, Probe::Wfo(e) if e.status() == Some(403))
    }
}

async fn bounded<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, WfoError>>,
) -> Result<T, Probe> {
    match tokio::time::timeout(timeout, call).await {
        Ok(r) => r.map_err(Probe::Wfo),
        Err(_) => Err(Probe::TimedOut(timeout)),
    }
}

fn wfo_fix(e: &Probe, what: &str) -> String {
    if e.is_forbidden() {
        format!("{what}: {ASSIGN_ROLES} (WFO answered: {e})")
    } else {
        format!("{what}: {e}; run the check again")
    }
}

/// Every text of `check` fit to print: secret-bearing fields and URL queries redacted,
/// and the connector's own secrets replaced wherever a service echoed one.
fn scrub(connector: &StoredConnector, check: &mut CheckResult) {
    let cfg = &connector.config;
    let secrets: Vec<&str> = [
        Some(cfg.wfo.password.expose()),
        cfg.source.api_key.as_ref().map(|k| k.expose()),
        cfg.source.client_secret.as_ref().map(|k| k.expose()),
        Some(connector.secrets.webhook_secret.expose()),
    ]
    .into_iter()
    .flatten()
    .filter(|s| s.len() >= 4)
    .collect();
    let clean = |text: &mut String| {
        let mut out = wfo_domain::redact::redact_secrets(text);
        for s in &secrets {
            out = out.replace(s, "[redacted]");
        }
        *text = out;
    };
    match &mut check.outcome {
        CheckOutcome::Pass { detail } => clean(detail),
        CheckOutcome::Fail { fix } => clean(fix),
        CheckOutcome::Skipped { why } => clean(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_renders_as_one_marked_line() {
        let lines = render(&[
            CheckResult::pass("a", "ok"),
            CheckResult::fail("b", "do this"),
            CheckResult::skipped("c", "because"),
        ]);
        assert_eq!(lines, ["✓ a: ok", "✗ b: do this", "- c: skipped: because"]);
        assert!(!all_passed(&[CheckResult::pass("a", ""), CheckResult::fail("b", "")]));
        assert!(all_passed(&[CheckResult::pass("a", ""), CheckResult::skipped("b", "")]));
    }

    #[test]
    fn a_non_text_label_is_named_with_its_type_and_where_to_fix_it() {
        let fix = mapping_fix(&MappingError::NotText {
            label: "Call Session".into(),
            key_type: "DATE".into(),
        });
        assert!(fix.contains("DATE") && fix.contains("Metadata Manager"), "{fix}");
    }
}
