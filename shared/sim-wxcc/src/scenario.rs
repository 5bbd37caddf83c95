//! The scenario player: builds complete tasks (CSR fields, CAR nodes, captures) for the
//! call shapes the connector must segment, laid out exactly as the working assumption of
//! reference §2.4 reads them, and a seeded generator of many such tasks.
//!
//! Every inbound voice scenario starts the same way (ms after the base time): `new`
//! 0–200, `ivr-connected` 200–8 000 (entry point), `parked` 8 000–20 000 (queue),
//! `connect` (agent A ringing, not on the call) 20 000–26 000, then agent A's `connected`
//! from 26 000, when the `main` capture starts (a `recording-started` node marks it). The
//! call ends at 206 000 unless said otherwise; each agent's `WrapUp` (30 s, not on the
//! call) follows when they leave; an `ended` node closes the task, whose `endedTime` is
//! the end of the last node. The main capture runs from A's answer to the call's end.
//! Per scenario, with the contacts §2.4 derives from it ([`expected_contacts`] states
//! the same from the layout's numbers):
//! - `basic-inbound`: A `connected` 26 000–206 000 → A 26 000–206 000.
//! - `hold`: A `connected` to 86 000, `on-hold` 86 000–116 000, `hold-done` at 116 000,
//!   `connected` 116 000–206 000 → one A contact with HOLD 86 000 / RETRIEVE 116 000.
//! - `pause-resume`: A `connected` 26 000–206 000, `paused` 86 000–101 000, `resumed` at
//!   101 000 → one A contact with PAUSE 86 000 / RESUME 101 000; the capture is silent
//!   while paused.
//! - `blind-transfer`: A `connected` to 96 000, `blind-transfer` (destination B)
//!   96 000–96 003, B `connect` 96 003–101 000, B `connected` 101 000–206 000
//!   → A 26 000–96 000, B 101 000–206 000; the main capture splits at 96 003.
//! - `consult-transfer`: A `connected` to 66 000, `consult` (→B) 66 000–68 000,
//!   `on-hold` 68 000–101 000, `consulting` (→B) 72 000–101 000, `ConsultTransfer` (→B)
//!   101 000–101 003, B `connected` 101 003–206 000 → A 26 000–101 000 (HOLD 68 000),
//!   B 72 000–206 000 (main audio: B stays past the consult); a `consult` capture
//!   72 000–101 000 (A and B); the main capture splits at 101 003.
//! - `conference`: as consult up to `consulting` 72 000–86 000, `Conference` (→B)
//!   86 000–86 002, `conferencing` (→B) 86 002–146 000, `conference-done` at 146 000, A
//!   `connected` 146 000–206 000 → A 26 000–206 000 (HOLD 68 000), B 72 000–146 000
//!   (main audio); consult capture 72 000–86 000.
//! - `transfer-back`: as `consult-transfer` up to B `connected` 101 003–146 000, then B
//!   `blind-transfer` (→A) 146 000–146 003, A `connect` 146 003–151 000, A `connected`
//!   151 000–206 000 → A 26 000–101 000 (HOLD 68 000), B 72 000–146 000 (main audio),
//!   A 151 000–206 000; consult capture 72 000–101 000; the main capture splits at
//!   101 003 and 146 003.
//! - `outbound` (agent outdial, `direction: outdial`): `new` 0–100, A `connect` 100–8 000,
//!   A `connected` 8 000–128 000 → A 8 000–128 000.
//! - `abandoned`: `new`, `ivr-connected`, `parked` 8 000–48 000, `ended`; no agent,
//!   `captureRequested: false`, no capture → no contact.
//! - `not-recorded`: `basic-inbound` without `recording-started`, `captureRequested:
//!   false`, no capture → A 26 000–206 000 without audio.
//! - `chat` (`channelType: chat`): `new` 0–500, `parked` 500–5 000, A `connected`
//!   5 000–185 000, `captureRequested: false`, no capture → A 5 000–185 000, a digital
//!   contact without audio.
//! - `guide-consult` (the WFO guide's consultation, fixture `guide-consult`): A
//!   `connected` to 66 000, `consult` (→B) 66 000–68 000, `on-hold` and `consulting` (→B)
//!   68 000–110 000, `hold-done` at 110 000, A `connected` 110 000–167 000 → A
//!   26 000–167 000 = 2:21 (HOLD 68 000 / RETRIEVE 110 000), B 68 000–110 000 = 0:42 with
//!   the consult capture 68 000–110 000's audio; main capture 26 000–167 000.
//! - `guide-transfer` (fixture `guide-transfer`): A `connected` to 70 000,
//!   `blind-transfer` (→B) 70 000–70 003, B `connect` 70 003–75 000, B `connected`
//!   75 000–149 000 → A 26 000–70 000 = 0:44, B 75 000–149 000 = 1:14; main capture
//!   26 000–149 000 split at 70 003.
//! - `guide-conference` (fixture `guide-conference`): A `connected` to 56 000, `consult`
//!   (→B) 56 000–58 000, `on-hold` 58 000–76 000, `consulting` (→B) 60 000–76 000,
//!   `Conference` (→B) 76 000–76 002, `conferencing` (→B) 76 002–120 000,
//!   `conference-done` at 120 000, A `connected` 120 000–155 000 → A 26 000–155 000 =
//!   2:09 (HOLD 58 000), B 60 000–120 000 = 1:00 (main audio); main capture
//!   26 000–155 000, consult capture 60 000–76 000.
//!
//! Every scenario ends (last wrap-up included) within 236 s, so [`generate_tasks`] draws
//! among all of them, the guide ones, `chat` and `not-recorded` included.
//!
//! UNCONFIRMED choices: the timings; ringing as `connect` nodes; the `transferType`
//! strings `Blind Transfer` / `Consult Transfer`; `WrapUp` after leaving; the task ending
//! after the last wrap-up; consult capture file names `consult-N.wav`; the masked
//! customer number in `participants`; agent session/channel ids derived from the CI id;
//! a chat's origin (a customer e-mail address) and destination (`chat-entry-point`).
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
        "unknown scenario {0:?}; known: basic-inbound, hold, pause-resume, blind-transfer, consult-transfer, conference, transfer-back, outbound, abandoned, not-recorded, chat, guide-consult, guide-transfer, guide-conference"
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
    /// A → B by consult transfer, later B → A by blind transfer.
    TransferBack,
    /// `basic-inbound` with `captureRequested: false` and no capture.
    NotRecorded,
    /// A digital task (`channelType: chat`) without capture.
    Chat,
    /// The WFO guide's consultation example (2:21 and 0:42).
    GuideConsult,
    /// The WFO guide's transfer example (0:44 and 1:14).
    GuideTransfer,
    /// The WFO guide's conference example (2:09 and 1:00).
    GuideConference,
}

