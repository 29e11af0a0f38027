//! The message bus: commands in, events out.
//!
//! [`Command`]s change what is monitored or ask for work (`register_check`,
//! `execute_checks`, `push`, ...). [`Event`]s say what happened (`check_succeeded`,
//! `check_status_changed`, `service_status_changed`, `host_sampled`, ...). Both have one
//! JSON shape, the same in every language.
//!
//! Events go out on a bounded broadcast channel. Publishing never waits: a subscriber
//! that falls behind loses the oldest events and is told how many it missed
//! ([`Delivery::Lagged`]), so a slow or stuck subscriber never stalls the scheduler.
//! Events of one check are published in the order they happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

use crate::host::HostSnapshot;
use crate::result::{CheckResult, Status};

/// A request to the monitor. Serialized with a `command` tag:
/// `{"command": "pause_check", "check": "api-health"}`.
///
/// ```
/// use monitor_core::bus::Command;
/// let c: Command = serde_json::from_str(r#"{"command":"push","check":"backup","ok":false,"message":"disk full"}"#).unwrap();
/// assert!(matches!(c, Command::Push { ok: false, .. }));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Add a check (its spec, as JSON).
    RegisterCheck {
        /// The check spec.
        spec: Value,
    },
    /// Replace a check's spec (matched by name), keeping its status.
    UpdateCheck {
        /// The new spec.
        spec: Value,
    },
    /// Remove a check.
    DeleteCheck {
        /// Its name.
        check: String,
    },
    /// Stop scheduling a check (results and status are kept).
    PauseCheck {
        /// Its name.
        check: String,
    },
    /// Schedule a paused check again.
    ResumeCheck {
        /// Its name.
        check: String,
    },
    /// Run checks now and return their results.
    ExecuteChecks {
        /// Names; `None` runs every check.
        #[serde(default)]
        checks: Option<Vec<String>>,
    },
    /// A heartbeat for a push check.
    Push {
        /// The push check's name.
        check: String,
        /// `false` reports a failure.
        #[serde(default = "yes")]
        ok: bool,
        /// Shown with the result.
        #[serde(default)]
        message: Option<String>,
        /// How long the reported work took, when the application measured it (`record`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<f64>,
    },
    /// Hold back alerts about a check, or a service and its checks, until `until` (wall
    /// time, so it means the same in every process); `None` ends the mute.
    Mute {
        /// A check's or a service's name.
        target: String,
        /// Until when.
        #[serde(default)]
        until: Option<DateTime<Utc>>,
    },
}

fn yes() -> bool {
    true
}

/// What a command returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Done, nothing to return.
    Done,
    /// The results of `execute_checks` (or of a push check evaluated after a push).
    Results {
        /// One per check run.
        results: Vec<CheckResult>,
    },
}

/// A check's run: its result plus scheduling facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The result, flattened into the event (shared with the monitor's current state).
    #[serde(flatten)]
    pub result: Arc<CheckResult>,
    /// The check's tags, for filtering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// 1 for a scheduled run, 2.. for its retries.
    pub attempt: u32,
    /// How late the attempt started after it was due (scheduled runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_ms: Option<f64>,
}

/// Which check a status change happened to, and what it changed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// The check whose change moved the service.
    pub check: String,
    /// Its new status (`None` when it was deleted).
    pub status: Option<Status>,
}

