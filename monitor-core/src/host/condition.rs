//! Conditions on host statistics, for `host` checks: `cpu > 90% for 5m`,
//! `memory_used > 85%`, `disk("/").free < 10GiB`, `load1 > cores * 2`.
//!
//! A condition describes a bad state. It is a metric, an operator (`>`, `>=`, `<`, `<=`),
//! a value and optionally `for <duration>`:
//!
//! | metric | compared with |
//! | --- | --- |
//! | `cpu`, `cpu(N)` (core N, from 0) | a percentage: `90%` |
//! | `memory_used`, `swap_used` | a percentage of the total (`85%`) or a size (`12GiB`) |
//! | `disk("/").free`, `disk("/").used` | a percentage of the disk (`10%`) or a size (`10GiB`) |
//! | `disk("/").used_pct` | a percentage |
//! | `net("eth0").rx_bps`, `net("eth0").tx_bps` | bytes per second: `10MiB/s`, `10MiB` or `1048576` |
//! | `load1`, `load5`, `load15` | a number (`4`), `cores` or `cores * 2` |
//! | `processes` | a number |
//!
//! Sizes take the units of the `bytesize` crate (`KB`, `KiB`, `MiB`, `GB`, `GiB`, ...). Mount
//! points and interface names are quoted with `"` or `'`. With `for 5m` the condition must
//! hold in every sample of the last five minutes; until the samples cover that long, it
//! does not hold. `for` is at most an hour, the history a monitor keeps.
//!
//! ```
//! use monitor_core::host::Condition;
//! let c = Condition::parse("cpu > 90% for 5m").unwrap();
//! assert_eq!(c.window, Some(std::time::Duration::from_secs(300)));
//! let err = Condition::parse("cpu >> 90%").unwrap_err();
//! assert_eq!(err.to_string(), r#"expected a value (a number, 90%, 10GiB or cores) at 5 in "cpu >> 90%""#);
//! assert_eq!(err.position, 5);
//! ```

use std::fmt;
use std::time::Duration;

use super::{HostSnapshot, HISTORY};

/// What a condition measures.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// All CPUs together, in percent.
    Cpu,
    /// One logical CPU (numbered from 0), in percent.
    Core(usize),
    /// Memory in use.
    MemoryUsed,
    /// Swap in use.
    SwapUsed,
    /// Load average over 1 minute.
    Load1,
    /// Load average over 5 minutes.
    Load5,
    /// Load average over 15 minutes.
    Load15,
    /// Free bytes of the disk mounted at the path.
    DiskFree(String),
    /// Used bytes of the disk mounted at the path.
    DiskUsed(String),
    /// Used percentage of the disk mounted at the path.
    DiskUsedPct(String),
    /// Bytes per second received by the interface.
    NetRx(String),
    /// Bytes per second sent by the interface.
    NetTx(String),
    /// Processes running.
    Processes,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Op {
    fn compare(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Lt => value < limit,
            Op::Le => value <= limit,
        }
    }
}

/// What a metric is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// A percentage (`90%`): of the total for memory, swap and disks.
    Percent(f64),
    /// A size in bytes (`10GiB`).
    Bytes(f64),
    /// A rate in bytes per second (`10MiB/s`).
    BytesPerSecond(f64),
    /// A plain number (`4`).
    Number(f64),
    /// A multiple of the host's logical CPUs (`cores * 2`).
    Cores(f64),
}

impl Threshold {
    /// The unit a measured value is expressed in: `%`, `B`, `B/s` or nothing.
    pub fn unit(&self) -> &'static str {
        match self {
            Threshold::Percent(_) => "%",
            Threshold::Bytes(_) => "B",
            Threshold::BytesPerSecond(_) => "B/s",
            Threshold::Number(_) | Threshold::Cores(_) => "",
        }
    }
}

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// With what.
    pub threshold: Threshold,
    /// How long it must have held (`for 5m`).
    pub window: Option<Duration>,
    text: String,
}

/// Why a condition does not parse: what was expected, where (a character offset from 0)
/// and in what text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {position} in {text:?}")]
pub struct ConditionError {
    /// What is wrong (`expected a metric`).
    pub message: String,
    /// The character offset of the problem, counted from 0.
    pub position: usize,
    /// The condition as written.
    pub text: String,
}

