//! The [`Monitor`]: what an application embeds. It holds the registered checks and
//! services, takes commands (register, update, delete, pause, resume, execute, push),
//! runs the scheduler, keeps the current state in memory and publishes events.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::deliver::NotifierFn;
use crate::alerts::rules::{AlertRule, MaintenanceWindow, NotifierSpec};
use crate::bus::{self, Bus, CallbackHandle, Cause, Command, Delivery, Event, Filter, Reply, RunReport, Subscription};
use crate::checks::callable::CallableFn;
use crate::checks::Prober;
use crate::result::{CheckResult, Status};
use crate::scheduler::{self, Slot};
use crate::spec::{CheckKind, CheckSpec, ServiceSpec, Spec, SpecError};
use crate::state::{service_status, CheckState, CheckStatus, ServiceStatus, StatusSnapshot};
use crate::store::writer::{Writer, WriterConfig};
use crate::store::{
    CheckMeta, HistoryQuery, MemoryStore, Page, SqliteStore, StatusChange, Store, StoreError, StoredError,
    StoredResult, Uptime,
};

/// Why a monitor operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The spec is invalid; every problem is listed with its path.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// No check has this name.
    #[error("no check named {name:?}")]
    UnknownCheck {
        /// The name asked for.
        name: String,
    },
    /// A check with this name is already registered.
    #[error("a check named {name:?} is already registered")]
    DuplicateCheck {
        /// The name.
        name: String,
    },
    /// `push` was called for a check that is not a push check.
    #[error("{name:?} is a {kind} check; only push checks take pushes")]
    NotAPushCheck {
        /// The check.
        name: String,
        /// Its kind.
        kind: String,
    },
    /// A `callable` check was registered without its function.
    #[error("{name:?} is a callable check: register it with its function")]
    MissingCallable {
        /// The check.
        name: String,
    },
    /// The monitor was shut down.
    #[error("the monitor is shut down")]
    ShutDown,
    /// History could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host could not be sampled.
    #[error("host stats: {message}")]
    Host {
        /// Why.
        message: String,
    },
    /// Another process holds the scheduler lease and refused or did not answer a forwarded command.
    #[error("forwarded to the scheduler process: {message}")]
    Forwarded {
        /// Its answer, or why there was none.
        message: String,
    },
}

/// Tuning of a [`Monitor`]; the defaults suit thousands of checks.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// Attempts in flight at once, across all checks.
    pub max_concurrency: usize,
    /// Attempts in flight at once against one host, so one slow host cannot starve the rest.
    pub max_per_host: usize,
    /// Events buffered for subscribers before the slowest start losing the oldest.
    pub event_buffer: usize,
    /// How long `shutdown()` waits for attempts in flight before cancelling them.
    pub shutdown_grace: Duration,
    /// How often the host is sampled (`host_sampled` events, Prometheus, `host` checks);
    /// `None` samples only when a host check runs.
    pub host_interval: Option<Duration>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            max_concurrency: 512,
            max_per_host: 32,
            event_buffer: bus::DEFAULT_EVENT_BUFFER,
            shutdown_grace: Duration::from_secs(10),
            host_interval: Some(Duration::from_secs(15)),
        }
    }
}

/// Builds a [`Monitor`].
///
/// ```
/// use monitor_core::Monitor;
/// let m = Monitor::builder().max_concurrency(256).max_per_host(8).build();
/// assert!(m.status().checks.is_empty());
/// ```
pub struct MonitorBuilder {
    config: MonitorConfig,
    store: Option<Arc<dyn Store>>,
    writer: WriterConfig,
    lease_period: Duration,
    clock: Option<crate::alerts::Clock>,
}

impl Default for MonitorBuilder {
    fn default() -> Self {
        MonitorBuilder {
            config: MonitorConfig::default(),
            store: None,
            writer: WriterConfig::default(),
            lease_period: crate::lease::DEFAULT_LEASE,
            clock: None,
        }
    }
}

pub use crate::lease::DEFAULT_LEASE;

/// Results each check keeps in memory when no database is configured.
pub const MEMORY_HISTORY_PER_CHECK: usize = 16;

impl MonitorBuilder {
    /// Attempts in flight at once (default 512).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.config.max_concurrency = n.max(1);
        self
    }

    /// Attempts in flight at once against one host (default 32).
    pub fn max_per_host(mut self, n: usize) -> Self {
        self.config.max_per_host = n.max(1);
        self
    }

    /// Events buffered per subscriber (default 4096).
    pub fn event_buffer(mut self, n: usize) -> Self {
        self.config.event_buffer = n;
        self
    }

    /// Grace period of `shutdown()` (default 10 s).
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.config.shutdown_grace = d;
        self
    }

    /// How often the host is sampled once started (default 15 s); `None` or zero turns the
    /// sampling off (host checks then sample when they run).
    ///
    /// ```
    /// use monitor_core::Monitor;
    /// use std::time::Duration;
    /// let every_5s = Monitor::builder().host_interval(Duration::from_secs(5)).build();
    /// let never = Monitor::builder().host_interval(None).build();
    /// # let _ = (every_5s, never);
    /// ```
    pub fn host_interval(mut self, every: impl Into<Option<Duration>>) -> Self {
        self.config.host_interval = every.into().filter(|d| !d.is_zero());
        self
    }

    /// Keeps history in a SQLite file (created if needed, migrated on open).
    pub fn sqlite(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        self.store = Some(Arc::new(SqliteStore::open(path)?));
        Ok(self)
    }

    /// Keeps history in this store (default: a memory ring of recent results per check).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// With a database shared by several processes: how long the scheduler lease lasts,
    /// so how soon another process takes over from one that died (default 10 s).
    pub fn lease_period(mut self, period: Duration) -> Self {
        self.lease_period = period.max(Duration::from_millis(400));
        self
    }

    /// Batching, queue bound and retention of the history writer.
    pub fn writer(mut self, config: WriterConfig) -> Self {
        self.writer = config;
        self
    }

    /// The wall clock the alert engine reads for maintenance windows (default: the
    /// system's). Tests give [`Clock::following_tokio`](crate::alerts::Clock::following_tokio).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use monitor_core::{alerts::Clock, Monitor};
    /// let m = Monitor::builder().clock(Clock::following_tokio("2026-12-05T01:59:00Z".parse().unwrap())).build();
    /// # drop(m); }
    /// ```
    pub fn clock(mut self, clock: crate::alerts::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The monitor. It runs nothing until [`Monitor::start`].
    pub fn build(self) -> Monitor {
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new(MEMORY_HISTORY_PER_CHECK)));
        // Each check's last settled status, so a change that happened while we were down is seen.
        let restored = match store.last_states() {
            Ok(states) => states
                .into_iter()
                .map(|(name, status, since)| (name, (status, since)))
                .collect(),
            Err(e) => {
                tracing::warn!("could not restore check states from history: {e}");
                HashMap::new()
            }
        };
        let bus = Bus::new(self.config.event_buffer);
        let failures = bus.clone();
        let writer = Writer::start(
            store.clone(),
            self.writer,
            Box::new(move |message| {
                tracing::warn!("history writer: {message}");
                failures.publish(Event::HistoryFailed {
                    message,
                    at: Utc::now(),
                });
            }),
        );
        let (schedule_tx, schedule_rx) = mpsc::unbounded_channel();
        let scheduler_stop = CancellationToken::new();
        let alerting_stop = scheduler_stop.child_token();
        let alerting = Arc::new(crate::alerts::engine::Alerting::new(
            self.clock.unwrap_or_else(crate::alerts::Clock::system),
            store.clone(),
        ));
        // Mutes kept in the store (asked of any process on it) hold from the start.
        alerting.adopt_stored_mutes();
        Monitor {
            inner: Arc::new(Inner {
                global: Arc::new(Semaphore::new(self.config.max_concurrency)),
                per_host: Mutex::new(HashMap::new()),
                bus,
                leadership: crate::lease::Leadership::new(store.shared(), self.lease_period),
                store,
                writer,
                restored: Mutex::new(restored),
                prober: Prober::new(),
                registry: Mutex::new(Registry::default()),
                schedule_tx,
                schedule_rx: Mutex::new(Some(schedule_rx)),
                scheduler_stop,
                runs_cancel: CancellationToken::new(),
                tracker: TaskTracker::new(),
                config: self.config,
                alerting,
                _alerting_guard: alerting_stop.clone().drop_guard(),
                alerting_stop,
            }),
        }
    }
}

