//! The upwatch C library: the embedded engine ([`monitor_core::embed::Embedded`]) behind a
//! C ABI of opaque handles and JSON strings, for C programs and for PHP through FFI.
//!
//! Rules every function follows:
//! - it returns an [`upwatch_result`]; on failure [`upwatch_last_error`] (and
//!   [`upwatch_last_error_json`]) describe the calling thread's last error;
//! - its body runs behind `catch_unwind`: a panic becomes `UPWATCH_PANIC`, never an unwind
//!   into C;
//! - a handle is a key into a registry of live handles, never a pointer the library
//!   dereferences: NULL, freed and made-up handles are refused;
//! - strings handed out are `CString`s recorded in a registry and freed only by
//!   [`upwatch_string_free`] (which refuses pointers it did not hand out).
//!
//! No monitoring logic lives here: every call converts its arguments and forwards to the core.

#![allow(non_camel_case_types)]
// The functions check every pointer argument before use; they are `unsafe`-free on the
// Rust side only because C callers cannot be made to uphold Rust's `unsafe fn` contract anyway.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use monitor_core::alerts::pull::PulledAlerts;
use monitor_core::checks::callable::{callable, CallableFn};
use monitor_core::embed::{self, EmbedError, Embedded, ErrorCode, EventStream, Listener};
use monitor_core::spec::Problem;
use serde::Serialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What a call did. `UPWATCH_OK` (0) is success; every other value is a failure described
/// by [`upwatch_last_error`]. The values are stable: new ones are only ever appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum upwatch_result {
    /// Success.
    UPWATCH_OK = 0,
    /// A required pointer argument was NULL.
    UPWATCH_NULL_ARGUMENT = 1,
    /// The handle is not a live handle (freed, or never returned by upwatch_new).
    UPWATCH_INVALID_HANDLE = 2,
    /// A JSON argument is not valid JSON (or a string argument is not UTF-8).
    UPWATCH_INVALID_JSON = 3,
    /// A config or check spec is invalid; upwatch_last_error_json lists problems with paths.
    UPWATCH_INVALID_SPEC = 4,
    /// An argument is wrong (a history query's limit, a window, a duration, an event name).
    UPWATCH_INVALID_ARGUMENT = 5,
    /// No check has this name.
    UPWATCH_UNKNOWN_CHECK = 6,
    /// A check with this name exists.
    UPWATCH_DUPLICATE_CHECK = 7,
    /// push/record on a check that is not a push check.
    UPWATCH_NOT_A_PUSH_CHECK = 8,
    /// A callable check was registered without its function.
    UPWATCH_MISSING_CALLABLE = 9,
    /// History could not be read or written.
    UPWATCH_STORE = 10,
    /// The process holding the scheduler lease refused or did not answer.
    UPWATCH_FORWARDED = 11,
    /// The host could not be sampled.
    UPWATCH_HOST = 12,
    /// The monitor is shut down.
    UPWATCH_CLOSED = 13,
    /// upwatch_next_event: no event came within the timeout (not an error of the engine).
    UPWATCH_TIMEOUT = 14,
    /// A panic inside the library (a bug); the handle stays usable.
    UPWATCH_PANIC = 15,
    /// The engine's runtime could not start (threads could not be spawned).
    UPWATCH_RUNTIME = 16,
}

use upwatch_result::*;

/// An opaque monitor handle. Never dereferenced by the library: it is a key into the
/// registry of live handles, so a freed handle is refused with `UPWATCH_INVALID_HANDLE`.
pub struct upwatch_monitor {
    _private: [u8; 0],
}

/// Called with every event a listener asked for, on the library's one dispatch thread
/// (never on the thread that registered it). `event_json` is valid only during the call.
pub type upwatch_event_callback = Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

/// The function of a callable check, called on a thread of the engine's blocking pool
/// (possibly several at once for different checks). Return true when the check passes.
/// It may write a NUL-terminated message (at most `message_len` bytes, NUL included) into
/// `message`; a failing check without a message reads "check failed".
pub type upwatch_check_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, message: *mut c_char, message_len: usize) -> bool>;

// ---------------------------------------------------------------------------------------
// Errors

/// A failed call, as handed to C.
struct Fail {
    code: upwatch_result,
    kind: &'static str,
    message: String,
    path: Option<String>,
    problems: Vec<Problem>,
}

impl Fail {
    fn new(code: upwatch_result, kind: &'static str, message: impl Into<String>) -> Fail {
        Fail {
            code,
            kind,
            message: message.into(),
            path: None,
            problems: Vec::new(),
        }
    }

    fn null(arg: &str) -> Fail {
        Fail::new(
            UPWATCH_NULL_ARGUMENT,
            "null_argument",
            format!("{arg} must not be NULL"),
        )
    }

    fn json(arg: &str, e: impl std::fmt::Display) -> Fail {
        let mut f = Fail::new(
            UPWATCH_INVALID_JSON,
            "invalid_json",
            format!("{arg}: invalid JSON: {e}"),
        );
        f.path = Some(arg.to_string());
        f
    }

