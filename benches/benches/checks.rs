//! Criterion benchmarks for the checks (issue: "a check costs what the network costs").
//!
//! - `assertions/full_set_10KiB_json`: evaluating a full HTTP assertion set (status,
//!   body contains / not contains / regex, six JSON paths, headers, response time) on
//!   the testbed's 10 KiB JSON document. Pure CPU.
//! - `http_checks/new_connection`: HTTP checks per second against the testbed's
//!   loopback server, a new TCP connection per check, 1,000 checks per iteration with
//!   128 in flight. Client and server share the machine's cores, as wrk and nginx do
//!   in the reference figure (about 17,700 requests/s with `Connection: close`).
//!
//! Run: `cargo bench -p upwatch-benches --bench checks`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::stream::{self, StreamExt};
use monitor_core::checks::http::ResponseFacts;
use monitor_core::{CheckKind, CheckSpec, Prober, Status};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;

fn full_assertion_spec(url: &str) -> CheckSpec {
    CheckSpec::from_value(json!({
        "name": "bench", "kind": "http", "url": url,
        "expect": {
            "status": [200, "2xx"],
            "body_contains": ["\"status\":\"UP\"", "item-42"],
            "body_not_contains": ["\"healthy\":false", "exception"],
            "body_regex": "\"count\":\\d+",
            "json": {
                "$.status": "UP",
                "$.count": {">": 10},
                "$.items[0].name": "item-1",
                "$.items[*].healthy": true,
                "$.items[*].latency_ms": {"<": 1000},
                "$.items": {"exists": true}
            },
            "headers": {"content-type": "application/json"},
            "headers_match": {"server": "^upwatch"},
            "response_time": {"max": "2s", "warn": "500ms"}
        }
    }))
    .expect("the bench spec is valid")
}

fn assertions(c: &mut Criterion) {
    let body = upwatch_testbed::http::json_10k_body().as_bytes();
    let spec = full_assertion_spec("http://127.0.0.1/json/10k");
    let CheckKind::Http(http) = &spec.kind else {
        unreachable!()
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("server", "upwatch-testbed".parse().unwrap());
    let facts = ResponseFacts {
        status: 200,
        headers: &headers,
        body,
        elapsed: Duration::from_millis(12),
    };
    assert!(
        http.expect.evaluate(&facts).is_clean(),
        "the assertion set passes on the document"
    );
    let mut group = c.benchmark_group("assertions");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("full_set_10KiB_json", |b| {
        b.iter(|| black_box(http.expect.evaluate(black_box(&facts))))
    });
    // The same set without the JSON paths: what everything but building the JSON tree costs.
    let mut no_json = http.expect.clone();
    no_json.json.clear();
    group.bench_function("without_json_10KiB", |b| {
        b.iter(|| black_box(no_json.evaluate(black_box(&facts))))
    });
    // Building the JSON tree alone (serde_json::Value, which the JSONPath crate works on).
    group.bench_function("json_parse_only_10KiB", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap()))
    });
    group.finish();
}

const BATCH: usize = 1000;
const IN_FLIGHT: usize = 128;

fn http_checks(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // UPWATCH_BENCH_URL points at a server in another process (benches/compare_wrk.sh
    // sets it, so wrk and upwatch hit the same server); otherwise one runs in-process.
    let (target, base) = match std::env::var("UPWATCH_BENCH_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let t = rt
                .block_on(upwatch_testbed::HttpTarget::start())
                .expect("server starts");
            let base = t.url("");
            (Some(t), base)
        }
    };
    let url = format!("{}/text", base.trim_end_matches('/'));
    let check = CheckSpec::from_value(json!({"name": "bench", "kind": "http", "url": url,
        "expect": {"status": 200, "body_contains": "hello"}}))
    .unwrap();
    let prober = Prober::new();
    let run_batch = || async {
        let up = stream::iter(0..BATCH)
            .map(|_| prober.run(&check))
            .buffer_unordered(IN_FLIGHT)
            .filter(|r| std::future::ready(r.status == Status::Up))
            .count()
            .await;
        assert_eq!(up, BATCH, "every check passes");
    };
    let mut group = c.benchmark_group("http_checks");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("new_connection", |b| b.to_async(&rt).iter(run_batch));
    group.finish();
    drop(target);
}

criterion_group!(benches, assertions, http_checks);
criterion_main!(benches);
