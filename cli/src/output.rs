//! What the agent prints: the status table (live for `run` and `demo`, once for `check`),
//! the one-line summaries in its DETAIL column, and JSON lines.
//!
//! Rendering is plain functions from a [`StatusSnapshot`] or from results to lines of text,
//! so it is tested without a terminal. Colours are plain ANSI escape codes, used only on a
//! terminal and never when `NO_COLOR` is set.

use chrono::{DateTime, Utc};
use monitor_core::bus::Delivery;
use monitor_core::spec::{ServiceSpec, Spec};
use monitor_core::state::{service_status, StatusSnapshot};
use monitor_core::{CheckResult, Status};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Moves the cursor home, for redrawing a frame in place.
pub const HOME: &str = "\x1b[H";
/// Clears the rest of the line.
pub const CLEAR_LINE: &str = "\x1b[K";
/// Clears from the cursor to the end of the screen.
pub const CLEAR_BELOW: &str = "\x1b[J";
/// Clears the screen, hides the cursor and turns line wrapping off (long lines are cut at
/// the edge of the terminal instead of breaking the table).
pub const ENTER_LIVE: &str = "\x1b[2J\x1b[H\x1b[?25l\x1b[?7l";
/// Undoes [`ENTER_LIVE`], keeping what is on the screen.
pub const LEAVE_LIVE: &str = "\x1b[?7h\x1b[?25h";

/// Whether to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    color: bool,
}

impl Palette {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Palette {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Palette {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// No colours.
    #[cfg(test)]
    pub fn plain() -> Palette {
        Palette { color: false }
    }

    fn wrap(&self, codes: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{codes}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }

    fn label(&self, label: Label, text: &str) -> String {
        match label {
            Label::Up => self.wrap("32", text),
            Label::Degraded => self.wrap("33", text),
            Label::Down => self.wrap("1;31", text),
            Label::Pending | Label::Paused => self.dim(text),
        }
    }
}

/// What the STATUS column says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// Every assertion held.
    Up,
    /// Passed, but crossed a soft bound.
    Degraded,
    /// Failed.
    Down,
    /// No status yet.
    Pending,
    /// Not scheduled.
    Paused,
}

impl Label {
    /// The label of a status; `None` is pending.
    pub fn of(status: Option<Status>) -> Label {
        match status {
            Some(Status::Up) => Label::Up,
            Some(Status::Degraded) => Label::Degraded,
            Some(Status::Down) => Label::Down,
            None => Label::Pending,
        }
    }

    /// The word shown; `DOWN` is upper case so it stands out without colours too.
    pub fn text(self) -> &'static str {
        match self {
            Label::Up => "up",
            Label::Degraded => "degraded",
            Label::Down => "DOWN",
            Label::Pending => "pending",
            Label::Paused => "paused",
        }
    }
}

/// How many checks have each label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Up.
    pub up: usize,
    /// Degraded.
    pub degraded: usize,
    /// Down.
    pub down: usize,
    /// Pending.
    pub pending: usize,
    /// Paused.
    pub paused: usize,
}

impl Counts {
    /// Counts one more check.
    pub fn add(&mut self, label: Label) {
        match label {
            Label::Up => self.up += 1,
            Label::Degraded => self.degraded += 1,
            Label::Down => self.down += 1,
            Label::Pending => self.pending += 1,
            Label::Paused => self.paused += 1,
        }
    }

    /// All checks counted.
    pub fn total(&self) -> usize {
        self.up + self.degraded + self.down + self.pending + self.paused
    }

