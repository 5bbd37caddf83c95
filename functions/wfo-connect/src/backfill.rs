//! `wfo-connect backfill ID --from T --to T`: import every contact in a window, safe to
//! repeat, with progress on stderr ([`crate::progress`]) and a clean stop on a signal.
//!
//! The window is walked in order, one [`WINDOW`] at a time: list it (recording each item
//! in the ledger, an idempotent conditional insert), then drive the open items to an end
//! here, so a backfill works without a running server (and beside one: leases keep two
//! workers off one item). Items already handled in this run are not handled again.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it after the current step (one window's listing, or
//! one item's import): nothing is left half-written, every item recorded stays in the
//! ledger and is finished by `serve` or a re-run, and the command to go on from the
//! window in progress is printed. The exit status is 130 after SIGINT and 143 after
//! SIGTERM (128 + the signal, as shells report it). A second signal stops at once: an
//! item being imported then keeps its lease until it runs out and is taken up again by
//! `serve` or a re-run (its step counted as an attempt).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use wfo_domain::ledger::Discovery;
use wfo_pipeline::import::{ImportSettings, Importer, Outcome};
use wfo_pipeline::ports::Store;
use wfo_pipeline::reconcile::{self, PollReport};

use crate::Failure;
use crate::commands::{ImportBy, connections, get_connector, parse_time};
use crate::progress::{End, ItemState, Progress};

/// How much of the window is listed (then imported) at a time.
pub const WINDOW: chrono::Duration = chrono::Duration::days(1);

/// Exit status after SIGINT (Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status after SIGTERM.
pub const EXIT_TERMINATED: u8 = 143;

/// Open items read from the ledger at once: the backfill handles at most this many per
/// window (the rest are left to `serve` or the next backfill).
const OPEN_ITEMS_LIMIT: usize = 1_000_000;

/// The state directory the command ran on, when not the default one (`None`: the
/// deployed stack, `--backend aws`), so the printed command to go on works as it is.
fn state_arg(state_dir: Option<&Path>) -> String {
    match state_dir {
        None => " --backend aws".to_owned(),
        Some(dir) if dir == Path::new(".wfo-connect") => String::new(),
        Some(dir) => format!(" --state-dir {}", dir.display()),
    }
}

/// The command that goes on with `[from, to)`.
fn continue_command(state_dir: Option<&Path>, id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "wfo-connect{} backfill {id} --from {} --to {}",
        state_arg(state_dir),
        fmt(from),
        fmt(to)
    )
}

/// How many windows `[from, to)` is walked in: one per whole [`WINDOW`], the last one
/// taking the rest (so it lasts up to two), and one when the span is shorter. Never a
/// sliver of a window at the end, which a source may refuse (times to the millisecond).
fn window_count(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    (((to - from).num_seconds() / WINDOW.num_seconds()).max(1)) as u64
}

/// Window `index` of `[from, to)` (of [`window_count`]).
fn window(from: DateTime<Utc>, to: DateTime<Utc>, index: u64) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |i: u64| {
        i32::try_from(i)
            .ok()
            .and_then(|i| WINDOW.checked_mul(i))
            .and_then(|d| from.checked_add_signed(d))
            .map_or(to, |t| t.min(to))
    };
    let end = if index + 1 >= window_count(from, to) {
        to
    } else {
        at(index + 1)
    };
    (at(index), end)
}

/// The signal that asked the backfill to stop: 0 none, else the exit status it means.
#[derive(Clone, Default)]
struct Stop(Arc<AtomicU8>);

impl Stop {
    fn code(&self) -> Option<u8> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            code => Some(code),
        }
    }
}

/// Listen for SIGINT and SIGTERM (from this call on): the first one sets `stop` (the loop
/// stops after its current step); a second one prints `resume` and exits at once.
fn listen_for_signals(stop: Stop, resume: Arc<Mutex<String>>) {
    let mut signals = Signals::install();
    tokio::spawn(async move {
        let mut first = true;
        while let Some(code) = signals.next().await {
            let command = resume.lock().map(|c| c.clone()).unwrap_or_default();
            if first {
                first = false;
                stop.0.store(code, Ordering::SeqCst);
                eprintln!("\nstopping after the current step (again to stop at once)");
            } else {
                eprintln!("\nstopped at once; continue with: {command}");
                std::process::exit(i32::from(code));
            }
        }
    });
}

