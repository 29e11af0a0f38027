//! History: the SQLite store through the monitor (a real file), restore after restart,
//! schema versions, retention, pagination and the writer's bounded queue.

use monitor_core::checks::callable::callable;
use monitor_core::store::writer::{Writer, WriterConfig};
use monitor_core::store::{Batch, HistoryQuery, MemoryStore, Retention, SqliteStore, Store, StoreError};
use monitor_core::{CheckResult, CheckSpec, Monitor, Status};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn spec(v: serde_json::Value) -> CheckSpec {
    CheckSpec::from_value(v).unwrap()
}

fn flag_check(m: &Monitor, name: &str, service: &str, tags: &[&str], healthy: Arc<AtomicBool>) {
    let f = callable(move || {
        let h = healthy.clone();
        async move {
            if h.load(Ordering::SeqCst) {
                Ok(None)
            } else {
                Err("it broke".to_string())
            }
        }
    });
    m.register_callable(
        spec(json!({"name": name, "service": service, "tags": tags, "kind": "callable"})),
        f,
    )
    .unwrap();
}

#[tokio::test]
async fn results_changes_and_uptime_come_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upwatch.db");
    let m = Monitor::builder().sqlite(&path).unwrap().build();
    let api = Arc::new(AtomicBool::new(true));
    let db = Arc::new(AtomicBool::new(true));
    flag_check(&m, "api", "backend", &["prod"], api.clone());
    flag_check(&m, "db", "backend", &["prod", "storage"], db.clone());
    for round in 0..30 {
        db.store(round % 10 != 9, Ordering::SeqCst);
        m.execute_checks(None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    m.shutdown().await;
    assert_eq!(m.history_stats().written, 60);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let mode: String = rusqlite_journal_mode(&path);
    assert_eq!(mode, "wal");

    // Pages of 25 walk all 60 results newest first, without repeats.
    let mut seen = Vec::new();
    let mut q = HistoryQuery::default().limit(25);
    loop {
        let page = store.history(&q).unwrap();
        seen.extend(page.items.iter().map(|r| (r.at, r.check.clone())));
        match page.next_cursor {
            Some(c) => q = q.after(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);
    assert!(
        seen.windows(2).all(|w| (w[0].0, &w[0].1) > (w[1].0, &w[1].1)),
        "strictly newest first"
    );

    let failed = store.history(&HistoryQuery::default().status(Status::Down)).unwrap();
    assert_eq!(failed.items.len(), 3);
    assert!(failed
        .items
        .iter()
        .all(|r| r.check == "db" && r.error.as_ref().unwrap().message == "it broke"));
    assert_eq!(
        store
            .history(&HistoryQuery::default().tag("storage"))
            .unwrap()
            .items
            .len(),
        30
    );
    assert_eq!(
        store
            .history(&HistoryQuery::default().service("nope"))
            .unwrap()
            .items
            .len(),
        0
    );

    let latest = store.latest(&HistoryQuery::default().service("backend")).unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest.iter().find(|r| r.check == "db").unwrap().status, Status::Down);

    let changes = store.status_changes(&HistoryQuery::default().check("db")).unwrap();
    // db: up, then down/up three times: 1 + 3 + 2 = 6 settled changes, newest first.
    assert_eq!(changes.items.len(), 6, "{:?}", changes.items);
    assert_eq!(changes.items[0].status, Status::Down);
    assert_eq!(changes.items[0].error.as_ref().unwrap().message, "it broke");

    let up = store
        .uptime(
            &HistoryQuery::default(),
            Duration::from_secs(86_400 * 30),
            chrono::Utc::now(),
        )
        .unwrap();
    let db_up = up.iter().find(|u| u.check == "db").unwrap();
    assert_eq!((db_up.count, db_up.failures), (30, 3));
    assert!((db_up.uptime_pct.unwrap() - 90.0).abs() < 1e-9);
    assert!(db_up.p95_ms.unwrap() >= db_up.p50_ms.unwrap());
    assert_eq!(up.iter().find(|u| u.check == "api").unwrap().uptime_pct, Some(100.0));

    // The monitor answers the same queries.
    let m2 = Monitor::builder().sqlite(&path).unwrap().build();
    let page = m2.history(HistoryQuery::default().check("api").limit(5)).await.unwrap();
    assert_eq!(page.items.len(), 5);
    let err = m2.history(HistoryQuery::default().limit(0)).await.unwrap_err();
    assert_eq!(err.to_string(), "limit: 0 is not within 1..=1000");
    let err = m2.history(HistoryQuery::default().after("garbage")).await.unwrap_err();
    assert!(err.to_string().starts_with("cursor:"), "{err}");
}

fn rusqlite_journal_mode(path: &std::path::Path) -> String {
    // Read the header: WAL files have read/write version bytes 18 and 19 set to 2.
    let bytes = std::fs::read(path).unwrap();
    if bytes[18] == 2 && bytes[19] == 2 {
        "wal".into()
    } else {
        "rollback".into()
    }
}

#[tokio::test]
async fn a_restart_restores_statuses_so_no_recovery_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let healthy = Arc::new(AtomicBool::new(false));
    {
        let m = Monitor::builder().sqlite(&path).unwrap().build();
        flag_check(&m, "api", "web", &[], healthy.clone());
        m.execute_checks(None).await.unwrap();
        assert_eq!(m.status().check("api").unwrap().status, Some(Status::Down));
        m.shutdown().await;
    }
    // The target recovered while the process was down.
    healthy.store(true, Ordering::SeqCst);
    let m = Monitor::builder().sqlite(&path).unwrap().build();
    flag_check(&m, "api", "web", &[], healthy.clone());
    assert_eq!(
        m.status().check("api").unwrap().status,
        Some(Status::Down),
        "restored from history"
    );
    let mut events = m.subscribe(monitor_core::Filter::default().kinds([monitor_core::EventKind::CheckStatusChanged]));
    m.execute_checks(None).await.unwrap();
    match events.try_recv() {
        Some(monitor_core::bus::Delivery::Event(e)) => match &*e {
            monitor_core::Event::CheckStatusChanged { previous, status, .. } => {
                assert_eq!((*previous, *status), (Some(Status::Down), Status::Up));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("expected the recovery, got {other:?}"),
    }
    m.shutdown().await;
    let store = SqliteStore::open(&path).unwrap();
    let changes = store.status_changes(&HistoryQuery::default()).unwrap();
    assert_eq!(
        changes.items.iter().map(|c| c.status).collect::<Vec<_>>(),
        [Status::Up, Status::Down]
    );
}

#[test]
fn a_file_from_a_newer_upwatch_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let c = rusqlite_open(&path);
        c.pragma_update(None, "user_version", 99).unwrap();
        c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                supported: 7,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("the file was not changed"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("future.db-wal").exists());
}

fn rusqlite_open(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn old_result(check: &str, days_ago: i64, status: Status) -> Arc<CheckResult> {
    let mut r: CheckResult = serde_json::from_value(json!({
        "check": check, "kind": "push", "status": status, "at": "2026-01-01T00:00:00Z", "duration_ms": 12.5
    }))
    .unwrap();
    r.at =
        chrono::Utc::now() - chrono::Duration::days(days_ago) - chrono::Duration::seconds(rand_secs(check, days_ago));
    Arc::new(r)
}

fn rand_secs(check: &str, n: i64) -> i64 {
    (check.len() as i64 * 7919 + n * 104_729) % 80_000
}

#[test]
fn retention_removes_old_rows_in_small_steps() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("r.db")).unwrap();
    let mut batch = Batch::default();
    for d in 0..20 {
        batch.results.push(old_result("a", d, Status::Up));
        batch.results.push(old_result("b", d, Status::Down));
    }
    store.write(&batch).unwrap();
    let policy = Retention {
        raw: Duration::from_secs(7 * 86_400),
        ..Retention::default()
    };
    let mut steps = 0;
    while store.enforce_retention(&policy, chrono::Utc::now(), 5).unwrap() == 5 {
        steps += 1;
    }
    assert!(steps >= 4, "{steps} steps");
    let left = store.history(&HistoryQuery::default().limit(100)).unwrap().items;
    assert_eq!(left.len(), 2 * 7, "days 0..=6 stay: {}", left.len());
    assert!(left
        .iter()
        .all(|r| r.at > chrono::Utc::now() - chrono::Duration::days(8)));
    // Rollups outlive raw results.
    let up = store
        .uptime(
            &HistoryQuery::default().check("b"),
            Duration::from_secs(30 * 86_400),
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(up[0].count, 20);
}

#[test]
fn a_full_queue_drops_the_oldest_results_but_never_status_changes() {
    let store = Arc::new(MemoryStore::new(1000));
    let writer = Writer::start(
        store.clone(),
        WriterConfig {
            batch_size: 1_000_000,
            flush_interval: Duration::from_secs(3600),
            queue_capacity: 10,
            ..WriterConfig::default()
        },
        Box::new(|_| {}),
    );
    for i in 0..100 {
        writer.result(old_result(&format!("c{}", i % 3), 0, Status::Up));
    }
    for i in 0..50 {
        writer.change(monitor_core::store::StatusChange {
            check: "c0".into(),
            service: None,
            at: chrono::Utc::now(),
            previous: None,
            status: if i % 2 == 0 { Status::Down } else { Status::Up },
            error: None,
        });
    }
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.written, stats.dropped), (10, 90));
    let changes = store.status_changes(&HistoryQuery::default().limit(1000)).unwrap();
    assert_eq!(changes.items.len(), 50);
}

