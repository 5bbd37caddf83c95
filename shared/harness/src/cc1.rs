//! A Contact Center 1.0 org beside the harness's others: the 1.0 simulator, its
//! auxiliary-data users, teams and queues, and a `webex-cc-1` connector stored the way an
//! operator adds one (a TOML document with the API key; no authorization step). 1.0 sends
//! no webhooks: its sessions reach the connector through the poller, their audio through
//! the pipeline's audio wait.
//!
//! The 1.0 simulator plays the 2.0 simulator's scenarios ([`wfo_sim_wxcc::SimTask`]
//! converted to sessions), so one task can be played into both versions
//! ([`play_in_both`]) and what WFO gets from each compared.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wfo_domain::config::ConnectorConfig;
use wfo_sim_wxcc::{Scenario, ScenarioAgent, ScenarioIds, SimTask};
use wfo_sim_wxcc1::{AuxItem, AuxResource, RunningWxcc1Sim, Wxcc1Sim, Wxcc1SimConfig};

use wfo_pipeline::ports::ConnectorStore;

use crate::{ContactCenter, Harness, HarnessError, WFO_PASSWORD, WFO_USER, start_err};

pub const CC1_CONNECTOR_ID: &str = "demo-contact-center-1";
pub const CC1_ACD_SERVER_ID: i64 = 5;

/// What a Contact Center 1.0 org holds: its agents (their aux-data user `id` is their CI
/// user id, which CARs carry as `agentId`), and how many teams and queues around them
/// (the scenarios' default team and queue among them).
#[derive(Debug, Clone)]
pub struct Cc1Org {
    pub agents: Vec<ScenarioAgent>,
    pub teams: usize,
    pub queues: usize,
}

/// `n` agents with names and CI user ids, the same for the same `seed` (the 2.0
/// simulator's synthetic org generator; nameless users left out).
pub fn synthetic_agents(n: usize, seed: u64) -> Vec<ScenarioAgent> {
    // A few generated users are nameless; generate enough to have `n` with names.
    let (users, _, _) = wfo_sim_wxcc::directory::synthetic(&wfo_sim_wxcc::SyntheticOrg {
        users: n + n / 20 + 2,
        teams: 0,
        queues: 0,
        seed,
    });
    users
        .into_iter()
        .filter_map(|u| {
            Some(ScenarioAgent {
                name: format!("{} {}", u.first_name?, u.last_name?),
                ci_user_id: u.ci_user_id,
            })
        })
        .take(n)
        .collect()
}

/// A Contact Center 1.0 org wired to the harness's runtime and WFO.
pub struct ContactCenter1 {
    pub sim: RunningWxcc1Sim,
    pub connector: ConnectorConfig,
    agents: Vec<ScenarioAgent>,
    /// The 2.0 tasks the sessions were converted from, by session id: what
    /// [`Harness::check_session`] states the expected contacts from.
    played: Mutex<BTreeMap<String, SimTask>>,
}

impl ContactCenter1 {
    /// The first `n` agents of the org, for scenarios to put on calls.
    pub fn agents(&self, n: usize) -> Vec<ScenarioAgent> {
        self.agents.iter().take(n).cloned().collect()
    }

    /// Adds the 1.0 session of a 2.0 task (listed once it ended, its recording ready the
    /// simulator's capture delay later). Returns the session id (the task id).
    pub fn insert_task(&self, task: &SimTask) -> String {
        let session = self.sim.insert_task(task);
        self.played
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(session.csr.sid.clone(), task.clone());
        session.csr.sid
    }

    /// Play `scenario` from `base` with the given agents. Returns the session id.
    pub fn play(&self, scenario: &str, base: DateTime<Utc>, agents: &[ScenarioAgent]) -> Result<String, HarnessError> {
        use rand::SeedableRng;
        let kind = Scenario::from_name(scenario).map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
        let task = wfo_sim_wxcc::scenario::build(
            kind,
            base,
            agents,
            &ScenarioIds::default(),
            &mut rand::rngs::StdRng::seed_from_u64(rand::random()),
        )
        .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
        Ok(self.insert_task(&task))
    }

