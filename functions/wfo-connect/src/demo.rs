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
    println!("wfo-connect demo — Webex Calling → WFO, everything on loopback");
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
    let result = play(&harness).await;
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