impl Scenario {
    pub const ALL: [Scenario; 14] = [
        Scenario::BasicInbound,
        Scenario::Hold,
        Scenario::PauseResume,
        Scenario::BlindTransfer,
        Scenario::ConsultTransfer,
        Scenario::Conference,
        Scenario::Outbound,
        Scenario::Abandoned,
        Scenario::TransferBack,
        Scenario::NotRecorded,
        Scenario::Chat,
        Scenario::GuideConsult,
        Scenario::GuideTransfer,
        Scenario::GuideConference,
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
            Scenario::TransferBack => "transfer-back",
            Scenario::NotRecorded => "not-recorded",
            Scenario::Chat => "chat",
            Scenario::GuideConsult => "guide-consult",
            Scenario::GuideTransfer => "guide-transfer",
            Scenario::GuideConference => "guide-conference",
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
        match self.layout() {
            Layout::Abandoned { .. } => 0,
            Layout::Single { .. } => 1,
            Layout::Blind { .. }
            | Layout::ConsultTransfer { .. }
            | Layout::ConsultOnly { .. }
            | Layout::Conference { .. } => 2,
        }
    }

    /// Whether the task is recorded (`captureRequested: true`, a main capture).
    fn recorded(self) -> bool {
        !matches!(self, Scenario::Abandoned | Scenario::NotRecorded | Scenario::Chat)
    }

