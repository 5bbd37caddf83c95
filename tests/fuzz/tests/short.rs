//! The short fuzz run that `cargo test` makes: every target, its seeds and then generated
//! inputs (3000 in all for the cheap targets, fewer for the ones that run a whole HTTP
//! conversation or slice audio: see `Target::weight`), with a fixed seed so a failure
//! repeats. No input may panic, hold more than `ALLOC_LIMIT` bytes at once, or hang.
//!
//! The long run is `cargo run --profile fuzz -p wfo-fuzz -- --target all --seconds 600`
//! (`docs/fuzzing.md`).

use wfo_fuzz::runner::{self, RunConfig};
use wfo_fuzz::targets::{self, Target};

#[global_allocator]
static ALLOC: wfo_fuzz::alloc::CountingAlloc = wfo_fuzz::alloc::CountingAlloc;

/// Inputs per target of weight 1.
const INPUTS: u64 = 3000;

/// Seed of the short run (any fixed value: the point is that a failure repeats).
const SEED: u64 = 20260310;

fn short_run(name: &str) {
    let target: &'static Target = targets::find(name).unwrap_or_else(|| panic!("no target {name}"));
    assert!(
        wfo_fuzz::alloc::is_installed(),
        "allocation bounds need the counting allocator"
    );
    let mut cfg = RunConfig::new(SEED, runner::default_crash_dir());
    let inputs = INPUTS / target.weight as u64;
    cfg.iterations = Some(inputs);
    let report = runner::run_target(target, &cfg);
    assert_eq!(report.inputs, inputs);
    let failures: Vec<String> = report
        .failures
        .values()
        .map(|f| {
            format!(
                "{:?} at {}: {} (input saved to {})",
                f.kind,
                f.location,
                f.message,
                f.saved
                    .as_ref()
                    .map_or_else(|| "nowhere".into(), |p| p.display().to_string())
            )
        })
        .collect();
    assert_eq!(
        report.crashes,
        0,
        "{name}: {} failing inputs:\n{}",
        report.crashes,
        failures.join("\n")
    );
    assert!(
        report.classes >= 2,
        "{name}: every input ended the same way; the seeds reach nothing"
    );
}

macro_rules! short_runs {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                short_run(stringify!($name));
            }
        )+

        #[test]
        fn every_target_has_a_short_run() {
            let mut covered = vec![$(stringify!($name)),+];
            covered.sort_unstable();
            let mut all: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
            all.sort_unstable();
            assert_eq!(covered, all);
        }
    };
}

short_runs!(
    webhook_event,
    webhook_signature,
    webhook_delivery,
    wxcc2_task,
    wxcc1_session,
    webex_metadata,
    webex_models,
    webex_ids,
    connector_toml,
    wfo_messages,
    http_headers,
    redact,
    mp3_duration,
    mp3_slice,
    wav_slice,
    audio_counted,
    webex_list_items,
    webex_plan,
    webex_open_media,
    webex_list_users,
    webex_identity,
    webex_ensure_webhook,
    wfo_answers,
    oauth_token,
);
