//! Every kind of check against real servers on loopback (the `upwatch-testbed` crate):
//! HTTP and HTTPS with real certificates, an authoritative DNS server, TCP listeners,
//! ICMP to 127.0.0.1 and the push board. Every error kind is produced and asserted.

use monitor_core::{CheckResult, CheckSpec, ErrorKind, Prober, Status};
use serde_json::{json, Value};
use upwatch_testbed::Testbed;

async fn run_with(prober: &Prober, spec: Value) -> CheckResult {
    let check = CheckSpec::from_value(spec.clone()).unwrap_or_else(|e| panic!("invalid spec {spec}: {e}"));
    prober.run(&check).await
}

async fn run(spec: Value) -> CheckResult {
    run_with(&Prober::new(), spec).await
}

fn kind(r: &CheckResult) -> Option<ErrorKind> {
    r.error.as_ref().map(|e| e.kind)
}

async fn testbed() -> Testbed {
    Testbed::start().await.expect("testbed starts")
}

// ---------------------------------------------------------------- http

#[tokio::test]
async fn http_full_assertion_set_passes_on_a_healthy_endpoint() {
    let tb = testbed().await;
    let r = run(json!({
        "name": "health", "kind": "http", "url": tb.http.url("/health"),
        "expect": {
            "status": [200],
            "body_contains": ["\"status\":\"UP\""],
            "body_not_contains": "DOWN",
            "body_regex": "\"version\":\"1\\.\\d+\\.\\d+\"",
            "json": {
                "$.status": "UP",
                "$.uptime_s": {">": 60, "<=": 12345},
                "$.latency_ms": {"<": 100},
                "$.checks.db": {"!=": "down"},
                "$.items[*].id": {">=": 1},
                "$.tags": {"contains": "eu"},
                "$.checks": {"contains": "cache"},
                "$.missing": {"exists": false},
                "$.items": {"exists": true}
            },
            "headers": {"content-type": "application/json", "x-upwatch-test": "yes"},
            "headers_match": {"server": "^upwatch-"},
            "response_time": "< 5s"
        }
    }))
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert_eq!(r.observed.status_code, Some(200));
    assert_eq!(r.observed.http_version.as_deref(), Some("HTTP/1.1"));
    assert!(r.observed.body_bytes.unwrap() > 100);
    assert_eq!(r.observed.remote_addr, Some(tb.http.addr.to_string()));
    assert!(r.phases.connect_ms.is_some() && r.phases.first_byte_ms.is_some() && r.phases.transfer_ms.is_some());
    assert!(r.phases.dns_ms.is_none(), "an IP literal needs no lookup");
    assert!(r.phases.tls_ms.is_none());
}

#[tokio::test]
async fn http_failed_assertions_name_which_expected_and_got() {
    let tb = testbed().await;
    let r = run(json!({
        "name": "wrong", "kind": "http", "url": tb.http.url("/health"),
        "expect": {
            "status": "5xx",
            "body_contains": "nope",
            "json": {"$.status": "DOWN", "$.uptime_s": {"<": 10}, "$.nothing": {"exists": true}},
            "headers": {"x-upwatch-test": "no"},
            "headers_match": {"x-absent": "."}
        }
    }))
    .await;
    assert_eq!(r.status, Status::Down);
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.kind, ErrorKind::Assertion);
    assert_eq!(
        (e.which.as_deref(), e.expected.as_deref(), e.got.as_deref()),
        (Some("status"), Some("5xx"), Some("200"))
    );
    let shown: Vec<String> = r.failed_assertions.iter().map(ToString::to_string).collect();
    for want in [
        "status: expected 5xx, got 200",
        "json[\"$.status\"]: expected \"DOWN\", got \"UP\"",
        "json[\"$.uptime_s\"]: expected < 10, got 12345",
        "json[\"$.nothing\"]: expected a value, got nothing",
        "headers.x-upwatch-test: expected no, got yes",
        "headers_match.x-absent: expected /./, got no such header",
    ] {
        assert!(shown.iter().any(|s| s == want), "missing {want:?} in {shown:#?}");
    }
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("body_contains: expected body containing \"nope\", got \"{")),
        "{shown:#?}"
    );
}