    /// When each step of the scenario happens: the builder lays nodes and captures out
    /// from these numbers, and [`expected_contacts`] states the contacts from them.
    fn layout(self) -> Layout {
        let single = |hold, pause| Layout::Single {
            answer: ANSWER,
            end: CALL_END,
            hold,
            pause,
        };
        // The consult the built-in consult-transfer, conference and transfer-back share.
        let consult = ConsultSpan {
            request: 66_000,
            hold: 68_000,
            answer: 72_000,
            until: 101_000,
        };
        match self {
            Scenario::BasicInbound | Scenario::NotRecorded => single(None, None),
            Scenario::Hold => single(Some((86_000, 116_000)), None),
            Scenario::PauseResume => single(None, Some((86_000, 101_000))),
            Scenario::Outbound => Layout::Single {
                answer: OUTDIAL_ANSWER,
                end: 128_000,
                hold: None,
                pause: None,
            },
            Scenario::Chat => Layout::Single {
                answer: CHAT_ANSWER,
                end: 185_000,
                hold: None,
                pause: None,
            },
            Scenario::Abandoned => Layout::Abandoned { parked_until: 48_000 },
            Scenario::BlindTransfer => Layout::Blind {
                transfer: 96_000,
                b_answer: 101_000,
                end: CALL_END,
            },
            Scenario::ConsultTransfer => Layout::ConsultTransfer {
                consult,
                back: None,
                end: CALL_END,
            },
            Scenario::TransferBack => Layout::ConsultTransfer {
                consult,
                back: Some((146_000, 151_000)),
                end: CALL_END,
            },
            Scenario::Conference => Layout::Conference {
                consult: ConsultSpan {
                    until: 86_000,
                    ..consult
                },
                left: 146_000,
                end: CALL_END,
            },
            // The guide fixtures' shapes (`fixtures/webex-cc-2/tools/gen.py`).
            Scenario::GuideConsult => Layout::ConsultOnly {
                consult: ConsultSpan {
                    request: 66_000,
                    hold: 68_000,
                    answer: 68_000,
                    until: 110_000,
                },
                end: 167_000,
            },
            Scenario::GuideTransfer => Layout::Blind {
                transfer: 70_000,
                b_answer: 75_000,
                end: 149_000,
            },
            Scenario::GuideConference => Layout::Conference {
                consult: ConsultSpan {
                    request: 56_000,
                    hold: 58_000,
                    answer: 60_000,
                    until: 76_000,
                },
                left: 120_000,
                end: 155_000,
            },
        }
    }
}

/// Inbound voice: `parked` ends and A's `connect` (ringing) starts here.
const OFFER: i64 = 20_000;
/// Inbound voice: A's `connected` starts here, and the main capture with it.
const ANSWER: i64 = 26_000;
/// Inbound voice: when the call ends unless the layout says otherwise.
const CALL_END: i64 = 206_000;
/// Outdial: A answers (the customer picks up) here.
const OUTDIAL_ANSWER: i64 = 8_000;
/// Chat: A's `connected` starts here.
const CHAT_ANSWER: i64 = 5_000;
/// Each agent's `WrapUp` after leaving.
const WRAP: i64 = 30_000;
/// How long a transfer node lasts; the next agent's node starts at its end.
const HANDOVER: i64 = 3;
/// How long the `Conference` request lasts before `conferencing`.
const CONFERENCE_REQUEST: i64 = 2;

/// A consult A asks of B: `consult` (→B) `request`–`hold`, A `on-hold` `hold`–`until`,
/// `consulting` (→B, B on the call) `answer`–`until`; the consult capture is
/// `answer`–`until`.
#[derive(Debug, Clone, Copy)]
struct ConsultSpan {
    request: i64,
    hold: i64,
    answer: i64,
    until: i64,
}

