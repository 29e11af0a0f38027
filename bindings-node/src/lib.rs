//! The `upwatch` npm package: a thin napi-rs layer over [`monitor_core::embed::Embedded`].
//!
//! It converts types (JS objects to the core's JSON shapes, results back through their serde
//! shapes), keeps the JS thread free (everything that waits on the network or the disk
//! returns a promise awaited off the JS thread), maps errors once by code, and forwards to
//! the core. No monitoring logic lives here.

mod callable;
mod convert;
mod errors;
mod events;
mod notifier;

use convert::{promise, snake_keys, to_js};
use errors::{guard, Failure};
use events::{event_json, kinds, listener_tsfn, EventStream, ListenerTsfn};
use monitor_core::embed::Embedded;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type JsCheck<'f> = Function<'f, (), Unknown<'static>>;
type JsListener<'f> = Function<'f, Unknown<'static>, Unknown<'static>>;

struct Listening {
    id: u64,
    kind: monitor_core::bus::EventKind,
    func: FunctionRef<Unknown<'static>, Unknown<'static>>,
    _tsfn: Arc<ListenerTsfn>,
}

/// An embedded monitor: checks, schedules, history, host stats, events.
///
/// ```js
/// const { Monitor } = require('upwatch')
/// const m = new Monitor({ db: 'upwatch.db', hostInterval: '15s' })
/// await m.register({ name: 'api', kind: 'http', url: 'https://example.com/health', interval: '30s' })
/// m.on('checkFailed', (e) => console.log(e.check, e.error?.message))
/// m.start()
/// ```
#[napi]
pub struct Monitor {
    engine: Embedded,
    listeners: Mutex<Vec<Listening>>,
}

fn object_or_empty(value: Option<Value>) -> Value {
    match value {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    }
}

/// A name, a list of names, or a history-query object, as the core's query object.
fn query_of(arg: Option<Value>) -> std::result::Result<Value, Failure> {
    match arg {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(s)) => Ok(serde_json::json!({ "check": s })),
        Some(Value::Array(a)) => Ok(serde_json::json!({ "check": a })),
        Some(Value::Object(o)) => Ok(snake_keys(Value::Object(o))),
        Some(other) => Err(Failure::invalid(
            "query",
            format!("expected a check name, a list of names or a query object, got {other}"),
        )),
    }
}

fn names_of(arg: Option<Value>) -> std::result::Result<Option<Vec<String>>, Failure> {
    match arg {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(Failure::invalid(
                    &format!("names[{i}]"),
                    format!("expected a check name, got {other}"),
                )),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(Failure::invalid(
            "names",
            format!("expected a check name or a list of names, got {other}"),
        )),
    }
}

/// The `{ ok, message, durationMs }` options of push/record.
struct Report {
    ok: bool,
    message: Option<String>,
    duration_ms: Option<f64>,
}

fn report_of(arg: Option<Value>, needs_duration: bool) -> std::result::Result<Report, Failure> {
    let v = snake_keys(object_or_empty(arg));
    let Value::Object(o) = v else {
        return Err(Failure::invalid("options", "expected an object like { ok: true }"));
    };
    let ok = match o.get("ok") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(Failure::invalid("ok", format!("expected true or false, got {other}"))),
    };
    let message = match o.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(Failure::invalid("message", format!("expected a string, got {other}"))),
    };
    let duration_ms = match o.get("duration_ms") {
        None | Some(Value::Null) if needs_duration => {
            return Err(Failure::invalid(
                "durationMs",
                "is required (milliseconds the work took)",
            ))
        }
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => {
            return Err(Failure::invalid(
                "durationMs",
                format!("expected a number of milliseconds, got {other}"),
            ))
        }
    };
    for key in o.keys() {
        if !matches!(key.as_str(), "ok" | "message" | "duration_ms") {
            return Err(Failure::invalid(key, "unknown option (ok, message, durationMs)"));
        }
    }
    Ok(Report {
        ok,
        message,
        duration_ms,
    })
}

