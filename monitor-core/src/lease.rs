//! One scheduler per store across processes. Web apps run several worker processes
//! (gunicorn, uwsgi, php-fpm, Node cluster), each embedding upwatch on the same
//! database; exactly one of them may run checks. It holds a lease in the database
//! (holder, expiry), renews it well before it runs out, and stops running checks the
//! moment its own view of the lease expires. The others keep serving reads, refresh
//! their view of the state from the store, and forward commands (register, push,
//! run-now) to the holder through the store. When the holder dies, another process
//! takes the lease over once it expires.

use chrono::Utc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use crate::bus::{Command, Reply};
use crate::monitor::{Inner, Monitor, MonitorError};

/// Default lease period: a dead holder is replaced within about this long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// This process's part in the lease.
pub(crate) struct Leadership {
    /// Who we are in the lease table: host, pid and a random part.
    pub(crate) holder: String,
    /// Whether the store is shared (otherwise this process always leads).
    pub(crate) shared: bool,
    /// Until when we may run checks, by our own clock (a margin before the stored expiry).
    valid_until: Mutex<Option<Instant>>,
    /// Whether the lease loop runs (after `start`).
    pub(crate) started: AtomicBool,
    /// The lease period.
    pub(crate) period: Duration,
}

impl Leadership {
    pub(crate) fn new(shared: bool, period: Duration) -> Leadership {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        Leadership {
            holder: format!("{}:{}:{nonce:08x}", host.trim(), std::process::id()),
            shared,
            valid_until: Mutex::new(None),
            started: AtomicBool::new(false),
            period,
        }
    }

    /// Whether this process may run checks now.
    pub(crate) fn may_run(&self) -> bool {
        !self.shared
            || self
                .valid_until
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|t| Instant::now() < t)
    }

    /// Whether commands must go to another process (shared store, started, not the holder).
    pub(crate) fn forwards(&self) -> bool {
        self.shared && self.started.load(Ordering::SeqCst) && !self.may_run()
    }

    fn set(&self, until: Option<Instant>) {
        *self.valid_until.lock().unwrap_or_else(|p| p.into_inner()) = until;
    }
}

/// Takes and renews the lease; as holder, carries out forwarded commands; as a
/// follower, refreshes the state from the store.
pub(crate) async fn lease_loop(inner: Arc<Inner>) {
    let l = &inner.leadership;
    let renew_every = l.period / 4;
    let mut next_renewal = Instant::now();
    loop {
        if inner.scheduler_stop.is_cancelled() {
            break;
        }
        if Instant::now() >= next_renewal {
            next_renewal = Instant::now() + renew_every;
            let (store, holder, period) = (inner.store.clone(), l.holder.clone(), l.period);
            let asked = Instant::now();
            let outcome = tokio::task::spawn_blocking(move || store.acquire_lease(&holder, period, Utc::now())).await;
            let was_holder = l.may_run();
            match outcome {
                Ok(Ok(Some(_))) => {
                    // Trust our own clock, from when we asked, minus a margin for skew.
                    l.set(Some(asked + period.mul_f64(0.8)));
                    if !was_holder {
                        // Taking over: mutes asked of the previous holder still hold.
                        inner.load_mutes().await;
                    }
                }
                Ok(Ok(None)) => l.set(None),
                Ok(Err(e)) => tracing::warn!("renewing the scheduler lease failed: {e}"),
                Err(e) => tracing::warn!("renewing the scheduler lease panicked: {e}"),
            }
            if !l.may_run() {
                inner.refresh_from_store().await;
            }
        }
        if l.may_run() {
            serve_commands(&inner).await;
        }
        tokio::select! {
            _ = inner.scheduler_stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// The holder carries out commands queued by other processes.
async fn serve_commands(inner: &Arc<Inner>) {
    let store = inner.store.clone();
    let Ok(Ok(taken)) = tokio::task::spawn_blocking(move || store.take_commands(32)).await else {
        return;
    };
    let monitor = Monitor { inner: inner.clone() };
    for (id, body) in taken {
        let reply = match serde_json::from_str::<Command>(&body) {
            Ok(command) => match monitor.execute_here(command).await {
                Ok(reply) => serde_json::json!({"ok": reply}),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            },
            Err(e) => serde_json::json!({"error": format!("unreadable command: {e}")}),
        };
        let store = inner.store.clone();
        let text = reply.to_string();
        let _ = tokio::task::spawn_blocking(move || store.answer_command(id, &text)).await;
    }
}

/// A follower sends a command to the holder and waits for its answer.
pub(crate) async fn forward(inner: &Arc<Inner>, command: &Command) -> Result<Reply, MonitorError> {
    let body = serde_json::to_string(command).expect("commands serialize");
    let store = inner.store.clone();
    let id = tokio::task::spawn_blocking(move || store.enqueue_command(&body))
        .await
        .map_err(|e| MonitorError::Store(crate::store::StoreError::Database(e.to_string())))??;
    // The holder answers within a poll; a takeover takes up to a lease period.
    let deadline = Instant::now() + inner.leadership.period * 2;
    while Instant::now() < deadline {
        let store = inner.store.clone();
        let answer = tokio::task::spawn_blocking(move || store.command_answer(id))
            .await
            .map_err(|e| MonitorError::Store(crate::store::StoreError::Database(e.to_string())))??;
        if let Some(text) = answer {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(reply) = v.get("ok") {
                return serde_json::from_value(reply.clone()).map_err(|e| {
                    MonitorError::Store(crate::store::StoreError::Database(format!("unreadable reply: {e}")))
                });
            }
            let message = v
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("the lease holder refused the command");
            return Err(MonitorError::Forwarded {
                message: message.to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(MonitorError::Forwarded {
        message: "no process holding the scheduler lease answered in time".into(),
    })
}