/// A scenario's timing, ms after the base time. A multi-agent voice call starts like
/// every inbound call (A answers at [`ANSWER`]).
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `new`, `ivr-connected`, `parked` until `parked_until`; nobody answers.
    Abandoned { parked_until: i64 },
    /// A alone from `answer` to `end`; `hold`: `on-hold` over the span, `hold-done` at its
    /// end; `pause`: `paused` over the span, `resumed` at its end.
    Single {
        answer: i64,
        end: i64,
        hold: Option<(i64, i64)>,
        pause: Option<(i64, i64)>,
    },
    /// A until `transfer` (`blind-transfer` →B), B rings until `b_answer`, then to `end`.
    Blind { transfer: i64, b_answer: i64, end: i64 },
    /// A consults B and hands the call over at `consult.until` (`ConsultTransfer`); B to
    /// `end`, or with `back: (t, a)` B blind-transfers back to A at `t`, A answering at
    /// `a` and staying to `end`.
    ConsultTransfer {
        consult: ConsultSpan,
        back: Option<(i64, i64)>,
        end: i64,
    },
    /// A consults B, takes the customer back at `consult.until` (`hold-done`), A to `end`.
    ConsultOnly { consult: ConsultSpan, end: i64 },
    /// A consults B and joins the customer at `consult.until` (`Conference`); B leaves at
    /// `left` (`conference-done`), A stays to `end`.
    Conference { consult: ConsultSpan, left: i64, end: i64 },
}

impl Layout {
    /// The main capture's span and where it splits into segments (hand-overs).
    fn main_capture(self) -> Option<((i64, i64), Vec<i64>)> {
        match self {
            Layout::Abandoned { .. } => None,
            Layout::Single { answer, end, .. } => Some(((answer, end), Vec::new())),
            Layout::Blind { transfer, end, .. } => Some(((ANSWER, end), vec![transfer + HANDOVER])),
            Layout::ConsultTransfer { consult, back, end } => {
                let mut splits = vec![consult.until + HANDOVER];
                splits.extend(back.map(|(t, _)| t + HANDOVER));
                Some(((ANSWER, end), splits))
            }
            Layout::ConsultOnly { end, .. } | Layout::Conference { end, .. } => Some(((ANSWER, end), Vec::new())),
        }
    }

