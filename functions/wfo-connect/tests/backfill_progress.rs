//! `wfo-connect backfill` shows its progress: a bar on a terminal (driven here through a
//! pseudo-terminal), plain lines otherwise; Ctrl-C stops it cleanly with the command to
//! go on, and going on imports the rest once. The real binary against the simulators on
//! 127.0.0.1. (Here rather than in `tests/`: only this package's tests are told where
//! cargo built its binary, `CARGO_BIN_EXE_wfo-connect`.)

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use wfo_harness::{CONNECTOR_ID, Harness, HarnessConfig};

fn bin(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfo-connect"));
    cmd.arg("--state-dir").arg(state);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A harness (no webhook, no poller: only the backfill discovers) with one call of each
/// scenario in `scenarios`, the n-th `ago[n]` before now.
fn world(
    rt: &tokio::runtime::Runtime,
    state: &Path,
    faults: wfo_sim_webex::FaultConfig,
    calls: &[(&str, chrono::Duration)],
) -> (Harness, Vec<wfo_sim_webex::ScenarioInstance>) {
    let mut cfg = HarnessConfig::new(state.to_owned());
    cfg.webhook = false;
    cfg.poller_enabled = false;
    cfg.webex_faults = faults;
    let h = rt.block_on(Harness::start(cfg)).unwrap();
    rt.block_on(h.authorize()).unwrap();
    let now = Utc::now();
    let instances: Vec<_> = calls
        .iter()
        .map(|(scenario, ago)| h.instantiate(scenario, now - *ago).unwrap())
        .collect();
    rt.block_on(h.webex.publish_all(&instances));
    (h, instances)
}

fn three_calls() -> Vec<(&'static str, chrono::Duration)> {
    ["consult-transfer", "call-queue", "park-retrieve-same-user"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                *s,
                chrono::Duration::hours(3) - chrono::Duration::minutes(10 * i as i64),
            )
        })
        .collect()
}

/// Opens a pseudo-terminal of 120 columns: (the controller side, the terminal's side).
fn pty() -> (std::fs::File, std::fs::File) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let controller = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&controller).unwrap();
    unlockpt(&controller).unwrap();
    let name = ptsname(&controller, Vec::new()).unwrap();
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    rustix::termios::tcsetwinsize(
        &terminal,
        rustix::termios::Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    (std::fs::File::from(controller), terminal)
}

#[test]
fn on_a_terminal_backfill_draws_a_bar_and_ends_with_its_figures() {
    let rt = runtime();
    let state = tempfile::tempdir().unwrap();
    let (h, instances) = world(&rt, state.path(), Default::default(), &three_calls());
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    let from = (Utc::now() - chrono::Duration::hours(4)).to_rfc3339();
    let to = Utc::now().to_rfc3339();

    let (mut controller, terminal) = pty();
    let mut cmd = bin(state.path());
    cmd.args(["backfill", CONNECTOR_ID, "--from", &from, "--to", &to])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(terminal));
    let child = cmd.spawn().unwrap();
    // Only the child holds the terminal's side now: the controller reads to its end
    // (EIO on Linux once the child has exited).
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = controller.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let out = child.wait_with_output().unwrap();
    let screen = text(&reader.join().unwrap());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{screen}");

    assert!(
        screen.contains("] 0/1 windows, listed "),
        "the bar's template: {screen:?}"
    );
    assert!(screen.contains("\r"), "redrawn in place: {screen:?}");
    assert!(screen.contains("\x1b["), "terminal control codes: {screen:?}");
    assert!(
        screen.contains(&format!(
            "backfill finished: windows 1/1, listed {n}, new {n}, imported ",
            n = ids.len()
        )),
        "the figures stay once the bar is cleared: {screen:?}"
    );
    // The summary on stdout is as before.
    assert!(
        stdout.contains(&format!("{n} recordings listed, {n} new", n = ids.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains("pending (retried by `serve` or the next backfill)"),
        "{stdout}"
    );
    assert!(rt.block_on(h.wait_settled(&ids, Duration::from_secs(20))).is_empty());
    rt.block_on(h.shutdown());
}

#[test]
fn without_a_terminal_backfill_prints_plain_lines_with_the_same_figures() {
    let rt = runtime();
    let state = tempfile::tempdir().unwrap();
    let (h, instances) = world(&rt, state.path(), Default::default(), &three_calls());
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    // Three days back and an hour: three windows (the last one a day and an hour), two
    // of them empty.
    let from = (Utc::now() - chrono::Duration::hours(73)).to_rfc3339();
    let to = Utc::now().to_rfc3339();

    let out = bin(state.path())
        .args(["backfill", CONNECTOR_ID, "--from", &from, "--to", &to])
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "no terminal control codes in a log: {stderr:?}"
    );
    let last = stderr
        .lines()
        .rfind(|l| l.starts_with("backfill "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        last.starts_with(&format!(
            "backfill finished: windows 3/3, listed {n}, new {n}, imported ",
            n = ids.len()
        )),
        "{last}"
    );
    for figure in ["waiting ", "pending ", "failed ", " items/s, eta "] {
        assert!(last.contains(figure), "{last}");
    }
    assert!(
        stderr
            .lines()
            .filter(|l| l.starts_with("backfill "))
            .all(|l| l.starts_with("backfill progress: windows ") || l == last),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("{n} recordings listed, {n} new", n = ids.len())),
        "{stdout}"
    );
    assert!(rt.block_on(h.wait_settled(&ids, Duration::from_secs(20))).is_empty());
    rt.block_on(h.shutdown());
}

