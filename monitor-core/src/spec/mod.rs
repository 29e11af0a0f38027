//! The one check spec: a serde data shape that TOML files, JSON strings, Python
//! dicts and JS objects all become, validated once, here.
//!
//! Validation never stops at the first problem: it collects every one, each named
//! by its path (`checks[2].expect.status: 700 is not an HTTP status`), and an invalid
//! spec yields no checks at all.
//!
//! ```
//! use monitor_core::spec::Spec;
//! let spec = Spec::from_toml_str(r#"
//!     [[checks]]
//!     name = "api-health"
//!     kind = "http"
//!     url = "https://api.example.com/health"
//!     interval = "30s"
//!     [checks.expect]
//!     status = [200]
//!     response_time = "< 500ms"
//! "#).unwrap();
//! assert_eq!(spec.checks[0].interval, std::time::Duration::from_secs(30));
//!
//! let err = Spec::from_toml_str(r#"
//!     [[checks]]
//!     name = "bad"
//!     kind = "http"
//!     url = "ftp://nope"
//!     [checks.expect]
//!     status = 700
//! "#).unwrap_err();
//! let text = err.to_string();
//! assert!(text.contains("checks[0].expect.status: 700 is not an HTTP status"));
//! assert!(text.contains("checks[0].url:"));
//! ```

mod bounds;
pub(crate) mod env;
pub(crate) mod reader;

pub(crate) use bounds::human;
pub use bounds::{LowerBound, UpperBound, Verdict};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checks::{
    callable::CallableCheck, dns::DnsCheck, host::HostCheck, http::HttpCheck, icmp::IcmpCheck, push::PushCheck,
    tcp::TcpCheck, tls::TlsCheck,
};
use reader::{index, Obj, Problems};

/// One problem in a spec: where, and what is wrong.
///
/// ```
/// use monitor_core::spec::Problem;
/// let p = Problem { path: "checks[2].expect.status".into(), message: "700 is not an HTTP status".into() };
/// assert_eq!(p.to_string(), "checks[2].expect.status: 700 is not an HTTP status");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where: `checks[2].expect.status`.
    pub path: String,
    /// What: `700 is not an HTTP status`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a spec could not be loaded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The spec parsed, but some fields are wrong; every problem is listed.
    #[error("{}", join_problems(.0))]
    Invalid(Vec<Problem>),
    /// The text is not valid TOML or JSON.
    #[error("{format} syntax error: {message}")]
    Syntax {
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The spec file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl SpecError {
    /// Every problem, with paths (empty unless the error is [`SpecError::Invalid`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            SpecError::Invalid(list) => list,
            _ => &[],
        }
    }
}

fn join_problems(list: &[Problem]) -> String {
    list.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n")
}

/// Environment lookup used for `${VAR}`: the process environment by default.
type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A whole spec file: checks, services, and the alerting around them (notifiers, alert
/// rules, maintenance windows; see [`crate::alerts::rules`]).
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// Every check, in file order.
    pub checks: Vec<CheckSpec>,
    /// Declared services (a check may also name a service that is not declared).
    pub services: Vec<ServiceSpec>,
    /// Where alerts go (`[[notifiers]]`).
    pub notifiers: Vec<crate::alerts::rules::NotifierSpec>,
    /// Alert rules (`[[alerts]]`).
    pub alerts: Vec<crate::alerts::rules::AlertRule>,
    /// Maintenance windows (`[[maintenance]]`).
    pub maintenance: Vec<crate::alerts::rules::MaintenanceWindow>,
}

impl Spec {
    /// Parses and validates a TOML spec.
    pub fn from_toml_str(text: &str) -> Result<Spec, SpecError> {
        Self::from_value(parse_toml(text)?)
    }

    /// Parses and validates a JSON spec.
    pub fn from_json_str(text: &str) -> Result<Spec, SpecError> {
        Self::from_value(parse_json(text)?)
    }

