//! Idempotent helpers on top of any [`WfoApi`]: look up before create, and look up again
//! before repeating a create whose outcome is unknown.
//!
//! They make *this process* safe: one call never creates two objects for one key. They
//! do not serialise concurrent processes: two workers calling [`ensure_contact`] for the
//! same `externalId` at the same moment can both see "absent" and both import. Callers
//! must hold the key (ledger record, per-agent lock) across the call. A gateway timeout
//! whose create is still running at the server when we look it up is the same race
//! inside WFO; the ledger records the id we got, so later steps never import again.

use std::collections::BTreeMap;

use wfo_domain::sync::canonical_acd_id;
use wfo_domain::wfo::{Contact, ContactImport, Person, PersonInput, Queue, QueueInput, Role, RoleRef, Team};

use crate::{WfoApi, WfoError};

/// Creates tried by one helper call when each attempt ends with an unknown outcome and
/// the lookup after it finds nothing.
pub const MAX_CREATE_ATTEMPTS: u32 = 3;

/// The WFO contact id for `contact.external_id`, importing it only when WFO has none.
///
/// 1. Look the `externalId` up; found → its id (no import).
/// 2. Import. When the outcome is unknown (timeout, broken connection, 500/502/504),
///    look it up again before importing again, at most [`MAX_CREATE_ATTEMPTS`] imports.
/// 3. More than one contact for the `externalId` (made by an earlier duplicate): the
///    lowest id wins and a warning names all of them.
///
/// Errors: [`WfoError::UnknownAgent`] (create the person, then call again),
/// [`WfoError::UnknownMetadataKey`], and the last error when the attempts run out.
pub async fn ensure_contact<A: WfoApi + ?Sized>(api: &A, contact: &ContactImport) -> Result<i64, WfoError> {
    let external_id = contact.external_id.as_str();
    if let Some(id) = lookup_contact(api, external_id).await? {
        tracing::debug!(external_id, contact_id = id, "contact already in WFO; not importing");
        return Ok(id);
    }
    import_new_contact(api, contact).await
}