/// SIGINT and SIGTERM as the exit statuses they mean.
#[cfg(unix)]
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

#[cfg(unix)]
impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(int), Ok(term)) => Self(Some((int, term))),
            (int, term) => {
                if let Some(e) = int.err().or(term.err()) {
                    tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM: a backfill cannot be stopped cleanly");
                }
                Self(None)
            }
        }
    }

    /// The next signal's exit status, or `None` when they cannot be listened for.
    async fn next(&mut self) -> Option<u8> {
        let (int, term) = self.0.as_mut()?;
        tokio::select! {
            s = int.recv() => s.map(|_| EXIT_INTERRUPTED),
            s = term.recv() => s.map(|_| EXIT_TERMINATED),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Self {
        Self
    }

    async fn next(&mut self) -> Option<u8> {
        tokio::signal::ctrl_c().await.ok().map(|_| EXIT_INTERRUPTED)
    }
}

/// The counts of the items handled in this run, for the summary.
#[derive(Default)]
struct Handled {
    done: u64,
    later: u64,
    dead: u64,
}

/// `state_dir`: the local backend's (`None` on the deployed stack). `import_by`: who
/// imports the listed items — this process, window by window, or the stack's import
/// worker from the queue the listing sent them to (then only the listing is walked here).
pub async fn run(
    store: Arc<dyn Store>,
    state_dir: Option<&Path>,
    id: &str,
    from: &str,
    to: &str,
    import_by: ImportBy,
) -> Result<(), Failure> {
    let from = parse_time(from, "from")?;
    let to = parse_time(to, "to")?;
    if to <= from {
        return Err(Failure::usage("--to must be after --from"));
    }
    let c = get_connector(store.as_ref(), id).await?;
    let dyn_store = store.clone();
    let connections = connections(dyn_store.clone())?;
    if let Err(e) = connections.kind(c.config.kind) {
        return Err(Failure::usage(format!("backfill of kind {}: {e}", c.config.kind)));
    }
    let stop = Stop::default();
    let resume = Arc::new(Mutex::new(continue_command(state_dir, id, from, to)));
    listen_for_signals(stop.clone(), resume.clone());

    let importer = Importer::new(connections.clone(), ImportSettings::default());
    let mut progress = Progress::for_stderr();
    let total = window_count(from, to);
    let mut report = PollReport::default();
    let mut handled = Handled::default();
    let mut seen: HashSet<String> = HashSet::new();
    // Where a re-run goes on from: the start of the first window not walked to its end.
    let mut walked_to = from;
    let mut failure = None;
    'windows: for index in 0..total {
        let (start, end) = window(from, to, index);
        if let Ok(mut r) = resume.lock() {
            *r = continue_command(state_dir, id, start, to);
        }
        if stop.code().is_some() {
            break;
        }
        progress.on_window(index, total);
        let before = report.clone();
        let listed = reconcile::discover_window(&connections, &c, start, end, Discovery::Backfill, |r| {
            progress.on_discovered(before.listed + r.listed, before.new + r.new);
        })
        .await;
        match listed {
            Ok((r, _)) => {
                report.listed += r.listed;
                report.new += r.new;
                report.revived += r.revived;
                report.enqueue_failures += r.enqueue_failures;
                progress.on_discovered(report.listed, report.new);
            }
            Err(e) => {
                failure = Some(Failure::job(e));
                break;
            }
        }
        if import_by == ImportBy::Stack {
            // Listed, recorded and enqueued: the stack's worker imports them.
            progress.on_window_done();
            walked_to = end;
            continue;
        }
        let open = match store.list(id, true, OPEN_ITEMS_LIMIT).await {
            Ok(open) => open,
            Err(e) => {
                failure = Some(Failure::job(e));
                break;
            }
        };
        for item in open {
            if stop.code().is_some() {
                break 'windows;
            }
            if !seen.insert(item.item_id.clone()) {
                continue;
            }
            let state = match importer.process(id, &item.item_id).await {
                Outcome::Done => {
                    handled.done += 1;
                    ItemState::Imported
                }
                Outcome::Dead(_) => {
                    handled.dead += 1;
                    ItemState::Failed
                }
                Outcome::Later(_) => {
                    handled.later += 1;
                    match store.get(id, &item.item_id).await {
                        Ok(Some(now)) if now.audio_wait.is_some() => ItemState::Waiting,
                        _ => ItemState::Pending,
                    }
                }
                Outcome::Busy | Outcome::Unknown => {
                    handled.later += 1;
                    ItemState::Pending
                }
            };
            progress.on_item_state(state);
        }
        progress.on_window_done();
        walked_to = end;
    }
    let complete = walked_to >= to;
    progress.finish(if complete { End::Finished } else { End::Stopped });

    println!(
        "window {from} .. {to}: {} recordings listed, {} new, {} dead ones revived",
        report.listed, report.new, report.revived
    );
    // What was walked is no longer missed; a missed window reaching past it stays.
    if walked_to > from
        && let Some(left) = reconcile::note_backfilled(dyn_store.as_ref(), id, from, walked_to)
            .await
            .map_err(Failure::job)?
    {
        println!("still missed: `{}`", left.backfill_command(id));
    }
    let Handled { done, later, dead } = handled;
    if import_by == ImportBy::Stack {
        crate::aws_backend::enqueued(id, &report)?;
    } else {
        println!(
            "{done} done, {later} pending (retried by `serve` or the next backfill), {dead} dead (see `wfo-connect status {id}`)"
        );
    }
    let go_on = continue_command(state_dir, id, walked_to, to);
    if let Some(f) = failure {
        let message = if walked_to > from {
            format!(
                "{} (the window before {walked_to} is done; continue with: {go_on})",
                f.message
            )
        } else {
            f.message
        };
        return Err(Failure { code: f.code, message });
    }
    if let Some(code) = stop.code() {
        eprintln!("backfill interrupted; continue with: {go_on}");
        return Err(Failure {
            code,
            message: format!("interrupted before {walked_to}; everything listed so far is recorded"),
        });
    }
    if dead > 0 {
        Err(Failure::job(format!("{dead} items need an operator")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_window_is_walked_a_day_at_a_time_the_last_one_taking_the_rest() {
        let (from, to) = (t("2026-11-01T06:00:00Z"), t("2026-11-03T12:00:00Z"));
        assert_eq!(window_count(from, to), 2);
        assert_eq!(window(from, to, 0), (from, t("2026-11-02T06:00:00Z")));
        assert_eq!(window(from, to, 1), (t("2026-11-02T06:00:00Z"), to));
        let second = chrono::Duration::seconds(1);
        assert_eq!(window_count(from, from + second), 1);
        assert_eq!(window(from, from + second, 0), (from, from + second));
        assert_eq!(window_count(from, from + WINDOW), 1);
        let nanos = chrono::Duration::nanoseconds(1500);
        assert_eq!(
            window(from, from + WINDOW * 2 + nanos, 1),
            (from + WINDOW, from + WINDOW * 2 + nanos),
            "no sliver of a window at the end"
        );
    }

    #[test]
    fn the_continue_command_names_the_state_directory_only_when_not_the_default() {
        let (from, to) = (t("2026-11-01T00:00:00Z"), t("2026-11-03T00:00:00Z"));
        assert_eq!(
            continue_command(Some(Path::new(".wfo-connect")), "acme", from, to),
            "wfo-connect backfill acme --from 2026-11-01T00:00:00Z --to 2026-11-03T00:00:00Z"
        );
        assert_eq!(
            continue_command(Some(Path::new("/var/lib/wfo")), "acme", from, to),
            "wfo-connect --state-dir /var/lib/wfo backfill acme --from 2026-11-01T00:00:00Z --to 2026-11-03T00:00:00Z"
        );
        assert_eq!(
            continue_command(None, "acme", from, to),
            "wfo-connect --backend aws backfill acme --from 2026-11-01T00:00:00Z --to 2026-11-03T00:00:00Z"
        );
    }
}