    fn argument(arg: &str, message: impl Into<String>) -> Fail {
        let mut f = Fail::new(UPWATCH_INVALID_ARGUMENT, "invalid_argument", message);
        f.path = Some(arg.to_string());
        f
    }
}

/// The one mapping from the core's error codes to result codes.
fn result_of(code: ErrorCode) -> upwatch_result {
    match code {
        ErrorCode::Spec => UPWATCH_INVALID_SPEC,
        ErrorCode::UnknownCheck => UPWATCH_UNKNOWN_CHECK,
        ErrorCode::DuplicateCheck => UPWATCH_DUPLICATE_CHECK,
        ErrorCode::NotAPushCheck => UPWATCH_NOT_A_PUSH_CHECK,
        ErrorCode::MissingCallable => UPWATCH_MISSING_CALLABLE,
        ErrorCode::Store => UPWATCH_STORE,
        ErrorCode::Forwarded => UPWATCH_FORWARDED,
        ErrorCode::Host => UPWATCH_HOST,
        ErrorCode::InvalidArgument => UPWATCH_INVALID_ARGUMENT,
        ErrorCode::Closed => UPWATCH_CLOSED,
        ErrorCode::Panic => UPWATCH_PANIC,
        ErrorCode::Runtime => UPWATCH_RUNTIME,
    }
}

impl From<EmbedError> for Fail {
    fn from(e: EmbedError) -> Fail {
        Fail {
            code: result_of(e.code()),
            kind: e.code().as_str(),
            message: e.to_string(),
            path: e.path().map(str::to_string),
            problems: e.problems().to_vec(),
        }
    }
}

