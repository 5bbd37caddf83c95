//! The scenario player: builds complete tasks (CSR fields, CAR nodes, captures) for the
//! call shapes the connector must segment, laid out exactly as the working assumption of
//! reference §2.4 reads them, and a seeded generator of many such tasks.
//!
//! Every inbound scenario starts the same way (ms after the base time): `new` 0–200,
//! `ivr-connected` 200–8 000 (entry point), `parked` 8 000–20 000 (queue), `connect`
//! (agent A ringing, not on the call) 20 000–26 000, then agent A's `connected` from
//! 26 000, when the `main` capture starts (a `recording-started` node marks it). The
//! call ends at 206 000; each agent's `WrapUp` (30 s, not on the call) follows when they
//! leave; an `ended` node closes the task, whose `endedTime` is the end of the last node.
//! Per scenario, with the contacts §2.4 derives from it:
//! - `basic-inbound`: A `connected` 26 000–206 000 → A 26 000–206 000.
//! - `hold`: A `connected` to 86 000, `on-hold` 86 000–116 000, `hold-done` at 116 000,
//!   `connected` 116 000–206 000 → one A contact with HOLD 86 000 / RETRIEVE 116 000.
//! - `pause-resume`: A `connected` 26 000–206 000, `paused` 86 000–101 000, `resumed` at
//!   101 000 → one A contact with PAUSE/RESUME; the capture is silent while paused.
//! - `blind-transfer`: A `connected` to 96 000, `blind-transfer` (destination B)
//!   96 000–96 003, B `connect` 96 003–101 000, B `connected` 101 000–206 000
//!   → A 26 000–96 000, B 101 000–206 000; the main capture splits at 96 003.
//! - `consult-transfer`: A `connected` to 66 000, `consult` (→B) 66 000–68 000,
//!   `on-hold` 68 000–101 000, `consulting` (→B) 72 000–101 000, `ConsultTransfer` (→B)
//!   101 000–101 003, B `connected` 101 003–206 000 → A 26 000–101 000, B 72 000–206 000;
//!   a `consult` capture 72 000–101 000 (A and B); the main capture splits at 101 003.
//! - `conference`: as consult up to `consulting` 72 000–86 000, `Conference` (→B)
//!   86 000–86 002, `conferencing` (→B) 86 002–146 000, `conference-done` at 146 000, A
//!   `connected` 146 000–206 000 → A 26 000–206 000, B 72 000–146 000; consult capture
//!   72 000–86 000.
//! - `outbound` (agent outdial, `direction: outdial`): `new` 0–100, A `connect` 100–8 000,
//!   A `connected` 8 000–128 000 → A 8 000–128 000.
//! - `abandoned`: `new`, `ivr-connected`, `parked` 8 000–48 000, `ended`; no agent,
//!   `captureRequested: false`, no capture.
//!
//! UNCONFIRMED choices: the timings; ringing as `connect` nodes; the `transferType`
//! strings `Blind Transfer` / `Consult Transfer`; `WrapUp` after leaving; the task ending
//! after the last wrap-up; consult capture file names `consult-N.wav`; the masked
//! customer number in `participants`; agent session/channel ids derived from the CI id.
//! No scenario has two stitched `main` captures: the reference only lets several `main`
//! entries appear as segments (`includeSegments: true`), which the transfer scenarios
//! produce.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::captures::derived_id;
use crate::tasks::{AgentRef, CallType, NamedRef, SimActivity, SimRecording, SimTask, TaskPlane};

/// An agent a scenario may put on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioAgent {
    /// CI user id (what CAR `agentId` carries).
    pub ci_user_id: String,
    pub name: String,
}

/// Queue and team the scenario's calls go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioIds {
    pub queue_id: String,
    pub queue_name: String,
    pub team_id: String,
    pub team_name: String,
}

