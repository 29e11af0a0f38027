//! The kinds of check, and the [`Prober`] that runs one check once.
//!
//! Each kind lives in its own module and decides pass/fail there:
//! [`http`] (with its assertions in `http/expect.rs`), [`tls`], [`dns`], [`tcp`],
//! [`icmp`], [`push`], [`callable`] and [`host`]. Connection set-up shared by several kinds is in `net.rs`.
//!
//! A run never panics into the caller: a panic inside a check becomes a result
//! with error kind `internal`, and every run is bounded by the check's timeout.

pub mod callable;
pub mod dns;
pub mod host;
pub mod http;
pub mod icmp;
mod net;
pub mod push;
pub mod tcp;
pub mod tls;

pub use net::IpVersion;

use chrono::Utc;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::result::{ms, CheckError, CheckResult, ErrorKind, Observed, Phases, Status};
use crate::spec::{CheckKind, CheckSpec, Verdict};

/// Runs checks once each, sharing what is worth sharing between runs: TLS root
/// stores, one DNS resolver per nameserver, ICMP sockets, the push board and the host
/// sampler with its recent snapshots.
///
/// Cheap to clone; clones share everything. Must be used inside a tokio runtime.
///
/// ```no_run
/// # async fn demo() {
/// use monitor_core::{spec::CheckSpec, Prober, Status};
/// let prober = Prober::new();
/// let check = CheckSpec::from_value(serde_json::json!({
///     "name": "home", "kind": "http", "url": "http://127.0.0.1:8080/health",
///     "expect": { "status": 200, "json": { "$.status": "UP" } }
/// })).unwrap();
/// let result = prober.run(&check).await;
/// println!("{} is {}", result.check, result.status);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Prober {
    inner: Arc<Shared>,
}

/// Resources shared by every run of a [`Prober`].
#[derive(Default)]
struct Shared {
    /// rustls client configurations, one per trust store (and ALPN set).
    tls: tls::TlsConfigs,
    /// DNS resolvers, one per nameserver and protocol, reused across runs.
    resolvers: dns::Resolvers,
    /// ICMP clients (one socket per address family), opened on first use.
    pingers: icmp::Pingers,
    /// Heartbeats received for push checks.
    pushes: push::PushBoard,
    /// The host sampler and recent host snapshots (fed by a monitor's sampling task).
    host: Arc<crate::host::HostBoard>,
}

/// Extra time the engine allows a check beyond its own timeout before giving up on
/// it: each kind enforces `timeout` itself, this only guards against a stuck future.
const TIMEOUT_GUARD: Duration = Duration::from_millis(500);

/// The state of one run: its deadline, and what it measured so far.
pub(crate) struct Run {
    pub(crate) timeout: Duration,
    pub(crate) deadline: Instant,
    pub(crate) started: Instant,
    pub(crate) phases: Phases,
    pub(crate) observed: Observed,
    pub(crate) verdict: Verdict,
    /// A duration the application measured itself (a recorded push), reported instead of the run's own.
    pub(crate) reported_duration: Option<Duration>,
}

impl Run {
    /// Awaits `fut` until the run's deadline; past it, a timeout naming `phase`.
    pub(crate) async fn within<F: Future>(&self, phase: &str, fut: F) -> Result<F::Output, CheckError> {
        tokio::time::timeout_at(self.deadline, fut)
            .await
            .map_err(|_| CheckError::timeout(self.timeout, phase))
    }
}

impl Prober {
    /// A prober with empty caches.
    pub fn new() -> Prober {
        Prober::default()
    }

    /// Runs `check` once and returns its result. Never panics and never takes
    /// (much) longer than the check's timeout.
    pub async fn run(&self, check: &CheckSpec) -> CheckResult {
        self.run_with(check, None).await
    }

