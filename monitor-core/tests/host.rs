//! Host statistics on this machine: a snapshot against /proc and std, CPU usage under a
//! real busy thread, rates between samples over real loopback traffic, the condition
//! grammar, host checks alone and in a monitor, the `host_sampled` event and Prometheus.

use monitor_core::bus::{Delivery, Event, EventKind, Filter, Subscription};
use monitor_core::host::condition::{Condition, Metric, Op, Threshold};
use monitor_core::host::{HostSampler, HostSnapshot};
use monitor_core::{CheckSpec, ErrorKind, Monitor, Prober, Status};
use serde_json::json;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn host_check(condition: serde_json::Value) -> CheckSpec {
    let mut spec = json!({"name": "host", "kind": "host", "interval": "10s"});
    let key = if condition.is_array() {
        "conditions"
    } else {
        "condition"
    };
    spec[key] = condition;
    CheckSpec::from_value(spec).expect("valid host check")
}

fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Sends `bytes` to ourselves over 127.0.0.1, so `lo` counts them.
fn loopback_traffic(bytes: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        conn.read_to_end(&mut sink).unwrap();
        sink.len()
    });
    let mut out = std::net::TcpStream::connect(addr).unwrap();
    out.write_all(&vec![7u8; bytes]).unwrap();
    drop(out);
    assert_eq!(reader.join().unwrap(), bytes);
}