impl Default for ScenarioIds {
    fn default() -> Self {
        ScenarioIds {
            queue_id: "5b2a6c3e-0d1f-4e8a-9b7c-1a2b3c4d5e60".to_owned(),
            queue_name: "Q_Sim_Main".to_owned(),
            team_id: "8c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e20".to_owned(),
            team_name: "Team_Sim".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    #[error(
        "unknown scenario {0:?}; known: basic-inbound, hold, pause-resume, blind-transfer, consult-transfer, conference, outbound, abandoned"
    )]
    Unknown(String),
    #[error("scenario {scenario} needs {needed} agents, got {got}")]
    NotEnoughAgents {
        scenario: &'static str,
        needed: usize,
        got: usize,
    },
}

/// The call shapes the player knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    BasicInbound,
    Hold,
    PauseResume,
    BlindTransfer,
    ConsultTransfer,
    Conference,
    Outbound,
    Abandoned,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::BasicInbound,
        Scenario::Hold,
        Scenario::PauseResume,
        Scenario::BlindTransfer,
        Scenario::ConsultTransfer,
        Scenario::Conference,
        Scenario::Outbound,
        Scenario::Abandoned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::BasicInbound => "basic-inbound",
            Scenario::Hold => "hold",
            Scenario::PauseResume => "pause-resume",
            Scenario::BlindTransfer => "blind-transfer",
            Scenario::ConsultTransfer => "consult-transfer",
            Scenario::Conference => "conference",
            Scenario::Outbound => "outbound",
            Scenario::Abandoned => "abandoned",
        }
    }

    pub fn from_name(name: &str) -> Result<Scenario, ScenarioError> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| ScenarioError::Unknown(name.to_owned()))
    }

    /// Distinct agents the scenario puts on the call.
    pub fn agents_needed(self) -> usize {
        match self {
            Scenario::Abandoned => 0,
            Scenario::BlindTransfer | Scenario::ConsultTransfer | Scenario::Conference => 2,
            _ => 1,
        }
    }
}

/// Accumulates the nodes of one task.
struct Builder<'a> {
    task_id: &'a str,
    base: DateTime<Utc>,
    ids: &'a ScenarioIds,
    nodes: Vec<SimActivity>,
}

impl Builder<'_> {
    fn at(&self, ms: i64) -> DateTime<Utc> {
        self.base + Duration::milliseconds(ms)
    }

    fn node(&mut self, event: &str, from: i64, to: i64, agent: Option<&AgentRef>) -> &mut SimActivity {
        let created = self.at(from);
        self.nodes.push(SimActivity {
            id: format!("{}-{}-{}", self.task_id, created.timestamp_millis(), event),
            event_name: event.to_owned(),
            created_time: created,
            ended_time: self.at(to),
            agent: agent.cloned(),
            team: agent.map(|_| NamedRef {
                id: self.ids.team_id.clone(),
                name: self.ids.team_name.clone(),
            }),
            site: agent.map(|_| site()),
            queue: None,
            entrypoint: None,
            transfer_type: None,
            destination_agent: None,
            destination_queue: None,
            previous_state: None,
            next_state: None,
            child_contact_id: None,
            child_contact_type: None,
            termination_reason: None,
        });
        let i = self.nodes.len() - 1;
        &mut self.nodes[i]
    }

    fn queue(&self) -> NamedRef {
        NamedRef {
            id: self.ids.queue_id.clone(),
            name: self.ids.queue_name.clone(),
        }
    }

    /// `new`, `ivr-connected`, `parked` until `parked_until`.
    fn inbound_prefix(&mut self, parked_until: i64) {
        self.node("new", 0, 200, None).entrypoint = Some(entry_point());
        self.node("ivr-connected", 200, 8_000, None).entrypoint = Some(entry_point());
        let queue = self.queue();
        let n = self.node("parked", 8_000, parked_until, None);
        n.queue = Some(queue);
        n.entrypoint = Some(entry_point());
    }
}

fn site() -> NamedRef {
    NamedRef {
        id: "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a50".to_owned(),
        name: "Site_Sim".to_owned(),
    }
}

fn entry_point() -> NamedRef {
    NamedRef {
        id: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c60".to_owned(),
        name: "EP_Sim_Main".to_owned(),
    }
}

