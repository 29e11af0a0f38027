//! Events for JS: listeners (`on`/`off`) fed by an unref'd ThreadsafeFunction from the
//! engine's dispatch thread, and `EventStream`, an async iterator over the core's stream.

use crate::convert::{json_parse, promise, to_js};
use crate::errors::Failure;
use monitor_core::bus::{Event, EventKind};
use monitor_core::embed;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Unref'd (weak): listening does not keep the process alive. The event is serialized to
/// JSON on the dispatch thread, so the JS thread only runs `JSON.parse` and the listener.
pub type ListenerTsfn = ThreadsafeFunction<String, Unknown<'static>, Unknown<'static>, Status, false, true>;

/// Builds the threadsafe function that calls a JS listener with an event.
pub fn listener_tsfn(func: &Function<'_, Unknown<'static>, Unknown<'static>>) -> Result<ListenerTsfn> {
    func.build_threadsafe_function::<String>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(|ctx| json_parse(&ctx.env, &ctx.value))
}

/// The event JSON handed to listeners (the core's serde shape).
pub fn event_json(event: &Event) -> Option<String> {
    serde_json::to_string(event).ok()
}

/// `"checkFailed"` or `"check_failed"` to the core's kind; a wrong name is `UPWATCH_INVALID_ARGUMENT`.
pub fn kinds(names: &[String]) -> std::result::Result<Vec<EventKind>, Failure> {
    embed::event_kinds(names).map_err(Failure::from)
}

/// An iterator step (`{ done, value }`).
#[derive(Serialize)]
struct Step<'a> {
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Event>,
}

/// Events from `monitor.events()`, read with `for await (const e of stream)` or `next()`.
/// Ends (`done: true`) when the monitor is closed or `return()` is called (a `break` out of
/// `for await` calls it). An unfinished `next()` keeps the process alive, like any pending read.
#[napi]
pub struct EventStream {
    inner: Arc<Mutex<Option<embed::EventStream>>>,
    ended: Arc<Notify>,
}

impl EventStream {
    pub fn new(stream: embed::EventStream) -> EventStream {
        EventStream {
            inner: Arc::new(Mutex::new(Some(stream))),
            ended: Arc::new(Notify::new()),
        }
    }

    fn current(&self) -> Option<embed::EventStream> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The next event within `timeout` (`None`: until one comes); `Ok(None)`: ended or timed out.
    async fn read(
        stream: Option<embed::EventStream>,
        ended: Arc<Notify>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Option<Arc<Event>>, Failure> {
        let Some(stream) = stream else { return Ok(None) };
        let ended = ended.notified();
        tokio::select! {
            got = stream.next_within(timeout) => match got {
                Ok(e) => Ok(e),
                Err(e) if e.code() == embed::ErrorCode::Closed => Ok(None),
                Err(e) => Err(e.into()),
            },
            _ = ended => Ok(None),
        }
    }
}

#[napi]
impl EventStream {
    /// The next event; `{ done: true }` once the stream has ended.
    #[napi(ts_return_type = "Promise<IteratorResult<UpwatchEvent, undefined>>")]
    pub fn next<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        let (stream, ended) = (self.current(), self.ended.clone());
        promise(env, Self::read(stream, ended, None), |env, event| {
            to_js(
                env,
                &Step {
                    done: event.is_none(),
                    value: event.as_deref(),
                },
            )
        })
    }

    /// The next event, or `null` when none came within `timeoutMs` (or the stream ended).
    #[napi(ts_return_type = "Promise<UpwatchEvent | null>")]
    pub fn next_within<'e>(&self, env: &'e Env, timeout_ms: f64) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        if !timeout_ms.is_finite() || timeout_ms < 0.0 {
            return Err(
                Failure::invalid("timeoutMs", format!("must be a number >= 0, got {timeout_ms}")).into_napi(env),
            );
        }
        let (stream, ended) = (self.current(), self.ended.clone());
        let timeout = Duration::from_secs_f64(timeout_ms / 1000.0);
        promise(env, Self::read(stream, ended, Some(timeout)), |env, event| {
            to_js(env, &event.as_deref())
        })
    }

    /// Ends the stream (what `break` in `for await` calls); pending reads finish with `done: true`.
    #[napi(
        js_name = "return",
        ts_return_type = "Promise<IteratorResult<UpwatchEvent, undefined>>"
    )]
    pub fn finish<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Unknown<'e>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.ended.notify_waiters();
        promise(env, async { Ok(()) }, |env, ()| {
            to_js(
                env,
                &Step {
                    done: true,
                    value: None,
                },
            )
        })
    }

    /// Events this stream lost because it fell behind (the core's bounded queue).
    #[napi(getter)]
    pub fn missed(&self) -> f64 {
        self.current().map(|s| s.missed() as f64).unwrap_or(0.0)
    }
}
