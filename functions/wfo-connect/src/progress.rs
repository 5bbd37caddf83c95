//! How far a `backfill` has got, shown while it runs (`specs/interfaces.md` §3: "shows
//! progress on a terminal").
//!
//! The backfill loop tells one [`Progress`] what happens (a window starts, items are
//! listed, an item reaches a state); `Progress` keeps the [`Figures`] and hands them to a
//! [`View`]: a redrawn bar when stderr is a terminal ([`Bar`]), plain lines otherwise
//! ([`Lines`]), so a log shows the same figures without terminal control codes.
//!
//! Plain lines have a stable wording a log reader can grep, one line each:
//!
//! ```text
//! backfill progress: windows 2/7, listed 40, new 38, imported 30, waiting 2, pending 1, failed 0, 3.1 items/s, eta 52s
//! backfill finished: windows 7/7, listed 131, new 127, imported 120, waiting 4, pending 3, failed 0, 3.0 items/s, eta 0s
//! backfill stopped: windows 3/7, ...
//! ```
//!
//! `progress` lines come every [`LINE_INTERVAL`]; the last line says `finished` or
//! `stopped` (interrupted, or the job failed).

use std::io::Write;
use std::time::{Duration, Instant};

/// How often [`Lines`] prints while the backfill runs.
pub const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// What one item's import came to, as the backfill counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Finished: its contacts are in WFO.
    Imported,
    /// Its contacts are in WFO and it waits for audio that is not there yet (a Contact
    /// Center capture): finished later by `serve` or the next backfill.
    Waiting,
    /// Not finished now (a retry later, or another worker holds it): `serve` or the next
    /// backfill goes on with it.
    Pending,
    /// Gave up: dead, waiting for an operator (`wfo-connect status`).
    Failed,
}

/// The figures a backfill reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Windows walked to the end, of `windows_total`.
    pub windows_done: u64,
    pub windows_total: u64,
    /// Recordings (or tasks, sessions) the source listed in the windows so far.
    pub listed: u64,
    /// Of those, the ones the ledger did not have yet.
    pub new: u64,
    pub imported: u64,
    pub waiting: u64,
    pub pending: u64,
    pub failed: u64,
}

impl Figures {
    /// Items whose import ran, whatever it came to.
    pub fn handled(&self) -> u64 {
        self.imported + self.waiting + self.pending + self.failed
    }

    /// Items handled per second over `elapsed`.
    pub fn rate(&self, elapsed: Duration) -> f64 {
        let secs = elapsed.as_secs_f64();
        if secs > 0.0 { self.handled() as f64 / secs } else { 0.0 }
    }

    /// The time left, from the pace of the windows walked so far (`None` before the first
    /// one is done: no pace yet).
    pub fn eta(&self, elapsed: Duration) -> Option<Duration> {
        if self.windows_done == 0 {
            return None;
        }
        let left = self.windows_total.saturating_sub(self.windows_done);
        Some(elapsed.mul_f64(left as f64 / self.windows_done as f64))
    }

    /// The figures in the stable wording of the plain lines (after `backfill <what>: `).
    pub fn line(&self, elapsed: Duration) -> String {
        format!(
            "windows {}/{}, listed {}, new {}, imported {}, waiting {}, pending {}, failed {}, {:.1} items/s, eta {}",
            self.windows_done,
            self.windows_total,
            self.listed,
            self.new,
            self.imported,
            self.waiting,
            self.pending,
            self.failed,
            self.rate(elapsed),
            eta_text(self.eta(elapsed)),
        )
    }
}

/// `52s`, `3m07s`, `2h05m`, or `?` when not known yet.
fn eta_text(eta: Option<Duration>) -> String {
    let Some(eta) = eta else {
        return "?".to_owned();
    };
    let s = eta.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// How a backfill ended, for the last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every window walked.
    Finished,
    /// Interrupted (a signal) or failed before the last window.
    Stopped,
}

impl End {
    fn word(self) -> &'static str {
        match self {
            End::Finished => "finished",
            End::Stopped => "stopped",
        }
    }
}

/// Where the figures are shown: a terminal's bar or a log's lines.
pub trait View: Send {
    /// The figures changed (called often: a view decides itself when to draw).
    fn show(&mut self, figures: &Figures, elapsed: Duration);
    /// The last report, always shown.
    fn end(&mut self, figures: &Figures, elapsed: Duration, end: End);
}

