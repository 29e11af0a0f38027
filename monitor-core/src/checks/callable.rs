//! The `callable` check: the host application supplies the function (a Rust closure,
//! or through the bindings a Python or JS function). It gets the same schedule,
//! timeout, retries, thresholds and events as any other check.

use futures_util::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;

use super::Run;
use crate::result::{CheckError, ErrorKind};
use crate::spec::reader::{Obj, Problems};
use crate::spec::Common;

/// A check function: `Ok(message)` passes, `Err(message)` fails.
pub type CallableFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Option<String>, String>> + Send + Sync>;

/// Wraps an async closure as a [`CallableFn`].
///
/// ```
/// use monitor_core::checks::callable::callable;
/// let f = callable(|| async { Ok(Some("db answered".to_string())) });
/// # let _ = f;
/// ```
pub fn callable<F, Fut>(f: F) -> CallableFn
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<String>, String>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// A `callable` check (its function is given at registration, not in the spec).
///
/// ```toml
/// [[checks]]
/// name = "db"
/// kind = "callable"
/// interval = "30s"
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallableCheck {}

impl CallableCheck {
    pub(crate) fn read(_o: &mut Obj, _common: &Common, _p: &mut Problems) -> Option<CallableCheck> {
        Some(CallableCheck {})
    }

    pub(crate) async fn probe(&self, f: Option<&CallableFn>, run: &mut Run) -> Result<(), CheckError> {
        let Some(f) = f else {
            return Err(CheckError::new(
                ErrorKind::Internal,
                "no function is registered for this callable check",
            ));
        };
        match run.within("the check function", f()).await? {
            Ok(message) => {
                run.observed.message = message;
                Ok(())
            }
            Err(message) => {
                run.observed.message = Some(message.clone());
                Err(CheckError::new(ErrorKind::Callable, message))
            }
        }
    }
}
