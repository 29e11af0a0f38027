//! The scheduler: one loop holding a heap of due times, and one short-lived task per
//! run. An idle check costs a heap slot and its registry entry, nothing else.
//!
//! - Each check runs every `interval`. Its first run is offset by a stable hash of its
//!   name, so thousands of checks registered together do not fire together, and the
//!   phase is the same after a restart.
//! - Due times advance by exactly `interval` from the previous due time, never from
//!   when a run finished, so runs do not drift.
//! - A run still going at its next due time is not stacked: that slot is skipped and
//!   recorded (`run_skipped`).
//! - A failed attempt is retried `retries` times, `retry_interval` apart, before the
//!   check settles down; the state machine in [`crate::state`] decides.
//! - A global and a per-host semaphore bound the attempts in flight.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bus::Event;
use crate::checks::callable::CallableFn;
use crate::monitor::Inner;
use crate::result::CheckResult;
use crate::spec::{CheckKind, CheckSpec};

/// A due time in the heap.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    due: Instant,
    name: Arc<str>,
    /// The entry's schedule version when this slot was made; stale slots are dropped.
    slot: u64,
}

impl Slot {
    pub(crate) fn new(name: Arc<str>, slot: u64, due: Instant) -> Slot {
        Slot { due, name, slot }
    }
}

impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, the earliest due time must come out first.
        other.due.cmp(&self.due).then_with(|| other.name.cmp(&self.name))
    }
}

impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// FNV-1a: a stable hash of the name (std's hasher may change between Rust versions).
fn stable_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// When a check first runs: the next instant whose wall-clock phase within `interval`
/// matches the hash of its name.
pub(crate) fn first_due(name: &str, interval: Duration, now: Instant) -> Instant {
    let period = interval.as_millis().max(1) as u64;
    let phase = stable_hash(name) % period;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let wait = (phase + period - wall % period) % period;
    now + Duration::from_millis(wait)
}

/// The scheduler loop: sleeps until the earliest due time, fires what is due, takes new
/// slots from the monitor. Ends when the monitor shuts down.
pub(crate) async fn run_loop(inner: Arc<Inner>, mut slots: mpsc::UnboundedReceiver<Slot>) {
    let mut heap: BinaryHeap<Slot> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|s| s.due);
        tokio::select! {
            biased;
            _ = inner.scheduler_stop.cancelled() => break,
            slot = slots.recv() => match slot {
                Some(s) => heap.push(s),
                None => break,
            },
            _ = sleep_until_opt(next) => {
                let now = Instant::now();
                while heap.peek().is_some_and(|s| s.due <= now) {
                    let slot = heap.pop().expect("peeked");
                    if let Some(next) = fire(&inner, slot, now) {
                        heap.push(next);
                    }
                }
            }
        }
    }
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Starts the run a slot is due for (or records it as skipped) and returns the next slot.
fn fire(inner: &Arc<Inner>, slot: Slot, now: Instant) -> Option<Slot> {
    let mut reg = inner.lock();
    let entry = reg.checks.get_mut(&*slot.name)?;
    if entry.slot != slot.slot || entry.paused || !entry.spec.enabled {
        return None;
    }
    let interval = entry.spec.interval;
    let mut next_due = slot.due + interval;
    // After a long stall (a suspended process), resume on the grid instead of bursting.
    while next_due <= now {
        next_due += interval;
    }
    let next = Slot {
        due: next_due,
        name: slot.name.clone(),
        slot: slot.slot,
    };
    // With a shared database, only the process holding the lease runs checks.
    if !inner.leadership.may_run() {
        return Some(next);
    }
    if entry.running.is_some() {
        entry.skipped += 1;
        let service = entry.spec.service.clone();
        inner.bus.publish(Event::RunSkipped {
            check: slot.name.to_string(),
            service,
            at: chrono::Utc::now(),
        });
        return Some(next);
    }
    let cancel = inner.runs_cancel.child_token();
    entry.running = Some(cancel.clone());
    let run = ScheduledRun {
        name: slot.name,
        generation: entry.generation,
        spec: entry.spec.clone(),
        callable: entry.callable.clone(),
        host: entry.host_limit.clone(),
        due: slot.due,
    };
    drop(reg);
    inner.tracker.spawn(run_scheduled(inner.clone(), run, cancel));
    Some(next)
}

