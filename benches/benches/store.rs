//! History store figures (issue: history in SQLite). Printed as a table.
//!
//! 1. Sustained results written per second through `SqliteStore::write` (WAL,
//!    `synchronous=NORMAL`, batches of 50,000 as the writer makes under load, with
//!    rollups and `latest` maintained),
//!    side by side in the same run with a plain rusqlite loop inserting the same rows
//!    one transaction per row, and with the bulk ceiling (one transaction, one prepared
//!    statement, raw rows only). Only the writing is timed (and the dropping of the
//!    written results), not the making of the results; each rate is also given per
//!    second of CPU time of the writing thread, which a busy machine disturbs less.
//! 2. Bytes on disk per stored result (the whole file: results, rollups, latest, ids),
//!    with retention applied as a 30-day install keeps it (minute rollups for 2 days;
//!    checks every 60 s have none, their short windows are read from raw results).
//! 3. Query times on a file holding 1,000 checks x 30 days at 60 s (43.2 million
//!    results): uptime and p95 over 30 days for all checks (and over the last hour,
//!    whose edges come from raw results), latest of all checks, a page of 100 raw results.
//!
//! Run: `cargo bench -p upwatch-benches --bench store -- --bench` (about 10 minutes; the
//! 43 M file is built in a temp dir). Without `--bench` (as `cargo test` runs it)
//! everything runs at a small scale as a smoke test. `UPWATCH_BENCH_FILE=path` keeps the
//! 30-day file there and, when it exists, reuses it instead of filling it again (for
//! working on queries; its window then ends when it was filled, not now).
//! `UPWATCH_BENCH_ONLY=write` runs part 1 only, `UPWATCH_BENCH_ONLY=query` parts 2 and 3;
//! `UPWATCH_BENCH_ROUNDS=n` times each query n times (default 5) and shows the best.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use monitor_core::store::{Batch, HistoryQuery, SqliteStore, Store};
use monitor_core::{CheckResult, Status};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A deterministic generator of plausible results.
struct Gen {
    seed: u64,
    templates: Vec<Arc<CheckResult>>,
}

impl Gen {
    fn new(checks: usize) -> Gen {
        let templates = (0..checks)
            .map(|i| {
                Arc::new(
                    serde_json::from_value::<CheckResult>(json!({
                        "check": format!("check-{i:04}"), "service": format!("svc-{}", i % 20), "kind": "http",
                        "status": "up", "at": "2026-01-01T00:00:00Z", "duration_ms": 10.0, "observed": {"status_code": 200}
                    }))
                    .unwrap(),
                )
            })
            .collect();
        Gen { seed: 42, templates }
    }

    fn next(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.seed >> 33
    }

    /// One result of check `i` at `at`.
    fn result(&mut self, i: usize, at: DateTime<Utc>) -> Arc<CheckResult> {
        let mut r = (*self.templates[i]).clone();
        r.at = at;
        let roll = self.next() % 1000;
        r.duration_ms = 5.0 + (self.next() % 200_000) as f64 / 1000.0;
        if roll < 10 {
            r.status = Status::Down;
            r.observed.status_code = Some(503);
            r.error = Some(monitor_core::CheckError::new(
                monitor_core::ErrorKind::Assertion,
                [
                    "status: expected 200-399, got 503",
                    "no response within 5s",
                    "connection refused",
                ][(roll % 3) as usize],
            ));
        } else if roll < 30 {
            r.status = Status::Degraded;
        }
        Arc::new(r)
    }
}

/// Writes `minutes` minutes of history for `checks` checks at 60 s, ending now; returns
/// (results, seconds spent writing, seconds of CPU spent writing). Making the results is
/// not timed: the writer is handed them built, as the per-row and bulk loops below are
/// handed their rows. Dropping them is: the writer thread does that too.
fn fill(store: &SqliteStore, gen: &mut Gen, checks: usize, minutes: i64, batch_size: usize) -> (u64, f64, f64) {
    let start = Utc::now() - ChronoDuration::minutes(minutes);
    let (mut wall, mut cpu) = (0.0, 0.0);
    let mut batch = Batch::default();
    let mut n = 0u64;
    let mut write = |batch: &mut Batch| {
        let (_, w, c) = timed(|| {
            store.write(batch).unwrap();
            n += batch.results.len() as u64;
            batch.results.clear();
        });
        wall += w;
        cpu += c;
    };
    for m in 0..minutes {
        for i in 0..checks {
            let at =
                start + ChronoDuration::minutes(m) + ChronoDuration::milliseconds((i as i64 * 59_000) / checks as i64);
            batch.results.push(gen.result(i, at));
            if batch.results.len() == batch_size {
                write(&mut batch);
            }
        }
    }
    if !batch.results.is_empty() {
        write(&mut batch);
    }
    (n, wall, cpu)
}