/// Ctrl-C mid-backfill: exit status 130, the command to go on printed (from the window
/// it stopped in); running that command imports the rest, each contact once.
#[test]
fn ctrl_c_stops_a_backfill_that_the_printed_command_finishes_without_duplicates() {
    stop_then_go_on(rustix::process::Signal::INT, 130);
}

/// SIGTERM (a service manager stopping it) is the same clean stop, with status 143.
#[test]
fn sigterm_stops_a_backfill_with_status_143_and_the_command_to_go_on() {
    stop_then_go_on(rustix::process::Signal::TERM, 143);
}

fn stop_then_go_on(signal: rustix::process::Signal, status: i32) {
    let rt = runtime();
    let state = tempfile::tempdir().unwrap();
    // A slow source, so the backfill is still walking when the signal comes.
    let faults = wfo_sim_webex::FaultConfig {
        slow: 1.0,
        slow_delay: Duration::from_millis(300),
        ..Default::default()
    };
    let scenarios = ["consult-transfer", "call-queue", "park-retrieve-same-user"];
    let calls: Vec<_> = (0..6)
        .map(|day| {
            (
                scenarios[day % 3],
                chrono::Duration::days(6 - day as i64) - chrono::Duration::hours(2),
            )
        })
        .collect();
    let (h, instances) = world(&rt, state.path(), faults, &calls);
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
    let from = Utc::now() - chrono::Duration::days(7);
    let to = Utc::now();
    let (from_arg, to_arg) = (from.to_rfc3339(), to.to_rfc3339());

    let child = bin(state.path())
        .args(["backfill", CONNECTOR_ID, "--from", &from_arg, "--to", &to_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once something has arrived in WFO, the backfill is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.wfo.contacts().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!h.wfo.contacts().is_empty(), "nothing imported in 60 s");
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(status), "{stdout}\n{stderr}");
    assert!(stderr.contains("\nbackfill stopped: windows "), "{stderr}");
    let command = stderr
        .lines()
        .find_map(|l| l.strip_prefix("backfill interrupted; continue with: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[0], "wfo-connect", "{command}");
    assert_eq!(
        &args[1..3],
        ["--state-dir", state.path().to_str().unwrap()],
        "{command}"
    );
    assert_eq!(&args[3..5], ["backfill", CONNECTOR_ID], "{command}");
    assert_eq!(args[5], "--from", "{command}");
    let resume_from = chrono::DateTime::parse_from_rfc3339(args[6]).unwrap();
    assert!(resume_from >= from && resume_from < to, "{command}");
    assert_eq!(args[7], "--to", "{command}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(args[8]).unwrap(),
        to,
        "the same end: {command}"
    );
    assert_eq!(args.len(), 9, "{command}");
    // The summary of what was done is still printed.
    assert!(stdout.contains(" recordings listed, "), "{stdout}");

    // Going on with exactly that command finishes the window.
    let rest: Output = Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(rest.status.success(), "{}\n{}", text(&rest.stdout), text(&rest.stderr));
    assert!(
        text(&rest.stderr).contains("backfill finished: windows "),
        "{}",
        text(&rest.stderr)
    );
    assert!(rt.block_on(h.wait_settled(&ids, Duration::from_secs(60))).is_empty());
    for inst in &instances {
        assert!(h.check(inst).is_empty(), "{}: {:?}", inst.scenario, h.check(inst));
    }
    rt.block_on(h.shutdown());
}
