//! The current state in the Prometheus text exposition format (version 0.0.4), so a
//! host application can serve it on its own `/metrics`.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `upwatch_check_up` | gauge | check, service, kind |
//! | `upwatch_check_status` | gauge (one series per status) | check, service, kind, status |
//! | `upwatch_check_duration_seconds` | gauge, latest attempt | check, service, kind, phase (`total`, `dns`, `connect`, `tls`, `first_byte`, `transfer`) |
//! | `upwatch_certificate_expiry_seconds` | gauge, negative once expired | check, service, kind |
//! | `upwatch_check_runs_total`, `upwatch_check_failures_total`, `upwatch_check_skipped_runs_total` | counter | check, service, kind |
//! | `upwatch_service_up`, `upwatch_service_status` | gauge | service (, status) |
//!
//! With a host snapshot ([`render_with_host`]; a monitor passes its latest):
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `upwatch_host_cpu_ratio` | gauge, 0 to 1 | |
//! | `upwatch_host_load1`, `upwatch_host_load5`, `upwatch_host_load15` | gauge | |
//! | `upwatch_host_memory_bytes` | gauge | state (`total`, `used`, `available`) |
//! | `upwatch_host_swap_bytes` | gauge | state (`total`, `used`, `free`) |
//! | `upwatch_host_disk_bytes` | gauge | mount, state (`total`, `used`, `free`) |
//! | `upwatch_host_network_bytes_total` | counter | interface, direction (`rx`, `tx`) |
//! | `upwatch_host_uptime_seconds` | gauge | |

use std::fmt::Write;

