//! The loop `run` and `demo` share.
//!
//! It starts the monitor, runs every check once at once (so nothing waits a whole interval
//! to show a status), then shows what happens until a stop signal (Ctrl-C, SIGTERM) or the
//! end of `--for`: a status table redrawn every second when stdout is a terminal, one JSON
//! line per event otherwise. Then it stops scheduling and gives runs in flight
//! [`SHUTDOWN_GRACE`] to finish; a second signal cuts that short.

use monitor_core::bus::Subscription;
use monitor_core::Monitor;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::sync::mpsc;

use crate::failure::Failure;
use crate::output::{self, print_line, Order, Palette};

/// How long runs in flight may take to finish after a stop signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often the live table is redrawn.
const REDRAW_EVERY: Duration = Duration::from_secs(1);

/// The stop signals, listened to from the start so an early one is not lost.
pub struct Signals {
    /// Ctrl-C.
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    /// `kill`, systemd, docker stop.
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C elsewhere). Needs the runtime.
    pub fn install() -> Result<Signals, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let failed = |e: std::io::Error| Failure::runtime(format!("could not listen for signals: {e}"));
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
                terminate: signal(SignalKind::terminate()).map_err(failed)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next stop signal and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// What `run` or `demo` asks of the loop.
pub struct Watch {
    /// The first line of the live table (`upwatch · upwatch.toml`).
    pub title: String,
    /// A line under the title on a terminal, or on stderr with JSON output.
    pub intro: Option<String>,
    /// JSON lines even on a terminal.
    pub json: bool,
    /// `--for`: stop by itself after this long.
    pub stop_after: Option<Duration>,
    /// The order of rows in the table.
    pub order: Order,
    /// Run every check once at start, so the table is not "pending" until each check's
    /// first turn. Off for an agent on a database other agents may share: there only
    /// the lease holder runs checks, on their schedule.
    pub first_round: bool,
}

/// Why the loop ended.
enum Stop {
    /// A signal, by name.
    Signal(&'static str),
    /// `--for` ran out.
    Elapsed(Duration),
    /// Nobody reads stdout any more (a closed pipe).
    OutputClosed,
    /// The monitor went away.
    MonitorGone,
}

/// Runs the monitor until stopped. `events` must have been subscribed before the checks were
/// loaded, so the JSON lines begin with every `check_registered`.
pub async fn watch(
    monitor: &Monitor,
    mut events: Subscription,
    signals: &mut Signals,
    watch: Watch,
) -> Result<(), Failure> {
    let live = !watch.json && std::io::stdout().is_terminal();
    if !live {
        if let Some(intro) = &watch.intro {
            eprintln!("{intro}");
        }
    }
    monitor.start();
    let (first_round_done, mut first_round) = mpsc::channel::<()>(1);
    let round = monitor.clone();
    let run_first_round = watch.first_round;
    tokio::spawn(async move {
        if run_first_round {
            // With a database, wait until this agent holds the scheduler lease.
            for _ in 0..40 {
                if round.runs_checks() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = round.execute_checks(None).await;
        }
        let _ = first_round_done.send(()).await;
    });
    let deadline = async {
        match watch.stop_after {
            Some(d) => {
                tokio::time::sleep(d).await;
                d
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);

    let palette = Palette::for_stdout();
    let draw = |monitor: &Monitor, note: &str| -> std::io::Result<()> {
        let frame = output::live_frame(
            &monitor.status(),
            &watch.order,
            &watch.title,
            watch.intro.as_deref(),
            note,
            &palette,
        );
        let mut out = std::io::stdout().lock();
        out.write_all(output::redraw(&frame).as_bytes())?;
        out.flush()
    };

    let stop = if live {
        write_stdout(output::ENTER_LIVE);
        let mut tick = tokio::time::interval(REDRAW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                name = signals.recv() => break Stop::Signal(name),
                d = &mut deadline => break Stop::Elapsed(d),
                Some(()) = first_round.recv() => {}
                _ = tick.tick() => {}
            }
            if draw(monitor, "Ctrl-C to stop").is_err() {
                break Stop::OutputClosed;
            }
        }
    } else {
        loop {
            tokio::select! {
                name = signals.recv() => break Stop::Signal(name),
                d = &mut deadline => break Stop::Elapsed(d),
                delivery = events.recv() => match delivery {
                    Some(d) => if print_line(&output::event_line(&d)).is_err() {
                        break Stop::OutputClosed;
                    },
                    None => break Stop::MonitorGone,
                },
            }
        }
    };

    if live && !matches!(stop, Stop::OutputClosed) {
        let _ = draw(monitor, "stopping");
    }
    let finished = tokio::select! {
        _ = monitor.shutdown_within(SHUTDOWN_GRACE) => true,
        _ = signals.recv() => false,
    };
    if live {
        // The last state, with the results of the runs that finished during the shutdown.
        let _ = draw(monitor, "stopped");
        write_stdout(output::LEAVE_LIVE);
    } else if !matches!(stop, Stop::OutputClosed) {
        while let Some(d) = events.try_recv() {
            if print_line(&output::event_line(&d)).is_err() {
                break;
            }
        }
    }
    if !finished {
        return Err(Failure::interrupted());
    }
    match stop {
        Stop::Signal(name) => eprintln!("upwatch: stopped ({name})"),
        Stop::Elapsed(d) => eprintln!("upwatch: stopped after {}", humantime::format_duration(d)),
        Stop::OutputClosed => {}
        Stop::MonitorGone => return Err(Failure::runtime("the monitor stopped unexpectedly")),
    }
    Ok(())
}

/// Writes terminal control codes, ignoring errors (the terminal may be gone).
fn write_stdout(codes: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(codes.as_bytes());
    let _ = out.flush();
}