/// The embeddable monitoring engine.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use monitor_core::{bus::Filter, spec::Spec, Monitor};
/// let m = Monitor::new();
/// m.load(Spec::from_file("upwatch.toml")?)?;
/// let mut events = m.subscribe(Filter::default());
/// m.start();
/// while let Some(delivery) = events.recv().await {
///     println!("{delivery:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Monitor {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: MonitorConfig,
    pub(crate) prober: Prober,
    pub(crate) bus: Bus,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) global: Arc<Semaphore>,
    pub(crate) per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub(crate) schedule_tx: mpsc::UnboundedSender<Slot>,
    schedule_rx: Mutex<Option<mpsc::UnboundedReceiver<Slot>>>,
    /// Stops the scheduler loop (no new runs).
    pub(crate) scheduler_stop: CancellationToken,
    /// Cancels attempts in flight (after the shutdown grace).
    pub(crate) runs_cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// Where history goes.
    pub(crate) store: Arc<dyn Store>,
    /// Whether this process may run checks (the lease on a shared store).
    pub(crate) leadership: crate::lease::Leadership,
    /// The thread that writes history in batches.
    writer: Writer,
    /// Settled statuses read back from history, waiting for their checks to register.
    restored: Mutex<HashMap<String, (Status, DateTime<Utc>)>>,
    /// Alert rules, notifiers, maintenance, mutes and the outbox.
    pub(crate) alerting: Arc<crate::alerts::engine::Alerting>,
    /// Stops the alert engine and the outbox: a child of `scheduler_stop`, also cancelled
    /// when the monitor is dropped (through the guard).
    alerting_stop: CancellationToken,
    _alerting_guard: tokio_util::sync::DropGuard,
}

/// The checks and services, by name.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) checks: BTreeMap<Arc<str>, Entry>,
    services: BTreeMap<String, ServiceEntry>,
    started: bool,
    shut_down: bool,
}

/// One registered check.
pub(crate) struct Entry {
    pub(crate) spec: Arc<CheckSpec>,
    pub(crate) callable: Option<CallableFn>,
    /// Bumped when the spec is replaced: results of older runs are dropped.
    pub(crate) generation: u64,
    /// Bumped when the schedule changes (pause, resume, update): older slots are dropped.
    pub(crate) slot: u64,
    pub(crate) paused: bool,
    pub(crate) state: CheckState,
    since: Option<DateTime<Utc>>,
    /// The start of the status restored from history (while `since` still equals it, the
    /// status is the restored one).
    restored_since: Option<DateTime<Utc>>,
    pub(crate) running: Option<CancellationToken>,
    last: Option<Arc<CheckResult>>,
    /// When the check's open incident started (it is down, or degraded after being down).
    incident: Option<DateTime<Utc>>,
    /// This check's host's concurrency limit, looked up once.
    pub(crate) host_limit: Option<Arc<Semaphore>>,
    runs: u64,
    failures: u64,
    pub(crate) skipped: u64,
}

#[derive(Default)]
struct ServiceEntry {
    critical: Option<Vec<String>>,
    description: Option<String>,
    status: Option<Status>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

impl Monitor {
    /// A monitor with default settings.
    pub fn new() -> Monitor {
        MonitorBuilder::default().build()
    }

    /// Configures a monitor.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::default()
    }

    /// Registers every check and declares every service of a spec; all or nothing. Its
    /// notifiers, alert rules and maintenance windows are added (replacing those of the
    /// same name).
    pub fn load(&self, spec: Spec) -> Result<(), MonitorError> {
        for s in spec.services {
            self.declare_service(s);
        }
        self.register_many(spec.checks)?;
        self.inner
            .alerting
            .configure(spec.notifiers, spec.alerts, spec.maintenance);
        Ok(())
    }

    /// Holds back alerts about a check, or the checks of a service, for `duration` (they
    /// still run and are stored, flagged `maintenance`). A down alert whose `for` ran out
    /// meanwhile fires when the mute ends, if the check is still down then. With a shared
    /// database the mute is kept in it and sent to the process that runs the checks, so it
    /// holds whichever process was asked, and after a restart.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let m = monitor_core::Monitor::new();
    /// m.mute("backend", std::time::Duration::from_secs(30 * 60)).await.unwrap();
    /// assert_eq!(m.alerting().mutes[0].target, "backend");
    /// m.unmute("backend").await.unwrap();
    /// assert!(m.alerting().mutes.is_empty());
    /// # }
    /// ```
    pub async fn mute(&self, target: &str, duration: Duration) -> Result<(), MonitorError> {
        let until = Utc::now() + chrono::Duration::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        self.mute_until(target, Some(until)).await
    }

    /// Ends a mute early.
    pub async fn unmute(&self, target: &str) -> Result<(), MonitorError> {
        self.mute_until(target, None).await
    }