async fn next_host_event(sub: &mut Subscription) -> Arc<Event> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
            Ok(Some(Delivery::Event(e))) => return e,
            Ok(Some(Delivery::Lagged { .. })) => continue,
            other => panic!("no host_sampled event: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- the sampler

#[test]
fn a_snapshot_has_sane_values() {
    let mut sampler = HostSampler::new().unwrap();
    let s = sampler.sample();

    assert_eq!(s.cores, std::thread::available_parallelism().unwrap().get());
    assert_eq!(s.cpus.len(), s.cores);
    assert!((0.0..=100.0).contains(&s.cpu_pct), "{}", s.cpu_pct);
    assert!(s.cpus.iter().all(|c| (0.0..=100.0).contains(c)), "{:?}", s.cpus);
    assert!(s.load1 >= 0.0 && s.load5 >= 0.0 && s.load15 >= 0.0);

    assert_eq!(s.memory.total, meminfo("MemTotal"));
    assert_eq!(s.memory.used + s.memory.available, s.memory.total);
    assert!(
        s.memory.used_pct > 0.0 && s.memory.used_pct < 100.0,
        "{}",
        s.memory.used_pct
    );
    assert_eq!(s.swap.total, meminfo("SwapTotal"));
    assert_eq!(s.swap.used + s.swap.free, s.swap.total);

    let root = s.disk("/").unwrap_or_else(|| panic!("/ is not among {:?}", s.disks));
    assert!(root.total > 0 && root.free > 0, "{root:?}");
    assert_eq!(root.used + root.free, root.total);
    assert!(!root.fs.is_empty() && !root.device.is_empty());
    assert!(s
        .disks
        .iter()
        .all(|d| !["proc", "sysfs", "devpts", "cgroup"].contains(&d.fs.as_str())));

    assert!(s.network("lo").is_some(), "lo is not among {:?}", s.networks);
    assert!(
        s.networks.iter().all(|n| n.rx_bps.is_none() && n.tx_bps.is_none()),
        "no rates in a first sample"
    );

    let uptime = std::fs::read_to_string("/proc/uptime").unwrap();
    let uptime: f64 = uptime.split_whitespace().next().unwrap().parse().unwrap();
    assert!((s.uptime_s as f64 - uptime).abs() <= 2.0, "{} vs {uptime}", s.uptime_s);
    let boot_from_uptime = s.at - chrono::Duration::seconds(s.uptime_s as i64);
    assert!(
        (boot_from_uptime - s.boot_time).num_seconds().abs() <= 2,
        "boot_time {} vs now - uptime {boot_from_uptime}",
        s.boot_time
    );

    assert!(s.processes >= 1);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(s.hostname, hostname.trim());
    assert!(s.os.starts_with("Linux"), "{}", s.os);

    let back: HostSnapshot = serde_json::from_value(s.to_json()).unwrap();
    assert_eq!(back, s, "a snapshot round-trips through JSON");
    assert_eq!(s.to_json()["cgroup"], serde_json::to_value(&s.cgroup).unwrap());
}

#[test]
fn cpu_usage_rises_while_a_core_is_busy() {
    let mut sampler = HostSampler::new().unwrap();
    sampler.sample();
    let burn = std::thread::spawn(|| {
        let t = Instant::now();
        let mut x = 1u64;
        while t.elapsed() < Duration::from_millis(1500) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    sampler.sample();
    std::thread::sleep(Duration::from_millis(1000));
    let busy = sampler.sample();
    burn.join().unwrap();
    // One core of `cores` busy for the whole interval: 100 / cores percent, and more with the
    // other tests of this file running.
    let one_core = 100.0 / busy.cores as f64;
    assert!(
        busy.cpu_pct > one_core * 0.7,
        "cpu {}% with one core busy",
        busy.cpu_pct
    );
    let per_core: f64 = busy.cpus.iter().sum();
    assert!(per_core > 70.0, "cores add up to {per_core}% ({:?})", busy.cpus);

    std::thread::sleep(Duration::from_millis(300));
    let after = sampler.sample();
    assert!(after.cpu_pct < busy.cpu_pct + 100.0 && after.at > busy.at);
}

#[test]
fn the_sampler_keeps_state_between_samples() {
    let mut sampler = HostSampler::new().unwrap();
    let first = sampler.sample();
    assert!(first
        .disks
        .iter()
        .all(|d| d.read_bps.is_none() && d.write_bps.is_none()));
    let lo_before = first.network("lo").unwrap().rx_bytes;

    loopback_traffic(4 << 20);
    let second = sampler.sample();
    let lo = second.network("lo").unwrap();
    assert!(lo.rx_bytes >= lo_before + (4 << 20), "{} -> {}", lo_before, lo.rx_bytes);
    assert!(
        lo.rx_bps.unwrap() > 0.0 && lo.tx_bps.unwrap() > 0.0,
        "rates since the first sample: {lo:?}"
    );
    assert!(second.networks.iter().all(|n| n.rx_bps.is_some() && n.tx_bps.is_some()));

    // "/" on a block device (not overlay) has I/O rates from the second sample on.
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata("/").unwrap().dev();
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let root = second.disk("/").unwrap();
    if major != 0 {
        assert!(root.read_bps.is_some() && root.write_bps.is_some(), "{root:?}");
    }
    assert!(second.at > first.at);
}

// ---------------------------------------------------------------- the grammar

#[test]
fn conditions_parse() {
    let cases: &[(&str, Metric, Op, Threshold, Option<u64>)] = &[
        (
            "cpu > 90% for 5m",
            Metric::Cpu,
            Op::Gt,
            Threshold::Percent(90.0),
            Some(300),
        ),
        (
            "cpu(1) >= 50.5%",
            Metric::Core(1),
            Op::Ge,
            Threshold::Percent(50.5),
            None,
        ),
        (
            "memory_used > 85%",
            Metric::MemoryUsed,
            Op::Gt,
            Threshold::Percent(85.0),
            None,
        ),
        (
            "memory_used > 12GiB",
            Metric::MemoryUsed,
            Op::Gt,
            Threshold::Bytes(12.0 * GIB),
            None,
        ),
        (
            "swap_used >= 1 GB",
            Metric::SwapUsed,
            Op::Ge,
            Threshold::Bytes(1e9),
            None,
        ),
        (
            r#"disk("/").free < 10GiB"#,
            Metric::DiskFree("/".into()),
            Op::Lt,
            Threshold::Bytes(10.0 * GIB),
            None,
        ),
        (
            "disk('/data').used_pct > 90%",
            Metric::DiskUsedPct("/data".into()),
            Op::Gt,
            Threshold::Percent(90.0),
            None,
        ),
        (
            r#"disk("/").used >= 80%"#,
            Metric::DiskUsed("/".into()),
            Op::Ge,
            Threshold::Percent(80.0),
            None,
        ),
        (
            r#"net("eth0").rx_bps > 10MiB/s for 1m"#,
            Metric::NetRx("eth0".into()),
            Op::Gt,
            Threshold::BytesPerSecond(10.0 * 1024.0 * 1024.0),
            Some(60),
        ),
        (
            "net('lo').tx_bps > 1000",
            Metric::NetTx("lo".into()),
            Op::Gt,
            Threshold::BytesPerSecond(1000.0),
            None,
        ),
        ("load1 > cores * 2", Metric::Load1, Op::Gt, Threshold::Cores(2.0), None),
        ("load5 > cores", Metric::Load5, Op::Gt, Threshold::Cores(1.0), None),
        ("load15 <= 4.5", Metric::Load15, Op::Le, Threshold::Number(4.5), None),
        (
            "processes > 1000 for 1h",
            Metric::Processes,
            Op::Gt,
            Threshold::Number(1000.0),
            Some(3600),
        ),
    ];
    for (text, metric, op, threshold, window) in cases {
        let c = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&c.metric, metric, "{text}");
        assert_eq!(&c.op, op, "{text}");
        assert_eq!(&c.threshold, threshold, "{text}");
        assert_eq!(c.window, window.map(Duration::from_secs), "{text}");
        assert_eq!(c.text(), text.trim());
    }
    let spaced = Condition::parse("  cpu>90%for 59m ").unwrap();
    assert_eq!(
        (spaced.text(), spaced.window),
        ("cpu>90%for 59m", Some(Duration::from_secs(59 * 60)))
    );
}

#[test]
fn condition_errors_name_what_and_where() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected a metric"),
        ("cpu >> 90%", 5, "expected a value (a number, 90%, 10GiB or cores)"),
        ("> 90%", 0, "expected a metric"),
        (
            "cpux > 1%",
            0,
            "unknown metric \"cpux\" (one of cpu, cpu(N), memory_used",
        ),
        ("cpu 90%", 4, "expected an operator (>, >=, <, <=)"),
        ("cpu = 90%", 4, "expected an operator"),
        ("cpu > 90", 6, "cpu is compared with a percentage, like 90%"),
        ("cpu > -5%", 6, "expected a value"),
        ("cpu(a) > 1%", 4, "expected a CPU number like cpu(0)"),
        ("cpu(1 > 1%", 5, "expected \")\""),
        ("disk(/).free < 1GiB", 5, "expected a quoted name like \"/\""),
        ("disk(\"\").free < 1GiB", 5, "expected a name, not an empty string"),
        ("disk(\"/unterminated) > 1%", 5, "unterminated quoted name"),
        ("disk.free < 1GiB", 4, "expected \"(\" as in disk(\"/\")"),
        ("disk(\"/\") < 1GiB", 9, "expected \".\" and a field"),
        ("disk(\"/\").size < 1GiB", 10, "expected free, used or used_pct"),
        ("net(\"eth0\").rx < 1", 12, "expected rx_bps or tx_bps"),
        (
            "memory_used > 5",
            14,
            "memory_used is compared with a percentage (85%) or a size (10GiB)",
        ),
        ("memory_used > 5 parsecs", 16, "\"parsecs\" is not a size unit"),
        (
            "memory_used > 5GiB/s",
            14,
            "memory_used is compared with a percentage (85%) or a size",
        ),
        (
            "load1 > 50%",
            8,
            "a load average is compared with a number (4), cores or cores * 2",
        ),
        ("load1 > cpus", 8, "expected a value"),
        ("load1 > cores * x", 16, "expected a number after cores *"),
        ("processes > 10%", 12, "processes is compared with a number"),
        (
            "net(\"lo\").rx_bps > 10%",
            19,
            "a network rate is compared with bytes per second",
        ),
        (
            "cpu > 90% during 5m",
            10,
            "unexpected \"during\" (expected \"for <duration>\" or the end)",
        ),
        ("cpu > 90% for", 13, "expected a duration like 5m"),
        ("cpu > 90% for ever", 14, "expected a duration like 5m"),
        ("cpu > 90% for 2h", 14, "for 2h is longer than the host history (1h)"),
        // Positions count characters, not bytes.
        ("disk(\"/données\").frée < 1GiB", 17, "expected free, used or used_pct"),
    ];
    for (text, position, message) in cases {
        let err = Condition::parse(text).expect_err(text);
        assert!(err.message.starts_with(message), "{text:?}: {err}");
        assert_eq!(err.position, *position, "{text:?}: {err}");
        assert_eq!(err.to_string(), format!("{} at {position} in {text:?}", err.message));
    }
}

