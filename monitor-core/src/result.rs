//! What a check run produces: a [`CheckResult`] with its [`Status`], phase timings,
//! observed values and, when it failed, a typed [`CheckError`].
//!
//! These shapes serialize to the one JSON form every binding hands out:
//!
//! ```json
//! {"check":"api-health","service":"backend","kind":"http","status":"down",
//!  "at":"2026-11-21T10:00:00Z","duration_ms":5003.1,
//!  "phases":{"dns_ms":1.0,"connect_ms":2.1,"tls_ms":8.4},
//!  "error":{"kind":"timeout","message":"no response within 5s (waiting for first byte)"},
//!  "observed":{}}
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// The outcome of one check run.
///
/// `Degraded` means the check passed its hard assertions but crossed a soft bound
/// (a `warn` response time, a certificate inside its warning window).
///
/// ```
/// use monitor_core::Status;
/// assert_eq!(serde_json::to_string(&Status::Degraded).unwrap(), "\"degraded\"");
/// assert!(Status::Down > Status::Up);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every assertion held.
    Up,
    /// Every hard assertion held, but a soft (warn) bound was crossed.
    Degraded,
    /// The check failed: an error or a failed hard assertion.
    Down,
}

impl Status {
    /// The lowercase name used in JSON and Prometheus labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time spent in each phase of a network check, in milliseconds.
///
/// A phase that did not happen (no DNS lookup for an IP literal, no TLS for plain
/// HTTP, a run that timed out before the first byte) is `None`. Across redirects
/// the phases of every hop are added up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Name resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    /// TCP connect (all attempted addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    /// From the request being sent to the response head arriving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<f64>,
    /// Reading (and decompressing) the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_ms: Option<f64>,
}

impl Phases {
    /// Adds `d` to the phase chosen by `pick`, creating it if it was absent.
    pub(crate) fn add(&mut self, pick: fn(&mut Phases) -> &mut Option<f64>, d: Duration) {
        let slot = pick(self);
        *slot = Some(slot.unwrap_or(0.0) + ms(d));
    }
}

/// Milliseconds as a float with microsecond resolution.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// One certificate of a presented chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainCertificate {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

/// What a TLS server presented, and whether it verifies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Subject of the leaf certificate.
    pub subject: String,
    /// Issuer of the leaf certificate.
    pub issuer: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub sans: Vec<String>,
    /// Start of the leaf's validity.
    pub not_before: DateTime<Utc>,
    /// End of the leaf's validity.
    pub not_after: DateTime<Utc>,
    /// Days until `not_after` (negative once expired), with a fraction.
    pub days_left: f64,
    /// Every certificate the server sent, leaf first.
    pub chain: Vec<ChainCertificate>,
    /// The chain leads to a trusted root and every certificate is within its validity.
    pub chain_valid: bool,
    /// The leaf is valid for the name (or IP) that was asked for.
    pub hostname_valid: bool,
    /// Why verification failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_error: Option<String>,
}

impl CertificateInfo {
    /// Time left until the leaf expires (zero once expired).
    pub fn expires_in(&self, now: DateTime<Utc>) -> Duration {
        (self.not_after - now).to_std().unwrap_or(Duration::ZERO)
    }
}

/// Values a check saw, whether it passed or not. Only the fields its kind fills are present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// HTTP status code of the final response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// HTTP version of the final response (`HTTP/1.1`, `HTTP/2.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<Cow<'static, str>>,
    /// Body size after decompression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// Redirects followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirects: Option<u32>,
    /// The URL that gave the final response, when it differs from the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// The address the connection was made to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// Addresses the host name resolved to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// The server's certificate (HTTPS and TLS checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Box<CertificateInfo>>,
    /// DNS response code (`NOERROR`, `NXDOMAIN`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    /// DNS answers in presentation form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<String>,
    /// What a TCP server sent (lossy UTF-8, bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// ICMP echo requests sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets_sent: Option<u32>,
    /// ICMP echo replies received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets_received: Option<u32>,
    /// Percentage of echo requests without a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_loss_pct: Option<f64>,
    /// Smallest round-trip time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_min_ms: Option<f64>,
    /// Mean round-trip time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_avg_ms: Option<f64>,
    /// Largest round-trip time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_max_ms: Option<f64>,
    /// When the last push (heartbeat) arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push: Option<DateTime<Utc>>,
    /// The message of the last push, or of a callable check's function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Each condition of a host check, with the value it measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ObservedCondition>,
}

/// One condition of a host check as it was judged.
///
/// ```
/// use monitor_core::result::ObservedCondition;
/// let c: ObservedCondition =
///     serde_json::from_str(r#"{"condition":"cpu > 90% for 5m","value":97.1,"unit":"%","holds":true}"#).unwrap();
/// assert!(c.holds);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedCondition {
    /// The condition as written.
    pub condition: String,
    /// The metric in the latest host snapshot, in `unit`; `null` when it could not be measured.
    pub value: Option<f64>,
    /// `%`, `B`, `B/s` or empty (a load, a count).
    pub unit: Cow<'static, str>,
    /// Whether the bad state it describes is present (for its whole window): the check is down.
    pub holds: bool,
}