/// Something that happened. Serialized with an `event` tag; check runs are flat:
/// `{"event":"check_failed","check":"api","status":"down","error":{...},...}`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An attempt passed (up or degraded).
    CheckSucceeded(RunReport),
    /// An attempt failed.
    CheckFailed(RunReport),
    /// A check's settled status changed (after retries / the success threshold).
    CheckStatusChanged {
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Its tags.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        /// Status before (`None`: it had none yet).
        previous: Option<Status>,
        /// Status now.
        status: Status,
        /// When.
        at: DateTime<Utc>,
        /// Why, for a change to down: the error of the attempt that settled it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<crate::result::CheckError>,
    },
    /// A service's derived status changed.
    ServiceStatusChanged {
        /// The service.
        service: String,
        /// Status before.
        previous: Option<Status>,
        /// Status now (`None` when it has no checks with a status any more).
        status: Option<Status>,
        /// When.
        at: DateTime<Utc>,
        /// The check change that caused it.
        cause: Cause,
    },
    /// A check was added.
    CheckRegistered {
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Its kind.
        kind: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A check's spec was replaced.
    CheckUpdated {
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A check was removed.
    CheckDeleted {
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A check was paused or resumed.
    CheckPaused {
        /// The check.
        check: String,
        /// `true` when paused, `false` when resumed.
        paused: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// A scheduled run did not start because the previous one was still running.
    RunSkipped {
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// When the skipped run was due.
        at: DateTime<Utc>,
    },
    /// The monitor sampled the host (every `host_interval`): the snapshot, flattened into
    /// the event. It is about no check, so check, service and tag filters leave it out.
    HostSampled(Arc<HostSnapshot>),
    /// History could not be written (a full or read-only disk); checks go on, and the
    /// failure also shows in `status().history`.
    HistoryFailed {
        /// What the database said.
        message: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A check went down: an incident opened (published right after its `check_status_changed`).
    IncidentOpened {
        /// `check@start-in-ms`, as in `incidents()`.
        incident: String,
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Its tags.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        /// When it started.
        at: DateTime<Utc>,
        /// The error that took the check down.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<crate::result::CheckError>,
    },
    /// A check came back up: its incident is resolved.
    IncidentResolved {
        /// The incident's id.
        incident: String,
        /// The check.
        check: String,
        /// Its service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Its tags.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        /// When it started.
        started: DateTime<Utc>,
        /// When it was resolved.
        at: DateTime<Utc>,
        /// How long it lasted, in milliseconds.
        duration_ms: f64,
    },
    /// An alert rule fired (flattened: `{"event":"alert_fired","id":...,"rule":...,"kind":"down",...}`).
    /// This is also the body webhooks receive.
    AlertFired(Box<crate::alerts::Alert>),
    /// An alert reached a notifier.
    AlertDelivered {
        /// The alert's id.
        alert: String,
        /// Its rule.
        rule: String,
        /// Its check.
        check: String,
        /// The notifier.
        notifier: String,
        /// Attempts it took.
        attempts: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// An attempt to deliver an alert failed (retried unless `gave_up`).
    AlertDeliveryFailed {
        /// The alert's id.
        alert: String,
        /// Its rule.
        rule: String,
        /// Its check.
        check: String,
        /// The notifier.
        notifier: String,
        /// Failed attempts so far.
        attempt: u32,
        /// The kind of failure or the status code (never the URL or a secret).
        error: String,
        /// No more attempts will be made.
        gave_up: bool,
        /// When.
        at: DateTime<Utc>,
    },
}

/// The type of an event, for filters. Its names are the JSON `event` values.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// [`Event::CheckSucceeded`]
    CheckSucceeded,
    /// [`Event::CheckFailed`]
    CheckFailed,
    /// [`Event::CheckStatusChanged`]
    CheckStatusChanged,
    /// [`Event::ServiceStatusChanged`]
    ServiceStatusChanged,
    /// [`Event::CheckRegistered`]
    CheckRegistered,
    /// [`Event::CheckUpdated`]
    CheckUpdated,
    /// [`Event::CheckDeleted`]
    CheckDeleted,
    /// [`Event::CheckPaused`]
    CheckPaused,
    /// [`Event::RunSkipped`]
    RunSkipped,
    /// [`Event::HostSampled`]
    HostSampled,
    /// [`Event::HistoryFailed`]
    HistoryFailed,
    /// [`Event::IncidentOpened`]
    IncidentOpened,
    /// [`Event::IncidentResolved`]
    IncidentResolved,
    /// [`Event::AlertFired`]
    AlertFired,
    /// [`Event::AlertDelivered`]
    AlertDelivered,
    /// [`Event::AlertDeliveryFailed`]
    AlertDeliveryFailed,
}

impl EventKind {
    /// Every kind, for listing.
    pub const ALL: [EventKind; 16] = [
        EventKind::CheckSucceeded,
        EventKind::CheckFailed,
        EventKind::CheckStatusChanged,
        EventKind::ServiceStatusChanged,
        EventKind::CheckRegistered,
        EventKind::CheckUpdated,
        EventKind::CheckDeleted,
        EventKind::CheckPaused,
        EventKind::RunSkipped,
        EventKind::HostSampled,
        EventKind::HistoryFailed,
        EventKind::IncidentOpened,
        EventKind::IncidentResolved,
        EventKind::AlertFired,
        EventKind::AlertDelivered,
        EventKind::AlertDeliveryFailed,
    ];

    /// The JSON name (`check_failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CheckSucceeded => "check_succeeded",
            EventKind::CheckFailed => "check_failed",
            EventKind::CheckStatusChanged => "check_status_changed",
            EventKind::ServiceStatusChanged => "service_status_changed",
            EventKind::CheckRegistered => "check_registered",
            EventKind::CheckUpdated => "check_updated",
            EventKind::CheckDeleted => "check_deleted",
            EventKind::CheckPaused => "check_paused",
            EventKind::RunSkipped => "run_skipped",
            EventKind::HostSampled => "host_sampled",
            EventKind::HistoryFailed => "history_failed",
            EventKind::IncidentOpened => "incident_opened",
            EventKind::IncidentResolved => "incident_resolved",
            EventKind::AlertFired => "alert_fired",
            EventKind::AlertDelivered => "alert_delivered",
            EventKind::AlertDeliveryFailed => "alert_delivery_failed",
        }
    }

    /// Parses a JSON name (`"check_failed"`); bindings also accept camelCase (`"checkFailed"`).
    pub fn parse(name: &str) -> Option<EventKind> {
        let snake: String = name
            .chars()
            .flat_map(|c| {
                if c.is_ascii_uppercase() {
                    vec!['_', c.to_ascii_lowercase()]
                } else {
                    vec![c]
                }
            })
            .collect();
        EventKind::ALL.into_iter().find(|k| k.as_str() == snake)
    }
}

impl Event {
    /// This event's type.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::CheckSucceeded(_) => EventKind::CheckSucceeded,
            Event::CheckFailed(_) => EventKind::CheckFailed,
            Event::CheckStatusChanged { .. } => EventKind::CheckStatusChanged,
            Event::ServiceStatusChanged { .. } => EventKind::ServiceStatusChanged,
            Event::CheckRegistered { .. } => EventKind::CheckRegistered,
            Event::CheckUpdated { .. } => EventKind::CheckUpdated,
            Event::CheckDeleted { .. } => EventKind::CheckDeleted,
            Event::CheckPaused { .. } => EventKind::CheckPaused,
            Event::RunSkipped { .. } => EventKind::RunSkipped,
            Event::HostSampled(_) => EventKind::HostSampled,
            Event::HistoryFailed { .. } => EventKind::HistoryFailed,
            Event::IncidentOpened { .. } => EventKind::IncidentOpened,
            Event::IncidentResolved { .. } => EventKind::IncidentResolved,
            Event::AlertFired(_) => EventKind::AlertFired,
            Event::AlertDelivered { .. } => EventKind::AlertDelivered,
            Event::AlertDeliveryFailed { .. } => EventKind::AlertDeliveryFailed,
        }
    }

    /// The check the event is about, if any.
    pub fn check(&self) -> Option<&str> {
        match self {
            Event::CheckSucceeded(r) | Event::CheckFailed(r) => Some(&r.result.check),
            Event::CheckStatusChanged { check, .. }
            | Event::CheckRegistered { check, .. }
            | Event::CheckUpdated { check, .. }
            | Event::CheckDeleted { check, .. }
            | Event::CheckPaused { check, .. }
            | Event::RunSkipped { check, .. }
            | Event::IncidentOpened { check, .. }
            | Event::IncidentResolved { check, .. }
            | Event::AlertDelivered { check, .. }
            | Event::AlertDeliveryFailed { check, .. } => Some(check),
            Event::AlertFired(a) => Some(&a.check),
            Event::ServiceStatusChanged { cause, .. } => Some(&cause.check),
            Event::HostSampled(_) | Event::HistoryFailed { .. } => None,
        }
    }

    /// The service the event is about, if any.
    pub fn service(&self) -> Option<&str> {
        match self {
            Event::CheckSucceeded(r) | Event::CheckFailed(r) => r.result.service.as_deref(),
            Event::CheckStatusChanged { service, .. }
            | Event::CheckRegistered { service, .. }
            | Event::CheckUpdated { service, .. }
            | Event::CheckDeleted { service, .. }
            | Event::RunSkipped { service, .. }
            | Event::IncidentOpened { service, .. }
            | Event::IncidentResolved { service, .. } => service.as_deref(),
            Event::AlertFired(a) => a.service.as_deref(),
            Event::ServiceStatusChanged { service, .. } => Some(service),
            Event::CheckPaused { .. }
            | Event::HostSampled(_)
            | Event::HistoryFailed { .. }
            | Event::AlertDelivered { .. }
            | Event::AlertDeliveryFailed { .. } => None,
        }
    }

    /// The tags of the check the event is about.
    pub fn tags(&self) -> &[String] {
        match self {
            Event::CheckSucceeded(r) | Event::CheckFailed(r) => &r.tags,
            Event::CheckStatusChanged { tags, .. }
            | Event::IncidentOpened { tags, .. }
            | Event::IncidentResolved { tags, .. } => tags,
            Event::AlertFired(a) => &a.tags,
            _ => &[],
        }
    }

    /// The event as JSON, the shape every binding hands out.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("events always serialize")
    }
}