    /// Like [`Prober::run`], with the function of a `callable` check.
    pub async fn run_with(&self, check: &CheckSpec, callable: Option<&callable::CallableFn>) -> CheckResult {
        let at = Utc::now();
        let started = Instant::now();
        let mut run = Run {
            timeout: check.timeout,
            deadline: started + check.timeout,
            started,
            phases: Phases::default(),
            observed: Observed::default(),
            verdict: Verdict::default(),
            reported_duration: None,
        };
        let outcome = guarded(check.timeout, self.probe(check, callable, &mut run)).await;
        let error = match outcome {
            Err(e) => Some(e),
            Ok(()) => run.verdict.failures.first().map(CheckError::assertion),
        };
        let status = match (&error, run.verdict.warnings.is_empty()) {
            (Some(_), _) => Status::Down,
            (None, false) => Status::Degraded,
            (None, true) => Status::Up,
        };
        CheckResult {
            check: check.name.clone(),
            service: check.service.clone(),
            kind: check.kind_name().into(),
            status,
            at,
            duration_ms: ms(run.reported_duration.unwrap_or_else(|| started.elapsed())),
            phases: run.phases,
            observed: run.observed,
            error,
            failed_assertions: run.verdict.failures,
            warnings: run.verdict.warnings,
            maintenance: false,
        }
    }

    /// The host sampler and snapshots this prober's host checks read.
    pub(crate) fn host_board(&self) -> &Arc<crate::host::HostBoard> {
        &self.inner.host
    }

    /// Records a heartbeat for the push check named `check`.
    ///
    /// `ok = false` marks the check down until the next successful push; `message`
    /// is kept with the result (for example, what a failing backup job reported).
    pub fn push(&self, check: &str, ok: bool, message: Option<String>) {
        self.inner.pushes.record(check, ok, message, None);
    }

    /// Records a result the application observed itself (a request of its own traffic):
    /// like [`Prober::push`], and the push check's result reports `duration`.
    pub fn record(&self, check: &str, ok: bool, message: Option<String>, duration: Duration) {
        self.inner.pushes.record(check, ok, message, Some(duration));
    }

    async fn probe(
        &self,
        check: &CheckSpec,
        f: Option<&callable::CallableFn>,
        run: &mut Run,
    ) -> Result<(), CheckError> {
        match &check.kind {
            CheckKind::Http(c) => c.probe(&self.inner.tls, run).await,
            CheckKind::Tls(c) => c.probe(&self.inner.tls, run).await,
            CheckKind::Dns(c) => c.probe(&self.inner.resolvers, run).await,
            CheckKind::Tcp(c) => c.probe(run).await,
            CheckKind::Icmp(c) => c.probe(&self.inner.pingers, run).await,
            CheckKind::Push(c) => c.probe(&check.name, check.interval, &self.inner.pushes, run),
            CheckKind::Callable(c) => c.probe(f, run).await,
            CheckKind::Host(c) => c.probe(&self.inner.host, check.interval, run).await,
        }
    }
}

/// Runs a probe so that neither a panic nor a stuck future escapes: a panic becomes
/// an `internal` error, and the probe is dropped shortly after its own timeout.
async fn guarded<F: Future<Output = Result<(), CheckError>>>(timeout: Duration, probe: F) -> Result<(), CheckError> {
    match tokio::time::timeout(timeout + TIMEOUT_GUARD, AssertUnwindSafe(probe).catch_unwind()).await {
        Err(_) => Err(CheckError::timeout(timeout, "the check to finish")),
        Ok(Err(panic)) => Err(CheckError::new(
            ErrorKind::Internal,
            format!("check panicked: {}", panic_message(&panic)),
        )),
        Ok(Ok(outcome)) => outcome,
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_check_becomes_an_internal_error() {
        let out = guarded(Duration::from_secs(1), async { panic!("boom") }).await;
        let err = out.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Internal);
        assert_eq!(err.message, "check panicked: boom");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_check_is_cut_off_after_its_timeout() {
        let out = guarded(Duration::from_secs(2), std::future::pending()).await;
        assert_eq!(out.unwrap_err().kind, ErrorKind::Timeout);
    }
}