fn agent_ref(a: &ScenarioAgent) -> AgentRef {
    AgentRef {
        id: a.ci_user_id.clone(),
        name: a.name.clone(),
        session_id: derived_id(&a.ci_user_id, "agent-session"),
        channel_id: derived_id(&a.ci_user_id, "telephony-channel"),
        phone_number: None,
    }
}

fn random_uuid(rng: &mut impl Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

/// Builds one task of `scenario` starting at `base`, agents taken in order from `agents`.
pub fn build(
    scenario: Scenario,
    base: DateTime<Utc>,
    agents: &[ScenarioAgent],
    ids: &ScenarioIds,
    rng: &mut impl Rng,
) -> Result<SimTask, ScenarioError> {
    let needed = scenario.agents_needed();
    if agents.len() < needed {
        return Err(ScenarioError::NotEnoughAgents {
            scenario: scenario.name(),
            needed,
            got: agents.len(),
        });
    }
    let task_id = random_uuid(rng);
    let customer = format!("+1408555{:04}", rng.random_range(0..10_000u32));
    let masked = format!("{}******{}", &customer[..5], &customer[customer.len() - 2..]);
    let dnis = "+18005550100".to_owned();
    let a = agents.first().map(agent_ref);
    let b = agents.get(1).map(agent_ref);
    let mut bld = Builder {
        task_id: &task_id,
        base,
        ids,
        nodes: Vec::new(),
    };
    // (main capture span, consult capture span, hand-over, paused span)
    let mut main: Option<(i64, i64)> = None;
    let mut consult: Option<(i64, i64)> = None;
    let mut handover: Option<i64> = None;
    let mut paused: Option<(i64, i64)> = None;
    let mut owner = a.clone();
    let mut previous = None;
    let wrap = 30_000;

    let dest = |n: &mut SimActivity, who: &Option<AgentRef>| n.destination_agent = who.clone();
    match (scenario, &a, &b) {
        (Scenario::Abandoned, _, _) => {
            bld.inbound_prefix(48_000);
            owner = None;
        }
        (Scenario::Outbound, Some(a_ref), _) => {
            bld.node("new", 0, 100, None).entrypoint = Some(entry_point());
            bld.node("connect", 100, 8_000, Some(a_ref));
            bld.node("recording-started", 8_000, 8_000, None);
            bld.node("connected", 8_000, 128_000, Some(a_ref));
            bld.node("WrapUp", 128_000, 128_000 + wrap, Some(a_ref));
            main = Some((8_000, 128_000));
        }
        (_, Some(a_ref), _) => {
            bld.inbound_prefix(20_000);
            let queue = bld.queue();
            bld.node("connect", 20_000, 26_000, Some(a_ref)).queue = Some(queue.clone());
            bld.node("recording-started", 26_000, 26_000, None);
            main = Some((26_000, 206_000));
            match (scenario, &b) {
                (Scenario::Hold, _) => {
                    bld.node("connected", 26_000, 86_000, Some(a_ref)).queue = Some(queue.clone());
                    bld.node("on-hold", 86_000, 116_000, Some(a_ref));
                    bld.node("hold-done", 116_000, 116_000, Some(a_ref));
                    bld.node("connected", 116_000, 206_000, Some(a_ref)).queue = Some(queue);
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(a_ref));
                }
                (Scenario::PauseResume, _) => {
                    bld.node("connected", 26_000, 206_000, Some(a_ref)).queue = Some(queue);
                    bld.node("paused", 86_000, 101_000, Some(a_ref));
                    bld.node("resumed", 101_000, 101_000, Some(a_ref));
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(a_ref));
                    paused = Some((86_000, 101_000));
                }
                (Scenario::BlindTransfer, Some(b_ref)) => {
                    bld.node("connected", 26_000, 96_000, Some(a_ref)).queue = Some(queue.clone());
                    let n = bld.node("blind-transfer", 96_000, 96_003, Some(a_ref));
                    dest(n, &b);
                    n.transfer_type = Some("Blind Transfer".to_owned());
                    bld.node("WrapUp", 96_003, 96_003 + wrap, Some(a_ref));
                    bld.node("connect", 96_003, 101_000, Some(b_ref)).queue = Some(queue.clone());
                    bld.node("connected", 101_000, 206_000, Some(b_ref)).queue = Some(queue);
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(b_ref));
                    handover = Some(96_003);
                    owner = b.clone();
                    previous = a.clone();
                }
                (Scenario::ConsultTransfer, Some(b_ref)) => {
                    bld.node("connected", 26_000, 66_000, Some(a_ref)).queue = Some(queue.clone());
                    dest(bld.node("consult", 66_000, 68_000, Some(a_ref)), &b);
                    bld.node("on-hold", 68_000, 101_000, Some(a_ref));
                    dest(bld.node("consulting", 72_000, 101_000, Some(a_ref)), &b);
                    let n = bld.node("ConsultTransfer", 101_000, 101_003, Some(a_ref));
                    dest(n, &b);
                    n.transfer_type = Some("Consult Transfer".to_owned());
                    bld.node("WrapUp", 101_003, 101_003 + wrap, Some(a_ref));
                    bld.node("connected", 101_003, 206_000, Some(b_ref)).queue = Some(queue);
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(b_ref));
                    consult = Some((72_000, 101_000));
                    handover = Some(101_003);
                    owner = b.clone();
                    previous = a.clone();
                }
                (Scenario::Conference, Some(b_ref)) => {
                    bld.node("connected", 26_000, 66_000, Some(a_ref)).queue = Some(queue.clone());
                    dest(bld.node("consult", 66_000, 68_000, Some(a_ref)), &b);
                    bld.node("on-hold", 68_000, 86_000, Some(a_ref));
                    dest(bld.node("consulting", 72_000, 86_000, Some(a_ref)), &b);
                    dest(bld.node("Conference", 86_000, 86_002, Some(a_ref)), &b);
                    dest(bld.node("conferencing", 86_002, 146_000, Some(a_ref)), &b);
                    bld.node("conference-done", 146_000, 146_000, Some(a_ref));
                    bld.node("WrapUp", 146_000, 146_000 + wrap, Some(b_ref));
                    bld.node("connected", 146_000, 206_000, Some(a_ref)).queue = Some(queue);
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(a_ref));
                    consult = Some((72_000, 86_000));
                }
                _ => {
                    bld.node("connected", 26_000, 206_000, Some(a_ref)).queue = Some(queue);
                    bld.node("WrapUp", 206_000, 206_000 + wrap, Some(a_ref));
                }
            }
        }
        (_, None, _) => {
            return Err(ScenarioError::NotEnoughAgents {
                scenario: scenario.name(),
                needed,
                got: 0,
            });
        }
    }
    let last = bld.nodes.iter().map(|n| n.ended_time).max().unwrap_or(base);
    let last_ms = (last - base).num_milliseconds();
    bld.node("ended", last_ms, last_ms, None);
    let mut nodes = std::mem::take(&mut bld.nodes);
    nodes.sort_by_key(|n| n.created_time);

    let on_call: Vec<String> = [&a, &b]
        .into_iter()
        .flatten()
        .filter(|r| nodes.iter().any(|n| n.agent.as_ref().is_some_and(|x| x.id == r.id)))
        .map(|r| r.id.clone())
        .collect();
    let at = |ms: i64| base + Duration::milliseconds(ms);
    let mut recordings = Vec::new();
    if let Some((start, stop)) = main {
        let mut participants = on_call.clone();
        participants.push(masked.clone());
        recordings.push(SimRecording {
            id: random_uuid(rng),
            call_type: CallType::Main,
            start_time: at(start),
            stop_time: at(stop),
            participants,
            channel1: "Caller".to_owned(),
            channel2: Some("Agent".to_owned()),
            file_name: "combinedRecordings.wav".to_owned(),
            sensitive: false,
            segment_starts: handover.map(at).into_iter().collect(),
            paused: paused.map(|(x, y)| (at(x), at(y))).into_iter().collect(),
        });
    }
    if let Some((start, stop)) = consult {
        recordings.push(SimRecording {
            id: random_uuid(rng),
            call_type: CallType::Consult,
            start_time: at(start),
            stop_time: at(stop),
            participants: on_call.clone(),
            channel1: "Agent".to_owned(),
            channel2: Some("Agent".to_owned()),
            file_name: "consult-1.wav".to_owned(),
            sensitive: false,
            segment_starts: Vec::new(),
            paused: Vec::new(),
        });
    }
    let abandoned = scenario == Scenario::Abandoned;
    let outdial = scenario == Scenario::Outbound;
    Ok(SimTask {
        id: task_id.clone(),
        created_time: base,
        ended_time: last,
        channel_type: "telephony".to_owned(),
        channel_sub_type: None,
        direction: if outdial { "outdial" } else { "inbound" }.to_owned(),
        origin: if outdial { dnis.clone() } else { customer.clone() },
        destination: if outdial { customer } else { dnis },
        status: if abandoned { "abandoned" } else { "completed" }.to_owned(),
        termination_type: Some(if abandoned { "abandoned" } else { "normal" }.to_owned()),
        terminating_end: Some(if abandoned { "customer" } else { "agent" }.to_owned()),
        contact_handle_type: Some(if abandoned { "abandoned" } else { "normal" }.to_owned()),
        owner,
        previous_agent: previous,
        last_queue: (!outdial).then(|| NamedRef {
            id: ids.queue_id.clone(),
            name: ids.queue_name.clone(),
        }),
        first_queue: (!outdial).then(|| NamedRef {
            id: ids.queue_id.clone(),
            name: ids.queue_name.clone(),
        }),
        last_team: (!abandoned).then(|| NamedRef {
            id: ids.team_id.clone(),
            name: ids.team_name.clone(),
        }),
        last_site: (!abandoned).then(site),
        last_entry_point: Some(entry_point()),
        last_wrapup_code_name: (!abandoned).then(|| "Resolved".to_owned()),
        customer_name: None,
        capture_requested: Some(!abandoned),
        activities: nodes,
        recordings,
    })
}

