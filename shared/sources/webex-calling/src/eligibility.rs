//! Who may be imported: the guide's way to leave someone out of WFO is to take away their
//! Webex Calling Professional license or switch their call recording off. A recording
//! owned by a call queue, a virtual line or a workspace still carries every agent who
//! took part, so each agent of a planned contact is checked before the import creates a
//! person or a contact for them.
//!
//! Eligible = the person exists in the org, holds a license named "Webex Calling -
//! Professional" (`GET /v1/people/{id}` against `GET /v1/licenses`) and their recording
//! setting records (`GET /v1/people/{id}/features/callRecording`: enabled, `record` not
//! `Never`). Verdicts are kept [`VERDICT_TTL`] per agent and the license ids as long, so a
//! busy connector asks about each agent a few times an hour at most. A failed check is
//! not a verdict: the item retries (a `403` waits for an operator to grant the scope),
//! it never imports an agent it could not check.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use wfo_domain::Secret;

use crate::ids::people_rest_id;
use crate::{WebexCallingClient, WebexError, professional_license_ids};

/// Scopes the check needs (the same admin reads as the user sync).
pub const REQUIRED_SCOPES: &[&str] = crate::users::REQUIRED_SCOPES;

/// How long a verdict (and the license list) is reused.
pub const VERDICT_TTL: Duration = Duration::from_secs(10 * 60);
/// Verdicts kept at most (oldest dropped first), so memory stays bounded.
const MAX_VERDICTS: usize = 50_000;

/// Why an agent is not imported; `None` when they are.
pub type Verdict = Option<String>;

/// The per-source cache of verdicts.
#[derive(Default)]
pub struct Eligibility {
    verdicts: Mutex<HashMap<String, (Instant, Verdict)>>,
    licenses: Mutex<Option<(Instant, Vec<String>)>>,
}

impl Eligibility {
    /// The verdict on one agent (canonical UUID), from the cache or asked now.
    pub async fn check(&self, client: &WebexCallingClient, token: &Secret, agent: &str) -> Result<Verdict, WebexError> {
        if let Some((at, v)) = self.verdicts.lock().await.get(agent)
            && at.elapsed() < VERDICT_TTL
        {
            return Ok(v.clone());
        }
        let verdict = self.ask(client, token, agent).await?;
        let mut map = self.verdicts.lock().await;
        if map.len() >= MAX_VERDICTS {
            map.retain(|_, (at, _)| at.elapsed() < VERDICT_TTL);
            if map.len() >= MAX_VERDICTS {
                map.clear();
            }
        }
        map.insert(agent.to_owned(), (Instant::now(), verdict.clone()));
        Ok(verdict)
    }

    async fn professional(&self, client: &WebexCallingClient, token: &Secret) -> Result<Vec<String>, WebexError> {
        let mut slot = self.licenses.lock().await;
        if let Some((at, ids)) = slot.as_ref()
            && at.elapsed() < VERDICT_TTL
        {
            return Ok(ids.clone());
        }
        let ids = professional_license_ids(&client.list_licenses(token).await?);
        *slot = Some((Instant::now(), ids.clone()));
        Ok(ids)
    }

    async fn ask(&self, client: &WebexCallingClient, token: &Secret, agent: &str) -> Result<Verdict, WebexError> {
        let rest_id = people_rest_id(agent);
        let Some(person) = client.get_person(token, &rest_id).await? else {
            return Ok(Some("not a person of the org (deleted, or a workspace)".to_owned()));
        };
        let professional = self.professional(client, token).await?;
        if !person.licenses.iter().any(|l| professional.contains(l)) {
            return Ok(Some("no Webex Calling Professional license".to_owned()));
        }
        let setting = client.person_call_recording(token, &rest_id).await?;
        if !setting.records() {
            return Ok(Some("call recording is off for this user".to_owned()));
        }
        Ok(None)
    }
}
