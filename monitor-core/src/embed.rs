//! What every binding (Python, Node, C/PHP) shares, so each of them only converts types:
//! a monitor with a runtime of its own, configured from one JSON/TOML shape, with
//! history queries taken in the same loose shape in every language, listeners called on
//! a dispatch thread, event streams, stable error codes, and fork safety (a process forked
//! from one that had a running monitor rebuilds the runtime and the monitor on first use).
//!
//! ```
//! use monitor_core::embed::Embedded;
//! use serde_json::json;
//! let m = Embedded::from_value(json!({
//!     "checks": [{ "name": "beat", "kind": "push", "interval": "1m" }]
//! })).unwrap();
//! let result = m.wait(m.push("beat", true, None)).unwrap();
//! assert_eq!(result.status, monitor_core::Status::Up);
//! m.close();
//! ```

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::alerts::deliver::NotifierFn;
use crate::alerts::pull::PulledAlerts;
use crate::alerts::rules::{AlertRule, MaintenanceWindow, NotifierKind, NotifierSpec};
use crate::bus::{Delivery, Event, EventKind, Filter, Subscription};
use crate::checks::callable::CallableFn;
use crate::host::HostSnapshot;
use crate::monitor::{Monitor, MonitorError};
use crate::result::{CheckResult, Status};
use crate::spec::reader::{type_name, Obj, Problems};
use crate::spec::{CheckSpec, Problem, ServiceSpec, Spec, SpecError};
use crate::state::StatusSnapshot;
use crate::store::writer::WriterConfig;
use crate::store::{HistoryQuery, Page, Retention, StatusChange, StoredResult, Uptime, MAX_PAGE};
use crate::Command;

/// Why an embedded-monitor call failed. Bindings map it by [`EmbedError::code`], never by text.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// What the monitor refused or could not do.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// An argument of the call is wrong (a history query's `limit`, an uptime `window`, ...).
    #[error("{field}: {message}")]
    InvalidArgument {
        /// Which argument or field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// [`Embedded::close`] was called.
    #[error("the monitor is closed")]
    Closed,
    /// The engine panicked while serving the call (a bug): the call failed, the monitor lives on.
    #[error("internal error: {0}")]
    Panic(String),
    /// The runtime could not be started (threads could not be spawned).
    #[error("could not start the engine's runtime: {0}")]
    Runtime(String),
}

/// A stable name for each kind of failure, shared by every binding
/// (Python exception classes, JS `code`s, C result codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The spec or config is invalid ([`EmbedError::problems`] lists them with paths).
    Spec,
    /// No check has this name.
    UnknownCheck,
    /// A check with this name exists.
    DuplicateCheck,
    /// `push`/`record` on a check that is not a push check.
    NotAPushCheck,
    /// A callable check registered without its function.
    MissingCallable,
    /// History could not be read or written.
    Store,
    /// The process holding the scheduler lease refused or did not answer.
    Forwarded,
    /// The host could not be sampled.
    Host,
    /// A bad argument.
    InvalidArgument,
    /// The monitor is closed.
    Closed,
    /// A panic inside the engine.
    Panic,
    /// The runtime could not start.
    Runtime,
}

impl ErrorCode {
    /// `"spec"`, `"unknown_check"`, ...: bindings derive their names from it
    /// (`UPWATCH_SPEC` in JS, `UnknownCheckError` in Python).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Spec => "spec",
            ErrorCode::UnknownCheck => "unknown_check",
            ErrorCode::DuplicateCheck => "duplicate_check",
            ErrorCode::NotAPushCheck => "not_a_push_check",
            ErrorCode::MissingCallable => "missing_callable",
            ErrorCode::Store => "store",
            ErrorCode::Forwarded => "forwarded",
            ErrorCode::Host => "host",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Closed => "closed",
            ErrorCode::Panic => "panic",
            ErrorCode::Runtime => "runtime",
        }
    }
}

impl EmbedError {
    /// The kind of failure.
    ///
    /// ```
    /// use monitor_core::embed::{Embedded, ErrorCode};
    /// let err = Embedded::from_json(r#"{"lease": "soon"}"#).err().unwrap();
    /// assert_eq!(err.code(), ErrorCode::Spec);
    /// assert_eq!(err.problems()[0].path, "lease");
    /// ```
    pub fn code(&self) -> ErrorCode {
        match self {
            EmbedError::Monitor(e) => match e {
                MonitorError::Spec(_) => ErrorCode::Spec,
                MonitorError::UnknownCheck { .. } => ErrorCode::UnknownCheck,
                MonitorError::DuplicateCheck { .. } => ErrorCode::DuplicateCheck,
                MonitorError::NotAPushCheck { .. } => ErrorCode::NotAPushCheck,
                MonitorError::MissingCallable { .. } => ErrorCode::MissingCallable,
                MonitorError::ShutDown => ErrorCode::Closed,
                MonitorError::Store(crate::store::StoreError::InvalidQuery { .. }) => ErrorCode::InvalidArgument,
                MonitorError::Store(_) => ErrorCode::Store,
                MonitorError::Forwarded { .. } => ErrorCode::Forwarded,
                MonitorError::Host { .. } => ErrorCode::Host,
            },
            EmbedError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            EmbedError::Closed => ErrorCode::Closed,
            EmbedError::Panic(_) => ErrorCode::Panic,
            EmbedError::Runtime(_) => ErrorCode::Runtime,
        }
    }

    /// For spec errors, every problem with its path (`checks[0].url`); otherwise empty.
    pub fn problems(&self) -> &[Problem] {
        match self {
            EmbedError::Monitor(MonitorError::Spec(e)) => e.problems(),
            _ => &[],
        }
    }