    async fn mute_until(&self, target: &str, until: Option<DateTime<Utc>>) -> Result<(), MonitorError> {
        let command = Command::Mute {
            target: target.to_string(),
            until,
        };
        if self.inner.leadership.forwards() {
            crate::lease::forward(&self.inner, &command).await?;
            // Shown by this process's `alerting()` too.
            self.inner.alerting.mute(target, until);
            return Ok(());
        }
        self.execute_here(command).await.map(|_| ())
    }

    /// Adds a notifier, or replaces the one of the same name. A `callable` notifier also
    /// needs its function ([`Monitor::set_notifier_function`]) in the process that sends.
    pub fn add_notifier(&self, spec: NotifierSpec) {
        self.inner.alerting.configure(vec![spec], vec![], vec![]);
    }

    /// Registers (or replaces) the function of a `callable` notifier in this process.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use monitor_core::alerts::{deliver::notifier_function, rules::NotifierSpec};
    /// let m = monitor_core::Monitor::new();
    /// m.add_notifier(NotifierSpec::from_value(serde_json::json!({"name": "log", "kind": "callable"})).unwrap());
    /// m.set_notifier_function("log", notifier_function(|a| async move {
    ///     eprintln!("{}", a.message);
    ///     Ok(())
    /// }));
    /// assert!(m.alerting().notifiers[0].function);
    /// # }
    /// ```
    pub fn set_notifier_function(&self, name: &str, f: NotifierFn) {
        self.inner.alerting.set_function(name, Some(f));
    }

    /// Adds an alert rule, or replaces the one of the same name. Every name in its
    /// `notify` must be a notifier already added.
    ///
    /// ```
    /// use monitor_core::alerts::rules::AlertRule;
    /// let m = monitor_core::Monitor::new();
    /// let r = AlertRule::from_value(serde_json::json!({"name": "api", "notify": ["ops"]})).unwrap();
    /// let err = m.add_alert_rule(r).unwrap_err();
    /// assert!(err.to_string().contains("notify[0]: \"ops\" is not a notifier"));
    /// ```
    pub fn add_alert_rule(&self, rule: AlertRule) -> Result<(), MonitorError> {
        let config = self.inner.alerting.config();
        let problems: Vec<crate::spec::Problem> = rule
            .notify
            .iter()
            .enumerate()
            .filter(|(_, n)| !config.notifiers.contains_key(n.as_str()))
            .map(|(i, n)| crate::spec::Problem {
                path: format!("notify[{i}]"),
                message: format!("{n:?} is not a notifier"),
            })
            .collect();
        if !problems.is_empty() {
            return Err(SpecError::Invalid(problems).into());
        }
        self.inner.alerting.configure(vec![], vec![rule], vec![]);
        Ok(())
    }

    /// Adds a maintenance window, or replaces the one of the same name.
    pub fn add_maintenance(&self, window: MaintenanceWindow) {
        self.inner.alerting.configure(vec![], vec![], vec![window]);
    }

    /// Removes a notifier (alerts queued for it are dropped); whether it existed.
    pub fn remove_notifier(&self, name: &str) -> bool {
        self.inner.alerting.remove(&[name], &[], &[]) > 0
    }

    /// Removes an alert rule; whether it existed.
    pub fn remove_alert_rule(&self, name: &str) -> bool {
        self.inner.alerting.remove(&[], &[name], &[]) > 0
    }

    /// Removes a maintenance window; whether it existed.
    pub fn remove_maintenance(&self, name: &str) -> bool {
        self.inner.alerting.remove(&[], &[], &[name]) > 0
    }

    /// The notifiers (without their secrets), rules, maintenance windows and mutes in force.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let m = monitor_core::Monitor::new();
    /// m.mute("api", std::time::Duration::from_secs(60)).await.unwrap();
    /// assert_eq!(m.alerting().mutes[0].target, "api");
    /// # }
    /// ```
    pub fn alerting(&self) -> crate::alerts::AlertingView {
        let a = &self.inner.alerting;
        let config = a.config();
        let now = a.clock.now();
        let mut notifiers: Vec<crate::alerts::NotifierView> = config
            .notifiers
            .values()
            .map(|n| crate::alerts::NotifierView {
                name: n.spec.name.clone(),
                kind: n.spec.kind,
                function: a.function(&n.spec.name).is_some(),
                timeout_ms: n.spec.timeout.as_millis() as u64,
                max_attempts: n.spec.max_attempts,
            })
            .collect();
        notifiers.sort_by(|x, y| x.name.cmp(&y.name));
        crate::alerts::AlertingView {
            notifiers,
            rules: config.rules.iter().map(|r| (**r).clone()).collect(),
            maintenance: config
                .maintenance
                .iter()
                .map(|w| crate::alerts::MaintenanceView {
                    active: w.active_at(now),
                    window: w.clone(),
                })
                .collect(),
            mutes: self.mutes_in_force(),
        }
    }

    /// This process's mutes, and with a shared database also those asked of the others.
    fn mutes_in_force(&self) -> Vec<crate::alerts::MuteView> {
        let mut left: BTreeMap<String, Duration> = self.inner.alerting.mutes().into_iter().collect();
        if self.inner.store.shared() {
            let now = Utc::now();
            match self.inner.store.mutes(now) {
                Ok(stored) => {
                    for (target, until) in stored {
                        let d = (until - now).to_std().unwrap_or_default();
                        let e = left.entry(target).or_default();
                        *e = (*e).max(d);
                    }
                }
                Err(e) => tracing::warn!("reading the mutes kept in the store failed: {e}"),
            }
        }
        left.into_iter()
            .map(|(target, d)| crate::alerts::MuteView {
                target,
                remaining_ms: d.as_millis() as u64,
            })
            .collect()
    }

    /// Alert counters, set-up and outbox in one answer (what an alerts endpoint shows).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let m = monitor_core::Monitor::new();
    /// let report = m.alerts_report();
    /// assert_eq!(report.status.fired, 0);
    /// assert!(report.alerting.rules.is_empty() && report.pending.is_empty());
    /// # }
    /// ```
    pub fn alerts_report(&self) -> crate::alerts::AlertsReport {
        crate::alerts::AlertsReport {
            status: self.inner.alerting.status(self.inner.leadership.may_run()),
            alerting: self.alerting(),
            pending: self.pending_alerts(),
        }
    }

    /// Alerts waiting in the outbox (this process's queues), oldest first.
    pub fn pending_alerts(&self) -> Vec<crate::alerts::deliver::PendingDelivery> {
        self.inner.alerting.outbox.pending()
    }