struct LastError {
    message: CString,
    json: String,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn remember(fail: Fail) -> upwatch_result {
    let json = json!({
        "code": fail.kind,
        "result": fail.code as i32,
        "message": fail.message,
        "path": fail.path,
        "problems": fail.problems,
    })
    .to_string();
    let message = CString::new(fail.message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`: a call made while the thread is being torn down keeps its result code.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(LastError { message, json }));
    fail.code
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// The panic boundary every `extern "C"` body runs behind.
fn guard(body: impl FnOnce() -> Result<(), Fail>) -> upwatch_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => UPWATCH_OK,
        Ok(Err(fail)) => remember(fail),
        Err(panic) => remember(Fail::new(
            UPWATCH_PANIC,
            "panic",
            format!("internal error: {}", panic_text(&panic)),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Handles and strings

struct Gate {
    active: AtomicBool,
    calling: Mutex<()>,
}

impl Gate {
    /// No call of the listener starts after this returns, and none is running (unless we
    /// are on the dispatch thread itself, i.e. inside a callback).
    fn close(&self) {
        self.active.store(false, Ordering::SeqCst);
        if std::thread::current().name() != Some("upwatch-dispatch") {
            drop(lock(&self.calling));
        }
    }
}

struct Handle {
    engine: Embedded,
    /// The event queue read by upwatch_next_event, with the process it belongs to (a forked
    /// child subscribes again to its own rebuilt engine).
    queue: Mutex<Option<(u32, EventStream)>>,
    /// The process the queue belongs to, checked on every call without a lock.
    queue_pid: AtomicU32,
    listeners: Mutex<BTreeMap<u64, Arc<Gate>>>,
    /// Alerts for the program's callable notifiers, read by upwatch_next_alert.
    alerts: Arc<PulledAlerts>,
}

impl Handle {
    fn queue(&self) -> Result<EventStream, Fail> {
        let mut q = lock(&self.queue);
        let pid = std::process::id();
        match q.as_ref() {
            Some((p, s)) if *p == pid => Ok(s.clone()),
            _ => {
                let s = self.engine.events(&[])?;
                *q = Some((pid, s.clone()));
                self.queue_pid.store(pid, Ordering::SeqCst);
                Ok(s)
            }
        }
    }

    fn close_listeners(&self) {
        let gates: Vec<Arc<Gate>> = std::mem::take(&mut *lock(&self.listeners)).into_values().collect();
        for g in gates {
            g.close();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

static HANDLES: Mutex<BTreeMap<usize, Arc<Handle>>> = Mutex::new(BTreeMap::new());
/// Handle ids are never reused, so a freed handle can never name a newer monitor.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);
static STRINGS: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn handle(m: *const upwatch_monitor) -> Result<Arc<Handle>, Fail> {
    let h = lookup(m)?;
    // In a forked child, the first call rebuilds the engine and subscribes the queue to the
    // new one before anything happens, so the child's queue misses none of its own events.
    if h.queue_pid.load(Ordering::SeqCst) != std::process::id() && !h.engine.is_closed() {
        h.queue()?;
    }
    Ok(h)
}

/// The live handle `m` names, as it is.
fn lookup(m: *const upwatch_monitor) -> Result<Arc<Handle>, Fail> {
    if m.is_null() {
        return Err(Fail::null("m"));
    }
    lock(&HANDLES).get(&(m as usize)).cloned().ok_or_else(|| {
        Fail::new(
            UPWATCH_INVALID_HANDLE,
            "invalid_handle",
            format!("{m:p} is not a live upwatch handle (freed, or not from upwatch_new)"),
        )
    })
}

/// A required string argument.
fn text<'a>(p: *const c_char, arg: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::null(arg));
    }
    // SAFETY: the caller passes a NUL-terminated string (the documented contract).
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes
        .to_str()
        .map_err(|e| Fail::argument(arg, format!("{arg}: not UTF-8: {e}")))
}

/// An optional string argument (NULL: none).
fn opt_text<'a>(p: *const c_char, arg: &str) -> Result<Option<&'a str>, Fail> {
    if p.is_null() {
        Ok(None)
    } else {
        text(p, arg).map(Some)
    }
}

/// An optional JSON argument (NULL: `null`).
/// A JSON argument that must be there (NULL is UPWATCH_NULL_ARGUMENT).
fn json_required(p: *const c_char, arg: &str) -> Result<Value, Fail> {
    serde_json::from_str(text(p, arg)?).map_err(|e| Fail::json(arg, e))
}

fn json_arg(p: *const c_char, arg: &str) -> Result<Value, Fail> {
    match opt_text(p, arg)? {
        None => Ok(Value::Null),
        Some(t) => serde_json::from_str(t).map_err(|e| Fail::json(arg, e)),
    }
}

/// A required out pointer, set to NULL until there is something to put there.
fn out_ptr<T>(out: *mut *mut T, arg: &str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null(arg));
    }
    // SAFETY: checked non-NULL; the caller passes a writable pointer.
    unsafe { *out = std::ptr::null_mut() };
    Ok(())
}

fn hand_out(s: String) -> Result<*mut c_char, Fail> {
    let c = CString::new(s).map_err(|_| Fail::new(UPWATCH_PANIC, "panic", "output text contains a NUL byte"))?;
    let p = c.into_raw();
    lock(&STRINGS).insert(p as usize);
    Ok(p)
}

/// Writes `s` to `*out` (if `out` is not NULL).
fn put(out: *mut *mut c_char, s: String) -> Result<(), Fail> {
    if out.is_null() {
        return Ok(());
    }
    let p = hand_out(s)?;
    // SAFETY: checked non-NULL; the caller passes a writable pointer.
    unsafe { *out = p };
    Ok(())
}

fn put_json(out: *mut *mut c_char, value: &impl Serialize) -> Result<(), Fail> {
    if out.is_null() {
        return Ok(());
    }
    let s = serde_json::to_string(value).map_err(|e| Fail::new(UPWATCH_PANIC, "panic", e.to_string()))?;
    put(out, s)
}

/// `"name"` or `["a", "b"]` (NULL / `null`: all).
fn names(value: Value, arg: &str) -> Result<Option<Vec<String>>, Fail> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s])),
        Value::Array(list) => list
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(Fail::argument(arg, format!("{arg}: {other} is not a check name"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(Fail::argument(
            arg,
            format!("{arg}: expected a name or a list of names, got {other}"),
        )),
    }
}

/// A pointer that C promises may be used from other threads (documented on each function).
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the library only passes it back to the caller's own function; the caller
// guarantees it may be used from the library's threads (documented).
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

// ---------------------------------------------------------------------------------------
// Callable notifiers, pull-based

// The queue itself is monitor-core's (`alerts::pull`): this library hands it to C.

// ---------------------------------------------------------------------------------------
// Errors, strings

/// The message of the calling thread's last failed call, or NULL when none failed yet.
///
/// The text belongs to the library (do NOT free it): it stays valid until the next failing
/// upwatch call on the same thread, or until the thread exits. Successful calls leave it
/// unchanged (like errno).
#[no_mangle]
pub extern "C" fn upwatch_last_error() -> *const c_char {
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map_or(std::ptr::null(), |e| e.message.as_ptr()))
            .unwrap_or(std::ptr::null())
    })
    .unwrap_or(std::ptr::null())
}

/// The calling thread's last error as JSON, to free with upwatch_string_free:
/// `{"code": "spec", "result": 4, "message": "...", "path": "checks[0].url",
///   "problems": [{"path": "checks[0].url", "message": "..."}]}` (`null` when none failed yet).
#[no_mangle]
pub extern "C" fn upwatch_last_error_json(out_json: *mut *mut c_char) -> upwatch_result {
    // Not through `guard`: reading the last error must not replace it.
    match catch_unwind(AssertUnwindSafe(|| {
        if out_json.is_null() {
            return UPWATCH_NULL_ARGUMENT;
        }
        let text = LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map(|e| e.json.clone()))
            .ok()
            .flatten()
            .unwrap_or_else(|| "null".to_string());
        match hand_out(text) {
            Ok(p) => {
                // SAFETY: checked non-NULL.
                unsafe { *out_json = p };
                UPWATCH_OK
            }
            Err(_) => UPWATCH_PANIC,
        }
    })) {
        Ok(r) => r,
        Err(_) => UPWATCH_PANIC,
    }
}

/// Frees a string the library handed out. NULL is accepted (nothing to do); a pointer the
/// library did not hand out, or one already freed, is refused with UPWATCH_INVALID_ARGUMENT
/// and left alone.
#[no_mangle]
pub extern "C" fn upwatch_string_free(s: *mut c_char) -> upwatch_result {
    guard(|| {
        if s.is_null() {
            return Ok(());
        }
        if !lock(&STRINGS).remove(&(s as usize)) {
            return Err(Fail::argument(
                "s",
                format!("{s:p} is not a string from upwatch (or it was freed already)"),
            ));
        }
        // SAFETY: it came from CString::into_raw in `hand_out` and was not freed since.
        drop(unsafe { CString::from_raw(s) });
        Ok(())
    })
}

/// How many strings the library handed out that were not freed yet (a diagnostic: tests
/// assert it is back to what it was, since a string kept in the registry is no leak to valgrind).
#[no_mangle]
pub extern "C" fn upwatch_strings_outstanding(out_count: *mut usize) -> upwatch_result {
    guard(|| {
        if out_count.is_null() {
            return Err(Fail::null("out_count"));
        }
        let n = lock(&STRINGS).len();
        // SAFETY: checked non-NULL.
        unsafe { *out_count = n };
        Ok(())
    })
}

/// A test hook: panics inside the panic boundary and returns UPWATCH_PANIC. It lets tests
/// (and the curious) see that a panic never crosses into C. It does nothing else.
#[no_mangle]
pub extern "C" fn upwatch_test_panic() -> upwatch_result {
    guard(|| panic!("upwatch_test_panic was called"))
}

// ---------------------------------------------------------------------------------------
// Life cycle

fn adopt(engine: Embedded, out: *mut *mut upwatch_monitor) -> Result<(), Fail> {
    let alerts = Arc::new(PulledAlerts::default());
    // The config's callable notifiers are served by the program through upwatch_next_alert.
    engine.pull_callable_notifiers(&alerts)?;
    let handle = Arc::new(Handle {
        engine,
        queue: Mutex::new(None),
        queue_pid: AtomicU32::new(0),
        listeners: Mutex::new(BTreeMap::new()),
        alerts,
    });
    // The queue listens from the start, so no event between upwatch_new and the first
    // upwatch_next_event is lost (it holds the latest events; a reader far behind skips).
    handle.queue()?;
    let id = NEXT_HANDLE.fetch_add(1, Ordering::SeqCst) as usize;
    lock(&HANDLES).insert(id, handle);
    // SAFETY: checked non-NULL by the caller of `adopt`.
    unsafe { *out = id as *mut upwatch_monitor };
    Ok(())
}

/// Builds a monitor from config JSON (NULL, "" or "null": all defaults):
/// `{"db": "upwatch.db" | null, "lease": "10s", "host_interval": "15s" | "off",
///   "max_concurrency": 256, "max_per_host": 8, "threads": 2,
///   "retention": {"raw": "7d", ...}, "checks": [...], "services": [...]}`.
/// Threads start here (the engine's runtime); checks are scheduled only after upwatch_start.
/// On success `*out` is a handle to release with upwatch_free; on failure it is NULL.
#[no_mangle]
pub extern "C" fn upwatch_new(config_json: *const c_char, out: *mut *mut upwatch_monitor) -> upwatch_result {
    guard(|| {
        out_ptr(out, "out")?;
        let config = match opt_text(config_json, "config_json")? {
            None => Value::Null,
            Some(t) if t.trim().is_empty() => Value::Null,
            Some(t) => serde_json::from_str(t).map_err(|e| Fail::json("config_json", e))?,
        };
        let config = if config.is_null() { json!({}) } else { config };
        adopt(Embedded::from_value(config)?, out)
    })
}

/// Builds a monitor from a TOML or JSON config file (engine settings in a `[monitor]`
/// table, checks and services as in a spec file; a relative `db` is relative to the file).
#[no_mangle]
pub extern "C" fn upwatch_new_from_file(path: *const c_char, out: *mut *mut upwatch_monitor) -> upwatch_result {
    guard(|| {
        out_ptr(out, "out")?;
        let path = text(path, "path")?;
        adopt(Embedded::from_file(path)?, out)
    })
}

/// Starts scheduling the checks (and host sampling). Calling it again does nothing.
#[no_mangle]
pub extern "C" fn upwatch_start(m: *mut upwatch_monitor) -> upwatch_result {
    guard(|| Ok(handle(m)?.engine.start()?))
}

/// Stops scheduling, waits up to `grace_ms` for checks in flight, writes pending history and
/// stops the engine's threads. The handle stays valid (calls fail with UPWATCH_CLOSED) until
/// upwatch_free. Calling it again does nothing.
#[no_mangle]
pub extern "C" fn upwatch_shutdown(m: *mut upwatch_monitor, grace_ms: u32) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        h.engine.close_within(Duration::from_millis(grace_ms.into()));
        h.alerts.close();
        Ok(())
    })
}