/// What a scheduled run needs, copied out of the registry when it starts.
struct ScheduledRun {
    name: Arc<str>,
    generation: u64,
    spec: Arc<CheckSpec>,
    callable: Option<CallableFn>,
    host: Option<Arc<Semaphore>>,
    due: Instant,
}

/// One scheduled run: the attempt, and its retries while the state machine asks for them.
async fn run_scheduled(inner: Arc<Inner>, run: ScheduledRun, cancel: CancellationToken) {
    let ScheduledRun {
        name,
        generation,
        spec,
        callable,
        host,
        due,
    } = run;
    let mut attempt_no = 1;
    loop {
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            out = attempt_timed(&inner, &spec, callable.as_ref(), host.as_deref()) => Some(out),
        };
        let Some((result, started)) = outcome else { break };
        let lateness = (attempt_no == 1).then(|| started.saturating_duration_since(due));
        let retry = inner.apply_result(&name, generation, &mut Arc::new(result), attempt_no, lateness);
        if !retry {
            break;
        }
        attempt_no += 1;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(spec.retry_interval) => {}
        }
    }
    let mut reg = inner.lock();
    if let Some(entry) = reg.checks.get_mut(&*name) {
        if entry.generation == generation {
            entry.running = None;
        }
    }
}

/// One attempt within the concurrency limits; returns the result and when it started.
async fn attempt_timed(
    inner: &Inner,
    spec: &CheckSpec,
    callable: Option<&CallableFn>,
    host: Option<&Semaphore>,
) -> (CheckResult, Instant) {
    let _global = inner
        .global
        .acquire()
        .await
        .expect("the global semaphore is never closed");
    let _host = match host {
        Some(limit) => Some(limit.acquire().await.expect("host semaphores are never closed")),
        None => None,
    };
    let started = Instant::now();
    (inner.prober.run_with(spec, callable).await, started)
}

/// One attempt within the concurrency limits.
pub(crate) async fn attempt(
    inner: &Inner,
    spec: &CheckSpec,
    callable: Option<&CallableFn>,
    host: Option<&Semaphore>,
) -> CheckResult {
    attempt_timed(inner, spec, callable, host).await.0
}

/// The host a check talks to, for the per-host limit.
pub(crate) fn host_key(kind: &CheckKind) -> Option<String> {
    match kind {
        CheckKind::Http(h) => h.url.host_str().map(str::to_string),
        CheckKind::Tls(t) => Some(t.host.clone()),
        CheckKind::Tcp(t) => Some(t.host.clone()),
        CheckKind::Icmp(i) => Some(i.host.clone()),
        CheckKind::Dns(d) => Some(
            d.nameserver
                .map_or_else(|| "system-resolver".to_string(), |a| a.ip().to_string()),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heap_pops_the_earliest_slot_first() {
        let now = Instant::now();
        let mut heap = BinaryHeap::new();
        heap.push(Slot::new("b".into(), 0, now + Duration::from_secs(2)));
        heap.push(Slot::new("a".into(), 0, now + Duration::from_secs(1)));
        heap.push(Slot::new("c".into(), 0, now + Duration::from_secs(3)));
        let order: Vec<String> = std::iter::from_fn(|| heap.pop()).map(|s| s.name.to_string()).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn first_runs_are_spread_over_the_interval_and_stable() {
        let now = Instant::now();
        let interval = Duration::from_secs(60);
        let mut buckets = [0u32; 60];
        for i in 0..6000 {
            let due = first_due(&format!("check-{i}"), interval, now);
            let off = due - now;
            assert!(off < interval);
            buckets[off.as_secs() as usize] += 1;
        }
        // 100 per second on average; no second gets a pile-up.
        assert!(buckets.iter().all(|&n| (50..=150).contains(&n)), "{buckets:?}");
        assert_eq!(stable_hash("api-health"), stable_hash("api-health"));
    }
}