/// `n` tasks spread over `window` (each starts and ends inside it when the window is
/// long enough), scenarios drawn by `seed` among those the agents allow. Same inputs,
/// same tasks.
pub fn generate_tasks(
    n: usize,
    window: (DateTime<Utc>, DateTime<Utc>),
    agents: &[ScenarioAgent],
    seed: u64,
) -> Vec<SimTask> {
    let mut rng = StdRng::seed_from_u64(seed);
    let ids = ScenarioIds::default();
    let usable: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| s.agents_needed() <= agents.len())
        .collect();
    // The longest scenario lasts 236 s.
    let room = ((window.1 - window.0).num_milliseconds() - 240_000).max(1);
    let mut out = Vec::with_capacity(n.min(1_000_000));
    for _ in 0..n {
        let scenario = usable[rng.random_range(0..usable.len())];
        let base = window.0 + Duration::milliseconds(rng.random_range(0..room));
        let mut picked = Vec::with_capacity(2);
        if !agents.is_empty() {
            let first = rng.random_range(0..agents.len());
            picked.push(agents[first].clone());
            if agents.len() > 1 {
                let second = (first + 1 + rng.random_range(0..agents.len() - 1)) % agents.len();
                picked.push(agents[second].clone());
            }
        }
        // Cannot fail: only scenarios the agents allow are drawn.
        if let Ok(task) = build(scenario, base, &picked, &ids, &mut rng) {
            out.push(task);
        }
    }
    out
}

impl TaskPlane {
    /// Plays `scenario` (by name) from `base`: the task is inserted (searchable once its
    /// time comes) and its `task:ended` / `capture:available` events follow on schedule.
    pub fn play(
        &self,
        scenario: &str,
        base: DateTime<Utc>,
        agents: &[ScenarioAgent],
        ids: &ScenarioIds,
    ) -> Result<SimTask, ScenarioError> {
        let scenario = Scenario::from_name(scenario)?;
        let seed: u64 = self.inner.lock().rng.random();
        let task = build(scenario, base, agents, ids, &mut StdRng::seed_from_u64(seed))?;
        self.insert_task(task.clone());
        Ok(task)
    }
}
