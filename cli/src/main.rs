//! `upwatch`, the command-line agent of upwatch.
//!
//! It runs the checks of one spec file (`upwatch.toml`) with the embeddable engine,
//! [`monitor_core`]: live until stopped (`run`), once for cron and CI (`check`), or not at
//! all (`validate`). `demo` does what `run` does against test targets it starts itself on
//! 127.0.0.1, so it works offline.
//!
//! The modules: [`commands`] carries out each subcommand, [`agent`] is the loop `run` and
//! `demo` share (signals, `--for`, live table or JSON lines), [`output`] renders tables and
//! JSON, [`demo`] builds the demo's spec, and [`failure`] turns errors into short messages
//! and exit codes.

mod agent;
mod commands;
mod demo;
mod failure;
mod output;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use failure::Failure;

/// Examples and exit codes, shown at the end of `upwatch --help`.
const AFTER_HELP: &str = "\
Examples:
  upwatch demo                        watch checks against local test targets (no network needed)
  upwatch validate upwatch.toml       list every problem in a spec, each with its path
  upwatch check upwatch.toml          run every check once; exit 1 if any is down
  upwatch run upwatch.toml            monitor until Ctrl-C, with a live status table
  upwatch run upwatch.toml --json     the same, as one JSON event per line

Exit codes: 0 success, 1 a check is down (check) or the agent failed, 2 invalid spec or usage.";

/// Uptime checks from one spec file: HTTP(S), TLS certificates, DNS, TCP, ICMP and push heartbeats.
#[derive(Debug, Parser)]
#[command(name = "upwatch", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Monitor the checks of a spec until Ctrl-C or SIGTERM
    #[command(long_about = "\
Monitor the checks of a spec until Ctrl-C or SIGTERM.

Every check runs once at start, then every `interval`. On a terminal a status table is
redrawn every second; otherwise (or with --json) each event is printed as one JSON line
as it happens: check_succeeded, check_failed, check_status_changed,
service_status_changed, ... On a stop signal, runs in flight get 5 s to finish.")]
    Run(RunArgs),
    /// Run every check once; exit 1 if any is down (for cron and CI)
    #[command(long_about = "\
Run every check once, all at the same time, and print the results.

Exits 0 when no check is down, 1 when one is, 2 when the spec is invalid. Each check makes
one attempt: `retries` apply to `run` only.")]
    Check(CheckArgs),
    /// List every problem in a spec file, each with its path
    #[command(long_about = "\
List every problem in a spec file, one per line on stderr, each with its path
(`checks[2].expect.status: 700 is not an HTTP status`), and exit 2; or print
`ok: N checks, M services` and exit 0. Nothing is run.")]
    Validate(ValidateArgs),
    /// Watch checks against local test targets, some broken on purpose (works offline)
    #[command(long_about = "\
Start HTTP, HTTPS, DNS and TCP test targets on 127.0.0.1 inside this process, some broken
on purpose (a 500 route, a slow route, an expired and a soon-expiring certificate), and
monitor them exactly like `upwatch run` would, with a push heartbeat the demo sends
itself. Nothing leaves the machine.")]
    Demo(DemoArgs),
}

/// Arguments of `upwatch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The spec file (TOML; `.json` files are read as JSON)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON line per event instead of the live table
    #[arg(long)]
    pub json: bool,
    /// Stop by itself after this long (`30s`, `5m`, `1h 30m`)
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
    /// Keep history in this SQLite file (created if needed); without it, recent results stay in memory.
    /// Several agents may share one file: one of them runs the checks at a time
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// With a shared --db: how soon another agent takes over from one that died
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub lease: Duration,
    /// With --db: how long raw results are kept (rollups are kept longer)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "7d")]
    pub keep_raw: Duration,
    /// How often retention runs (for tests)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s", hide = true)]
    pub retention_every: Duration,
}

/// Arguments of `upwatch check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec file (TOML; `.json` files are read as JSON)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON line per result instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `upwatch validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spec file (TOML; `.json` files are read as JSON)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Arguments of `upwatch demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print one JSON line per event instead of the live table
    #[arg(long)]
    pub json: bool,
    /// Stop by itself after this long (`10s`, `2m`)
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<Duration>,
    /// The SQLite file that keeps the demo's history
    #[arg(long, value_name = "PATH", default_value = "upwatch-demo.db")]
    pub db: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::runtime(format!("could not start the async runtime: {e}")).report(),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => commands::run(args).await,
            Command::Check(args) => commands::check(args).await,
            Command::Validate(args) => commands::validate(args),
            Command::Demo(args) => commands::demo(args).await,
        }
    });
    // A check still in flight (a slow target) must not hold the exit up.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match outcome {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
