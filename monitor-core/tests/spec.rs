//! The check spec: one model from TOML and JSON, every problem reported with its path.

use monitor_core::checks::http::{JsonOp, StatusMatch};
use monitor_core::spec::{CheckKind, CheckSpec, Spec, SpecError};
use serde_json::json;
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    match name {
        "API_TOKEN" => Some("s3cret".into()),
        "HOST" => Some("127.0.0.1".into()),
        _ => None,
    }
}

fn problems(err: SpecError) -> Vec<String> {
    err.problems().iter().map(ToString::to_string).collect()
}

const FULL_TOML: &str = r#"
[[services]]
name = "backend"
critical = ["api-health"]

[[checks]]
name     = "api-health"
service  = "backend"
kind     = "http"
url      = "https://${HOST}:8443/health"
interval = "30s"
timeout  = "5s"
retries  = 2
retry_interval = "5s"
success_threshold = 3
tags = ["prod", "eu"]
headers = { "x-token" = "${API_TOKEN}" }
[checks.expect]
status        = [200, "3xx"]
body_contains = "ok"
json          = { "$.status" = "UP", "$.count" = { ">" = 2, "<=" = 10 }, "$.items" = { exists = true } }
response_time = { max = "2s", warn = "500ms" }
certificate_expires_in = "> 14d"

[[checks]]
name = "dns"
kind = "dns"
query = "example.com"
record_type = "mx"
nameserver = "127.0.0.1:5353"
"#;

#[test]
fn toml_and_json_give_the_same_checks() {
    let from_toml = Spec::from_value_with_env(toml::from_str(FULL_TOML).unwrap(), &env).unwrap();
    let as_json = serde_json::to_string(&toml::from_str::<serde_json::Value>(FULL_TOML).unwrap()).unwrap();
    let from_json = Spec::from_value_with_env(serde_json::from_str(&as_json).unwrap(), &env).unwrap();
    assert_eq!(from_toml.checks.len(), 2);
    for (a, b) in from_toml.checks.iter().zip(&from_json.checks) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.interval, b.interval);
        assert_eq!(a.source(), b.source());
    }
    let c = &from_toml.checks[0];
    assert_eq!(c.service.as_deref(), Some("backend"));
    assert_eq!(
        (c.interval, c.timeout),
        (Duration::from_secs(30), Duration::from_secs(5))
    );
    assert_eq!(
        (c.retries, c.retry_interval, c.success_threshold),
        (2, Duration::from_secs(5), 3)
    );
    assert_eq!(c.tags, vec!["prod", "eu"]);
    assert!(c.enabled);
    let CheckKind::Http(http) = &c.kind else {
        panic!("expected an http check")
    };
    assert_eq!(http.url.as_str(), "https://127.0.0.1:8443/health");
    assert_eq!(http.headers["x-token"], "s3cret");
    assert_eq!(http.expect.status, vec![StatusMatch::Code(200), StatusMatch::Class(3)]);
    assert_eq!(http.expect.response_time.max, Some(Duration::from_secs(2)));
    assert_eq!(http.expect.response_time.warn, Some(Duration::from_millis(500)));
    assert_eq!(
        http.expect.certificate_expires_in.min,
        Some(Duration::from_secs(14 * 86_400))
    );
    let count = http.expect.json.iter().find(|j| j.path == "$.count").unwrap();
    assert_eq!(count.ops, vec![JsonOp::Gt(2.0), JsonOp::Le(10.0)]);
    assert_eq!(
        from_toml.services[0].critical.as_deref(),
        Some(&["api-health".to_string()][..])
    );
}

#[test]
fn serializing_a_spec_keeps_variable_references_not_secrets() {
    let spec = Spec::from_value_with_env(toml::from_str(FULL_TOML).unwrap(), &env).unwrap();
    let out = serde_json::to_string(&spec.checks[0]).unwrap();
    assert!(out.contains("${API_TOKEN}"), "{out}");
    assert!(!out.contains("s3cret"), "{out}");
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let text = r#"
        [[checks]]
        name = "ok"
        kind = "tcp"
        host = "127.0.0.1"
        port = 22

        [[checks]]
        name = "bad-http"
        kind = "http"
        url = "ftp://example.com"
        interval = "soon"
        retries = -1
        urll = "typo"
        [checks.expect]
        status = [200, 700, "9xx"]
        body_regex = "(unclosed"
        json = { "$.[" = 1, "$.n" = { ">" = "ten" } }
        response_time = "> 1s"

        [[checks]]
        name = "ok"
        kind = "carrier-pigeon"

        [[checks]]
        name = "x"
        kind = "dns"
        query = "example.com"
        record_type = "PTRX"
        nameserver = "not-an-ip"
    "#;
    let err = Spec::from_toml_str(text).unwrap_err();
    let got = problems(err);
    let expect_prefixes = [
        "checks[1].url: \"ftp://example.com\" is not an http:// or https:// URL",
        "checks[1].interval: \"soon\" is not a duration",
        "checks[1].retries: expected a whole number from 0 to 100, got -1",
        "checks[1].urll: unknown field (did you mean \"url\"?)",
        "checks[1].expect.status[1]: 700 is not an HTTP status",
        "checks[1].expect.status[2]: \"9xx\" is not an HTTP status or class",
        "checks[1].expect.body_regex[0]: invalid regular expression",
        "checks[1].expect.json[\"$.[\"]: \"$.[\" is not a JSONPath",
        "checks[1].expect.json[\"$.n\"][\">\"]: > needs a number, got a string",
        "checks[1].expect.response_time: \"> 1s\": this bound is written with \"<\"",
        "checks[2].kind: \"carrier-pigeon\" is not a kind of check",
        "checks[3].record_type: \"PTRX\" is not a supported record type",
        "checks[3].nameserver: \"not-an-ip\" is not an IP address",
        "checks[2].name: \"ok\" is already used by checks[0]",
    ];
    for want in expect_prefixes {
        assert!(
            got.iter().any(|g| g.starts_with(want)),
            "missing {want:?} in:\n{}",
            got.join("\n")
        );
    }
    assert_eq!(
        got.len(),
        expect_prefixes.len(),
        "unexpected extra problems:\n{}",
        got.join("\n")
    );
}