const RAW_SCHEMA: &str =
    "CREATE TABLE results (check_id INTEGER NOT NULL, at INTEGER NOT NULL, status INTEGER NOT NULL,
    duration_us INTEGER NOT NULL, code INTEGER, error_id INTEGER, PRIMARY KEY (check_id, at)) WITHOUT ROWID;";

fn plain_connection(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.pragma_update(None, "cache_size", -65536).unwrap();
    c.execute_batch(RAW_SCHEMA).unwrap();
    c
}

/// Nanoseconds this thread has run on a CPU (Linux; `None` elsewhere). On a shared,
/// loaded machine the wall time of a run depends on what else runs; its CPU time much less.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Wall time and CPU time of `f`, in seconds (CPU time `NaN` where unknown).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (c, t) = (cpu_ns(), Instant::now());
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = match (c, cpu_ns()) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
        _ => f64::NAN,
    };
    (out, wall, cpu)
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1000.0)
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..n {
        let (o, ms) = time(&mut f);
        best = best.min(ms);
        out = Some(o);
    }
    (out.unwrap(), best)
}

fn main() {
    let quick = std::env::var("UPWATCH_BENCH_QUICK").is_ok() || !std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    println!(
        "upwatch store bench{}",
        if quick { " (quick mode: small scale)" } else { "" }
    );

    let checks = if quick { 100 } else { 1000 };
    let only = std::env::var("UPWATCH_BENCH_ONLY").unwrap_or_default();
    if only != "query" {
        write_rates(quick, checks, dir.path());
    }
    if only != "write" {
        month(quick, checks, dir.path());
    }
}

/// Part 1: write throughput, three ways, same rows. Rates by wall time, and by CPU time
/// of the writing thread (steadier when the machine is busy).
fn write_rates(quick: bool, checks: usize, dir: &std::path::Path) {
    let minutes = if quick { 50 } else { 1000 };
    let store = SqliteStore::open(dir.join("w.db")).unwrap();
    let mut gen = Gen::new(checks);
    let (n, secs, cpu) = fill(&store, &mut gen, checks, minutes, 50_000);
    let (ours, ours_cpu) = (n as f64 / secs, n as f64 / cpu);
    println!(
        "1. SqliteStore::write, batches of 50,000 (with rollups and latest): {ours:.0} results/s \
         ({n} results; {ours_cpu:.0} per CPU-second)"
    );

    let rows: Vec<(i64, i64, i64, i64, i64)> = (0..if quick { 2_000 } else { 20_000 })
        .map(|k| {
            (
                (k % checks) as i64 + 1,
                1_700_000_000_000 + k as i64 * 60,
                0,
                10_000 + k as i64 % 5000,
                200,
            )
        })
        .collect();
    let c = plain_connection(&dir.join("per_row.db"));
    let (_, secs, cpu) = timed(|| {
        for r in &rows {
            let tx = c.unchecked_transaction().unwrap();
            tx.execute(
                "INSERT INTO results VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                rusqlite::params![r.0, r.1, r.2, r.3, r.4],
            )
            .unwrap();
            tx.commit().unwrap();
        }
    });
    let (per_row, per_row_cpu) = (rows.len() as f64 / secs, rows.len() as f64 / cpu);
    let bulk_rows: Vec<(i64, i64, i64, i64, i64)> = (0..if quick { 20_000 } else { 1_000_000 })
        .map(|k| {
            (
                (k % checks) as i64 + 1,
                1_700_000_000_000 + (k / checks) as i64 * 60_000 + k as i64 % checks as i64,
                0,
                10_000 + k as i64 % 5000,
                200,
            )
        })
        .collect();
    let mut c = plain_connection(&dir.join("bulk.db"));
    let (_, secs, cpu) = timed(|| {
        let tx = c.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare("INSERT INTO results VALUES (?1, ?2, ?3, ?4, ?5, NULL)")
                .unwrap();
            for r in &bulk_rows {
                stmt.execute(rusqlite::params![r.0, r.1, r.2, r.3, r.4]).unwrap();
            }
        }
        tx.commit().unwrap();
    });
    let (bulk, bulk_cpu) = (bulk_rows.len() as f64 / secs, bulk_rows.len() as f64 / cpu);
    println!(
        "   plain rusqlite, one transaction per row: {per_row:.0} rows/s ({per_row_cpu:.0} per CPU-second)  ->  \
         upwatch is {:.1}x (by CPU time: {:.1}x)",
        ours / per_row,
        ours_cpu / per_row_cpu
    );
    println!(
        "   bulk ceiling, one transaction, raw rows only: {bulk:.0} rows/s ({bulk_cpu:.0} per CPU-second)  ->  \
         upwatch reaches {:.0}% of it (by CPU time: {:.0}%)",
        100.0 * ours / bulk,
        100.0 * ours_cpu / bulk_cpu
    );
}

