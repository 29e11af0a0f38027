//! The alert engine: a subscriber of the bus (events in, alerts out), started by
//! [`Monitor::start`](crate::Monitor::start).
//!
//! Per rule and check it follows the settled status: a change to down starts the rule's
//! `for` timer (cancelled if the check recovers first); when it runs out an alert fires,
//! then again every `repeat` while the check is still down, and `resolved` when it comes
//! back up. Many changes within the flapping window raise one `flapping` alert and hold
//! back down/resolved alerts until the check is stable again. Certificate alerts fire
//! once per threshold crossed. Maintenance windows and mutes hold alerts back: a down
//! alert whose `for` ran out during maintenance fires when the window closes, if the
//! check is still down then.
//!
//! Timing uses tokio's clock (so tests run under a paused clock); wall time, from the
//! engine's [`Clock`], is only read where a time zone matters (maintenance windows).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deliver::{Notifier, NotifierFn, Outbox};
use super::rules::{AlertRule, MaintenanceWindow, NotifierSpec, Severity, Trigger};
use crate::bus::{Delivery, Event, EventKind, Filter};

/// Publishes on the monitor's bus without keeping the monitor (or its bus) alive.
pub(crate) type Publish = Arc<dyn Fn(Event) + Send + Sync>;

/// One check and its settled status (none before its first result), read back after the
/// engine missed events, and to know which checks rules from history cover.
pub(crate) struct Settled {
    pub(crate) check: String,
    pub(crate) service: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) status: Option<Status>,
    pub(crate) since: Option<DateTime<Utc>>,
    /// The status is the one restored from history at start (it has not changed since).
    pub(crate) restored: bool,
}

/// Reads every check (or only the one named) and its settled status, from the monitor's registry.
pub(crate) type Snapshot = Arc<dyn Fn(Option<&str>) -> Vec<Settled> + Send + Sync>;
use crate::result::{CheckError, Status};

/// Where the engine reads wall time (for maintenance windows in a time zone).
///
/// ```
/// use monitor_core::alerts::Clock;
/// let start = "2026-12-05T01:59:00Z".parse().unwrap();
/// let clock = Clock::following_tokio(start); // moves with tokio's (possibly paused) clock
/// assert!(clock.now() >= start);
/// assert!(Clock::system().now() > start - chrono::Duration::days(36500));
/// ```
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// Starts at `start` and advances with tokio's clock (paused in tests). Call it inside a runtime.
    pub fn following_tokio(start: DateTime<Utc>) -> Clock {
        let base = Instant::now();
        Clock(Arc::new(move || {
            start + chrono::Duration::from_std(base.elapsed()).unwrap_or_default()
        }))
    }

    /// Any function.
    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// CPU, memory and load of the machine running the check, when the alert fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostBrief {
    /// The host's name.
    pub hostname: String,
    /// CPU busy, percent.
    pub cpu_pct: f64,
    /// Memory used, percent.
    pub memory_used_pct: f64,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
    /// Logical CPUs.
    pub cores: usize,
    /// When the sample was taken.
    pub sampled_at: DateTime<Utc>,
}

/// Certificate facts of a `certificate_expiring` alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertificateBrief {
    /// When the certificate expires.
    pub not_after: DateTime<Utc>,
    /// Days left, with a fraction.
    pub days_left: f64,
    /// The threshold crossed, in days.
    pub threshold_days: f64,
}

/// One alert, as published in `alert_fired` and sent to notifiers.
///
/// ```
/// use monitor_core::alerts::Alert;
/// let a: Alert = serde_json::from_value(serde_json::json!({
///     "id": "1", "rule": "api", "kind": "down", "severity": "critical", "check": "api",
///     "at": "2026-12-01T10:00:00Z", "since": "2026-12-01T09:58:00Z", "message": "api is down"
/// })).unwrap();
/// assert_eq!(a.kind.as_str(), "down");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique id (also the webhook's `X-Upwatch-Delivery`).
    pub id: String,
    /// The rule that fired.
    pub rule: String,
    /// What happened.
    pub kind: Trigger,
    /// How urgent.
    pub severity: Severity,
    /// The check.
    pub check: String,
    /// Its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its settled status when the alert fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// When the alert fired.
    pub at: DateTime<Utc>,
    /// When the condition began (the change to down, the first flap...).
    pub since: DateTime<Utc>,
    /// A sentence for people.
    pub message: String,
    /// The error that took the check down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CheckError>,
    /// The open incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// 0 for the first alert, 1.. for reminders (`repeat`).
    #[serde(default)]
    pub repeat: u32,
    /// For `certificate_expiring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateBrief>,
    /// The host running the check, for failure alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostBrief>,
    /// For rules from history (`latency_baseline`, `slo`) and their resolution: what was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// What a rule from history measured when it fired (or resolved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// `p50_ms`, `p95_ms`, `p99_ms` or `uptime_pct`.
    pub metric: String,
    /// The window measured (`"15m"`).
    pub window: String,
    /// The value over that window.
    pub value: f64,
    /// The bound: the baseline times the rule's factor, or the objective.
    pub threshold: f64,
    /// For baseline rules: the check's own value over the longer window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// For baseline rules: that longer window (`"7days"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_window: Option<String>,
    /// Results in the window measured.
    pub samples: u64,
}

/// The last delivery failure, as `status().alerts.last_failure` shows it (no secrets:
/// the notifier's name and the kind of failure or the status code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFailure {
    /// The notifier.
    pub notifier: String,
    /// The alert.
    pub alert: String,
    /// `connection`, `timeout`, `status 500`...
    pub error: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Alert counters in `status()`.