    /// The field at fault: the first problem's path of a spec error, or an invalid argument's field.
    pub fn path(&self) -> Option<&str> {
        match self {
            EmbedError::InvalidArgument { field, .. } => Some(field),
            EmbedError::Monitor(MonitorError::Store(crate::store::StoreError::InvalidQuery { field, .. })) => {
                Some(field)
            }
            _ => self.problems().first().map(|p| p.path.as_str()),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> EmbedError {
        EmbedError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<SpecError> for EmbedError {
    fn from(e: SpecError) -> Self {
        EmbedError::Monitor(MonitorError::Spec(e))
    }
}

/// How an embedded monitor is set up: the shape of `Monitor(...)` / `new Monitor({...})` /
/// `upwatch_new(json)` and of a config file's `[monitor]` table.
///
/// ```
/// use monitor_core::embed::EmbedConfig;
/// let c = EmbedConfig::from_value(serde_json::json!({
///     "db": "upwatch.db", "lease": "10s", "host_interval": "off",
///     "retention": { "raw": "7d", "max_bytes": "1GiB" },
/// })).unwrap();
/// assert_eq!(c.host_interval, None);
/// assert_eq!(c.retention.max_bytes, Some(1 << 30));
/// ```
#[derive(Clone, Debug)]
pub struct EmbedConfig {
    /// The SQLite history file; `None` keeps a bounded history in memory.
    pub db: Option<PathBuf>,
    /// The scheduler lease period when several processes share `db`.
    pub lease: Duration,
    /// How often the host is sampled; `None` never in the background.
    pub host_interval: Option<Duration>,
    /// Attempts in flight at once.
    pub max_concurrency: Option<usize>,
    /// Attempts in flight at once per target host.
    pub max_per_host: Option<usize>,
    /// How long history is kept, per level.
    pub retention: Retention,
    /// Threads of the engine's runtime (default 2).
    pub threads: usize,
    /// Checks and services given inline (or from a config file).
    pub spec: Spec,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        EmbedConfig {
            db: None,
            lease: crate::monitor::DEFAULT_LEASE,
            host_interval: Some(Duration::from_secs(15)),
            max_concurrency: None,
            max_per_host: None,
            retention: Retention::default(),
            threads: 2,
            spec: Spec::default(),
        }
    }
}

impl EmbedConfig {
    /// Reads the config object (JSON shape); every problem is reported with its path.
    pub fn from_value(value: Value) -> Result<EmbedConfig, SpecError> {
        Self::read(&value, None)
    }

    /// Reads a TOML or JSON config file: engine settings in a `[monitor]` table, checks and
    /// services as in a spec file. A relative `db` is taken relative to the file.
    ///
    /// ```toml
    /// [monitor]
    /// db = "upwatch.db"
    ///
    /// [[checks]]
    /// name = "home"
    /// kind = "http"
    /// url = "https://example.com/"
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<EmbedConfig, SpecError> {
        let path = path.as_ref();
        let mut value = crate::spec::read_file(path)?;
        // `[monitor]` holds the settings; the rest is the spec. Flatten them into one object.
        if let Value::Object(map) = &mut value {
            if let Some(Value::Object(settings)) = map.remove("monitor") {
                for (k, v) in settings {
                    if k == "checks" || k == "services" {
                        continue;
                    }
                    map.insert(k, v);
                }
            }
        }
        Self::read(&value, path.parent())
    }

    fn read(value: &Value, base: Option<&Path>) -> Result<EmbedConfig, SpecError> {
        let mut p = Problems::default();
        let mut config = EmbedConfig::default();
        let Some(mut o) = Obj::new(value, "", &mut p) else {
            return Err(SpecError::Invalid(p.list));
        };
        if let Some(db) = o.string("db", &mut p) {
            if db.trim().is_empty() {
                p.push("db", "must be a file path (leave it out to keep history in memory)");
            } else {
                let db = PathBuf::from(db);
                config.db = Some(match base {
                    Some(dir) if db.is_relative() => dir.join(db),
                    _ => db,
                });
            }
        }
        if let Some(lease) = o.duration("lease", &mut p) {
            if lease < Duration::from_millis(400) {
                p.push("lease", "must be at least 400ms");
            }
            config.lease = lease;
        }
        let at = o.at("host_interval");
        match o.raw("host_interval") {
            None => {}
            Some(Value::Bool(false)) => config.host_interval = None,
            Some(Value::String(s)) if matches!(s.trim(), "off" | "never" | "0" | "0s") => config.host_interval = None,
            Some(Value::String(s)) => match crate::spec::reader::parse_duration(s) {
                Ok(d) => config.host_interval = Some(d),
                Err(e) => p.push(at, e),
            },
            Some(other) => p.push(
                at,
                format!("expected a duration like \"15s\" or \"off\", got {}", type_name(other)),
            ),
        }
        config.max_concurrency = o.int("max_concurrency", 1, 100_000, &mut p).map(|n| n as usize);
        config.max_per_host = o.int("max_per_host", 1, 100_000, &mut p).map(|n| n as usize);
        if let Some(n) = o.int("threads", 1, 64, &mut p) {
            config.threads = n as usize;
        }
        if let Some(mut r) = o.object("retention", &mut p) {
            let keep = &mut config.retention;
            for (key, slot) in [
                ("raw", &mut keep.raw),
                ("minute", &mut keep.minute),
                ("hour", &mut keep.hour),
                ("day", &mut keep.day),
                ("changes", &mut keep.changes),
            ] {
                if let Some(d) = r.duration(key, &mut p) {
                    *slot = d;
                }
            }
            keep.max_bytes = r.size("max_bytes", &mut p);
            r.finish(&mut p);
        }
        // The spec part is validated by the spec reader, with the same paths as a spec file.
        let mut spec = Map::new();
        for key in ["checks", "services", "notifiers", "alerts", "maintenance"] {
            if let Some(v) = o.raw(key) {
                spec.insert(key.to_string(), v.clone());
            }
        }
        o.finish(&mut p);
        match Spec::from_value(Value::Object(spec)) {
            Ok(s) => config.spec = s,
            Err(SpecError::Invalid(list)) => p.list.extend(list),
            Err(other) => return Err(other),
        }
        if p.list.is_empty() {
            Ok(config)
        } else {
            Err(SpecError::Invalid(p.list))
        }
    }
}

/// A history query in the loose shape every binding accepts:
/// `{"check": "api" | ["api", "db"], "service", "tag", "status": "down" | [...],
///   "since": "24h" | "2026-11-01T00:00:00Z", "until", "cursor", "limit": 100}`.
///
/// ```
/// use monitor_core::embed::history_query;
/// let q = history_query(&serde_json::json!({"check": "api", "since": "1h", "limit": 10})).unwrap();
/// assert_eq!(q.checks, vec!["api".to_string()]);
/// assert_eq!(q.limit, 10);
/// let err = history_query(&serde_json::json!({"limit": 0})).unwrap_err();
/// assert_eq!(err.path(), Some("limit"));
/// ```
pub fn history_query(value: &Value) -> Result<HistoryQuery, EmbedError> {
    let mut p = Problems::default();
    let mut q = HistoryQuery::default();
    if value.is_null() {
        return Ok(q);
    }
    let Some(mut o) = Obj::new(value, "", &mut p) else {
        return Err(first_invalid(p));
    };
    for (one, many, slot) in [
        ("check", "checks", &mut q.checks),
        ("service", "services", &mut q.services),
        ("tag", "tags", &mut q.tags),
    ] {
        for key in [one, many] {
            if let Some(list) = o.strings(key, &mut p) {
                slot.extend(list);
            }
        }
    }
    for key in ["status", "statuses"] {
        let at = o.at(key);
        if let Some(list) = o.strings(key, &mut p) {
            for s in list {
                match [Status::Up, Status::Degraded, Status::Down]
                    .into_iter()
                    .find(|x| x.as_str() == s.trim())
                {
                    Some(status) => q.statuses.push(status),
                    None => p.push(&at, format!("{s:?} is not a status (up, degraded or down)")),
                }
            }
        }
    }
    let now = Utc::now();
    for key in ["since", "until"] {
        let at = o.at(key);
        if let Some(text) = o.string(key, &mut p) {
            match point_in_time(&text, now) {
                Ok(t) if key == "since" => q.since = Some(t),
                Ok(t) => q.until = Some(t),
                Err(e) => p.push(at, e),
            }
        }
    }
    q.cursor = o.string("cursor", &mut p);
    if let Some(limit) = o.int("limit", 1, MAX_PAGE as u64, &mut p) {
        q.limit = limit as usize;
    }
    o.finish(&mut p);
    if p.list.is_empty() {
        Ok(q)
    } else {
        Err(first_invalid(p))
    }
}

/// `"24h"` (that long ago) or an RFC 3339 time.
fn point_in_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(text.trim())
        .map_err(|_| format!("{text:?} is neither a duration like \"24h\" nor a time like \"2026-11-01T00:00:00Z\""))?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("{text:?} is too far back"))
}

fn first_invalid(p: Problems) -> EmbedError {
    let message = p.list.iter().map(|x| x.message.clone()).collect::<Vec<_>>().join("; ");
    let field = p.list.first().map(|x| x.path.clone()).unwrap_or_default();
    EmbedError::invalid(field, message)
}

/// Parses a window such as `"30d"` for [`Embedded::uptime`].
///
/// ```
/// assert_eq!(monitor_core::embed::window("24h").unwrap().as_secs(), 86_400);
/// assert!(monitor_core::embed::window("soon").is_err());
/// ```
pub fn window(text: &str) -> Result<Duration, EmbedError> {
    match crate::spec::reader::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(EmbedError::invalid("window", "must be longer than zero")),
        Err(e) => Err(EmbedError::invalid("window", e)),
    }
}

