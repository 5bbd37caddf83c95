//! Prints one scenario's 1.0 session as `wfo-connect segment --kind webex-cc-1` reads it
//! (`{"csr", "cars"}`), built from the 2.0 scenario with fixed agents, start and draw, so
//! the fixtures under `fixtures/webex-cc-1/` can be written again:
//!
//! ```text
//! cargo run -p wfo-sim-wxcc1 --example session_file -- consult-transfer \
//!     > fixtures/webex-cc-1/consult-transfer/session.json
//! ```

use rand::SeedableRng;
use wfo_sim_wxcc::{Scenario, ScenarioAgent, ScenarioIds};
use wfo_sim_wxcc1::Session;

/// The fixtures' start: 2026-01-01T10:00:00Z.
const T0_MS: i64 = 1_767_261_600_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "consult-transfer".to_owned());
    let scenario = Scenario::from_name(&name)?;
    let agents = [
        ScenarioAgent {
            ci_user_id: "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            name: "Arno Braun".to_owned(),
        },
        ScenarioAgent {
            ci_user_id: "7b2e1d3f-4c5e-4f60-9bac-1d2e3f4a5b6c".to_owned(),
            name: "Helen Hodges".to_owned(),
        },
    ];
    let base = chrono::DateTime::from_timestamp_millis(T0_MS).ok_or("T0 out of range")?;
    let mut task = wfo_sim_wxcc::scenario::build(
        scenario,
        base,
        &agents,
        &ScenarioIds::default(),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )?;
    task.id = format!("fixture-{name}");
    let session = Session::from_task(&task, "sim-tenant-1");
    println!("{}", serde_json::to_string_pretty(&session.session_file())?);
    for c in wfo_sim_wxcc::expected_contacts(scenario, &task) {
        eprintln!(
            "expected: agent {} from T0+{} ms for {} ms",
            c.agent_ci_id,
            c.start_ms - T0_MS,
            c.duration_ms
        );
    }
    Ok(())
}
