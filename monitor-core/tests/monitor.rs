//! The monitor: scheduler timing under tokio's paused clock, the bus, services, status,
//! commands and the Prometheus export.

use monitor_core::bus::{Delivery, Event, EventKind, Filter, Subscription};
use monitor_core::checks::callable::{callable, CallableFn};
use monitor_core::{CheckSpec, Command, Monitor, MonitorError, Status};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn spec(v: serde_json::Value) -> CheckSpec {
    CheckSpec::from_value(v).expect("valid spec")
}

/// A callable that records when it ran and passes while `healthy` is set.
#[derive(Clone, Default)]
struct Probe {
    healthy: Arc<AtomicBool>,
    runs: Arc<Mutex<Vec<Instant>>>,
    /// Toggle `healthy` after every call (fail, pass, fail, ...).
    flip: Arc<AtomicBool>,
    /// How long each call takes (simulated time).
    takes: Arc<Mutex<Duration>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
}

struct CountDrop(Arc<AtomicUsize>, bool);
impl Drop for CountDrop {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Probe {
    fn new(healthy: bool) -> Probe {
        let p = Probe::default();
        p.healthy.store(healthy, Ordering::SeqCst);
        p
    }

    fn taking(self, d: Duration) -> Probe {
        *self.takes.lock().unwrap() = d;
        self
    }

    fn function(&self) -> CallableFn {
        let p = self.clone();
        callable(move || {
            let p = p.clone();
            async move {
                p.runs.lock().unwrap().push(Instant::now());
                let now = p.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                p.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let mut guard = CountDrop(p.cancelled.clone(), false);
                let takes = *p.takes.lock().unwrap();
                if !takes.is_zero() {
                    tokio::time::sleep(takes).await;
                }
                guard.1 = true;
                p.in_flight.fetch_sub(1, Ordering::SeqCst);
                let healthy = if p.flip.load(Ordering::SeqCst) {
                    !p.healthy.fetch_xor(true, Ordering::SeqCst)
                } else {
                    p.healthy.load(Ordering::SeqCst)
                };
                if healthy {
                    Ok(Some("fine".into()))
                } else {
                    Err("unhealthy".into())
                }
            }
        })
    }

    fn runs(&self) -> Vec<Instant> {
        self.runs.lock().unwrap().clone()
    }
}

fn drain(sub: &mut Subscription) -> Vec<Arc<Event>> {
    let mut out = Vec::new();
    while let Some(d) = sub.try_recv() {
        if let Delivery::Event(e) = d {
            out.push(e);
        }
    }
    out
}

/// Waits (in simulated time) until the probe has run `n` times and the result is applied.
async fn wait_runs(probe: &Probe, n: usize) {
    while probe.runs().len() < n {
        sleep(1).await;
    }
    sleep(1).await;
}

async fn sleep(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

// ---------------------------------------------------------------- scheduling

#[tokio::test(start_paused = true)]
async fn runs_every_interval_without_drift_over_24_hours() {
    let m = Monitor::builder().event_buffer(1 << 16).build();
    let probe = Probe::new(true).taking(Duration::from_millis(1500));
    m.register_callable(
        spec(json!({"name": "steady", "kind": "callable", "interval": "60s", "timeout": "10s"})),
        probe.function(),
    )
    .unwrap();
    let mut late = m.subscribe(Filter::default().kinds([EventKind::CheckSucceeded]));
    m.start();
    sleep(24 * 3600 + 60).await;
    let runs = probe.runs();
    assert!((1440..=1441).contains(&runs.len()), "{} runs", runs.len());
    for pair in runs.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            Duration::from_secs(60),
            "every run starts exactly one interval after the last"
        );
    }
    let mut lateness = Vec::new();
    while let Some(Delivery::Event(e)) = late.try_recv() {
        if let Event::CheckSucceeded(r) = &*e {
            lateness.push(r.lateness_ms.expect("scheduled runs report lateness"));
        }
    }
    assert_eq!(lateness.len(), runs.len());
    assert!(
        lateness.iter().all(|l| *l < 1.0),
        "max lateness {:?}",
        lateness.iter().cloned().fold(0.0, f64::max)
    );
}