#[test]
fn the_design_example_message_is_exact() {
    let err = Spec::from_value(json!({"checks": [
        {"name": "a", "kind": "push"}, {"name": "b", "kind": "push"},
        {"name": "c", "kind": "http", "url": "http://x", "expect": {"status": 700}}
    ]}))
    .unwrap_err();
    assert_eq!(err.to_string(), "checks[2].expect.status: 700 is not an HTTP status");
}

#[test]
fn unset_environment_variables_are_errors_naming_the_field() {
    let err = CheckSpec::from_value_with_env(
        json!({"name": "a", "kind": "http", "url": "http://x/", "bearer_token": "${MISSING_TOKEN}"}),
        &env,
    )
    .unwrap_err();
    assert_eq!(
        problems(err),
        vec!["bearer_token: environment variable MISSING_TOKEN is not set"]
    );
}

#[test]
fn required_fields_and_types_are_checked_per_kind() {
    let cases = [
        (json!({"kind": "tcp", "host": "h", "port": 1}), "name: is required"),
        (json!({"name": "a"}), "kind: is required"),
        (json!({"name": "a", "kind": "tcp", "host": "h"}), "port: is required"),
        (
            json!({"name": "a", "kind": "tcp", "host": "h", "port": 70000}),
            "port: expected a whole number from 1 to 65535, got 70000",
        ),
        (json!({"name": "a", "kind": "http"}), "url: is required"),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "interval": 30}),
            "interval: expected a duration string like \"30s\", got a number",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "interval": "10s", "timeout": "30s"}),
            "timeout: 30.00s is longer than the interval (10.00s)",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "expect": {"certificate_expires_in": "> 7d"}}),
            "expect.certificate_expires_in: needs an https:// url",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "ca_file": "/nonexistent/ca.pem"}),
            "ca_file: could not read /nonexistent/ca.pem",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "method": "GE T"}),
            "method: \"GE T\" is not an HTTP method",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "max_body": "lots"}),
            "max_body: \"lots\" is not a size",
        ),
        (
            json!({"name": "a", "kind": "http", "url": "http://x", "basic_auth": {"username": "u"}, "bearer_token": "t"}),
            "bearer_token: use either basic_auth or bearer_token, not both",
        ),
        (
            json!({"name": "a", "kind": "icmp", "host": "h", "expect": {"max_packet_loss": "150%"}}),
            "expect.max_packet_loss: expected a percentage",
        ),
        (
            json!({"name": "a", "kind": "dns", "query": "x", "expect": {"rcode": "NOPE"}}),
            "expect.rcode: \"NOPE\" is not a DNS response code",
        ),
        (
            json!({"name": "a", "kind": "tls", "host": "h", "expect": {"certificate_expires_in": {"min": "14d", "warn": "7d"}}}),
            "expect.certificate_expires_in: warn (7.0d) must be inside min (14.0d)",
        ),
        (json!({"name": "", "kind": "push"}), "name: must not be empty"),
    ];
    for (value, want) in cases {
        let got = problems(CheckSpec::from_value(value.clone()).unwrap_err());
        assert!(
            got.iter().any(|g| g.starts_with(want)),
            "for {value}: wanted {want:?}, got {got:?}"
        );
    }
}

#[test]
fn defaults_are_what_the_docs_say() {
    let c = CheckSpec::from_value(json!({"name": "a", "kind": "http", "url": "http://127.0.0.1/"})).unwrap();
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!((c.retries, c.success_threshold, c.enabled), (0, 1, true));
    let CheckKind::Http(h) = &c.kind else { panic!() };
    assert_eq!(
        (h.follow_redirects, h.max_redirects, h.max_body),
        (true, 5, 1024 * 1024)
    );
    assert!(!h.tls.skip_verify, "TLS verification is on unless a check turns it off");
    let p = CheckSpec::from_value(json!({"name": "p", "kind": "push", "interval": "1h"})).unwrap();
    let CheckKind::Push(push) = &p.kind else { panic!() };
    assert_eq!(push.grace, Duration::from_secs(360));
}

#[test]
fn a_spec_deserializes_through_serde_with_validation() {
    let ok: Result<CheckSpec, _> = serde_json::from_value(json!({"name": "a", "kind": "push"}));
    assert!(ok.is_ok());
    let bad: Result<CheckSpec, _> = serde_json::from_value(json!({"name": "a", "kind": "http", "url": "nope"}));
    assert!(bad.unwrap_err().to_string().contains("url: \"nope\" is not a URL"));
}

#[test]
fn syntax_errors_name_the_format_and_line() {
    let err = Spec::from_toml_str("[[checks]]\nname = \n").unwrap_err();
    assert!(matches!(err, SpecError::Syntax { format: "TOML", .. }), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = Spec::from_json_str("{\"checks\": [}").unwrap_err();
    assert!(matches!(err, SpecError::Syntax { format: "JSON", .. }), "{err}");
}

#[test]
fn services_critical_checks_must_belong_to_the_service() {
    let err = Spec::from_value(json!({
        "services": [{"name": "backend", "critical": ["db"]}],
        "checks": [{"name": "db", "kind": "push", "service": "other"}]
    }))
    .unwrap_err();
    assert_eq!(
        problems(err),
        vec!["services[0].critical[0]: \"db\" is not a check of service \"backend\""]
    );
}