    /// [`ContactCenter1::play`] timed so the session *ends* at `ended` (its recording is
    /// then ready at `ended` + the simulator's capture delay), without moving the
    /// simulator's clock away from real time.
    pub fn play_ending_at(
        &self,
        scenario: &str,
        ended: DateTime<Utc>,
        agents: &[ScenarioAgent],
    ) -> Result<String, HarnessError> {
        let length = scenario_length(scenario, agents)?;
        self.play(scenario, ended - length, agents)
    }

    /// Recordings become ready this long after their session ended.
    pub fn set_capture_delay(&self, delay: Duration) {
        self.sim.set_capture_delay(delay);
    }

    /// The 2.0 task session `sid` was converted from.
    pub fn task(&self, sid: &str) -> Option<SimTask> {
        self.played
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sid)
            .cloned()
    }
}

/// How long `scenario` lasts (it does not depend on the random draw).
fn scenario_length(scenario: &str, agents: &[ScenarioAgent]) -> Result<chrono::Duration, HarnessError> {
    use rand::SeedableRng;
    let kind = Scenario::from_name(scenario).map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
    let probe = wfo_sim_wxcc::scenario::build(
        kind,
        Utc::now(),
        agents,
        &ScenarioIds::default(),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .map_err(|e| HarnessError::Scenario(format!("{scenario}: {e}")))?;
    Ok(probe.ended_time - probe.created_time)
}

/// One task of `scenario` from `base`, played into both versions: the 2.0 simulator's
/// task plane (Search, captures, deliveries) and the 1.0 simulator (the same task as a
/// session, same id). The agents must be users of both orgs.
pub fn play_in_both(
    cc: &ContactCenter,
    cc1: &ContactCenter1,
    scenario: Scenario,
    base: DateTime<Utc>,
    agents: &[ScenarioAgent],
    seed: u64,
) -> Result<SimTask, HarnessError> {
    use rand::SeedableRng;
    let plane = cc
        .sim
        .tasks()
        .ok_or_else(|| HarnessError::Scenario("the 2.0 simulator serves no task plane".to_owned()))?;
    let task = wfo_sim_wxcc::scenario::build(
        scenario,
        base,
        agents,
        &ScenarioIds::default(),
        &mut rand::rngs::StdRng::seed_from_u64(seed),
    )
    .map_err(|e| HarnessError::Scenario(format!("{}: {e}", scenario.name())))?;
    plane.insert_task(task.clone());
    cc1.insert_task(&task);
    Ok(task)
}

/// [`play_in_both`] timed so the task ends at `ended`.
pub fn play_in_both_ending_at(
    cc: &ContactCenter,
    cc1: &ContactCenter1,
    scenario: Scenario,
    ended: DateTime<Utc>,
    agents: &[ScenarioAgent],
    seed: u64,
) -> Result<SimTask, HarnessError> {
    let length = scenario_length(scenario.name(), agents)?;
    play_in_both(cc, cc1, scenario, ended - length, agents, seed)
}

impl Harness {
    /// Start a Contact Center 1.0 simulator holding `org` (users, teams, queues in its
    /// auxiliary data) and store a `webex-cc-1` connector for it, as an operator adds
    /// one: API key, tenant and API user in the TOML, no webhook, digital contacts on.
    /// The runtime syncs it and polls its sessions from then on.
    pub async fn add_contact_center_1(&self, org: &Cc1Org) -> Result<ContactCenter1, HarnessError> {
        let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.map_err(start_err)?;
        let ids = ScenarioIds::default();
        let mut team_ids = vec![ids.team_id.clone()];
        sim.upsert_aux(AuxResource::Team, AuxItem::named(&ids.team_id, &ids.team_name, true));
        for i in 1..org.teams {
            let id = format!("cc1-team-{i:03}");
            sim.upsert_aux(
                AuxResource::Team,
                AuxItem::named(&id, &format!("Team {:03}", i + 1), true),
            );
            team_ids.push(id);
        }
        if org.queues > 0 {
            sim.upsert_aux(
                AuxResource::VirtualTeam,
                AuxItem::named(&ids.queue_id, &ids.queue_name, true),
            );
        }
        for i in 1..org.queues {
            sim.upsert_aux(
                AuxResource::VirtualTeam,
                AuxItem::named(&format!("cc1-queue-{i:03}"), &format!("Queue {:03}", i + 1), true),
            );
        }
        for (i, a) in org.agents.iter().enumerate() {
            let (first, last) = a.name.split_once(' ').unwrap_or((a.name.as_str(), ""));
            let team = (org.teams > 0).then(|| team_ids[i % team_ids.len()].as_str());
            // A login that is not an e-mail: the same people may be persons of a 2.0 org
            // in the same WFO, and an e-mail is one person's.
            let login = format!("agent{:03}", i + 1);
            sim.upsert_aux(
                AuxResource::User,
                AuxItem::user(&a.ci_user_id, &login, first, last, team, true),
            );
        }
        let creds = sim.credentials();
        let connector = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CC1_CONNECTOR_ID}"
acd_name = "Demo Contact Center 1.0"
kind = "webex-cc-1"
acd_server_id = {CC1_ACD_SERVER_ID}

[source]
api_url = "{api}"
media_api_url = "{media}"
tenant_id = "{tenant}"
username = "{username}"
api_key = "{key}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[features]
webhook = false
qm_digital = true

[sync]
interval_minutes = 10

[language]
fallback = "en-US"
"#,
            api = sim.base_url(),
            media = sim.media_url(),
            tenant = creds.tenant_id,
            username = creds.username,
            key = creds.api_key,
            wfo = self.wfo.base_url(),
        ))
        .map_err(start_err)?;
        self.store
            .put_connector(&connector, Utc::now())
            .await
            .map_err(start_err)?;
        Ok(ContactCenter1 {
            sim,
            connector,
            agents: org.agents.clone(),
            played: Mutex::new(BTreeMap::new()),
        })
    }

    /// What WFO holds for Contact Center 1.0 session `sid` against what its scenario
    /// should become ([`wfo_sim_wxcc::expected_contacts`] of the 2.0 task it was played
    /// from): each contact's agent, start, duration, assocCallId and audio — the mono WAV
    /// of its own span, to the sample frame — or none when the session has none. Returns
    /// the differences (empty when everything matches).
    pub fn check_session(&self, cc1: &ContactCenter1, scenario: Scenario, sid: &str) -> Vec<String> {
        let Some(task) = cc1.task(sid) else {
            return vec![format!("{} {sid}: not a session the harness played", scenario.name())];
        };
        let want = wfo_sim_wxcc::expected_contacts(scenario, &task);
        let got = self.received_of(wfo_webex_cc1::WEBEX_CC1_EXTERNAL_ID_PREFIX, &[sid.to_owned()]);
        crate::compare_contacts(scenario.name(), sid, got, &want, wfo_sim_wxcc1::media::FRAME_BYTES)
    }
}

