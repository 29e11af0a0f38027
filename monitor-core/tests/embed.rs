//! The embedded engine the bindings share: config errors with paths, calls from threads
//! without tokio against real loopback servers, listeners, event streams, fork.

use monitor_core::embed::{EmbedConfig, Embedded, ErrorCode};
use monitor_core::{EventKind, Status};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use upwatch_testbed::HttpTarget;

/// A loopback HTTP server on a runtime of its own (the engine brings its own runtime).
fn http_target() -> (tokio::runtime::Runtime, HttpTarget) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(HttpTarget::start()).unwrap();
    (rt, target)
}

#[test]
fn config_problems_name_their_fields() {
    let err = Embedded::from_value(json!({
        "lease": "soon",
        "retention": { "raw": 7 },
        "host_intervl": "5s",
        "checks": [{ "name": "api", "kind": "http" }],
    }))
    .err()
    .unwrap();
    assert_eq!(err.code(), ErrorCode::Spec);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"lease"), "{paths:?}");
    assert!(paths.contains(&"retention.raw"), "{paths:?}");
    assert!(paths.contains(&"host_intervl"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("checks[0]")), "{paths:?}");
    let unknown = err.problems().iter().find(|p| p.path == "host_intervl").unwrap();
    assert!(unknown.message.contains("host_interval"), "{}", unknown.message);

    let syntax = Embedded::from_json("{not json").err().unwrap();
    assert_eq!(syntax.code(), ErrorCode::Spec);
}

#[test]
fn a_config_file_takes_settings_from_its_monitor_table_and_a_relative_db_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upwatch.toml");
    std::fs::write(
        &path,
        "[monitor]\ndb = \"history.db\"\nlease = \"3s\"\n\n[[checks]]\nname = \"beat\"\nkind = \"push\"\ninterval = \"1m\"\n",
    )
    .unwrap();
    let config = EmbedConfig::from_file(&path).unwrap();
    assert_eq!(config.db.as_deref(), Some(dir.path().join("history.db").as_path()));
    assert_eq!(config.lease, Duration::from_secs(3));
    assert_eq!(config.spec.checks[0].name, "beat");
    let m = Embedded::new(config).unwrap();
    m.wait(m.push("beat", true, None)).unwrap();
    m.close();
    assert!(dir.path().join("history.db").exists());
    assert_eq!(m.status().unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn every_call_works_from_a_thread_without_a_runtime() {
    let (_rt, target) = http_target();
    let dir = tempfile::tempdir().unwrap();
    let m = Embedded::from_value(json!({ "db": dir.path().join("h.db"), "host_interval": "off" })).unwrap();
    m.wait(m.register(
        json!({ "name": "health", "kind": "http", "url": target.url("/health"), "interval": "1h" }),
        None,
    ))
    .unwrap();
    m.wait(m.register_many(vec![
        json!({ "name": "broken", "kind": "http", "url": target.url("/status/500"), "interval": "1h" }),
        json!({ "name": "payments", "kind": "push", "interval": "1h" }),
    ]))
    .unwrap();

    let results = m.wait(m.run_now(Some(vec!["health".into(), "broken".into()]))).unwrap();
    let by = |n: &str| results.iter().find(|r| r.check == n).unwrap().status;
    assert_eq!(by("health"), Status::Up);
    assert_eq!(by("broken"), Status::Down);

    let recorded = m
        .wait(m.record("payments", false, 812.0, Some("HTTP 502".into())))
        .unwrap();
    assert_eq!(recorded.status, Status::Down);
    assert_eq!(recorded.duration_ms, 812.0);
    let bad = m.wait(m.record("payments", true, -1.0, None)).unwrap_err();
    assert_eq!(
        (bad.code(), bad.path()),
        (ErrorCode::InvalidArgument, Some("duration_ms"))
    );
    let not_push = m.wait(m.push("health", true, None)).unwrap_err();
    assert_eq!(not_push.code(), ErrorCode::NotAPushCheck);
    let unknown = m.wait(m.pause("nope")).unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::UnknownCheck);

    let status = m.status().unwrap();
    assert_eq!(status.check("broken").unwrap().status, Some(Status::Down));
    // Host sampling is off: nothing recent until a sample is taken, then it is served from memory.
    assert!(m.host_recent(Duration::from_secs(60)).unwrap().is_none());
    let sampled = m.wait(m.host_now()).unwrap();
    assert_eq!(
        m.host_recent(Duration::from_secs(60)).unwrap().map(|h| h.at),
        Some(sampled.at)
    );
    m.close_within(Duration::from_secs(2));

    // Everything was written before close returned: a new engine on the file reads it back.
    let again = Embedded::from_value(json!({ "db": dir.path().join("h.db"), "host_interval": "off" })).unwrap();
    let page = again
        .wait(again.history(&json!({ "check": "broken", "since": "1h" })))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].status, Status::Down);
    let downs = again
        .wait(again.history(&json!({ "status": "down", "limit": 10 })))
        .unwrap();
    assert_eq!(downs.items.len(), 2, "broken and payments");
    let uptime = again.wait(again.uptime(&json!({ "check": "health" }), "24h")).unwrap();
    assert_eq!(uptime[0].uptime_pct, Some(100.0));
    let bad = again.wait(again.history(&json!({ "limit": 5000 }))).unwrap_err();
    assert_eq!(bad.path(), Some("limit"));
    let bad = again.wait(again.history(&json!({ "since": "yesterday" }))).unwrap_err();
    assert_eq!(bad.path(), Some("since"));
    let bad = again.wait(again.uptime(&json!({}), "forever")).unwrap_err();
    assert_eq!(bad.path(), Some("window"));
    again.close();
}