#[tokio::test]
async fn a_full_disk_is_reported_while_checks_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("full.db")).unwrap());
    let m = Monitor::builder()
        .store(store.clone())
        .writer(WriterConfig {
            batch_size: 50,
            flush_interval: Duration::from_millis(20),
            ..WriterConfig::default()
        })
        .build();
    let mut failures = m.subscribe(monitor_core::Filter::default().kinds([monitor_core::EventKind::HistoryFailed]));
    for i in 0..50 {
        m.register(spec(
            json!({"name": format!("beat-{i}"), "kind": "push", "interval": "1h"}),
        ))
        .unwrap();
    }
    m.execute_checks(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let size = store.used_bytes().unwrap();
    store.limit_size(size).unwrap();
    for _ in 0..20 {
        m.execute_checks(None).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let history = m.status().history;
    assert!(history.failed_batches > 0, "{history:?}");
    // (`last_error` clears again when a later, smaller batch fits; the event stays.)
    match failures.try_recv() {
        Some(monitor_core::bus::Delivery::Event(e)) => {
            assert!(e.to_json()["message"].as_str().unwrap().contains("full"))
        }
        other => panic!("expected a history_failed event, got {other:?}"),
    }
    // Checks went on: every check has 21 runs in memory.
    assert!(m.status().checks.iter().all(|c| c.runs == 21));
    m.shutdown().await;
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[tokio::test]
async fn host_samples_are_kept_and_read_back_as_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.db");
    let m = Monitor::builder()
        .sqlite(&path)
        .unwrap()
        .host_interval(Duration::from_millis(200))
        .writer(WriterConfig {
            flush_interval: Duration::from_millis(50),
            ..WriterConfig::default()
        })
        .build();
    m.start();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let series = m
        .host_series(
            monitor_core::store::HostMetric::MemoryUsedPct,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    let samples: u64 = series.iter().map(|p| p.samples).sum();
    assert!(samples >= 5, "{series:?}");
    assert!(
        series
            .iter()
            .all(|p| p.avg > 0.0 && p.avg <= 100.0 && p.max + 1e-9 >= p.avg),
        "{series:?}"
    );
    assert!(series.len() >= 2, "one point per second: {series:?}");
    m.shutdown().await;
    // The same series from the file, at a coarser resolution.
    let store = SqliteStore::open(&path).unwrap();
    let now = chrono::Utc::now();
    let coarse = store
        .host_series(
            monitor_core::store::HostMetric::CpuPct,
            now - chrono::Duration::seconds(60),
            now,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(coarse.len(), 1);
    assert!(coarse[0].samples >= samples);
}
