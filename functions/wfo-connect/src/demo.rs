//! `wfo-connect demo`: the simulators on loopback, the connector against them, every
//! complex-call scenario played, and what arrived in WFO printed and checked against the
//! segmentation rules.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use wfo_harness::{Harness, HarnessConfig};

use crate::Failure;

fn hms(ms: i64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}.{:03}", s / 60, s % 60, ms % 1000)
}

fn clock(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_default()
}

pub async fn run(keep_state: Option<PathBuf>) -> Result<(), Failure> {
    let temp;
    let state_dir = match keep_state {
        Some(dir) => dir,
        None => {
            temp = std::env::temp_dir().join(format!("wfo-connect-demo-{}", std::process::id()));
            temp.clone()
        }
    };
    let started = Instant::now();
    println!("wfo-connect demo — Webex Calling and Webex Contact Center 2.0 → WFO, everything on loopback");
    let harness = Harness::start(HarnessConfig::new(state_dir.clone()))
        .await
        .map_err(Failure::job)?;
    println!("  WFO simulator        {}", harness.wfo.base_url());
    println!("  Webex simulator      {}", harness.webex.base_url());
    println!(
        "  connector runtime    {}  (state in {})",
        harness.runtime.public_url,
        state_dir.display()
    );
    let result = match play(&harness).await {
        Ok(()) => contact_center(&harness).await,
        Err(e) => Err(e),
    };
    harness.shutdown().await;
    if !std::env::args().any(|a| a == "--keep-state") {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    println!("finished in {:.1} s", started.elapsed().as_secs_f64());
    result
}

async fn play(h: &Harness) -> Result<(), Failure> {
    println!();
    println!("1. Operator opens the connector's Authorization URL:");
    let hops = h.authorize().await.map_err(Failure::job)?;
    for (i, hop) in hops.iter().enumerate() {
        let shown = hop.split('?').next().unwrap_or(hop);
        println!("   {} {shown}", if i == 0 { "open" } else { "  →" });
    }
    println!("   tokens stored (encrypted); connector authorized");
    if h.wait_for_webhook(Duration::from_secs(10)).await {
        println!(
            "   webhook registered with Webex: convergedRecordings/created → {}/webhooks/{}",
            h.runtime.public_url, h.connector.id
        );
    } else {
        return Err(Failure::job("the webhook was not registered within 10 s"));
    }

    match h.wait_for_sync(Duration::from_secs(15)).await {
        Some(st) => {
            let c = &st.last_run.counts;
            println!(
                "   user sync: {} Webex Calling Professional users with recording on; WFO persons created {}, updated {}, unchanged {}; {} get theirs with their first recording (the guide's rule)",
                st.last_run.candidates, c.created, c.updated, c.unchanged, c.awaiting_first_recording
            );
        }
        None => return Err(Failure::job("the first user sync did not finish within 15 s")),
    }

    println!();
    println!("2. Webex records one call per scenario; webhooks fire, the worker imports:");
    let names = h.scenario_names();
    let base = Utc::now() - chrono::Duration::hours(1);
    let mut instances = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let inst = h
            .instantiate(name, base + chrono::Duration::minutes(7 * i as i64))
            .map_err(Failure::job)?;
        instances.push(inst);
    }
    h.webex.publish_all(&instances).await;
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    println!("   {} calls, {} recordings published", instances.len(), ids.len());
    let pending = h.wait_settled(&ids, Duration::from_secs(120)).await;
    if !pending.is_empty() {
        return Err(Failure::job(format!(
            "{} recordings did not finish within 120 s: {pending:?}",
            pending.len()
        )));
    }

    println!();
    println!("3. What WFO received:");
    let mut all_ok = true;
    let mut total = 0;
    for inst in &instances {
        let received = h.received(&inst.recording_ids());
        let problems = h.check(inst);
        total += received.len();
        println!();
        println!(
            "   {}  ({} recording{}, {} contact{})",
            inst.scenario,
            inst.recordings.len(),
            if inst.recordings.len() == 1 { "" } else { "s" },
            received.len(),
            if received.len() == 1 { "" } else { "s" }
        );
        for r in &received {
            let events = if r.events.is_empty() {
                String::new()
            } else {
                format!("  events {}", r.events.len())
            };
            println!(
                "     {:<18} start {}  dur {:>9}  {:<8}  assoc {}  audio {:>7} B{events}",
                r.agent_name,
                clock(r.start_time),
                hms(r.duration_ms),
                r.direction,
                &r.assoc_call_id[..r.assoc_call_id.len().min(8)],
                r.audio_bytes.map(|b| b.to_string()).unwrap_or_else(|| "none".into()),
            );
        }
        if problems.is_empty() {
            println!("     ✓ matches the segmentation rules");
        } else {
            all_ok = false;
            for p in problems {
                println!("     ✗ {p}");
            }
        }
    }
    println!();
    println!(
        "{} contacts in WFO for {} calls; persons created: {}",
        total,
        instances.len(),
        h.wfo.persons().len()
    );
    if all_ok {
        Ok(())
    } else {
        Err(Failure::job("some scenarios did not match their expected contacts"))
    }
}