#[tokio::test]
async fn http_500_is_down_by_default_and_up_when_expected() {
    let tb = testbed().await;
    let r = run(json!({"name": "err", "kind": "http", "url": tb.http.url("/error")})).await;
    assert_eq!(r.status, Status::Down);
    assert_eq!(
        r.error.as_ref().unwrap().to_string(),
        "status: expected 200-399, got 500"
    );
    let r = run(json!({"name": "err", "kind": "http", "url": tb.http.url("/error"),
        "expect": {"status": 500, "json": {"$.status": "DOWN"}}}))
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
}

#[tokio::test]
async fn http_soft_response_time_degrades_and_hard_bound_fails() {
    let tb = testbed().await;
    let r = run(
        json!({"name": "slow", "kind": "http", "url": tb.http.url("/slow?ms=300"),
        "expect": {"response_time": {"max": "5s", "warn": "100ms"}}}),
    )
    .await;
    assert_eq!(r.status, Status::Degraded, "{:#}", r.to_json());
    assert!(r.error.is_none());
    assert_eq!(r.warnings[0].which, "response_time");
    assert_eq!(r.warnings[0].expected, "< 100.0ms");
    let r = run(
        json!({"name": "slow", "kind": "http", "url": tb.http.url("/slow?ms=300"),
        "expect": {"response_time": "< 100ms"}}),
    )
    .await;
    assert_eq!(r.status, Status::Down);
    assert_eq!(r.error.as_ref().unwrap().which.as_deref(), Some("response_time"));
}

#[tokio::test]
async fn http_no_answer_is_a_timeout_naming_the_phase() {
    let tb = testbed().await;
    let started = std::time::Instant::now();
    let r = run(json!({"name": "hang", "kind": "http", "url": tb.http.url("/hang"), "timeout": "1s"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::Timeout));
    assert_eq!(
        r.error.unwrap().message,
        "no response within 1s (waiting for the first byte)"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1400),
        "took {:?}",
        started.elapsed()
    );
    assert!(r.phases.connect_ms.is_some());
    // A server that accepts but never speaks HTTP: the same.
    let r =
        run(json!({"name": "silent", "kind": "http", "url": format!("http://{}/", tb.tcp.silent), "timeout": "1s"}))
            .await;
    assert_eq!(kind(&r), Some(ErrorKind::Timeout));
}

#[tokio::test]
async fn http_redirects_are_followed_up_to_the_bound() {
    let tb = testbed().await;
    let r = run(json!({"name": "chain", "kind": "http", "url": tb.http.url("/redirect/3"), "expect": {"body_contains": "redirected"}})).await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert_eq!(r.observed.redirects, Some(3));
    assert_eq!(
        r.observed.final_url.as_deref(),
        Some(tb.http.url("/redirect/0").as_str())
    );
    let r = run(json!({"name": "abs", "kind": "http", "url": tb.http.url("/redirect-absolute"), "expect": {"json": {"$.status": "UP"}}})).await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let r = run(json!({"name": "loop", "kind": "http", "url": tb.http.url("/redirect-loop")})).await;
    assert_eq!(kind(&r), Some(ErrorKind::TooManyRedirects));
    assert_eq!(r.observed.redirects, Some(5));
    let r = run(json!({"name": "few", "kind": "http", "url": tb.http.url("/redirect/3"), "max_redirects": 2})).await;
    assert_eq!(kind(&r), Some(ErrorKind::TooManyRedirects));
    let r = run(json!({"name": "nofollow", "kind": "http", "url": tb.http.url("/redirect-loop"), "follow_redirects": false, "expect": {"status": 302}})).await;
    assert_eq!(r.status, Status::Up);
}

