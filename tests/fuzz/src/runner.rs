//! Running a target: seeds first, then generated inputs, each checked for panics (in any
//! thread), bounded allocation and bounded time.
//!
//! - **Panics** are caught with `catch_unwind` on the calling thread and counted by a
//!   panic hook in every thread (tokio turns a panic in a spawned or blocking task into an
//!   error value; the hook still sees it). While a target runs the hook records instead of
//!   printing.
//! - **Allocation**: with [`crate::alloc::CountingAlloc`] installed, an input whose
//!   processing held more than the limit at once (default [`ALLOC_LIMIT`]), or asked for
//!   more in one allocation, fails.
//! - **Time**: a watchdog thread writes the current input to the crash directory and ends
//!   the process when one input runs longer than [`INPUT_TIME_LIMIT`] (a hang cannot be
//!   caught any other way).
//!
//! A failing input is written to `<crash dir>/<target>-<hash>.bin`, with the failure in a
//! `.txt` beside it; `wfo-fuzz --replay <file> --target <name>` runs it again.

use std::collections::{BTreeMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::mutate::Mutator;
use crate::rng::{Rng, fnv1a};
use crate::targets::Target;

/// The most bytes one input may make the code under test hold at once.
pub const ALLOC_LIMIT: usize = 64 * 1024 * 1024;

/// The longest one input may take before the run is stopped as hung.
pub const INPUT_TIME_LIMIT: Duration = Duration::from_secs(60);

/// Corpus entries kept per target, seeds included.
const CORPUS_CAP: usize = 1024;

/// Crash files written per target (every crash is counted).
const MAX_SAVED: usize = 20;

/// How to run a target.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    /// Inputs to run, seeds included; `None`: until `duration` runs out.
    pub iterations: Option<u64>,
    pub duration: Option<Duration>,
    pub crash_dir: PathBuf,
    pub alloc_limit: usize,
}

impl RunConfig {
    pub fn new(seed: u64, crash_dir: PathBuf) -> Self {
        RunConfig {
            seed,
            iterations: None,
            duration: None,
            crash_dir,
            alloc_limit: ALLOC_LIMIT,
        }
    }
}

/// The default crash directory: `target/fuzz-crashes` of the workspace.
pub fn default_crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-crashes")
}

/// Why an input failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Panic,
    Allocation,
}

/// One failing input.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// The panic message and location, or the allocation figures.
    pub message: String,
    /// Where the panic happened (deduplication key); the kind for allocation failures.
    pub location: String,
    pub input: Vec<u8>,
    /// Where the input was saved, if it was.
    pub saved: Option<PathBuf>,
}

/// What a run of one target did.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub crashes: u64,
    pub elapsed: Duration,
    pub corpus: usize,
    pub classes: usize,
    /// The most bytes one input made the code hold at once.
    pub peak_bytes: usize,
    /// Failures by location, with the first input of each.
    pub failures: BTreeMap<String, Failure>,
}

impl Report {
    pub fn inputs_per_sec(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

// ---- panics -----------------------------------------------------------------------------

static PANICS: AtomicU64 = AtomicU64::new(0);
static CAPTURING: AtomicUsize = AtomicUsize::new(0);
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Installs the panic hook (once per process): while a target runs, panics are counted
/// and recorded; otherwise the previous hook prints them as usual.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.load(Ordering::SeqCst) == 0 {
                previous(info);
                return;
            }
            PANICS.fetch_add(1, Ordering::SeqCst);
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
            let mut slot = LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some((location, format!("panicked in thread '{thread}': {text}")));
            }
        }));
    });
}

struct Capture;

