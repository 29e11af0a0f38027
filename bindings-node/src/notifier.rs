//! Notifiers written in JS: the core's `NotifierFn` hands each alert to a JS function on the
//! JS thread (through a ThreadsafeFunction, as callable checks do) and awaits what it returns.
//! Returning or resolving is a delivered alert; a throw or a rejection is a failed attempt
//! whose text is the error's message. The core applies the notifier's timeout, retries,
//! backoff and ordering.

use crate::callable::{settle, Outcome};
use crate::convert::json_parse;
use futures::channel::oneshot;
use monitor_core::alerts::deliver::NotifierFn;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use std::sync::Arc;

/// Unref'd (weak): a registered notifier does not keep the process alive by itself. The
/// alert is serialized on the engine's thread; the JS thread only runs `JSON.parse`.
type NotifierTsfn = ThreadsafeFunction<String, Unknown<'static>, Unknown<'static>, Status, false, true>;

/// Wraps a JS function `(alert) => void | Promise<void>` as the core's notifier function.
pub fn from_js(func: &Function<'_, Unknown<'static>, Unknown<'static>>) -> Result<NotifierFn> {
    let tsfn: Arc<NotifierTsfn> = Arc::new(
        func.build_threadsafe_function::<String>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|ctx| json_parse(&ctx.env, &ctx.value))?,
    );
    Ok(Arc::new(move |alert| {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let text = serde_json::to_string(&*alert).map_err(|e| e.to_string())?;
            let (tx, rx) = oneshot::channel::<Outcome>();
            let status = tsfn.call_with_return_value(text, ThreadsafeFunctionCallMode::NonBlocking, move |ret, env| {
                settle(&env, ret, tx);
                Ok(())
            });
            if status != Status::Ok {
                return Err(format!("the JS function could not be called ({status})"));
            }
            match rx.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("the JS function was dropped before it settled".to_string()),
            }
        })
    }))
}