use crate::host::HostSnapshot;
use crate::result::Status;
use crate::state::{CheckStatus, StatusSnapshot};

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn check_labels(c: &CheckStatus) -> String {
    format!(
        "check=\"{}\",service=\"{}\",kind=\"{}\"",
        escape(&c.check),
        escape(c.service.as_deref().unwrap_or("")),
        escape(&c.kind)
    )
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A per-check counter: name, help, and how to read it.
type Counter = (&'static str, &'static str, fn(&CheckStatus) -> u64);

const STATUSES: [Status; 3] = [Status::Up, Status::Degraded, Status::Down];

/// Renders a snapshot.
///
/// ```
/// use monitor_core::{export::prometheus::render, StatusSnapshot};
/// let text = render(&StatusSnapshot::default());
/// assert!(text.contains("# TYPE upwatch_check_up gauge"));
/// ```
pub fn render(s: &StatusSnapshot) -> String {
    render_with_host(s, None)
}

/// Renders a snapshot and, when given, the host's statistics.
///
/// ```
/// use monitor_core::{export::prometheus::render_with_host, HostSampler, StatusSnapshot};
/// let host = HostSampler::new().unwrap().sample();
/// let text = render_with_host(&StatusSnapshot::default(), Some(&host));
/// assert!(text.contains("upwatch_host_memory_bytes{state=\"total\"}"));
/// ```
pub fn render_with_host(s: &StatusSnapshot, host: Option<&HostSnapshot>) -> String {
    let mut out = String::with_capacity(256 + s.checks.len() * 1024 + host.map_or(0, |_| 2048));
    let labels: Vec<String> = s.checks.iter().map(check_labels).collect();

    header(
        &mut out,
        "upwatch_check_up",
        "gauge",
        "1 when the check's settled status is up or degraded, 0 when down.",
    );
    for (c, l) in s.checks.iter().zip(&labels) {
        if let Some(st) = c.status {
            let _ = writeln!(out, "upwatch_check_up{{{l}}} {}", u8::from(st != Status::Down));
        }
    }
    header(
        &mut out,
        "upwatch_check_status",
        "gauge",
        "The check's settled status: 1 on the series of the current status.",
    );
    for (c, l) in s.checks.iter().zip(&labels) {
        for st in STATUSES {
            let _ = writeln!(
                out,
                "upwatch_check_status{{{l},status=\"{st}\"}} {}",
                u8::from(c.status == Some(st))
            );
        }
    }
    header(
        &mut out,
        "upwatch_check_duration_seconds",
        "gauge",
        "Duration of the latest attempt, in total and by phase.",
    );
    for (c, l) in s.checks.iter().zip(&labels) {
        let Some(r) = &c.last_result else { continue };
        let p = &r.phases;
        let phases = [
            ("total", Some(r.duration_ms)),
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("first_byte", p.first_byte_ms),
            ("transfer", p.transfer_ms),
        ];
        for (phase, v) in phases {
            if let Some(ms) = v {
                let _ = writeln!(
                    out,
                    "upwatch_check_duration_seconds{{{l},phase=\"{phase}\"}} {}",
                    ms / 1000.0
                );
            }
        }
    }
    header(
        &mut out,
        "upwatch_certificate_expiry_seconds",
        "gauge",
        "Seconds until the certificate seen by the check expires (negative once expired).",
    );
    for (c, l) in s.checks.iter().zip(&labels) {
        if let Some(cert) = c.last_result.as_ref().and_then(|r| r.observed.certificate.as_ref()) {
            let left = (cert.not_after - s.at).num_seconds();
            let _ = writeln!(out, "upwatch_certificate_expiry_seconds{{{l}}} {left}");
        }
    }
    let counters: [Counter; 3] = [
        ("upwatch_check_runs_total", "Attempts run.", |c| c.runs),
        ("upwatch_check_failures_total", "Attempts that failed.", |c| c.failures),
        (
            "upwatch_check_skipped_runs_total",
            "Scheduled runs skipped because the previous run was still going.",
            |c| c.skipped,
        ),
    ];
    for (name, help, value) in counters {
        header(&mut out, name, "counter", help);
        for (c, l) in s.checks.iter().zip(&labels) {
            let _ = writeln!(out, "{name}{{{l}}} {}", value(c));
        }
    }
    header(
        &mut out,
        "upwatch_service_up",
        "gauge",
        "1 when the service is up or degraded, 0 when down.",
    );
    for svc in &s.services {
        if let Some(st) = svc.status {
            let _ = writeln!(
                out,
                "upwatch_service_up{{service=\"{}\"}} {}",
                escape(&svc.service),
                u8::from(st != Status::Down)
            );
        }
    }
    header(
        &mut out,
        "upwatch_service_status",
        "gauge",
        "The service's status: 1 on the series of the current status.",
    );
    for svc in &s.services {
        for st in STATUSES {
            let _ = writeln!(
                out,
                "upwatch_service_status{{service=\"{}\",status=\"{st}\"}} {}",
                escape(&svc.service),
                u8::from(svc.status == Some(st))
            );
        }
    }
    if let Some(h) = host {
        render_host(&mut out, h);
    }
    out
}

fn render_host(out: &mut String, h: &HostSnapshot) {
    header(
        out,
        "upwatch_host_cpu_ratio",
        "gauge",
        "Busy time of all CPUs together over the last sampling interval, from 0 to 1.",
    );
    let _ = writeln!(out, "upwatch_host_cpu_ratio {}", h.cpu_pct / 100.0);
    for (name, minutes, value) in [
        ("upwatch_host_load1", 1, h.load1),
        ("upwatch_host_load5", 5, h.load5),
        ("upwatch_host_load15", 15, h.load15),
    ] {
        header(out, name, "gauge", &format!("Load average over {minutes} minute(s)."));
        let _ = writeln!(out, "{name} {value}");
    }
    header(out, "upwatch_host_memory_bytes", "gauge", "Physical memory, in bytes.");
    let m = &h.memory;
    for (state, v) in [("total", m.total), ("used", m.used), ("available", m.available)] {
        let _ = writeln!(out, "upwatch_host_memory_bytes{{state=\"{state}\"}} {v}");
    }
    header(out, "upwatch_host_swap_bytes", "gauge", "Swap, in bytes.");
    let w = &h.swap;
    for (state, v) in [("total", w.total), ("used", w.used), ("free", w.free)] {
        let _ = writeln!(out, "upwatch_host_swap_bytes{{state=\"{state}\"}} {v}");
    }
    header(
        out,
        "upwatch_host_disk_bytes",
        "gauge",
        "Size of each mounted file system, in bytes.",
    );
    for d in &h.disks {
        let mount = escape(&d.mount);
        for (state, v) in [("total", d.total), ("used", d.used), ("free", d.free)] {
            let _ = writeln!(
                out,
                "upwatch_host_disk_bytes{{mount=\"{mount}\",state=\"{state}\"}} {v}"
            );
        }
    }
    header(
        out,
        "upwatch_host_network_bytes_total",
        "counter",
        "Bytes received (rx) and sent (tx) by each network interface since boot.",
    );
    for n in &h.networks {
        let interface = escape(&n.name);
        for (direction, v) in [("rx", n.rx_bytes), ("tx", n.tx_bytes)] {
            let _ = writeln!(
                out,
                "upwatch_host_network_bytes_total{{interface=\"{interface}\",direction=\"{direction}\"}} {v}"
            );
        }
    }
    header(
        out,
        "upwatch_host_uptime_seconds",
        "gauge",
        "Seconds since the host booted.",
    );
    let _ = writeln!(out, "upwatch_host_uptime_seconds {}", h.uptime_s);
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