impl Harness {
    /// Waits until every Contact Center 1.0 session is imported: done, or — a session
    /// whose scenario has no recording the media API would ever serve (a 1.0 CSR does not
    /// say whether a call was recorded, so its audio is awaited until the wait gives up a
    /// day later) — its contacts in WFO and the item waiting for audio. Returns the
    /// sessions that are not.
    pub async fn wait_sessions(
        &self,
        cc1: &ContactCenter1,
        sessions: &[(Scenario, String)],
        timeout: Duration,
    ) -> Vec<String> {
        use wfo_domain::ledger::{Health, Stage};
        use wfo_pipeline::ports::Ledger;
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let mut pending = Vec::new();
            for (scenario, sid) in sessions {
                let silent = cc1.task(sid).is_some_and(|t| {
                    wfo_sim_wxcc::expected_contacts(*scenario, &t)
                        .iter()
                        .all(|c| !c.has_audio)
                });
                let ok = match self.store.get(&cc1.connector.id, sid).await {
                    Ok(Some(i)) if i.stage == Stage::Done => true,
                    Ok(Some(i)) if silent => {
                        i.stage == Stage::ContactsImported && i.health != Health::Dead && i.audio_wait.is_some()
                    }
                    _ => false,
                };
                if !ok {
                    pending.push(format!("{} {sid}", scenario.name()));
                }
            }
            if pending.is_empty() || tokio::time::Instant::now() >= until {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