/// How a condition fared on the recent snapshots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// The bad state the condition describes is present (for the whole window, if it has one).
    pub holds: bool,
    /// The metric in the latest snapshot, in the threshold's unit; `None` when it cannot be
    /// measured (a rate in the first snapshot, or no snapshot).
    pub value: Option<f64>,
    /// How long the condition has held, up to the latest snapshot.
    pub held_for: Option<Duration>,
    /// Why the metric does not exist on this host (no such disk, interface or CPU).
    pub missing: Option<String>,
}

const METRICS: &str =
    "cpu, cpu(N), memory_used, swap_used, load1, load5, load15, disk(\"/\").free|used|used_pct, net(\"eth0\").rx_bps|tx_bps, processes";

impl Condition {
    /// Parses a condition, strictly: every error names what was expected and where.
    ///
    /// ```
    /// use monitor_core::host::condition::{Condition, Metric, Threshold};
    /// let c = Condition::parse(r#"disk("/").free < 10GiB"#).unwrap();
    /// assert_eq!(c.metric, Metric::DiskFree("/".into()));
    /// assert_eq!(c.threshold, Threshold::Bytes(10.0 * 1024.0 * 1024.0 * 1024.0));
    /// assert!(Condition::parse("load1 > cores * 2").is_ok());
    /// ```
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        Parser { text, pos: 0 }.condition()
    }

    /// The condition as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How the metric is written (`disk("/").free`).
    pub fn metric_name(&self) -> String {
        match &self.metric {
            Metric::Cpu => "cpu".into(),
            Metric::Core(n) => format!("cpu({n})"),
            Metric::MemoryUsed => "memory_used".into(),
            Metric::SwapUsed => "swap_used".into(),
            Metric::Load1 => "load1".into(),
            Metric::Load5 => "load5".into(),
            Metric::Load15 => "load15".into(),
            Metric::DiskFree(m) => format!("disk({m:?}).free"),
            Metric::DiskUsed(m) => format!("disk({m:?}).used"),
            Metric::DiskUsedPct(m) => format!("disk({m:?}).used_pct"),
            Metric::NetRx(i) => format!("net({i:?}).rx_bps"),
            Metric::NetTx(i) => format!("net({i:?}).tx_bps"),
            Metric::Processes => "processes".into(),
        }
    }

    /// The metric in `s`, in the threshold's unit: `Ok(None)` when not measured yet (a rate
    /// in a first snapshot), `Err` when this host has no such disk, interface or CPU.
    pub fn measure(&self, s: &HostSnapshot) -> Result<Option<f64>, String> {
        let percent = matches!(self.threshold, Threshold::Percent(_));
        let share = |part: u64, total: u64| {
            if percent {
                if total == 0 {
                    0.0
                } else {
                    part as f64 * 100.0 / total as f64
                }
            } else {
                part as f64
            }
        };
        let disk = |mount: &str| {
            s.disk(mount).ok_or_else(|| {
                let all: Vec<&str> = s.disks.iter().map(|d| d.mount.as_str()).collect();
                format!("no disk mounted at {mount:?} (mounted: {})", all.join(", "))
            })
        };
        let net = |name: &str| {
            s.network(name).ok_or_else(|| {
                let all: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).collect();
                format!("no network interface {name:?} (present: {})", all.join(", "))
            })
        };
        Ok(Some(match &self.metric {
            Metric::Cpu => s.cpu_pct,
            Metric::Core(n) => *s.cpus.get(*n).ok_or_else(|| {
                format!(
                    "no cpu({n}): this host has {} (cpu(0) to cpu({}))",
                    s.cores,
                    s.cores.max(1) - 1
                )
            })?,
            Metric::MemoryUsed => share(s.memory.used, s.memory.total),
            Metric::SwapUsed => share(s.swap.used, s.swap.total),
            Metric::Load1 => s.load1,
            Metric::Load5 => s.load5,
            Metric::Load15 => s.load15,
            Metric::DiskFree(m) => disk(m).map(|d| share(d.free, d.total))?,
            Metric::DiskUsed(m) => disk(m).map(|d| share(d.used, d.total))?,
            Metric::DiskUsedPct(m) => disk(m).map(|d| share(d.used, d.total))?,
            Metric::NetRx(i) => return net(i).map(|n| n.rx_bps),
            Metric::NetTx(i) => return net(i).map(|n| n.tx_bps),
            Metric::Processes => s.processes as f64,
        }))
    }

    /// The threshold as a number, in the metric's unit (`cores * 2` on a 4-core host is 8).
    pub fn limit(&self, s: &HostSnapshot) -> f64 {
        match self.threshold {
            Threshold::Percent(v) | Threshold::Bytes(v) | Threshold::BytesPerSecond(v) | Threshold::Number(v) => v,
            Threshold::Cores(k) => k * s.cores as f64,
        }
    }

    /// Whether the condition holds in one snapshot (`Err` when the metric does not exist).
    pub fn holds_in(&self, s: &HostSnapshot) -> Result<bool, String> {
        Ok(self.measure(s)?.is_some_and(|v| self.op.compare(v, self.limit(s))))
    }

    /// Judges the condition on snapshots given newest first. Without a window, the newest
    /// decides. With one, the condition must hold in the newest and in every older snapshot
    /// back to at least `window` before it, give or take `slack` (half the sampling interval).
    ///
    /// ```
    /// use monitor_core::host::{Condition, HostSampler};
    /// let now = HostSampler::new().unwrap().sample();
    /// let c = Condition::parse("memory_used > 0%").unwrap();
    /// assert!(c.evaluate([&now], std::time::Duration::ZERO).holds);
    /// let windowed = Condition::parse("memory_used > 0% for 1m").unwrap();
    /// assert!(!windowed.evaluate([&now], std::time::Duration::ZERO).holds, "one sample covers no minute");
    /// ```
    pub fn evaluate<'a>(
        &self,
        newest_first: impl IntoIterator<Item = &'a HostSnapshot>,
        slack: Duration,
    ) -> Evaluation {
        let mut snapshots = newest_first.into_iter();
        let Some(latest) = snapshots.next() else {
            return Evaluation::default();
        };
        let value = match self.measure(latest) {
            Ok(v) => v,
            Err(missing) => {
                return Evaluation {
                    missing: Some(missing),
                    ..Evaluation::default()
                }
            }
        };
        if !value.is_some_and(|v| self.op.compare(v, self.limit(latest))) {
            return Evaluation {
                value,
                ..Evaluation::default()
            };
        }
        let mut since = latest.at;
        for s in snapshots {
            if self.holds_in(s) != Ok(true) {
                break;
            }
            since = s.at;
        }
        let held = (latest.at - since).to_std().unwrap_or_default();
        Evaluation {
            holds: self.window.is_none_or(|w| held + slack >= w),
            value,
            held_for: Some(held),
            missing: None,
        }
    }

    /// A measured value as people read it, in the threshold's unit (`97.1%`, `8.2 GiB`).
    pub fn format_value(&self, value: f64, s: &HostSnapshot) -> String {
        match self.threshold {
            Threshold::Percent(_) => format!("{value:.1}%"),
            Threshold::Bytes(_) => bytesize::ByteSize(value.max(0.0) as u64).to_string(),
            Threshold::BytesPerSecond(_) => format!("{}/s", bytesize::ByteSize(value.max(0.0) as u64)),
            Threshold::Number(_) if self.metric == Metric::Processes => format!("{value:.0}"),
            Threshold::Number(_) => format!("{value:.2}"),
            Threshold::Cores(_) => format!("{value:.2} on {} cores", s.cores),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A recursive-descent parser over the condition's text (positions in bytes until reported).
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> ConditionError {
        ConditionError {
            message: message.into(),
            position: self.text[..at.min(self.text.len())].chars().count(),
            text: self.text.to_string(),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> Result<(), ConditionError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.error(self.pos, format!("expected {what}")))
        }
    }

    /// A word of ASCII letters, digits and `_`.
    fn word(&mut self) -> &str {
        let start = self.pos;
        let len = self
            .rest()
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        self.pos += len;
        &self.text[start..self.pos]
    }

    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        let len = self
            .rest()
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let parsed = self.rest()[..len].parse::<f64>().ok().filter(|n| n.is_finite());
        if parsed.is_some() && self.rest().as_bytes()[0].is_ascii_digit() {
            self.pos += len;
        } else {
            self.pos = start;
            return None;
        }
        parsed
    }

    fn condition(mut self) -> Result<Condition, ConditionError> {
        self.skip_ws();
        let metric = self.metric()?;
        self.skip_ws();
        let op = self.op()?;
        self.skip_ws();
        let value_at = self.pos;
        let threshold = self.value()?;
        let threshold = fit(&metric, threshold).map_err(|m| self.error(value_at, m))?;
        self.skip_ws();
        let mut window = None;
        if !self.rest().is_empty() {
            let for_at = self.pos;
            if self.word() != "for" {
                let what = self.text[for_at..].split_whitespace().next().unwrap_or_default();
                return Err(self.error(
                    for_at,
                    format!("unexpected {what:?} (expected \"for <duration>\" or the end)"),
                ));
            }
            self.skip_ws();
            let at = self.pos;
            let d = humantime::parse_duration(self.rest().trim_end())
                .map_err(|_| self.error(at, "expected a duration like 5m"))?;
            if d > HISTORY {
                return Err(self.error(
                    at,
                    format!(
                        "for {} is longer than the host history ({})",
                        humantime::format_duration(d),
                        humantime::format_duration(HISTORY)
                    ),
                ));
            }
            window = Some(d);
        }
        Ok(Condition {
            metric,
            op,
            threshold,
            window,
            text: self.text.trim().to_string(),
        })
    }

    fn metric(&mut self) -> Result<Metric, ConditionError> {
        let at = self.pos;
        let word = self.word().to_string();
        let metric = match word.as_str() {
            "" => return Err(self.error(at, "expected a metric")),
            "cpu" => {
                if self.eat("(") {
                    let n_at = self.pos;
                    let n = self.word();
                    let n = n
                        .parse::<usize>()
                        .map_err(|_| self.error(n_at, "expected a CPU number like cpu(0)"))?;
                    self.expect(")", "\")\"")?;
                    Metric::Core(n)
                } else {
                    Metric::Cpu
                }
            }
            "memory_used" => Metric::MemoryUsed,
            "swap_used" => Metric::SwapUsed,
            "load1" => Metric::Load1,
            "load5" => Metric::Load5,
            "load15" => Metric::Load15,
            "processes" => Metric::Processes,
            "disk" | "net" => {
                self.expect(
                    "(",
                    if word == "disk" {
                        "\"(\" as in disk(\"/\")"
                    } else {
                        "\"(\" as in net(\"eth0\")"
                    },
                )?;
                let name = self.quoted()?;
                self.expect(")", "\")\"")?;
                self.expect(".", "\".\" and a field")?;
                let field_at = self.pos;
                let field = self.word();
                match (word.as_str(), field) {
                    ("disk", "free") => Metric::DiskFree(name),
                    ("disk", "used") => Metric::DiskUsed(name),
                    ("disk", "used_pct") => Metric::DiskUsedPct(name),
                    ("net", "rx_bps") => Metric::NetRx(name),
                    ("net", "tx_bps") => Metric::NetTx(name),
                    ("disk", _) => return Err(self.error(field_at, "expected free, used or used_pct")),
                    _ => return Err(self.error(field_at, "expected rx_bps or tx_bps")),
                }
            }
            other => return Err(self.error(at, format!("unknown metric {other:?} (one of {METRICS})"))),
        };
        Ok(metric)
    }

    /// `"..."` or `'...'`, with `\"`, `\'` and `\\` escapes.
    fn quoted(&mut self) -> Result<String, ConditionError> {
        let at = self.pos;
        let Some(quote) = self.rest().chars().next().filter(|c| *c == '"' || *c == '\'') else {
            return Err(self.error(at, "expected a quoted name like \"/\""));
        };
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    if out.is_empty() {
                        return Err(self.error(at, "expected a name, not an empty string"));
                    }
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(self.error(at, "unterminated quoted name"))
    }

    fn op(&mut self) -> Result<Op, ConditionError> {
        for (s, op) in [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)] {
            if self.eat(s) {
                return Ok(op);
            }
        }
        Err(self.error(self.pos, "expected an operator (>, >=, <, <=)"))
    }

    fn value(&mut self) -> Result<Threshold, ConditionError> {
        let at = self.pos;
        if self.rest().starts_with(|c: char| c.is_ascii_alphabetic()) {
            if self.word() != "cores" {
                return Err(self.error(at, "expected a value (a number, 90%, 10GiB or cores)"));
            }
            let before = self.pos;
            self.skip_ws();
            if self.eat("*") {
                self.skip_ws();
                let n_at = self.pos;
                let k = self
                    .number()
                    .ok_or_else(|| self.error(n_at, "expected a number after cores *"))?;
                return Ok(Threshold::Cores(k));
            }
            self.pos = before;
            return Ok(Threshold::Cores(1.0));
        }
        let Some(n) = self.number() else {
            return Err(self.error(at, "expected a value (a number, 90%, 10GiB or cores)"));
        };
        let number_end = self.pos;
        self.skip_ws();
        if self.eat("%") {
            return Ok(Threshold::Percent(n));
        }
        let unit_at = self.pos;
        let unit = self.word().to_string();
        if unit.is_empty() || unit == "for" {
            self.pos = number_end;
            return Ok(Threshold::Number(n));
        }
        let size = format!("{}{unit}", &self.text[at..number_end])
            .parse::<bytesize::ByteSize>()
            .map_err(|_| {
                self.error(
                    unit_at,
                    format!("{unit:?} is not a size unit (write it like 10GiB or 500MB)"),
                )
            })?;
        if self.eat("/s") {
            Ok(Threshold::BytesPerSecond(size.as_u64() as f64))
        } else {
            Ok(Threshold::Bytes(size.as_u64() as f64))
        }
    }
}

