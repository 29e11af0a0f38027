//! `upwatch._upwatch`: the compiled half of the `upwatch` Python package.
//!
//! A thin layer over [`monitor_core::embed::Embedded`]: it converts Python objects to the
//! engine's JSON shapes (through `pythonize`) and its values back to plain Python objects
//! (through the serializer of `to_py`), releases the GIL around every wait on
//! the engine, maps [`EmbedError`]s to the exception classes of `upwatch._errors` by their
//! [`ErrorCode`], and forwards the engine's `log` records to Python's `logging` (logger
//! `upwatch`). The Pythonic API (typed results, events, async twins) lives in the pure-Python
//! package around it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use monitor_core::alerts::deliver::NotifierFn;
use monitor_core::alerts::Alert;
use monitor_core::bus::Event;
use monitor_core::checks::callable::CallableFn;
use monitor_core::embed::{event_kinds, EmbedError, Embedded, ErrorCode, EventStream, Listener};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pythonize::depythonize;
use serde_json::Value;

mod to_py;

// ---------------------------------------------------------------------------------------
// Errors: one class per ErrorCode, defined in Python (upwatch/_errors.py) so that they can
// inherit from ValueError/KeyError as well; chosen by code, never by message text.

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    let m = ERRORS.get_or_try_init(py, || py.import("upwatch._errors").map(Bound::unbind))?;
    Ok(m.bind(py))
}

fn class_for(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Spec => "SpecError",
        ErrorCode::UnknownCheck => "UnknownCheckError",
        ErrorCode::DuplicateCheck => "DuplicateCheckError",
        ErrorCode::NotAPushCheck => "NotAPushCheckError",
        ErrorCode::MissingCallable => "MissingCallableError",
        ErrorCode::Store => "StoreError",
        ErrorCode::Forwarded => "ForwardedError",
        ErrorCode::Host => "HostError",
        ErrorCode::InvalidArgument => "InvalidArgumentError",
        ErrorCode::Closed => "ClosedError",
        ErrorCode::Panic => "EnginePanic",
        ErrorCode::Runtime => "EngineStartError",
    }
}

/// Builds the Python exception for an engine error.
fn py_err(e: EmbedError) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let class = errors_module(py)?.getattr(class_for(e.code()))?;
            let problems: Vec<(String, String)> = e
                .problems()
                .iter()
                .map(|p| (p.path.clone(), p.message.clone()))
                .collect();
            let kwargs = PyDict::new(py);
            kwargs.set_item("code", e.code().as_str())?;
            kwargs.set_item("problems", problems)?;
            kwargs.set_item("path", e.path())?;
            let exc = class.call((e.to_string(),), Some(&kwargs))?;
            Ok(PyErr::from_value(exc))
        };
        build().unwrap_or_else(|err| err)
    })
}

fn to_value(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    depythonize::<Value>(obj).map_err(|e| PyTypeError::new_err(format!("{what}: {e}")))
}

fn opt_value(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Value> {
    match obj {
        None => Ok(Value::Null),
        Some(o) if o.is_none() => Ok(Value::Null),
        Some(o) => to_value(o, what),
    }
}

fn to_py<'py, T: serde::Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    to_py::to_py(py, value)
}

// ---------------------------------------------------------------------------------------
// The gate: Python code (listeners, check functions) is entered only through it, and
// `close()` shuts it, waiting for calls in flight, so that nothing tries to take the GIL
// once the monitor is closed (at interpreter exit the atexit hook closes every monitor).

#[derive(Default)]
struct Gate {
    pid: AtomicU32,
    closed: AtomicBool,
    inflight: Mutex<usize>,
    idle: Condvar,
}

impl Gate {
    fn new() -> Arc<Gate> {
        let g = Gate::default();
        g.pid.store(std::process::id(), Ordering::SeqCst);
        Arc::new(g)
    }

    /// A forked child starts with no call in flight (the threads that made them are gone).
    fn adopt(&self) {
        let pid = std::process::id();
        if self.pid.swap(pid, Ordering::SeqCst) != pid {
            *self.inflight.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        }
    }