impl Capture {
    fn start() -> Capture {
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        Capture
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one input did.
#[derive(Debug)]
pub struct Run {
    /// Its outcome class, or why it failed.
    pub result: Result<String, Failure>,
    /// The most bytes the code under test held at once for it (0 without the counting
    /// allocator).
    pub held: usize,
}

/// Runs one input.
pub fn run_one(target: &Target, input: &[u8], alloc_limit: usize) -> Run {
    install_panic_hook();
    let capture = Capture::start();
    *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let panics_before = PANICS.load(Ordering::SeqCst);
    alloc::reset_peak();
    let live_before = alloc::live();
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let peak = alloc::peak().saturating_sub(live_before);
    let largest = alloc::largest_request();
    let panicked = PANICS.load(Ordering::SeqCst) != panics_before;
    drop(capture);
    let failure = |kind, location: String, message: String| Failure {
        kind,
        message,
        location,
        input: input.to_vec(),
        saved: None,
    };
    let result = match result {
        Ok(class) if !panicked => Ok(class),
        _ => {
            let (location, message) = LAST_PANIC
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_else(|| ("unknown".to_owned(), "panicked".to_owned()));
            Err(failure(FailureKind::Panic, location, message))
        }
    };
    let result = match result {
        Ok(_) if peak > alloc_limit || largest > alloc_limit => Err(failure(
            FailureKind::Allocation,
            "allocation".to_owned(),
            format!(
                "held {peak} bytes at once (largest single allocation {largest}) for a {}-byte input; the limit is {alloc_limit}",
                input.len()
            ),
        )),
        other => other,
    };
    Run { result, held: peak }
}

// ---- the watchdog -----------------------------------------------------------------------

struct Watch {
    target: &'static str,
    input: Option<Arc<Vec<u8>>>,
    since: Instant,
}

/// Stops the process when one input takes longer than [`INPUT_TIME_LIMIT`], after saving it.
struct Watchdog {
    watch: Arc<Mutex<Watch>>,
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn start(target: &'static str, crash_dir: PathBuf) -> Watchdog {
        let watch = Arc::new(Mutex::new(Watch {
            target,
            input: None,
            since: Instant::now(),
        }));
        let done = Arc::new(AtomicBool::new(false));
        let (w, d) = (watch.clone(), done.clone());
        std::thread::Builder::new()
            .name("fuzz-watchdog".to_owned())
            .spawn(move || {
                while !d.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    let w = w.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(input) = &w.input
                        && w.since.elapsed() > INPUT_TIME_LIMIT
                    {
                        let path = save(&crash_dir, w.target, "hang", input, "ran longer than the time limit");
                        eprintln!(
                            "wfo-fuzz: {}: one input ran longer than {:?}; saved to {}",
                            w.target,
                            INPUT_TIME_LIMIT,
                            path.map_or_else(|| "(could not save)".to_owned(), |p| p.display().to_string())
                        );
                        std::process::exit(3);
                    }
                }
            })
            .ok();
        Watchdog { watch, done }
    }

    fn begin(&self, input: Arc<Vec<u8>>) {
        let mut w = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        w.input = Some(input);
        w.since = Instant::now();
    }

    fn end(&self) {
        self.watch.lock().unwrap_or_else(|p| p.into_inner()).input = None;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Writes a failing input (and what went wrong) to the crash directory.
fn save(dir: &Path, target: &str, kind: &str, input: &[u8], message: &str) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let stem = format!("{target}-{:016x}", fnv1a(input));
    let path = dir.join(format!("{stem}.bin"));
    std::fs::write(&path, input).ok()?;
    let note = format!("target: {target}\nfailure: {kind}\n{message}\n");
    std::fs::write(dir.join(format!("{stem}.txt")), note).ok()?;
    Some(path)
}

// ---- a run ------------------------------------------------------------------------------

/// Runs `target` as `cfg` says: every seed once, then generated inputs.
pub fn run_target(target: &'static Target, cfg: &RunConfig) -> Report {
    let started = Instant::now();
    let deadline = cfg.duration.map(|d| started + d);
    let mutator = Mutator::new(target.flavour, target.max_len);
    let mut rng = Rng::for_target(cfg.seed, target.name);
    let seeds: Vec<Vec<u8>> = (target.seeds)();
    let mut corpus: Vec<Vec<u8>> = seeds.clone();
    let fixed = corpus.len();
    let mut classes: HashSet<String> = HashSet::new();
    let mut report = Report {
        target: target.name,
        inputs: 0,
        crashes: 0,
        elapsed: Duration::ZERO,
        corpus: 0,
        classes: 0,
        peak_bytes: 0,
        failures: BTreeMap::new(),
    };
    let watchdog = Watchdog::start(target.name, cfg.crash_dir.clone());
    let mut saved = 0;
    loop {
        let i = report.inputs;
        if cfg.iterations.is_some_and(|n| i >= n) {
            break;
        }
        if i.is_multiple_of(8) && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if cfg.iterations.is_none() && deadline.is_none() {
            break;
        }
        let input = Arc::new(match seeds.get(i as usize) {
            Some(seed) => seed.clone(),
            None => mutator.generate(&mut rng, &corpus),
        });
        watchdog.begin(input.clone());
        let run = run_one(target, &input, cfg.alloc_limit);
        watchdog.end();
        report.inputs += 1;
        report.peak_bytes = report.peak_bytes.max(run.held);
        match run.result {
            Ok(class) => {
                if classes.len() < 10_000 && classes.insert(class) && i as usize >= seeds.len() {
                    if corpus.len() < CORPUS_CAP {
                        corpus.push(input.to_vec());
                    } else if fixed < corpus.len() {
                        // Full: replace a generated entry (seeds stay).
                        let slot = fixed + rng.below(corpus.len() - fixed);
                        corpus[slot] = input.to_vec();
                    }
                }
            }
            Err(mut failure) => {
                report.crashes += 1;
                if !report.failures.contains_key(&failure.location) || saved < MAX_SAVED {
                    if saved < MAX_SAVED {
                        let kind = format!("{:?}", failure.kind);
                        failure.saved = save(&cfg.crash_dir, target.name, &kind, &failure.input, &failure.message);
                        saved += 1;
                    }
                    report.failures.entry(failure.location.clone()).or_insert(failure);
                }
            }
        }
    }
    drop(watchdog);
    report.elapsed = started.elapsed();
    report.corpus = corpus.len();
    report.classes = classes.len();
    report
}
