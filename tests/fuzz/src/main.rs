//! `wfo-fuzz`: runs the fuzz targets of [`wfo_fuzz::targets`] and prints, per target, the
//! inputs run, the crashes and the inputs per second. Exits with status 1 when any input
//! failed (the inputs are in the crash directory), 2 on a usage error.
//!
//! ```text
//! cargo run --profile fuzz -p wfo-fuzz -- --target all --seconds 600 --seed 1
//! cargo run --release -p wfo-fuzz -- --target mp3_slice,webex_metadata --iterations 100000
//! cargo run --profile fuzz -p wfo-fuzz -- --target webex_plan --replay target/fuzz-crashes/webex_plan-….bin
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wfo_fuzz::runner::{self, FailureKind, Report, RunConfig};
use wfo_fuzz::targets::{self, Target};

#[global_allocator]
static ALLOC: wfo_fuzz::alloc::CountingAlloc = wfo_fuzz::alloc::CountingAlloc;

/// Generated and mutated inputs for every parser of outside bytes.
#[derive(Debug, Parser)]
#[command(name = "wfo-fuzz", version)]
struct Args {
    /// Targets to run: `all`, or names separated by commas (see --list).
    #[arg(long, default_value = "all")]
    target: String,
    /// Inputs per target, seeds included.
    #[arg(long)]
    iterations: Option<u64>,
    /// Time for the whole run, shared equally by the targets.
    #[arg(long)]
    seconds: Option<u64>,
    /// Seed of the input generator: the same seed makes the same inputs.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Where failing inputs are written.
    #[arg(long)]
    crash_dir: Option<PathBuf>,
    /// Most MiB one input may make the code under test hold at once.
    #[arg(long, default_value_t = runner::ALLOC_LIMIT / (1024 * 1024))]
    alloc_limit_mib: usize,
    /// Run this one input (a saved crash) against the single --target and show the outcome.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// List the targets and what they call.
    #[arg(long)]
    list: bool,
}

fn selected(spec: &str) -> Result<Vec<&'static Target>, String> {
    if spec == "all" {
        return Ok(targets::ALL.iter().collect());
    }
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| targets::find(name).ok_or_else(|| format!("unknown target '{name}' (see --list)")))
        .collect()
}

fn print_report(r: &Report) {
    println!(
        "{:<22} {:>11} {:>8} {:>11.0} {:>7} {:>8} {:>9.1}",
        r.target,
        r.inputs,
        r.crashes,
        r.inputs_per_sec(),
        r.corpus,
        r.classes,
        r.peak_bytes as f64 / (1024.0 * 1024.0)
    );
    for f in r.failures.values() {
        let kind = match f.kind {
            FailureKind::Panic => "panic",
            FailureKind::Allocation => "allocation",
        };
        println!(
            "    {kind} at {}: {}",
            f.location,
            f.message.lines().next().unwrap_or_default()
        );
        if let Some(path) = &f.saved {
            println!("      input: {}", path.display());
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for t in targets::ALL {
            println!("{:<22} {}", t.name, t.entry);
        }
        return ExitCode::SUCCESS;
    }
    let chosen = match selected(&args.target) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            eprintln!("wfo-fuzz: no target selected");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("wfo-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let alloc_limit = args.alloc_limit_mib.saturating_mul(1024 * 1024);
    if let Some(path) = &args.replay {
        let [target] = chosen.as_slice() else {
            eprintln!("wfo-fuzz: --replay needs exactly one --target");
            return ExitCode::from(2);
        };
        let input = match std::fs::read(path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("wfo-fuzz: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let run = runner::run_one(target, &input, alloc_limit);
        println!("held at most {} bytes", run.held);
        return match run.result {
            Ok(class) => {
                println!("{}: ok, outcome {class}", target.name);
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("{}: {:?} at {}\n{}", target.name, f.kind, f.location, f.message);
                ExitCode::from(1)
            }
        };
    }
    if args.iterations.is_none() && args.seconds.is_none() {
        eprintln!("wfo-fuzz: give --iterations, --seconds, or both");
        return ExitCode::from(2);
    }
    if !wfo_fuzz::alloc::is_installed() {
        eprintln!("wfo-fuzz: the counting allocator is not active; allocation bounds are not checked");
    }
    let mut cfg = RunConfig::new(args.seed, args.crash_dir.unwrap_or_else(runner::default_crash_dir));
    cfg.iterations = args.iterations;
    cfg.duration = args
        .seconds
        .map(|s| Duration::from_secs_f64(s as f64 / chosen.len() as f64));
    cfg.alloc_limit = alloc_limit;

    println!(
        "wfo-fuzz: seed {:#x}, {} target(s), crash dir {}",
        cfg.seed,
        chosen.len(),
        cfg.crash_dir.display()
    );
    println!(
        "{:<22} {:>11} {:>8} {:>11} {:>7} {:>8} {:>9}",
        "target", "inputs", "crashes", "inputs/s", "corpus", "classes", "peak MiB"
    );
    let started = std::time::Instant::now();
    let (mut inputs, mut crashes) = (0u64, 0u64);
    for target in chosen {
        let report = runner::run_target(target, &cfg);
        print_report(&report);
        inputs += report.inputs;
        crashes += report.crashes;
    }
    let elapsed = started.elapsed();
    println!(
        "total: {inputs} inputs, {crashes} crashes, {:.1} s, {:.0} inputs/s",
        elapsed.as_secs_f64(),
        inputs as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if crashes > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