    /// The consult capture's span.
    fn consult_capture(self) -> Option<(i64, i64)> {
        match self {
            Layout::ConsultTransfer { consult, .. }
            | Layout::ConsultOnly { consult, .. }
            | Layout::Conference { consult, .. } => Some((consult.answer, consult.until)),
            _ => None,
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

    /// An agent node that carries the queue (the call came through it).
    fn queued(&mut self, event: &str, from: i64, to: i64, agent: &AgentRef) {
        let queue = self.queue();
        self.node(event, from, to, Some(agent)).queue = Some(queue);
    }

    /// A node of `agent` aimed at `dest`, with an optional `transferType`.
    fn toward(&mut self, event: &str, from: i64, to: i64, agent: &AgentRef, dest: &AgentRef, transfer: Option<&str>) {
        let n = self.node(event, from, to, Some(agent));
        n.destination_agent = Some(dest.clone());
        n.transfer_type = transfer.map(str::to_owned);
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

    /// The start every voice call with agents shares, up to A's answer: the inbound
    /// prefix and A ringing, or an outdial's `new` and A's `connect`; the
    /// `recording-started` marker when recorded.
    fn answered_prefix(&mut self, scenario: Scenario, answer: i64, a: &AgentRef) {
        match scenario {
            Scenario::Outbound => {
                self.node("new", 0, 100, None).entrypoint = Some(entry_point());
                self.node("connect", 100, answer, Some(a));
            }
            Scenario::Chat => {
                self.node("new", 0, 500, None).entrypoint = Some(entry_point());
                let queue = self.queue();
                let n = self.node("parked", 500, answer, None);
                n.queue = Some(queue);
                n.entrypoint = Some(entry_point());
            }
            _ => {
                self.inbound_prefix(OFFER);
                self.queued("connect", OFFER, answer, a);
            }
        }
        if scenario.recorded() {
            self.node("recording-started", answer, answer, None);
        }
    }

    /// A `connected` until the consult, `consult` (→B), `on-hold`, `consulting` (→B).
    fn consult(&mut self, c: ConsultSpan, a: &AgentRef, b: &AgentRef) {
        self.queued("connected", ANSWER, c.request, a);
        self.toward("consult", c.request, c.hold, a, b, None);
        self.node("on-hold", c.hold, c.until, Some(a));
        self.toward("consulting", c.answer, c.until, a, b, None);
    }

    /// `connected` of an agent whose node carries the queue only for queued calls.
    fn connected(&mut self, scenario: Scenario, from: i64, to: i64, agent: &AgentRef) {
        if scenario == Scenario::Outbound {
            self.node("connected", from, to, Some(agent));
        } else {
            self.queued("connected", from, to, agent);
        }
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

fn agent_ref(a: &ScenarioAgent, channel: &str) -> AgentRef {
    AgentRef {
        id: a.ci_user_id.clone(),
        name: a.name.clone(),
        session_id: derived_id(&a.ci_user_id, "agent-session"),
        channel_id: derived_id(&a.ci_user_id, &format!("{channel}-channel")),
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
    let not_enough = |got| ScenarioError::NotEnoughAgents {
        scenario: scenario.name(),
        needed,
        got,
    };
    if agents.len() < needed {
        return Err(not_enough(agents.len()));
    }
    let task_id = random_uuid(rng);
    let customer = format!("+1408555{:04}", rng.random_range(0..10_000u32));
    let masked = format!("{}******{}", &customer[..5], &customer[customer.len() - 2..]);
    let dnis = "+18005550100".to_owned();
    let chat = scenario == Scenario::Chat;
    let channel = if chat { "chat" } else { "telephony" };
    let a = agents.first().map(|x| agent_ref(x, channel));
    let b = agents.get(1).map(|x| agent_ref(x, channel));
    let mut bld = Builder {
        task_id: &task_id,
        base,
        ids,
        nodes: Vec::new(),
    };
    let layout = scenario.layout();
    // Last agent assigned, and the one before.
    let (owner, previous) = match (layout, &a, &b) {
        (Layout::Abandoned { parked_until }, _, _) => {
            bld.inbound_prefix(parked_until);
            (None, None)
        }
        (
            Layout::Single {
                answer,
                end,
                hold,
                pause,
            },
            Some(a_ref),
            _,
        ) => {
            bld.answered_prefix(scenario, answer, a_ref);
            if let Some((on, done)) = hold {
                bld.connected(scenario, answer, on, a_ref);
                bld.node("on-hold", on, done, Some(a_ref));
                bld.node("hold-done", done, done, Some(a_ref));
                bld.connected(scenario, done, end, a_ref);
            } else {
                bld.connected(scenario, answer, end, a_ref);
            }
            if let Some((p, r)) = pause {
                bld.node("paused", p, r, Some(a_ref));
                bld.node("resumed", r, r, Some(a_ref));
            }
            bld.node("WrapUp", end, end + WRAP, Some(a_ref));
            (a.clone(), None)
        }
        (
            Layout::Blind {
                transfer,
                b_answer,
                end,
            },
            Some(a_ref),
            Some(b_ref),
        ) => {
            bld.answered_prefix(scenario, ANSWER, a_ref);
            let gone = transfer + HANDOVER;
            bld.queued("connected", ANSWER, transfer, a_ref);
            bld.toward("blind-transfer", transfer, gone, a_ref, b_ref, Some("Blind Transfer"));
            bld.node("WrapUp", gone, gone + WRAP, Some(a_ref));
            bld.queued("connect", gone, b_answer, b_ref);
            bld.queued("connected", b_answer, end, b_ref);
            bld.node("WrapUp", end, end + WRAP, Some(b_ref));
            (b.clone(), a.clone())
        }
        (Layout::ConsultTransfer { consult, back, end }, Some(a_ref), Some(b_ref)) => {
            bld.answered_prefix(scenario, ANSWER, a_ref);
            bld.consult(consult, a_ref, b_ref);
            let gone = consult.until + HANDOVER;
            bld.toward(
                "ConsultTransfer",
                consult.until,
                gone,
                a_ref,
                b_ref,
                Some("Consult Transfer"),
            );
            bld.node("WrapUp", gone, gone + WRAP, Some(a_ref));
            match back {
                None => {
                    bld.queued("connected", gone, end, b_ref);
                    bld.node("WrapUp", end, end + WRAP, Some(b_ref));
                    (b.clone(), a.clone())
                }
                Some((t, a_again)) => {
                    let b_gone = t + HANDOVER;
                    bld.queued("connected", gone, t, b_ref);
                    bld.toward("blind-transfer", t, b_gone, b_ref, a_ref, Some("Blind Transfer"));
                    bld.node("WrapUp", b_gone, b_gone + WRAP, Some(b_ref));
                    bld.queued("connect", b_gone, a_again, a_ref);
                    bld.queued("connected", a_again, end, a_ref);
                    bld.node("WrapUp", end, end + WRAP, Some(a_ref));
                    (a.clone(), b.clone())
                }
            }
        }
        (Layout::ConsultOnly { consult, end }, Some(a_ref), Some(b_ref)) => {
            bld.answered_prefix(scenario, ANSWER, a_ref);
            bld.consult(consult, a_ref, b_ref);
            bld.node("hold-done", consult.until, consult.until, Some(a_ref));
            bld.queued("connected", consult.until, end, a_ref);
            bld.node("WrapUp", end, end + WRAP, Some(a_ref));
            (a.clone(), None)
        }
        (Layout::Conference { consult, left, end }, Some(a_ref), Some(b_ref)) => {
            bld.answered_prefix(scenario, ANSWER, a_ref);
            bld.consult(consult, a_ref, b_ref);
            let joined = consult.until + CONFERENCE_REQUEST;
            bld.toward("Conference", consult.until, joined, a_ref, b_ref, None);
            bld.toward("conferencing", joined, left, a_ref, b_ref, None);
            bld.node("conference-done", left, left, Some(a_ref));
            bld.node("WrapUp", left, left + WRAP, Some(b_ref));
            bld.queued("connected", left, end, a_ref);
            bld.node("WrapUp", end, end + WRAP, Some(a_ref));
            (a.clone(), None)
        }
        // Unreachable: the agent count was checked above.
        _ => return Err(not_enough(agents.len())),
    };
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
    let main = layout.main_capture().filter(|_| scenario.recorded());
    if let Some(((start, stop), splits)) = main {
        let mut participants = on_call.clone();
        participants.push(masked.clone());
        let paused = match layout {
            Layout::Single {
                pause: Some((x, y)), ..
            } => vec![(at(x), at(y))],
            _ => Vec::new(),
        };
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
            segment_starts: splits.into_iter().map(at).collect(),
            paused,
        });
    }
    if let Some((start, stop)) = layout.consult_capture().filter(|_| scenario.recorded()) {
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
    let (origin, destination) = if outdial {
        (dnis, customer)
    } else if chat {
        // The same draw as a caller's number, so the rng sequence is the same.
        (
            format!("customer{}@example.com", &customer[customer.len() - 4..]),
            "chat-entry-point".to_owned(),
        )
    } else {
        (customer, dnis)
    };
    Ok(SimTask {
        id: task_id.clone(),
        created_time: base,
        ended_time: last,
        channel_type: channel.to_owned(),
        channel_sub_type: None,
        direction: if outdial { "outdial" } else { "inbound" }.to_owned(),
        origin,
        destination,
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
        capture_requested: Some(scenario.recorded()),
        activities: nodes,
        recordings,
        scenario: Some(scenario),
    })
}

/// A contact the §2.4 rules should make of a scenario's task, stated from the scenario's
/// layout (the numbers the builder lays nodes out with), not by running a segmenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedContact {
    /// CI user id of the agent.
    pub agent_ci_id: String,
    /// Epoch ms.
    pub start_ms: i64,
    pub duration_ms: i64,
    /// Whether the contact gets a capture's audio (`captureRequested: true`, voice).
    pub has_audio: bool,
    /// Whether its audio comes from the consult capture rather than the main one.
    pub consult_capture: bool,
    /// `HOLD`, `RETRIEVE`, `PAUSE`, `RESUME` markers with their epoch ms, in time order.
    pub events: Vec<(String, i64)>,
}

/// What `task`, built by [`build`] from `scenario`, should become: its contacts ordered
/// by start, end, agent. Agent A is the first agent the task's nodes name, B the other
/// one. A task whose nodes lack an agent the scenario needs (not built from `scenario`)
/// gives no contacts.
pub fn expected_contacts(scenario: Scenario, task: &SimTask) -> Vec<ExpectedContact> {
    let base = task.created_time.timestamp_millis();
    let mut agents: Vec<&str> = Vec::with_capacity(2);
    for n in &task.activities {
        for who in [&n.agent, &n.destination_agent].into_iter().flatten() {
            if !agents.contains(&who.id.as_str()) {
                agents.push(&who.id);
            }
        }
    }
    if agents.len() < scenario.agents_needed() {
        return Vec::new();
    }
    let audio = scenario.recorded();
    // (agent index, start, end, audio from the consult capture, markers), ms after base.
    type Spec = (usize, i64, i64, bool, Vec<(&'static str, i64)>);
    let specs: Vec<Spec> = match scenario.layout() {
        Layout::Abandoned { .. } => Vec::new(),
        Layout::Single {
            answer,
            end,
            hold,
            pause,
        } => {
            let mut events = Vec::new();
            if let Some((on, done)) = hold {
                events.extend([("HOLD", on), ("RETRIEVE", done)]);
            }
            if let Some((p, r)) = pause {
                events.extend([("PAUSE", p), ("RESUME", r)]);
            }
            vec![(0, answer, end, false, events)]
        }
        // Each agent their own part: A until the transfer, B from their answer.
        Layout::Blind {
            transfer,
            b_answer,
            end,
        } => vec![
            (0, ANSWER, transfer, false, Vec::new()),
            (1, b_answer, end, false, Vec::new()),
        ],
        // A until the hand-over (held from the consult on, never retrieved); B from
        // answering the consult until the end or the transfer back, past the consult, so
        // with the main capture's audio; A again from answering the transfer back.
        Layout::ConsultTransfer { consult, back, end } => {
            let b_end = back.map_or(end, |(t, _)| t);
            let mut v = vec![
                (0, ANSWER, consult.until, false, vec![("HOLD", consult.hold)]),
                (1, consult.answer, b_end, false, Vec::new()),
            ];
            if let Some((_, a_again)) = back {
                v.push((0, a_again, end, false, Vec::new()));
            }
            v
        }
        // A the whole call, held during the consult; B the consult only, which the
        // consult capture covers exactly.
        Layout::ConsultOnly { consult, end } => vec![
            (
                0,
                ANSWER,
                end,
                false,
                vec![("HOLD", consult.hold), ("RETRIEVE", consult.until)],
            ),
            (1, consult.answer, consult.until, true, Vec::new()),
        ],
        // A the whole call (held from the consult, joining without a retrieve); B from
        // answering the consult until leaving the conference (the 2 ms request between
        // consulting and conferencing is under the merge gap), past the consult capture.
        Layout::Conference { consult, left, end } => vec![
            (0, ANSWER, end, false, vec![("HOLD", consult.hold)]),
            (1, consult.answer, left, false, Vec::new()),
        ],
    };
    let mut out: Vec<ExpectedContact> = specs
        .into_iter()
        .filter_map(|(who, start, end, consult, events)| {
            Some(ExpectedContact {
                agent_ci_id: (*agents.get(who)?).to_owned(),
                start_ms: base + start,
                duration_ms: end - start,
                has_audio: audio,
                consult_capture: audio && consult,
                events: events.into_iter().map(|(k, t)| (k.to_owned(), base + t)).collect(),
            })
        })
        .collect();
    out.sort_by(|x, y| {
        (x.start_ms, x.start_ms + x.duration_ms, &x.agent_ci_id).cmp(&(
            y.start_ms,
            y.start_ms + y.duration_ms,
            &y.agent_ci_id,
        ))
    });
    out
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
    // The longest scenarios last 236 s (see the module doc).
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