    /// `5 up, 2 degraded, 1 down`: the labels that occur (`0 checks` when none does).
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            (self.up, "up"),
            (self.degraded, "degraded"),
            (self.down, "down"),
            (self.pending, "pending"),
            (self.paused, "paused"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        if parts.is_empty() {
            "0 checks".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The order checks and services are shown in: the spec's, not alphabetical.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// Check names, in file order.
    pub checks: Vec<String>,
    /// Declared services in file order, then services only named by checks.
    pub services: Vec<String>,
}

impl Order {
    /// The order of a spec's checks and services.
    pub fn of(spec: &Spec) -> Order {
        let checks = spec.checks.iter().map(|c| c.name.clone()).collect();
        let mut services: Vec<String> = spec.services.iter().map(|s| s.name.clone()).collect();
        for c in &spec.checks {
            if let Some(s) = &c.service {
                if !services.contains(s) {
                    services.push(s.clone());
                }
            }
        }
        Order { checks, services }
    }

    /// Where a check goes (unknown names last).
    fn check_rank(&self, name: &str) -> usize {
        self.checks.iter().position(|c| c == name).unwrap_or(usize::MAX)
    }

    /// Where a service goes (unknown names last).
    fn service_rank(&self, name: &str) -> usize {
        self.services.iter().position(|s| s == name).unwrap_or(usize::MAX)
    }
}

/// One line of the checks table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// STATUS.
    pub label: Label,
    /// CHECK.
    pub check: String,
    /// SERVICE (`-` for none).
    pub service: String,
    /// KIND.
    pub kind: String,
    /// LAST: the last run's duration.
    pub last: String,
    /// DETAIL: the error, the warning, or what was observed.
    pub detail: String,
}

/// One line of the services table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRow {
    /// The service.
    pub service: String,
    /// Its derived status.
    pub label: Label,
    /// Its checks, by label.
    pub counts: Counts,
}

/// The rows of a live snapshot, in `order`.
pub fn snapshot_rows(snapshot: &StatusSnapshot, order: &Order, now: DateTime<Utc>) -> (Vec<Row>, Vec<ServiceRow>) {
    let mut checks: Vec<_> = snapshot.checks.iter().collect();
    checks.sort_by_key(|c| (order.check_rank(&c.check), c.check.clone()));
    let rows: Vec<Row> = checks
        .iter()
        .map(|c| {
            let label = if c.paused { Label::Paused } else { Label::of(c.status) };
            let detail = match &c.last_result {
                _ if c.paused => "paused".to_string(),
                None => "waiting for the first run".to_string(),
                Some(r) if r.status == Status::Down && c.status != Some(Status::Down) => {
                    let n = c.consecutive_failures;
                    let attempts = if n == 1 { "attempt" } else { "attempts" };
                    format!("retrying after {n} failed {attempts}: {}", detail(r, now))
                }
                Some(r) => detail(r, now),
            };
            Row {
                label,
                check: c.check.clone(),
                service: c.service.clone().unwrap_or_else(|| "-".into()),
                kind: c.kind.clone(),
                last: c
                    .last_result
                    .as_ref()
                    .map_or_else(|| "-".into(), |r| millis(r.duration_ms)),
                detail,
            }
        })
        .collect();
    let mut services: Vec<_> = snapshot.services.iter().collect();
    services.sort_by_key(|s| (order.service_rank(&s.service), s.service.clone()));
    let service_rows = services
        .iter()
        .map(|s| {
            let mut counts = Counts::default();
            for r in rows.iter().filter(|r| s.checks.contains(&r.check)) {
                counts.add(r.label);
            }
            ServiceRow {
                service: s.service.clone(),
                label: Label::of(s.status),
                counts,
            }
        })
        .collect();
    (rows, service_rows)
}

/// The rows of one round of results (`upwatch check`); services are derived from the
/// results the way the monitor derives them from settled statuses.
pub fn result_rows(results: &[CheckResult], declared: &[ServiceSpec], order: &Order) -> (Vec<Row>, Vec<ServiceRow>) {
    let now = Utc::now();
    let rows: Vec<Row> = results
        .iter()
        .map(|r| Row {
            label: Label::of(Some(r.status)),
            check: r.check.clone(),
            service: r.service.clone().unwrap_or_else(|| "-".into()),
            kind: r.kind.to_string(),
            last: millis(r.duration_ms),
            detail: detail(r, now),
        })
        .collect();
    let services = order
        .services
        .iter()
        .map(|name| {
            let members: Vec<(&str, Option<Status>)> = results
                .iter()
                .filter(|r| r.service.as_deref() == Some(name))
                .map(|r| (r.check.as_str(), Some(r.status)))
                .collect();
            let critical = declared
                .iter()
                .find(|s| &s.name == name)
                .and_then(|s| s.critical.as_deref());
            let mut counts = Counts::default();
            for (_, s) in &members {
                counts.add(Label::of(*s));
            }
            ServiceRow {
                service: name.clone(),
                label: Label::of(service_status(&members, critical)),
                counts,
            }
        })
        .collect();
    (rows, services)
}