///
/// ```
/// let m = monitor_core::Monitor::new();
/// let a = m.status().alerts;
/// assert_eq!((a.fired, a.queued, a.delivered, a.failed), (0, 0, 0, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsStatus {
    /// Alerts fired.
    pub fired: u64,
    /// Alerts held back by maintenance windows or mutes.
    pub held: u64,
    /// Deliveries waiting in the outbox.
    pub queued: u64,
    /// Deliveries done.
    pub delivered: u64,
    /// Deliveries given up after the notifier's attempts.
    pub failed: u64,
    /// Failed attempts (retried or given up).
    pub attempts_failed: u64,
    /// The last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<DeliveryFailure>,
    /// Whether this process sends (it may run checks).
    #[serde(default)]
    pub sending: bool,
}

/// The rules, notifiers and windows in force.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) rules: Vec<Arc<AlertRule>>,
    pub(crate) notifiers: HashMap<String, Arc<Notifier>>,
    pub(crate) maintenance: Vec<MaintenanceWindow>,
}

/// The alerting part of a monitor: configuration, mutes, counters and the outbox.
pub(crate) struct Alerting {
    config: RwLock<Arc<Config>>,
    mutes: Mutex<HashMap<String, Instant>>,
    pub(crate) clock: Clock,
    pub(crate) stats: Mutex<AlertsStatus>,
    pub(crate) outbox: Outbox,
    seq: AtomicU64,
    functions: Mutex<HashMap<String, NotifierFn>>,
    /// Where rules from history read (uptime and latency percentiles from rollups).
    store: Arc<dyn crate::store::Store>,
}

impl Alerting {
    pub(crate) fn new(clock: Clock, store: Arc<dyn crate::store::Store>) -> Alerting {
        Alerting {
            config: RwLock::new(Arc::new(Config::default())),
            mutes: Mutex::new(HashMap::new()),
            clock,
            stats: Mutex::new(AlertsStatus::default()),
            outbox: Outbox::new(store.clone()),
            store,
            seq: AtomicU64::new(0),
            functions: Mutex::new(HashMap::new()),
        }
    }

    /// The function of a callable notifier, when this process registered one.
    pub(crate) fn function(&self, notifier: &str) -> Option<NotifierFn> {
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(notifier)
            .cloned()
    }

    pub(crate) fn set_function(&self, notifier: &str, f: Option<NotifierFn>) {
        let mut functions = self.functions.lock().unwrap_or_else(|p| p.into_inner());
        match f {
            Some(f) => functions.insert(notifier.to_string(), f),
            None => functions.remove(notifier),
        };
        drop(functions);
        // Alerts waiting for it may go now.
        self.outbox.wake();
    }

    /// Removes notifiers, rules and windows by name; returns how many were removed.
    pub(crate) fn remove(&self, notifiers: &[&str], rules: &[&str], maintenance: &[&str]) -> usize {
        let mut guard = self.config.write().unwrap_or_else(|p| p.into_inner());
        let old = guard.clone();
        let mut next = Config {
            rules: old.rules.clone(),
            notifiers: old.notifiers.clone(),
            maintenance: old.maintenance.clone(),
        };
        let before = next.rules.len() + next.notifiers.len() + next.maintenance.len();
        next.notifiers.retain(|n, _| !notifiers.contains(&n.as_str()));
        next.rules.retain(|r| !rules.contains(&r.name.as_str()));
        next.maintenance.retain(|w| !maintenance.contains(&w.name.as_str()));
        let removed = before - (next.rules.len() + next.notifiers.len() + next.maintenance.len());
        *guard = Arc::new(next);
        drop(guard);
        for n in notifiers {
            self.set_function(n, None);
        }
        removed
    }

    /// The mutes in force: target and how long they still hold.
    pub(crate) fn mutes(&self) -> Vec<(String, Duration)> {
        let now = Instant::now();
        let mut mutes = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
        mutes.retain(|_, t| *t > now);
        let mut out: Vec<(String, Duration)> = mutes.iter().map(|(k, t)| (k.clone(), *t - now)).collect();
        out.sort();
        out
    }

    pub(crate) fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds (or replaces, by name) notifiers, rules and windows.
    pub(crate) fn configure(
        &self,
        notifiers: Vec<NotifierSpec>,
        rules: Vec<AlertRule>,
        maintenance: Vec<MaintenanceWindow>,
    ) {
        if notifiers.is_empty() && rules.is_empty() && maintenance.is_empty() {
            return;
        }
        let mut guard = self.config.write().unwrap_or_else(|p| p.into_inner());
        let old = guard.clone();
        let mut next = Config {
            rules: old.rules.clone(),
            notifiers: old.notifiers.clone(),
            maintenance: old.maintenance.clone(),
        };
        for n in notifiers {
            next.notifiers.insert(n.name.clone(), Arc::new(Notifier::new(n)));
        }
        for r in rules {
            next.rules.retain(|x| x.name != r.name);
            next.rules.push(Arc::new(r));
        }
        for w in maintenance {
            next.maintenance.retain(|x| x.name != w.name);
            next.maintenance.push(w);
        }
        *guard = Arc::new(next);
    }

    /// Adopts the mutes kept in the store (asked of any process sharing it). Blocks on the store.
    pub(crate) fn adopt_stored_mutes(&self) {
        match self.store.mutes(Utc::now()) {
            Ok(mutes) => {
                for (target, until) in mutes {
                    self.mute(&target, Some(until));
                }
            }
            Err(e) => tracing::warn!("reading the mutes kept in the store failed: {e}"),
        }
    }

    /// Holds back alerts about `target` until `until` (wall time: what the store keeps and
    /// other processes send), or no longer (`None`).
    pub(crate) fn mute(&self, target: &str, until: Option<DateTime<Utc>>) {
        let until = until.map(|t| Instant::now() + (t - Utc::now()).to_std().unwrap_or_default());
        let mut mutes = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
        match until {
            Some(t) => {
                mutes.insert(target.to_string(), t);
            }
            None => {
                mutes.remove(target);
            }
        }
    }