    /// Runs `f` unless the gate is shut.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        self.adopt();
        {
            let mut n = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            *n += 1;
        }
        struct Leave<'a>(&'a Gate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut n = self.0.inflight.lock().unwrap_or_else(|p| p.into_inner());
                *n = n.saturating_sub(1);
                self.0.idle.notify_all();
            }
        }
        let _leave = Leave(self);
        Some(f())
    }

    /// Shuts the gate and waits (at most `limit`) for the calls in flight. Called without
    /// the GIL. From inside a listener (the dispatch thread) it does not wait for itself.
    fn shut(&self, limit: Duration) {
        self.adopt();
        let mut n = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::SeqCst);
        let own = usize::from(IN_PYTHON_CALL.with(|c| c.get()));
        let until = Instant::now() + limit;
        while *n > own {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            n = self.idle.wait_timeout(n, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

thread_local! {
    /// Set while this thread runs a listener or check function through a gate.
    static IN_PYTHON_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn through_gate<R>(gate: &Gate, f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    gate.enter(|| {
        IN_PYTHON_CALL.with(|c| c.set(true));
        let out = Python::try_attach(f);
        IN_PYTHON_CALL.with(|c| c.set(false));
        out
    })
    .flatten()
}

/// Logs an exception raised by Python code the engine called, on logger `upwatch`.
fn log_exception(py: Python<'_>, what: &str, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("upwatch",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", err.clone_ref(py).into_value(py))?;
        logger.call_method("error", ("%s raised an exception", what), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        err.write_unraisable(py, None);
    }
}

fn listener(gate: Arc<Gate>, f: Py<PyAny>) -> Listener {
    let f = Arc::new(f);
    Arc::new(move |event: &Event| {
        through_gate(&gate, |py| {
            let called = to_py(py, event).and_then(|e| f.call1(py, (e,)));
            if let Err(err) = called {
                log_exception(py, "an upwatch event listener", err);
            }
        });
    })
}

/// A Python check function as the engine's [`CallableFn`]: it runs on a blocking thread of
/// the engine's runtime with the GIL; returning `None`/`True` passes, a `str` passes with
/// that message, `False` fails, an exception fails with its text. A coroutine function's
/// coroutine is run to completion with `asyncio.run` on that thread.
fn check_function(gate: Arc<Gate>, f: Py<PyAny>) -> CallableFn {
    let f = Arc::new(f);
    Arc::new(move || {
        let (f, gate) = (f.clone(), gate.clone());
        Box::pin(async move {
            let run = tokio::task::spawn_blocking(move || {
                through_gate(&gate, |py| call_check(py, &f))
                    .unwrap_or_else(|| Err("the monitor is closing".to_string()))
            });
            match run.await {
                Ok(outcome) => outcome,
                Err(e) => Err(format!("the check function did not complete: {e}")),
            }
        })
    })
}

fn call_check(py: Python<'_>, f: &Py<PyAny>) -> Result<Option<String>, String> {
    match call_maybe_async(py, f, ()) {
        Ok(v) if v.is_none() => Ok(None),
        Ok(v) if v.is_instance_of::<pyo3::types::PyBool>() => {
            if v.is_truthy().unwrap_or(false) {
                Ok(None)
            } else {
                Err("the check function returned False".to_string())
            }
        }
        Ok(v) => Ok(Some(v.str().map(|s| s.to_string()).unwrap_or_default())),
        Err(err) => Err(exception_text(py, &err)),
    }
}

/// `"ConnectionError: db unreachable"`: how a failed check or notifier function reads in results and events.
fn exception_text(py: Python<'_>, err: &PyErr) -> String {
    let text = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    let name = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    }
}

/// Calls `f`, and runs the coroutine it returns (an `async def` function) to completion
/// with `asyncio.run` on this thread.
fn call_maybe_async<'py>(
    py: Python<'py>,
    f: &Py<PyAny>,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let r = f.bind(py).call1(args)?;
    if py.import("inspect")?.call_method1("isawaitable", (&r,))?.is_truthy()? {
        py.import("asyncio")?.call_method1("run", (r,))
    } else {
        Ok(r)
    }
}

/// A Python notifier function as the engine's [`NotifierFn`]: like a check function it runs
/// on a blocking thread of the engine's runtime with the GIL (never on a worker), given the
/// alert as a dict; an `async def` function's coroutine is run with `asyncio.run`. Whatever
/// it returns is a delivery; an exception is a failed attempt (retried), its text the failure.
fn notifier_function(gate: Arc<Gate>, f: Py<PyAny>) -> NotifierFn {
    let f = Arc::new(f);
    Arc::new(move |alert: Arc<Alert>| {
        let (f, gate) = (f.clone(), gate.clone());
        Box::pin(async move {
            let run = tokio::task::spawn_blocking(move || {
                through_gate(&gate, |py| {
                    to_py(py, &*alert)
                        .and_then(|a| call_maybe_async(py, &f, (a,)))
                        .map(drop)
                        .map_err(|err| exception_text(py, &err))
                })
                .unwrap_or_else(|| Err("the monitor is closing".to_string()))
            });
            match run.await {
                Ok(outcome) => outcome,
                Err(e) => Err(format!("the notifier function did not complete: {e}")),
            }
        })
    })
}

// ---------------------------------------------------------------------------------------
// The monitor.

/// Blocks on an engine future without the GIL: `wait!(self, py, |m| m.push(...))`.
macro_rules! wait {
    ($self:ident, $py:ident, |$m:ident| $call:expr) => {{
        let $m = &$self.inner;
        $py.detach(|| $m.wait($call)).map_err(py_err)
    }};
}

/// The engine handle behind `upwatch.Monitor`.
#[pyclass(name = "Monitor", module = "upwatch._upwatch", frozen)]
struct PyMonitor {
    inner: Embedded,
    gate: Arc<Gate>,
}

impl PyMonitor {
    fn wrap(inner: Embedded) -> PyMonitor {
        PyMonitor {
            inner,
            gate: Gate::new(),
        }
    }

    fn callable(&self, f: Option<Py<PyAny>>) -> PyResult<Option<CallableFn>> {
        match f {
            None => Ok(None),
            Some(f) => {
                let callable = Python::attach(|py| f.bind(py).is_callable());
                if !callable {
                    return Err(PyTypeError::new_err("fn must be callable"));
                }
                Ok(Some(check_function(self.gate.clone(), f)))
            }
        }
    }
}

fn kinds_of(kinds: Option<Vec<String>>) -> PyResult<Vec<monitor_core::EventKind>> {
    event_kinds(&kinds.unwrap_or_default()).map_err(py_err)
}

#[pymethods]
impl PyMonitor {
    /// `Monitor(config)`: the config dict (`{"db": ..., "checks": [...]}`) or None.
    #[new]
    #[pyo3(signature = (config=None))]
    fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<PyMonitor> {
        let mut value = opt_value(config, "config")?;
        if value.is_null() {
            value = Value::Object(Default::default());
        }
        let inner = py.detach(|| Embedded::from_value(value)).map_err(py_err)?;
        Ok(PyMonitor::wrap(inner))
    }

    /// A monitor from a TOML (or JSON) file with a `[monitor]` table.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<PyMonitor> {
        let inner = py.detach(|| Embedded::from_file(path)).map_err(py_err)?;
        Ok(PyMonitor::wrap(inner))
    }

    #[pyo3(signature = (spec, r#fn=None))]
    fn register(&self, py: Python<'_>, spec: &Bound<'_, PyAny>, r#fn: Option<Py<PyAny>>) -> PyResult<()> {
        let spec = to_value(spec, "spec")?;
        let f = self.callable(r#fn)?;
        wait!(self, py, |m| m.register(spec, f))
    }

    fn register_many(&self, py: Python<'_>, specs: &Bound<'_, PyAny>) -> PyResult<()> {
        let specs = match to_value(specs, "specs")? {
            Value::Array(list) => list,
            _ => return Err(PyTypeError::new_err("specs must be a list of dicts")),
        };
        wait!(self, py, |m| m.register_many(specs))
    }

    #[pyo3(signature = (spec, r#fn=None))]
    fn update(&self, py: Python<'_>, spec: &Bound<'_, PyAny>, r#fn: Option<Py<PyAny>>) -> PyResult<()> {
        let spec = to_value(spec, "spec")?;
        let f = self.callable(r#fn)?;
        wait!(self, py, |m| m.update(spec, f))
    }

    fn delete(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait!(self, py, |m| m.delete(name))
    }

    fn pause(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait!(self, py, |m| m.pause(name))
    }

    fn resume(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wait!(self, py, |m| m.resume(name))
    }

    #[pyo3(signature = (names=None))]
    fn run_now<'py>(&self, py: Python<'py>, names: Option<Vec<String>>) -> PyResult<Bound<'py, PyAny>> {
        let results = wait!(self, py, |m| m.run_now(names))?;
        to_py(py, &results)
    }

    #[pyo3(signature = (name, ok=true, message=None))]
    fn push<'py>(&self, py: Python<'py>, name: &str, ok: bool, message: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let result = wait!(self, py, |m| m.push(name, ok, message))?;
        to_py(py, &result)
    }

    #[pyo3(signature = (name, ok, duration_ms, message=None))]
    fn record<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        ok: bool,
        duration_ms: f64,
        message: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let result = wait!(self, py, |m| m.record(name, ok, duration_ms, message))?;
        to_py(py, &result)
    }

    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let s = py.detach(|| m.status()).map_err(py_err)?;
        to_py(py, &s)
    }

    /// `status()` as JSON text (for HTTP endpoints: no Python objects in between).
    fn status_json(&self, py: Python<'_>) -> PyResult<String> {
        let m = &self.inner;
        let s = py.detach(|| m.status()).map_err(py_err)?;
        serde_json::to_string(&s).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[pyo3(signature = (query=None))]
    fn history<'py>(&self, py: Python<'py>, query: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let page = wait!(self, py, |m| m.history(&q))?;
        to_py(py, &page)
    }

    #[pyo3(signature = (query=None))]
    fn latest<'py>(&self, py: Python<'py>, query: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let rows = wait!(self, py, |m| m.latest(&q))?;
        to_py(py, &rows)
    }

    #[pyo3(signature = (query=None))]
    fn status_changes<'py>(&self, py: Python<'py>, query: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let page = wait!(self, py, |m| m.status_changes(&q))?;
        to_py(py, &page)
    }

    #[pyo3(signature = (query=None, window="30d"))]
    fn uptime<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyAny>>,
        window: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let rows = wait!(self, py, |m| m.uptime(&q, window))?;
        to_py(py, &rows)
    }

    /// A host snapshot: the latest one when younger than a second, or (`fresh=True`) sampled now.
    ///
    /// Sampled on this thread (without the GIL), not on the engine's runtime: the trip there
    /// and back through a blocking thread costs about as much as a sample.
    #[pyo3(signature = (fresh=false))]
    fn host<'py>(&self, py: Python<'py>, fresh: bool) -> PyResult<Bound<'py, PyAny>> {
        let max_age = if fresh { Duration::ZERO } else { Duration::from_secs(1) };
        let m = &self.inner;
        let snapshot = py.detach(|| m.host_here(max_age)).map_err(py_err)?;
        to_py(py, &snapshot)
    }

    fn prometheus(&self, py: Python<'_>) -> PyResult<String> {
        let m = &self.inner;
        py.detach(|| m.prometheus()).map_err(py_err)
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let m = &self.inner;
        py.detach(|| m.start()).map_err(py_err)
    }

    /// Stops the engine: no listener or check function is called once it returns.
    #[pyo3(signature = (grace=5.0))]
    fn close(&self, py: Python<'_>, grace: f64) {
        let grace = Duration::try_from_secs_f64(grace.max(0.0)).unwrap_or(Duration::from_secs(5));
        let (m, gate) = (&self.inner, &self.gate);
        py.detach(|| {
            gate.shut(grace + Duration::from_secs(1));
            m.close_within(grace);
        });
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[getter]
    fn started(&self) -> bool {
        self.inner.is_started()
    }

    fn is_shared(&self, py: Python<'_>) -> PyResult<bool> {
        let m = &self.inner;
        py.detach(|| m.is_shared()).map_err(py_err)
    }

    fn runs_checks(&self, py: Python<'_>) -> PyResult<bool> {
        let m = &self.inner;
        py.detach(|| m.runs_checks()).map_err(py_err)
    }

    /// Calls `fn(event_dict)` on the dispatch thread for the events of `kinds` (all when empty).
    #[pyo3(signature = (kinds, r#fn))]
    fn on(&self, py: Python<'_>, kinds: Option<Vec<String>>, r#fn: Py<PyAny>) -> PyResult<u64> {
        if !r#fn.bind(py).is_callable() {
            return Err(PyTypeError::new_err("fn must be callable"));
        }
        let kinds = kinds_of(kinds)?;
        let l = listener(self.gate.clone(), r#fn);
        let m = &self.inner;
        py.detach(|| m.on(&kinds, l)).map_err(py_err)
    }

    fn off(&self, id: u64) -> bool {
        self.inner.off(id)
    }

    #[pyo3(signature = (kinds=None))]
    fn events(&self, py: Python<'_>, kinds: Option<Vec<String>>) -> PyResult<PyEventStream> {
        let kinds = kinds_of(kinds)?;
        let m = &self.inner;
        let stream = py.detach(|| m.events(&kinds)).map_err(py_err)?;
        Ok(PyEventStream { stream })
    }

    // ---- alerting ---------------------------------------------------------------------------

    /// Adds (or replaces) a notifier; a `callable` one takes `fn(alert_dict)`.
    #[pyo3(signature = (spec, r#fn=None))]
    fn add_notifier(&self, py: Python<'_>, spec: &Bound<'_, PyAny>, r#fn: Option<Py<PyAny>>) -> PyResult<()> {
        let spec = to_value(spec, "spec")?;
        let f = match r#fn {
            None => None,
            Some(f) if f.bind(py).is_callable() => Some(notifier_function(self.gate.clone(), f)),
            Some(_) => return Err(PyTypeError::new_err("fn must be callable")),
        };
        let m = &self.inner;
        py.detach(|| m.add_notifier(spec, f)).map_err(py_err)
    }

    fn remove_notifier(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let m = &self.inner;
        py.detach(|| m.remove_notifier(name)).map_err(py_err)
    }

    fn add_alert(&self, py: Python<'_>, rule: &Bound<'_, PyAny>) -> PyResult<()> {
        let rule = to_value(rule, "rule")?;
        let m = &self.inner;
        py.detach(|| m.add_alert(rule)).map_err(py_err)
    }

    fn remove_alert(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let m = &self.inner;
        py.detach(|| m.remove_alert(name)).map_err(py_err)
    }

    fn add_maintenance(&self, py: Python<'_>, window: &Bound<'_, PyAny>) -> PyResult<()> {
        let window = to_value(window, "window")?;
        let m = &self.inner;
        py.detach(|| m.add_maintenance(window)).map_err(py_err)
    }

    fn remove_maintenance(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let m = &self.inner;
        py.detach(|| m.remove_maintenance(name)).map_err(py_err)
    }

    /// Holds back alerts about a check or service for `duration` (`"0s"` ends the mute).
    /// With a shared database it is kept there and sent to the process that runs the checks.
    fn mute(&self, py: Python<'_>, target: &str, duration: &str) -> PyResult<()> {
        wait!(self, py, |m| m.mute(target, duration))
    }

    fn alerting<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let view = py.detach(|| m.alerting()).map_err(py_err)?;
        to_py(py, &view)
    }

    fn alerts_report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let report = py.detach(|| m.alerts_report()).map_err(py_err)?;
        to_py(py, &report)
    }

    fn pending_alerts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let pending = py.detach(|| m.pending_alerts()).map_err(py_err)?;
        to_py(py, &pending)
    }

    #[pyo3(signature = (query=None))]
    fn incidents<'py>(&self, py: Python<'py>, query: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let page = wait!(self, py, |m| m.incidents(&q))?;
        to_py(py, &page)
    }

    #[pyo3(signature = (query=None, window="30d"))]
    fn incident_stats<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyAny>>,
        window: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let q = opt_value(query, "query")?;
        let rows = wait!(self, py, |m| m.incident_stats(&q, window))?;
        to_py(py, &rows)
    }

    /// The `ready` endpoint's answer for `services` (every declared service when `None`).
    #[pyo3(signature = (services=None))]
    fn readiness<'py>(&self, py: Python<'py>, services: Option<Vec<String>>) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let r = py.detach(|| m.readiness(services.as_deref())).map_err(py_err)?;
        to_py(py, &r)
    }
}