/// Users, teams and queues of the Contact Center org in the demo (a small tenant).
const CC_USERS: usize = 40;
const CC_TEAMS: usize = 5;
const CC_QUEUES: usize = 6;

/// A second org, on Webex Contact Center 2.0: connected, subscribed, synced.
async fn contact_center(h: &Harness) -> Result<(), Failure> {
    println!();
    println!("4. An operator connects a Webex Contact Center 2.0 org to the same WFO:");
    let cc = h
        .add_contact_center(CC_USERS, CC_TEAMS, CC_QUEUES)
        .await
        .map_err(Failure::job)?;
    println!(
        "   Contact Center simulator {}  (org {})",
        cc.sim.base_url(),
        cc.sim.org_id()
    );
    let hops = h.authorize_connector(&cc.connector.id).await.map_err(Failure::job)?;
    for (i, hop) in hops.iter().enumerate() {
        let shown = hop.split('?').next().unwrap_or(hop);
        println!("   {} {shown}", if i == 0 { "open" } else { "  →" });
    }
    println!("   tokens stored (encrypted); the authorizing org is the connector's tenant");
    let until = Instant::now() + Duration::from_secs(10);
    while cc.sim.subscriptions().is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match cc.sim.subscriptions().first() {
        Some(s) => println!(
            "   subscription registered: {} → {}",
            s.subscription.event_types.join(", "),
            s.subscription.destination_url
        ),
        None => {
            return Err(Failure::job(
                "the Contact Center subscription was not registered within 10 s",
            ));
        }
    }
    let Some(status) = h.wait_for_sync_of(&cc.connector.id, Duration::from_secs(30)).await else {
        return Err(Failure::job("the Contact Center sync did not finish within 30 s"));
    };
    let run = &status.last_run;
    println!("   sync (teams and queues first, then users):");
    for line in crate::commands::org_lines(run) {
        println!("     {line}");
    }
    println!("     users: {}", crate::commands::sync_summary(run));
    println!(
        "     {} Contact Center requests ({} user, {} team, {} queue pages) for {} users; {} WFO writes",
        run.source_calls.total(),
        run.source_calls.people_pages,
        run.source_calls.team_pages,
        run.source_calls.queue_pages,
        run.people_listed,
        run.wfo_writes
    );
    if let Some(e) = &run.error {
        return Err(Failure::job(format!("the Contact Center sync is incomplete: {e}")));
    }
    let queues = h.wfo.queues().len();
    let teams = h
        .wfo
        .teams()
        .iter()
        .filter(|t| t.acd_server_id == Some(wfo_harness::CC_ACD_SERVER_ID))
        .count();
    println!("   WFO now holds {teams} read-only Contact Center teams and {queues} queues");
    cc.sim.shutdown().await;
    Ok(())
}