    /// Until when alerts about this check are held back (`None`: they are not).
    pub(crate) fn held_until(&self, check: &str, service: Option<&str>, tags: &[String]) -> Option<Instant> {
        let now = Instant::now();
        let mut until: Option<Instant> = None;
        {
            let mut mutes = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
            mutes.retain(|_, t| *t > now);
            for target in std::iter::once(check).chain(service) {
                if let Some(t) = mutes.get(target) {
                    until = Some(until.map_or(*t, |u| u.max(*t)));
                }
            }
        }
        let config = self.config();
        if !config.maintenance.is_empty() {
            let wall = self.clock.now();
            for w in config.maintenance.iter().filter(|w| w.covers(check, service, tags)) {
                if let Some(end) = w.ends_after(wall) {
                    let t = now + (end - wall).to_std().unwrap_or_default();
                    until = Some(until.map_or(t, |u| u.max(t)));
                }
            }
        }
        until
    }

    pub(crate) fn status(&self, sending: bool) -> AlertsStatus {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        s.queued = self.outbox.len() as u64;
        s.sending = sending;
        s
    }

    fn next_id(&self, at: DateTime<Utc>) -> String {
        format!(
            "{}-{}",
            at.timestamp_millis(),
            self.seq.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

/// How often a held-back alert is looked at again (a mute may be lifted early).
const HOLD_RECHECK: Duration = Duration::from_secs(30);

/// What the engine follows per rule and check.
#[derive(Default)]
struct Track {
    service: Option<String>,
    tags: Vec<String>,
    status: Option<Status>,
    since: Option<DateTime<Utc>>,
    /// When the engine saw the status change (durations in messages use tokio's clock).
    since_seen: Option<Instant>,
    error: Option<CheckError>,
    incident: Option<String>,
    incident_since: Option<DateTime<Utc>>,
    incident_seen: Option<Instant>,
    /// A down or degraded alert waiting for `for` (or for maintenance to end).
    pending: Option<(Trigger, Instant)>,
    /// Whether the pending alert is being held back (counted once in `held`).
    pending_held: bool,
    /// The failure alert sent for the current episode.
    fired: Option<Trigger>,
    repeat_at: Option<Instant>,
    repeats: u32,
    open_due: Option<Instant>,
    changes: VecDeque<Instant>,
    flapping: bool,
    flap_since: Option<DateTime<Utc>>,
    /// The certificate seen and the number of thresholds already alerted on.
    cert: Option<(DateTime<Utc>, usize)>,
    /// A condition from history (baseline, SLO): since when it has been breached.
    cond_pending: Option<Instant>,
    cond_since: Option<DateTime<Utc>>,
    /// The condition alert sent for the current breach.
    cond_fired: Option<Trigger>,
    cond_repeat_at: Option<Instant>,
    cond_repeats: u32,
    cond_held: bool,
    /// The last measurement of the condition.
    measured: Option<Measured>,
    /// For a service rule: the check whose change moved the service.
    cause: Option<String>,
}

impl Track {
    fn next_wake(&self, rule: &AlertRule) -> Option<Instant> {
        let flap_end = if self.flapping {
            match (self.changes.back(), rule.flapping) {
                (Some(t), Some(f)) => Some(*t + f.within),
                _ => None,
            }
        } else {
            None
        };
        [self.pending.map(|p| p.1), self.repeat_at, self.open_due, flap_end]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The engine's state: one track per (rule, check).
pub(crate) struct Engine {
    alerting: Arc<Alerting>,
    publish: Publish,
    host: Arc<crate::host::HostBoard>,
    tracks: HashMap<(String, String), Track>,
    /// When each rule from history is evaluated next.
    evaluations: HashMap<String, Instant>,
    /// Every check and its settled status, from the monitor's registry.
    snapshot: Snapshot,
}

/// The events the engine listens to.
pub(crate) fn filter() -> Filter {
    Filter::default().kinds([
        EventKind::CheckStatusChanged,
        EventKind::CheckSucceeded,
        EventKind::CheckFailed,
        EventKind::IncidentOpened,
        EventKind::IncidentResolved,
        EventKind::CheckDeleted,
        EventKind::CheckRegistered,
        EventKind::ServiceStatusChanged,
    ])
}

/// Runs the engine until `stop` or until the bus closes.
pub(crate) async fn run(
    alerting: Arc<Alerting>,
    publish: Publish,
    mut sub: crate::bus::Subscription,
    host: Arc<crate::host::HostBoard>,
    may_send: Arc<dyn Fn() -> bool + Send + Sync>,
    snapshot: Snapshot,
    stop: CancellationToken,
) {
    let mut engine = Engine {
        alerting,
        publish,
        host,
        tracks: HashMap::new(),
        evaluations: HashMap::new(),
        snapshot: snapshot.clone(),
    };
    let mut was_sending = false;
    loop {
        let sending = may_send();
        if sending && !was_sending {
            // Started, or took the lease over: what is down now was seen by a process before.
            engine.adopt(&snapshot(None), None);
        }
        was_sending = sending;
        let wake = engine.next_wake();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            d = sub.recv() => match d {
                None => break,
                // Only the process that runs checks (and sends) alerts.
                Some(Delivery::Event(e)) if may_send() => engine.on_event(&e),
                Some(Delivery::Event(_)) => {}
                Some(Delivery::Lagged { missed }) => {
                    // Events were lost (a burst beyond the bus buffer): catch up on the
                    // settled statuses, so no down or resolved goes unnoticed.
                    tracing::warn!("alert engine missed {missed} events; resynchronising");
                    if may_send() {
                        engine.resync(snapshot(None));
                    }
                }
            },
            _ = sleep => {}
        }
        engine.tick();
        if may_send() {
            engine.evaluate_history(&snapshot).await;
        }
    }
}

impl Engine {
    fn next_wake(&self) -> Option<Instant> {
        let config = self.alerting.config();
        let rules: HashMap<&str, &AlertRule> = config.rules.iter().map(|r| (r.name.as_str(), &**r)).collect();
        let evaluation = config
            .rules
            .iter()
            .filter(|r| r.baseline.is_some() || r.slo.is_some())
            .map(|r| self.evaluations.get(&r.name).copied().unwrap_or_else(Instant::now))
            .min();
        self.tracks
            .iter()
            .filter_map(|((rule, _), t)| t.next_wake(rules.get(rule.as_str())?))
            .chain(evaluation)
            .min()
    }

    /// Evaluates the rules from history that are due: one uptime query per window for all
    /// the checks a rule covers (answered from rollups), off the runtime's workers.
    async fn evaluate_history(&mut self, snapshot: &Snapshot) {
        let now = Instant::now();
        let config = self.alerting.config();
        let due: Vec<Arc<AlertRule>> = config
            .rules
            .iter()
            .filter(|r| r.baseline.is_some() || r.slo.is_some())
            .filter(|r| self.evaluations.get(&r.name).is_none_or(|t| *t <= now))
            .cloned()
            .collect();
        self.evaluations
            .retain(|name, _| config.rules.iter().any(|r| &r.name == name));
        if due.is_empty() {
            return;
        }
        let settled = snapshot(None);
        for rule in due {
            let every = [rule.baseline.map(|b| b.every), rule.slo.map(|s| s.every)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Duration::from_secs(60));
            self.evaluations.insert(rule.name.clone(), now + every);
            let checks: Vec<&Settled> = settled
                .iter()
                .filter(|c| rule.matches(&c.check, c.service.as_deref(), &c.tags))
                .collect();
            if checks.is_empty() {
                continue;
            }
            let query = crate::store::HistoryQuery {
                checks: checks.iter().map(|c| c.check.clone()).collect(),
                ..crate::store::HistoryQuery::default()
            };
            let mut windows: Vec<Duration> = Vec::new();
            if let Some(b) = rule.baseline {
                windows.extend([b.recent, b.over]);
            }
            if let Some(s) = rule.slo {
                windows.push(s.window);
            }
            let (store, wall) = (self.alerting.store.clone(), self.alerting.clock.now());
            let read = tokio::task::spawn_blocking(move || {
                windows
                    .into_iter()
                    .map(|w| {
                        let rows = store.uptime(&query, w, wall)?;
                        Ok((w, rows.into_iter().map(|u| (u.check.clone(), u)).collect()))
                    })
                    .collect::<Result<HashMap<Duration, HashMap<String, crate::store::Uptime>>, crate::store::StoreError>>()
            })
            .await;
            let by_window = match read {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    tracing::warn!("alert rule {:?}: could not read history: {e}", rule.name);
                    continue;
                }
                Err(_) => continue,
            };
            for c in checks {
                let row = |w: Duration| by_window.get(&w).and_then(|m| m.get(&c.check));
                if let Some(b) = rule.baseline.filter(|_| rule.on(Trigger::LatencyBaseline)) {
                    let pick = |u: &crate::store::Uptime| match b.percentile {
                        50 => u.p50_ms,
                        99 => u.p99_ms,
                        _ => u.p95_ms,
                    };
                    let measured = match (row(b.recent), row(b.over)) {
                        (Some(r), Some(o)) if r.count >= b.min_samples && o.count > r.count => {
                            match (pick(r), pick(o)) {
                                (Some(value), Some(base)) if base > 0.0 => Some(Measured {
                                    metric: format!("p{}_ms", b.percentile),
                                    window: humantime::format_duration(b.recent).to_string(),
                                    value,
                                    threshold: base * b.factor,
                                    baseline: Some(base),
                                    baseline_window: Some(humantime::format_duration(b.over).to_string()),
                                    samples: r.count,
                                }),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    let breached = measured.as_ref().map(|m| m.value > m.threshold);
                    self.condition(&rule, c, Trigger::LatencyBaseline, breached, measured);
                }
                if let Some(slo) = rule.slo.filter(|_| rule.on(Trigger::Slo)) {
                    let measured = row(slo.window).and_then(|u| {
                        u.uptime_pct.map(|value| Measured {
                            metric: "uptime_pct".into(),
                            window: humantime::format_duration(slo.window).to_string(),
                            value,
                            threshold: slo.uptime_pct,
                            baseline: None,
                            baseline_window: None,
                            samples: u.count,
                        })
                    });
                    let breached = measured.as_ref().map(|m| m.value < m.threshold);
                    self.condition(&rule, c, Trigger::Slo, breached, measured);
                }
            }
        }
    }

    /// One evaluation of a condition from history for one check: `breached` is `None`
    /// when there is too little data to judge (nothing changes then).
    fn condition(
        &mut self,
        rule: &AlertRule,
        c: &Settled,
        kind: Trigger,
        breached: Option<bool>,
        measured: Option<Measured>,
    ) {
        let Some(breached) = breached else { return };
        let now = Instant::now();
        let held = self
            .alerting
            .held_until(&c.check, c.service.as_deref(), &c.tags)
            .is_some();
        let wall = self.alerting.clock.now();
        let t = self.track(rule, &c.check, &c.service, &c.tags);
        t.measured = measured;
        if !breached {
            t.cond_pending = None;
            t.cond_held = false;
            t.cond_repeat_at = None;
            t.cond_repeats = 0;
            if t.cond_fired.take() == Some(kind) && rule.send_resolved && rule.on(Trigger::Resolved) {
                self.fire_with(rule, &c.check, Trigger::Resolved, 0, None, true);
            }
            return;
        }
        if t.cond_fired == Some(kind) {
            if t.cond_repeat_at.is_some_and(|r| r <= now) {
                if held {
                    self.count_held();
                } else {
                    t.cond_repeats += 1;
                    t.cond_repeat_at = rule.repeat.map(|r| now + r);
                    let n = t.cond_repeats;
                    self.fire_with(rule, &c.check, kind, n, None, true);
                }
            }
            return;
        }
        let started = *t.cond_pending.get_or_insert(now);
        if t.cond_since.is_none() || started == now {
            t.cond_since = Some(wall);
        }
        if now < started + rule.for_ {
            return;
        }
        if held {
            if !t.cond_held {
                t.cond_held = true;
                self.count_held();
            }
            return;
        }
        t.cond_held = false;
        t.cond_fired = Some(kind);
        t.cond_repeats = 0;
        t.cond_repeat_at = rule.repeat.map(|r| now + r);
        self.fire_with(rule, &c.check, kind, 0, None, true);
    }

    fn on_event(&mut self, event: &Event) {
        let config = self.alerting.config();
        match event {
            Event::CheckStatusChanged {
                check,
                service,
                tags,
                status,
                at,
                error,
                ..
            } => {
                for rule in config
                    .rules
                    .iter()
                    .filter(|r| r.matches(check, service.as_deref(), tags))
                {
                    self.status_changed(rule, check, service, tags, *status, *at, error.clone());
                }
            }
            Event::IncidentOpened {
                incident,
                check,
                service,
                tags,
                at,
                ..
            } => {
                for rule in config
                    .rules
                    .iter()
                    .filter(|r| r.matches(check, service.as_deref(), tags))
                {
                    let t = self.track(rule, check, service, tags);
                    t.incident = Some(incident.clone());
                    t.incident_since = Some(*at);
                    t.incident_seen = Some(Instant::now());
                    if rule.on(Trigger::StillOpen) {
                        t.open_due = Some(Instant::now() + rule.for_);
                    }
                }
            }
            Event::IncidentResolved { check, .. } => {
                for ((_, c), t) in self.tracks.iter_mut() {
                    if c == check {
                        t.incident = None;
                        t.open_due = None;
                    }
                }
            }
            Event::ServiceStatusChanged {
                service,
                previous,
                status: Some(status),
                at,
                cause,
            } if *previous != Some(*status) => {
                for rule in config.rules.iter().filter(|r| r.matches_service(service)) {
                    // A service's track is keyed by the service's name; its alerts name it as
                    // their check and their service, and the check change that moved it.
                    self.status_changed(rule, service, &Some(service.clone()), &[], *status, *at, None);
                    if let Some(t) = self.tracks.get_mut(&(rule.name.clone(), service.clone())) {
                        t.cause = Some(cause.check.clone()).filter(|c| !c.is_empty());
                    }
                }
            }
            Event::CheckDeleted { check, .. } => self.tracks.retain(|(_, c), _| c != check),
            Event::CheckRegistered { check, .. } => {
                // Only the registered check: registering a thousand would otherwise copy the
                // registry a thousand times.
                let settled = (self.snapshot)(Some(check));
                self.adopt(&settled, Some(check));
            }
            Event::CheckSucceeded(report) | Event::CheckFailed(report) => {
                let r = &report.result;
                let Some(cert) = r.observed.certificate.as_deref() else {
                    return;
                };
                for rule in config
                    .rules
                    .iter()
                    .filter(|x| x.on(Trigger::CertificateExpiring))
                    .filter(|x| x.matches(&r.check, r.service.as_deref(), &report.tags))
                {
                    self.certificate(rule, &r.check, &r.service, &report.tags, cert, r.at);
                }
            }
            _ => {}
        }
    }

    /// Takes over checks that are down or degraded with a status restored from history (after
    /// a restart, or a lease takeover), that the engine has not followed yet: when their
    /// `for` ran out, the process before alerted on them (so no second `down`, and a
    /// `resolved` when they come back up); otherwise `for` runs on from the restored start.
    fn adopt(&mut self, settled: &[Settled], only: Option<&str>) {
        let config = self.alerting.config();
        let (now, wall) = (Instant::now(), self.alerting.clock.now());
        // Only statuses restored from history: a change since then comes as an event.
        for c in settled
            .iter()
            .filter(|c| c.restored && only.is_none_or(|o| o == c.check))
        {
            let (Some(status), Some(since)) = (c.status, c.since) else {
                continue;
            };
            let trigger = match status {
                Status::Up => continue,
                Status::Down => Trigger::Down,
                Status::Degraded => Trigger::Degraded,
            };
            let age = (wall - since).to_std().unwrap_or_default();
            for rule in config
                .rules
                .iter()
                .filter(|r| r.on(trigger) && r.matches(&c.check, c.service.as_deref(), &c.tags))
            {
                if self
                    .tracks
                    .get(&(rule.name.clone(), c.check.clone()))
                    .is_some_and(|t| t.status.is_some())
                {
                    continue;
                }
                let t = self.track(rule, &c.check, &c.service, &c.tags);
                t.status = Some(status);
                t.since = Some(since);
                t.since_seen = Some(now.checked_sub(age).unwrap_or(now));
                if status == Status::Down {
                    t.incident = Some(super::incidents::Incident::id_of(&c.check, since));
                    t.incident_since = Some(since);
                    t.incident_seen = t.since_seen;
                }
                if age >= rule.for_ {
                    t.fired = Some(trigger);
                    t.repeat_at = rule.repeat.map(|r| now + r);
                } else {
                    t.pending = Some((trigger, now + (rule.for_ - age)));
                }
            }
        }
    }

    /// Applies every settled status the engine has not seen (after missed events).
    fn resync(&mut self, now: Vec<Settled>) {
        let config = self.alerting.config();
        for c in now {
            let (Some(status), Some(since)) = (c.status, c.since) else {
                continue;
            };
            for rule in config
                .rules
                .iter()
                .filter(|r| r.matches(&c.check, c.service.as_deref(), &c.tags))
            {
                let known = self
                    .tracks
                    .get(&(rule.name.clone(), c.check.clone()))
                    .and_then(|t| t.status);
                // An unknown check that is up needs nothing; otherwise a differing status is a change.
                if known != Some(status) && !(known.is_none() && status == Status::Up) {
                    self.status_changed(rule, &c.check, &c.service, &c.tags, status, since, None);
                }
            }
        }
    }

    fn track(&mut self, rule: &AlertRule, check: &str, service: &Option<String>, tags: &[String]) -> &mut Track {
        let t = self.tracks.entry((rule.name.clone(), check.to_string())).or_default();
        t.service.clone_from(service);
        if t.tags != tags {
            t.tags = tags.to_vec();
        }
        t
    }

    #[allow(clippy::too_many_arguments)]
    fn status_changed(
        &mut self,
        rule: &AlertRule,
        check: &str,
        service: &Option<String>,
        tags: &[String],
        status: Status,
        at: DateTime<Utc>,
        error: Option<CheckError>,
    ) {
        let now = Instant::now();
        let mut flapping_started = false;
        {
            let t = self.track(rule, check, service, tags);
            t.status = Some(status);
            t.since = Some(at);
            t.since_seen = Some(now);
            if status == Status::Down {
                t.error = error;
                // The incident this change opens (its event follows this one): known now, so
                // an alert fired at once (`for = 0s`) names it.
                if t.incident.is_none() {
                    // A service rule's track is keyed by the service's name.
                    let service_rule = rule.scope == super::rules::Scope::Service;
                    t.incident = Some(if service_rule {
                        super::incidents::Incident::service_id_of(check, at)
                    } else {
                        super::incidents::Incident::id_of(check, at)
                    });
                    t.incident_since = Some(at);
                    t.incident_seen = Some(now);
                    // A check's reminder starts with its `IncidentOpened` event; a service's here.
                    if service_rule && rule.on(Trigger::StillOpen) {
                        t.open_due = Some(now + rule.for_);
                    }
                }
            }
            if let Some(f) = rule.flapping {
                t.changes.push_back(now);
                while t.changes.front().is_some_and(|c| *c + f.within <= now) {
                    t.changes.pop_front();
                }
                if !t.flapping && t.changes.len() >= f.changes as usize {
                    t.flapping = true;
                    t.flap_since = Some(at);
                    t.pending = None;
                    flapping_started = true;
                }
            }
        }
        if flapping_started && rule.on(Trigger::Flapping) {
            self.fire(rule, check, Trigger::Flapping, 0);
        }
        let t = self.track(rule, check, service, tags);
        t.pending_held = false;
        if t.flapping {
            return;
        }
        match status {
            Status::Down => {
                if t.fired != Some(Trigger::Down) && rule.on(Trigger::Down) {
                    t.pending = Some((Trigger::Down, now + rule.for_));
                }
            }
            Status::Degraded => {
                if t.fired.is_none() {
                    t.pending = rule.on(Trigger::Degraded).then(|| (Trigger::Degraded, now + rule.for_));
                } else if t.pending.is_some_and(|p| p.0 == Trigger::Down) {
                    t.pending = None;
                }
            }
            Status::Up => {
                t.pending = None;
                t.repeat_at = None;
                t.repeats = 0;
                if t.fired.take().is_some() && rule.send_resolved && rule.on(Trigger::Resolved) {
                    self.fire(rule, check, Trigger::Resolved, 0);
                }
                // A check's incident ends with its `IncidentResolved` event; a service's here.
                if rule.scope == super::rules::Scope::Service {
                    let t = self.track(rule, check, service, tags);
                    t.incident = None;
                    t.open_due = None;
                }
            }
        }
    }

    fn certificate(
        &mut self,
        rule: &AlertRule,
        check: &str,
        service: &Option<String>,
        tags: &[String],
        cert: &crate::result::CertificateInfo,
        at: DateTime<Utc>,
    ) {
        let left = cert.expires_in(at);
        let level = rule.certificate.iter().filter(|th| left <= **th).count();
        let held = self.alerting.held_until(check, service.as_deref(), tags).is_some();
        let t = self.track(rule, check, service, tags);
        let seen = match t.cert {
            Some((not_after, n)) if not_after == cert.not_after => n,
            _ => 0,
        };
        if level <= seen {
            t.cert = Some((cert.not_after, level.min(seen)));
            return;
        }
        if held {
            self.count_held();
            return;
        }
        t.cert = Some((cert.not_after, level));
        let threshold = rule.certificate[level - 1];
        let brief = CertificateBrief {
            not_after: cert.not_after,
            days_left: (cert.not_after - at).num_seconds() as f64 / 86_400.0,
            threshold_days: threshold.as_secs_f64() / 86_400.0,
        };
        self.fire_with(rule, check, Trigger::CertificateExpiring, 0, Some(brief), false);
    }

    /// Fires what is due.
    fn tick(&mut self) {
        let now = Instant::now();
        let config = self.alerting.config();
        let keys: Vec<(String, String)> = self
            .tracks
            .iter()
            .filter(|(_, t)| {
                [t.pending.map(|p| p.1), t.repeat_at, t.open_due]
                    .into_iter()
                    .flatten()
                    .any(|d| d <= now)
                    || t.flapping
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(rule) = config.rules.iter().find(|r| r.name == key.0).cloned() else {
                self.tracks.remove(&key);
                continue;
            };
            self.tick_one(&rule, &key, now);
        }
    }

    fn tick_one(&mut self, rule: &AlertRule, key: &(String, String), now: Instant) {
        let check = key.1.as_str();
        let (service, tags) = match self.tracks.get(key) {
            Some(t) => (t.service.clone(), t.tags.clone()),
            None => return,
        };
        let held = self.alerting.held_until(check, service.as_deref(), &tags);
        // Flapping ends after a quiet window; the status then stands on its own.
        if let (Some(t), Some(f)) = (self.tracks.get_mut(key), rule.flapping) {
            if t.flapping && t.changes.back().is_none_or(|c| *c + f.within <= now) {
                t.flapping = false;
                t.changes.clear();
                match t.status {
                    Some(Status::Down) if t.fired != Some(Trigger::Down) && rule.on(Trigger::Down) => {
                        t.pending = Some((Trigger::Down, now));
                    }
                    Some(Status::Up) if t.fired.is_some() => {
                        t.fired = None;
                        t.repeat_at = None;
                        if rule.send_resolved && rule.on(Trigger::Resolved) {
                            self.fire(rule, check, Trigger::Resolved, 0);
                        }
                    }
                    _ => {}
                }
            }
        }
        let Some(t) = self.tracks.get_mut(key) else { return };
        if let Some((kind, due)) = t.pending {
            if due <= now {
                match held {
                    Some(until) => {
                        // Looked at again when the hold ends, or sooner (a mute may be lifted).
                        t.pending = Some((kind, until.min(now + HOLD_RECHECK)));
                        if !t.pending_held {
                            t.pending_held = true;
                            self.count_held();
                        }
                    }
                    None => {
                        t.pending = None;
                        t.pending_held = false;
                        t.fired = Some(kind);
                        t.repeats = 0;
                        t.repeat_at = rule.repeat.map(|r| now + r);
                        self.fire(rule, check, kind, 0);
                    }
                }
            }
        }
        let Some(t) = self.tracks.get_mut(key) else { return };
        if let Some(due) = t.open_due.filter(|d| *d <= now) {
            match held {
                Some(until) => {
                    t.open_due = Some(until.max(due));
                    self.count_held();
                }
                None => {
                    t.open_due = None;
                    if t.incident.is_some() {
                        if t.fired.is_none() {
                            t.fired = Some(Trigger::StillOpen);
                            t.repeat_at = t.repeat_at.or(rule.repeat.map(|r| now + r));
                        }
                        self.fire(rule, check, Trigger::StillOpen, 0);
                    }
                }
            }
        }
        let Some(t) = self.tracks.get_mut(key) else { return };
        if let Some(due) = t.repeat_at.filter(|d| *d <= now) {
            let still_failing = t.fired.is_some() && t.status != Some(Status::Up);
            let every = rule.repeat.unwrap_or(Duration::from_secs(3600));
            if !still_failing {
                t.repeat_at = None;
            } else if let Some(until) = held {
                t.repeat_at = Some(until.max(due + every));
                self.count_held();
            } else {
                t.repeats += 1;
                t.repeat_at = Some(now + every);
                let (kind, n) = (t.fired.unwrap_or(Trigger::Down), t.repeats);
                self.fire(rule, check, kind, n);
            }
        }
    }

    fn count_held(&self) {
        self.alerting.stats.lock().unwrap_or_else(|p| p.into_inner()).held += 1;
    }

    fn fire(&mut self, rule: &AlertRule, check: &str, kind: Trigger, repeat: u32) {
        self.fire_with(rule, check, kind, repeat, None, false)
    }

    /// Builds and queues an alert; `condition` marks one of a rule from history (or its
    /// resolution), which carries the measurement.
    fn fire_with(
        &mut self,
        rule: &AlertRule,
        check: &str,
        kind: Trigger,
        repeat: u32,
        certificate: Option<CertificateBrief>,
        condition: bool,
    ) {
        let Some(t) = self.tracks.get(&(rule.name.clone(), check.to_string())) else {
            return;
        };
        let at = self.alerting.clock.now();
        let since = match kind {
            _ if condition => t.cond_since,
            Trigger::Flapping => t.flap_since,
            Trigger::StillOpen => t.incident_since,
            _ => t.since,
        }
        .unwrap_or(at);
        let measured = if condition { t.measured.clone() } else { None };
        let failure = !matches!(kind, Trigger::Resolved);
        let host = if failure && kind != Trigger::CertificateExpiring {
            self.host.latest().map(|h| HostBrief {
                hostname: h.hostname.clone(),
                cpu_pct: h.cpu_pct,
                memory_used_pct: h.memory.used_pct,
                load: [h.load1, h.load5, h.load15],
                cores: h.cores,
                sampled_at: h.at,
            })
        } else {
            None
        };
        let message = if rule.scope == super::rules::Scope::Service {
            let mut m = message(&format!("service {check}"), kind, repeat, t, &certificate, None);
            if let Some(c) = t.cause.as_ref().filter(|_| kind != Trigger::Resolved) {
                m.push_str(&format!(" (after a change of {c})"));
            }
            m
        } else {
            message(check, kind, repeat, t, &certificate, measured.as_ref())
        };
        let alert = Alert {
            id: self.alerting.next_id(at),
            rule: rule.name.clone(),
            kind,
            severity: if kind == Trigger::Resolved {
                Severity::Info
            } else {
                rule.severity
            },
            check: check.to_string(),
            service: t.service.clone(),
            tags: t.tags.clone(),
            status: t.status,
            at,
            since,
            message,
            error: if failure && kind != Trigger::CertificateExpiring && !condition {
                t.error.clone()
            } else {
                None
            },
            incident: t.incident.clone(),
            repeat,
            certificate,
            host,
            measured,
        };
        self.alerting.stats.lock().unwrap_or_else(|p| p.into_inner()).fired += 1;
        let alert = Arc::new(alert);
        // Queued before it is published, so a subscriber that sees the event sees it queued.
        let config = self.alerting.config();
        for name in &rule.notify {
            if config.notifiers.contains_key(name) {
                self.alerting.outbox.push(name, alert.clone());
            }
        }
        (self.publish)(Event::AlertFired(Box::new((*alert).clone())));
    }
}

fn message(
    check: &str,
    kind: Trigger,
    repeat: u32,
    t: &Track,
    cert: &Option<CertificateBrief>,
    measured: Option<&Measured>,
) -> String {
    let took = |since: Option<Instant>| {
        let d = since.map(|s| s.elapsed()).unwrap_or_default();
        crate::spec::human(Duration::from_secs(d.as_secs()))
    };
    let why = t.error.as_ref().map(|e| format!(": {}", e.message)).unwrap_or_default();
    let again = if repeat > 0 { " (still)" } else { "" };
    if let Some(m) = measured {
        let what = if m.metric == "uptime_pct" {
            "uptime".to_string()
        } else {
            format!("{} latency", m.metric.trim_end_matches("_ms"))
        };
        let value = |v: f64| {
            if m.metric == "uptime_pct" {
                format!("{v:.3}%")
            } else {
                format!("{v:.0} ms")
            }
        };
        return match (kind, m.baseline) {
            (Trigger::Resolved, Some(_)) => format!(
                "{check}: {what} back within its baseline ({} over {})",
                value(m.value),
                m.window
            ),
            (Trigger::Resolved, None) => format!(
                "{check}: uptime back at or above the {} objective ({} over {})",
                value(m.threshold),
                value(m.value),
                m.window
            ),
            (_, Some(base)) => format!(
                "{check}: {what} {} over {}{again} is {:.1}x its {} baseline ({})",
                value(m.value),
                m.window,
                m.value / base,
                m.baseline_window.as_deref().unwrap_or("usual"),
                value(base)
            ),
            (_, None) => format!(
                "{check}: uptime {} over {}{again} is below the {} objective",
                value(m.value),
                m.window,
                value(m.threshold)
            ),
        };
    }
    match kind {
        Trigger::Down => format!("{check} is down{again} for {}{why}", took(t.since_seen)),
        Trigger::Degraded => format!("{check} is degraded{again} for {}", took(t.since_seen)),
        Trigger::Resolved => format!("{check} is back up"),
        Trigger::StillOpen => format!("{check}: incident still open after {}", took(t.incident_seen)),
        Trigger::Flapping => format!("{check} is flapping ({} changes)", t.changes.len()),
        Trigger::CertificateExpiring => match cert {
            Some(c) => format!(
                "{check}: certificate expires in {:.1} days ({})",
                c.days_left,
                c.not_after.to_rfc3339()
            ),
            None => format!("{check}: certificate expiring"),
        },
        Trigger::LatencyBaseline => format!("{check}: latency above its baseline"),
        Trigger::Slo => format!("{check}: uptime below its objective"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::AlertRule;
    use crate::bus::RunReport;
    use crate::result::CheckResult;

    fn result(at: DateTime<Utc>, days_left: f64) -> Event {
        let not_after = if days_left > 50.0 {
            at + chrono::Duration::days(90)
        } else {
            "2027-01-01T00:00:00Z".parse().unwrap()
        };
        let r: CheckResult = serde_json::from_value(serde_json::json!({
            "check": "site", "kind": "tls", "status": "up", "at": at, "duration_ms": 1.0,
            "phases": {}, "observed": {"certificate": {
                "subject": "CN=site", "issuer": "CN=ca", "sans": [], "not_before": "2026-01-01T00:00:00Z",
                "not_after": not_after, "days_left": days_left, "chain": [], "chain_valid": true,
                "hostname_valid": true
            }}
        }))
        .unwrap();
        Event::CheckSucceeded(RunReport {
            result: Arc::new(r),
            tags: vec![],
            attempt: 1,
            lateness_ms: None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn certificate_alerts_fire_once_per_threshold_crossed() {
        let alerting = Arc::new(Alerting::new(
            Clock::following_tokio("2026-12-01T00:00:00Z".parse().unwrap()),
            Arc::new(crate::store::MemoryStore::new(4)),
        ));
        let rule = AlertRule::from_value(serde_json::json!({
            "name": "certs", "on": ["certificate_expiring"], "certificate": ["14d", "7d", "1d"]
        }))
        .unwrap();
        alerting.configure(vec![], vec![rule], vec![]);
        let fired: Arc<Mutex<Vec<Alert>>> = Arc::default();
        let sink = fired.clone();
        let publish: Publish = Arc::new(move |e| {
            if let Event::AlertFired(a) = e {
                sink.lock().unwrap().push(*a);
            }
        });
        let mut engine = Engine {
            alerting,
            publish,
            host: Arc::default(),
            tracks: HashMap::new(),
            evaluations: HashMap::new(),
            snapshot: Arc::new(|_: Option<&str>| Vec::new()),
        };
        let expiry: DateTime<Utc> = "2027-01-01T00:00:00Z".parse().unwrap();
        // Daily results as the expiry approaches; a renewal; then the new one ages.
        for days in [20.0, 13.5, 13.0, 12.0, 6.5, 6.0, 0.5, 0.4] {
            let at = expiry - chrono::Duration::seconds((days * 86_400.0) as i64);
            engine.on_event(&result(at, days));
            engine.tick();
        }
        let at = expiry - chrono::Duration::hours(2);
        engine.on_event(&result(at, 90.0)); // renewed: 90 days left, nothing to say
        engine.tick();
        let got = fired.lock().unwrap().clone();
        let thresholds: Vec<f64> = got
            .iter()
            .map(|a| a.certificate.as_ref().unwrap().threshold_days)
            .collect();
        assert_eq!(thresholds, vec![14.0, 7.0, 1.0]);
        assert!(got
            .iter()
            .all(|a| a.kind == Trigger::CertificateExpiring && a.check == "site"));
        assert!(got[1].message.contains("6.5 days"), "{}", got[1].message);
        // A certificate first seen 5 days before expiry fires once (7d), not for 14d too.
        let late = expiry + chrono::Duration::days(90) - chrono::Duration::days(5);
        let mut r = result(late, 5.0);
        if let Event::CheckSucceeded(rep) = &mut r {
            let mut res = (*rep.result).clone();
            res.observed.certificate.as_mut().unwrap().not_after = expiry + chrono::Duration::days(90);
            res.check = "other".into();
            rep.result = Arc::new(res);
        }
        engine.on_event(&r);
        engine.on_event(&r);
        let got = fired.lock().unwrap().clone();
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].certificate.as_ref().unwrap().threshold_days, 7.0);
    }
}