/// Parts 2 and 3: the 30-day file, its bytes per result and query times.
fn month(quick: bool, checks: usize, dir: &std::path::Path) {
    let days = if quick { 1 } else { 30 };
    let kept = std::env::var_os("UPWATCH_BENCH_FILE").map(std::path::PathBuf::from);
    let reused = kept.as_ref().is_some_and(|p| p.exists());
    let path = kept.unwrap_or_else(|| dir.join("month.db"));
    let (store, ms_open) = time(|| SqliteStore::open(&path).unwrap());
    let mut gen = Gen::new(checks);
    let (n, secs) = if reused {
        // Opening an older file migrates it: that is the time shown.
        println!("   (reusing {}, opened in {ms_open:.0} ms)", path.display());
        let c = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = c.query_row("SELECT count(*) FROM results", [], |r| r.get(0)).unwrap();
        (n as u64, f64::NAN)
    } else {
        let (n, secs, _) = fill(&store, &mut gen, checks, days * 24 * 60, 50_000);
        (n, secs)
    };
    // Steady state for a file that keeps 30 days of raw results: minute rollups kept two days.
    let keep = monitor_core::store::Retention {
        raw: Duration::from_secs(31 * 86_400),
        ..Default::default()
    };
    let t = Instant::now();
    let mut trimmed = 0;
    loop {
        let n = store.enforce_retention(&keep, Utc::now(), 1_000_000).unwrap();
        trimmed += n;
        if n < 1_000_000 {
            break;
        }
    }
    println!(
        "   retention (minute rollups older than 2 days): {trimmed} rows in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let bytes = store.used_bytes().unwrap();
    store.checkpoint().unwrap();
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(format!("{}-wal", path.display()))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "2. {n} results ({checks} checks x {days} days at 60s) written in {secs:.0}s ({:.0}/s)",
        n as f64 / secs
    );
    println!(
        "   {:.1} bytes per result in live pages (file + WAL on disk: {:.1} MiB, {:.1} B/result)",
        bytes as f64 / n as f64,
        file as f64 / 1048576.0,
        file as f64 / n as f64
    );

    let all = HistoryQuery::default();
    // Each query is timed this many times and the best is shown.
    let rounds: usize = std::env::var("UPWATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (up, ms_up) = best_of(rounds, || {
        store
            .uptime(&all, Duration::from_secs(days as u64 * 86_400), Utc::now())
            .unwrap()
    });
    let (up_hour, ms_up_hour) = best_of(rounds, || {
        store.uptime(&all, Duration::from_secs(3_600), Utc::now()).unwrap()
    });
    let (latest, ms_latest) = best_of(rounds, || store.latest(&all).unwrap());
    let one = HistoryQuery::default().check("check-0500").limit(100);
    let one = if quick {
        HistoryQuery::default().check("check-0050").limit(100)
    } else {
        one
    };
    let (page, ms_page) = best_of(20, || store.history(&one).unwrap());
    let (page2, ms_page2) = best_of(20, || {
        store
            .history(&one.clone().after(page.next_cursor.clone().unwrap()))
            .unwrap()
    });
    println!(
        "3. uptime + p50/p95/p99 over {days} days for all {} checks: {ms_up:.1} ms (first: {:.3}% up, p95 {:.1} ms; \
         {} results counted)",
        up.len(),
        up[0].uptime_pct.unwrap_or(0.0),
        up[0].p95_ms.unwrap_or(0.0),
        up.iter().map(|u| u.count).sum::<u64>()
    );
    println!(
        "   the same over the last hour (edges from raw results): {ms_up_hour:.1} ms ({} results counted)",
        up_hour.iter().map(|u| u.count).sum::<u64>()
    );
    println!("   latest status of all {} checks: {ms_latest:.2} ms", latest.len());
    println!(
        "   a page of {} raw results: {ms_page:.2} ms; the next page by cursor: {ms_page2:.2} ms",
        page.items.len().max(page2.items.len()),
    );
    assert_eq!(up.len(), checks);
    assert!(up.iter().all(|u| u.count > 0));
}