/// Releases a handle: removes its listeners (no callback runs after this returns, unless
/// called from inside a callback), shuts the monitor down (5 s grace) if upwatch_shutdown
/// was not called, and forgets the handle: later calls with it return UPWATCH_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn upwatch_free(m: *mut upwatch_monitor) -> upwatch_result {
    guard(|| {
        lookup(m)?;
        let Some(h) = lock(&HANDLES).remove(&(m as usize)) else {
            return Err(Fail::new(
                UPWATCH_INVALID_HANDLE,
                "invalid_handle",
                "the handle was freed",
            ));
        };
        h.close_listeners();
        h.engine.close();
        h.alerts.close();
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Checks

/// Registers one check (a JSON object) or several (a JSON array: all are validated first,
/// problems are reported as `[2].url`, and none is registered unless all are valid).
/// Registering a name that exists replaces its spec.
#[no_mangle]
pub extern "C" fn upwatch_register(m: *mut upwatch_monitor, spec_json: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        match json_required(spec_json, "spec_json")? {
            Value::Array(list) => h.engine.wait(h.engine.register_many(list))?,
            spec => h.engine.wait(h.engine.register(spec, None))?,
        }
        Ok(())
    })
}

/// Registers a `"kind": "callable"` check whose function is `check` (see upwatch_check_fn).
/// `user_data` is passed back to `check` from the engine's threads; it must stay valid
/// until the check is deleted or the handle freed.
#[no_mangle]
pub extern "C" fn upwatch_register_callable(
    m: *mut upwatch_monitor,
    spec_json: *const c_char,
    check: upwatch_check_fn,
    user_data: *mut c_void,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let spec = json_required(spec_json, "spec_json")?;
        let Some(f) = check else {
            return Err(Fail::null("check"));
        };
        let data = UserData(user_data);
        let run: CallableFn = callable(move || async move {
            let call = move || {
                let data = data;
                let mut buf = vec![0u8; 1024];
                // SAFETY: the caller's function with the caller's data and a writable buffer.
                let ok = unsafe { f(data.0, buf.as_mut_ptr().cast(), buf.len()) };
                *buf.last_mut().expect("non-empty") = 0;
                let message = CStr::from_bytes_until_nul(&buf)
                    .ok()
                    .map(|c| c.to_string_lossy().into_owned())
                    .filter(|s| !s.is_empty());
                if ok {
                    Ok(message)
                } else {
                    Err(message.unwrap_or_else(|| "check failed".to_string()))
                }
            };
            // A C function may block: it runs on the blocking pool, never on a worker.
            match tokio::task::spawn_blocking(call).await {
                Ok(out) => out,
                Err(e) => Err(format!("the check function did not return: {e}")),
            }
        });
        h.engine.wait(h.engine.register(spec, Some(run)))?;
        Ok(())
    })
}

