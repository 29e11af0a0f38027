//! Scheduler figures (issue: scheduler, bus and services). Not criterion: these are
//! resource and latency measurements over minutes, printed as a table.
//!
//! 1. 10,000 push checks at 60 s: resident memory per check beyond its spec, and the
//!    engine's idle CPU (scheduler, state, bus) over one full interval.
//! 2. 100,000 checks: spec validation, registration and start-up time, and memory.
//! 3. 10,000 HTTP checks against a loopback server, interval 10 s: lateness
//!    (actual start minus due time) p50 / p99 / max.
//! 4. Full pipeline (scheduler + HTTP check + assertions + bus + status): 10,000 HTTP
//!    checks due every second, new connection per check; results per second.
//!
//! Run: `cargo bench -p upwatch-benches --bench scheduler` (about 3 minutes).
//! Without `--bench` (as `cargo test` runs it) or with `UPWATCH_BENCH_QUICK=1`, every
//! phase runs at a tenth of the scale, briefly: a smoke test, not a measurement.

use monitor_core::bus::{Delivery, Event, EventKind, Filter};
use monitor_core::{CheckSpec, Monitor};
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes, so memory per check is measured exactly rather than
/// through RSS (which the allocator's reuse of freed pages blurs).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn heap_bytes() -> u64 {
    LIVE.load(Ordering::Relaxed) as u64
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn push_specs(n: usize, prefix: &str) -> Vec<CheckSpec> {
    (0..n)
        .map(|i| {
            CheckSpec::from_value(json!({"name": format!("{prefix}-{i}"), "kind": "push", "interval": "60s"})).unwrap()
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test` runs this binary without it: a quick pass.
    let quick = std::env::var("UPWATCH_BENCH_QUICK").is_ok() || !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 10 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        println!("upwatch scheduler bench{}", if quick { " (quick mode: 1/10 scale, short phases)" } else { "" });

        // 1. Memory and idle CPU. Memory is the marginal cost in live heap bytes: what the
        // 10,000 checks that follow a first 10,000 add (so fixed costs, like the bus's
        // event ring, are not counted per check), each check holding its latest result.
        let n = 10_000 / scale;
        let m = Monitor::new();
        m.register_many(push_specs(n, "warm")).unwrap();
        m.execute_checks(None).await.unwrap();
        let base = heap_bytes();
        let specs = push_specs(n, "idle");
        let with_specs = heap_bytes();
        m.register_many(specs).unwrap();
        m.execute_checks(None).await.unwrap();
        let loaded = heap_bytes();
        println!("1. {n} push checks at 60s");
        println!("   spec: {:.0} B/check; engine beyond the spec: {:.0} B/check (live heap, each check holding its latest result)",
            (with_specs.saturating_sub(base)) as f64 / n as f64, (loaded.saturating_sub(with_specs)) as f64 / n as f64);
        drop(m);
        let n_http = 1_000 / scale;
        let m = Monitor::new();
        let specs: Vec<CheckSpec> = (0..n_http)
            .map(|i| CheckSpec::from_value(json!({"name": format!("h{i}"), "kind": "http", "url": "http://127.0.0.1:9/x",
                "expect": {"status": 200, "json": {"$.status": "UP"}, "response_time": "< 1s"}})).unwrap())
            .collect();
        let before = heap_bytes();
        m.register_many(specs).unwrap();
        println!("   an HTTP check with three assertions: engine {:.0} B/check before its first run (spec not counted)",
            (heap_bytes().saturating_sub(before)) as f64 / n_http as f64);
        drop(m);
        let m = Monitor::new();
        m.register_many(push_specs(n, "cpu")).unwrap();
        m.start();
        let window = if quick { Duration::from_secs(3) } else { Duration::from_secs(61) };
        tokio::time::sleep(window).await;
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        tokio::time::sleep(window).await;
        let cpu = cpu_time() - cpu0;
        let wall = t0.elapsed();
        let runs: u64 = m.status().checks.iter().map(|c| c.runs).sum();
        println!("   CPU over {:.0}s with {n} checks running every 60s: {:.2}% of one core ({runs} runs so far)",
            wall.as_secs_f64(), 100.0 * cpu.as_secs_f64() / wall.as_secs_f64());
        m.shutdown_within(Duration::from_secs(1)).await;
        drop(m);

        // 2. 100,000 checks.
        let n = 100_000 / scale;
        let before = heap_bytes();
        let rss_before = rss_bytes();
        let t = Instant::now();
        let specs = push_specs(n, "many");
        let validate = t.elapsed();
        let m = Monitor::new();
        let t = Instant::now();
        m.register_many(specs).unwrap();
        let register = t.elapsed();
        let t = Instant::now();
        m.start();
        let start = t.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = heap_bytes();
        println!("2. {n} checks: validate {:.0} ms, register {:.0} ms, start {:.0} ms; heap +{:.1} MiB ({:.0} B/check incl. spec), RSS +{:.1} MiB",
            validate.as_secs_f64() * 1e3, register.as_secs_f64() * 1e3, start.as_secs_f64() * 1e3,
            (after.saturating_sub(before)) as f64 / 1048576.0, (after.saturating_sub(before)) as f64 / n as f64,
            (rss_bytes().saturating_sub(rss_before)) as f64 / 1048576.0);
        m.shutdown_within(Duration::from_secs(1)).await;
        drop(m);

        // 3. and 4. HTTP checks against a loopback server.
        let server = upwatch_testbed::HttpTarget::start().await.unwrap();
        let url = server.url("/text");
        for (label, interval, secs) in [("3. lateness", "10s", if quick { 12 } else { 30 }), ("4. pipeline", "1s", if quick { 4 } else { 20 })] {
            let n = 10_000 / scale;
            let m = Monitor::builder().event_buffer(1 << 17).max_per_host(1024).max_concurrency(1024).build();
            let specs: Vec<CheckSpec> = (0..n)
                .map(|i| CheckSpec::from_value(json!({"name": format!("http-{i}"), "kind": "http", "url": url, "interval": interval,
                    "timeout": "1s", "expect": {"status": 200, "body_contains": "hello"}})).unwrap())
                .collect();
            m.register_many(specs).unwrap();
            let mut sub = m.subscribe(Filter::default().kinds([EventKind::CheckSucceeded, EventKind::CheckFailed]));
            let collector = tokio::spawn(async move {
                let (mut ok, mut failed, mut lagged, mut late) = (0u64, 0u64, 0u64, Vec::new());
                while let Some(d) = sub.recv().await {
                    match d {
                        Delivery::Event(e) => match &*e {
                            Event::CheckSucceeded(r) => { ok += 1; late.extend(r.lateness_ms); }
                            Event::CheckFailed(r) => { failed += 1; late.extend(r.lateness_ms); }
                            _ => {}
                        },
                        Delivery::Lagged { missed } => lagged += missed,
                    }
                }
                (ok, failed, lagged, late)
            });
            m.start();
            // Skip the first interval (first runs are spread over it), then measure.
            let warm = if interval == "1s" { Duration::from_secs(2) } else { Duration::from_secs(0) };
            tokio::time::sleep(warm).await;
            let runs0: u64 = m.status().checks.iter().map(|c| c.runs).sum();
            let t = Instant::now();
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let runs: u64 = m.status().checks.iter().map(|c| c.runs).sum::<u64>() - runs0;
            let skipped: u64 = m.status().checks.iter().map(|c| c.skipped).sum();
            let elapsed = t.elapsed();
            m.shutdown_within(Duration::from_secs(2)).await;
            drop(m);
            let (ok, failed, lagged, mut late) = collector.await.unwrap();
            late.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{label}: {n} HTTP checks every {interval}: {:.0} results/s over {:.0}s ({ok} passed, {failed} failed, {skipped} runs skipped, {lagged} events lost)",
                runs as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64());
            println!("   lateness ms: p50 {:.2}, p99 {:.2}, max {:.2} ({} samples)", percentile(&late, 0.5), percentile(&late, 0.99),
                late.last().copied().unwrap_or(f64::NAN), late.len());
        }
        drop(server);
    });
}
