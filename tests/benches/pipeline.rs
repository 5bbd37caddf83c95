//! Import pipeline benchmark: how many contacts per second the one-machine runtime
//! carries from webhook to WFO (ledger, worker, metadata, segmentation, persons,
//! contacts, audio), with both simulators in the process.
//!
//! `cargo bench -p wfo-tests --bench pipeline [-- CALLS] [--slow-calls N] [--repeat R]
//! [--workers W] [--deliveries D] [--shrink S] [--only 0|50]` runs four configurations, each on a fresh harness, `R` times (default
//! 3): the simulators answering at once (CALLS calls, default 600) and 50 ms late on
//! every request of both (N calls, default 120), each with audio and without
//! (`features.media_import = false`). Webhooks are delivered 32 at a time, as Webex's
//! senders overlap. It prints, per configuration, the median contacts/s (and the
//! spread), the source and WFO requests per contact (per route), and the seconds from a
//! recording's webhook delivery (its answer) to its contacts in WFO and to their audio
//! stored (p50/p95). At 50 ms the worker concurrency is the limit: the bound printed is
//! workers × contacts per recording ÷ (requests per recording × 50 ms).
//!
//! The throughput window runs from the first delivery to the last arrival the WFO
//! simulator stamped (no settle poll in it). Audio is the simulator's: 16 kHz mono
//! 32 kbps MP3; calls are 20 times shorter than the fixtures' by default (`--shrink N`),
//! ~42 KiB a recording instead of ~0.84 MiB. Everything runs on loopback; real APIs are
//! slower, which is what the 50 ms figures show.
//!
//! Last figures (README "Performance" → "Import pipeline", 2026-12-01, third session,
//! 2-core machine, medians of 3): 0 ms 1,405 contacts/s with small audio (calls 20×
//! shorter; 1,352 at 2,000 calls), 2,554 without; 50 ms 59 and 128 (bounds 79 and 196
//! at 20 items in flight); 2.9 + 2.0 requests a contact with audio, 0.9 + 1.0 without.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use wfo_harness::{Harness, HarnessConfig};
use wfo_sim_webex::ScenarioInstance;

/// The allocator `wfo-connect serve` runs with (functions/wfo-connect/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deliveries in flight at once (`--deliveries N`).
const DELIVERY_CONCURRENCY: usize = 32;
const SLOW: Duration = Duration::from_millis(50);
/// Calls 20 times shorter than the fixtures' by default: small audio (the pipeline is
/// measured, not the relay of multi-minute recordings; `benches/relay.rs` measures that).
const DEFAULT_SHRINK: u32 = 20;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds (user + system) the process used so far (`/proc/self/stat`, 100 Hz ticks).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    latency: Duration,
    audio: bool,
    calls: usize,
    workers: usize,
    /// Calls this many times shorter than the fixtures' (1: as recorded).
    shrink: u32,
    /// Webhook deliveries in flight at once.
    deliveries: usize,
}

impl Setup {
    fn label(&self) -> String {
        let audio = match (self.audio, self.shrink) {
            (false, _) => "no audio".to_owned(),
            (true, 1) => "audio".to_owned(),
            (true, n) => format!("audio 1/{n}"),
        };
        format!("{} ms, {audio}", self.latency.as_millis())
    }
}

/// One run's figures.
#[derive(Debug, Clone)]
struct Figures {
    recordings: usize,
    contacts: usize,
    secs: f64,
    webex: BTreeMap<String, u64>,
    wfo: BTreeMap<String, u64>,
    to_contact: Vec<f64>,
    to_audio: Vec<f64>,
    audio_mib: f64,
    mismatches: usize,
}

