//! `wfo-connect demo`: the simulators on loopback, the connector against them, every
//! complex-call scenario played, and what arrived in WFO printed and checked against the
//! segmentation rules — for Webex Calling, then a Contact Center 2.0 org, then a Contact
//! Center 1.0 org playing the same scenarios.

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
    println!("wfo-connect demo — Webex Calling, Webex Contact Center 2.0 and 1.0 → WFO, everything on loopback");
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

/// The items a wait left unfinished, as the demo's failure.
/// Wait up to 60 s for `expected` contacts in WFO (their audio still to come): how many
/// arrived, and how many of them already have audio.
async fn contacts_first(received: impl Fn() -> Vec<wfo_harness::Received>, expected: usize) -> (usize, usize) {
    let until = Instant::now() + Duration::from_secs(60);
    let mut now_in = received();
    while now_in.len() < expected && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now_in = received();
    }
    let with_audio = now_in.iter().filter(|r| r.audio_bytes.is_some()).count();
    (now_in.len(), with_audio)
}

fn settled(pending: Vec<String>, what: &str, secs: u64) -> Result<(), Failure> {
    if pending.is_empty() {
        return Ok(());
    }
    Err(Failure::job(format!(
        "{} {what} did not finish within {secs} s: {pending:?}",
        pending.len()
    )))
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
    settled(h.wait_settled(&ids, Duration::from_secs(120)).await, "recordings", 120)?;

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
    while cc.sim.subscriptions().len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subscriptions = cc.sim.subscriptions();
    match subscriptions.first() {
        Some(s) => println!(
            "   subscriptions registered: {} → {}",
            subscriptions
                .iter()
                .flat_map(|s| s.subscription.event_types.clone())
                .collect::<Vec<_>>()
                .join(", "),
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
    let imported = match contact_center_tasks(h, &cc).await {
        // The 2.0 org stays up meanwhile: its connector keeps polling it.
        Ok(()) => contact_center_1(h).await,
        Err(e) => Err(e),
    };
    cc.sim.shutdown().await;
    imported
}

/// How long after a call the demo's Contact Center has its capture (simulated time).
const CC_CAPTURE_DELAY: Duration = Duration::from_secs(90 * 60);

/// One task per Contact Center scenario: contacts first, audio when the capture is ready.
async fn contact_center_tasks(h: &Harness, cc: &wfo_harness::ContactCenter) -> Result<(), Failure> {
    use wfo_sim_wxcc::{Scenario, expected_contacts};
    println!();
    println!(
        "5. The Contact Center handled one task per scenario {} min ago; its captures come now:",
        CC_CAPTURE_DELAY.as_secs() / 60
    );
    let Some(plane) = cc.sim.tasks() else {
        return Err(Failure::job("the Contact Center simulator serves no tasks"));
    };
    plane.set_capture_delay(CC_CAPTURE_DELAY);
    let agents = cc.agents(2);
    // The calls ended a capture delay ago, less seconds: contacts now, audio in a moment.
    let delay = chrono::Duration::from_std(CC_CAPTURE_DELAY).map_err(Failure::job)?;
    let ended = Utc::now() - delay + chrono::Duration::seconds(6);
    let mut tasks = Vec::new();
    for (k, scenario) in Scenario::ALL.into_iter().enumerate() {
        let id = cc
            .play_ending_at(
                scenario.name(),
                ended + chrono::Duration::milliseconds(300 * k as i64),
                &agents,
            )
            .map_err(Failure::job)?;
        tasks.push((scenario, id));
    }
    let ids: Vec<String> = tasks.iter().map(|(_, id)| id.clone()).collect();
    let expected: usize = tasks
        .iter()
        .filter_map(|(s, id)| plane.task(id).map(|t| expected_contacts(*s, &t).len()))
        .sum();
    let (in_wfo, with_audio) = contacts_first(|| h.received(&ids), expected).await;
    println!(
        "   {} tasks ended; {in_wfo} of {expected} contacts already in WFO, {with_audio} with audio (\"File not yet uploaded\")",
        tasks.len()
    );
    if in_wfo < expected {
        return Err(Failure::job("the Contact Center contacts did not arrive within 60 s"));
    }
    println!("   the captures appear: capture:available deliveries arrive, the audio follows");
    settled(
        h.wait_settled_of(&cc.connector.id, &ids, Duration::from_secs(60)).await,
        "Contact Center tasks",
        60,
    )?;
    println!();
    println!("6. What WFO received from the Contact Center:");
    let mut all_ok = true;
    for (scenario, id) in &tasks {
        let received: Vec<_> = h
            .received(std::slice::from_ref(id))
            .into_iter()
            .filter(|r| &r.assoc_call_id == id)
            .collect();
        println!();
        println!(
            "   {}  (task {}, {} contact{})",
            scenario.name(),
            &id[..id.len().min(8)],
            received.len(),
            if received.len() == 1 { "" } else { "s" }
        );
        for r in &received {
            print_cc_contact(r);
        }
        let problems = h.check_task(cc, *scenario, id);
        if problems.is_empty() {
            println!("     ✓ as the segmentation rules (reference §2.4) say");
        } else {
            all_ok = false;
            for p in problems {
                println!("     ✗ {p}");
            }
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure::job(
            "some Contact Center tasks did not match their expected contacts",
        ))
    }
}

/// One Contact Center contact as steps 6 and 9 show it.
fn print_cc_contact(r: &wfo_harness::Received) {
    let events = if r.events.is_empty() {
        String::new()
    } else {
        let shown: Vec<String> = r
            .events
            .iter()
            .map(|e| match e.split_once('@') {
                Some((kind, ms)) => match ms.parse::<i64>() {
                    Ok(ms) => format!("{} {}", kind.to_uppercase(), clock(ms)),
                    Err(_) => e.clone(),
                },
                None => e.clone(),
            })
            .collect();
        format!("  {}", shown.join(", "))
    };
    println!(
        "     {:<18} start {}  dur {:>9}  {:<8}  audio {:>8}{events}",
        r.agent_name,
        clock(r.start_time),
        hms(r.duration_ms),
        r.direction,
        r.audio_bytes.map(|b| format!("{b} B")).unwrap_or_else(|| "none".into()),
    );
}

/// Agents, teams and queues of the demo's Contact Center 1.0 org.
const CC1_AGENTS: usize = 24;
const CC1_TEAMS: usize = 3;
const CC1_QUEUES: usize = 4;

/// A third org, on Webex Contact Center 1.0: stored with its API key, synced, its
/// sessions polled.
async fn contact_center_1(h: &Harness) -> Result<(), Failure> {
    println!();
    println!("7. An operator connects a Webex Contact Center 1.0 org (API key) to the same WFO:");
    let cc1 = h
        .add_contact_center_1(&wfo_harness::Cc1Org {
            agents: wfo_harness::synthetic_agents(CC1_AGENTS, 31),
            teams: CC1_TEAMS,
            queues: CC1_QUEUES,
        })
        .await
        .map_err(Failure::job)?;
    let creds = cc1.sim.credentials();
    println!(
        "   Contact Center 1.0 simulator {}  (tenant {}, media API {})",
        cc1.sim.base_url(),
        creds.tenant_id,
        cc1.sim.media_url()
    );
    println!(
        "   connector '{}' stored with API user {} and its API key (encrypted): no authorization step",
        cc1.connector.id, creds.username
    );
    println!("   1.0 sends no webhooks: the poller lists its sessions (CSRs), every second here");
    let result = contact_center_1_sessions(h, &cc1).await;
    cc1.sim.shutdown().await;
    result
}

/// How long after a session the demo's Contact Center 1.0 has its recording.
const CC1_CAPTURE_DELAY: Duration = Duration::from_secs(60 * 60);

async fn contact_center_1_sessions(h: &Harness, cc1: &wfo_harness::ContactCenter1) -> Result<(), Failure> {
    use wfo_sim_wxcc::{Scenario, expected_contacts};
    let Some(status) = h.wait_for_sync_of(&cc1.connector.id, Duration::from_secs(30)).await else {
        return Err(Failure::job("the Contact Center 1.0 sync did not finish within 30 s"));
    };
    let run = &status.last_run;
    println!("   sync (auxiliary data: teams and queues first, then users):");
    for line in crate::commands::org_lines(run) {
        println!("     {line}");
    }
    println!("     users: {}", crate::commands::sync_summary(run));
    if let Some(e) = &run.error {
        return Err(Failure::job(format!("the Contact Center 1.0 sync is incomplete: {e}")));
    }
    println!();
    println!(
        "8. The 1.0 org handled one session per scenario {} min ago; its recordings come now:",
        CC1_CAPTURE_DELAY.as_secs() / 60
    );
    cc1.set_capture_delay(CC1_CAPTURE_DELAY);
    let agents = cc1.agents(2);
    // The sessions ended a capture delay ago, less seconds: contacts now, audio in a moment.
    let delay = chrono::Duration::from_std(CC1_CAPTURE_DELAY).map_err(Failure::job)?;
    let ended = Utc::now() - delay + chrono::Duration::seconds(6);
    let mut sessions = Vec::new();
    for (k, scenario) in Scenario::ALL.into_iter().enumerate() {
        let sid = cc1
            .play_ending_at(
                scenario.name(),
                ended + chrono::Duration::milliseconds(300 * k as i64),
                &agents,
            )
            .map_err(Failure::job)?;
        sessions.push((scenario, sid));
    }
    let ids: Vec<String> = sessions.iter().map(|(_, id)| id.clone()).collect();
    let expected: usize = sessions
        .iter()
        .filter_map(|(s, id)| cc1.task(id).map(|t| expected_contacts(*s, &t).len()))
        .sum();
    let prefix = wfo_webex_cc1::WEBEX_CC1_EXTERNAL_ID_PREFIX;
    let (in_wfo, with_audio) = contacts_first(|| h.received_of(prefix, &ids), expected).await;
    println!(
        "   {} sessions ended; {in_wfo} of {expected} contacts already in WFO, {with_audio} with audio (the media API answers 404)",
        sessions.len()
    );
    if in_wfo < expected {
        return Err(Failure::job(
            "the Contact Center 1.0 contacts did not arrive within 60 s",
        ));
    }
    println!("   the recordings appear: the audio wait's next check finds them, the audio follows");
    let pending = h.wait_sessions(cc1, &sessions, Duration::from_secs(60)).await;
    settled(pending, "Contact Center 1.0 sessions", 60)?;
    println!();
    println!("9. What WFO received from the Contact Center 1.0 org:");
    let mut all_ok = true;
    for (scenario, sid) in &sessions {
        let received = h.received_of(prefix, std::slice::from_ref(sid));
        println!();
        println!(
            "   {}  (session {}, {} contact{})",
            scenario.name(),
            &sid[..sid.len().min(8)],
            received.len(),
            if received.len() == 1 { "" } else { "s" }
        );
        for r in &received {
            print_cc_contact(r);
        }
        let problems = h.check_session(cc1, *scenario, sid);
        if problems.is_empty() {
            let silent = *scenario == Scenario::NotRecorded;
            println!(
                "     ✓ as the segmentation rules (reference §2.4) say, as for 2.0{}",
                if silent {
                    " (no recording: the media API's 404 is awaited for a day, then the session is done without audio)"
                } else {
                    ""
                }
            );
        } else {
            all_ok = false;
            for p in problems {
                println!("     ✗ {p}");
            }
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure::job(
            "some Contact Center 1.0 sessions did not match their expected contacts",
        ))
    }
}