/// Which events a subscriber wants. Empty sets mean "any".
///
/// ```
/// use monitor_core::bus::{EventKind, Filter};
/// let f = Filter::default().kinds([EventKind::CheckFailed]).services(["backend"]);
/// assert!(!f.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Event types.
    pub kinds: HashSet<EventKind>,
    /// Check names.
    pub checks: HashSet<String>,
    /// Service names.
    pub services: HashSet<String>,
    /// Tags (an event matches when its check has any of them).
    pub tags: HashSet<String>,
}

impl Filter {
    /// Only these event types.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        self.kinds.extend(kinds);
        self
    }

    /// Only events about these checks.
    pub fn checks<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.checks.extend(names.into_iter().map(Into::into));
        self
    }

    /// Only events about these services.
    pub fn services<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.services.extend(names.into_iter().map(Into::into));
        self
    }

    /// Only events about checks with any of these tags.
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.checks.is_empty() && self.services.is_empty() && self.tags.is_empty()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&event.kind()))
            && (self.checks.is_empty() || event.check().is_some_and(|c| self.checks.contains(c)))
            && (self.services.is_empty() || event.service().is_some_and(|s| self.services.contains(s)))
            && (self.tags.is_empty() || event.tags().iter().any(|t| self.tags.contains(t)))
    }
}