    /// Declares (or redeclares) a service: its description and critical checks.
    pub fn declare_service(&self, service: ServiceSpec) {
        let mut reg = self.inner.lock();
        let entry = reg.services.entry(service.name.clone()).or_default();
        entry.critical = service.critical;
        entry.description = service.description;
        drop(reg);
        self.inner.refresh_service(
            &service.name,
            Cause {
                check: String::new(),
                status: None,
            },
        );
    }

    /// Registers one check. A `callable` check needs [`Monitor::register_callable`].
    pub fn register(&self, spec: CheckSpec) -> Result<(), MonitorError> {
        self.register_many(vec![spec])
    }

    /// Registers a `callable` check with its function.
    pub fn register_callable(&self, spec: CheckSpec, f: CallableFn) -> Result<(), MonitorError> {
        self.inner.register(vec![(spec, Some(f))])
    }

    /// Registers several checks; if any is refused (duplicate name, missing function), none is.
    pub fn register_many(&self, specs: Vec<CheckSpec>) -> Result<(), MonitorError> {
        self.inner.register(specs.into_iter().map(|s| (s, None)).collect())
    }

    /// Replaces a check's spec (matched by name), keeping its status and counters.
    pub fn update(&self, spec: CheckSpec) -> Result<(), MonitorError> {
        self.inner.update(spec, None)
    }

    /// Replaces a callable check's spec and function.
    pub fn update_callable(&self, spec: CheckSpec, f: CallableFn) -> Result<(), MonitorError> {
        self.inner.update(spec, Some(f))
    }

    /// Removes a check; an attempt in flight is cancelled.
    pub fn delete(&self, name: &str) -> Result<(), MonitorError> {
        self.inner.delete(name)
    }

    /// Stops scheduling a check; its status and last result are kept.
    pub fn pause(&self, name: &str) -> Result<(), MonitorError> {
        self.inner.set_paused(name, true)
    }

    /// Schedules a paused check again.
    pub fn resume(&self, name: &str) -> Result<(), MonitorError> {
        self.inner.set_paused(name, false)
    }

    /// Runs the named checks (all checks for `None`) now, once each, and returns
    /// their results in the order asked. Results count like scheduled ones.
    pub async fn execute_checks(&self, names: Option<&[String]>) -> Result<Vec<CheckResult>, MonitorError> {
        if self.inner.leadership.forwards() {
            let command = Command::ExecuteChecks {
                checks: names.map(<[String]>::to_vec),
            };
            return match crate::lease::forward(&self.inner, &command).await? {
                Reply::Results { results } => Ok(results),
                Reply::Done => Ok(Vec::new()),
            };
        }
        let targets = {
            let reg = self.inner.lock();
            if reg.shut_down {
                return Err(MonitorError::ShutDown);
            }
            let names: Vec<String> = match names {
                Some(n) => n.to_vec(),
                None => reg.checks.keys().map(|k| k.to_string()).collect(),
            };
            let mut targets = Vec::with_capacity(names.len());
            for name in names {
                let entry = reg
                    .checks
                    .get(name.as_str())
                    .ok_or(MonitorError::UnknownCheck { name: name.clone() })?;
                targets.push((
                    name,
                    entry.generation,
                    entry.spec.clone(),
                    entry.callable.clone(),
                    entry.host_limit.clone(),
                ));
            }
            targets
        };
        let runs = targets.into_iter().map(|(name, generation, spec, callable, host)| {
            let inner = self.inner.clone();
            async move {
                let mut result = Arc::new(scheduler::attempt(&inner, &spec, callable.as_ref(), host.as_deref()).await);
                inner.apply_result(&name, generation, &mut result, 1, None);
                Arc::unwrap_or_clone(result)
            }
        });
        Ok(futures_util::future::join_all(runs).await)
    }

    /// Records a heartbeat for a push check and returns its fresh result.
    pub async fn push(&self, name: &str, ok: bool, message: Option<String>) -> Result<CheckResult, MonitorError> {
        self.heartbeat(name, ok, message, None).await
    }

    /// Records a result the application observed in its own traffic (a request it served or
    /// made) on a push check, with the duration it measured, and returns the check's result.
    ///
    /// ```no_run
    /// # async fn demo(m: monitor_core::Monitor) -> Result<(), monitor_core::MonitorError> {
    /// use std::time::Duration;
    /// let result = m.record("payments-api", false, Some("HTTP 502".into()), Duration::from_millis(812)).await?;
    /// assert_eq!(result.duration_ms, 812.0);
    /// # Ok(()) }
    /// ```
    pub async fn record(
        &self,
        name: &str,
        ok: bool,
        message: Option<String>,
        duration: Duration,
    ) -> Result<CheckResult, MonitorError> {
        self.heartbeat(name, ok, message, Some(duration)).await
    }

    async fn heartbeat(
        &self,
        name: &str,
        ok: bool,
        message: Option<String>,
        duration: Option<Duration>,
    ) -> Result<CheckResult, MonitorError> {
        if self.inner.leadership.forwards() {
            let command = Command::Push {
                check: name.to_string(),
                ok,
                message,
                duration_ms: duration.map(crate::result::ms),
            };
            return match crate::lease::forward(&self.inner, &command).await? {
                Reply::Results { mut results } if !results.is_empty() => Ok(results.remove(0)),
                other => Err(MonitorError::Forwarded {
                    message: format!("unexpected reply {other:?}"),
                }),
            };
        }
        {
            let reg = self.inner.lock();
            let entry = reg
                .checks
                .get(name)
                .ok_or(MonitorError::UnknownCheck { name: name.to_string() })?;
            if !matches!(entry.spec.kind, CheckKind::Push(_)) {
                let kind = entry.spec.kind_name().to_string();
                return Err(MonitorError::NotAPushCheck {
                    name: name.to_string(),
                    kind,
                });
            }
        }
        match duration {
            Some(d) => self.inner.prober.record(name, ok, message, d),
            None => self.inner.prober.push(name, ok, message),
        }
        let mut results = self.execute_checks(Some(&[name.to_string()])).await?;
        Ok(results.remove(0))
    }

    /// Carries out a [`Command`] (what bindings send as JSON). In a process that does not
    /// hold the scheduler lease of a shared database, it is forwarded to the one that does.
    pub async fn execute(&self, command: Command) -> Result<Reply, MonitorError> {
        if self.inner.leadership.forwards() {
            if let Command::RegisterCheck { spec } | Command::UpdateCheck { spec } = &command {
                // Known here too, so this process can report on it.
                let check = CheckSpec::from_value(spec.clone())?;
                let _ = self.inner.update(check.clone(), None).or_else(|_| self.register(check));
            }
            return crate::lease::forward(&self.inner, &command).await;
        }
        self.execute_here(command).await
    }