/// Events of `Monitor.events()`.
#[pyclass(name = "EventStream", module = "upwatch._upwatch", frozen)]
struct PyEventStream {
    stream: EventStream,
}

#[pymethods]
impl PyEventStream {
    /// The next event as a dict; `None` when `timeout` seconds passed first (`None`: no limit).
    /// Raises `ClosedError` once the monitor is closed.
    #[pyo3(signature = (timeout=None))]
    fn next<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let timeout = match timeout {
            None => None,
            Some(t) => Some(
                Duration::try_from_secs_f64(t.max(0.0))
                    .map_err(|_| PyValueError::new_err("timeout must be a number of seconds"))?,
            ),
        };
        let s = &self.stream;
        match py.detach(|| s.next_blocking(timeout)).map_err(py_err)? {
            Some(event) => Ok(Some(to_py(py, &*event)?)),
            None => Ok(None),
        }
    }

    /// Events lost because this reader fell behind.
    #[getter]
    fn missed(&self) -> u64 {
        self.stream.missed()
    }
}

// ---------------------------------------------------------------------------------------
// Logging: the engine logs with `tracing`, whose `log` feature emits `log` records; this
// logger hands them to Python's logging under `upwatch.<module path>` (so logger `upwatch`
// receives all of them). It never takes the GIL while the interpreter is finalizing.

