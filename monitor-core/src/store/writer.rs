//! The history writer: one thread that takes results and status changes from the
//! monitor and writes them to the store in batches (by count and by time), off the
//! check path, so a slow disk never delays a check.
//!
//! The queue in front of it is bounded for results: when it is full the oldest raw
//! results are dropped and counted. Status changes and check registrations are never
//! dropped. Between batches the thread enforces retention in small steps.

use chrono::Utc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Batch, CheckMeta, Retention, ServiceChange, StatusChange, Store};
use crate::result::CheckResult;

/// Tuning of the writer.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Write once this many results are waiting...
    pub batch_size: usize,
    /// ...or this long after the first one arrived.
    pub flush_interval: Duration,
    /// Results queued at most; beyond, the oldest are dropped and counted.
    pub queue_capacity: usize,
    /// How long history is kept.
    pub retention: Retention,
    /// How often retention runs.
    pub retention_every: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_size: 50_000,
            flush_interval: Duration::from_millis(500),
            queue_capacity: 200_000,
            retention: Retention::default(),
            retention_every: Duration::from_secs(60),
        }
    }
}

/// What the writer has done, for `status()`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterStats {
    /// Results written.
    pub written: u64,
    /// Results dropped because the queue was full.
    pub dropped: u64,
    /// Batches that failed (disk full, read-only file...); their results are lost, the checks go on.
    pub failed_batches: u64,
    /// The last failure, if the last batch failed.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Pending {
    batch: Batch,
    first_at: Option<Instant>,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    config: WriterConfig,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// The monitor's handle on the writer thread.
pub struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Called with each failure message, so the monitor can publish it.
pub type OnError = Box<dyn Fn(String) + Send + 'static>;

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, config: WriterConfig, on_error: OnError) -> Writer {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            config,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("upwatch-writer".into())
            .spawn(move || run(s, store, on_error))
            .expect("spawning the history writer");
        Writer {
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Pending)) {
        let mut p = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        if p.closed {
            return;
        }
        p.first_at.get_or_insert_with(Instant::now);
        f(&mut p);
        if p.batch.results.len() >= self.shared.config.batch_size {
            self.shared.wake.notify_one();
        }
    }

    /// Queues a result; drops the oldest queued result when the queue is full.
    pub fn result(&self, r: Arc<CheckResult>) {
        let cap = self.shared.config.queue_capacity;
        let dropped = &self.shared.dropped;
        self.with(|p| {
            if p.batch.results.len() >= cap {
                p.batch.results.remove(0);
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            p.batch.results.push(r);
        });
    }

    /// Queues a host sample.
    pub fn host(&self, h: Arc<crate::host::HostSnapshot>) {
        self.with(|p| p.batch.hosts.push(h));
    }

    /// Queues a status change (never dropped), and has it written now.
    pub fn change(&self, c: StatusChange) {
        self.with(|p| p.batch.changes.push(c));
        self.shared.wake.notify_one();
    }

    /// Queues a service's status change (never dropped), and has it written now.
    pub fn service_change(&self, c: ServiceChange) {
        self.with(|p| p.batch.service_changes.push(c));
        self.shared.wake.notify_one();
    }

    /// Queues a check's registration or update (never dropped).
    pub fn check(&self, c: CheckMeta) {
        self.with(|p| p.batch.checks.push(c));
    }

    /// Queues a check's deletion (its history stays).
    pub fn deleted(&self, name: String) {
        self.with(|p| p.batch.deleted.push(name));
    }

    /// Counters and the last failure.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            written: self.shared.written.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed_batches: self.shared.failed.load(Ordering::Relaxed),
            last_error: self.shared.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Writes what is queued and stops the thread.
    pub fn close(&self) {
        {
            let mut p = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.closed = true;
        }
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(shared: Arc<Shared>, store: Arc<dyn Store>, on_error: OnError) {
    let config = shared.config.clone();
    let mut next_retention = Instant::now() + config.retention_every;
    loop {
        let (batch, closed) = {
            let mut p = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let due = p.first_at.map(|t| t + config.flush_interval);
                let full = p.batch.results.len() >= config.batch_size;
                // Status changes are few and matter most (alerts are sent about them, and a
                // restart restores from them): written at once, with whatever is queued.
                let urgent = !p.batch.changes.is_empty() || !p.batch.service_changes.is_empty();
                if p.closed || full || urgent || due.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let wait = due.map_or(config.retention_every.min(Duration::from_secs(1)), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                p = shared.wake.wait_timeout(p, wait).unwrap_or_else(|e| e.into_inner()).0;
                if p.first_at.is_none() && Instant::now() >= next_retention {
                    break;
                }
            }
            p.first_at = None;
            (std::mem::take(&mut p.batch), p.closed)
        };
        if !batch.is_empty() {
            let n = batch.results.len() as u64;
            match store.write(&batch) {
                Ok(()) => {
                    shared.written.fetch_add(n, Ordering::Relaxed);
                    *shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
                Err(e) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    let msg = e.to_string();
                    *shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
                    on_error(msg);
                }
            }
        }
        if closed {
            return;
        }
        if Instant::now() >= next_retention {
            next_retention = Instant::now() + config.retention_every;
            // Small steps, so a large backlog never holds the file for long.
            for _ in 0..100 {
                match store.enforce_retention(&config.retention, Utc::now(), 2_000) {
                    Ok(2_000) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        on_error(format!("retention: {e}"));
                        break;
                    }
                }
            }
        }
    }
}
