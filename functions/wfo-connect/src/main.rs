//! `wfo-connect`: the operator CLI and the one-machine runner (`specs/interfaces.md` §3).
//!
//! Exit status: 0 success; 1 failure of the job; 2 bad usage or invalid configuration;
//! 130 (SIGINT) or 143 (SIGTERM) a `backfill` stopped by that signal (see `backfill`).
//! Errors are one clear line on stderr naming what to fix.

mod aws_backend;
mod backfill;
mod check;
mod commands;
mod demo;
mod dlq;
mod progress;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `serve` runs many items at once on every core: glibc's allocator spent a fifth of the
/// worker threads' time in malloc and free under that load (the pipeline bench, which
/// uses the same allocator, measured it). The Lambda functions keep the system one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "wfo-connect",
    version,
    about = "Carry Webex recordings into Webex WFO as segmented contacts"
)]
pub struct Cli {
    /// Where the local backend keeps its embedded store and key file.
    #[arg(long, global = true, default_value = ".wfo-connect", env = "WFO_CONNECT_STATE_DIR")]
    pub state_dir: PathBuf,
    /// `local` (embedded store) or `aws` (a deployed stack; names from the environment).
    #[arg(long, global = true, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Log filter (RUST_LOG syntax), e.g. `info` or `wfo_pipeline=debug`.
    #[arg(long, global = true, env = "WFO_CONNECT_LOG")]
    pub log: Option<String>,
    /// Logs as JSON lines.
    #[arg(long, global = true)]
    pub json_logs: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Local,
    Aws,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every function in one process: HTTP routes, workers and schedules.
    Serve {
        /// A connector TOML file or a folder of them, added (or updated) at start.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The URL the source and operators reach this runner at.
        #[arg(long)]
        public_url: Option<String>,
        /// Timings for tests and soak runs (`fast`: short lease, retries and intervals).
        /// Not for production; hidden from the help.
        #[arg(long, hide = true, value_enum, default_value_t = Timing::Normal, env = "WFO_CONNECT_TIMING")]
        timing: Timing,
        /// The token `GET /status` requires (`Authorization: Bearer <token>` or
        /// `?token=`); without one the page is served on a loopback `--listen` only.
        /// Prefer the environment variable: a flag shows in the process list.
        #[arg(long, env = "WFO_CONNECT_OPERATOR_TOKEN", hide_env_values = true, value_parser = secret_arg)]
        operator_token: Option<wfo_domain::Secret>,
    },
    /// Manage connectors.
    Connector {
        #[command(subcommand)]
        action: ConnectorCmd,
    },
    /// Run the user sync once, now.
    Sync { id: String },
    /// Refresh OAuth tokens now (all connectors, or one).
    Refresh { id: Option<String> },
    /// Import every contact in a window; safe to repeat.
    ///
    /// With `--backend aws` the window's items are recorded and sent to the stack's import
    /// queue, and the command returns: the import worker imports them (watch `status`).
    Backfill {
        id: String,
        /// Start (RFC 3339, or YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// End, exclusive (RFC 3339, or YYYY-MM-DD).
        #[arg(long)]
        to: String,
    },
    /// Token health, cursors, pending and failed items, per connector.
    Status { id: Option<String> },
    /// The dead-letter queue(s): list what was set aside, replay it onto the work queue.
    Dlq {
        #[command(subcommand)]
        action: dlq::DlqCmd,
    },
    /// Offline: print the contacts that source payloads become.
    Segment {
        #[arg(long)]
        kind: String,
        /// This ACD's number in WFO (`acd_server_id`).
        #[arg(long, default_value_t = 1)]
        acd_server_id: i64,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Start the simulators on loopback, run the connector against them, play every
    /// complex-call scenario and print what arrived in WFO.
    Demo {
        /// Keep the demo's state here instead of a temporary folder.
        #[arg(long)]
        keep_state: Option<PathBuf>,
    },
}

/// How `serve` paces its leases, retries and loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Timing {
    /// The production timings.
    Normal,
    /// Short ones for tests and soak runs (see `commands::runtime_config`).
    Fast,
}

#[derive(Debug, Subcommand)]
pub enum ConnectorCmd {
    /// Add (or update) a connector from its TOML file.
    Add {
        file: PathBuf,
    },
    List,
    Show {
        id: String,
    },
    /// Preflight: try each permission the connector needs with harmless reads and print
    /// a checklist (exit 1 when any check fails).
    Check {
        id: String,
    },
    /// Print the Authorization URL operators open to (re-)authorize the connector.
    AuthUrl {
        id: String,
        /// The URL this runner is reached at (default: the one `serve` last announced).
        #[arg(long)]
        public_url: Option<String>,
    },
}

/// A failure with its exit code: 1 job failed, 2 usage/configuration.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn job(message: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
}

/// A secret argument: kept as a [`wfo_domain::Secret`] so `Debug` never prints it.
fn secret_arg(value: &str) -> Result<wfo_domain::Secret, String> {
    Ok(wfo_domain::Secret::new(value))
}

fn init_tracing(cli: &Cli) {
    let default = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log.clone().unwrap_or_else(|| default.to_owned()))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log (and `backfill`'s plain progress lines beside
        // it) carries no control codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cli.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    // Metric lines (EMF) are for a log shipper of `serve`; elsewhere stdout is for people.
    wfo_pipeline::metrics::set_stdout(matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
