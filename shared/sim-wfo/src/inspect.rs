//! Read-only inspection (`/sim/state`, `/sim/table`) and runtime control of faults and
//! sessions (`/sim/faults`, `/sim/sessions/expire`). No session needed, never faulted.

use std::fmt::Write as _;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Serialize;
use wfo_domain::wfo::{MetadataKey, Person, Queue, Role, Team};

use crate::api::{ApiError, JsonBody};
use crate::state::{Db, DuplicateAgent, DuplicateExternalId, DuplicateQueue, SimContact, SimStats};
use crate::{Faults, SimHandle};

pub(crate) fn router() -> Router<SimHandle> {
    Router::new()
        .route("/sim/state", get(state))
        .route("/sim/table", get(table))
        .route("/sim/faults", get(get_faults).post(set_faults))
        .route("/sim/sessions/expire", post(expire_sessions))
}

/// The `/sim/state` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SimState {
    persons: Vec<Person>,
    teams: Vec<Team>,
    queues: Vec<Queue>,
    roles: Vec<Role>,
    metadata_keys: Vec<MetadataKey>,
    contacts: Vec<SimContact>,
    requests: SimStats,
    live_sessions: usize,
    duplicate_agents: Vec<DuplicateAgent>,
    duplicate_external_ids: Vec<DuplicateExternalId>,
    duplicate_queues: Vec<DuplicateQueue>,
}

async fn state(State(sim): State<SimHandle>) -> Json<SimState> {
    let requests = sim.stats();
    let live_sessions = sim.0.sessions().len();
    let db = sim.0.db();
    Json(SimState {
        persons: db.persons.values().cloned().collect(),
        teams: db.teams.values().cloned().collect(),
        queues: db.queues.values().cloned().collect(),
        roles: db.roles.clone(),
        metadata_keys: db.metadata_keys.clone(),
        contacts: db.contacts.values().map(|c| c.to_sim()).collect(),
        requests,
        live_sessions,
        duplicate_agents: db.duplicate_agents(),
        duplicate_external_ids: db.duplicate_external_ids(),
        duplicate_queues: db.duplicate_queues(),
    })
}

async fn table(State(sim): State<SimHandle>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        sim.render_table(),
    )
}

async fn get_faults(State(sim): State<SimHandle>) -> Json<Faults> {
    Json(sim.faults())
}

async fn set_faults(
    State(sim): State<SimHandle>,
    JsonBody(faults): JsonBody<Faults>,
) -> Result<Json<Faults>, ApiError> {
    faults.validate().map_err(ApiError::bad_request)?;
    sim.0.fault_state().set(faults);
    Ok(Json(sim.faults()))
}

async fn expire_sessions(State(sim): State<SimHandle>) -> Json<serde_json::Value> {
    let expired = sim.expire_sessions();
    Json(serde_json::json!({ "expired": expired }))
}

fn agent_of(acd_server_id: Option<i64>, acd_id: Option<&str>) -> String {
    match (acd_server_id, acd_id) {
        (Some(server), Some(id)) => format!("{server}/{id}"),
        _ => "-".to_owned(),
    }
}

/// The human view: teams, persons, contacts with their audio state.
pub(crate) fn render_table(db: &Db) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "TEAMS ({})", db.teams.len());
    let _ = writeln!(
        out,
        "  {:<8} {:<28} {:<8} {:<24} READ-ONLY",
        "ID", "NAME", "DEFAULT", "ACD"
    );
    for t in db.teams.values() {
        let _ = writeln!(
            out,
            "  {:<8} {:<28} {:<8} {:<24} {}",
            t.id,
            t.name,
            if t.is_default { "yes" } else { "no" },
            agent_of(t.acd_server_id, t.acd_id.as_deref()),
            if t.read_only { "yes" } else { "no" }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "QUEUES ({})", db.queues.len());
    let _ = writeln!(
        out,
        "  {:<8} {:<28} {:<10} {:<24} STATUS",
        "ID", "NAME", "CHANNEL", "ACD"
    );
    for q in db.queues.values() {
        let _ = writeln!(
            out,
            "  {:<8} {:<28} {:<10} {:<24} {}",
            q.id,
            q.name,
            format!("{:?}", q.channel_type).to_uppercase(),
            agent_of(Some(q.acd_server_id), Some(&q.acd_id)),
            if q.active { "active" } else { "inactive" }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "PERSONS ({})", db.persons.len());
    let _ = writeln!(
        out,
        "  {:<8} {:<28} {:<8} {:<24} {:<20} STATUS",
        "ID", "NAME", "TEAM", "ACD", "ROLES"
    );
    for p in db.persons.values() {
        let roles: Vec<&str> = p.input.roles.iter().map(|r| r.name.as_str()).collect();
        let roles = if roles.is_empty() {
            "-".to_owned()
        } else {
            roles.join(",")
        };
        let _ = writeln!(
            out,
            "  {:<8} {:<28} {:<8} {:<24} {:<20} {}",
            p.id,
            p.input.display_name,
            p.input.group_id,
            agent_of(p.input.acd_server_id, p.input.acd_id.as_deref()),
            roles,
            if p.input.deactivated.is_some() {
                "deactivated"
            } else {
                "active"
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "CONTACTS ({})", db.contacts.len());
    let _ = writeln!(
        out,
        "  {:<8} {:<32} {:<24} {:<15} {:<10} AUDIO",
        "ID", "EXTERNAL ID", "AGENT", "START (ms)", "DUR (ms)"
    );
    for c in db.contacts.values() {
        let audio = match &c.audio {
            None => "File not yet uploaded".to_owned(),
            Some(a) => format!("uploaded, {} bytes, {}, sha256 {}", a.bytes, a.content_type, a.sha256),
        };
        let i = &c.import;
        let _ = writeln!(
            out,
            "  {:<8} {:<32} {:<24} {:<15} {:<10} {}",
            c.id,
            i.external_id,
            agent_of(Some(i.agent.acd_server_id), Some(&i.agent.acd_id)),
            i.start_time,
            i.call_duration,
            audio
        );
    }
    for d in db.duplicate_agents() {
        let _ = writeln!(
            out,
            "WARNING: agent {}/{} has {} persons: {:?}",
            d.acd_server_id,
            d.acd_id,
            d.person_ids.len(),
            d.person_ids
        );
    }
    for d in db.duplicate_queues() {
        let _ = writeln!(
            out,
            "WARNING: queue {}/{} exists {} times: {:?}",
            d.acd_server_id,
            d.acd_id,
            d.queue_ids.len(),
            d.queue_ids
        );
    }
    for d in db.duplicate_external_ids() {
        let _ = writeln!(
            out,
            "WARNING: externalId {} was imported {} times: {:?}",
            d.external_id,
            d.contact_ids.len(),
            d.contact_ids
        );
    }
    out
}