    /// Carries out a command in this process.
    pub(crate) async fn execute_here(&self, command: Command) -> Result<Reply, MonitorError> {
        match command {
            Command::RegisterCheck { spec } => {
                // Idempotent: a check several processes register is updated, not refused.
                let check = CheckSpec::from_value(spec)?;
                let known = self.inner.lock().checks.contains_key(check.name.as_str());
                if known {
                    self.update(check)
                } else {
                    self.register(check)
                }
                .map(|_| Reply::Done)
            }
            Command::UpdateCheck { spec } => self.update(CheckSpec::from_value(spec)?).map(|_| Reply::Done),
            Command::DeleteCheck { check } => self.delete(&check).map(|_| Reply::Done),
            Command::PauseCheck { check } => self.pause(&check).map(|_| Reply::Done),
            Command::ResumeCheck { check } => self.resume(&check).map(|_| Reply::Done),
            Command::ExecuteChecks { checks } => self
                .execute_checks(checks.as_deref())
                .await
                .map(|results| Reply::Results { results }),
            Command::Push {
                check,
                ok,
                message,
                duration_ms,
            } => self
                .heartbeat(
                    &check,
                    ok,
                    message,
                    duration_ms.map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)),
                )
                .await
                .map(|r| Reply::Results { results: vec![r] }),
            Command::Mute { target, until } => {
                self.inner.alerting.mute(&target, until);
                // Kept in the store, so a process that takes the lease over, or this one after
                // a restart, holds the same alerts back.
                let store = self.inner.store.clone();
                tokio::task::spawn_blocking(move || store.set_mute(&target, until))
                    .await
                    .map_err(|e| MonitorError::Store(StoreError::Database(e.to_string())))??;
                Ok(Reply::Done)
            }
        }
    }

    /// Subscribes to events passing `filter`, from now on.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        self.inner.bus.subscribe(filter)
    }

    /// Calls `callback` for every event passing `filter`, on a thread of its own, until
    /// the handle is dropped.
    pub fn on<F>(&self, filter: Filter, callback: F) -> CallbackHandle
    where
        F: Fn(Delivery) + Send + 'static,
    {
        bus::spawn_callback(self.subscribe(filter), callback)
    }

    /// Starts scheduling on the current tokio runtime. Calling it again does nothing.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(&self) {
        let Some(rx) = self.inner.schedule_rx.lock().expect("monitor poisoned").take() else {
            return;
        };
        let now = tokio::time::Instant::now();
        {
            let mut reg = self.inner.lock();
            reg.started = true;
            for (name, e) in &reg.checks {
                if !e.paused && e.spec.enabled {
                    let due = scheduler::first_due(name, e.spec.interval, now);
                    let _ = self.inner.schedule_tx.send(Slot::new(name.clone(), e.slot, due));
                }
            }
        }
        let inner = self.inner.clone();
        tokio::spawn(scheduler::run_loop(inner, rx));
        // Alerting: the rule engine subscribes now, so no event after start is missed.
        {
            let sub = self.inner.bus.subscribe(crate::alerts::engine::filter());
            // Ends at shutdown, or when the monitor is dropped.
            let stop = self.inner.alerting_stop.clone();
            let weak = Arc::downgrade(&self.inner);
            let may_send: Arc<dyn Fn() -> bool + Send + Sync> =
                Arc::new(move || weak.upgrade().is_some_and(|i| i.leadership.may_run()));
            let w = Arc::downgrade(&self.inner);
            let publish: crate::alerts::engine::Publish = Arc::new(move |e| {
                if let Some(i) = w.upgrade() {
                    i.bus.publish(e);
                }
            });
            let w = Arc::downgrade(&self.inner);
            let snapshot: crate::alerts::engine::Snapshot = Arc::new(move |only: Option<&str>| {
                let Some(inner) = w.upgrade() else { return Vec::new() };
                let reg = inner.lock();
                reg.checks
                    .iter()
                    .filter(|(name, _)| only.is_none_or(|o| o == &name[..]))
                    .map(|(name, e)| crate::alerts::engine::Settled {
                        check: name.to_string(),
                        service: e.spec.service.clone(),
                        tags: e.spec.tags.clone(),
                        status: e.state.status,
                        since: e.since,
                        restored: e.since.is_some() && e.since == e.restored_since,
                    })
                    .collect()
            });
            tokio::spawn(crate::alerts::engine::run(
                self.inner.alerting.clone(),
                publish.clone(),
                sub,
                self.inner.prober.host_board().clone(),
                may_send.clone(),
                snapshot,
                stop.clone(),
            ));
            tokio::spawn(crate::alerts::deliver::run(
                self.inner.alerting.clone(),
                publish,
                self.inner.prober.clone(),
                may_send,
                stop,
            ));
        }
        if self.inner.leadership.shared {
            self.inner
                .leadership
                .started
                .store(true, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(crate::lease::lease_loop(self.inner.clone()));
        }
        if self.inner.config.host_interval.is_some() {
            // Host samples go to history like results: the store subscribes to the bus.
            let mut samples = self
                .inner
                .bus
                .subscribe(Filter::default().kinds([crate::bus::EventKind::HostSampled]));
            // Holds the monitor weakly, so dropping the monitor ends it (and closes the bus).
            let inner = Arc::downgrade(&self.inner);
            let stop = self.inner.scheduler_stop.clone();
            tokio::spawn(async move {
                loop {
                    let delivery = tokio::select! {
                        _ = stop.cancelled() => break,
                        d = samples.recv() => d,
                    };
                    match delivery {
                        None => break,
                        Some(Delivery::Event(e)) => {
                            if let (Event::HostSampled(snapshot), Some(inner)) = (&*e, inner.upgrade()) {
                                inner.writer.host(snapshot.clone());
                            }
                        }
                        Some(Delivery::Lagged { .. }) => {}
                    }
                }
            });
        }
        if let Some(every) = self.inner.config.host_interval {
            let (board, bus) = (self.inner.prober.host_board().clone(), self.inner.bus.clone());
            let stop = self.inner.scheduler_stop.clone();
            tokio::spawn(crate::host::sample_loop(board, bus, every, stop));
        }
    }

    /// Stops scheduling, waits up to the shutdown grace for attempts in flight, then
    /// cancels the rest. The monitor refuses new checks afterwards.
    pub async fn shutdown(&self) {
        self.shutdown_within(self.inner.config.shutdown_grace).await
    }

    /// [`Monitor::shutdown`] with an explicit grace period.
    pub async fn shutdown_within(&self, grace: Duration) {
        self.inner.lock().shut_down = true;
        self.inner.scheduler_stop.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait()).await.is_err() {
            self.inner.runs_cancel.cancel();
            self.inner.tracker.wait().await;
        }
        // Everything that finished is written before shutdown returns, and the lease is
        // given up so another process takes over at once.
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            inner.writer.close();
            if inner.leadership.shared && inner.leadership.may_run() {
                let _ = inner.store.release_lease(&inner.leadership.holder);
            }
        })
        .await;
    }

    /// Every check's latest result and settled status, and every service's status.
    pub fn status(&self) -> StatusSnapshot {
        let reg = self.inner.lock();
        let checks = reg
            .checks
            .iter()
            .map(|(name, e)| CheckStatus {
                check: name.to_string(),
                service: e.spec.service.clone(),
                kind: e.spec.kind_name().to_string(),
                tags: e.spec.tags.clone(),
                status: e.state.status,
                paused: e.paused || !e.spec.enabled,
                consecutive_failures: e.state.consecutive_failures,
                since: e.since,
                runs: e.runs,
                failures: e.failures,
                skipped: e.skipped,
                last_result: e.last.as_deref().cloned(),
            })
            .collect();
        let services = reg
            .services
            .iter()
            .map(|(name, s)| ServiceStatus {
                service: name.clone(),
                status: s.status,
                checks: reg
                    .checks
                    .iter()
                    .filter(|(_, e)| e.spec.service.as_deref() == Some(name))
                    .map(|(n, _)| n.to_string())
                    .collect(),
                critical: s.critical.clone(),
                description: s.description.clone(),
            })
            .collect();
        StatusSnapshot {
            at: Utc::now(),
            checks,
            services,
            history: self.inner.writer.stats(),
            alerts: self.inner.alerting.status(self.inner.leadership.may_run()),
        }
    }

    /// Raw results, newest first, one page (from the SQLite file, or the memory ring).
    ///
    /// ```no_run
    /// # async fn demo(m: monitor_core::Monitor) -> Result<(), monitor_core::MonitorError> {
    /// use monitor_core::store::HistoryQuery;
    /// let page = m.history(HistoryQuery::default().check("api").since_ago(std::time::Duration::from_secs(86_400))).await?;
    /// for r in &page.items { println!("{} {} {}", r.at, r.status, r.duration_ms); }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self, query: HistoryQuery) -> Result<Page<StoredResult>, MonitorError> {
        self.read(move |s| s.history(&query)).await
    }

    /// The latest stored result of each check matching the query's filters.
    pub async fn latest(&self, query: HistoryQuery) -> Result<Vec<StoredResult>, MonitorError> {
        self.read(move |s| s.latest(&query)).await
    }

    /// Settled status changes, newest first, one page.
    pub async fn status_changes(&self, query: HistoryQuery) -> Result<Page<StatusChange>, MonitorError> {
        self.read(move |s| s.status_changes(&query)).await
    }

    /// Uptime % and latency percentiles over the last `window`, per check, from rollups.
    pub async fn uptime(&self, query: HistoryQuery, window: Duration) -> Result<Vec<Uptime>, MonitorError> {
        self.read(move |s| s.uptime(&query, window, Utc::now())).await
    }

    /// Incidents (down until back up) of the checks matching `query` that started in its
    /// time range, plus those still open, newest first, one page.
    ///
    /// ```no_run
    /// # async fn demo(m: monitor_core::Monitor) -> Result<(), monitor_core::MonitorError> {
    /// use monitor_core::store::HistoryQuery;
    /// for i in m.incidents(HistoryQuery::default().check("api")).await?.items {
    ///     println!("{} {} open={} {:.0} ms", i.id, i.started, i.open, i.duration_ms);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn incidents(
        &self,
        query: HistoryQuery,
    ) -> Result<Page<crate::alerts::incidents::Incident>, MonitorError> {
        self.read(move |s| crate::alerts::incidents::incidents(s, &query, Utc::now()))
            .await
    }

    /// Incidents, downtime, MTTR and MTBF per check over the last `window`.
    pub async fn incident_stats(
        &self,
        query: HistoryQuery,
        window: Duration,
    ) -> Result<Vec<crate::alerts::incidents::IncidentStats>, MonitorError> {
        self.read(move |s| crate::alerts::incidents::stats(s, &query, window, Utc::now()))
            .await
    }

    /// Whether the history store may be shared by several processes (SQLite), so that
    /// only the holder of the scheduler lease runs checks.
    pub fn is_shared(&self) -> bool {
        self.inner.leadership.shared
    }

    /// Whether this process runs checks now (always, unless the store is shared and
    /// another process holds the lease).
    pub fn runs_checks(&self) -> bool {
        self.inner.leadership.may_run()
    }

    /// A host metric over the last `window`, one point (mean and peak) per `step`.
    pub async fn host_series(
        &self,
        metric: crate::store::HostMetric,
        window: Duration,
        step: Duration,
    ) -> Result<Vec<crate::store::SeriesPoint>, MonitorError> {
        let until = Utc::now();
        let since = until - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
        self.read(move |s| s.host_series(metric, since, until, step)).await
    }

    /// What the history writer has done: written, dropped, failed batches and the last error.
    pub fn history_stats(&self) -> crate::store::writer::WriterStats {
        self.inner.writer.stats()
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, MonitorError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .unwrap_or_else(|e| Err(StoreError::Database(format!("history query panicked: {e}"))))
            .map_err(MonitorError::from)
    }

    /// A host snapshot no older than `max_age`: the latest sampled one when fresh enough,
    /// otherwise one sampled now (on a blocking thread).
    pub async fn sample_host(&self, max_age: Duration) -> Result<crate::host::HostSnapshot, MonitorError> {
        self.inner
            .prober
            .host_board()
            .sample(Some(max_age))
            .await
            .map(Arc::unwrap_or_clone)
            .map_err(|e| MonitorError::Host { message: e.to_string() })
    }

    /// The latest host snapshot (sampled every `host_interval`, or by a host check).
    pub fn host(&self) -> Option<crate::host::HostSnapshot> {
        self.inner.prober.host_board().latest().map(Arc::unwrap_or_clone)
    }

    /// The current state in the Prometheus text format, for the host app's `/metrics`.
    pub fn prometheus(&self) -> String {
        let host = self.inner.prober.host_board().latest();
        crate::export::prometheus::render_with_host(&self.status(), host.as_deref())
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(&self, specs: Vec<(CheckSpec, Option<CallableFn>)>) -> Result<(), MonitorError> {
        let mut reg = self.lock();
        if reg.shut_down {
            return Err(MonitorError::ShutDown);
        }
        let mut batch = std::collections::HashSet::with_capacity(specs.len());
        for (spec, f) in &specs {
            if reg.checks.contains_key(spec.name.as_str()) || !batch.insert(spec.name.as_str()) {
                return Err(MonitorError::DuplicateCheck {
                    name: spec.name.clone(),
                });
            }
            if matches!(spec.kind, CheckKind::Callable(_)) && f.is_none() {
                return Err(MonitorError::MissingCallable {
                    name: spec.name.clone(),
                });
            }
        }
        let now = tokio::time::Instant::now();
        for (spec, callable) in specs {
            let name: Arc<str> = Arc::from(spec.name.as_str());
            let host_limit = scheduler::host_key(&spec.kind).map(|h| self.host_limit(&h));
            let service = spec.service.clone();
            let kind = spec.kind_name().to_string();
            if reg.started && spec.enabled {
                let due = scheduler::first_due(&name, spec.interval, now);
                let _ = self.schedule_tx.send(Slot::new(name.clone(), 0, due));
            }
            if let Some(s) = &service {
                reg.services.entry(s.clone()).or_default();
            }
            self.writer.check(CheckMeta {
                check: name.to_string(),
                service: service.clone(),
                kind: kind.clone(),
                tags: spec.tags.clone(),
            });
            let restored = self.restored.lock().unwrap_or_else(|p| p.into_inner()).remove(&*name);
            reg.checks.insert(
                name.clone(),
                Entry {
                    spec: Arc::new(spec),
                    callable,
                    generation: 0,
                    slot: 0,
                    paused: false,
                    state: CheckState {
                        status: restored.map(|r| r.0),
                        ..CheckState::default()
                    },
                    since: restored.map(|r| r.1),
                    restored_since: restored.map(|r| r.1),
                    running: None,
                    last: None,
                    // Down when the process stopped: the incident is still open.
                    incident: restored.filter(|r| r.0 == Status::Down).map(|r| r.1),
                    host_limit,
                    runs: 0,
                    failures: 0,
                    skipped: 0,
                },
            );
            self.bus.publish(Event::CheckRegistered {
                check: name.to_string(),
                service,
                kind,
                at: Utc::now(),
            });
        }
        Ok(())
    }

    fn update(&self, spec: CheckSpec, f: Option<CallableFn>) -> Result<(), MonitorError> {
        let mut reg = self.lock();
        let started = reg.started;
        let name = spec.name.clone();
        let entry = reg
            .checks
            .get_mut(name.as_str())
            .ok_or(MonitorError::UnknownCheck { name: name.clone() })?;
        let callable = f.or_else(|| entry.callable.clone());
        if matches!(spec.kind, CheckKind::Callable(_)) && callable.is_none() {
            return Err(MonitorError::MissingCallable { name });
        }
        let old_service = entry.spec.service.clone();
        let new_service = spec.service.clone();
        entry.generation += 1;
        entry.slot += 1;
        entry.callable = callable;
        if let Some(run) = entry.running.take() {
            run.cancel();
        }
        let enabled = spec.enabled;
        let interval = spec.interval;
        self.writer.check(CheckMeta {
            check: spec.name.clone(),
            service: spec.service.clone(),
            kind: spec.kind_name().to_string(),
            tags: spec.tags.clone(),
        });
        entry.spec = Arc::new(spec);
        if started && enabled && !entry.paused {
            let due = scheduler::first_due(&name, interval, tokio::time::Instant::now());
            let key = Arc::from(name.as_str());
            let _ = self.schedule_tx.send(Slot::new(key, entry.slot, due));
        }
        let status = entry.state.status;
        if let Some(s) = &new_service {
            reg.services.entry(s.clone()).or_default();
        }
        self.bus.publish(Event::CheckUpdated {
            check: name.clone(),
            service: new_service.clone(),
            at: Utc::now(),
        });
        drop(reg);
        for s in [old_service, new_service].into_iter().flatten() {
            self.refresh_service(
                &s,
                Cause {
                    check: name.clone(),
                    status,
                },
            );
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), MonitorError> {
        let mut reg = self.lock();
        let entry = reg
            .checks
            .remove(name)
            .ok_or(MonitorError::UnknownCheck { name: name.to_string() })?;
        if let Some(run) = entry.running {
            run.cancel();
        }
        let service = entry.spec.service.clone();
        self.writer.deleted(name.to_string());
        self.bus.publish(Event::CheckDeleted {
            check: name.to_string(),
            service: service.clone(),
            at: Utc::now(),
        });
        drop(reg);
        if let Some(s) = service {
            self.refresh_service(
                &s,
                Cause {
                    check: name.to_string(),
                    status: None,
                },
            );
        }
        Ok(())
    }

    fn set_paused(&self, name: &str, paused: bool) -> Result<(), MonitorError> {
        let mut reg = self.lock();
        let started = reg.started;
        let entry = reg
            .checks
            .get_mut(name)
            .ok_or(MonitorError::UnknownCheck { name: name.to_string() })?;
        if entry.paused == paused {
            return Ok(());
        }
        entry.paused = paused;
        entry.slot += 1;
        if !paused && started && entry.spec.enabled {
            let due = scheduler::first_due(name, entry.spec.interval, tokio::time::Instant::now());
            let _ = self.schedule_tx.send(Slot::new(Arc::from(name), entry.slot, due));
        }
        self.bus.publish(Event::CheckPaused {
            check: name.to_string(),
            paused,
            at: Utc::now(),
        });
        Ok(())
    }

    /// Takes one attempt's result: counters, status machine, events. Returns whether
    /// the run should retry. Results of a replaced or deleted check are dropped.
    pub(crate) fn apply_result(
        &self,
        name: &str,
        generation: u64,
        result: &mut Arc<CheckResult>,
        attempt: u32,
        lateness: Option<Duration>,
    ) -> bool {
        let mut reg = self.lock();
        let Some(entry) = reg.checks.get_mut(name) else {
            return false;
        };
        if entry.generation != generation {
            return false;
        }
        // History keeps one result per check and millisecond: a result within the same
        // millisecond as the previous one (pushes and `record()` in a burst) is moved to the
        // next free millisecond, so none is lost and their order stays.
        if let Some(last) = &entry.last {
            let floor = last.at + chrono::Duration::milliseconds(1);
            if result.at.timestamp_millis() < floor.timestamp_millis() {
                Arc::make_mut(result).at = floor;
            }
        }
        let spec = entry.spec.clone();
        // Taken while alerts about it are held back (maintenance, mute): stored flagged.
        if self
            .alerting
            .held_until(name, spec.service.as_deref(), &spec.tags)
            .is_some()
        {
            Arc::make_mut(result).maintenance = true;
        }
        entry.runs += 1;
        let outcome = result.status;
        if outcome == Status::Down {
            entry.failures += 1;
        }
        let change = entry.state.apply(outcome, spec.retries, spec.success_threshold);
        let retry = entry.state.wants_retry(spec.retries);
        // Where the current settled status began: the start of an incident that this change ends.
        let settled_since = entry.since;
        if change.is_some() {
            entry.since = Some(result.at);
        }
        let error = result.error.clone();
        let at = result.at;
        entry.last = Some(result.clone());
        self.writer.result(result.clone());
        let report = RunReport {
            result: result.clone(),
            tags: spec.tags.clone(),
            attempt,
            lateness_ms: lateness.map(crate::result::ms),
        };
        // Published under the registry lock, so every check's events are in order.
        self.bus.publish(if outcome == Status::Down {
            Event::CheckFailed(report)
        } else {
            Event::CheckSucceeded(report)
        });
        if let Some((previous, status)) = change {
            self.writer.change(StatusChange {
                check: name.to_string(),
                service: spec.service.clone(),
                at,
                previous,
                status,
                error: error.as_ref().filter(|_| status == Status::Down).map(|e| StoredError {
                    kind: e.kind,
                    message: e.message.clone(),
                }),
            });
            self.bus.publish(Event::CheckStatusChanged {
                check: name.to_string(),
                service: spec.service.clone(),
                tags: spec.tags.clone(),
                previous,
                status,
                at,
                error: if status == Status::Down { error.clone() } else { None },
            });
            // An incident spans from the change to down to the change back up; degraded in
            // between stays inside it (its start is then the down change's, not the degraded one's).
            let in_incident = reg.checks.get(name).is_some_and(|e| e.incident.is_some());
            if status == Status::Down && !in_incident {
                if let Some(e) = reg.checks.get_mut(name) {
                    e.incident = Some(at);
                }
                self.bus.publish(Event::IncidentOpened {
                    incident: crate::alerts::incidents::Incident::id_of(name, at),
                    check: name.to_string(),
                    service: spec.service.clone(),
                    tags: spec.tags.clone(),
                    at,
                    error,
                });
            } else if status == Status::Up && in_incident {
                let started = reg
                    .checks
                    .get_mut(name)
                    .and_then(|e| e.incident.take())
                    .or(settled_since)
                    .unwrap_or(at);
                self.bus.publish(Event::IncidentResolved {
                    incident: crate::alerts::incidents::Incident::id_of(name, started),
                    check: name.to_string(),
                    service: spec.service.clone(),
                    tags: spec.tags.clone(),
                    started,
                    at,
                    duration_ms: (at - started).num_milliseconds().max(0) as f64,
                });
            }
            if let Some(service) = &spec.service {
                Self::refresh_service_locked(
                    &self.bus,
                    self.service_history(),
                    &mut reg,
                    service,
                    Cause {
                        check: name.to_string(),
                        status: Some(status),
                    },
                );
            }
        }
        retry
    }

    fn refresh_service(&self, service: &str, cause: Cause) {
        let mut reg = self.lock();
        Self::refresh_service_locked(&self.bus, self.service_history(), &mut reg, service, cause);
    }

    /// Where a service's changes are written: by the process that runs its checks' attempts
    /// only (a process that forwards them learns their statuses from the store, and would
    /// write every change twice).
    fn service_history(&self) -> Option<&Writer> {
        (!self.leadership.forwards()).then_some(&self.writer)
    }

    fn refresh_service_locked(bus: &Bus, history: Option<&Writer>, reg: &mut Registry, service: &str, cause: Cause) {
        let members: Vec<(&str, Option<Status>)> = reg
            .checks
            .iter()
            .filter(|(_, e)| e.spec.service.as_deref() == Some(service))
            .map(|(n, e)| (&**n, e.state.status))
            .collect();
        let Some(entry) = reg.services.get(service) else { return };
        let status = service_status(&members, entry.critical.as_deref());
        let previous = entry.status;
        if previous != status {
            if let Some(entry) = reg.services.get_mut(service) {
                entry.status = status;
            }
            let at = Utc::now();
            if let Some(writer) = history {
                writer.service_change(crate::store::ServiceChange {
                    service: service.to_string(),
                    at,
                    previous,
                    status,
                    cause: Some(cause.check.clone()).filter(|c| !c.is_empty()),
                });
            }
            bus.publish(Event::ServiceStatusChanged {
                service: service.to_string(),
                previous,
                status,
                at,
                cause,
            });
        }
    }

    /// A process without the lease learns what the scheduling process found: each
    /// check's latest result and settled status, from the store.
    pub(crate) async fn refresh_from_store(&self) {
        let store = self.store.clone();
        let Ok(Ok((latest, states))) = tokio::task::spawn_blocking(move || {
            Ok::<_, StoreError>((store.latest(&HistoryQuery::default())?, store.last_states()?))
        })
        .await
        else {
            return;
        };
        let mut reg = self.lock();
        for r in latest {
            if let Some(e) = reg.checks.get_mut(r.check.as_str()) {
                let mut result = CheckResult {
                    check: r.check.clone(),
                    service: r.service.clone(),
                    kind: e.spec.kind_name().into(),
                    status: r.status,
                    at: r.at,
                    duration_ms: r.duration_ms,
                    phases: Default::default(),
                    observed: Default::default(),
                    error: r.error.map(|x| crate::result::CheckError::new(x.kind, x.message)),
                    failed_assertions: Vec::new(),
                    warnings: Vec::new(),
                    maintenance: r.maintenance,
                };
                result.observed.status_code = r.status_code;
                if e.last.as_ref().is_none_or(|l| l.at < result.at) {
                    e.last = Some(Arc::new(result));
                }
            }
        }
        for (name, status, since) in states {
            if let Some(e) = reg.checks.get_mut(name.as_str()) {
                e.state.status = Some(status);
                e.since = Some(since);
            }
        }
        let services: Vec<String> = reg.services.keys().cloned().collect();
        for s in services {
            // A follower: the holder writes the services' changes.
            Self::refresh_service_locked(
                &self.bus,
                None,
                &mut reg,
                &s,
                Cause {
                    check: String::new(),
                    status: None,
                },
            );
        }
    }

    /// Adopts the mutes kept in the store when this process takes the lease over, so alerts
    /// another process was asked to hold back stay held.
    pub(crate) async fn load_mutes(&self) {
        let alerting = self.alerting.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || alerting.adopt_stored_mutes()).await {
            tracing::warn!("reading the mutes kept in the store panicked: {e}");
        }
    }

    /// The per-host semaphore for `host`.
    pub(crate) fn host_limit(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_per_host)))
            .clone()
    }
}