/// The figures of one backfill and the view they are shown in. The backfill loop calls
/// the `on_*` methods as it goes and [`Progress::finish`] once at the end.
pub struct Progress {
    figures: Figures,
    started: Instant,
    view: Box<dyn View>,
}

impl Progress {
    pub fn new(view: Box<dyn View>) -> Self {
        Self {
            figures: Figures::default(),
            started: Instant::now(),
            view,
        }
    }

    /// A bar when stderr is a terminal, plain lines on stderr every [`LINE_INTERVAL`]
    /// otherwise.
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Self::new(Box::new(Bar::new()))
        } else {
            Self::new(Box::new(Lines::new(std::io::stderr(), LINE_INTERVAL)))
        }
    }

    #[cfg(test)]
    pub fn figures(&self) -> &Figures {
        &self.figures
    }

    /// Window `index` (counting from 0) of `total` starts.
    pub fn on_window(&mut self, index: u64, total: u64) {
        self.figures.windows_done = index;
        self.figures.windows_total = total;
        self.changed();
    }

    /// The window just started is walked to its end.
    pub fn on_window_done(&mut self) {
        self.figures.windows_done = (self.figures.windows_done + 1).min(self.figures.windows_total);
        self.changed();
    }

    /// The listing so far, counted over all windows.
    pub fn on_discovered(&mut self, listed: u64, new: u64) {
        self.figures.listed = listed;
        self.figures.new = new;
        self.changed();
    }

    /// One item's import came to `state`.
    pub fn on_item_state(&mut self, state: ItemState) {
        let n = match state {
            ItemState::Imported => &mut self.figures.imported,
            ItemState::Waiting => &mut self.figures.waiting,
            ItemState::Pending => &mut self.figures.pending,
            ItemState::Failed => &mut self.figures.failed,
        };
        *n += 1;
        self.changed();
    }

    /// The last report.
    pub fn finish(&mut self, end: End) {
        self.view.end(&self.figures, self.started.elapsed(), end);
    }

    fn changed(&mut self) {
        self.view.show(&self.figures, self.started.elapsed());
    }
}

/// Plain lines, one every `interval` and one at the end, with no terminal control codes.
pub struct Lines<W: Write + Send> {
    out: W,
    interval: Duration,
    /// When the last line was printed (the start, at first).
    last: Instant,
}

impl<W: Write + Send> Lines<W> {
    pub fn new(out: W, interval: Duration) -> Self {
        Self {
            out,
            interval,
            last: Instant::now(),
        }
    }

    /// What was written (for tests on an in-memory writer).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    fn print(&mut self, what: &str, figures: &Figures, elapsed: Duration) {
        // A log that cannot be written to must not stop the backfill.
        let _ = writeln!(self.out, "backfill {what}: {}", figures.line(elapsed));
        let _ = self.out.flush();
    }
}

impl<W: Write + Send> View for Lines<W> {
    fn show(&mut self, figures: &Figures, elapsed: Duration) {
        if self.last.elapsed() >= self.interval {
            self.last = Instant::now();
            self.print("progress", figures, elapsed);
        }
    }

    fn end(&mut self, figures: &Figures, elapsed: Duration, end: End) {
        self.print(end.word(), figures, elapsed);
    }
}

/// A bar on stderr, redrawn in place (at most a few times a second), cleared at the end
/// and replaced by one plain line with the last figures.
pub struct Bar {
    bar: indicatif::ProgressBar,
}

/// The bar's layout (ASCII only, so no width tables are needed).
///
/// The figures come last and are cut at the terminal's width (`wide_msg`): a line that
/// wrapped could not be redrawn in place.
const BAR_TEMPLATE: &str = "{spinner} backfill [{bar:20}] {pos}/{len} windows, {wide_msg}";