/// Replaces a check's spec (a callable check keeps its function), keeping its status.
#[no_mangle]
pub extern "C" fn upwatch_update(m: *mut upwatch_monitor, spec_json: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let spec = json_required(spec_json, "spec_json")?;
        h.engine.wait(h.engine.update(spec, None))?;
        Ok(())
    })
}

/// Removes a check (its history stays in the store).
#[no_mangle]
pub extern "C" fn upwatch_delete(m: *mut upwatch_monitor, name: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        h.engine.wait(h.engine.delete(name))?;
        Ok(())
    })
}

/// Stops scheduling a check.
#[no_mangle]
pub extern "C" fn upwatch_pause(m: *mut upwatch_monitor, name: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        h.engine.wait(h.engine.pause(name))?;
        Ok(())
    })
}

/// Schedules a paused check again.
#[no_mangle]
pub extern "C" fn upwatch_resume(m: *mut upwatch_monitor, name: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        h.engine.wait(h.engine.resume(name))?;
        Ok(())
    })
}

/// Runs checks now and waits for their results: `names_json` is `["a", "b"]`, `"a"`, or
/// NULL / `null` for every check. `*out_json` (when `out_json` is not NULL) is the JSON
/// array of results.
#[no_mangle]
pub extern "C" fn upwatch_run_now(
    m: *mut upwatch_monitor,
    names_json: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        if !out_json.is_null() {
            out_ptr(out_json, "out_json")?;
        }
        let names = names(json_arg(names_json, "names_json")?, "names_json")?;
        let results = h.engine.wait(h.engine.run_now(names))?;
        put_json(out_json, &results)
    })
}

/// A heartbeat for a push check (`ok` false: a failure with `message`, which may be NULL).
/// `*out_json` (when not NULL) is the check's fresh result.
#[no_mangle]
pub extern "C" fn upwatch_push(
    m: *mut upwatch_monitor,
    name: *const c_char,
    ok: bool,
    message: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        if !out_json.is_null() {
            out_ptr(out_json, "out_json")?;
        }
        let name = text(name, "name")?;
        let message = opt_text(message, "message")?.map(str::to_string);
        let result = h.engine.wait(h.engine.push(name, ok, message))?;
        put_json(out_json, &result)
    })
}

/// A result from the application's own traffic on a push check, with its measured
/// duration in milliseconds (>= 0). `*out_json` (when not NULL) is the result.
#[no_mangle]
pub extern "C" fn upwatch_record(
    m: *mut upwatch_monitor,
    name: *const c_char,
    ok: bool,
    duration_ms: f64,
    message: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        if !out_json.is_null() {
            out_ptr(out_json, "out_json")?;
        }
        let name = text(name, "name")?;
        let message = opt_text(message, "message")?.map(str::to_string);
        let result = h.engine.wait(h.engine.record(name, ok, duration_ms, message))?;
        put_json(out_json, &result)
    })
}