/// Event kinds by their names (`"check_failed"`); an unknown name is an error naming it.
pub fn event_kinds<S: AsRef<str>>(names: &[S]) -> Result<Vec<EventKind>, EmbedError> {
    names
        .iter()
        .map(|n| {
            let n = n.as_ref();
            EventKind::parse(n).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                EmbedError::invalid("event", format!("{n:?} is not an event (one of {})", known.join(", ")))
            })
        })
        .collect()
}

/// What a readiness endpoint answers: 200 with this body when `ready`, else 503.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// No service asked about is down.
    pub ready: bool,
    /// Each service asked about: `up`, `degraded`, `down` or `unknown`.
    pub services: BTreeMap<String, String>,
}

/// A function called with every event a listener asked for, on the dispatch thread.
pub type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// A check as registered, kept so a forked child can register it again.
#[derive(Clone)]
struct Registered {
    spec: CheckSpec,
    callable: Option<CallableFn>,
    paused: bool,
}

/// The runtime and the monitor of one process.
struct Live {
    pid: u32,
    /// Bumped every time the engine is rebuilt (after a fork).
    generation: u64,
    runtime: tokio::runtime::Runtime,
    monitor: Monitor,
    /// Whether this generation's dispatch thread runs.
    dispatching: bool,
}

/// Notifiers (with their functions), rules and windows, kept so a forked child has them too.
#[derive(Default)]
struct AlertSetup {
    notifiers: BTreeMap<String, (NotifierSpec, Option<NotifierFn>)>,
    rules: Vec<AlertRule>,
    maintenance: Vec<MaintenanceWindow>,
}

struct Shared {
    config: EmbedConfig,
    alerting: Mutex<AlertSetup>,
    live: Mutex<Option<Live>>,
    checks: Mutex<BTreeMap<String, Registered>>,
    services: Mutex<Vec<ServiceSpec>>,
    listeners: Mutex<Vec<(u64, Filter, Listener)>>,
    next_listener: AtomicU64,
    started: AtomicBool,
    closed: AtomicBool,
    generations: AtomicU64,
}

/// A monitor with its own runtime, for bindings and for programs without tokio.
/// Cheap to clone; clones share the engine.
///
/// Every async method runs its work on the engine's runtime, so its future can be awaited
/// from any executor (or blocked on with [`Embedded::wait`]).
#[derive(Clone)]
pub struct Embedded {
    shared: Arc<Shared>,
}

impl Embedded {
    /// Builds the engine from a config (and registers its checks); nothing runs until [`Embedded::start`].
    pub fn new(config: EmbedConfig) -> Result<Embedded, EmbedError> {
        let spec = config.spec.clone();
        let e = Embedded {
            shared: Arc::new(Shared {
                alerting: Mutex::new(AlertSetup {
                    notifiers: spec
                        .notifiers
                        .iter()
                        .map(|n| (n.name.clone(), (n.clone(), None)))
                        .collect(),
                    rules: spec.alerts.clone(),
                    maintenance: spec.maintenance.clone(),
                }),
                config,
                live: Mutex::new(None),
                checks: Mutex::new(BTreeMap::new()),
                services: Mutex::new(Vec::new()),
                listeners: Mutex::new(Vec::new()),
                next_listener: AtomicU64::new(1),
                started: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                generations: AtomicU64::new(0),
            }),
        };
        let monitor = e.monitor()?;
        monitor.load(spec.clone())?;
        let mut checks = e.registered();
        for c in spec.checks {
            checks.insert(
                c.name.clone(),
                Registered {
                    spec: c,
                    callable: None,
                    paused: false,
                },
            );
        }
        drop(checks);
        e.services().extend(spec.services);
        Ok(e)
    }

    /// [`Embedded::new`] from the config's JSON shape ([`EmbedConfig`]).
    pub fn from_value(config: Value) -> Result<Embedded, EmbedError> {
        Self::new(EmbedConfig::from_value(config)?)
    }

