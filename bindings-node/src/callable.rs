//! Checks written in JS: the core's `CallableFn` calls the JS function on the JS thread
//! through a ThreadsafeFunction and awaits what it returns. A returned promise that resolves
//! passes (a string value becomes the result's message); a rejection or a throw fails with
//! the error's message. The core applies the check's timeout, retries and thresholds.

use futures::channel::oneshot;
use monitor_core::checks::callable::CallableFn;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

/// What a JS function's call came to: resolved (with a message when it returned a string)
/// or threw/rejected (with the error's message). Shared with notifier functions.
pub type Outcome = std::result::Result<Option<String>, String>;

/// Unref'd (weak): a registered JS check does not keep the process alive by itself.
type CheckTsfn = ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>;

/// Wraps a JS function (sync or async) as the core's callable.
pub fn from_js(func: &Function<'_, (), Unknown<'static>>) -> Result<CallableFn> {
    let tsfn: Arc<CheckTsfn> = Arc::new(
        func.build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?,
    );
    Ok(Arc::new(move || {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel::<Outcome>();
            let status = tsfn.call_with_return_value((), ThreadsafeFunctionCallMode::NonBlocking, move |ret, env| {
                settle(&env, ret, tx);
                Ok(())
            });
            if status != Status::Ok {
                return Err(format!("the JS function could not be called ({status})"));
            }
            rx.await
                .unwrap_or_else(|_| Err("the JS function was dropped before it settled".to_string()))
        })
    }))
}

/// On the JS thread: turns the function's return value (or throw) into the outcome.
pub fn settle(env: &Env, ret: Result<Unknown<'static>>, tx: oneshot::Sender<Outcome>) {
    let value = match ret {
        Err(e) => {
            let _ = tx.send(Err(reason(e)));
            return;
        }
        Ok(v) => v,
    };
    let is_promise = value.is_promise().unwrap_or(false);
    if !is_promise {
        let _ = tx.send(Ok(message(env, value)));
        return;
    }
    let tx = Rc::new(Cell::new(Some(tx)));
    let on_reject = tx.clone();
    // SAFETY: checked with is_promise just above.
    let promise: Result<PromiseRaw<'static, Unknown<'static>>> = unsafe { value.cast() };
    let attached = promise.and_then(|p| {
        p.then(move |ctx| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(Ok(message(&ctx.env, ctx.value)));
            }
            Ok(())
        })?
        .catch(move |ctx: CallbackContext<Unknown<'static>>| {
            if let Some(tx) = on_reject.take() {
                let _ = tx.send(Err(rejection(ctx.value)));
            }
            Ok(())
        })
        .map(|_| ())
    });
    // Attaching the handlers only fails while Node shuts down: the senders are dropped then,
    // and the check fails with "dropped before it settled".
    drop(attached);
}

/// A resolved value as the result's message: strings as they are, `undefined`/`null` none,
/// anything else as `String(value)`.
fn message(_env: &Env, value: Unknown<'_>) -> Option<String> {
    match value.get_type() {
        Ok(ValueType::Undefined) | Ok(ValueType::Null) | Err(_) => None,
        Ok(_) => value
            .coerce_to_string()
            .and_then(|s| s.into_utf8())
            .and_then(|s| s.into_owned())
            .ok(),
    }
}

/// A rejection's message: an `Error`'s `message`, otherwise `String(value)`.
fn rejection(value: Unknown<'_>) -> String {
    if value.is_error().unwrap_or(false) {
        // SAFETY: an Error is an object.
        if let Ok(obj) = unsafe { value.cast::<Object>() } {
            if let Ok(Some(m)) = obj.get_named_property::<Option<String>>("message") {
                return m;
            }
        }
    }
    value
        .coerce_to_string()
        .and_then(|s| s.into_utf8())
        .and_then(|s| s.into_owned())
        .unwrap_or_else(|_| "the promise was rejected".to_string())
}

/// A throw caught by the threadsafe function call.
fn reason(e: Error) -> String {
    if e.reason.is_empty() {
        "the JS function threw".to_string()
    } else {
        e.reason
    }
}