    /// Reads a spec file; `.json` files are JSON, anything else TOML.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Spec, SpecError> {
        Self::from_value(read_file(path.as_ref())?)
    }

    /// Validates a spec given as a JSON value (what bindings pass).
    pub fn from_value(value: Value) -> Result<Spec, SpecError> {
        Self::from_value_with_env(value, &process_env)
    }

    /// Like [`Spec::from_value`], looking `${VAR}` up with `env` instead of the process environment.
    pub fn from_value_with_env(value: Value, env: EnvLookup) -> Result<Spec, SpecError> {
        let mut p = Problems::default();
        let spec = read_spec(&value, env, &mut p);
        match spec {
            Some(spec) if p.list.is_empty() => Ok(spec),
            _ => Err(SpecError::Invalid(p.list)),
        }
    }
}

/// Reads a spec or config file as a JSON value: `.json` files are JSON, anything else TOML.
pub(crate) fn read_file(path: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        parse_json(&text)
    } else {
        parse_toml(&text)
    }
}

fn parse_toml(text: &str) -> Result<Value, SpecError> {
    toml::from_str::<Value>(text).map_err(|e| SpecError::Syntax {
        format: "TOML",
        // The toml crate starts its message with "TOML parse error"; the variant says that.
        message: e
            .to_string()
            .trim()
            .trim_start_matches("TOML parse error")
            .trim()
            .trim_start_matches("at ")
            .to_string(),
    })
}

fn parse_json(text: &str) -> Result<Value, SpecError> {
    serde_json::from_str::<Value>(text).map_err(|e| SpecError::Syntax {
        format: "JSON",
        message: e.to_string(),
    })
}

fn read_spec(value: &Value, env: EnvLookup, p: &mut Problems) -> Option<Spec> {
    let mut o = Obj::new(value, "", p)?;
    let mut checks = Vec::new();
    if let Some(list) = o.raw("checks") {
        match list {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(c) = read_check(item, &index("checks", i), env, p) {
                        checks.push(c);
                    }
                }
            }
            other => p.push(
                "checks",
                format!("expected a list of checks, got {}", reader::type_name(other)),
            ),
        }
    }
    let mut services = Vec::new();
    if let Some(list) = o.raw("services") {
        match list {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = ServiceSpec::read(item, &index("services", i), p) {
                        services.push(s);
                    }
                }
            }
            other => p.push(
                "services",
                format!("expected a list of services, got {}", reader::type_name(other)),
            ),
        }
    }
    let (notifiers, alerts, maintenance) = crate::alerts::rules::read_alerting(&mut o, env, p);
    o.finish(p);

    // Names are unique: results, pushes and history are keyed by them. Judged on the
    // raw values so a duplicate is reported even when the check has other problems.
    if let Some(Value::Array(items)) = value.get("checks") {
        let names: Vec<Option<&str>> = items.iter().map(|c| c.get("name").and_then(Value::as_str)).collect();
        for (i, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            if let Some(first) = names[..i].iter().position(|n| n == &Some(*name)) {
                p.push(
                    format!("checks[{i}].name"),
                    format!("{name:?} is already used by checks[{first}]"),
                );
            }
        }
    }
    for (i, s) in services.iter().enumerate() {
        if services[..i].iter().any(|o| o.name == s.name) {
            p.push(format!("services[{i}].name"), format!("{:?} is declared twice", s.name));
        }
        for (j, critical) in s.critical.iter().flatten().enumerate() {
            let known = checks
                .iter()
                .any(|c| &c.name == critical && c.service.as_deref() == Some(&s.name));
            if !known {
                p.push(
                    format!("services[{i}].critical[{j}]"),
                    format!("{critical:?} is not a check of service {:?}", s.name),
                );
            }
        }
    }
    Some(Spec {
        checks,
        services,
        notifiers,
        alerts,
        maintenance,
    })
}

/// A service groups checks; its status is derived from theirs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    /// Unique service name.
    pub name: String,
    /// Free text for dashboards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Checks whose failure makes the service down; `None` means all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<Vec<String>>,
}

impl ServiceSpec {
    fn read(value: &Value, path: &str, p: &mut Problems) -> Option<ServiceSpec> {
        let mut o = Obj::new(value, path, p)?;
        let name = o
            .required_string("name", p)
            .and_then(|n| valid_name(&n, &o.at("name"), p));
        let description = o.string("description", p);
        let critical = o.strings("critical", p);
        o.finish(p);
        Some(ServiceSpec {
            name: name?,
            description,
            critical,
        })
    }
}