#[test]
fn specs_report_condition_errors_by_path() {
    let err = CheckSpec::from_value(json!({"name": "h", "kind": "host", "condition": "cpu >> 90%"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"condition: expected a value (a number, 90%, 10GiB or cores) at 5 in "cpu >> 90%""#
    );
    let err = CheckSpec::from_value(json!({
        "name": "h", "kind": "host", "conditions": ["cpu > 90%", "load1 > 50%", "swap_used"]
    }))
    .unwrap_err();
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            r#"conditions[1]: a load average is compared with a number (4), cores or cores * 2 at 8 in "load1 > 50%""#,
            r#"conditions[2]: expected an operator (>, >=, <, <=) at 9 in "swap_used""#,
        ]
    );
    let messages = |v: serde_json::Value| -> Vec<String> {
        CheckSpec::from_value(v)
            .unwrap_err()
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        messages(json!({"name": "h", "kind": "host"})),
        ["condition: is required (or conditions, a list)"]
    );
    assert_eq!(
        messages(json!({"name": "h", "kind": "host", "condition": "cpu > 1%", "conditions": ["cpu > 2%"]})),
        ["conditions: give either condition or conditions, not both"]
    );
    assert_eq!(
        messages(json!({"name": "h", "kind": "host", "conditions": []})),
        ["conditions: must not be empty"]
    );
    assert_eq!(
        messages(json!({"name": "h", "kind": "host", "conditions": "cpu > 1%"})),
        ["conditions: expected a list of conditions, got a string"]
    );
    assert_eq!(
        messages(json!({"name": "h", "kind": "host", "condition": "cpu > 1%", "conditon": 1})),
        ["conditon: unknown field (did you mean \"condition\"?)"]
    );
    let ok = CheckSpec::from_toml_str(
        r#"
        name = "space"
        kind = "host"
        conditions = ['disk("/").free < 10GiB', "load1 > cores * 2"]
        "#,
    )
    .unwrap();
    assert_eq!(ok.kind_name(), "host");
}