struct PyLogger {
    /// The effective level of logger `upwatch` as a `log` filter (0 off .. 5 trace), refreshed
    /// at most once a second.
    level: AtomicUsize,
    refreshed: AtomicU64,
    started: Instant,
}

static LOGGER: std::sync::OnceLock<PyLogger> = std::sync::OnceLock::new();

fn log_filter(python_level: i64) -> log::LevelFilter {
    match python_level {
        l if l <= 5 => log::LevelFilter::Trace,
        l if l <= 10 => log::LevelFilter::Debug,
        l if l <= 20 => log::LevelFilter::Info,
        l if l <= 30 => log::LevelFilter::Warn,
        l if l <= 40 => log::LevelFilter::Error,
        _ => log::LevelFilter::Off,
    }
}

impl PyLogger {
    fn refresh(&self, py: Python<'_>) {
        let level = py
            .import("logging")
            .and_then(|l| l.call_method1("getLogger", ("upwatch",)))
            .and_then(|l| l.call_method0("getEffectiveLevel"))
            .and_then(|l| l.extract::<i64>())
            .unwrap_or(30);
        let filter = log_filter(level);
        self.level.store(filter as usize, Ordering::Relaxed);
        self.refreshed
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        // Debug records are only built when someone listens (tracing asks `log` first).
        log::set_max_level(filter.max(log::LevelFilter::Info));
    }
}