/// What a subscriber receives.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// An event that passed the filter.
    Event(Arc<Event>),
    /// The subscriber fell behind and lost this many events (filtered or not).
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// Default number of events buffered for subscribers before the slowest start losing some.
pub const DEFAULT_EVENT_BUFFER: usize = 4096;

/// The publishing side. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Bus {
    /// A bus buffering `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Bus {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Bus { sender }
    }

    /// Publishes an event; never waits. Returns how many subscribers got it.
    pub fn publish(&self, event: Event) -> usize {
        self.sender.send(Arc::new(event)).unwrap_or(0)
    }

    /// A new subscription, receiving events published from now on.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
            filter,
        }
    }
}

/// An event stream for one subscriber: `recv().await` in async code, or
/// `blocking_recv()` on a thread of its own.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Event>>,
    filter: Filter,
}

impl Subscription {
    /// The next matching event, or how many were missed; `None` once the monitor is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            match self.receiver.recv().await {
                Ok(event) if self.filter.matches(&event) => return Some(Delivery::Event(event)),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => return Some(Delivery::Lagged { missed }),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Like [`Subscription::recv`], blocking the calling thread (never call it on a tokio worker).
    pub fn blocking_recv(&mut self) -> Option<Delivery> {
        loop {
            match self.receiver.blocking_recv() {
                Ok(event) if self.filter.matches(&event) => return Some(Delivery::Event(event)),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => return Some(Delivery::Lagged { missed }),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next matching event if one is already waiting (never blocks).
    pub fn try_recv(&mut self) -> Option<Delivery> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) if self.filter.matches(&event) => return Some(Delivery::Event(event)),
                Ok(_) => continue,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => return Some(Delivery::Lagged { missed }),
                Err(_) => return None,
            }
        }
    }

    /// As a `futures` stream.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Delivery> + Send + 'static {
        futures_util::stream::unfold(self, |mut sub| async move { sub.recv().await.map(|d| (d, sub)) })
    }
}

/// Keeps a callback subscriber alive; dropping it (or calling [`CallbackHandle::cancel`])
/// stops the callbacks.
pub struct CallbackHandle {
    stop: Arc<AtomicBool>,
}

impl CallbackHandle {
    /// Stops delivering to the callback (after the event in hand, if any).
    pub fn cancel(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for CallbackHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Calls `callback` for every matching delivery, on a thread of its own: however slow
/// the callback, checks and other subscribers go on.
pub(crate) fn spawn_callback<F>(mut sub: Subscription, callback: F) -> CallbackHandle
where
    F: Fn(Delivery) + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("upwatch-subscriber".into())
        .spawn(move || {
            while let Some(delivery) = sub.blocking_recv() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                // A panicking callback loses its event, not the subscription.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(delivery)));
            }
        })
        .expect("spawning a subscriber thread");
    CallbackHandle { stop }
}