#[tokio::test]
async fn http_body_is_capped_after_decompression() {
    let tb = testbed().await;
    let r = run(json!({"name": "endless", "kind": "http", "url": tb.http.url("/endless"), "timeout": "5s"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::BodyTooLarge), "{:#}", r.to_json());
    let r = run(json!({"name": "bomb", "kind": "http", "url": tb.http.url("/gzip-bomb"), "timeout": "5s"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::BodyTooLarge), "{:#}", r.to_json());
    assert!(r.error.unwrap().message.contains("after decompression"));
    let r = run(
        json!({"name": "gz", "kind": "http", "url": tb.http.url("/gzip"), "expect": {"json": {"$.compressed": true}}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let r = run(json!({"name": "small", "kind": "http", "url": tb.http.url("/json/10k"), "max_body": "4KiB"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::BodyTooLarge));
    let r =
        run(json!({"name": "big-enough", "kind": "http", "url": tb.http.url("/json/10k"), "max_body": "64KiB"})).await;
    assert_eq!(r.status, Status::Up);
}

#[tokio::test]
async fn http_method_headers_body_and_auth_are_sent() {
    let tb = testbed().await;
    let r = run(json!({"name": "post", "kind": "http", "url": tb.http.url("/echo"), "method": "post",
        "headers": {"x-trace": "abc", "content-type": "text/plain"}, "body": "hello body",
        "basic_auth": {"username": "alice", "password": "wonderland"},
        "expect": {"json": {"$.method": "POST", "$.body": "hello body", "$.headers['x-trace']": "abc",
            "$.headers.authorization": "Basic YWxpY2U6d29uZGVybGFuZA==", "$.headers['user-agent']": {"contains": "upwatch/"}}}}))
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let r = run(
        json!({"name": "bearer", "kind": "http", "url": tb.http.url("/echo"), "bearer_token": "tok",
        "expect": {"json": {"$.headers.authorization": "Bearer tok", "$.method": "GET"}}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
}

#[tokio::test]
async fn http_connection_errors_have_their_own_kinds() {
    let tb = testbed().await;
    let r = run(json!({"name": "closed", "kind": "http", "url": format!("http://{}/", tb.tcp.closed)})).await;
    assert_eq!(kind(&r), Some(ErrorKind::ConnectionRefused));
    assert_eq!(
        r.error.unwrap().message,
        format!("connection refused by {}", tb.tcp.closed)
    );
    let r = run(json!({"name": "nx", "kind": "http", "url": "http://no-such-host.invalid/"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::Dns), "{:#}", r.to_json());
    // A TCP server that answers with something that is not HTTP.
    let r =
        run(json!({"name": "not-http", "kind": "http", "url": format!("http://{}/", tb.tcp.banner), "timeout": "3s"}))
            .await;
    assert_eq!(kind(&r), Some(ErrorKind::Protocol), "{:#}", r.to_json());
    let r = run(json!({"name": "v6-only", "kind": "http", "url": tb.http.url("/health"), "ip_version": "ipv6"})).await;
    assert_eq!(kind(&r), Some(ErrorKind::Dns));
}

#[tokio::test]
async fn http_resolves_names_and_times_the_dns_phase() {
    let tb = testbed().await;
    let url = format!("http://localhost:{}/health", tb.http.addr.port());
    let r = run(json!({"name": "byname", "kind": "http", "url": url, "ip_version": "prefer_ipv4"})).await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert!(r.phases.dns_ms.is_some());
    assert!(
        r.observed.addresses.iter().any(|a| a == "127.0.0.1"),
        "{:?}",
        r.observed.addresses
    );
}

// ---------------------------------------------------------------- https

#[tokio::test]
async fn https_with_a_trusted_certificate_reports_it_and_uses_h2() {
    let tb = testbed().await;
    let r = run(
        json!({"name": "tls-ok", "kind": "http", "url": tb.tls.valid.url("/health"),
        "ca_file": tb.certs.ca_file, "expect": {"certificate_expires_in": {"min": "30d", "warn": "60d"}}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert_eq!(r.observed.http_version.as_deref(), Some("HTTP/2.0"));
    assert!(r.phases.tls_ms.is_some());
    let cert = r.observed.certificate.unwrap();
    assert!(cert.chain_valid && cert.hostname_valid);
    assert!(cert.issuer.contains("upwatch test CA"), "{}", cert.issuer);
    assert!(cert.sans.contains(&"127.0.0.1".to_string()), "{:?}", cert.sans);
    assert!((89.0..=91.0).contains(&cert.days_left), "{}", cert.days_left);
}

#[tokio::test]
async fn https_certificate_problems_are_tls_errors_with_the_certificate_described() {
    let tb = testbed().await;
    let ca = tb.certs.ca_file.clone();
    let r = run(json!({"name": "expired", "kind": "http", "url": tb.tls.expired.url("/health"), "ca_file": ca})).await;
    assert_eq!(kind(&r), Some(ErrorKind::Tls));
    assert!(
        r.error.as_ref().unwrap().message.contains("certificate verify failed"),
        "{:?}",
        r.error
    );
    let cert = r.observed.certificate.as_ref().unwrap();
    assert!(!cert.chain_valid && cert.days_left < 0.0, "{cert:?}");
    assert!(
        r.observed.status_code.is_none(),
        "no request is sent over an unverified connection"
    );

    let r = run(json!({"name": "wrong-host", "kind": "http", "url": tb.tls.wrong_host.url("/health"), "ca_file": ca}))
        .await;
    assert_eq!(kind(&r), Some(ErrorKind::Tls));
    let cert = r.observed.certificate.as_ref().unwrap();
    assert!(cert.chain_valid && !cert.hostname_valid, "{cert:?}");

    let r =
        run(json!({"name": "self-signed", "kind": "http", "url": tb.tls.self_signed.url("/health"), "ca_file": ca}))
            .await;
    assert_eq!(kind(&r), Some(ErrorKind::Tls));
    assert!(!r.observed.certificate.as_ref().unwrap().chain_valid);

    // Without the test CA, even the valid certificate is unknown.
    let r = run(json!({"name": "no-ca", "kind": "http", "url": tb.tls.valid.url("/health")})).await;
    assert_eq!(kind(&r), Some(ErrorKind::Tls));

    // Turned off explicitly for one check: the request goes through, the certificate is still reported.
    let r =
        run(json!({"name": "skip", "kind": "http", "url": tb.tls.self_signed.url("/health"), "tls_skip_verify": true}))
            .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert!(!r.observed.certificate.unwrap().chain_valid);

    // Plain HTTP spoken to a TLS port.
    let r = run(json!({"name": "plain-to-tls", "kind": "http", "url": format!("http://{}/", tb.tls.valid.addr), "timeout": "3s"})).await;
    assert!(
        matches!(kind(&r), Some(ErrorKind::Protocol | ErrorKind::Connection)),
        "{:#}",
        r.to_json()
    );
}

#[tokio::test]
async fn https_certificate_expiry_bounds_degrade_then_fail() {
    let tb = testbed().await;
    let url = tb.tls.expiring_soon.url("/health");
    let ca = tb.certs.ca_file.clone();
    let r = run(json!({"name": "soon", "kind": "http", "url": url, "ca_file": ca,
        "expect": {"certificate_expires_in": {"min": "1d", "warn": "14d"}}}))
    .await;
    assert_eq!(r.status, Status::Degraded, "{:#}", r.to_json());
    assert_eq!(r.warnings[0].which, "certificate_expires_in");
    let r = run(json!({"name": "soon", "kind": "http", "url": url, "ca_file": ca, "expect": {"certificate_expires_in": "> 7d"}})).await;
    assert_eq!(r.status, Status::Down);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind, e.which.as_deref(), e.expected.as_deref()),
        (ErrorKind::Assertion, Some("certificate_expires_in"), Some("> 7.0d"))
    );
    assert!(e.got.unwrap().ends_with('d'));
}

// ---------------------------------------------------------------- tls

#[tokio::test]
async fn tls_check_reports_subject_issuer_sans_and_chain() {
    let tb = testbed().await;
    let r = run(
        json!({"name": "tls", "kind": "tls", "host": "127.0.0.1", "port": tb.tls.valid.addr.port(),
        "ca_file": tb.certs.ca_file, "expect": {"certificate_expires_in": "> 30d"}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let cert = r.observed.certificate.unwrap();
    assert!(cert.subject.contains("127.0.0.1"), "{}", cert.subject);
    assert!(cert.issuer.contains("upwatch test CA"));
    assert!(cert.sans.contains(&"localhost".to_string()));
    assert!(!cert.chain.is_empty());
    assert!(r.phases.tls_ms.is_some() && r.phases.connect_ms.is_some());
}

#[tokio::test]
async fn tls_check_judges_chain_hostname_and_expiry() {
    let tb = testbed().await;
    let ca = tb.certs.ca_file.clone();
    let port = |t: &upwatch_testbed::HttpsTarget| t.addr.port();

    let r = run(
        json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": port(&tb.tls.expired), "ca_file": ca,
        "expect": {"certificate_expires_in": "> 1d"}}),
    )
    .await;
    assert_eq!(r.status, Status::Down);
    let which: Vec<&str> = r.failed_assertions.iter().map(|f| f.which.as_str()).collect();
    assert_eq!(which, ["chain_valid", "certificate_expires_in"]);
    assert!(
        r.failed_assertions[1].got.starts_with("expired "),
        "{:?}",
        r.failed_assertions
    );

    let r =
        run(json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": port(&tb.tls.wrong_host), "ca_file": ca}))
            .await;
    assert_eq!(r.error.as_ref().unwrap().which.as_deref(), Some("hostname_valid"));
    assert_eq!(r.error.unwrap().got.as_deref(), Some("valid for wrong.example"));

    let r = run(
        json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": port(&tb.tls.self_signed),
        "expect": {"chain_valid": false, "certificate_expires_in": "> 30d"}}),
    )
    .await;
    assert_eq!(
        r.status,
        Status::Up,
        "a self-signed host can be watched for expiry: {:#}",
        r.to_json()
    );

    let r = run(
        json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": port(&tb.tls.expiring_soon), "ca_file": ca,
        "expect": {"certificate_expires_in": {"min": "1d", "warn": "7d"}}}),
    )
    .await;
    assert_eq!(r.status, Status::Degraded, "{:#}", r.to_json());

    let r =
        run(json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": tb.tcp.silent.port(), "timeout": "1s"}))
            .await;
    assert_eq!(kind(&r), Some(ErrorKind::Timeout));
    assert!(r.error.unwrap().message.contains("TLS handshake"));

    // A server that speaks something else first (an SSH banner).
    let r =
        run(json!({"name": "t", "kind": "tls", "host": "127.0.0.1", "port": tb.tcp.banner.port(), "timeout": "3s"}))
            .await;
    assert_eq!(kind(&r), Some(ErrorKind::Tls), "{:#}", r.to_json());
}

// ---------------------------------------------------------------- dns

async fn dns(prober: &Prober, tb: &Testbed, query: &str, rtype: &str, protocol: &str, expect: Value) -> CheckResult {
    run_with(
        prober,
        json!({"name": format!("dns-{query}-{rtype}"), "kind": "dns", "query": query, "record_type": rtype,
        "nameserver": tb.dns.addr.to_string(), "protocol": protocol, "timeout": "3s", "expect": expect}),
    )
    .await
}

#[tokio::test]
async fn dns_every_record_type_over_udp_and_tcp() {
    let tb = testbed().await;
    let prober = Prober::new();
    for protocol in ["udp", "tcp"] {
        let cases = [
            ("www.upwatch.test", "A", json!({"equals": ["192.0.2.10", "192.0.2.11"]})),
            ("www.upwatch.test", "AAAA", json!({"contains": "2001:db8::10"})),
            ("alias.upwatch.test", "CNAME", json!({"equals": "www.upwatch.test."})),
            (
                "upwatch.test",
                "MX",
                json!({"equals": ["10 mail.upwatch.test", "20 backup.upwatch.test"]}),
            ),
            (
                "upwatch.test",
                "TXT",
                json!({"contains": ["v=spf1 -all", "hello=world"]}),
            ),
            (
                "upwatch.test",
                "NS",
                json!({"equals": ["ns1.upwatch.test", "ns2.upwatch.test"]}),
            ),
            (
                "upwatch.test",
                "CAA",
                json!({"contains": "0 issue \"letsencrypt.org\""}),
            ),
            ("upwatch.test", "SOA", json!({})),
        ];
        for (query, rtype, expect) in cases {
            let r = dns(&prober, &tb, query, rtype, protocol, expect).await;
            assert_eq!(
                r.status,
                Status::Up,
                "{query} {rtype} over {protocol}: {:#}",
                r.to_json()
            );
            assert_eq!(r.observed.rcode.as_deref(), Some("NOERROR"));
            assert!(r.phases.dns_ms.is_some());
        }
        let soa = dns(&prober, &tb, "upwatch.test", "SOA", protocol, json!({})).await;
        assert!(
            soa.observed.answers[0].contains("2026112201"),
            "{:?}",
            soa.observed.answers
        );
    }
}

#[tokio::test]
async fn dns_nxdomain_missing_answers_and_timeouts() {
    let tb = testbed().await;
    let prober = Prober::new();
    let r = dns(&prober, &tb, "missing.upwatch.test", "A", "udp", json!({})).await;
    assert_eq!(r.status, Status::Down);
    assert_eq!(r.error.unwrap().to_string(), "rcode: expected NOERROR, got NXDOMAIN");
    let r = dns(
        &prober,
        &tb,
        "missing.upwatch.test",
        "A",
        "udp",
        json!({"rcode": "NXDOMAIN"}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let r = dns(
        &prober,
        &tb,
        "www.upwatch.test",
        "A",
        "udp",
        json!({"contains": "192.0.2.99"}),
    )
    .await;
    assert_eq!(
        r.error.unwrap().to_string(),
        "contains: expected 192.0.2.99, got 192.0.2.10, 192.0.2.11"
    );
    let r = dns(
        &prober,
        &tb,
        "www.upwatch.test",
        "A",
        "udp",
        json!({"equals": ["192.0.2.10"]}),
    )
    .await;
    assert_eq!(r.error.unwrap().which.as_deref(), Some("equals"));
    let r = dns(&prober, &tb, "mail.upwatch.test", "MX", "udp", json!({})).await;
    assert_eq!(
        r.error.unwrap().to_string(),
        "answers: expected at least one MX record, got no records"
    );
    let r = run_with(
        &prober,
        json!({"name": "blackhole", "kind": "dns", "query": "www.upwatch.test",
        "nameserver": tb.dns.blackhole.to_string(), "timeout": "1s"}),
    )
    .await;
    assert_eq!(kind(&r), Some(ErrorKind::Timeout), "{:#}", r.to_json());
}

// ---------------------------------------------------------------- tcp

#[tokio::test]
async fn tcp_connect_send_and_banner() {
    let tb = testbed().await;
    let r = run(
        json!({"name": "ssh", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.banner.port(),
        "expect": {"banner": "^SSH-2\\.0-"}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    assert_eq!(r.observed.banner.as_deref(), Some("SSH-2.0-upwatch_testbed\r\n"));
    let r = run(
        json!({"name": "ping", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.echo.port(), "send": "PING\r\n",
        "expect": {"banner": "^PONG"}}),
    )
    .await;
    assert_eq!(r.status, Status::Up, "{:#}", r.to_json());
    let r = run(json!({"name": "plain", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.silent.port()})).await;
    assert_eq!(r.status, Status::Up, "a connect-only check passes on any listener");
    let r = run(
        json!({"name": "wrong", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.banner.port(),
        "expect": {"banner": "^220 "}, "timeout": "1s"}),
    )
    .await;
    let e = r.error.unwrap();
    assert_eq!((e.kind, e.which.as_deref()), (ErrorKind::Assertion, Some("banner")));
    assert_eq!(e.got.as_deref(), Some("\"SSH-2.0-upwatch_testbed\\r\\n\""));
    let r = run(
        json!({"name": "quiet", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.silent.port(),
        "expect": {"banner": "."}, "timeout": "1s"}),
    )
    .await;
    assert_eq!(kind(&r), Some(ErrorKind::Timeout));
    assert!(r.error.unwrap().message.contains("banner"));
    let r = run(json!({"name": "closed", "kind": "tcp", "host": "127.0.0.1", "port": tb.tcp.closed.port()})).await;
    assert_eq!(kind(&r), Some(ErrorKind::ConnectionRefused));
}

// ---------------------------------------------------------------- icmp

#[tokio::test]
async fn icmp_pings_loopback_or_says_which_setting_to_change() {
    let r = run(
        json!({"name": "lo", "kind": "icmp", "host": "127.0.0.1", "count": 3, "ping_interval": "50ms",
        "expect": {"max_packet_loss": "0%", "rtt": "< 500ms"}}),
    )
    .await;
    match kind(&r) {
        None => {
            assert_eq!(r.status, Status::Up);
            assert_eq!(
                (r.observed.packets_sent, r.observed.packets_received),
                (Some(3), Some(3))
            );
            assert_eq!(r.observed.packet_loss_pct, Some(0.0));
            assert!(r.observed.rtt_avg_ms.unwrap() < 500.0);
        }
        Some(ErrorKind::Permission) => {
            // Not root and unprivileged ping disabled: the message must say how to fix it.
            let msg = r.error.unwrap().message;
            assert!(msg.contains("ping_group_range") && msg.contains("CAP_NET_RAW"), "{msg}");
        }
        other => panic!("unexpected outcome {other:?}: {:#}", r.to_json()),
    }
}

// ---------------------------------------------------------------- push

#[tokio::test]
async fn push_checks_follow_heartbeats() {
    let prober = Prober::new();
    let spec = json!({"name": "backup", "kind": "push", "interval": "1s", "grace": "200ms"});
    let r = run_with(&prober, spec.clone()).await;
    assert_eq!(r.status, Status::Up, "inside its first window a push check is up");
    assert!(r.observed.last_push.is_none());
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = run_with(&prober, spec.clone()).await;
    assert_eq!(kind(&r), Some(ErrorKind::PushMissed), "{:#}", r.to_json());
    prober.push("backup", true, Some("done in 3s".into()));
    let r = run_with(&prober, spec.clone()).await;
    assert_eq!(r.status, Status::Up);
    assert_eq!(r.observed.message.as_deref(), Some("done in 3s"));
    assert!(r.observed.last_push.is_some());
    prober.push("backup", false, Some("disk full".into()));
    let r = run_with(&prober, spec.clone()).await;
    assert_eq!(kind(&r), Some(ErrorKind::PushFailed));
    assert_eq!(r.error.unwrap().message, "the last push reported a failure: disk full");
    prober.push("backup", true, None);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = run_with(&prober, spec).await;
    assert_eq!(kind(&r), Some(ErrorKind::PushMissed));
    assert!(r.error.unwrap().message.starts_with("last push "));
}

// ---------------------------------------------------------------- result shape

#[tokio::test]
async fn results_serialize_to_the_documented_json_shape() {
    let tb = testbed().await;
    let r = run(
        json!({"name": "api", "service": "backend", "kind": "http", "url": tb.http.url("/error"), "timeout": "2s"}),
    )
    .await;
    let v = r.to_json();
    assert_eq!(v["check"], "api");
    assert_eq!(v["service"], "backend");
    assert_eq!(v["kind"], "http");
    assert_eq!(v["status"], "down");
    assert!(v["at"].as_str().unwrap().ends_with('Z'));
    assert!(v["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(v["phases"]["connect_ms"].is_number());
    assert_eq!(v["observed"]["status_code"], 500);
    assert_eq!(
        v["error"],
        json!({"kind": "assertion", "message": "status: expected 200-399, got 500",
        "which": "status", "expected": "200-399", "got": "500"})
    );
    let back: CheckResult = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}