impl log::Log for PyLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        if now.saturating_sub(self.refreshed.load(Ordering::Relaxed)) > 1000 {
            Python::try_attach(|py| self.refresh(py));
        }
        (metadata.level() as usize) <= self.level.load(Ordering::Relaxed)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => 40,
            log::Level::Warn => 30,
            log::Level::Info => 20,
            log::Level::Debug => 10,
            log::Level::Trace => 5,
        };
        let name = format!("upwatch.{}", record.target().replace("::", "."));
        let message = record.args().to_string();
        Python::try_attach(|py| {
            let pending = PyErr::take(py);
            let _ = py
                .import("logging")
                .and_then(|l| l.call_method1("getLogger", (name,)))
                .and_then(|l| l.call_method1("log", (level, "%s", message)));
            if let Some(e) = PyErr::take(py) {
                drop(e);
            }
            if let Some(e) = pending {
                e.restore(py);
            }
        });
    }

    fn flush(&self) {}
}

/// Re-reads logger `upwatch`'s level now (the bridge re-reads it once a second by itself).
#[pyfunction]
fn _refresh_log_level(py: Python<'_>) {
    if let Some(l) = LOGGER.get() {
        l.refresh(py);
    }
}

#[pymodule]
fn _upwatch(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let logger = LOGGER.get_or_init(|| PyLogger {
        level: AtomicUsize::new(log::LevelFilter::Warn as usize),
        refreshed: AtomicU64::new(0),
        started: Instant::now(),
    });
    logger.refresh(py);
    // Another extension may have installed a `log` logger already: then ours stays out.
    let _ = log::set_logger(logger);
    m.add_class::<PyMonitor>()?;
    m.add_class::<PyEventStream>()?;
    m.add_function(wrap_pyfunction!(_refresh_log_level, m)?)?;
    let kinds: Vec<&str> = monitor_core::EventKind::ALL.iter().map(|k| k.as_str()).collect();
    m.add("EVENT_KINDS", PyTuple::new(py, kinds)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