/// One check: the fields every kind shares, and the kind's own settings.
///
/// Built from TOML, JSON or a JSON value (which is how code builds one too):
///
/// ```
/// use monitor_core::spec::{CheckKind, CheckSpec};
/// let check = CheckSpec::from_value(serde_json::json!({
///     "name": "db-port", "kind": "tcp", "host": "127.0.0.1", "port": 5432, "interval": "15s"
/// })).unwrap();
/// assert!(matches!(check.kind, CheckKind::Tcp(_)));
/// assert_eq!(check.kind_name(), "tcp");
/// ```
#[derive(Clone, Debug)]
pub struct CheckSpec {
    /// Unique name: results, pushes, history and metrics are keyed by it.
    pub name: String,
    /// The service the check belongs to.
    pub service: Option<String>,
    /// Time between runs.
    pub interval: Duration,
    /// Deadline for one attempt, all phases included.
    pub timeout: Duration,
    /// Failed attempts tolerated before the check counts as down.
    pub retries: u32,
    /// Wait between failed attempts.
    pub retry_interval: Duration,
    /// Consecutive passes needed to count as up again.
    pub success_threshold: u32,
    /// Free labels, for filtering and alert routing.
    pub tags: Vec<String>,
    /// A disabled check is kept but not run.
    pub enabled: bool,
    /// What to check and what to expect.
    pub kind: CheckKind,
    /// The spec as written, `${VAR}` unexpanded, so serializing it never leaks a secret.
    source: Value,
}

/// The kinds of check, each with its own settings.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum CheckKind {
    /// HTTP(S) request with assertions.
    Http(Box<HttpCheck>),
    /// TLS handshake and certificate inspection.
    Tls(TlsCheck),
    /// DNS query through hickory-resolver.
    Dns(DnsCheck),
    /// TCP connect, optional send, optional banner.
    Tcp(TcpCheck),
    /// ICMP echo.
    Icmp(IcmpCheck),
    /// Heartbeat: the application pushes, the check is down when pushes stop.
    Push(PushCheck),
    /// A function of the host application, given at registration.
    Callable(CallableCheck),
    /// Conditions on this host's statistics (CPU, memory, disks, load...).
    Host(HostCheck),
}

/// Defaults every kind may need while reading its own fields.
pub(crate) struct Common {
    pub(crate) interval: Duration,
}

const KINDS: &[&str] = &["http", "tls", "dns", "tcp", "icmp", "push", "callable", "host"];
/// Every spelling `kind` accepts (`ping` and `heartbeat` are aliases).
const KIND_NAMES: &[&str] = &[
    "http",
    "https",
    "tls",
    "dns",
    "tcp",
    "icmp",
    "ping",
    "push",
    "heartbeat",
    "callable",
    "host",
];

impl CheckSpec {
    /// Validates one check given as a JSON value; paths in errors start at the check (`expect.status`).
    pub fn from_value(value: Value) -> Result<CheckSpec, SpecError> {
        Self::from_value_with_env(value, &process_env)
    }

    /// Like [`CheckSpec::from_value`], looking `${VAR}` up with `env`.
    pub fn from_value_with_env(value: Value, env: EnvLookup) -> Result<CheckSpec, SpecError> {
        let mut p = Problems::default();
        match read_check(&value, "", env, &mut p) {
            Some(c) if p.list.is_empty() => Ok(c),
            _ => Err(SpecError::Invalid(p.list)),
        }
    }

    /// Validates one check written as a JSON object.
    pub fn from_json_str(text: &str) -> Result<CheckSpec, SpecError> {
        Self::from_value(parse_json(text)?)
    }

    /// Validates one check written as a TOML table.
    pub fn from_toml_str(text: &str) -> Result<CheckSpec, SpecError> {
        Self::from_value(parse_toml(text)?)
    }