impl Bar {
    pub fn new() -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
        // The template is a constant: it parses (a unit test says so); the default style
        // is the fallback all the same.
        let style = indicatif::ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ")
            .tick_chars("|/-\\ ");
        bar.set_style(style);
        // The spinner and the elapsed time move even while one slow item is imported.
        bar.enable_steady_tick(Duration::from_millis(250));
        Self { bar }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl View for Bar {
    fn show(&mut self, figures: &Figures, elapsed: Duration) {
        self.bar.set_length(figures.windows_total);
        self.bar.set_position(figures.windows_done);
        self.bar.set_message(format!(
            "listed {} ({} new), imported {}, waiting {}, pending {}, failed {}, {:.1}/s, eta {}",
            figures.listed,
            figures.new,
            figures.imported,
            figures.waiting,
            figures.pending,
            figures.failed,
            figures.rate(elapsed),
            eta_text(figures.eta(elapsed)),
        ));
    }

    fn end(&mut self, figures: &Figures, elapsed: Duration, end: End) {
        self.bar.finish_and_clear();
        eprintln!("backfill {}: {}", end.word(), figures.line(elapsed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view that only records the figures it was shown.
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<Figures>>>);

    impl View for Seen {
        fn show(&mut self, figures: &Figures, _: Duration) {
            self.0.lock().unwrap().push(figures.clone());
        }
        fn end(&mut self, figures: &Figures, _: Duration, _: End) {
            self.0.lock().unwrap().push(figures.clone());
        }
    }

    #[test]
    fn the_loop_events_add_up_to_the_figures() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut p = Progress::new(Box::new(Seen(seen.clone())));
        p.on_window(0, 3);
        p.on_discovered(4, 3);
        for s in [
            ItemState::Imported,
            ItemState::Imported,
            ItemState::Waiting,
            ItemState::Failed,
        ] {
            p.on_item_state(s);
        }
        p.on_window_done();
        p.on_window(1, 3);
        p.on_discovered(6, 4);
        p.on_item_state(ItemState::Pending);
        p.on_window_done();
        p.finish(End::Stopped);
        let want = Figures {
            windows_done: 2,
            windows_total: 3,
            listed: 6,
            new: 4,
            imported: 2,
            waiting: 1,
            pending: 1,
            failed: 1,
        };
        assert_eq!(p.figures(), &want);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 12, "every event is shown, the end too");
        assert_eq!(seen.last(), Some(&want));
    }

    #[test]
    fn a_window_done_never_counts_past_the_total() {
        let mut p = Progress::new(Box::new(Lines::new(Vec::new(), LINE_INTERVAL)));
        p.on_window(0, 1);
        p.on_window_done();
        p.on_window_done();
        assert_eq!(p.figures().windows_done, 1);
    }

    #[test]
    fn plain_lines_have_a_stable_wording_and_no_control_codes() {
        let f = Figures {
            windows_done: 2,
            windows_total: 7,
            listed: 40,
            new: 38,
            imported: 30,
            waiting: 2,
            pending: 1,
            failed: 0,
        };
        let mut lines = Lines::new(Vec::new(), Duration::ZERO);
        lines.show(&f, Duration::from_secs(10));
        lines.end(&f, Duration::from_secs(10), End::Finished);
        let text = String::from_utf8(lines.into_inner()).unwrap();
        assert_eq!(
            text,
            "backfill progress: windows 2/7, listed 40, new 38, imported 30, waiting 2, pending 1, failed 0, 3.3 items/s, eta 25s\n\
             backfill finished: windows 2/7, listed 40, new 38, imported 30, waiting 2, pending 1, failed 0, 3.3 items/s, eta 25s\n"
        );
        assert!(!text.contains('\r') && !text.contains('\x1b'));
    }

    #[test]
    fn plain_lines_wait_for_their_interval_but_the_end_is_always_printed() {
        let mut lines = Lines::new(Vec::new(), Duration::from_secs(3600));
        let f = Figures::default();
        for _ in 0..100 {
            lines.show(&f, Duration::from_millis(1));
        }
        lines.end(&f, Duration::from_millis(1), End::Stopped);
        let text = String::from_utf8(lines.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("backfill stopped: windows 0/0,"), "{text}");
        assert!(text.trim_end().ends_with("eta ?"), "{text}");
    }

    #[test]
    fn the_eta_follows_the_pace_of_the_windows() {
        let f = Figures {
            windows_done: 1,
            windows_total: 4,
            ..Figures::default()
        };
        assert_eq!(f.eta(Duration::from_secs(20)), Some(Duration::from_secs(60)));
        assert_eq!(eta_text(Some(Duration::from_secs(187))), "3m07s");
        assert_eq!(eta_text(Some(Duration::from_secs(7500))), "2h05m");
    }

    #[test]
    fn the_bar_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }
}
