//! The subcommands: `run`, `check`, `validate` and `demo`.

use monitor_core::bus::Filter;
use monitor_core::spec::Spec;
use monitor_core::store::writer::WriterConfig;
use monitor_core::store::Retention;
use monitor_core::{CheckKind, Monitor, Status};
use std::path::Path;
use std::process::ExitCode;
use upwatch_testbed::Testbed;

use crate::agent::{self, Signals, Watch};
use crate::failure::{io_message, Failure, EXIT_FAILED, EXIT_SPEC};
use crate::output::{self, print_line, Order, Palette};
use crate::{demo, CheckArgs, DemoArgs, RunArgs, ValidateArgs};

/// `upwatch run FILE`: monitors until stopped.
pub async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let mut signals = Signals::install()?;
    let spec = read_spec(&args.file)?;
    require_checks(&spec, &args.file)?;
    let order = Order::of(&spec);
    let history = WriterConfig {
        retention: Retention {
            raw: args.keep_raw,
            ..Retention::default()
        },
        retention_every: args.retention_every,
        ..WriterConfig::default()
    };
    let monitor = monitor_with(args.db.as_deref(), args.lease, history)?;
    let events = monitor.subscribe(Filter::default());
    monitor.load(spec).map_err(|e| Failure::load(&args.file, e))?;
    let watch = Watch {
        title: format!(
            "upwatch · {} · {}",
            args.file.display(),
            plural(order.checks.len(), "check")
        ),
        intro: None,
        json: args.json,
        stop_after: args.run_for,
        order,
        first_round: !monitor.is_shared(),
    };
    agent::watch(&monitor, events, &mut signals, watch).await?;
    Ok(ExitCode::SUCCESS)
}

/// A monitor keeping history in `db` (SQLite) or, without one, in memory.
fn monitor_with(db: Option<&Path>, lease: std::time::Duration, history: WriterConfig) -> Result<Monitor, Failure> {
    match db {
        None => Ok(Monitor::new()),
        Some(path) => Monitor::builder()
            .sqlite(path)
            .map(|b| b.lease_period(lease).writer(history).build())
            .map_err(|e| Failure::runtime(format!("{}: {e}", path.display()))),
    }
}

/// `upwatch check FILE`: runs every enabled check once; exit 1 if any is down.
pub async fn check(args: CheckArgs) -> Result<ExitCode, Failure> {
    let spec = read_spec(&args.file)?;
    require_checks(&spec, &args.file)?;
    let order = Order::of(&spec);
    let declared = spec.services.clone();
    let enabled: Vec<String> = spec
        .checks
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.name.clone())
        .collect();
    let disabled = spec.checks.len() - enabled.len();
    let monitor = Monitor::new();
    monitor.load(spec).map_err(|e| Failure::load(&args.file, e))?;
    let results = monitor
        .execute_checks(Some(&enabled))
        .await
        .map_err(|e| Failure::runtime(e.to_string()))?;

    if args.json {
        for r in &results {
            if print_line(&r.to_json().to_string()).is_err() {
                break;
            }
        }
    } else {
        let (rows, services) = output::result_rows(&results, &declared, &order);
        let mut lines = output::tables(&rows, &services, &Palette::for_stdout());
        if disabled > 0 {
            let verb = if disabled == 1 { "is" } else { "are" };
            lines.push(format!("({} {verb} disabled in the spec)", plural(disabled, "check")));
        }
        for line in lines {
            if print_line(&line).is_err() {
                break;
            }
        }
    }
    let down = results.iter().any(|r| r.status == Status::Down);
    Ok(ExitCode::from(if down { EXIT_FAILED } else { 0 }))
}

/// `upwatch validate FILE`: every problem with its path, or `ok: N checks, M services`.
pub fn validate(args: ValidateArgs) -> Result<ExitCode, Failure> {
    let spec = read_spec(&args.file)?;
    let order = Order::of(&spec);
    for c in &spec.checks {
        if matches!(c.kind, CheckKind::Callable(_)) {
            eprintln!(
                "upwatch: note: {:?} is a callable check; only an application embedding upwatch can run it",
                c.name
            );
        }
    }
    println!(
        "ok: {}, {}",
        plural(order.checks.len(), "check"),
        plural(order.services.len(), "service")
    );
    Ok(ExitCode::SUCCESS)
}

/// `upwatch demo`: starts the test targets and watches them like `run`.
pub async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let mut signals = Signals::install()?;
    let targets = Testbed::start()
        .await
        .map_err(|e| Failure::runtime(format!("could not start the demo's targets: {}", io_message(&e))))?;
    let spec = Spec::from_toml_str(&demo::spec(&targets))
        .map_err(|e| Failure::runtime(format!("the demo's spec is invalid (a bug in upwatch):\n{e}")))?;
    let order = Order::of(&spec);
    let monitor = monitor_with(
        Some(&args.db),
        monitor_core::monitor::DEFAULT_LEASE,
        WriterConfig::default(),
    )?;
    let events = monitor.subscribe(Filter::default());
    monitor
        .load(spec)
        .map_err(|e| Failure::runtime(format!("the demo's spec was refused (a bug in upwatch): {e}")))?;
    let heartbeats = tokio::spawn(demo::heartbeats(monitor.clone()));
    let watch = Watch {
        title: format!(
            "upwatch demo · {} against local test targets",
            plural(order.checks.len(), "check")
        ),
        intro: Some(demo::INTRO.to_string()),
        json: args.json,
        stop_after: args.run_for,
        order,
        // The demo owns its database: no other agent shares it.
        first_round: true,
    };
    let outcome = agent::watch(&monitor, events, &mut signals, watch).await;
    heartbeats.abort();
    drop(targets);
    let stats = monitor.history_stats();
    eprintln!(
        "upwatch: history in {} ({} results written this run)",
        args.db.display(),
        stats.written
    );
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Reads and validates a spec file.
fn read_spec(path: &Path) -> Result<Spec, Failure> {
    Spec::from_file(path).map_err(|e| Failure::spec(path, e))
}

/// Refuses to run a spec with no checks: a typo in a table name (`[[check]]`) makes one.
fn require_checks(spec: &Spec, path: &Path) -> Result<(), Failure> {
    if spec.checks.is_empty() {
        return Err(Failure {
            code: EXIT_SPEC,
            message: format!("{} has no checks (add a [[checks]] table)", path.display()),
        });
    }
    Ok(())
}

/// `1 check`, `3 checks`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