/// [`ensure_contact`] for a contact the caller **knows** was never sent (its ledger says
/// no earlier attempt reached the import): no lookup first, one call. An import whose
/// outcome is unknown is still looked up before it is sent again.
pub async fn import_new_contact<A: WfoApi + ?Sized>(api: &A, contact: &ContactImport) -> Result<i64, WfoError> {
    let external_id = contact.external_id.as_str();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api.import_contact(contact).await {
            Ok(id) => return Ok(id),
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(external_id, attempt, error = %e, "contact import outcome unknown; looking it up");
                if let Some(id) = lookup_contact(api, external_id).await? {
                    return Ok(id);
                }
                if attempt >= MAX_CREATE_ATTEMPTS {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn lookup_contact<A: WfoApi + ?Sized>(api: &A, external_id: &str) -> Result<Option<i64>, WfoError> {
    let found = api.find_contacts_by_external_id(external_id).await?;
    let found: Vec<&Contact> = found.iter().filter(|c| c.import.external_id == external_id).collect();
    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
    let Some(lowest) = ids.iter().copied().min() else {
        return Ok(None);
    };
    if ids.len() > 1 {
        tracing::warn!(
            external_id,
            ?ids,
            chosen = lowest,
            "several WFO contacts share one externalId; using the lowest id"
        );
    }
    Ok(Some(lowest))
}

/// The person behind the ACD user (`acd_server_id`, `acd_id`), if any.
///
/// The contract has no lookup by ACD id, so this lists all persons. Ids are compared in
/// canonical form (`wfo_domain::sync::canonical_acd_id`, the comparison the user sync
/// uses), so a person stored with an upper-case or base64 form of the id is found.
/// Several matches (an earlier duplicate) → the lowest id, with a warning naming all.
/// Deactivated persons count: they are still that agent (reactivate, don't recreate).
pub async fn find_person_by_acd<A: WfoApi + ?Sized>(
    api: &A,
    acd_server_id: i64,
    acd_id: &str,
) -> Result<Option<Person>, WfoError> {
    let persons = api.list_persons().await?;
    let wanted = canonical_acd_id(acd_id);
    let mut found: Vec<Person> = persons
        .into_iter()
        .filter(|p| {
            p.input.acd_server_id == Some(acd_server_id)
                && p.input
                    .acd_id
                    .as_deref()
                    .is_some_and(|a| a == acd_id || canonical_acd_id(a) == wanted)
        })
        .collect();
    found.sort_by_key(|p| p.id);
    if found.len() > 1 {
        let ids: Vec<i64> = found.iter().map(|p| p.id).collect();
        tracing::warn!(
            acd_server_id,
            acd_id,
            ?ids,
            chosen = ids[0],
            "several WFO persons share one ACD user; using the lowest id"
        );
    }
    Ok(found.into_iter().next())
}

/// The queue of the source queue (`acd_server_id`, `acd_id`), if any.
///
/// Ids are compared exactly (`wfo-ingest-api.md` §3a keys queues on the pair as the
/// source spells it). Several matches (an earlier duplicate) → the lowest id, with a
/// warning naming all. Inactive queues count: they are reactivated, never recreated.
pub async fn find_queue_by_acd<A: WfoApi + ?Sized>(
    api: &A,
    acd_server_id: i64,
    acd_id: &str,
) -> Result<Option<Queue>, WfoError> {
    let mut found: Vec<Queue> = api
        .list_queues(acd_server_id)
        .await?
        .into_iter()
        .filter(|q| q.acd_server_id == acd_server_id && q.acd_id == acd_id)
        .collect();
    found.sort_by_key(|q| q.id);
    if found.len() > 1 {
        let ids: Vec<i64> = found.iter().map(|q| q.id).collect();
        tracing::warn!(
            acd_server_id,
            acd_id,
            ?ids,
            chosen = ids[0],
            "several WFO queues share one source queue; using the lowest id"
        );
    }
    Ok(found.into_iter().next())
}

/// The id of the WFO queue for `input`'s (`acdServerId`, `acdId`), creating it only when
/// WFO has none.
///
/// 1. Look the pair up ([`find_queue_by_acd`]); found → its id, unchanged (renames and
///    (de)activation are the queue sync's `PUT`s, `wfo_domain::org_sync`).
/// 2. Create. When the outcome is unknown (timeout, broken connection, 500/502/504),
///    look the pair up again before creating again, at most [`MAX_CREATE_ATTEMPTS`]
///    creates; the last error when they run out.
///
/// Serialising concurrent processes per pair is the caller's job: see the module
/// documentation.
pub async fn ensure_queue<A: WfoApi + ?Sized>(api: &A, input: &QueueInput) -> Result<i64, WfoError> {
    let (acd_server_id, acd_id) = (input.acd_server_id, input.acd_id.as_str());
    if let Some(q) = find_queue_by_acd(api, acd_server_id, acd_id).await? {
        return Ok(q.id);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api.create_queue(input).await {
            Ok(id) => {
                tracing::info!(queue_id = id, acd_server_id, acd_id, "created WFO queue");
                return Ok(id);
            }
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(acd_server_id, acd_id, attempt, error = %e, "queue create outcome unknown; looking it up");
                if let Some(q) = find_queue_by_acd(api, acd_server_id, acd_id).await? {
                    return Ok(q.id);
                }
                if attempt >= MAX_CREATE_ATTEMPTS {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The tenant's Default Team (`isDefault`; the lowest id should there be several).
pub fn default_team(teams: &[Team]) -> Result<&Team, WfoError> {
    teams
        .iter()
        .filter(|t| t.is_default)
        .min_by_key(|t| t.id)
        .ok_or(WfoError::MissingDefault {
            what: "default team (isDefault)",
        })
}

/// The tenant's default agent role (`isAgentDefault`; the lowest id should there be several).
pub fn default_agent_role(roles: &[Role]) -> Result<&Role, WfoError> {
    roles
        .iter()
        .filter(|r| r.is_agent_default)
        .min_by_key(|r| r.id)
        .ok_or(WfoError::MissingDefault {
            what: "default agent role (isAgentDefault)",
        })
}

/// An agent to make sure of in WFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    pub acd_id: String,
    pub acd_server_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
}

/// The WFO person of `agent`, creating it when there is none.
///
/// A new person gets the default team (`isDefault`), the default agent role
/// (`isAgentDefault`), `displayName` "First Last" and `activated` = now. An existing
/// person is returned as it is (also when deactivated: reactivation is the user sync's
/// decision). When a create's outcome is unknown the person is looked up again before
/// any new attempt.
///
/// Serialising concurrent processes per (`acdServerId`, `acdId`) is the caller's job:
/// see the module documentation.
pub async fn ensure_agent_person<A: WfoApi + ?Sized>(api: &A, agent: &NewAgent) -> Result<Person, WfoError> {
    ensure_agent_person_fenced(api, agent, || async { true }).await
}

/// [`ensure_agent_person`] under a lock that can be lost: `still_held` is asked right
/// before every create, and a `false` refuses the create with [`WfoError::Fenced`] (a
/// stale holder whose lock expired while WFO was slow must not create a second person
/// beside the new holder's).
pub async fn ensure_agent_person_fenced<A, F, Fut>(api: &A, agent: &NewAgent, still_held: F) -> Result<Person, WfoError>
where
    A: WfoApi + ?Sized,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if let Some(p) = find_person_by_acd(api, agent.acd_server_id, &agent.acd_id).await? {
        return Ok(p);
    }
    let teams = api.list_teams().await?;
    let team = default_team(&teams)?;
    let roles = api.list_roles().await?;
    let role = default_agent_role(&roles)?;
    let input = PersonInput {
        first_name: agent.first_name.clone(),
        last_name: agent.last_name.clone(),
        email: agent.email.clone(),
        display_name: display_name(&agent.first_name, &agent.last_name),
        group_id: team.id,
        acd_id: Some(agent.acd_id.clone()),
        acd_server_id: Some(agent.acd_server_id),
        roles: vec![RoleRef {
            id: role.id,
            name: role.name.clone(),
        }],
        company_start_date: None,
        department_start_date: None,
        activated: Some(now_ms()),
        deactivated: None,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        if !still_held().await {
            return Err(WfoError::Fenced {
                what: format!("person acdServerId={} acdId={}", agent.acd_server_id, agent.acd_id),
            });
        }
        match api.create_person(&input).await {
            Ok(id) => {
                tracing::info!(person_id = id, acd_server_id = agent.acd_server_id, acd_id = %agent.acd_id, "created WFO person for agent");
                return Ok(Person { id, input });
            }
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(acd_server_id = agent.acd_server_id, acd_id = %agent.acd_id, attempt, error = %e, "person create outcome unknown; looking it up");
                if let Some(p) = find_person_by_acd(api, agent.acd_server_id, &agent.acd_id).await? {
                    return Ok(p);
                }
                if attempt >= MAX_CREATE_ATTEMPTS {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Write a contact's metadata; an empty map makes no call.
pub async fn put_metadata<A: WfoApi + ?Sized>(
    api: &A,
    contact_id: i64,
    metadata: &BTreeMap<String, String>,
) -> Result<(), WfoError> {
    if metadata.is_empty() {
        return Ok(());
    }
    api.put_contact_metadata(contact_id, metadata).await
}

fn display_name(first: &str, last: &str) -> String {
    format!("{} {}", first.trim(), last.trim()).trim().to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
