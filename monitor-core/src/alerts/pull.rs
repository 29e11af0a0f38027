//! Callable notifiers served by polling: for a host program that cannot be called from the
//! engine's threads (a C program, PHP through FFI, whose callbacks are not thread-safe).
//!
//! The notifier's function offers each alert here and waits for the program's answer; the
//! program takes alerts with [`PulledAlerts::next`] and answers each with
//! [`PulledAlerts::done`]. The notifier's timeout bounds the wait: no answer in time is a
//! failed attempt (`timeout`), retried by the outbox like any other.
//!
//! ```
//! use monitor_core::alerts::pull::PulledAlerts;
//! use std::time::Duration;
//! let pulled = std::sync::Arc::new(PulledAlerts::default());
//! let _function = pulled.function("pager"); // given to the callable notifier "pager"
//! assert!(pulled.next(Some("pager"), Some(Duration::ZERO)).unwrap().is_none());
//! assert_eq!(pulled.done(7, Ok(())).unwrap_err().path(), Some("delivery_id"));
//! pulled.close();
//! assert!(pulled.next(None, None).is_err());
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::deliver::{notifier_function, NotifierFn};
use super::Alert;
use crate::embed::EmbedError;

/// The answer a delivery waits for.
type Answer = tokio::sync::oneshot::Sender<Result<(), String>>;

/// One alert handed to the program and not answered yet.
struct Offered {
    notifier: String,
    alert: Arc<Alert>,
    answer: Answer,
}

#[derive(Default)]
struct Offers {
    /// The process they belong to: a forked child starts with none of its parent's.
    pid: u32,
    next_id: u64,
    /// Not taken yet, oldest first.
    waiting: VecDeque<(u64, Offered)>,
    /// Taken, waiting for their answer.
    taken: HashMap<u64, Answer>,
    closed: bool,
}

/// One alert taken by the program, to answer with [`PulledAlerts::done`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct PulledAlert {
    /// What to answer with.
    pub delivery_id: u64,
    /// The callable notifier it is for.
    pub notifier: String,
    /// The alert, in the `alert_fired` event's shape.
    pub alert: Arc<Alert>,
}

/// The queue between the outbox and a program that polls for its notifiers' alerts.
#[derive(Default)]
pub struct PulledAlerts {
    offers: Mutex<Offers>,
    changed: Condvar,
}

impl PulledAlerts {
    fn offers(&self) -> MutexGuard<'_, Offers> {
        let mut o = self.offers.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if o.pid != pid {
            // The parent's deliveries are not ours; their wakers belong to its runtime.
            std::mem::forget(std::mem::take(&mut o.waiting));
            std::mem::forget(std::mem::take(&mut o.taken));
            o.pid = pid;
        }
        o
    }

    fn offer(&self, notifier: &str, alert: Arc<Alert>, answer: Answer) -> u64 {
        let mut o = self.offers();
        o.next_id += 1;
        let id = o.next_id;
        o.waiting.push_back((
            id,
            Offered {
                notifier: notifier.to_string(),
                alert,
                answer,
            },
        ));
        drop(o);
        self.changed.notify_all();
        id
    }

    /// Forgets a delivery whose attempt ended (answered, or given up by the timeout).
    fn forget(&self, id: u64) {
        let mut o = self.offers();
        o.waiting.retain(|(i, _)| *i != id);
        o.taken.remove(&id);
    }

    /// Wakes every waiting reader; later reads fail with `Closed`.
    pub fn close(&self) {
        self.offers().closed = true;
        self.changed.notify_all();
    }

    /// The oldest waiting alert (of `notifier` when given), waiting up to `timeout` (`None`:
    /// until one comes or the queue closes). Its answer then waits for [`PulledAlerts::done`],
    /// moved there under the same lock, so a timeout between the two cannot lose it.
    pub fn next(&self, notifier: Option<&str>, timeout: Option<Duration>) -> Result<Option<PulledAlert>, EmbedError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut o = self.offers();
        loop {
            if o.closed {
                return Err(EmbedError::Closed);
            }
            let at = o
                .waiting
                .iter()
                .position(|(_, x)| notifier.is_none_or(|n| n == x.notifier));
            if let Some((id, offered)) = at.and_then(|i| o.waiting.remove(i)) {
                o.taken.insert(id, offered.answer);
                return Ok(Some(PulledAlert {
                    delivery_id: id,
                    notifier: offered.notifier,
                    alert: offered.alert,
                }));
            }
            o = match deadline {
                None => self.changed.wait(o).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    self.changed.wait_timeout(o, left).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }

    /// Answers a taken alert: `Ok` delivered, `Err(text)` a failed attempt (retried with the
    /// notifier's backoff). A delivery answered already, or whose timeout passed, is an
    /// invalid argument naming `delivery_id`.
    pub fn done(&self, delivery_id: u64, outcome: Result<(), String>) -> Result<(), EmbedError> {
        let Some(answer) = self.offers().taken.remove(&delivery_id) else {
            return Err(EmbedError::invalid(
                "delivery_id",
                format!(
                    "delivery {delivery_id} is not waiting for an answer (answered already, its notifier's \
                     timeout passed, or it was never handed out)"
                ),
            ));
        };
        // A send error means the attempt ended (timeout) just now: the answer is too late.
        answer.send(outcome).map_err(|_| {
            EmbedError::invalid(
                "delivery_id",
                format!("delivery {delivery_id}: the notifier's timeout passed before the answer"),
            )
        })
    }

    /// The function of callable notifier `name`: offers each alert, awaits the answer.
    pub fn function(self: &Arc<Self>, name: &str) -> NotifierFn {
        let (queue, name) = (Arc::downgrade(self), name.to_string());
        notifier_function(move |alert| {
            let (queue, name) = (queue.clone(), name.clone());
            async move {
                let Some(q) = queue.upgrade() else {
                    return Err("the program's alert queue is gone".to_string());
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                let id = q.offer(&name, alert, tx);
                // Dropped when the attempt ends, answered or not (the outbox drops this
                // future when the notifier's timeout passes): the offer is withdrawn.
                let _withdraw = Withdraw(Arc::downgrade(&q), id);
                drop(q);
                rx.await
                    .unwrap_or_else(|_| Err("the program dropped the alert unanswered".to_string()))
            }
        })
    }
}

struct Withdraw(Weak<PulledAlerts>, u64);

impl Drop for Withdraw {
    fn drop(&mut self) {
        if let Some(q) = self.0.upgrade() {
            q.forget(self.1);
        }
    }
}