/// The checks table, the services table (when there are services) and the counts line.
pub fn tables(rows: &[Row], services: &[ServiceRow], palette: &Palette) -> Vec<String> {
    let mut lines = Vec::new();
    let width = |header: &str, cells: &mut dyn Iterator<Item = usize>| cells.fold(header.len(), usize::max);
    // Wide enough for every label, so the services table lines up with the checks table.
    let w_status = "degraded".len();
    let w_check = width("CHECK", &mut rows.iter().map(|r| r.check.chars().count()));
    let w_service = width("SERVICE", &mut rows.iter().map(|r| r.service.chars().count()));
    let w_kind = width("KIND", &mut rows.iter().map(|r| r.kind.len()));
    let w_last = width("LAST", &mut rows.iter().map(|r| r.last.len()));
    lines.push(palette.bold(&format!(
        "{:<w_status$}  {:<w_check$}  {:<w_service$}  {:<w_kind$}  {:>w_last$}  DETAIL",
        "STATUS", "CHECK", "SERVICE", "KIND", "LAST"
    )));
    let mut counts = Counts::default();
    for r in rows {
        counts.add(r.label);
        let status = palette.label(r.label, &format!("{:<w_status$}", r.label.text()));
        lines.push(
            format!(
                "{status}  {:<w_check$}  {:<w_service$}  {:<w_kind$}  {:>w_last$}  {}",
                r.check, r.service, r.kind, r.last, r.detail
            )
            .trim_end()
            .to_string(),
        );
    }
    if !services.is_empty() {
        let w_name = width("SERVICE", &mut services.iter().map(|s| s.service.chars().count()));
        lines.push(String::new());
        lines.push(palette.bold(&format!("{:<w_name$}  {:<w_status$}  CHECKS", "SERVICE", "STATUS")));
        for s in services {
            let status = palette.label(s.label, &format!("{:<w_status$}", s.label.text()));
            lines.push(format!("{:<w_name$}  {status}  {}", s.service, s.counts.summary()));
        }
    }
    lines.push(String::new());
    let total = counts.total();
    let noun = if total == 1 { "check" } else { "checks" };
    lines.push(format!("{total} {noun}: {}", counts.summary()));
    lines
}

/// A whole live frame: title, optional intro, the tables, and the counts line ending with
/// the time of the snapshot and `note` (`Ctrl-C to stop`).
pub fn live_frame(
    snapshot: &StatusSnapshot,
    order: &Order,
    title: &str,
    intro: Option<&str>,
    note: &str,
    palette: &Palette,
) -> Vec<String> {
    let (rows, services) = snapshot_rows(snapshot, order, snapshot.at);
    let mut lines = vec![palette.bold(title)];
    if let Some(intro) = intro {
        lines.push(intro.to_string());
    }
    lines.push(String::new());
    lines.extend(tables(&rows, &services, palette));
    let clock = snapshot.at.with_timezone(&chrono::Local).format("%H:%M:%S");
    if let Some(last) = lines.last_mut() {
        last.push_str(&palette.dim(&format!("  ·  updated {clock}  ·  {note}")));
    }
    lines
}

/// Lines as one write that redraws the screen in place, without flicker.
pub fn redraw(lines: &[String]) -> String {
    let mut out = String::from(HOME);
    for line in lines {
        out.push_str(line);
        out.push_str(CLEAR_LINE);
        out.push('\n');
    }
    out.push_str(CLEAR_BELOW);
    out
}