    /// [`Embedded::new`] from config JSON text (`""` or `"null"`: all defaults).
    pub fn from_json(config: &str) -> Result<Embedded, EmbedError> {
        let value = if config.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(config).map_err(|e| {
                EmbedError::from(SpecError::Syntax {
                    format: "JSON",
                    message: e.to_string(),
                })
            })?
        };
        let value = if value.is_null() {
            Value::Object(Map::new())
        } else {
            value
        };
        Self::from_value(value)
    }

    /// [`Embedded::new`] from a config file ([`EmbedConfig::from_file`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Embedded, EmbedError> {
        Self::new(EmbedConfig::from_file(path)?)
    }

    /// The config it was built from.
    pub fn config(&self) -> &EmbedConfig {
        &self.shared.config
    }

    fn registered(&self) -> MutexGuard<'_, BTreeMap<String, Registered>> {
        self.shared.checks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn setup(&self) -> MutexGuard<'_, AlertSetup> {
        self.shared.alerting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn services(&self) -> MutexGuard<'_, Vec<ServiceSpec>> {
        self.shared.services.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This process's monitor, building it (and its runtime) on first use and again after a
    /// fork: the parent's runtime threads do not exist in a child, so its runtime and monitor
    /// are left untouched (leaked) and a new one is made with the same checks and listeners.
    pub fn monitor(&self) -> Result<Monitor, EmbedError> {
        Ok(self.live()?.0)
    }

    fn live(&self) -> Result<(Monitor, tokio::runtime::Handle), EmbedError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(EmbedError::Closed);
        }
        let pid = std::process::id();
        let mut live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = live.as_ref() {
            if l.pid == pid {
                return Ok((l.monitor.clone(), l.runtime.handle().clone()));
            }
        }
        let forked = live.take().map(std::mem::forget).is_some();
        let fresh = self.build(pid, forked)?;
        let out = (fresh.monitor.clone(), fresh.runtime.handle().clone());
        *live = Some(fresh);
        let wants_dispatch = !self.listeners().is_empty();
        drop(live);
        if wants_dispatch {
            self.ensure_dispatch();
        }
        Ok(out)
    }

    fn build(&self, pid: u32, forked: bool) -> Result<Live, EmbedError> {
        let c = &self.shared.config;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(c.threads)
            .thread_name("upwatch-worker")
            .enable_all()
            .build()
            .map_err(|e| EmbedError::Runtime(e.to_string()))?;
        let mut b = Monitor::builder().host_interval(c.host_interval).lease_period(c.lease);
        if let Some(n) = c.max_concurrency {
            b = b.max_concurrency(n);
        }
        if let Some(n) = c.max_per_host {
            b = b.max_per_host(n);
        }
        if let Some(db) = &c.db {
            b = b
                .sqlite(db)
                .map_err(|e| EmbedError::Monitor(MonitorError::Store(e)))?
                .writer(WriterConfig {
                    retention: c.retention.clone(),
                    ..WriterConfig::default()
                });
        }
        let monitor = {
            let _in = runtime.enter();
            b.build()
        };
        if forked {
            // The same checks as before the fork, with their functions and paused flags.
            for s in self.services().iter() {
                monitor.declare_service(s.clone());
            }
            {
                let setup = self.setup();
                for (spec, f) in setup.notifiers.values() {
                    monitor.add_notifier(spec.clone());
                    if let Some(f) = f {
                        monitor.set_notifier_function(&spec.name, f.clone());
                    }
                }
                for r in &setup.rules {
                    let _ = monitor.add_alert_rule(r.clone());
                }
                for w in &setup.maintenance {
                    monitor.add_maintenance(w.clone());
                }
            }
            for r in self.registered().values() {
                let done = match &r.callable {
                    Some(f) => monitor.register_callable(r.spec.clone(), f.clone()),
                    None => monitor.register(r.spec.clone()),
                };
                if let Err(e) = done {
                    tracing::warn!("re-registering {:?} after fork: {e}", r.spec.name);
                } else if r.paused {
                    let _ = monitor.pause(&r.spec.name);
                }
            }
            if self.shared.started.load(Ordering::SeqCst) {
                let _in = runtime.enter();
                monitor.start();
            }
        }
        Ok(Live {
            pid,
            generation: self.shared.generations.fetch_add(1, Ordering::SeqCst) + 1,
            runtime,
            monitor,
            dispatching: false,
        })
    }

    /// Runs `fut` on the engine's runtime and awaits it from any executor. A panic inside
    /// becomes [`EmbedError::Panic`].
    async fn on_runtime<T, F>(&self, fut: F) -> Result<T, EmbedError>
    where
        F: Future<Output = Result<T, MonitorError>> + Send + 'static,
        T: Send + 'static,
    {
        let (_, handle) = self.live()?;
        match handle.spawn(fut).await {
            Ok(out) => out.map_err(EmbedError::from),
            Err(e) if e.is_panic() => Err(EmbedError::Panic(crate::checks::panic_message(&e.into_panic()))),
            Err(_) => Err(EmbedError::Closed),
        }
    }

    /// Blocks the calling thread on `fut` (bindings call it with the GIL released, or from
    /// a worker thread). Must not be called from inside an async task.
    pub fn wait<T>(&self, fut: impl Future<Output = T>) -> T {
        futures::executor::block_on(fut)
    }

    /// Starts scheduling (and host sampling). Calling it again does nothing.
    pub fn start(&self) -> Result<(), EmbedError> {
        let (monitor, handle) = self.live()?;
        self.shared.started.store(true, Ordering::SeqCst);
        let _in = handle.enter();
        monitor.start();
        Ok(())
    }

    /// Whether [`Embedded::start`] was called.
    pub fn is_started(&self) -> bool {
        self.shared.started.load(Ordering::SeqCst)
    }

    /// Stops scheduling, waits up to `grace` for checks in flight, writes what is pending to
    /// history, gives up the lease and stops the runtime. Later calls fail with `Closed`.
    pub fn close_within(&self, grace: Duration) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(live) = live else { return };
        if live.pid != std::process::id() {
            // A forked child that never used the engine: the parent's runtime is not ours to stop.
            std::mem::forget(live);
            return;
        }
        let monitor = live.monitor.clone();
        let done = live.runtime.spawn(async move { monitor.shutdown_within(grace).await });
        let _ = futures::executor::block_on(done);
        drop(live.monitor);
        live.runtime.shutdown_timeout(Duration::from_secs(1));
    }

    /// [`Embedded::close_within`] with a 5 s grace.
    pub fn close(&self) {
        self.close_within(Duration::from_secs(5));
    }

    /// Whether [`Embedded::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Registers a check from its spec (JSON shape). Registering a name that exists replaces
    /// its spec (several worker processes register the same checks). A `callable` check
    /// needs `callable`; it runs in this process, whichever process registered it elsewhere.
    pub async fn register(&self, spec: Value, callable: Option<CallableFn>) -> Result<(), EmbedError> {
        let check = CheckSpec::from_value(spec.clone())?;
        let monitor = self.monitor()?;
        match &callable {
            Some(f) => {
                let f = f.clone();
                let c = check.clone();
                self.on_runtime(async move {
                    match monitor.update_callable(c.clone(), f.clone()) {
                        Err(MonitorError::UnknownCheck { .. }) => monitor.register_callable(c, f),
                        other => other,
                    }
                })
                .await?
            }
            None => {
                self.on_runtime(async move { monitor.execute(Command::RegisterCheck { spec }).await })
                    .await?;
            }
        }
        self.remember(check, callable);
        Ok(())
    }

    fn remember(&self, spec: CheckSpec, callable: Option<CallableFn>) {
        let mut checks = self.registered();
        let paused = checks.get(&spec.name).is_some_and(|r| r.paused);
        checks.insert(spec.name.clone(), Registered { spec, callable, paused });
    }

    /// Registers several checks: all are validated first (problems are reported with their
    /// index, `[2].url`), and none is registered unless all are valid.
    pub async fn register_many(&self, specs: Vec<Value>) -> Result<(), EmbedError> {
        let mut problems = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            if let Err(e) = CheckSpec::from_value(spec.clone()) {
                let list = match &e {
                    SpecError::Invalid(list) => list.clone(),
                    other => vec![Problem {
                        path: String::new(),
                        message: other.to_string(),
                    }],
                };
                problems.extend(list.into_iter().map(|p| Problem {
                    path: if p.path.is_empty() {
                        format!("[{i}]")
                    } else {
                        format!("[{i}].{}", p.path)
                    },
                    message: p.message,
                }));
            }
        }
        if !problems.is_empty() {
            return Err(SpecError::Invalid(problems).into());
        }
        for spec in specs {
            self.register(spec, None).await?;
        }
        Ok(())
    }

    /// Replaces a check's spec (and, for a callable check, its function), keeping its status.
    pub async fn update(&self, spec: Value, callable: Option<CallableFn>) -> Result<(), EmbedError> {
        let check = CheckSpec::from_value(spec.clone())?;
        let monitor = self.monitor()?;
        match &callable {
            Some(f) => {
                let (c, f) = (check.clone(), f.clone());
                self.on_runtime(async move { monitor.update_callable(c, f) }).await?
            }
            None => {
                let keep = self.registered().get(&check.name).and_then(|r| r.callable.clone());
                match keep {
                    // A callable check keeps its function when only its spec changes.
                    Some(f) => {
                        let c = check.clone();
                        self.on_runtime(async move { monitor.update_callable(c, f) }).await?
                    }
                    None => {
                        self.on_runtime(async move { monitor.execute(Command::UpdateCheck { spec }).await })
                            .await?;
                    }
                }
            }
        }
        let callable = callable.or_else(|| self.registered().get(&check.name).and_then(|r| r.callable.clone()));
        self.remember(check, callable);
        Ok(())
    }

    /// Removes a check (its history stays in the store).
    pub async fn delete(&self, name: &str) -> Result<(), EmbedError> {
        self.command(Command::DeleteCheck { check: name.into() }).await?;
        self.registered().remove(name);
        Ok(())
    }

    /// Stops scheduling a check.
    pub async fn pause(&self, name: &str) -> Result<(), EmbedError> {
        self.command(Command::PauseCheck { check: name.into() }).await?;
        if let Some(r) = self.registered().get_mut(name) {
            r.paused = true;
        }
        Ok(())
    }

    /// Holds back alerts about a check or a service's checks for `duration` (`"30m"`);
    /// they still run and are stored, flagged `maintenance`. `"0s"` ends a mute. With a
    /// shared database it is kept there and sent to the process that runs the checks.
    ///
    /// ```
    /// let e = monitor_core::Embedded::from_json("").unwrap();
    /// e.wait(e.mute("backend", "30m")).unwrap();
    /// assert_eq!(e.wait(e.mute("backend", "soon")).unwrap_err().path(), Some("duration"));
    /// assert_eq!(e.alerting().unwrap().mutes[0].target, "backend");
    /// e.wait(e.mute("backend", "0s")).unwrap();
    /// assert!(e.alerting().unwrap().mutes.is_empty());
    /// ```
    pub async fn mute(&self, target: &str, duration: &str) -> Result<(), EmbedError> {
        let d = crate::spec::reader::parse_duration(duration).map_err(|e| EmbedError::invalid("duration", e))?;
        if target.trim().is_empty() {
            return Err(EmbedError::invalid("target", "must name a check or a service"));
        }
        let monitor = self.monitor()?;
        let target = target.to_string();
        self.on_runtime(async move {
            if d.is_zero() {
                monitor.unmute(&target).await
            } else {
                monitor.mute(&target, d).await
            }
        })
        .await
    }

    /// Adds a notifier (the `[[notifiers]]` shape), or replaces the one of the same name.
    /// A `callable` notifier takes `function`, which every alert for it is given to (with
    /// the outbox's retries and order); other kinds take none.
    ///
    /// ```
    /// use monitor_core::alerts::deliver::notifier_function;
    /// let e = monitor_core::Embedded::from_json("").unwrap();
    /// e.add_notifier(serde_json::json!({"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x"}), None).unwrap();
    /// let f = notifier_function(|_alert| async { Ok(()) });
    /// e.add_notifier(serde_json::json!({"name": "page", "kind": "callable"}), Some(f)).unwrap();
    /// let err = e.add_notifier(serde_json::json!({"name": "page", "kind": "callable"}), None).unwrap_err();
    /// assert_eq!(err.path(), Some("fn"));
    /// assert_eq!(e.alerting().unwrap().notifiers.len(), 2);
    /// ```
    pub fn add_notifier(&self, spec: Value, function: Option<NotifierFn>) -> Result<(), EmbedError> {
        self.add_parsed_notifier(NotifierSpec::from_value(spec)?, function)
    }

    /// Adds a notifier for a host program without callbacks (C, PHP): a `callable` one is
    /// served by polling `pulled` ([`PulledAlerts::next`] and [`PulledAlerts::done`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_core::alerts::pull::PulledAlerts;
    /// let e = monitor_core::Embedded::from_json("").unwrap();
    /// let pulled = Arc::new(PulledAlerts::default());
    /// e.add_pulled_notifier(serde_json::json!({"name": "page", "kind": "callable"}), &pulled).unwrap();
    /// e.add_pulled_notifier(serde_json::json!({"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x"}), &pulled).unwrap();
    /// assert_eq!(e.alerting().unwrap().notifiers.iter().filter(|n| n.function).count(), 1);
    /// ```
    pub fn add_pulled_notifier(&self, spec: Value, pulled: &Arc<PulledAlerts>) -> Result<(), EmbedError> {
        let spec = NotifierSpec::from_value(spec)?;
        let function = (spec.kind == NotifierKind::Callable).then(|| pulled.function(&spec.name));
        self.add_parsed_notifier(spec, function)
    }

    /// Has the config's `callable` notifiers served by polling `pulled` (as
    /// [`Embedded::add_pulled_notifier`] does for those added later).
    pub fn pull_callable_notifiers(&self, pulled: &Arc<PulledAlerts>) -> Result<(), EmbedError> {
        for n in &self.config().spec.notifiers {
            if n.kind == NotifierKind::Callable {
                self.set_notifier_function(&n.name, pulled.function(&n.name))?;
            }
        }
        Ok(())
    }

    fn add_parsed_notifier(&self, spec: NotifierSpec, function: Option<NotifierFn>) -> Result<(), EmbedError> {
        let callable = spec.kind == NotifierKind::Callable;
        if callable && function.is_none() {
            return Err(EmbedError::invalid("fn", "a callable notifier needs its function"));
        }
        if !callable && function.is_some() {
            return Err(EmbedError::invalid(
                "fn",
                format!(
                    "only callable notifiers take a function ({:?} is a {} notifier)",
                    spec.name,
                    spec.kind.as_str()
                ),
            ));
        }
        let monitor = self.monitor()?;
        monitor.add_notifier(spec.clone());
        if let Some(f) = &function {
            monitor.set_notifier_function(&spec.name, f.clone());
        }
        self.setup().notifiers.insert(spec.name.clone(), (spec, function));
        Ok(())
    }

    /// Removes a notifier; whether it existed.
    pub fn remove_notifier(&self, name: &str) -> Result<bool, EmbedError> {
        let removed = self.monitor()?.remove_notifier(name);
        self.setup().notifiers.remove(name);
        Ok(removed)
    }

    /// Gives an existing `callable` notifier (one from the config, say) its function in this
    /// process; it is kept for a forked child like one given to [`Embedded::add_notifier`].
    /// A name that is not a callable notifier is an invalid `name`.
    ///
    /// ```
    /// use monitor_core::alerts::deliver::notifier_function;
    /// let e = monitor_core::Embedded::from_value(serde_json::json!({
    ///     "notifiers": [{"name": "page", "kind": "callable"}]
    /// })).unwrap();
    /// assert!(!e.alerting().unwrap().notifiers[0].function);
    /// e.set_notifier_function("page", notifier_function(|_alert| async { Ok(()) })).unwrap();
    /// assert!(e.alerting().unwrap().notifiers[0].function);
    /// let f = notifier_function(|_alert| async { Ok(()) });
    /// assert_eq!(e.set_notifier_function("nobody", f).unwrap_err().path(), Some("name"));
    /// ```
    pub fn set_notifier_function(&self, name: &str, function: NotifierFn) -> Result<(), EmbedError> {
        let monitor = self.monitor()?;
        let mut setup = self.setup();
        let Some((spec, slot)) = setup.notifiers.get_mut(name) else {
            return Err(EmbedError::invalid("name", format!("{name:?} is not a notifier")));
        };
        if spec.kind != NotifierKind::Callable {
            return Err(EmbedError::invalid(
                "name",
                format!(
                    "{name:?} is a {} notifier: only callable notifiers take a function",
                    spec.kind.as_str()
                ),
            ));
        }
        monitor.set_notifier_function(name, function.clone());
        *slot = Some(function);
        Ok(())
    }

    /// Adds an alert rule (the `[[alerts]]` shape), or replaces the one of the same name;
    /// its `notify` names must be notifiers already added.
    ///
    /// ```
    /// let e = monitor_core::Embedded::from_json("").unwrap();
    /// let err = e.add_alert(serde_json::json!({"name": "api", "for": "soon"})).unwrap_err();
    /// assert_eq!(err.path(), Some("for"));
    /// e.add_alert(serde_json::json!({"name": "api", "checks": ["api"], "for": "2m"})).unwrap();
    /// assert!(e.remove_alert("api").unwrap());
    /// ```
    pub fn add_alert(&self, rule: Value) -> Result<(), EmbedError> {
        let rule = AlertRule::from_value(rule)?;
        self.monitor()?.add_alert_rule(rule.clone())?;
        let mut setup = self.setup();
        setup.rules.retain(|r| r.name != rule.name);
        setup.rules.push(rule);
        Ok(())
    }

    /// Removes an alert rule; whether it existed.
    pub fn remove_alert(&self, name: &str) -> Result<bool, EmbedError> {
        let removed = self.monitor()?.remove_alert_rule(name);
        self.setup().rules.retain(|r| r.name != name);
        Ok(removed)
    }

    /// Adds a maintenance window (the `[[maintenance]]` shape), or replaces the one of the same name.
    pub fn add_maintenance(&self, window: Value) -> Result<(), EmbedError> {
        let window = MaintenanceWindow::from_value(window)?;
        self.monitor()?.add_maintenance(window.clone());
        let mut setup = self.setup();
        setup.maintenance.retain(|w| w.name != window.name);
        setup.maintenance.push(window);
        Ok(())
    }

    /// Removes a maintenance window; whether it existed.
    pub fn remove_maintenance(&self, name: &str) -> Result<bool, EmbedError> {
        let removed = self.monitor()?.remove_maintenance(name);
        self.setup().maintenance.retain(|w| w.name != name);
        Ok(removed)
    }

    /// Notifiers (no secrets), rules, maintenance windows (open or not) and mutes in force.
    pub fn alerting(&self) -> Result<crate::alerts::AlertingView, EmbedError> {
        Ok(self.monitor()?.alerting())
    }

    /// Alert counters, set-up and outbox in one answer, without the status of every check.
    ///
    /// ```
    /// let e = monitor_core::Embedded::from_json("").unwrap();
    /// let report = serde_json::to_value(e.alerts_report().unwrap()).unwrap();
    /// assert_eq!(report["status"]["fired"], 0);
    /// assert_eq!(report["pending"], serde_json::json!([]));
    /// ```
    pub fn alerts_report(&self) -> Result<crate::alerts::AlertsReport, EmbedError> {
        Ok(self.monitor()?.alerts_report())
    }

    /// Alerts waiting in this process's outbox, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<crate::alerts::deliver::PendingDelivery>, EmbedError> {
        Ok(self.monitor()?.pending_alerts())
    }

    /// Schedules a paused check again.
    pub async fn resume(&self, name: &str) -> Result<(), EmbedError> {
        self.command(Command::ResumeCheck { check: name.into() }).await?;
        if let Some(r) = self.registered().get_mut(name) {
            r.paused = false;
        }
        Ok(())
    }

    async fn command(&self, command: Command) -> Result<crate::bus::Reply, EmbedError> {
        let monitor = self.monitor()?;
        self.on_runtime(async move { monitor.execute(command).await }).await
    }

    /// Runs the named checks (all when `None`) now and returns their results.
    pub async fn run_now(&self, names: Option<Vec<String>>) -> Result<Vec<CheckResult>, EmbedError> {
        // The monitor's command runs them here, or forwards them to the lease holder.
        Ok(match self.command(Command::ExecuteChecks { checks: names }).await? {
            crate::bus::Reply::Results { results } => results,
            crate::bus::Reply::Done => Vec::new(),
        })
    }

    /// A heartbeat for a push check; returns the check's fresh result.
    pub async fn push(&self, name: &str, ok: bool, message: Option<String>) -> Result<CheckResult, EmbedError> {
        let (monitor, name) = (self.monitor()?, name.to_string());
        self.on_runtime(async move { monitor.push(&name, ok, message).await })
            .await
    }

    /// A result from the application's own traffic, on a push check, with its measured duration.
    pub async fn record(
        &self,
        name: &str,
        ok: bool,
        duration_ms: f64,
        message: Option<String>,
    ) -> Result<CheckResult, EmbedError> {
        if !duration_ms.is_finite() || duration_ms < 0.0 {
            return Err(EmbedError::invalid(
                "duration_ms",
                format!("must be a number of milliseconds >= 0, got {duration_ms}"),
            ));
        }
        let (monitor, name) = (self.monitor()?, name.to_string());
        let duration = Duration::from_secs_f64(duration_ms / 1000.0);
        self.on_runtime(async move { monitor.record(&name, ok, message, duration).await })
            .await
    }

    /// Every check's latest result and status, every service's status, the writer's counters.
    pub fn status(&self) -> Result<StatusSnapshot, EmbedError> {
        Ok(self.monitor()?.status())
    }

    /// The readiness answer of a web app's `ready` endpoint: ready unless one of `services`
    /// (every declared service when `None`) is down. A service with no status yet, or not
    /// declared, is `"unknown"` and does not make it unready.
    ///
    /// ```
    /// let e = monitor_core::Embedded::from_json(r#"{"services": [{"name": "api"}]}"#).unwrap();
    /// let r = e.readiness(None).unwrap();
    /// assert!(r.ready);
    /// assert_eq!(r.services["api"], "unknown");
    /// let r = e.readiness(Some(&["db".to_string()])).unwrap();
    /// assert_eq!(r.services["db"], "unknown");
    /// ```
    pub fn readiness(&self, services: Option<&[String]>) -> Result<Readiness, EmbedError> {
        let snapshot = self.monitor()?.status();
        let known: BTreeMap<&str, Option<Status>> = snapshot
            .services
            .iter()
            .map(|s| (s.service.as_str(), s.status))
            .collect();
        let wanted: Vec<&str> = match services {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => known.keys().copied().collect(),
        };
        let services: BTreeMap<String, String> = wanted
            .iter()
            .map(|name| {
                let state = known.get(name).copied().flatten().map_or("unknown", |s| s.as_str());
                (name.to_string(), state.to_string())
            })
            .collect();
        Ok(Readiness {
            ready: services.values().all(|s| s != "down"),
            services,
        })
    }

    /// A page of stored results, newest first ([`history_query`] shape).
    pub async fn history(&self, query: &Value) -> Result<Page<StoredResult>, EmbedError> {
        let (q, monitor) = (history_query(query)?, self.monitor()?);
        self.on_runtime(async move { monitor.history(q).await }).await
    }

    /// The latest stored result of each check matching the query.
    pub async fn latest(&self, query: &Value) -> Result<Vec<StoredResult>, EmbedError> {
        let (q, monitor) = (history_query(query)?, self.monitor()?);
        self.on_runtime(async move { monitor.latest(q).await }).await
    }

    /// A page of status changes, newest first.
    pub async fn status_changes(&self, query: &Value) -> Result<Page<StatusChange>, EmbedError> {
        let (q, monitor) = (history_query(query)?, self.monitor()?);
        self.on_runtime(async move { monitor.status_changes(q).await }).await
    }

    /// Uptime and latency percentiles over `window` (`"30d"`) for the checks matching `query`.
    pub async fn uptime(&self, query: &Value, window_text: &str) -> Result<Vec<Uptime>, EmbedError> {
        let (q, w, monitor) = (history_query(query)?, window(window_text)?, self.monitor()?);
        self.on_runtime(async move { monitor.uptime(q, w).await }).await
    }

    /// Incidents of the checks matching the query ([`history_query`] shape), newest first, one page.
    pub async fn incidents(&self, query: &Value) -> Result<Page<crate::alerts::incidents::Incident>, EmbedError> {
        let (q, monitor) = (history_query(query)?, self.monitor()?);
        self.on_runtime(async move { monitor.incidents(q).await }).await
    }

    /// Incidents, downtime, MTTR and MTBF per check over `window` (`"30d"`).
    pub async fn incident_stats(
        &self,
        query: &Value,
        window_text: &str,
    ) -> Result<Vec<crate::alerts::incidents::IncidentStats>, EmbedError> {
        let (q, w, monitor) = (history_query(query)?, window(window_text)?, self.monitor()?);
        self.on_runtime(async move { monitor.incident_stats(q, w).await }).await
    }

    /// A host snapshot: the latest sampled one when younger than a second, otherwise sampled now.
    pub async fn host(&self) -> Result<HostSnapshot, EmbedError> {
        let monitor = self.monitor()?;
        self.on_runtime(async move { monitor.sample_host(Duration::from_secs(1)).await })
            .await
    }

    /// The latest sampled host snapshot when it is at most `max_age` old, without waiting
    /// (bindings answer `host()` from it at once and only go to the runtime to sample).
    pub fn host_recent(&self, max_age: Duration) -> Result<Option<HostSnapshot>, EmbedError> {
        let latest = self.monitor()?.host();
        Ok(latest.filter(|h| (Utc::now() - h.at).to_std().unwrap_or_default() <= max_age))
    }

    /// A host snapshot no older than `max_age`, sampled on the calling thread when it must be
    /// (blocking, for bindings that call from a thread of their own, without the GIL or from
    /// C): the trip to the runtime and back through a blocking thread costs about as much as
    /// a sample. A panic in the sampler is an [`EmbedError::Panic`].
    ///
    /// ```
    /// let e = monitor_core::Embedded::from_json(r#"{"host_interval": "off"}"#).unwrap();
    /// let h = e.host_here(std::time::Duration::ZERO).unwrap();
    /// assert!(h.memory.total > 0);
    /// ```
    pub fn host_here(&self, max_age: Duration) -> Result<HostSnapshot, EmbedError> {
        let monitor = self.monitor()?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(monitor.sample_host(max_age))
        }))
        .map_err(|p| EmbedError::Panic(crate::checks::panic_message(&p)))?
        .map_err(EmbedError::from)
    }

    /// A host snapshot sampled now, whatever the age of the latest one (what a benchmark
    /// against psutil's full snapshot measures).
    pub async fn host_now(&self) -> Result<HostSnapshot, EmbedError> {
        let monitor = self.monitor()?;
        self.on_runtime(async move { monitor.sample_host(Duration::ZERO).await })
            .await
    }

    /// The current state in the Prometheus text format.
    pub fn prometheus(&self) -> Result<String, EmbedError> {
        Ok(self.monitor()?.prometheus())
    }

    /// Whether several processes share the database (so only one runs checks).
    pub fn is_shared(&self) -> Result<bool, EmbedError> {
        Ok(self.monitor()?.is_shared())
    }

    /// Whether this process runs the checks (always, unless another process holds the lease).
    pub fn runs_checks(&self) -> Result<bool, EmbedError> {
        Ok(self.monitor()?.runs_checks())
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<(u64, Filter, Listener)>> {
        self.shared.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls `listener` for every event of `kinds` (all when empty), on the engine's one
    /// dispatch thread: a slow listener delays other listeners, never checks. A panicking
    /// listener loses that event only. Returns an id for [`Embedded::off`].
    pub fn on(&self, kinds: &[EventKind], listener: Listener) -> Result<u64, EmbedError> {
        let id = self.shared.next_listener.fetch_add(1, Ordering::SeqCst);
        let filter = Filter::default().kinds(kinds.iter().copied());
        self.listeners().push((id, filter, listener));
        self.ensure_dispatch();
        Ok(id)
    }

    /// Removes a listener; `false` when no listener has this id.
    pub fn off(&self, id: u64) -> bool {
        let mut list = self.listeners();
        let before = list.len();
        list.retain(|(i, _, _)| *i != id);
        before != list.len()
    }

    /// Starts this generation's dispatch thread if it is not running.
    fn ensure_dispatch(&self) {
        let Ok((monitor, _)) = self.live() else { return };
        let generation = {
            let mut live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner());
            match live.as_mut() {
                Some(l) if !l.dispatching => {
                    l.dispatching = true;
                    l.generation
                }
                _ => return,
            }
        };
        let mut sub = monitor.subscribe(Filter::default());
        drop(monitor);
        let shared = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("upwatch-dispatch".into())
            .spawn(move || {
                // Ends when the monitor closes (the bus closes) or the engine is dropped.
                while let Some(delivery) = sub.blocking_recv() {
                    let Some(shared) = shared.upgrade() else { break };
                    if shared.generations.load(Ordering::SeqCst) != generation {
                        break;
                    }
                    let Delivery::Event(event) = delivery else { continue };
                    let targets: Vec<Listener> = shared
                        .listeners
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .filter(|(_, f, _)| f.matches(&event))
                        .map(|(_, _, l)| l.clone())
                        .collect();
                    drop(shared);
                    for listener in targets {
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(&event)));
                    }
                }
            });
        if spawned.is_err() {
            tracing::warn!("could not start the event dispatch thread");
        }
    }

    /// A stream of events of `kinds` (all when empty) from now on, read with
    /// [`EventStream::next_blocking`] or awaited with [`EventStream::next`].
    pub fn events(&self, kinds: &[EventKind]) -> Result<EventStream, EmbedError> {
        let filter = Filter::default().kinds(kinds.iter().copied());
        let sub = self.monitor()?.subscribe(filter.clone());
        Ok(EventStream {
            engine: self.clone(),
            filter,
            sub: Arc::new(tokio::sync::Mutex::new(sub)),
            missed: Arc::new(AtomicU64::new(0)),
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone without close(): stop without waiting for checks in flight.
        if let Some(live) = self.live.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            if live.pid == std::process::id() {
                live.runtime.shutdown_background();
            } else {
                std::mem::forget(live);
            }
        }
    }
}