/// Why a check failed, as a stable machine-readable name.
///
/// ```
/// use monitor_core::ErrorKind;
/// assert_eq!(serde_json::to_string(&ErrorKind::ConnectionRefused).unwrap(), "\"connection_refused\"");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No answer within the check's timeout.
    Timeout,
    /// Name resolution failed.
    Dns,
    /// The port actively refused the connection.
    ConnectionRefused,
    /// Another connection-level failure (reset, unreachable, closed early).
    Connection,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The peer broke the protocol (malformed HTTP, bad redirect).
    Protocol,
    /// The target answered, but an assertion did not hold.
    Assertion,
    /// The body exceeded the check's `max_body` (counted after decompression).
    BodyTooLarge,
    /// More redirects than `max_redirects`.
    TooManyRedirects,
    /// The operating system did not allow the operation (ICMP sockets).
    Permission,
    /// A push check received no push within `interval + grace`.
    PushMissed,
    /// The last push reported a failure.
    PushFailed,
    /// A callable check's function reported a failure.
    Callable,
    /// A bug in upwatch (a panic inside a check); the engine kept running.
    Internal,
}

impl ErrorKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Dns => "dns",
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::Connection => "connection",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Assertion => "assertion",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::Permission => "permission",
            ErrorKind::PushMissed => "push_missed",
            ErrorKind::PushFailed => "push_failed",
            ErrorKind::Callable => "callable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An assertion that did not hold: which one, what it expected, what it got.
///
/// ```
/// use monitor_core::AssertionFailure;
/// let f = AssertionFailure::new("status", "200", "500");
/// assert_eq!(f.to_string(), "status: expected 200, got 500");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionFailure {
    /// The assertion, by its spec path (`status`, `json.$.status`, `response_time`).
    pub which: String,
    /// What the spec asked for.
    pub expected: String,
    /// What the target gave.
    pub got: String,
}

impl AssertionFailure {
    /// Builds a failure record.
    pub fn new(which: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        AssertionFailure {
            which: which.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

impl fmt::Display for AssertionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, got {}", self.which, self.expected, self.got)
    }
}

/// Why a check run failed: a stable [`ErrorKind`], a human message and, for
/// assertions, which assertion with what was expected and what came.
///
/// ```
/// use monitor_core::{CheckError, ErrorKind};
/// use std::time::Duration;
/// let e = CheckError::timeout(Duration::from_secs(5), "first byte");
/// assert_eq!(e.kind, ErrorKind::Timeout);
/// assert_eq!(e.to_string(), "no response within 5s (waiting for first byte)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    /// The category, stable across versions and languages.
    pub kind: ErrorKind,
    /// A sentence for people.
    pub message: String,
    /// For assertions: the assertion's spec path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub which: Option<String>,
    /// For assertions: what was expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// For assertions: what came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
}

impl CheckError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CheckError {
            kind,
            message: message.into(),
            which: None,
            expected: None,
            got: None,
        }
    }

    /// The run's deadline passed while waiting in `phase`.
    pub fn timeout(after: Duration, phase: &str) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!(
                "no response within {} (waiting for {phase})",
                humantime::format_duration(after)
            ),
        )
    }

    /// A failed assertion.
    pub fn assertion(failure: &AssertionFailure) -> Self {
        CheckError {
            kind: ErrorKind::Assertion,
            message: failure.to_string(),
            which: Some(failure.which.clone()),
            expected: Some(failure.expected.clone()),
            got: Some(failure.got.clone()),
        }
    }
}

/// The full record of one check run.
///
/// ```
/// use monitor_core::{CheckResult, Status};
/// let json = r#"{"check":"api","kind":"http","status":"up","at":"2026-11-21T10:00:00Z","duration_ms":12.5}"#;
/// let r: CheckResult = serde_json::from_str(json).unwrap();
/// assert_eq!(r.status, Status::Up);
/// assert!(r.error.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub check: String,
    /// The service the check belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The check's kind (`http`, `tls`, `dns`, `tcp`, `icmp`, `push`, `callable`, `host`).
    pub kind: Cow<'static, str>,
    /// Up, degraded or down.
    pub status: Status,
    /// When the run started.
    pub at: DateTime<Utc>,
    /// Wall time of the whole run, in milliseconds.
    pub duration_ms: f64,
    /// Time per network phase.
    #[serde(default)]
    pub phases: Phases,
    /// Values seen (status code, certificate, answers, rtt...).
    #[serde(default)]
    pub observed: Observed,
    /// Why the run is down; `None` when up or degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CheckError>,
    /// Every hard assertion that failed (the first is also `error`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_assertions: Vec<AssertionFailure>,
    /// Soft bounds that were crossed (why the run is degraded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<AssertionFailure>,
    /// Taken while alerts about the check were held back (a maintenance window or a mute):
    /// the run counts and is stored like any other, flagged so reports can tell.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maintenance: bool,
}

impl CheckResult {
    /// The result as a JSON value, in the shape every binding hands out.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a CheckResult always serializes")
    }
}
