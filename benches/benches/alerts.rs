//! Alert delivery: alerts delivered per second to a webhook on loopback, and the time from
//! a check failing to the webhook receiving its alert, beyond the rule's `for`.
//!
//! A real HTTP receiver (axum, through the testbed) on `127.0.0.1`; push checks go down
//! with `push(check, false)`, the rule engine fires, the outbox sends through the HTTP check
//! machinery (one new connection per request, as every probe does). Prints:
//!
//! ```text
//! alerts/throughput: <n> alerts delivered in <s> s = <r> alerts/s
//! alerts/latency_beyond_for (for = 200ms): p50 <ms> ms, p99 <ms> ms, max <ms> ms (<n> alerts)
//! ```
//!
//! Run: `cargo bench -p upwatch-benches --bench alerts`. Without `--bench` (as `cargo test`
//! runs it) the loops are short: a smoke test, not a measurement.

use axum::routing::post;
use axum::Router;
use monitor_core::spec::Spec;
use monitor_core::Monitor;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn main() {
    let quick = std::env::var("UPWATCH_BENCH_QUICK").is_ok() || !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(throughput(if quick { 50 } else { 2_000 }));
    rt.block_on(latency(if quick { 10 } else { 300 }));
}

fn spec(checks: usize, url: &str, for_: &str) -> Spec {
    let checks: Vec<Value> = (0..checks)
        .map(|i| json!({"name": format!("c{i:05}"), "kind": "push", "interval": "24h"}))
        .collect();
    Spec::from_value(json!({
        "checks": checks,
        "notifiers": [{"name": "hook", "kind": "webhook", "url": url, "secret": "bench-secret"}],
        "alerts": [{"name": "r", "for": for_, "notify": ["hook"]}]
    }))
    .expect("spec")
}

async fn throughput(n: usize) {
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let router = Router::new().route(
        "/hook",
        post(move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let target = upwatch_testbed::serve_http(Some(router)).await.expect("receiver");
    // A burst of n failures publishes several events each: room for all of them, so the
    // rule engine sees every change.
    let m = Monitor::builder().host_interval(None).event_buffer(16 * n).build();
    m.load(spec(n, &target.url("/hook"), "0s")).expect("load");
    m.start();
    let t = Instant::now();
    for i in 0..n {
        m.push(&format!("c{i:05}"), false, None).await.expect("push");
    }
    while count.load(Ordering::Relaxed) < n as u64 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "deliveries stalled: {} of {n}, {:?}",
            count.load(Ordering::Relaxed),
            m.status().alerts
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "alerts/throughput: {n} alerts delivered in {s:.2} s = {:.0} alerts/s",
        n as f64 / s
    );
    m.shutdown().await;
}

async fn latency(n: usize) {
    let for_ = Duration::from_millis(200);
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let router = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let _ = tx.send((v["kind"].as_str().unwrap_or("").to_string(), Instant::now()));
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let target = upwatch_testbed::serve_http(Some(router)).await.expect("receiver");
    let m = Monitor::builder().host_interval(None).build();
    m.load(spec(1, &target.url("/hook"), "200ms")).expect("load");
    m.start();
    let mut beyond = Vec::with_capacity(n);
    for _ in 0..n {
        let failed = Instant::now();
        m.push("c00000", false, None).await.expect("push");
        let (kind, got) = rx.recv().await.expect("down alert");
        assert_eq!(kind, "down");
        beyond.push((got - failed).saturating_sub(for_));
        m.push("c00000", true, None).await.expect("push");
        let (kind, _) = rx.recv().await.expect("resolved alert");
        assert_eq!(kind, "resolved");
    }
    beyond.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| beyond[((beyond.len() as f64 * q).ceil() as usize).clamp(1, beyond.len()) - 1];
    println!(
        "alerts/latency_beyond_for (for = 200ms): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({n} alerts)",
        ms(p(0.50)),
        ms(p(0.99)),
        ms(*beyond.last().expect("samples"))
    );
    m.shutdown().await;
}