    /// The kind's name: `http`, `tls`, `dns`, `tcp`, `icmp`, `push`, `callable` or `host`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            CheckKind::Http(_) => "http",
            CheckKind::Tls(_) => "tls",
            CheckKind::Dns(_) => "dns",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Icmp(_) => "icmp",
            CheckKind::Push(_) => "push",
            CheckKind::Callable(_) => "callable",
            CheckKind::Host(_) => "host",
        }
    }

    /// The spec as it was written (with `${VAR}` references, never their values).
    pub fn source(&self) -> &Value {
        &self.source
    }
}

impl Serialize for CheckSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        CheckSpec::from_value(v).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Spec::from_value(v).map_err(serde::de::Error::custom)
    }
}

fn valid_name(name: &str, path: &str, p: &mut Problems) -> Option<String> {
    if name.trim().is_empty() {
        p.push(path, "must not be empty");
        None
    } else if name.len() > 200 {
        p.push(path, format!("is {} bytes long; at most 200", name.len()));
        None
    } else if name.chars().any(char::is_control) {
        p.push(path, "must not contain control characters");
        None
    } else {
        Some(name.to_string())
    }
}

fn read_check(value: &Value, path: &str, env: EnvLookup, p: &mut Problems) -> Option<CheckSpec> {
    let source = value.clone();
    let mut expanded = value.clone();
    env::expand(&mut expanded, path, env, p);
    let mut o = Obj::new(&expanded, path, p)?;

    let name = o
        .required_string("name", p)
        .and_then(|n| valid_name(&n, &o.at("name"), p));
    let service = o.string("service", p).and_then(|s| valid_name(&s, &o.at("service"), p));
    let kind = o.required_string("kind", p);
    let interval = o.duration("interval", p).unwrap_or(Duration::from_secs(60));
    if interval < Duration::from_secs(1) {
        p.push(
            o.at("interval"),
            format!("{} is too short; at least 1s", human(interval)),
        );
    }
    let timeout_given = o.has("timeout");
    let timeout = o
        .duration("timeout", p)
        .unwrap_or_else(|| interval.min(Duration::from_secs(10)));
    if timeout.is_zero() {
        p.push(o.at("timeout"), "must be longer than 0s");
    } else if timeout_given && timeout > interval {
        p.push(
            o.at("timeout"),
            format!("{} is longer than the interval ({})", human(timeout), human(interval)),
        );
    }
    let retries = o.int("retries", 0, 100, p).unwrap_or(0) as u32;
    let retry_interval = o
        .duration("retry_interval", p)
        .unwrap_or_else(|| interval.min(Duration::from_secs(10)));
    let success_threshold = o.int("success_threshold", 1, 100, p).unwrap_or(1) as u32;
    let tags = o.strings("tags", p).unwrap_or_default();
    let enabled = o.bool("enabled", p).unwrap_or(true);

    let common = Common { interval };
    let known_kind = kind.as_deref().is_some_and(|k| KIND_NAMES.contains(&k));
    let kind = match kind.as_deref() {
        Some("http") | Some("https") => HttpCheck::read(&mut o, &common, p).map(|h| CheckKind::Http(Box::new(h))),
        Some("tls") => TlsCheck::read(&mut o, &common, p).map(CheckKind::Tls),
        Some("dns") => DnsCheck::read(&mut o, &common, p).map(CheckKind::Dns),
        Some("tcp") => TcpCheck::read(&mut o, &common, p).map(CheckKind::Tcp),
        Some("icmp") | Some("ping") => IcmpCheck::read(&mut o, &common, p).map(CheckKind::Icmp),
        Some("push") | Some("heartbeat") => PushCheck::read(&mut o, &common, p).map(CheckKind::Push),
        Some("callable") => CallableCheck::read(&mut o, &common, p).map(CheckKind::Callable),
        Some("host") => HostCheck::read(&mut o, &common, p).map(CheckKind::Host),
        Some(other) => {
            p.push(
                o.at("kind"),
                format!("{other:?} is not a kind of check (one of: {})", KINDS.join(", ")),
            );
            None
        }
        None => None,
    };
    // Without a known kind the other fields cannot be judged; don't report them as unknown.
    if known_kind {
        o.finish(p);
    }
    Some(CheckSpec {
        name: name?,
        service,
        interval,
        timeout,
        retries,
        retry_interval,
        success_threshold,
        tags,
        enabled,
        kind: kind?,
        source,
    })
}