// ---------------------------------------------------------------------------------------
// Reading

/// Every check's latest result and status, every service's status, the history writer's
/// counters, as JSON.
#[no_mangle]
pub extern "C" fn upwatch_status(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        put_json(out_json, &h.engine.status()?)
    })
}

/// A page of stored results, newest first: `query_json` is
/// `{"check": "api" | [...], "service", "tag", "status": "down" | [...], "since": "24h",
///   "until", "cursor", "limit": 100}` or NULL; `*out_json` is `{"items": [...], "next_cursor": ...}`.
#[no_mangle]
pub extern "C" fn upwatch_history(
    m: *mut upwatch_monitor,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let q = json_arg(query_json, "query_json")?;
        put_json(out_json, &h.engine.wait(h.engine.history(&q))?)
    })
}

/// A page of status changes, newest first (the query shape of upwatch_history).
#[no_mangle]
pub extern "C" fn upwatch_status_changes(
    m: *mut upwatch_monitor,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let q = json_arg(query_json, "query_json")?;
        put_json(out_json, &h.engine.wait(h.engine.status_changes(&q))?)
    })
}

/// Uptime and latency percentiles over `window` (NULL: "30d") for the checks matching
/// `query_json` (NULL: all): `*out_json` is `{"window": "30d", "checks": [...]}`.
#[no_mangle]
pub extern "C" fn upwatch_uptime(
    m: *mut upwatch_monitor,
    query_json: *const c_char,
    window: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let q = json_arg(query_json, "query_json")?;
        let window = opt_text(window, "window")?.unwrap_or("30d");
        let checks = h.engine.wait(h.engine.uptime(&q, window))?;
        put_json(out_json, &json!({ "window": window, "checks": checks }))
    })
}

/// A host snapshot (CPU, memory, disks, load) as JSON.
#[no_mangle]
pub extern "C" fn upwatch_host(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        // Sampled on the calling thread: C calls block anyway, and the trip to the runtime costs
        // about as much as a sample.
        put_json(out_json, &h.engine.host_here(std::time::Duration::from_secs(1))?)
    })
}

/// The current state in the Prometheus text format (content type
/// `text/plain; version=0.0.4`).
#[no_mangle]
pub extern "C" fn upwatch_prometheus(m: *mut upwatch_monitor, out_text: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_text, "out_text")?;
        let h = handle(m)?;
        put(out_text, h.engine.prometheus()?)
    })
}

/// How this process takes part: `{"shared": false, "runs_checks": true, "started": false}`
/// (`shared`: several processes use the same SQLite file, and only the one holding the
/// lease runs the checks).
#[no_mangle]
pub extern "C" fn upwatch_info(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let e = &h.engine;
        put_json(
            out_json,
            &json!({ "shared": e.is_shared()?, "runs_checks": e.runs_checks()?, "started": e.is_started() }),
        )
    })
}

// ---------------------------------------------------------------------------------------
// Alerting

/// Writes `value` to `*out` when `out` is not NULL.
fn put_bool(out: *mut bool, value: bool) {
    if !out.is_null() {
        // SAFETY: checked non-NULL; the caller passes a writable pointer.
        unsafe { *out = value };
    }
}

/// Adds a notifier (the `[[notifiers]]` shape: `{"name", "kind": "webhook" | "slack" |
/// "discord" | "teams" | "callable", "url", "secret", "headers", "timeout", "max_attempts",
/// "backoff", "max_backoff"}`), or replaces the one of the same name. A `callable` notifier
/// is served by the program: read its alerts with upwatch_next_alert and answer each with
/// upwatch_alert_done (callable notifiers of the config passed to upwatch_new are served
/// the same way).
#[no_mangle]
pub extern "C" fn upwatch_add_notifier(m: *mut upwatch_monitor, spec_json: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let spec = json_required(spec_json, "spec_json")?;
        Ok(h.engine.add_pulled_notifier(spec, &h.alerts)?)
    })
}

/// Removes a notifier; `*out_removed` (when not NULL) tells whether it existed.
#[no_mangle]
pub extern "C" fn upwatch_remove_notifier(
    m: *mut upwatch_monitor,
    name: *const c_char,
    out_removed: *mut bool,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        put_bool(out_removed, h.engine.remove_notifier(name)?);
        Ok(())
    })
}

/// Adds an alert rule (the `[[alerts]]` shape: `{"name", "on": ["down", "resolved"],
/// "checks", "services", "tags", "for": "2m", "severity", "notify": [...], "repeat": "1h",
/// "send_resolved"}`), or replaces the one of the same name. Its `notify` names must be
/// notifiers already added (UPWATCH_INVALID_SPEC, path `notify[0]`).
#[no_mangle]
pub extern "C" fn upwatch_add_alert(m: *mut upwatch_monitor, rule_json: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        Ok(h.engine.add_alert(json_required(rule_json, "rule_json")?)?)
    })
}