#[test]
fn register_many_registers_nothing_when_one_spec_is_wrong() {
    let m = Embedded::from_value(json!({ "host_interval": "off" })).unwrap();
    let err = m
        .wait(m.register_many(vec![
            json!({ "name": "a", "kind": "push", "interval": "1m" }),
            json!({ "name": "b", "kind": "http", "url": "not a url" }),
        ]))
        .unwrap_err();
    assert_eq!(err.path(), Some("[1].url"));
    assert!(m.status().unwrap().checks.is_empty());
    m.close();
}

#[test]
fn listeners_run_on_the_dispatch_thread_until_removed() {
    let m = Embedded::from_value(json!({
        "host_interval": "off",
        "checks": [{ "name": "beat", "kind": "push", "interval": "1h" }],
    }))
    .unwrap();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let id = m
        .on(
            &[EventKind::CheckFailed],
            Arc::new(move |e| {
                let thread = std::thread::current().name().unwrap_or("").to_string();
                log.lock().unwrap().push((e.check().unwrap_or("").to_string(), thread));
            }),
        )
        .unwrap();
    // A panicking listener loses its event, not the others.
    m.on(&[], Arc::new(|_| panic!("listener bug"))).unwrap();
    m.wait(m.push("beat", false, None)).unwrap();
    m.wait(m.push("beat", true, None)).unwrap();
    wait_until(|| !seen.lock().unwrap().is_empty());
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![("beat".to_string(), "upwatch-dispatch".to_string())]
    );
    assert!(m.off(id));
    assert!(!m.off(id));
    m.wait(m.push("beat", false, None)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 1);
    m.close();
}

#[test]
fn an_event_stream_waits_with_a_timeout_and_ends_when_closed() {
    let m = Embedded::from_value(json!({
        "host_interval": "off",
        "checks": [{ "name": "beat", "kind": "push", "interval": "1h" }],
    }))
    .unwrap();
    let events = m.events(&[EventKind::CheckSucceeded]).unwrap();
    assert!(events.next_blocking(Some(Duration::from_millis(50))).unwrap().is_none());
    m.wait(m.push("beat", true, None)).unwrap();
    let e = events.next_blocking(Some(Duration::from_secs(5))).unwrap().unwrap();
    assert_eq!(e.kind(), EventKind::CheckSucceeded);
    m.close();
    assert_eq!(events.next_blocking(None).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn a_forked_child_rebuilds_the_engine_and_keeps_its_checks() {
    let m = Embedded::from_value(json!({
        "host_interval": "off",
        "checks": [{ "name": "beat", "kind": "push", "interval": "1h" }],
    }))
    .unwrap();
    m.start().unwrap();
    m.wait(m.push("beat", true, None)).unwrap();
    // SAFETY: the child only uses the engine (which rebuilds its runtime) and exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r = m.wait(m.push("beat", false, Some("from the child".into()))).unwrap();
            let status = m.status().unwrap();
            r.status == Status::Down && status.check("beat").is_some() && m.is_started()
        }));
        unsafe { libc::_exit(if matches!(outcome, Ok(true)) { 0 } else { 1 }) };
    }
    let code = wait_child(pid, Duration::from_secs(20));
    assert_eq!(code, Some(0), "the child failed or hung");
    // The parent's engine is untouched by the child's use.
    assert_eq!(m.status().unwrap().check("beat").unwrap().status, Some(Status::Up));
    m.close();
}

fn wait_child(pid: libc::pid_t, limit: Duration) -> Option<i32> {
    let until = std::time::Instant::now() + limit;
    loop {
        let mut status = 0;
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if std::time::Instant::now() > until {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until(mut f: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(std::time::Instant::now() < until, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_burst_of_records_in_the_same_millisecond_keeps_every_result_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "db": dir.path().join("h.db"), "host_interval": "off",
        "checks": [{"name": "payments", "kind": "push", "interval": "1h"}]
    });
    let m = Embedded::from_value(config.clone()).unwrap();
    for i in 0..400 {
        m.wait(m.record("payments", i % 7 != 0, i as f64, None)).unwrap();
    }
    m.close();
    let m = Embedded::from_value(config).unwrap();
    let page = m.wait(m.history(&json!({"check": "payments", "limit": 1000}))).unwrap();
    assert_eq!(page.items.len(), 400, "every result is kept");
    // Newest first: durations 399, 398, ... 0, each at its own millisecond.
    let durations: Vec<f64> = page.items.iter().map(|r| r.duration_ms).collect();
    assert_eq!(durations, (0..400).rev().map(|i| i as f64).collect::<Vec<_>>());
    assert!(page.items.windows(2).all(|w| w[0].at > w[1].at));
    m.close();
}
