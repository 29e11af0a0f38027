//! upwatch quickstart: starts real targets on loopback (HTTP, HTTPS with test
//! certificates, a DNS zone, TCP listeners), loads a TOML spec that checks them, runs
//! every check once and prints the results.
//!
//! Run: `cargo run --example quickstart` (add `-- --json` for one JSON line per result).

use futures_util::future::join_all;
use monitor_core::{spec::Spec, CheckResult, Prober, Status};
use upwatch_testbed::Testbed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let json_output = std::env::args().any(|a| a == "--json");
    let tb = Testbed::start().await?;
    let spec = Spec::from_toml_str(&spec_for(&tb))?;
    let prober = Prober::new();
    prober.push("nightly-backup", true, Some("backed up 1.2 GiB in 41s".into()));

    let results: Vec<CheckResult> = join_all(spec.checks.iter().map(|c| prober.run(c))).await;
    if json_output {
        for r in &results {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    println!(
        "upwatch quickstart: {} checks against targets on 127.0.0.1\n",
        results.len()
    );
    println!("{:<9} {:<18} {:<5} {:>9}  detail", "STATUS", "CHECK", "KIND", "TIME");
    for r in &results {
        println!(
            "{:<9} {:<18} {:<5} {:>7.1}ms  {}",
            badge(r.status),
            r.check,
            r.kind,
            r.duration_ms,
            detail(r)
        );
    }
    let down = results.iter().filter(|r| r.status == Status::Down).count();
    let degraded = results.iter().filter(|r| r.status == Status::Degraded).count();
    println!(
        "\n{} up, {degraded} degraded, {down} down (some targets are broken on purpose)",
        results.len() - down - degraded
    );
    println!(
        "\none result as JSON, the shape every binding hands out:\n{}",
        serde_json::to_string_pretty(&results[0])?
    );
    Ok(())
}

fn badge(s: Status) -> &'static str {
    match s {
        Status::Up => "up",
        Status::Degraded => "DEGRADED",
        Status::Down => "DOWN",
    }
}

fn detail(r: &CheckResult) -> String {
    if let Some(e) = &r.error {
        return format!("{}: {}", e.kind.as_str(), e.message);
    }
    if let Some(w) = r.warnings.first() {
        return format!("warning: {w}");
    }
    let o = &r.observed;
    let mut parts = Vec::new();
    if let Some(code) = o.status_code {
        parts.push(format!("HTTP {code}"));
    }
    if let Some(v) = &o.http_version {
        parts.push(v.to_string());
    }
    if let Some(c) = &o.certificate {
        parts.push(format!("cert {:.0} days left", c.days_left));
    }
    if !o.answers.is_empty() {
        parts.push(o.answers.join(", "));
    }
    if let Some(b) = &o.banner {
        parts.push(format!("banner {:?}", b.trim_end()));
    }
    if let Some(avg) = o.rtt_avg_ms {
        parts.push(format!("rtt {avg:.3}ms"));
    }
    if let Some(m) = &o.message {
        parts.push(format!("last push: {m}"));
    }
    parts.join(", ")
}

fn spec_for(tb: &Testbed) -> String {
    let ca = tb.certs.ca_file.display();
    format!(
        r#"
[[checks]]
name = "api-health"
service = "backend"
kind = "http"
url = "{health}"
[checks.expect]
status = [200]
json = {{ "$.status" = "UP", "$.uptime_s" = {{ ">" = 60 }} }}
headers = {{ "content-type" = "application/json" }}
response_time = {{ max = "2s", warn = "500ms" }}

[[checks]]
name = "api-errors"
service = "backend"
kind = "http"
url = "{error}"

[[checks]]
name = "api-slow"
service = "backend"
kind = "http"
url = "{slow}"
[checks.expect]
response_time = {{ max = "2s", warn = "100ms" }}

[[checks]]
name = "site-https"
service = "frontend"
kind = "http"
url = "{https}"
ca_file = "{ca}"
[checks.expect]
certificate_expires_in = {{ min = "1d", warn = "14d" }}

[[checks]]
name = "old-cert"
service = "frontend"
kind = "tls"
host = "127.0.0.1"
port = {expired_port}
ca_file = "{ca}"

[[checks]]
name = "mail-mx"
kind = "dns"
query = "upwatch.test"
record_type = "MX"
nameserver = "{dns}"
[checks.expect]
contains = ["10 mail.upwatch.test"]

[[checks]]
name = "ssh-banner"
kind = "tcp"
host = "127.0.0.1"
port = {banner_port}
[checks.expect]
banner = '^SSH-2\.0-'

[[checks]]
name = "loopback-ping"
kind = "icmp"
host = "127.0.0.1"
count = 3
ping_interval = "20ms"

[[checks]]
name = "nightly-backup"
kind = "push"
interval = "24h"
"#,
        health = tb.http.url("/health"),
        error = tb.http.url("/error"),
        slow = tb.http.url("/slow?ms=250"),
        https = tb.tls.expiring_soon.url("/health"),
        expired_port = tb.tls.expired.addr.port(),
        dns = tb.dns.addr,
        banner_port = tb.tcp.banner.port(),
    )
}