/// Removes an alert rule; `*out_removed` (when not NULL) tells whether it existed.
#[no_mangle]
pub extern "C" fn upwatch_remove_alert(
    m: *mut upwatch_monitor,
    name: *const c_char,
    out_removed: *mut bool,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        put_bool(out_removed, h.engine.remove_alert(name)?);
        Ok(())
    })
}

/// Adds a maintenance window (the `[[maintenance]]` shape: `{"name", "checks" / "services" /
/// "tags", "from", "to"}` once, or `{"weekdays": ["mon"], "start": "02:00", "end": "02:30",
/// "timezone": "Europe/Paris"}` every week), or replaces the one of the same name. Checks
/// still run and are stored; their alerts are held back.
#[no_mangle]
pub extern "C" fn upwatch_add_maintenance(m: *mut upwatch_monitor, window_json: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        Ok(h.engine.add_maintenance(json_required(window_json, "window_json")?)?)
    })
}

/// Removes a maintenance window; `*out_removed` (when not NULL) tells whether it existed.
#[no_mangle]
pub extern "C" fn upwatch_remove_maintenance(
    m: *mut upwatch_monitor,
    name: *const c_char,
    out_removed: *mut bool,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let name = text(name, "name")?;
        put_bool(out_removed, h.engine.remove_maintenance(name)?);
        Ok(())
    })
}

/// Holds back alerts about a check, or a service's checks, for `duration` ("30m"; "0s" ends
/// the mute). They still run and are stored, flagged `maintenance`. With a shared database the
/// mute is kept there and sent to the process that runs the checks (this call waits for it).
#[no_mangle]
pub extern "C" fn upwatch_mute(
    m: *mut upwatch_monitor,
    target: *const c_char,
    duration: *const c_char,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let target = text(target, "target")?;
        let duration = text(duration, "duration")?;
        Ok(h.engine.wait(h.engine.mute(target, duration))?)
    })
}

/// Ends a mute.
#[no_mangle]
pub extern "C" fn upwatch_unmute(m: *mut upwatch_monitor, target: *const c_char) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let target = text(target, "target")?;
        Ok(h.engine.wait(h.engine.mute(target, "0s"))?)
    })
}

/// The alerting set-up in force, as JSON: `{"notifiers": [...], "rules": [...],
/// "maintenance": [... with "active"], "mutes": [...]}`. No notifier's URL, secret or header.
#[no_mangle]
pub extern "C" fn upwatch_alerting(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        put_json(out_json, &h.engine.alerting()?)
    })
}

/// Alert counters, set-up and outbox in one answer, without the status of every check:
/// `*out_json` is `{"status": {"fired", "held", "queued", "delivered", "failed", ...},
/// "alerting": (as upwatch_alerting), "pending": (as upwatch_pending_alerts)}`.
#[no_mangle]
pub extern "C" fn upwatch_alerts_report(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        put_json(out_json, &h.engine.alerts_report()?)
    })
}

/// Alerts waiting in this process's outbox, oldest first, as a JSON array of
/// `{"notifier", "alert", "failed_attempts", "next_attempt_in_ms"}`.
#[no_mangle]
pub extern "C" fn upwatch_pending_alerts(m: *mut upwatch_monitor, out_json: *mut *mut c_char) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        put_json(out_json, &h.engine.pending_alerts()?)
    })
}

/// A page of incidents (a check down until it is back up), newest first, for the checks
/// matching `query_json` (the query shape of upwatch_history; NULL: all):
/// `*out_json` is `{"items": [{"id", "check", "started", "ended", "duration_ms", "open",
/// "first_error", "last_error", "changes"}], "next_cursor": ...}`.
#[no_mangle]
pub extern "C" fn upwatch_incidents(
    m: *mut upwatch_monitor,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let q = json_arg(query_json, "query_json")?;
        put_json(out_json, &h.engine.wait(h.engine.incidents(&q))?)
    })
}

/// Incidents, downtime, MTTR and MTBF per check over `window` (NULL: "30d") for the checks
/// matching `query_json` (NULL: all), as a JSON array.
#[no_mangle]
pub extern "C" fn upwatch_incident_stats(
    m: *mut upwatch_monitor,
    query_json: *const c_char,
    window: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let q = json_arg(query_json, "query_json")?;
        let window = opt_text(window, "window")?.unwrap_or("30d");
        put_json(out_json, &h.engine.wait(h.engine.incident_stats(&q, window))?)
    })
}

/// What a `ready` endpoint answers, as JSON: `{"ready": true, "services": {"api": "up"}}`,
/// ready unless one of `services_json` (`["api"]`, `"api"`; NULL: every declared service) is
/// down; a service without a status yet is "unknown".
#[no_mangle]
pub extern "C" fn upwatch_readiness(
    m: *mut upwatch_monitor,
    services_json: *const c_char,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let services = names(json_arg(services_json, "services_json")?, "services_json")?;
        put_json(out_json, &h.engine.readiness(services.as_deref())?)
    })
}