#[tokio::test(start_paused = true)]
async fn first_runs_are_spread_over_the_interval() {
    let m = Monitor::new();
    let probes: Vec<Probe> = (0..600).map(|_| Probe::new(true)).collect();
    for (i, p) in probes.iter().enumerate() {
        m.register_callable(
            spec(json!({"name": format!("c{i}"), "kind": "callable", "interval": "60s"})),
            p.function(),
        )
        .unwrap();
    }
    let start = Instant::now();
    m.start();
    sleep(61).await;
    let mut per_second = [0u32; 61];
    for p in &probes {
        let first = p.runs()[0];
        per_second[(first - start).as_secs() as usize] += 1;
    }
    // 10 per second on average; a burst would put hundreds in one second.
    assert!(per_second.iter().all(|&n| n <= 30), "{per_second:?}");
    assert!(
        per_second[..60].iter().filter(|&&n| n > 0).count() >= 55,
        "{per_second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_settle_down_and_the_success_threshold_settles_up() {
    let m = Monitor::new();
    let probe = Probe::new(true);
    let s = spec(
        json!({"name": "db", "service": "backend", "kind": "callable", "interval": "60s",
        "retries": 2, "retry_interval": "5s", "success_threshold": 2}),
    );
    m.register_callable(s, probe.function()).unwrap();
    let mut events = m.subscribe(Filter::default().checks(["db"]));
    m.start();
    sleep(61).await;
    assert_eq!(m.status().check("db").unwrap().status, Some(Status::Up));
    drain(&mut events);

    probe.healthy.store(false, Ordering::SeqCst);
    let before = probe.runs().len();
    wait_runs(&probe, before + 3).await;
    let runs = probe.runs();
    assert_eq!(runs.len() - before, 3, "one run and two retries");
    assert_eq!(runs[before + 1] - runs[before], Duration::from_secs(5));
    assert_eq!(runs[before + 2] - runs[before + 1], Duration::from_secs(5));
    let seen: Vec<String> = drain(&mut events)
        .iter()
        .map(|e| match &**e {
            Event::CheckFailed(r) => format!("failed#{}", r.attempt),
            Event::CheckStatusChanged {
                previous,
                status,
                error,
                ..
            } => {
                assert_eq!(error.as_ref().unwrap().message, "unhealthy");
                format!("{previous:?}->{status:?}")
            }
            other => format!("{:?}", other.kind()),
        })
        .collect();
    // The service event follows its cause (a filter on a check also sees what it caused).
    assert_eq!(
        seen,
        [
            "failed#1",
            "failed#2",
            "failed#3",
            "Some(Up)->Down",
            "IncidentOpened",
            "ServiceStatusChanged"
        ]
    );

    probe.healthy.store(true, Ordering::SeqCst);
    let before = probe.runs().len();
    wait_runs(&probe, before + 1).await;
    assert_eq!(
        m.status().check("db").unwrap().status,
        Some(Status::Down),
        "one pass is not enough"
    );
    wait_runs(&probe, before + 2).await;
    assert_eq!(m.status().check("db").unwrap().status, Some(Status::Up));
    let changes: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| e.kind() == EventKind::CheckStatusChanged)
        .collect();
    assert_eq!(changes.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_overrunning_run_is_skipped_not_stacked() {
    let m = Monitor::new();
    // Each run: an attempt of 20s that fails, a retry 50s later that passes: 90s > 60s.
    let probe = Probe::new(true).taking(Duration::from_secs(20));
    probe.flip.store(true, Ordering::SeqCst);
    m.register_callable(
        spec(json!({"name": "slow", "kind": "callable", "interval": "60s", "timeout": "30s", "retries": 1, "retry_interval": "50s"})),
        probe.function(),
    )
    .unwrap();
    let mut skipped = m.subscribe(Filter::default().kinds([EventKind::RunSkipped]));
    m.start();
    sleep(10 * 60).await;
    assert_eq!(
        probe.max_in_flight.load(Ordering::SeqCst),
        1,
        "never two runs of one check at once"
    );
    let status = m.status();
    let c = status.check("slow").unwrap();
    assert_eq!(
        c.status,
        Some(Status::Up),
        "failures within the retries never settle down"
    );
    assert!(c.skipped >= 4, "skipped {}", c.skipped);
    assert_eq!(drain(&mut skipped).len() as u64, c.skipped);
}

#[tokio::test(start_paused = true)]
async fn pause_resume_and_delete_while_running() {
    let m = Monitor::new();
    let probe = Probe::new(true).taking(Duration::from_secs(10));
    m.register_callable(
        spec(json!({"name": "job", "kind": "callable", "interval": "60s", "timeout": "20s"})),
        probe.function(),
    )
    .unwrap();
    m.start();
    while probe.in_flight.load(Ordering::SeqCst) == 0 {
        sleep(1).await;
    }
    m.pause("job").unwrap();
    sleep(15).await;
    assert_eq!(
        m.status().check("job").unwrap().runs,
        1,
        "the run in flight finishes and counts"
    );
    let runs = probe.runs().len();
    sleep(300).await;
    assert_eq!(probe.runs().len(), runs, "nothing runs while paused");
    assert!(m.status().check("job").unwrap().paused);
    m.resume("job").unwrap();
    sleep(61).await;
    assert!(probe.runs().len() > runs, "runs again after resume");

    while probe.in_flight.load(Ordering::SeqCst) == 0 {
        sleep(1).await;
    }
    // Events about the check (host_sampled events go on every 15 s).
    let mut events = m.subscribe(Filter::default().checks(["job"]));
    m.delete("job").unwrap();
    sleep(30).await;
    assert_eq!(
        probe.cancelled.load(Ordering::SeqCst),
        1,
        "the run in flight is cancelled"
    );
    let kinds: Vec<EventKind> = drain(&mut events).iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, [EventKind::CheckDeleted], "no result after the delete");
    assert!(m.status().check("job").is_none());
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_a_run_in_flight() {
    let m = Monitor::new();
    let quick = Probe::new(true).taking(Duration::from_secs(20));
    m.register_callable(
        spec(json!({"name": "quick", "kind": "callable", "interval": "10m", "timeout": "1m"})),
        quick.function(),
    )
    .unwrap();
    m.start();
    while quick.in_flight.load(Ordering::SeqCst) == 0 {
        sleep(1).await;
    }
    let t = Instant::now();
    m.shutdown_within(Duration::from_secs(60)).await;
    assert!(
        t.elapsed() <= Duration::from_secs(20),
        "returned when the run finished, after {:?}",
        t.elapsed()
    );
    assert_eq!(quick.cancelled.load(Ordering::SeqCst), 0);
    assert_eq!(m.status().check("quick").unwrap().runs, 1, "its result was kept");
    let runs = quick.runs().len();
    sleep(3600).await;
    assert_eq!(quick.runs().len(), runs, "nothing is scheduled after shutdown");
    let err = m.register(spec(json!({"name": "late", "kind": "push"}))).unwrap_err();
    assert!(matches!(err, MonitorError::ShutDown));
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_what_outlives_the_grace_period() {
    let m = Monitor::new();
    let stuck = Probe::new(true).taking(Duration::from_secs(8 * 60));
    m.register_callable(
        spec(json!({"name": "stuck", "kind": "callable", "interval": "10m", "timeout": "9m"})),
        stuck.function(),
    )
    .unwrap();
    m.start();
    while stuck.in_flight.load(Ordering::SeqCst) == 0 {
        sleep(1).await;
    }
    let t = Instant::now();
    m.shutdown_within(Duration::from_secs(5)).await;
    assert_eq!(
        t.elapsed(),
        Duration::from_secs(5),
        "waited the grace period, then cancelled"
    );
    assert_eq!(stuck.cancelled.load(Ordering::SeqCst), 1, "the run was cancelled");
}

// ---------------------------------------------------------------- the bus

#[tokio::test(start_paused = true)]
async fn a_stalled_subscriber_does_not_delay_checks_and_learns_what_it_missed() {
    let m = Monitor::builder().event_buffer(16).build();
    let probe = Probe::new(true);
    m.register_callable(
        spec(json!({"name": "fast", "kind": "callable", "interval": "1s"})),
        probe.function(),
    )
    .unwrap();
    let mut stalled = m.subscribe(Filter::default());
    // A callback that never returns, on its own thread.
    let (_block_tx, block_rx) = std::sync::mpsc::channel::<()>();
    let block_rx = Mutex::new(block_rx);
    let _stuck = m.on(Filter::default(), move |_| {
        let _ = block_rx.lock().unwrap().recv();
    });
    m.start();
    sleep(201).await;
    assert!(probe.runs().len() >= 200, "{} runs", probe.runs().len());
    match stalled.try_recv() {
        Some(Delivery::Lagged { missed }) => assert!(missed > 100, "missed {missed}"),
        other => panic!("expected a lag report, got {other:?}"),
    }
    // After the report it continues with the events still buffered.
    assert!(matches!(stalled.try_recv(), Some(Delivery::Event(_))));
}

#[tokio::test(start_paused = true)]
async fn filters_pick_events_by_kind_check_service_and_tag() {
    let m = Monitor::new();
    let a = Probe::new(true);
    let b = Probe::new(false);
    m.register_callable(
        spec(json!({"name": "a", "service": "web", "tags": ["prod"], "kind": "callable", "interval": "10s"})),
        a.function(),
    )
    .unwrap();
    m.register_callable(
        spec(json!({"name": "b", "service": "jobs", "tags": ["batch"], "kind": "callable", "interval": "10s"})),
        b.function(),
    )
    .unwrap();
    let mut failed = m.subscribe(Filter::default().kinds([EventKind::CheckFailed]));
    let mut only_a = m.subscribe(Filter::default().checks(["a"]));
    let mut jobs = m.subscribe(Filter::default().services(["jobs"]));
    let mut prod = m.subscribe(Filter::default().tags(["prod"]));
    m.start();
    sleep(11).await;
    assert!(drain(&mut failed)
        .iter()
        .all(|e| e.kind() == EventKind::CheckFailed && e.check() == Some("b")));
    let a_events = drain(&mut only_a);
    assert!(!a_events.is_empty() && a_events.iter().all(|e| e.check() == Some("a")));
    let job_events = drain(&mut jobs);
    assert!(job_events.iter().any(|e| e.kind() == EventKind::ServiceStatusChanged));
    assert!(job_events.iter().all(|e| e.service() == Some("jobs")));
    let prod_events = drain(&mut prod);
    assert!(!prod_events.is_empty() && prod_events.iter().all(|e| e.tags().contains(&"prod".to_string())));
}

#[tokio::test(start_paused = true)]
async fn events_serialize_to_one_json_shape() {
    let m = Monitor::new();
    let p = Probe::new(false);
    m.register_callable(
        spec(json!({"name": "api", "service": "backend", "kind": "callable", "interval": "10s"})),
        p.function(),
    )
    .unwrap();
    let mut sub = m.subscribe(Filter::default());
    m.start();
    sleep(11).await;
    let json: Vec<serde_json::Value> = drain(&mut sub).iter().map(|e| e.to_json()).collect();
    let failed = json.iter().find(|j| j["event"] == "check_failed").unwrap();
    assert_eq!(failed["check"], "api");
    assert_eq!(failed["status"], "down");
    assert_eq!(failed["error"]["kind"], "callable");
    assert_eq!(failed["attempt"], 1);
    assert!(failed["lateness_ms"].is_number());
    let changed = json.iter().find(|j| j["event"] == "check_status_changed").unwrap();
    assert_eq!(
        (changed["previous"].clone(), changed["status"].clone()),
        (json!(null), json!("down"))
    );
    let svc = json.iter().find(|j| j["event"] == "service_status_changed").unwrap();
    assert_eq!(svc["cause"], json!({"check": "api", "status": "down"}));
    for j in &json {
        let back: Event = serde_json::from_value(j.clone()).unwrap();
        assert_eq!(&back.to_json(), j, "events round-trip through JSON");
    }
}

// ---------------------------------------------------------------- services

#[tokio::test]
async fn services_follow_every_transition_with_its_cause() {
    let m = Monitor::new();
    let api = Probe::new(true);
    let db = Probe::new(true);
    let spec_of = |name: &str| spec(json!({"name": name, "service": "backend", "kind": "callable", "interval": "60s"}));
    m.register_callable(spec_of("api"), api.function()).unwrap();
    m.register_callable(spec_of("db"), db.function()).unwrap();
    let mut sub = m.subscribe(Filter::default().kinds([EventKind::ServiceStatusChanged]));
    let step = |api_ok: bool, db_ok: bool| {
        api.healthy.store(api_ok, Ordering::SeqCst);
        db.healthy.store(db_ok, Ordering::SeqCst);
    };
    let transitions = |sub: &mut Subscription| -> Vec<(Option<Status>, Option<Status>, String)> {
        drain(sub)
            .iter()
            .map(|e| match &**e {
                Event::ServiceStatusChanged {
                    previous,
                    status,
                    cause,
                    ..
                } => (*previous, *status, cause.check.clone()),
                _ => unreachable!(),
            })
            .collect()
    };
    m.execute_checks(None).await.unwrap();
    assert_eq!(transitions(&mut sub), [(None, Some(Status::Up), "api".to_string())]);
    step(true, false);
    m.execute_checks(None).await.unwrap();
    assert_eq!(
        transitions(&mut sub),
        [(Some(Status::Up), Some(Status::Degraded), "db".to_string())]
    );
    m.execute_checks(None).await.unwrap();
    assert!(transitions(&mut sub).is_empty(), "no event without a transition");
    step(false, false);
    m.execute_checks(None).await.unwrap();
    assert_eq!(
        transitions(&mut sub),
        [(Some(Status::Degraded), Some(Status::Down), "api".to_string())]
    );
    step(true, true);
    m.execute_checks(None).await.unwrap();
    assert_eq!(
        transitions(&mut sub),
        [
            (Some(Status::Down), Some(Status::Degraded), "api".to_string()),
            (Some(Status::Degraded), Some(Status::Up), "db".to_string())
        ]
    );
    // Only db is critical: db down alone makes the service down.
    m.declare_service(monitor_core::spec::ServiceSpec {
        name: "backend".into(),
        description: None,
        critical: Some(vec!["db".into()]),
    });
    step(true, false);
    m.execute_checks(None).await.unwrap();
    assert_eq!(
        transitions(&mut sub),
        [(Some(Status::Up), Some(Status::Down), "db".to_string())]
    );
    m.delete("db").unwrap();
    assert_eq!(
        transitions(&mut sub),
        [(Some(Status::Down), Some(Status::Up), "db".to_string())]
    );
    let status = m.status();
    assert_eq!(status.service("backend").unwrap().checks, ["api"]);
}

// ---------------------------------------------------------------- commands and status

#[tokio::test]
async fn commands_in_json_and_their_errors() {
    let m = Monitor::new();
    let cmd = |v: serde_json::Value| serde_json::from_value::<Command>(v).unwrap();
    m.execute(cmd(
        json!({"command": "register_check", "spec": {"name": "backup", "kind": "push", "interval": "1h"}}),
    ))
    .await
    .unwrap();
    let reply = m
        .execute(cmd(
            json!({"command": "push", "check": "backup", "message": "ok: 3 GiB"}),
        ))
        .await
        .unwrap();
    let monitor_core::bus::Reply::Results { results } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(results[0].status, Status::Up);
    assert_eq!(results[0].observed.message.as_deref(), Some("ok: 3 GiB"));
    let r = m.push("backup", false, Some("disk full".into())).await.unwrap();
    assert_eq!(r.error.unwrap().kind, monitor_core::ErrorKind::PushFailed);
    assert_eq!(m.status().check("backup").unwrap().status, Some(Status::Down));

    let err = m
        .execute(cmd(
            json!({"command": "register_check", "spec": {"name": "x", "kind": "http", "url": "nope"}}),
        ))
        .await;
    assert!(matches!(err, Err(MonitorError::Spec(_))));
    assert_eq!(
        err.unwrap_err().to_string(),
        "url: \"nope\" is not a URL: relative URL without a base"
    );
    let err = m.register(spec(json!({"name": "backup", "kind": "push"}))).unwrap_err();
    assert_eq!(err.to_string(), "a check named \"backup\" is already registered");
    let err = m
        .execute(cmd(json!({"command": "delete_check", "check": "ghost"})))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no check named \"ghost\"");
    m.register(spec(
        json!({"name": "web", "kind": "tcp", "host": "127.0.0.1", "port": 1}),
    ))
    .unwrap();
    let err = m.push("web", true, None).await.unwrap_err();
    assert_eq!(err.to_string(), "\"web\" is a tcp check; only push checks take pushes");
    let err = m.register(spec(json!({"name": "fn", "kind": "callable"}))).unwrap_err();
    assert!(matches!(err, MonitorError::MissingCallable { .. }));
    // All or nothing: one duplicate refuses the whole batch.
    let err = m.register_many(vec![
        spec(json!({"name": "new", "kind": "push"})),
        spec(json!({"name": "web", "kind": "push"})),
    ]);
    assert!(err.is_err());
    assert!(m.status().check("new").is_none());

    m.execute(cmd(
        json!({"command": "update_check", "spec": {"name": "backup", "kind": "push", "interval": "2h"}}),
    ))
    .await
    .unwrap();
    let status = m.status();
    let backup = status.check("backup").unwrap();
    assert_eq!(backup.status, Some(Status::Down), "an update keeps the status");
    assert_eq!(backup.runs, 2);
    m.execute(cmd(json!({"command": "pause_check", "check": "backup"})))
        .await
        .unwrap();
    assert!(m.status().check("backup").unwrap().paused);
    m.execute(cmd(json!({"command": "resume_check", "check": "backup"})))
        .await
        .unwrap();
    let snapshot = serde_json::to_value(m.status()).unwrap();
    assert_eq!(snapshot["checks"][0]["check"], "backup");
    assert_eq!(snapshot["checks"][0]["last_result"]["status"], "down");
}

#[tokio::test]
async fn prometheus_output_parses_and_carries_the_state() {
    let tb = upwatch_testbed::Testbed::start().await.unwrap();
    let m = Monitor::new();
    m.register(spec(
        json!({"name": "web main", "service": "site", "kind": "http", "url": tb.tls.valid.url("/health"),
        "ca_file": tb.certs.ca_file}),
    ))
    .unwrap();
    m.register(spec(
        json!({"name": "broken", "service": "site", "kind": "http", "url": tb.http.url("/error")}),
    ))
    .unwrap();
    m.register(spec(json!({"name": "waiting", "kind": "push"}))).unwrap();
    m.execute_checks(Some(&["web main".to_string(), "broken".to_string()]))
        .await
        .unwrap();
    let text = m.prometheus();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let value = |metric: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    assert_eq!(
        value(
            "upwatch_check_up",
            &[("check", "web main"), ("service", "site"), ("kind", "http")]
        ),
        Some(1.0)
    );
    assert_eq!(value("upwatch_check_up", &[("check", "broken")]), Some(0.0));
    assert_eq!(
        value("upwatch_check_up", &[("check", "waiting")]),
        None,
        "a pending check has no up/down yet"
    );
    assert_eq!(
        value("upwatch_check_status", &[("check", "broken"), ("status", "down")]),
        Some(1.0)
    );
    assert_eq!(
        value("upwatch_check_status", &[("check", "broken"), ("status", "up")]),
        Some(0.0)
    );
    assert!(
        value(
            "upwatch_check_duration_seconds",
            &[("check", "broken"), ("phase", "connect")]
        )
        .unwrap()
            > 0.0
    );
    assert!(
        value(
            "upwatch_check_duration_seconds",
            &[("check", "broken"), ("phase", "total")]
        )
        .unwrap()
            > 0.0
    );
    let expiry = scrape
        .samples
        .iter()
        .find(|s| s.metric == "upwatch_certificate_expiry_seconds")
        .expect("a certificate metric");
    let prometheus_parse::Value::Gauge(secs) = expiry.value else {
        panic!()
    };
    assert!((89.0 * 86400.0..=91.0 * 86400.0).contains(&secs), "{secs}");
    assert_eq!(value("upwatch_check_runs_total", &[("check", "broken")]), Some(1.0));
    assert_eq!(value("upwatch_check_failures_total", &[("check", "broken")]), Some(1.0));
    assert_eq!(
        value("upwatch_service_status", &[("service", "site"), ("status", "degraded")]),
        Some(1.0)
    );
    assert_eq!(value("upwatch_service_up", &[("service", "site")]), Some(1.0));
    assert_eq!(
        scrape.docs.get("upwatch_check_up").map(String::as_str),
        Some("1 when the check's settled status is up or degraded, 0 when down.")
    );
    // Every sample line is well-formed exposition text: name{labels} value.
    let line = regex_lite_check();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line(l), "malformed line: {l}");
    }
}

/// A strict check of one sample line of the text format (beyond the lenient parser above).
fn regex_lite_check() -> impl Fn(&str) -> bool {
    |l: &str| {
        let Some((series, value)) = l.rsplit_once(' ') else {
            return false;
        };
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let labels_ok =
            name_end == series.len() || (series.ends_with('}') && series[name_end..].matches("=\"").count() >= 1);
        name_ok && labels_ok && value.parse::<f64>().is_ok()
    }
}