/// Checks that `threshold` suits `metric` (a CPU against a percentage, a load against a
/// number...), converting where the meaning is clear (a size for a rate is per second).
fn fit(metric: &Metric, threshold: Threshold) -> Result<Threshold, String> {
    use Threshold::*;
    let name = match metric {
        Metric::Cpu | Metric::Core(_) => "cpu",
        Metric::DiskUsedPct(_) => "used_pct",
        Metric::MemoryUsed => "memory_used",
        Metric::SwapUsed => "swap_used",
        Metric::DiskFree(_) | Metric::DiskUsed(_) => "a disk",
        Metric::NetRx(_) | Metric::NetTx(_) => "a network rate",
        Metric::Load1 | Metric::Load5 | Metric::Load15 => "a load average",
        Metric::Processes => "processes",
    };
    match (metric, threshold) {
        (Metric::Cpu | Metric::Core(_) | Metric::DiskUsedPct(_), Percent(_)) => Ok(threshold),
        (Metric::Cpu | Metric::Core(_) | Metric::DiskUsedPct(_), _) => {
            Err(format!("{name} is compared with a percentage, like 90%"))
        }
        (Metric::MemoryUsed | Metric::SwapUsed | Metric::DiskFree(_) | Metric::DiskUsed(_), Percent(_) | Bytes(_)) => {
            Ok(threshold)
        }
        (Metric::MemoryUsed | Metric::SwapUsed | Metric::DiskFree(_) | Metric::DiskUsed(_), _) => {
            Err(format!("{name} is compared with a percentage (85%) or a size (10GiB)"))
        }
        (Metric::NetRx(_) | Metric::NetTx(_), Bytes(v) | BytesPerSecond(v) | Number(v)) => Ok(BytesPerSecond(v)),
        (Metric::NetRx(_) | Metric::NetTx(_), _) => {
            Err(format!("{name} is compared with bytes per second, like 10MiB/s"))
        }
        (Metric::Load1 | Metric::Load5 | Metric::Load15, Number(_) | Cores(_)) => Ok(threshold),
        (Metric::Load1 | Metric::Load5 | Metric::Load15, _) => {
            Err(format!("{name} is compared with a number (4), cores or cores * 2"))
        }
        (Metric::Processes, Number(_)) => Ok(threshold),
        (Metric::Processes, _) => Err(format!("{name} is compared with a number")),
    }
}