/// The next alert for the program's callable notifiers (of `notifier` only, when not NULL),
/// waiting up to `timeout_ms` (0: only look; negative: until one comes). UPWATCH_OK with
/// `*out_json` set to `{"delivery_id": 7, "notifier": "pager", "alert": {...}}` (the alert in
/// the `alert_fired` event's shape), UPWATCH_TIMEOUT with `*out_json` NULL when none came in
/// time, UPWATCH_CLOSED once the monitor is shut down.
///
/// Answer each alert with upwatch_alert_done within the notifier's `timeout` (default 10s):
/// no answer in time is a failed attempt ("timeout"), retried by the outbox with backoff.
/// Only the process that sends alerts (the lease holder on a shared database) gets any.
#[no_mangle]
pub extern "C" fn upwatch_next_alert(
    m: *mut upwatch_monitor,
    notifier: *const c_char,
    timeout_ms: i64,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let notifier = opt_text(notifier, "notifier")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let Some(pulled) = h.alerts.next(notifier, timeout)? else {
            return Err(Fail::new(
                UPWATCH_TIMEOUT,
                "timeout",
                format!("no alert within {timeout_ms} ms"),
            ));
        };
        put_json(out_json, &pulled)
    })
}

/// Answers an alert read with upwatch_next_alert: `ok` true when it was delivered; false for
/// a failed attempt (retried with the notifier's backoff), described by `error` (NULL:
/// "failed"), which shows in the `alert_delivery_failed` event and status().alerts. A
/// delivery that was answered already, or whose notifier's timeout passed, is
/// UPWATCH_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn upwatch_alert_done(
    m: *mut upwatch_monitor,
    delivery_id: u64,
    ok: bool,
    error: *const c_char,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let error = opt_text(error, "error")?;
        let outcome = if ok {
            Ok(())
        } else {
            Err(error.filter(|e| !e.trim().is_empty()).unwrap_or("failed").to_string())
        };
        Ok(h.alerts.done(delivery_id, outcome)?)
    })
}

// ---------------------------------------------------------------------------------------
// Events

/// Calls `callback(event_json, user_data)` for every event whose kind is in `kinds_json`
/// (`["check_failed", "service_status_changed"]`; NULL or `[]`: every event), on the
/// library's dispatch thread. `user_data` must stay valid until upwatch_off_event or
/// upwatch_free returns (after which the callback is never called). `*out_id` (when not
/// NULL) is the id for upwatch_off_event.
#[no_mangle]
pub extern "C" fn upwatch_on_event(
    m: *mut upwatch_monitor,
    kinds_json: *const c_char,
    callback: upwatch_event_callback,
    user_data: *mut c_void,
    out_id: *mut u64,
) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let Some(cb) = callback else {
            return Err(Fail::null("callback"));
        };
        let kinds = match names(json_arg(kinds_json, "kinds_json")?, "kinds_json")? {
            None => Vec::new(),
            Some(list) => embed::event_kinds(&list)?,
        };
        let gate = Arc::new(Gate {
            active: AtomicBool::new(true),
            calling: Mutex::new(()),
        });
        let (g, data) = (gate.clone(), UserData(user_data));
        let listener: Listener = Arc::new(move |event| {
            let Ok(text) = CString::new(event.to_json().to_string()) else {
                return;
            };
            let _calling = lock(&g.calling);
            if g.active.load(Ordering::SeqCst) {
                let data = data;
                // SAFETY: the caller's callback with the caller's data; `text` outlives the call.
                unsafe { cb(text.as_ptr(), data.0) };
            }
        });
        let id = h.engine.on(&kinds, listener)?;
        lock(&h.listeners).insert(id, gate);
        if !out_id.is_null() {
            // SAFETY: checked non-NULL.
            unsafe { *out_id = id };
        }
        Ok(())
    })
}

/// Removes a listener added by upwatch_on_event. When it returns (outside a callback), the
/// callback is not running and will not be called again. An unknown id is
/// UPWATCH_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn upwatch_off_event(m: *mut upwatch_monitor, id: u64) -> upwatch_result {
    guard(|| {
        let h = handle(m)?;
        let gate = lock(&h.listeners).remove(&id);
        let Some(gate) = gate else {
            return Err(Fail::argument("id", format!("no listener has id {id}")));
        };
        h.engine.off(id);
        gate.close();
        Ok(())
    })
}

/// The next event from the handle's queue (for hosts that cannot take calls from another
/// thread, like PHP): waits up to `timeout_ms` (0: only look; negative: until one comes).
/// UPWATCH_OK with `*out_json` set to the event, UPWATCH_TIMEOUT with `*out_json` NULL when
/// none came in time, UPWATCH_CLOSED once the monitor is shut down. The queue subscribes
/// when the handle is made and keeps the latest events; a reader far behind skips the oldest.
#[no_mangle]
pub extern "C" fn upwatch_next_event(
    m: *mut upwatch_monitor,
    timeout_ms: i64,
    out_json: *mut *mut c_char,
) -> upwatch_result {
    guard(|| {
        out_ptr(out_json, "out_json")?;
        let h = handle(m)?;
        let stream = h.queue()?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match stream.next_blocking(timeout)? {
            Some(event) => put(out_json, event.to_json().to_string()),
            None => Err(Fail::new(
                UPWATCH_TIMEOUT,
                "timeout",
                format!("no event within {timeout_ms} ms"),
            )),
        }
    })
}