/// One JSON line for a delivery: the event itself, or `{"event":"lagged","missed":N}`.
pub fn event_line(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Event(event) => event.to_json().to_string(),
        Delivery::Lagged { missed } => serde_json::json!({ "event": "lagged", "missed": missed }).to_string(),
    }
}

/// Writes one line to stdout at once; an error means nobody reads it any more.
pub fn print_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A run's duration: `3.4ms` below 10 ms, `254ms` above.
pub fn millis(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// The DETAIL column: the error, else the first warning, else a summary of what was seen.
pub fn detail(r: &CheckResult, now: DateTime<Utc>) -> String {
    if let Some(e) = &r.error {
        let more = r.failed_assertions.len().saturating_sub(1);
        return if more > 0 {
            format!("{} (+{more} more)", e.message)
        } else {
            e.message.clone()
        };
    }
    if let Some(w) = r.warnings.first() {
        return format!("warning: {w}");
    }
    observed(r, now)
}

/// A short summary of what a passing check saw.
fn observed(r: &CheckResult, now: DateTime<Utc>) -> String {
    let o = &r.observed;
    let mut parts = Vec::new();
    match (&o.http_version, o.status_code) {
        (Some(v), Some(code)) => parts.push(format!("{v} {code}")),
        (None, Some(code)) => parts.push(format!("HTTP {code}")),
        _ => {}
    }
    if let Some(n) = o.redirects.filter(|n| *n > 0) {
        parts.push(format!("{n} redirect{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(c) = &o.certificate {
        let days = c.days_left;
        let left = if days < 10.0 {
            format!("{days:.1}")
        } else {
            format!("{days:.0}")
        };
        parts.push(format!("certificate expires in {left} days"));
    }
    if let Some(rcode) = &o.rcode {
        if o.answers.is_empty() {
            parts.push(rcode.clone());
        } else {
            parts.push(o.answers.join(", "));
        }
    }
    if let Some(b) = &o.banner {
        parts.push(format!("banner {:?}", b.trim_end()));
    } else if r.kind == "tcp" {
        if let Some(addr) = &o.remote_addr {
            parts.push(format!("connected to {addr}"));
        }
    }
    if let (Some(sent), Some(received)) = (o.packets_sent, o.packets_received) {
        parts.push(format!("{received}/{sent} replies"));
    }
    if let Some(avg) = o.rtt_avg_ms {
        parts.push(format!("rtt {avg:.2}ms"));
    }
    if r.kind == "push" {
        match o.last_push {
            Some(at) => {
                let ago = (now - at).to_std().unwrap_or_default();
                let ago = humantime::format_duration(Duration::from_secs(ago.as_secs()));
                parts.push(match &o.message {
                    Some(m) => format!("last push {ago} ago: {m}"),
                    None => format!("last push {ago} ago"),
                });
            }
            None => parts.push("no push yet".into()),
        }
    } else if let Some(m) = &o.message {
        parts.push(m.clone());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_core::state::{CheckStatus, ServiceStatus};
    use monitor_core::CheckError;

    fn result(check: &str, status: Status) -> CheckResult {
        serde_json::from_value(serde_json::json!({
            "check": check, "service": "shop", "kind": "http", "status": status,
            "at": "2026-11-21T10:00:00Z", "duration_ms": 3.42,
            "observed": {"status_code": 200, "http_version": "HTTP/1.1"}
        }))
        .unwrap()
    }

    fn check_status(r: CheckResult, status: Option<Status>) -> CheckStatus {
        CheckStatus {
            check: r.check.clone(),
            service: r.service.clone(),
            kind: r.kind.to_string(),
            tags: vec![],
            status,
            paused: false,
            consecutive_failures: u32::from(r.status == Status::Down),
            since: None,
            runs: 1,
            failures: 0,
            skipped: 0,
            last_result: Some(r),
        }
    }

    fn snapshot() -> StatusSnapshot {
        let mut down = result("checkout", Status::Down);
        down.error = Some(CheckError::new(
            monitor_core::ErrorKind::Assertion,
            "status: expected 200, got 500",
        ));
        down.duration_ms = 254.4;
        StatusSnapshot {
            at: "2026-11-21T10:00:00Z".parse().unwrap(),
            checks: vec![
                check_status(down, Some(Status::Down)),
                check_status(result("home", Status::Up), Some(Status::Up)),
                CheckStatus {
                    last_result: None,
                    ..check_status(result("search", Status::Up), None)
                },
            ],
            services: vec![ServiceStatus {
                service: "shop".into(),
                status: Some(Status::Degraded),
                checks: vec!["checkout".into(), "home".into(), "search".into()],
                critical: None,
                description: None,
            }],
            history: Default::default(),
            alerts: Default::default(),
        }
    }

    #[test]
    fn the_live_table_follows_the_spec_order_and_aligns() {
        let order = Order {
            checks: vec!["home".into(), "checkout".into(), "search".into()],
            services: vec!["shop".into()],
        };
        let lines = live_frame(
            &snapshot(),
            &order,
            "upwatch · up.toml",
            None,
            "Ctrl-C to stop",
            &Palette::plain(),
        );
        let text = lines.join("\n");
        let expected = "\
upwatch · up.toml

STATUS    CHECK     SERVICE  KIND   LAST  DETAIL
up        home      shop     http  3.4ms  HTTP/1.1 200
DOWN      checkout  shop     http  254ms  status: expected 200, got 500
pending   search    shop     http      -  waiting for the first run

SERVICE  STATUS    CHECKS
shop     degraded  1 up, 1 down, 1 pending

3 checks: 1 up, 1 down, 1 pending";
        assert!(text.starts_with(expected), "{text}");
        assert!(text.ends_with("Ctrl-C to stop"), "{text}");
    }

    #[test]
    fn a_failure_within_retries_says_so() {
        let mut snap = snapshot();
        snap.checks[0].status = Some(Status::Up);
        let (rows, _) = snapshot_rows(&snap, &Order::default(), snap.at);
        assert_eq!(rows[0].label, Label::Up);
        assert_eq!(
            rows[0].detail,
            "retrying after 1 failed attempt: status: expected 200, got 500"
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let (rows, services) = snapshot_rows(&snapshot(), &Order::default(), snapshot().at);
        let plain = tables(&rows, &services, &Palette::plain()).join("\n");
        assert!(!plain.contains('\x1b'));
        let colored = tables(&rows, &services, &Palette { color: true }).join("\n");
        assert!(colored.contains("\x1b[1;31mDOWN    \x1b[0m"), "{colored:?}");
    }

    #[test]
    fn services_of_one_round_are_derived_with_critical_checks() {
        let results = [result("home", Status::Up), result("checkout", Status::Down)];
        let declared = [ServiceSpec {
            name: "shop".into(),
            description: None,
            critical: Some(vec!["checkout".into()]),
        }];
        let order = Order {
            checks: vec![],
            services: vec!["shop".into()],
        };
        let (_, services) = result_rows(&results, &declared, &order);
        assert_eq!(services[0].label, Label::Down);
        assert_eq!(services[0].counts.summary(), "1 up, 1 down");
    }

    #[test]
    fn lagging_is_a_json_line_too() {
        assert_eq!(
            event_line(&Delivery::Lagged { missed: 7 }),
            r#"{"event":"lagged","missed":7}"#
        );
    }

    #[test]
    fn push_details_say_how_long_ago() {
        let mut r = result("heartbeat", Status::Up);
        r.kind = "push".into();
        r.observed = Default::default();
        assert_eq!(detail(&r, r.at), "no push yet");
        r.observed.last_push = Some(r.at);
        r.observed.message = Some("42 jobs".into());
        assert_eq!(
            detail(&r, r.at + chrono::Duration::seconds(3)),
            "last push 3s ago: 42 jobs"
        );
    }
}
