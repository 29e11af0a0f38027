//! What a binding call costs on the Rust side, for the bindings' side-by-side comparisons
//! (Python, Node, C and PHP each run this and their own measurement in one script).
//!
//! Uses [`Embedded`], the layer every binding calls, with 1,000 push checks that each have
//! a result, and prints one line per call: `embed/<name>: <µs> us/call (<n> calls)`.
//!
//! Run: `cargo bench -p upwatch-benches --bench embed`. Without `--bench` (as `cargo test`
//! runs it) every loop is short: a smoke test, not a measurement. `UPWATCH_BENCH_SECONDS`
//! sets the time per call (3 s by default; the compare scripts run several shorter rounds).

use monitor_core::embed::Embedded;
use serde_json::json;
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::var("UPWATCH_BENCH_QUICK").is_ok() || !std::env::args().any(|a| a == "--bench");
    let checks = 1_000;
    let m = Embedded::from_value(json!({ "host_interval": "off" })).expect("engine");
    let specs = (0..checks)
        .map(|i| json!({ "name": format!("check-{i:04}"), "kind": "push", "interval": "1h", "service": format!("svc-{}", i % 10) }))
        .collect();
    m.wait(m.register_many(specs)).expect("register");
    for i in 0..checks {
        m.wait(m.push(&format!("check-{i:04}"), i % 7 != 0, None))
            .expect("push");
    }
    let seconds = std::env::var("UPWATCH_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    let budget = if quick {
        Duration::from_millis(50)
    } else {
        Duration::from_secs_f64(seconds)
    };

    report("status_1000_checks", budget, || {
        let s = m.status().expect("status");
        assert_eq!(s.checks.len(), checks);
    });
    report("status_1000_checks_to_json", budget, || {
        let s = m.status().expect("status");
        std::hint::black_box(serde_json::to_value(&s).expect("json"));
    });
    report("host_now", budget, || {
        std::hint::black_box(m.wait(m.host_now()).expect("host"));
    });
    let monitor = m.monitor().expect("monitor");
    report("host_now_here", budget, || {
        // Sampled on this thread, outside the runtime: what the Python binding's host() does.
        std::hint::black_box(m.wait(monitor.sample_host(Duration::ZERO)).expect("host"));
    });
    report("host_now_to_json", budget, || {
        let h = m.wait(m.host_now()).expect("host");
        std::hint::black_box(serde_json::to_value(&h).expect("json"));
    });
    report("host_cached", budget, || {
        std::hint::black_box(m.wait(m.host()).expect("host"));
    });
    report("host_recent", budget, || {
        // The in-memory snapshot the bindings serve at once when it is fresh enough.
        std::hint::black_box(m.host_recent(Duration::from_secs(3600)).expect("host"));
    });
    report("push", budget, || {
        std::hint::black_box(m.wait(m.push("check-0001", true, None)).expect("push"));
    });
    m.close();
}

/// Calls `f` for about `budget` (after a short warm-up) and prints the mean time per call.
fn report(name: &str, budget: Duration, mut f: impl FnMut()) {
    for _ in 0..3 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() * 1e6 / calls as f64;
    println!("embed/{name}: {per_call:.1} us/call ({calls} calls)");
}