/// Events from [`Embedded::events`]. Clones read the same stream.
#[derive(Clone)]
pub struct EventStream {
    engine: Embedded,
    filter: Filter,
    sub: Arc<tokio::sync::Mutex<Subscription>>,
    missed: Arc<AtomicU64>,
}

impl EventStream {
    /// The next event; `None` once the monitor is closed. Cancel-safe: dropping the future
    /// loses no event.
    pub async fn next(&self) -> Option<Arc<Event>> {
        self.next_within(None).await.ok().flatten()
    }

    /// The next event, waiting at most `timeout` (`None`: until one comes): `Ok(None)` when
    /// the time ran out, `Err(Closed)` once the monitor is closed.
    pub async fn next_within(&self, timeout: Option<Duration>) -> Result<Option<Arc<Event>>, EmbedError> {
        let (sub, missed) = (self.sub.clone(), self.missed.clone());
        let (_, handle) = self.engine.live()?;
        // Received on the engine's runtime, so any executor can await it; aborted when the
        // caller gives up, and a broadcast receive dropped mid-wait loses nothing.
        let task = AbortOnDrop(handle.spawn(async move {
            let mut sub = sub.lock().await;
            let receive = async {
                loop {
                    match sub.recv().await {
                        None => return None,
                        Some(Delivery::Event(e)) => return Some(e),
                        Some(Delivery::Lagged { missed: n }) => {
                            missed.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
            };
            match timeout {
                None => Ok(receive.await),
                Some(t) => tokio::time::timeout(t, receive).await.map_err(|_| ()),
            }
        }));
        match task.await {
            Ok(Ok(Some(event))) => Ok(Some(event)),
            Ok(Ok(None)) => Err(EmbedError::Closed),
            Ok(Err(())) => Ok(None),
            Err(_) => Err(EmbedError::Closed),
        }
    }

    /// [`EventStream::next_within`], blocking the calling thread.
    pub fn next_blocking(&self, timeout: Option<Duration>) -> Result<Option<Arc<Event>>, EmbedError> {
        futures::executor::block_on(self.next_within(timeout))
    }

    /// Events lost because this reader fell behind.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }

    /// The filter it was made with.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