impl Figures {
    fn per_s(&self) -> f64 {
        self.contacts as f64 / self.secs
    }
    fn webex_per_contact(&self) -> f64 {
        self.webex.values().sum::<u64>() as f64 / self.contacts as f64
    }
    fn wfo_per_contact(&self) -> f64 {
        self.wfo.values().sum::<u64>() as f64 / self.contacts as f64
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

async fn run(setup: Setup) -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = HarnessConfig::new(dir.path().to_owned());
    cfg.poller_enabled = false;
    cfg.user_sync = false;
    cfg.workers = setup.workers;
    cfg.media_import = setup.audio;
    let h = Harness::start(cfg).await.expect("harness");
    h.authorize().await.expect("authorize");
    assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");
    let names = h.scenario_names();
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let instances: Vec<ScenarioInstance> = (0..setup.calls)
        .map(|i| {
            h.instantiate_shrunk(
                &names[i % names.len()],
                base + chrono::Duration::minutes(8 * i as i64),
                setup.shrink,
            )
            .expect("instance")
        })
        .collect();
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    let expected: usize = instances
        .iter()
        .map(|i| i.expected.as_array().map_or(0, Vec::len))
        .sum();
    let audio_in: usize = instances
        .iter()
        .flat_map(|i| i.recordings.iter().map(|r| r.audio.bytes.len()))
        .sum();

    // Latency from here on: authorization and webhook registration are not counted.
    h.webex.set_latency(setup.latency);
    h.wfo.set_latency(setup.latency);
    h.webex.reset_request_counts();
    let wfo_before = h.wfo.stats().routes;
    let mut counts = h.wfo.arrival_counts();
    let started = SystemTime::now();
    let clock = Instant::now();
    let cpu_before = cpu_secs();
    h.webex.publish_all_concurrently(&instances, setup.deliveries).await;
    let delivered_s = clock.elapsed().as_secs_f64();
    let want = expected as u64;
    let arrived = tokio::time::timeout(
        Duration::from_secs(600),
        counts.wait_for(|c| c.contacts >= want && (!setup.audio || c.with_audio >= want)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(
        arrived,
        "{}: not every contact arrived within 600 s: {:?}",
        setup.label(),
        *counts.borrow()
    );
    let pending = h.wait_settled(&ids, Duration::from_secs(60)).await;
    assert!(pending.is_empty(), "{} recordings did not finish", pending.len());
    let settled_s = clock.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;

    let delivered: HashMap<String, SystemTime> = h
        .webex
        .deliveries()
        .into_iter()
        .filter(|d| d.succeeded())
        .map(|d| (d.recording_id, SystemTime::from(d.at)))
        .collect();
    let arrivals = h.wfo.arrivals();
    let recording_of = |external_id: &str| external_id.split(':').nth(1).map(str::to_owned);
    let mut to_contact = Vec::new();
    let mut to_audio = Vec::new();
    let mut last = started;
    for a in &arrivals {
        let Some(at) = recording_of(&a.external_id).and_then(|r| delivered.get(&r).copied()) else {
            continue;
        };
        to_contact.push(secs_between(at, a.imported_at));
        last = last.max(a.imported_at);
        if let Some(audio_at) = a.audio_at {
            to_audio.push(secs_between(at, audio_at));
            last = last.max(audio_at);
        }
    }
    to_contact.sort_by(f64::total_cmp);
    to_audio.sort_by(f64::total_cmp);
    let problems: Vec<String> = instances
        .iter()
        .flat_map(|i| h.check(i))
        .filter(|p| setup.audio || !p.ends_with("audio not uploaded"))
        .collect();
    for p in problems.iter().take(3) {
        println!("  mismatch: {p}");
    }
    let mismatches = problems.len();
    let wfo: BTreeMap<String, u64> = h
        .wfo
        .stats()
        .routes
        .into_iter()
        .map(|(route, s)| {
            let before = wfo_before.get(&route).map_or(0, |b| b.calls);
            (route, s.calls - before)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let secs = secs_between(started, last);
    println!(
        "  {:<18} {} calls, {} recordings, {} contacts in {secs:.2} s (webhooks delivered after {delivered_s:.2} s, settled in the ledger after {settled_s:.2} s, {:.0} % of one core busy) = {:.0} contacts/s",
        setup.label(),
        setup.calls,
        ids.len(),
        arrivals.len(),
        100.0 * cpu / settled_s,
        arrivals.len() as f64 / secs
    );
    let figures = Figures {
        recordings: ids.len(),
        contacts: arrivals.len(),
        secs,
        webex: h.webex.request_counts(),
        wfo,
        to_contact,
        to_audio,
        audio_mib: if setup.audio {
            audio_in as f64 / 1_048_576.0
        } else {
            0.0
        },
        mismatches,
    };
    h.shutdown().await;
    figures
}

fn print_routes(name: &str, routes: &BTreeMap<String, u64>, contacts: usize) {
    let total: u64 = routes.values().sum();
    println!("    {name}: {:.2} requests a contact", total as f64 / contacts as f64);
    for (route, n) in routes {
        println!("      {:>6.3}  {route}", *n as f64 / contacts as f64);
    }
}

fn main() {
    // The EMF lines are still made (as `serve` makes them), but not printed over the table.
    wfo_pipeline::metrics::set_stdout(false);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let calls = args
        .iter()
        .enumerate()
        .find(|(i, a)| (*i == 0 || !args[i - 1].starts_with("--")) && a.parse::<usize>().is_ok())
        .and_then(|(_, a)| a.parse().ok())
        .unwrap_or(600);
    let slow_calls = flag("--slow-calls").unwrap_or(120);
    let repeat = flag("--repeat").unwrap_or(3).max(1);
    // `--only 0`: only the runs at 0 ms (`--only 50`: at 50 ms), for profiling.
    let only = flag("--only");
    let workers = flag("--workers").unwrap_or(HarnessConfig::new(std::env::temp_dir()).workers);
    // `--shrink N`: calls N times shorter than the fixtures' (default 20: small audio,
    // tens of KiB a recording); `--shrink 1` for the recordings as long as recorded.
    let deliveries = flag("--deliveries").unwrap_or(DELIVERY_CONCURRENCY).max(1);
    let shrink = flag("--shrink").map_or(DEFAULT_SHRINK, |n| u32::try_from(n.max(1)).unwrap_or(u32::MAX));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let setups = [
        Setup {
            latency: Duration::ZERO,
            audio: true,
            calls,
            workers,
            shrink,
            deliveries,
        },
        Setup {
            latency: Duration::ZERO,
            audio: false,
            calls,
            workers,
            shrink,
            deliveries,
        },
        Setup {
            latency: SLOW,
            audio: true,
            calls: slow_calls,
            workers,
            shrink,
            deliveries,
        },
        Setup {
            latency: SLOW,
            audio: false,
            calls: slow_calls,
            workers,
            shrink,
            deliveries,
        },
    ];
    let setups: Vec<Setup> = setups
        .into_iter()
        .filter(|s| only.is_none_or(|ms| s.latency.as_millis() == ms as u128))
        .collect();
    println!(
        "pipeline: {repeat} run(s) of each; {workers} items in flight (runtime workers), {deliveries} webhook deliveries in flight"
    );
    let mut results: Vec<(Setup, Vec<Figures>)> = setups.iter().map(|s| (*s, Vec::new())).collect();
    for round in 0..repeat {
        println!("round {}", round + 1);
        for (setup, runs) in &mut results {
            runs.push(rt.block_on(run(*setup)));
        }
    }

    println!();
    for (setup, runs) in &results {
        let Some(last) = runs.last() else { continue };
        let per_recording =
            (last.webex.values().sum::<u64>() + last.wfo.values().sum::<u64>()) as f64 / last.recordings as f64;
        println!(
            "{}: {} recordings, {} contacts, {} mismatches, {:.1} MiB of audio",
            setup.label(),
            last.recordings,
            last.contacts,
            last.mismatches,
            last.audio_mib
        );
        print_routes("Webex", &last.webex, last.contacts);
        print_routes("WFO", &last.wfo, last.contacts);
        if !setup.latency.is_zero() {
            let bound = setup.workers as f64 * (last.contacts as f64 / last.recordings as f64)
                / (per_recording * setup.latency.as_secs_f64());
            println!(
                "    bound: {} items in flight × {:.2} contacts a recording ÷ ({per_recording:.1} requests a recording × {} ms) = {bound:.0} contacts/s",
                setup.workers,
                last.contacts as f64 / last.recordings as f64,
                setup.latency.as_millis()
            );
        }
    }
    println!("peak RSS: {:.1} MiB", peak_rss_kib().unwrap_or(0) as f64 / 1024.0);
    println!();
    println!(
        "| run | calls | contacts | contacts/s (median, min–max of {repeat}) | Webex req/contact | WFO req/contact | to contact p50 / p95 s | to audio p50 / p95 s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (setup, runs) in &results {
        let rates: Vec<f64> = runs.iter().map(Figures::per_s).collect();
        let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().copied().fold(0.0, f64::max);
        let q = |f: fn(&Figures) -> &Vec<f64>, p: f64| median(runs.iter().map(|r| quantile(f(r), p)).collect());
        let audio = if setup.audio {
            format!("{:.2} / {:.2}", q(|r| &r.to_audio, 0.5), q(|r| &r.to_audio, 0.95))
        } else {
            "–".to_owned()
        };
        println!(
            "| {} | {} | {} | **{:.0}** ({lo:.0}–{hi:.0}) | {:.2} | {:.2} | {:.2} / {:.2} | {audio} |",
            setup.label(),
            setup.calls,
            runs.last().map_or(0, |r| r.contacts),
            median(rates.clone()),
            median(runs.iter().map(Figures::webex_per_contact).collect()),
            median(runs.iter().map(Figures::wfo_per_contact).collect()),
            q(|r| &r.to_contact, 0.5),
            q(|r| &r.to_contact, 0.95),
        );
    }
}