#[napi]
impl Monitor {
    /// Builds a monitor from options in the core's config shape with camelCase keys
    /// (`db`, `lease`, `hostInterval`, `maxConcurrency`, `maxPerHost`, `threads`, `retention`,
    /// `checks`, `services`). Opens the history file now; nothing runs until `start()`.
    #[napi(constructor)]
    pub fn new(env: &Env, #[napi(ts_arg_type = "MonitorOptions")] options: Option<Value>) -> Result<Self> {
        guard(env, || {
            let config = snake_keys(object_or_empty(options));
            let engine = Embedded::from_value(config)?;
            Ok(Monitor {
                engine,
                listeners: Mutex::new(Vec::new()),
            })
        })
    }

    /// A monitor from a TOML or JSON config file (settings in its `[monitor]` table, checks
    /// and services as in a spec file; a relative `db` is relative to the file).
    #[napi(factory)]
    pub fn from_config(env: &Env, path: String) -> Result<Self> {
        guard(env, || {
            Ok(Monitor {
                engine: Embedded::from_file(&path)?,
                listeners: Mutex::new(Vec::new()),
            })
        })
    }

    /// Registers a check (the core's spec shape). A `kind: 'callable'` check takes its JS
    /// function (sync or async: resolving passes, a string value is the message; throwing or
    /// rejecting fails with the error's message). Registering an existing name replaces it.
    #[napi(
        ts_args_type = "spec: CheckSpec, check?: CheckFunction",
        ts_return_type = "Promise<void>"
    )]
    pub fn register<'e>(&self, env: &'e Env, spec: Value, check: Option<JsCheck<'_>>) -> Result<PromiseRaw<'e, ()>> {
        let f = guard(env, || {
            check.as_ref().map(callable::from_js).transpose().map_err(napi_failure)
        })?;
        let engine = self.engine.clone();
        let spec = snake_keys(spec);
        promise(env, async move { Ok(engine.register(spec, f).await?) }, |_, ()| Ok(()))
    }

    /// Registers several checks: all are validated first (problems named `[2].url`), none is
    /// registered unless all are valid.
    #[napi(ts_args_type = "specs: CheckSpec[]", ts_return_type = "Promise<void>")]
    pub fn register_many<'e>(&self, env: &'e Env, specs: Vec<Value>) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        let specs = specs.into_iter().map(snake_keys).collect();
        promise(env, async move { Ok(engine.register_many(specs).await?) }, |_, ()| {
            Ok(())
        })
    }

    /// Replaces a check's spec (matched by name), keeping its status; a callable check keeps
    /// its function unless a new one is given.
    #[napi(
        ts_args_type = "spec: CheckSpec, check?: CheckFunction",
        ts_return_type = "Promise<void>"
    )]
    pub fn update<'e>(&self, env: &'e Env, spec: Value, check: Option<JsCheck<'_>>) -> Result<PromiseRaw<'e, ()>> {
        let f = guard(env, || {
            check.as_ref().map(callable::from_js).transpose().map_err(napi_failure)
        })?;
        let engine = self.engine.clone();
        let spec = snake_keys(spec);
        promise(env, async move { Ok(engine.update(spec, f).await?) }, |_, ()| Ok(()))
    }

    /// Removes a check (its history stays).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete<'e>(&self, env: &'e Env, name: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.delete(&name).await?) }, |_, ()| Ok(()))
    }

    /// Stops scheduling a check.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn pause<'e>(&self, env: &'e Env, name: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.pause(&name).await?) }, |_, ()| Ok(()))
    }

    /// Schedules a paused check again.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn resume<'e>(&self, env: &'e Env, name: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.resume(&name).await?) }, |_, ()| Ok(()))
    }

    /// Runs the named checks (all when none are named) now; resolves with their results.
    #[napi(
        ts_args_type = "names?: string | string[]",
        ts_return_type = "Promise<CheckResult[]>"
    )]
    pub fn run_now<'e>(&self, env: &'e Env, names: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let names = guard(env, || names_of(names))?;
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.run_now(names).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// A heartbeat for a push check (`{ ok: false, message }` reports a failure).
    #[napi(
        ts_args_type = "name: string, options?: PushOptions",
        ts_return_type = "Promise<CheckResult>"
    )]
    pub fn push<'e>(&self, env: &'e Env, name: String, options: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let r = guard(env, || report_of(options, false))?;
        let engine = self.engine.clone();
        promise(
            env,
            async move { Ok(engine.push(&name, r.ok, r.message).await?) },
            |env, r| to_js(env, &r),
        )
    }

    /// A result from the service's own traffic, on a push check, with its measured duration.
    #[napi(
        ts_args_type = "name: string, options: RecordOptions",
        ts_return_type = "Promise<CheckResult>"
    )]
    pub fn record<'e>(&self, env: &'e Env, name: String, options: Value) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let r = guard(env, || report_of(Some(options), true))?;
        let engine = self.engine.clone();
        let duration = r.duration_ms.unwrap_or_default();
        promise(
            env,
            async move { Ok(engine.record(&name, r.ok, duration, r.message).await?) },
            |env, r| to_js(env, &r),
        )
    }

    /// Every check's latest result and status, every service's status, the history writer's
    /// counters (from memory: no waiting).
    #[napi(ts_return_type = "StatusSnapshot")]
    pub fn status<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        let snapshot = guard(env, || Ok(self.engine.status()?))?;
        to_js(env, &snapshot)
    }

    /// A page of stored results, newest first: `{ items, next_cursor }`.
    #[napi(
        ts_args_type = "query?: HistoryQuery",
        ts_return_type = "Promise<Page<StoredResult>>"
    )]
    pub fn history<'e>(&self, env: &'e Env, query: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(query))?;
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.history(&q).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// A page of status changes, newest first.
    #[napi(
        ts_args_type = "query?: HistoryQuery",
        ts_return_type = "Promise<Page<StatusChange>>"
    )]
    pub fn status_changes<'e>(&self, env: &'e Env, query: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(query))?;
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.status_changes(&q).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// The latest stored result of each check matching the query.
    #[napi(ts_args_type = "query?: HistoryQuery", ts_return_type = "Promise<StoredResult[]>")]
    pub fn latest<'e>(&self, env: &'e Env, query: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(query))?;
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.latest(&q).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// Uptime and latency percentiles over `window` (default `"30d"`) for a check, a list of
    /// checks, or the checks matching a query.
    #[napi(
        ts_args_type = "check?: string | string[] | HistoryQuery, window?: string",
        ts_return_type = "Promise<Uptime[]>"
    )]
    pub fn uptime<'e>(
        &self,
        env: &'e Env,
        check: Option<Value>,
        window: Option<String>,
    ) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(check))?;
        let window = window.unwrap_or_else(|| "30d".to_string());
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.uptime(&q, &window).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// Incidents of the checks matching the query, newest first: `{ items, next_cursor }`.
    /// An incident runs from a check's settled change to down until its change back up.
    #[napi(
        ts_args_type = "query?: string | string[] | HistoryQuery",
        ts_return_type = "Promise<Page<Incident>>"
    )]
    pub fn incidents<'e>(&self, env: &'e Env, query: Option<Value>) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(query))?;
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.incidents(&q).await?) }, |env, r| {
            to_js(env, &r)
        })
    }

    /// Incidents, downtime, MTTR and MTBF per check over `window` (default `"30d"`).
    #[napi(
        ts_args_type = "query?: string | string[] | HistoryQuery, window?: string",
        ts_return_type = "Promise<IncidentStats[]>"
    )]
    pub fn incident_stats<'e>(
        &self,
        env: &'e Env,
        query: Option<Value>,
        window: Option<String>,
    ) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let q = guard(env, || query_of(query))?;
        let window = window.unwrap_or_else(|| "30d".to_string());
        let engine = self.engine.clone();
        promise(
            env,
            async move { Ok(engine.incident_stats(&q, &window).await?) },
            |env, r| to_js(env, &r),
        )
    }

    /// Adds a notifier (the core's `[[notifiers]]` shape, camelCase keys accepted), or
    /// replaces the one of the same name. A `kind: 'callable'` notifier takes its JS function,
    /// called with each alert (sync or async): returning or resolving delivers it, throwing or
    /// rejecting is a failed attempt (retried with the notifier's backoff, each failure an
    /// `alertDeliveryFailed` event with the error's message). Other kinds take no function.
    #[napi(ts_args_type = "spec: NotifierSpec, notify?: NotifierFunction")]
    pub fn add_notifier(&self, env: &Env, spec: Value, notify: Option<JsListener<'_>>) -> Result<()> {
        guard(env, || {
            let f = notify
                .as_ref()
                .map(notifier::from_js)
                .transpose()
                .map_err(|e| Failure::invalid("fn", format!("could not use the function: {}", e.reason)))?;
            Ok(self.engine.add_notifier(snake_keys(spec), f)?)
        })
    }

    /// Removes a notifier; whether it existed.
    #[napi]
    pub fn remove_notifier(&self, env: &Env, name: String) -> Result<bool> {
        guard(env, || Ok(self.engine.remove_notifier(&name)?))
    }

    /// Adds an alert rule (the core's `[[alerts]]` shape), or replaces the one of the same
    /// name. Its `notify` names must be notifiers already added (`UPWATCH_SPEC`, path `notify[0]`).
    #[napi(ts_args_type = "rule: AlertRuleSpec")]
    pub fn add_alert(&self, env: &Env, rule: Value) -> Result<()> {
        guard(env, || Ok(self.engine.add_alert(snake_keys(rule))?))
    }

    /// Removes an alert rule; whether it existed.
    #[napi]
    pub fn remove_alert(&self, env: &Env, name: String) -> Result<bool> {
        guard(env, || Ok(self.engine.remove_alert(&name)?))
    }

    /// Adds a maintenance window (one-off `{ from, to }` or weekly `{ weekdays, start, end,
    /// timezone }`), or replaces the one of the same name. Checks still run and are stored;
    /// their alerts are held back.
    #[napi(ts_args_type = "window: MaintenanceSpec")]
    pub fn add_maintenance(&self, env: &Env, window: Value) -> Result<()> {
        guard(env, || Ok(self.engine.add_maintenance(snake_keys(window))?))
    }

    /// Removes a maintenance window; whether it existed.
    #[napi]
    pub fn remove_maintenance(&self, env: &Env, name: String) -> Result<bool> {
        guard(env, || Ok(self.engine.remove_maintenance(&name)?))
    }

    /// Holds back alerts about a check or a service's checks for `duration` (`"30m"`); they
    /// still run and are stored, flagged `maintenance`. `"0s"` ends the mute. With a shared
    /// database it is kept there and sent to the process that runs the checks (hence a promise).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn mute<'e>(&self, env: &'e Env, target: String, duration: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(
            env,
            async move { Ok(engine.mute(&target, &duration).await?) },
            |_, ()| Ok(()),
        )
    }

    /// Ends a mute.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn unmute<'e>(&self, env: &'e Env, target: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(
            env,
            async move { Ok(engine.mute(&target, "0s").await?) },
            |_, ()| Ok(()),
        )
    }

    /// The alerting set-up in force: notifiers (no URL, secret or header), rules, maintenance
    /// windows (with `active`) and mutes.
    #[napi(ts_return_type = "AlertingView")]
    pub fn alerting<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        let view = guard(env, || Ok(self.engine.alerting()?))?;
        to_js(env, &view)
    }

    /// Alert counters (as in `status().alerts`), set-up and outbox in one answer, without the
    /// status of every check: what an alerts endpoint shows.
    #[napi(ts_return_type = "AlertsReport")]
    pub fn alerts_report<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        let report = guard(env, || Ok(self.engine.alerts_report()?))?;
        to_js(env, &report)
    }

    /// Alerts waiting in this process's outbox, oldest first.
    #[napi(ts_return_type = "PendingDelivery[]")]
    pub fn pending_alerts<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        let pending = guard(env, || Ok(self.engine.pending_alerts()?))?;
        to_js(env, &pending)
    }

    /// What a `ready` endpoint answers: ready unless one of `services` (every declared service
    /// when none are given) is down; a service without a status yet is `'unknown'`.
    #[napi(ts_args_type = "services?: string[]", ts_return_type = "Readiness")]
    pub fn readiness<'e>(&self, env: &'e Env, services: Option<Vec<String>>) -> Result<Unknown<'e>> {
        let r = guard(env, || Ok(self.engine.readiness(services.as_deref())?))?;
        to_js(env, &r)
    }

    /// A host snapshot (the latest sample when younger than a second, otherwise sampled now).
    #[napi(ts_return_type = "Promise<HostSnapshot>")]
    pub fn host<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        // A fresh enough sample is in memory: resolve at once instead of a trip to the runtime.
        let recent = guard(env, || {
            Ok(self.engine.host_recent(std::time::Duration::from_secs(1))?)
        })?;
        if let Some(snapshot) = recent {
            return PromiseRaw::resolve(env, to_js(env, &snapshot)?);
        }
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.host().await?) }, |env, r| to_js(env, &r))
    }

    /// The current state in the Prometheus text format.
    #[napi]
    pub fn prometheus(&self, env: &Env) -> Result<String> {
        guard(env, || Ok(self.engine.prometheus()?))
    }

    /// Starts scheduling checks (and sampling the host). Calling it again does nothing. The
    /// monitor does not keep the process alive by itself: a service's server does.
    #[napi]
    pub fn start(&self, env: &Env) -> Result<()> {
        guard(env, || Ok(self.engine.start()?))
    }

    /// Stops scheduling, waits up to `graceMs` (default 5000) for checks in flight, writes
    /// what is pending to history and gives up the scheduler lease. Later calls fail with
    /// `UPWATCH_CLOSED`; closing twice does nothing.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env, grace_ms: Option<f64>) -> Result<PromiseRaw<'e, ()>> {
        let grace = match grace_ms {
            None => Duration::from_secs(5),
            Some(ms) if ms.is_finite() && ms >= 0.0 => Duration::from_secs_f64(ms / 1000.0),
            Some(ms) => {
                return Err(Failure::invalid("graceMs", format!("must be a number >= 0, got {ms}")).into_napi(env))
            }
        };
        let engine = self.engine.clone();
        promise(
            env,
            async move {
                // close_within blocks (it waits for checks and the history writer).
                tokio::task::spawn_blocking(move || engine.close_within(grace))
                    .await
                    .map_err(|e| Failure::from(monitor_core::embed::EmbedError::Panic(e.to_string())))
            },
            |_, ()| Ok(()),
        )
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.engine.is_closed()
    }

    /// Whether this process runs the checks: several processes on one SQLite file elect one
    /// (the lease); the others forward their commands to it.
    #[napi]
    pub fn runs_checks(&self, env: &Env) -> Result<bool> {
        guard(env, || Ok(self.engine.runs_checks()?))
    }

    /// Whether several processes share the database.
    #[napi]
    pub fn is_shared(&self, env: &Env) -> Result<bool> {
        guard(env, || Ok(self.engine.is_shared()?))
    }

    /// Calls `listener` with every event of that name (`'checkFailed'`, `'checkStatusChanged'`,
    /// ... or the core's `'check_failed'`). Listeners run on the JS thread; listening does not
    /// keep the process alive.
    #[napi(
        ts_generic_types = "E extends EventName",
        ts_args_type = "event: E, listener: (event: EventOf<E>) => void",
        ts_return_type = "this"
    )]
    pub fn on<'t>(&self, env: &Env, this: This<'t>, event: String, listener: JsListener<'_>) -> Result<This<'t>> {
        let kind = guard(env, || Ok(kinds(std::slice::from_ref(&event))?[0]))?;
        let tsfn = Arc::new(listener_tsfn(&listener)?);
        let call = tsfn.clone();
        let id = guard(env, || {
            Ok(self.engine.on(
                &[kind],
                Arc::new(move |e| {
                    if let Some(text) = event_json(e) {
                        call.call(text, ThreadsafeFunctionCallMode::NonBlocking);
                    }
                }),
            )?)
        })?;
        self.listening().push(Listening {
            id,
            kind,
            func: listener.create_ref()?,
            _tsfn: tsfn,
        });
        Ok(this)
    }

    /// Removes a listener added with `on` (the same event name and function).
    #[napi(
        ts_generic_types = "E extends EventName",
        ts_args_type = "event: E, listener: (event: EventOf<E>) => void",
        ts_return_type = "this"
    )]
    pub fn off<'t>(&self, env: &Env, this: This<'t>, event: String, listener: JsListener<'_>) -> Result<This<'t>> {
        let kind = guard(env, || Ok(kinds(std::slice::from_ref(&event))?[0]))?;
        let mut list = self.listening();
        let mut found = None;
        for (i, l) in list.iter().enumerate() {
            if l.kind == kind && env.strict_equals(l.func.borrow_back(env)?, listener)? {
                found = Some(i);
                break;
            }
        }
        if let Some(i) = found {
            let l = list.remove(i);
            self.engine.off(l.id);
        }
        Ok(this)
    }

    /// How many listeners are registered for an event name (all names when none is given).
    #[napi(ts_args_type = "event?: EventName")]
    pub fn listener_count(&self, env: &Env, event: Option<String>) -> Result<u32> {
        let kind = match event {
            None => None,
            Some(e) => Some(guard(env, || Ok(kinds(std::slice::from_ref(&e))?[0]))?),
        };
        Ok(self
            .listening()
            .iter()
            .filter(|l| kind.is_none_or(|k| l.kind == k))
            .count() as u32)
    }

    /// An async iterator over events of the given names (all when none are given), from now on.
    #[napi(ts_args_type = "events?: EventName | EventName[]")]
    pub fn events(&self, env: &Env, names: Option<Value>) -> Result<EventStream> {
        guard(env, || {
            let names = names_of(names).map_err(|mut f| {
                f.path = Some("events".into());
                f
            })?;
            let list = kinds(&names.unwrap_or_default())?;
            Ok(EventStream::new(self.engine.events(&list)?))
        })
    }

    fn listening(&self) -> std::sync::MutexGuard<'_, Vec<Listening>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn napi_failure(e: Error) -> Failure {
    Failure::invalid("check", format!("could not use the function: {}", e.reason))
}

/// Test hook: panics inside the same boundary every call goes through (`sync`), or inside a
/// promise's work (`async`), to show a Rust panic becomes an `UPWATCH_PANIC` error.
#[napi(js_name = "__panicForTests", skip_typescript)]
pub fn panic_for_tests<'e>(env: &'e Env, place: String) -> Result<Either<PromiseRaw<'e, ()>, ()>> {
    if place == "async" {
        return promise(env, async { panic!("deliberate panic (async)") }, |_, ()| Ok(())).map(Either::A);
    }
    guard(env, || -> std::result::Result<(), Failure> {
        panic!("deliberate panic (sync)")
    })
    .map(Either::B)
}