// ---------------------------------------------------------------- host checks

#[tokio::test]
async fn a_prober_alone_judges_a_fresh_sample() {
    let prober = Prober::new();
    let down = prober.run(&host_check(json!("memory_used > 0%"))).await;
    assert_eq!(down.status, Status::Down, "{down:?}");
    assert_eq!(down.kind, "host");
    let error = down.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Assertion);
    assert_eq!(error.which.as_deref(), Some("condition"));
    assert_eq!(error.expected.as_deref(), Some("not memory_used > 0%"));
    let got = error.got.as_deref().unwrap();
    assert!(got.starts_with("memory_used ") && got.ends_with('%'), "{got}");
    let observed = &down.observed.conditions[0];
    assert!(
        observed.holds && observed.value.unwrap() > 0.0 && observed.unit == "%",
        "{observed:?}"
    );
    assert_eq!(
        down.to_json()["observed"]["conditions"][0]["condition"],
        "memory_used > 0%"
    );

    let up = prober.run(&host_check(json!("memory_used > 100%"))).await;
    assert_eq!(up.status, Status::Up, "{up:?}");
    assert!(!up.observed.conditions[0].holds);

    let total = meminfo("MemTotal");
    let bytes = prober
        .run(&host_check(json!(format!("memory_used < {}B", total + 1))))
        .await;
    assert_eq!(bytes.status, Status::Down);
    assert!(
        bytes.error.unwrap().got.unwrap().contains("iB"),
        "sizes are shown as sizes"
    );

    // Any condition that holds makes the check down, and is named by its place in the list.
    let list = prober
        .run(&host_check(json!([
            "memory_used > 100%",
            "processes > 0",
            "load1 > cores * 1000"
        ])))
        .await;
    assert_eq!(list.status, Status::Down);
    assert_eq!(list.failed_assertions.len(), 1);
    assert_eq!(list.failed_assertions[0].which, "conditions[1]");
    assert_eq!(list.failed_assertions[0].expected, "not processes > 0");
    assert_eq!(list.observed.conditions.len(), 3);

    // A disk this host does not have is a failure that says what it has.
    let missing = prober
        .run(&host_check(json!(r#"disk("/no/such/mount").free < 1GiB"#)))
        .await;
    assert_eq!(missing.status, Status::Down);
    let got = missing.error.unwrap().got.unwrap();
    assert!(
        got.starts_with("no disk mounted at \"/no/such/mount\" (mounted: ") && got.contains('/'),
        "{got}"
    );

    // Without a monitor the samples are the checks' own: one sample covers no window yet.
    let windowed = prober.run(&host_check(json!("memory_used > 0% for 30s"))).await;
    assert_eq!(windowed.status, Status::Up, "{windowed:?}");
    assert!(!windowed.observed.conditions[0].holds);
}

#[tokio::test]
async fn for_needs_the_history_to_cover_the_window() {
    let m = Monitor::builder().host_interval(Duration::from_millis(200)).build();
    m.register(host_check(json!("memory_used > 0% for 2s"))).unwrap();
    let mut sampled = m.subscribe(Filter::default().kinds([EventKind::HostSampled]));
    m.start();
    next_host_event(&mut sampled).await;
    let first = Instant::now();

    let early = m.execute_checks(None).await.unwrap().remove(0);
    assert_eq!(early.status, Status::Up, "the history does not cover 2s yet: {early:?}");
    assert!(early.observed.conditions[0].value.unwrap() > 0.0);
    assert!(!early.observed.conditions[0].holds);

    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(first.elapsed())).await;
    let later = m.execute_checks(None).await.unwrap().remove(0);
    assert_eq!(later.status, Status::Down, "held in every sample of 2s: {later:?}");
    let error = later.error.unwrap();
    assert_eq!(error.expected.as_deref(), Some("not memory_used > 0% for 2s"));
    assert!(error.got.as_deref().unwrap().ends_with("% for 2s"), "{error:?}");

    // A condition that stopped holding in one sample of the window does not hold.
    let never = host_check(json!(["memory_used > 100% for 1s", "memory_used < 0GiB"]));
    let r = m
        .execute(monitor_core::Command::UpdateCheck {
            spec: never.source().clone(),
        })
        .await;
    assert!(r.is_ok());
    let up = m.execute_checks(None).await.unwrap().remove(0);
    assert_eq!(up.status, Status::Up, "{up:?}");
    m.shutdown().await;
}

// ---------------------------------------------------------------- the monitor

#[tokio::test]
async fn samples_are_published_on_the_bus_and_exported() {
    let m = Monitor::builder().host_interval(Duration::from_millis(300)).build();
    let mut sampled = m.subscribe(Filter::default().kinds([EventKind::HostSampled]));
    let mut about_checks = m.subscribe(Filter::default().checks(["api"]));
    assert!(m.host().is_none(), "nothing before start");
    assert!(!m.prometheus().contains("upwatch_host_"));
    m.start();

    let event = next_host_event(&mut sampled).await;
    let Event::HostSampled(first) = &*event else {
        panic!("{event:?}")
    };
    assert_eq!(event.kind(), EventKind::HostSampled);
    assert_eq!((event.check(), event.service(), event.tags().len()), (None, None, 0));
    let json = event.to_json();
    assert_eq!(json["event"], "host_sampled");
    assert_eq!(json["cores"], first.cores);
    assert!(json["memory"]["total"].as_u64().unwrap() > 0);
    let back: Event = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.to_json(), json, "the event round-trips through JSON");
    assert_eq!(EventKind::parse("host_sampled"), Some(EventKind::HostSampled));
    assert_eq!(EventKind::parse("hostSampled"), Some(EventKind::HostSampled));

    let event = next_host_event(&mut sampled).await;
    let Event::HostSampled(second) = &*event else {
        panic!("{event:?}")
    };
    assert!(second.at > first.at);
    assert!(
        second.network("lo").unwrap().rx_bps.is_some(),
        "the monitor keeps one sampler"
    );
    let latest = m.host().unwrap();
    assert!(latest.at >= second.at);

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
    let now = m.host().unwrap();
    assert_eq!(
        value("upwatch_host_memory_bytes", &[("state", "total")]),
        Some(now.memory.total as f64)
    );
    for state in ["used", "available"] {
        assert!(
            value("upwatch_host_memory_bytes", &[("state", state)]).is_some(),
            "{state}"
        );
    }
    assert_eq!(
        value("upwatch_host_swap_bytes", &[("state", "total")]),
        Some(now.swap.total as f64)
    );
    let root = now.disk("/").unwrap();
    assert_eq!(
        value("upwatch_host_disk_bytes", &[("mount", "/"), ("state", "total")]),
        Some(root.total as f64)
    );
    assert_eq!(
        value("upwatch_host_disk_bytes", &[("mount", "/"), ("state", "free")]),
        Some(root.free as f64)
    );
    assert_eq!(
        value(
            "upwatch_host_network_bytes_total",
            &[("interface", "lo"), ("direction", "rx")]
        ),
        Some(now.network("lo").unwrap().rx_bytes as f64)
    );
    let cpu = value("upwatch_host_cpu_ratio", &[]).unwrap();
    assert!((0.0..=1.0).contains(&cpu), "{cpu}");
    for load in ["upwatch_host_load1", "upwatch_host_load5", "upwatch_host_load15"] {
        assert!(value(load, &[]).unwrap() >= 0.0, "{load}");
    }
    assert_eq!(value("upwatch_host_uptime_seconds", &[]), Some(now.uptime_s as f64));

    m.shutdown().await;
    while sampled.try_recv().is_some() {}
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(sampled.try_recv().is_none(), "sampling stops on shutdown");
    assert!(about_checks.try_recv().is_none(), "check filters leave host events out");
}

#[tokio::test]
async fn sampling_can_be_turned_off() {
    let m = Monitor::builder().host_interval(None).build();
    let mut sampled = m.subscribe(Filter::default().kinds([EventKind::HostSampled]));
    m.start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sampled.try_recv().is_none());
    assert!(m.host().is_none());
    // A host check still works: it samples for itself, and the monitor shows that sample.
    m.register(host_check(json!("processes < 1"))).unwrap();
    let r = m.execute_checks(None).await.unwrap().remove(0);
    assert_eq!(r.status, Status::Up);
    assert!(m.host().is_some());
    assert!(Monitor::builder()
        .host_interval(Duration::ZERO)
        .build()
        .host()
        .is_none());
    m.shutdown().await;
}
