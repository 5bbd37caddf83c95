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
//! busy connector asks about each agent a few times an hour at most; items of one agent
//! that start together ask once (the others wait for that answer). A failed check is
//! not a verdict: the item retries (a `403` waits for an operator to grant the scope),
//! it never imports an agent it could not check.

use std::collections::HashMap;
use std::sync::Arc;
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

/// One agent's verdict, once asked; its lock is held while it is being asked.
type Slot = Arc<Mutex<Option<(Instant, Verdict)>>>;

/// The per-source cache of verdicts.
#[derive(Default)]
pub struct Eligibility {
    verdicts: std::sync::Mutex<HashMap<String, Slot>>,
    licenses: Mutex<Option<(Instant, Vec<String>)>>,
}

impl Eligibility {
    /// The verdict on one agent (canonical UUID), from the cache or asked now: one
    /// question per agent at a time, so the items of a new agent that start together
    /// wait for the first one's answer instead of each asking (a failed question leaves
    /// no verdict, and the next waiter asks again).
    pub async fn check(&self, client: &WebexCallingClient, token: &Secret, agent: &str) -> Result<Verdict, WebexError> {
        let slot = self.slot(agent);
        let mut held = slot.lock().await;
        if let Some((at, v)) = held.as_ref()
            && at.elapsed() < VERDICT_TTL
        {
            return Ok(v.clone());
        }
        let verdict = self.ask(client, token, agent).await?;
        *held = Some((Instant::now(), verdict.clone()));
        Ok(verdict)
    }

    /// The agent's slot, made when there is none. At [`MAX_VERDICTS`] the slots nobody
    /// uses whose verdict is stale (or was never given) go first, then every slot nobody
    /// uses: memory stays bounded, and no question in flight loses its waiters.
    fn slot(&self, agent: &str) -> Slot {
        let mut map = self.verdicts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = map.get(agent) {
            return slot.clone();
        }
        if map.len() >= MAX_VERDICTS {
            map.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .is_ok_and(|v| v.as_ref().is_some_and(|(at, _)| at.elapsed() < VERDICT_TTL))
            });
            if map.len() >= MAX_VERDICTS {
                map.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
        }
        map.entry(agent.to_owned()).or_default().clone()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const AGENT: &str = "7a2d9e44-1c3b-4f58-a6e0-2b9c8d7e6f22";

    #[tokio::test]
    async fn items_of_one_agent_that_start_together_ask_once() {
        let server = MockServer::start().await;
        let rest = people_rest_id(AGENT);
        let slow = |body: serde_json::Value| {
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(Duration::from_millis(150))
        };
        Mock::given(method("GET"))
            .and(path("/v1/licenses"))
            .respond_with(slow(
                json!({"items": [{"id": "LIC-PRO", "name": "Webex Calling - Professional"}]}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/people/{rest}")))
            .respond_with(slow(
                json!({"id": rest, "emails": ["ann@example.com"], "licenses": ["LIC-PRO"]}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/people/{rest}/features/callRecording")))
            .respond_with(slow(json!({"enabled": true, "record": "Always"})))
            .expect(1)
            .mount(&server)
            .await;
        let client = WebexCallingClient::new(
            reqwest::Client::new(),
            url::Url::parse(&server.uri()).unwrap(),
            crate::RetryPolicy::fast(),
        );
        let token = Secret::new("t");
        let eligibility = Eligibility::default();
        let checks = (0..10).map(|_| eligibility.check(&client, &token, AGENT));
        let verdicts = futures::future::join_all(checks).await;
        assert!(verdicts.iter().all(|v| matches!(v, Ok(None))), "{verdicts:?}");
        // Later, from the cache.
        assert_eq!(eligibility.check(&client, &token, AGENT).await.unwrap(), None);
        server.verify().await;
    }
}
