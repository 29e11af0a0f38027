//! Alert rules, notifiers and maintenance windows in the one spec shape: the
//! `[[notifiers]]`, `[[alerts]]` and `[[maintenance]]` tables of a spec file (or the same
//! keys of a JSON object), validated with field paths like the checks.
//!
//! ```
//! use monitor_core::spec::Spec;
//! let spec = Spec::from_toml_str(r#"
//!     [[notifiers]]
//!     name = "ops"
//!     kind = "webhook"
//!     url = "https://hooks.example.com/upwatch"
//!     secret = "s3cret"
//!
//!     [[alerts]]
//!     name = "api down"
//!     checks = ["api"]
//!     for = "2m"
//!     repeat = "1h"
//!     notify = ["ops"]
//!
//!     [[maintenance]]
//!     name = "nightly backup"
//!     weekdays = ["mon", "tue", "wed", "thu", "fri"]
//!     start = "02:00"
//!     end = "02:30"
//!     timezone = "Europe/Paris"
//! "#).unwrap();
//! assert_eq!(spec.alerts[0].for_, std::time::Duration::from_secs(120));
//! assert!(!format!("{:?}", spec.notifiers[0]).contains("s3cret"));
//!
//! let err = Spec::from_toml_str(r#"
//!     [[alerts]]
//!     name = "x"
//!     notify = ["nobody"]
//! "#).unwrap_err();
//! assert!(err.to_string().contains("alerts[0].notify[0]: \"nobody\" is not a notifier"));
//! ```

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

use crate::spec::reader::{index, join, type_name, Obj, Problems};

/// Durations in the JSON shapes are written as in specs (`"2m"`, `"7days"`), not as structs.
pub(crate) mod duration_text {
    use std::time::Duration;

    fn text(d: &Duration) -> String {
        humantime::format_duration(*d).to_string()
    }

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(d))
    }

    pub(crate) fn option<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&text(d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn list<S: serde::Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter().map(text))
    }
}

/// Where a notifier sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifierKind {
    /// A JSON POST of the `alert_fired` event, optionally signed (HMAC-SHA256).
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
    /// A Microsoft Teams incoming webhook (MessageCard).
    Teams,
    /// Mail over SMTP (STARTTLS, TLS or plain, with or without authentication).
    Email,
    /// A NATS subject.
    Nats,
    /// A Redis pub/sub channel or stream.
    Redis,
    /// An AMQP 0-9-1 exchange (RabbitMQ), with publisher confirms.
    Amqp,
    /// A function of the host program (a Python or JS function, a PHP object polling for
    /// alerts), registered with the notifier; same outbox, retries and ordering.
    Callable,
}

impl NotifierKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [NotifierKind; 9] = [
        NotifierKind::Webhook,
        NotifierKind::Slack,
        NotifierKind::Discord,
        NotifierKind::Teams,
        NotifierKind::Email,
        NotifierKind::Nats,
        NotifierKind::Redis,
        NotifierKind::Amqp,
        NotifierKind::Callable,
    ];

    /// The spec name (`webhook`, `slack`, `discord`, `teams`, `email`, `nats`, `redis`, `amqp`, `callable`).
    ///
    /// ```
    /// use monitor_core::alerts::rules::NotifierKind;
    /// let names: Vec<&str> = NotifierKind::ALL.iter().map(|k| k.as_str()).collect();
    /// assert_eq!(names, ["webhook", "slack", "discord", "teams", "email", "nats", "redis", "amqp", "callable"]);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Webhook => "webhook",
            NotifierKind::Slack => "slack",
            NotifierKind::Discord => "discord",
            NotifierKind::Teams => "teams",
            NotifierKind::Email => "email",
            NotifierKind::Nats => "nats",
            NotifierKind::Redis => "redis",
            NotifierKind::Amqp => "amqp",
            NotifierKind::Callable => "callable",
        }
    }

    fn parse(s: &str) -> Option<NotifierKind> {
        Some(match s {
            "msteams" => NotifierKind::Teams,
            "smtp" => NotifierKind::Email,
            "rabbitmq" => NotifierKind::Amqp,
            _ => *NotifierKind::ALL.iter().find(|k| k.as_str() == s)?,
        })
    }

    /// Whether it POSTs to an HTTP(S) URL (webhook, Slack, Discord, Teams).
    pub fn is_http(self) -> bool {
        matches!(
            self,
            NotifierKind::Webhook | NotifierKind::Slack | NotifierKind::Discord | NotifierKind::Teams
        )
    }

    /// How its template's values are escaped.
    ///
    /// ```
    /// use monitor_core::alerts::{rules::NotifierKind, template::Format};
    /// assert_eq!(NotifierKind::Amqp.template_format(), Format::Json);
    /// assert_eq!(NotifierKind::Email.template_format(), Format::Text);
    /// assert!(NotifierKind::Teams.is_http() && !NotifierKind::Nats.is_http());
    /// ```
    pub fn template_format(self) -> super::template::Format {
        use super::template::Format;
        match self {
            NotifierKind::Slack => Format::Slack,
            NotifierKind::Discord => Format::Discord,
            NotifierKind::Teams => Format::Teams,
            NotifierKind::Email => Format::Text,
            _ => Format::Json,
        }
    }
}

/// Default time allowed for one delivery attempt.
pub const DEFAULT_NOTIFIER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default delivery attempts before an alert is given up for a notifier.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default wait before the first retry (doubled after each failure, with jitter).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// Default cap on the wait between retries.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Default bound of a Redis stream (`MAXLEN ~`).
pub const DEFAULT_STREAM_MAXLEN: u64 = 10_000;

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// A plain connection upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (port 25): for a relay on the same host; no password allowed.
    None,
}

/// The mail settings of an `email` notifier. `Debug` hides the username and password.
///
/// ```
/// use monitor_core::alerts::rules::{NotifierSpec, SmtpTls};
/// let n = NotifierSpec::from_value(serde_json::json!({
///     "name": "mail", "kind": "email", "host": "smtp.example.com", "username": "ops",
///     "password": "hunter2", "from": "upwatch <upwatch@example.com>", "to": "ops@example.com",
///     "subject": "{{ title }}"
/// })).unwrap();
/// let mail = n.email.as_ref().unwrap();
/// assert_eq!((mail.port, mail.tls), (587, SmtpTls::StartTls));
/// assert!(!format!("{n:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
pub struct EmailSpec {
    /// The SMTP server.
    pub host: String,
    /// Its port (default 587 with STARTTLS, 465 with TLS, 25 without).
    pub port: u16,
    /// How the connection is secured (default STARTTLS).
    pub tls: SmtpTls,
    /// Login (with `password`).
    pub username: Option<String>,
    /// Password (a secret).
    pub password: Option<String>,
    /// The sender mailbox (`"upwatch <upwatch@example.com>"`).
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The subject template (default: `{{ title }}`).
    pub subject: Option<String>,
    /// An HTML body template, sent beside the plain text one.
    pub html: Option<String>,
    /// A PEM file of CA certificates to trust instead of the Mozilla roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl fmt::Debug for EmailSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailSpec")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Where a broker notifier publishes.
///
/// ```
/// use monitor_core::alerts::rules::{BrokerTarget, NotifierSpec};
/// let n = NotifierSpec::from_value(serde_json::json!({
///     "name": "events", "kind": "redis", "url": "redis://127.0.0.1:6379", "mode": "stream",
///     "stream": "upwatch:alerts"
/// })).unwrap();
/// assert_eq!(n.broker, Some(BrokerTarget::RedisStream { stream: "upwatch:alerts".into(), maxlen: 10_000 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerTarget {
    /// `PUB` on a NATS subject.
    Nats {
        /// The subject (no wildcards).
        subject: String,
    },
    /// `PUBLISH` on a Redis channel; a channel nobody listens on counts as a failure.
    RedisPublish {
        /// The channel.
        channel: String,
    },
    /// `XADD` to a Redis stream, trimmed to about `maxlen` entries.
    RedisStream {
        /// The stream's key.
        stream: String,
        /// `MAXLEN ~` bound.
        maxlen: u64,
    },
    /// `basic.publish` to an AMQP exchange; delivered once the broker confirms.
    Amqp {
        /// The exchange (`""` is the default exchange, routing by queue name).
        exchange: String,
        /// The routing key.
        routing_key: String,
        /// Have the broker return a message no queue takes (a failure) rather than drop it.
        mandatory: bool,
        /// Ask queues to keep the message on disk (delivery mode 2).
        persistent: bool,
    },
}

/// One notifier: where alerts go. Its URL, secret, headers and passwords are secrets:
/// `Debug` shows none of them.
///
/// ```
/// use monitor_core::alerts::rules::{NotifierKind, NotifierSpec};
/// let n = NotifierSpec::from_value(serde_json::json!({
///     "name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"
/// })).unwrap();
/// assert_eq!(n.kind, NotifierKind::Slack);
/// assert!(!format!("{n:?}").contains("hooks.slack.com"));
///
/// let err = NotifierSpec::from_value(serde_json::json!({
///     "name": "bus", "kind": "nats", "url": "nats://user:pw@127.0.0.1:4222", "subject": "a b",
///     "template": "{{ check "
/// })).unwrap_err().to_string();
/// assert!(err.contains("subject: \"a b\" is not a NATS subject"), "{err}");
/// assert!(err.contains("template: syntax error"), "{err}");
/// assert!(!err.contains("pw@"), "{err}");
/// ```
#[derive(Clone)]
pub struct NotifierSpec {
    /// Unique name, used by `notify` in rules.
    pub name: String,
    /// Where it sends.
    pub kind: NotifierKind,
    /// The webhook URL (a secret for Slack, Discord and Teams) or the broker's URL (a
    /// secret: it may hold a password). `None` for email and callable notifiers.
    pub url: Option<url::Url>,
    /// HMAC-SHA256 key for the `X-Upwatch-Signature` header (webhooks).
    pub secret: Option<String>,
    /// Extra request headers (authorization and the like).
    pub headers: Vec<(String, String)>,
    /// Mail settings (email).
    pub email: Option<EmailSpec>,
    /// Subject, channel, stream or exchange (brokers).
    pub broker: Option<BrokerTarget>,
    /// The message template (MiniJinja, see [`super::template`]): the whole body for
    /// webhooks and brokers, the text for chat, the plain text body for mail.
    pub template: Option<String>,
    /// Time allowed for one attempt.
    pub timeout: Duration,
    /// Attempts before giving up on an alert.
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub backoff: Duration,
    /// Cap on the wait between retries.
    pub max_backoff: Duration,
}

impl fmt::Debug for NotifierSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("email", &self.email)
            .field("broker", &self.broker)
            .field("template", &self.template.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl NotifierSpec {
    /// Validates one notifier given as JSON (`${VAR}` taken from the environment).
    pub fn from_value(value: Value) -> Result<NotifierSpec, crate::spec::SpecError> {
        let mut p = Problems::default();
        match read_notifier(&value, "", &|k| std::env::var(k).ok(), &mut p) {
            Some(n) if p.list.is_empty() => Ok(n),
            _ => Err(crate::spec::SpecError::Invalid(p.list)),
        }
    }
}

/// Fields that only some kinds take (the others are common to all).
const KIND_FIELDS: &[(&str, &[NotifierKind])] = {
    use NotifierKind::*;
    const HTTP: &[NotifierKind] = &[Webhook, Slack, Discord, Teams];
    const EMAIL: &[NotifierKind] = &[Email];
    const REDIS: &[NotifierKind] = &[Redis];
    const AMQP: &[NotifierKind] = &[Amqp];
    &[
        ("url", &[Webhook, Slack, Discord, Teams, Nats, Redis, Amqp]),
        ("secret", HTTP),
        ("headers", HTTP),
        ("host", EMAIL),
        ("port", EMAIL),
        ("tls", EMAIL),
        ("username", EMAIL),
        ("password", EMAIL),
        ("from", EMAIL),
        ("to", EMAIL),
        ("html", EMAIL),
        ("ca_file", EMAIL),
        ("subject", &[Email, Nats]),
        ("mode", REDIS),
        ("channel", REDIS),
        ("stream", REDIS),
        ("maxlen", REDIS),
        ("exchange", AMQP),
        ("routing_key", AMQP),
        ("mandatory", AMQP),
        ("persistent", AMQP),
    ]
};

pub(crate) fn read_notifier(
    value: &Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
) -> Option<NotifierSpec> {
    let mut expanded = value.clone();
    crate::spec::env::expand(&mut expanded, path, env, p);
    let mut o = Obj::new(&expanded, path, p)?;
    let name = o.required_string("name", p);
    let kind_path = o.at("kind");
    let kind = match o.required_string("kind", p).as_deref() {
        Some(s) => match NotifierKind::parse(s) {
            Some(k) => Some(k),
            None => {
                let all: Vec<&str> = NotifierKind::ALL.iter().map(|k| k.as_str()).collect();
                p.push(
                    kind_path,
                    format!("{s:?} is not a kind of notifier (one of: {})", all.join(", ")),
                );
                None
            }
        },
        None => None,
    };
    // A field of another kind is named as such; with no valid kind, only `url` is judged
    // (as a webhook's, the first kind there was).
    for (key, kinds) in KIND_FIELDS {
        match kind {
            Some(k) if !kinds.contains(&k) && o.has(key) => {
                let message = if *key == "secret" {
                    "only webhooks are signed".to_string()
                } else {
                    format!("is not used by {} notifiers", k.as_str())
                };
                p.push(o.at(key), message);
                o.raw(key);
            }
            None if *key != "url" => {
                o.raw(key);
            }
            _ => {}
        }
    }
    let url = match kind {
        Some(NotifierKind::Email | NotifierKind::Callable) => None,
        Some(k) => read_url(&mut o, k, p),
        None if o.has("url") => read_url(&mut o, NotifierKind::Webhook, p),
        None => None,
    };
    let mut secret = None;
    let mut headers = Vec::new();
    if kind == Some(NotifierKind::Webhook) {
        secret = o.string("secret", p);
    }
    if kind.is_some_and(NotifierKind::is_http) {
        let headers_path = o.at("headers");
        headers = o.string_map("headers", p).unwrap_or_default();
        for (k, v) in &headers {
            if http::HeaderName::try_from(k.as_str()).is_err() {
                p.push(join(&headers_path, k), "is not a valid header name");
            } else if http::HeaderValue::try_from(v.as_str()).is_err() {
                p.push(join(&headers_path, k), "has characters not allowed in a header value");
            }
        }
    }
    let email = match kind {
        Some(NotifierKind::Email) => read_email(&mut o, p),
        _ => None,
    };
    let broker = match kind {
        Some(k @ (NotifierKind::Nats | NotifierKind::Redis | NotifierKind::Amqp)) => read_broker(&mut o, k, p),
        _ => None,
    };
    let template_path = o.at("template");
    let template = o.string("template", p);
    if let (Some(source), Some(k)) = (&template, kind) {
        if let Err(e) = super::template::Template::new(source, k.template_format()) {
            p.push(template_path, e.to_string());
        }
    }
    let timeout = o.duration("timeout", p).unwrap_or(DEFAULT_NOTIFIER_TIMEOUT);
    if timeout.is_zero() || timeout > Duration::from_secs(300) {
        p.push(o.at("timeout"), "must be between 1ms and 5m");
    }
    let max_attempts = o
        .int("max_attempts", 1, 1000, p)
        .map_or(DEFAULT_MAX_ATTEMPTS, |n| n as u32);
    let backoff = o.duration("backoff", p).unwrap_or(DEFAULT_BACKOFF);
    let max_backoff = o.duration("max_backoff", p).unwrap_or(DEFAULT_MAX_BACKOFF).max(backoff);
    o.finish(p);
    let kind = kind?;
    let complete = match kind {
        NotifierKind::Email => email.is_some(),
        NotifierKind::Callable => true,
        k if k.is_http() => url.is_some(),
        _ => url.is_some() && broker.is_some(),
    };
    if !complete {
        return None;
    }
    Some(NotifierSpec {
        name: name?,
        kind,
        url,
        secret,
        headers,
        email,
        broker,
        template,
        timeout,
        max_attempts,
        backoff,
        max_backoff,
    })
}

/// The `url` of an HTTP or broker notifier. Never echoes it: it may hold a secret.
fn read_url(o: &mut Obj, kind: NotifierKind, p: &mut Problems) -> Option<url::Url> {
    let url_path = o.at("url");
    let (schemes, wanted): (&[&str], &str) = match kind {
        NotifierKind::Nats => (&["nats", "tls"], "a nats:// or tls://"),
        NotifierKind::Redis => (&["redis", "rediss"], "a redis:// or rediss://"),
        NotifierKind::Amqp => (&["amqp", "amqps"], "an amqp:// or amqps://"),
        _ => (&["http", "https"], "an http:// or https://"),
    };
    let text = o.required_string("url", p)?;
    match url::Url::parse(&text) {
        Ok(url) if schemes.contains(&url.scheme()) && url.host_str().is_some_and(|h| !h.is_empty()) => {
            if kind == NotifierKind::Amqp && text.parse::<lapin::uri::AMQPUri>().is_err() {
                p.push(&url_path, "is not a valid AMQP URL");
                return None;
            }
            Some(url)
        }
        Ok(_) => {
            p.push(&url_path, format!("is not {wanted} URL with a host"));
            None
        }
        Err(e) => {
            p.push(&url_path, format!("is not a URL ({e})"));
            None
        }
    }
}

fn read_email(o: &mut Obj, p: &mut Problems) -> Option<EmailSpec> {
    let host_path = o.at("host");
    let host = o.required_string("host", p);
    if host
        .as_deref()
        .is_some_and(|h| h.is_empty() || h.contains(char::is_whitespace))
    {
        p.push(host_path, "is not a host name");
    }
    let tls_path = o.at("tls");
    let tls = match o.string("tls", p).as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            p.push(
                tls_path,
                format!("{other:?} is not a TLS mode (one of: starttls, tls, none)"),
            );
            SmtpTls::StartTls
        }
    };
    let port_path = o.at("port");
    let port = match o.raw("port") {
        None => match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        },
        Some(v) => match v.as_u64() {
            Some(n @ 1..=65535) => n as u16,
            _ => {
                p.push(port_path, "must be 1..65535");
                0
            }
        },
    };
    let username = o.string("username", p);
    let password_path = o.at("password");
    let password = o.string("password", p);
    if username.is_some() != password.is_some() {
        let (at, other) = if username.is_some() {
            (password_path.clone(), "username")
        } else {
            (o.at("username"), "password")
        };
        p.push(at, format!("is required with {other}"));
    }
    if password.is_some() && tls == SmtpTls::None {
        p.push(
            password_path,
            "would be sent in clear with tls = \"none\" (use \"starttls\" or \"tls\")",
        );
    }
    let from_path = o.at("from");
    let from = o.required_string("from", p);
    if let Some(f) = &from {
        if f.parse::<lettre::message::Mailbox>().is_err() {
            p.push(from_path, format!("{f:?} is not an email address"));
        }
    }
    let to_path = o.at("to");
    let to = if o.has("to") {
        o.strings("to", p).unwrap_or_default()
    } else {
        o.raw("to");
        Vec::new()
    };
    if to.is_empty() {
        p.push(&to_path, "is required (one address or a list)");
    }
    for (i, t) in to.iter().enumerate() {
        if t.parse::<lettre::message::Mailbox>().is_err() {
            p.push(index(&to_path, i), format!("{t:?} is not an email address"));
        }
    }
    let mut template = |key: &'static str, format, p: &mut Problems| {
        let at = o.at(key);
        let source = o.string(key, p)?;
        if let Err(e) = super::template::Template::new(&source, format) {
            p.push(at, e.to_string());
        }
        Some(source)
    };
    let subject = template("subject", super::template::Format::Text, p);
    let html = template("html", super::template::Format::Html, p);
    let ca_path = o.at("ca_file");
    let ca_file = o.string("ca_file", p).map(std::path::PathBuf::from);
    if let Some(file) = &ca_file {
        if let Err(e) = super::email::read_ca_file(file) {
            p.push(ca_path, e);
        }
    }
    Some(EmailSpec {
        host: host?,
        port,
        tls,
        username,
        password,
        from: from?,
        to,
        subject,
        html,
        ca_file,
    })
}

fn read_broker(o: &mut Obj, kind: NotifierKind, p: &mut Problems) -> Option<BrokerTarget> {
    // Names of subjects, channels and keys are echoed: they are not secrets.
    let name = |o: &mut Obj, key: &'static str, p: &mut Problems| -> Option<String> {
        let at = o.at(key);
        let s = o.required_string(key, p)?;
        if s.is_empty() {
            p.push(at, "must not be empty");
            return None;
        }
        Some(s)
    };
    match kind {
        NotifierKind::Nats => {
            let at = o.at("subject");
            let subject = name(o, "subject", p)?;
            let valid = !subject.contains(|c: char| c.is_whitespace() || c.is_control())
                && subject.split('.').all(|t| !t.is_empty() && t != "*" && t != ">");
            if !valid {
                p.push(
                    at,
                    format!(
                        "{subject:?} is not a NATS subject to publish on (dot-separated words, no spaces or wildcards)"
                    ),
                );
                return None;
            }
            Some(BrokerTarget::Nats { subject })
        }
        NotifierKind::Redis => {
            let mode_path = o.at("mode");
            let stream_mode = match o.string("mode", p).as_deref() {
                None | Some("publish") => false,
                Some("stream") => true,
                Some(other) => {
                    p.push(
                        mode_path,
                        format!("{other:?} is not a Redis mode (one of: publish, stream)"),
                    );
                    return None;
                }
            };
            if stream_mode {
                if o.has("channel") {
                    p.push(
                        o.at("channel"),
                        "is for mode = \"publish\" (a stream is named by \"stream\")",
                    );
                }
                o.raw("channel");
                let stream = name(o, "stream", p);
                let maxlen = o.int("maxlen", 1, 1_000_000_000, p).unwrap_or(DEFAULT_STREAM_MAXLEN);
                Some(BrokerTarget::RedisStream {
                    stream: stream?,
                    maxlen,
                })
            } else {
                for key in ["stream", "maxlen"] {
                    if o.has(key) {
                        p.push(o.at(key), "is for mode = \"stream\"");
                    }
                }
                o.raw("stream");
                o.raw("maxlen");
                let channel = name(o, "channel", p)?;
                Some(BrokerTarget::RedisPublish { channel })
            }
        }
        _ => {
            let at = o.at("exchange");
            if !o.has("exchange") {
                p.push(&at, "is required (\"\" for the default exchange)");
            }
            let exchange = o.string("exchange", p);
            let routing_key = o.string("routing_key", p).unwrap_or_default();
            for (key, v) in [
                ("exchange", exchange.as_deref()),
                ("routing_key", Some(routing_key.as_str())),
            ] {
                if v.is_some_and(|v| v.len() > 255) {
                    p.push(o.at(key), "must be at most 255 bytes");
                }
            }
            let mandatory = o.bool("mandatory", p).unwrap_or(true);
            let persistent = o.bool("persistent", p).unwrap_or(true);
            Some(BrokerTarget::Amqp {
                exchange: exchange?,
                routing_key,
                mandatory,
                persistent,
            })
        }
    }
}

/// What a rule alerts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The check went down (and stayed down for `for`).
    Down,
    /// The check came back up after a failure alert.
    Resolved,
    /// The check became degraded (and stayed so for `for`).
    Degraded,
    /// An incident is still open `for` after it opened.
    StillOpen,
    /// The check changed status too often: one alert instead of one per change.
    Flapping,
    /// The check's certificate crossed an expiry threshold.
    CertificateExpiring,
    /// The check's recent latency is above its own baseline (a rule's `baseline` table).
    LatencyBaseline,
    /// The check's uptime over a window fell below an objective (a rule's `slo` table).
    Slo,
}

impl Trigger {
    /// The spec and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Down => "down",
            Trigger::Resolved => "resolved",
            Trigger::Degraded => "degraded",
            Trigger::StillOpen => "still_open",
            Trigger::Flapping => "flapping",
            Trigger::CertificateExpiring => "certificate_expiring",
            Trigger::LatencyBaseline => "latency_baseline",
            Trigger::Slo => "slo",
        }
    }

    /// Whether the trigger is a condition read from history (evaluated on a timer).
    pub fn from_history(self) -> bool {
        matches!(self, Trigger::LatencyBaseline | Trigger::Slo)
    }

    fn parse(s: &str) -> Option<Trigger> {
        Some(match s {
            "down" => Trigger::Down,
            "resolved" | "up" => Trigger::Resolved,
            "degraded" => Trigger::Degraded,
            "still_open" => Trigger::StillOpen,
            "flapping" => Trigger::Flapping,
            "certificate_expiring" => Trigger::CertificateExpiring,
            "latency_baseline" | "baseline" => Trigger::LatencyBaseline,
            "slo" => Trigger::Slo,
            _ => return None,
        })
    }
}

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Look soon.
    Warning,
    /// Look now.
    Critical,
}

impl Severity {
    /// The spec and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Flapping detection: `changes` status changes within `within`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Flapping {
    /// Status changes that make a check flapping.
    pub changes: u32,
    /// The window they are counted in.
    #[serde(with = "duration_text")]
    pub within: Duration,
}

impl Default for Flapping {
    fn default() -> Self {
        Flapping {
            changes: 5,
            within: Duration::from_secs(600),
        }
    }
}

/// What a rule follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each check.
    #[default]
    Check,
    /// Each service's derived status.
    Service,
}

/// A latency rule from history: the recent percentile against the check's own longer
/// history, `p95 over 15m > 2 x p95 over 7d`.
///
/// ```
/// use monitor_core::alerts::rules::AlertRule;
/// let r = AlertRule::from_value(serde_json::json!({
///     "name": "slow", "baseline": {"percentile": 99, "recent": "10m", "over": "7d", "factor": 3}
/// })).unwrap();
/// let b = r.baseline.unwrap();
/// assert_eq!((b.percentile, b.factor), (99, 3.0));
/// assert_eq!(r.on[0].as_str(), "latency_baseline");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Baseline {
    /// 50, 95 or 99.
    pub percentile: u8,
    /// The recent window compared.
    #[serde(with = "duration_text")]
    pub recent: Duration,
    /// The history it is compared with.
    #[serde(with = "duration_text")]
    pub over: Duration,
    /// How many times the baseline the recent value must exceed.
    pub factor: f64,
    /// Results needed in the recent window before it is judged.
    pub min_samples: u64,
    /// How often it is evaluated.
    #[serde(with = "duration_text")]
    pub every: Duration,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            percentile: 95,
            recent: Duration::from_secs(15 * 60),
            over: Duration::from_secs(7 * 86_400),
            factor: 2.0,
            min_samples: 5,
            every: Duration::from_secs(60),
        }
    }
}

/// An uptime objective from history: `uptime over 30d < 99.9 %`.
///
/// ```
/// use monitor_core::alerts::rules::AlertRule;
/// let r = AlertRule::from_value(serde_json::json!({"name": "slo", "slo": {"uptime": "99.9%", "window": "30d"}})).unwrap();
/// assert_eq!(r.slo.unwrap().uptime_pct, 99.9);
/// let e = AlertRule::from_value(serde_json::json!({"name": "slo", "slo": {"uptime": "120%"}})).unwrap_err();
/// assert!(e.to_string().contains("slo.uptime: must be a percentage above 0 and below 100"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Slo {
    /// The objective, in percent.
    pub uptime_pct: f64,
    /// The window it is measured over.
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// How often it is evaluated.
    #[serde(with = "duration_text")]
    pub every: Duration,
}

/// One alert rule.
///
/// ```
/// use monitor_core::alerts::rules::{AlertRule, Trigger};
/// let r = AlertRule::from_value(serde_json::json!({"name": "all", "for": "30s"})).unwrap();
/// assert_eq!(r.on, vec![Trigger::Down, Trigger::Resolved]);
/// assert!(r.matches("api", None, &[]));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertRule {
    /// Unique name.
    pub name: String,
    /// Whether it follows each check, or each service as a whole (`scope = "service"`:
    /// one alert when a service goes down, from its critical checks, not one per check).
    pub scope: Scope,
    /// What it alerts on (default: down and resolved).
    pub on: Vec<Trigger>,
    /// Only these checks (empty: any).
    pub checks: Vec<String>,
    /// Only checks of these services (empty: any).
    pub services: Vec<String>,
    /// Only checks with any of these tags (empty: any).
    pub tags: Vec<String>,
    /// How long the check must stay down (or degraded, or the incident open) first.
    #[serde(rename = "for", with = "duration_text")]
    pub for_: Duration,
    /// How urgent.
    pub severity: Severity,
    /// Notifier names.
    pub notify: Vec<String>,
    /// Remind this often while still down.
    #[serde(serialize_with = "duration_text::option")]
    pub repeat: Option<Duration>,
    /// Send `resolved` when a check that was alerted on comes back up.
    pub send_resolved: bool,
    /// Flapping detection (on when `on` has `flapping` or the table is given).
    pub flapping: Option<Flapping>,
    /// Certificate expiry thresholds, largest first (default 14d, 7d, 1d).
    #[serde(serialize_with = "duration_text::list")]
    pub certificate: Vec<Duration>,
    /// Latency against the check's own history (on when `on` has `latency_baseline` or the table is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// An uptime objective (on when the table is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
}

impl AlertRule {
    /// Validates one rule given as JSON (its `notify` names are not checked here).
    pub fn from_value(value: Value) -> Result<AlertRule, crate::spec::SpecError> {
        let mut p = Problems::default();
        match read_rule(&value, "", &mut p) {
            Some(r) if p.list.is_empty() => Ok(r),
            _ => Err(crate::spec::SpecError::Invalid(p.list)),
        }
    }

    /// Whether the rule applies to a check with this name, service and tags (a service
    /// rule applies to no check).
    pub fn matches(&self, check: &str, service: Option<&str>, tags: &[String]) -> bool {
        self.scope == Scope::Check && self.matches_check(check, service, tags)
    }

    /// Whether a service rule applies to this service.
    pub fn matches_service(&self, service: &str) -> bool {
        self.scope == Scope::Service && (self.services.is_empty() || self.services.iter().any(|s| s == service))
    }

    fn matches_check(&self, check: &str, service: Option<&str>, tags: &[String]) -> bool {
        (self.checks.is_empty() || self.checks.iter().any(|c| c == check))
            && (self.services.is_empty() || service.is_some_and(|s| self.services.iter().any(|x| x == s)))
            && (self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t)))
    }

    /// Whether the rule alerts on `t`.
    pub fn on(&self, t: Trigger) -> bool {
        self.on.contains(&t)
    }
}

pub(crate) fn read_rule(value: &Value, path: &str, p: &mut Problems) -> Option<AlertRule> {
    let mut o = Obj::new(value, path, p)?;
    let name = o.required_string("name", p);
    let on_path = o.at("on");
    let mut on = Vec::new();
    for (i, s) in o.strings("on", p).unwrap_or_default().iter().enumerate() {
        match Trigger::parse(s) {
            Some(t) if !on.contains(&t) => on.push(t),
            Some(_) => {}
            None => p.push(
                index(&on_path, i),
                format!(
                    "{s:?} is not an alert trigger (one of: down, resolved, degraded, still_open, flapping, certificate_expiring, latency_baseline, slo)"
                ),
            ),
        }
    }
    let scope_path = o.at("scope");
    let scope = match o.string("scope", p).as_deref() {
        None | Some("check") => Scope::Check,
        Some("service") => Scope::Service,
        Some(other) => {
            p.push(
                &scope_path,
                format!("{other:?} is not a scope (one of: check, service)"),
            );
            Scope::Check
        }
    };
    let checks = o.strings("checks", p).unwrap_or_default();
    let services = o.strings("services", p).unwrap_or_default();
    let tags = o.strings("tags", p).unwrap_or_default();
    let for_ = o.duration("for", p).unwrap_or(Duration::ZERO);
    let sev_path = o.at("severity");
    let severity = match o.string("severity", p).as_deref() {
        None | Some("critical") => Severity::Critical,
        Some("warning") | Some("warn") => Severity::Warning,
        Some("info") => Severity::Info,
        Some(other) => {
            p.push(
                sev_path,
                format!("{other:?} is not a severity (one of: info, warning, critical)"),
            );
            Severity::Critical
        }
    };
    let notify = o.strings("notify", p).unwrap_or_default();
    let repeat_path = o.at("repeat");
    let repeat = o.duration("repeat", p);
    if repeat.is_some_and(|r| r < Duration::from_secs(1)) {
        p.push(repeat_path, "must be at least 1s");
    }
    let send_resolved_given = o.bool("send_resolved", p);
    let flap_path = o.at("flapping");
    let mut flapping = None;
    match o.raw("flapping") {
        None => {}
        Some(Value::Bool(true)) => flapping = Some(Flapping::default()),
        Some(Value::Bool(false)) => {}
        Some(v @ Value::Object(_)) => {
            if let Some(mut f) = Obj::new(v, &flap_path, p) {
                let d = Flapping::default();
                let changes = f.int("changes", 2, 1000, p).map_or(d.changes, |n| n as u32);
                let within = f.duration("within", p).unwrap_or(d.within);
                if within.is_zero() {
                    p.push(f.at("within"), "must be longer than 0s");
                }
                f.finish(p);
                flapping = Some(Flapping { changes, within });
            }
        }
        Some(other) => p.push(
            &flap_path,
            format!("expected {{ changes = 5, within = \"10m\" }}, got {}", type_name(other)),
        ),
    }
    let baseline = read_baseline(&mut o, p);
    let slo = read_slo(&mut o, p);
    if scope == Scope::Service {
        for key in ["checks", "tags", "baseline", "slo", "certificate"] {
            if o.has(key) {
                p.push(o.at(key), "a service rule follows services (`services`), not checks");
            }
        }
    }
    if baseline.is_some() && slo.is_some() {
        p.push(o.at("slo"), "put `baseline` and `slo` in separate rules");
    }
    let cert_path = o.at("certificate");
    let mut certificate = Vec::new();
    for (i, s) in o.strings("certificate", p).unwrap_or_default().iter().enumerate() {
        match crate::spec::reader::parse_duration(s) {
            Ok(d) if !d.is_zero() => certificate.push(d),
            Ok(_) => p.push(index(&cert_path, i), "must be longer than 0s"),
            Err(e) => p.push(index(&cert_path, i), e),
        }
    }
    o.finish(p);
    if on.is_empty() {
        // A rule about history alerts on that (and its resolution), not on every down.
        on = if baseline.is_some() || slo.is_some() {
            vec![Trigger::Resolved]
        } else {
            vec![Trigger::Down, Trigger::Resolved]
        };
        if flapping.is_some() {
            on.push(Trigger::Flapping);
        }
        if baseline.is_some() {
            on.insert(0, Trigger::LatencyBaseline);
        }
        if slo.is_some() {
            on.insert(0, Trigger::Slo);
        }
    }
    if on.contains(&Trigger::Flapping) && flapping.is_none() {
        flapping = Some(Flapping::default());
    }
    let baseline = baseline.or(on.contains(&Trigger::LatencyBaseline).then(Baseline::default));
    if on.contains(&Trigger::Slo) && slo.is_none() {
        p.push(
            &on_path,
            "`slo` needs an `slo` table with the objective, e.g. { uptime = \"99.9%\", window = \"30d\" }",
        );
    }
    if certificate.is_empty() {
        certificate = [14, 7, 1].iter().map(|d| Duration::from_secs(d * 86_400)).collect();
    }
    certificate.sort_by(|a, b| b.cmp(a));
    certificate.dedup();
    let send_resolved = send_resolved_given.unwrap_or(true);
    if scope == Scope::Service {
        if let Some(i) = on.iter().position(|t| {
            !matches!(
                t,
                Trigger::Down | Trigger::Resolved | Trigger::Degraded | Trigger::Flapping | Trigger::StillOpen
            )
        }) {
            p.push(
                index(&on_path, i),
                format!(
                    "a service rule alerts on down, resolved, degraded, flapping or still_open, not {}",
                    on[i].as_str()
                ),
            );
        }
    }
    Some(AlertRule {
        name: name?,
        scope,
        on,
        checks,
        services,
        tags,
        for_,
        severity,
        notify,
        repeat,
        send_resolved,
        flapping,
        certificate,
        baseline,
        slo,
    })
}

fn read_baseline(o: &mut Obj, p: &mut Problems) -> Option<Baseline> {
    let path = o.at("baseline");
    let v = o.raw("baseline")?;
    let mut b = Obj::new(v, &path, p)?;
    let d = Baseline::default();
    let pct_path = b.at("percentile");
    let percentile = match b.raw("percentile") {
        None => d.percentile,
        Some(Value::Number(n)) if matches!(n.as_u64(), Some(50 | 95 | 99)) => n.as_u64().unwrap_or(95) as u8,
        Some(Value::String(s)) if matches!(s.as_str(), "p50" | "p95" | "p99") => s[1..].parse().unwrap_or(95),
        Some(other) => {
            p.push(pct_path, format!("must be 50, 95 or 99 (or \"p95\"), got {other}"));
            d.percentile
        }
    };
    let recent = b.duration("recent", p).unwrap_or(d.recent);
    let over = b.duration("over", p).unwrap_or(d.over);
    if recent.is_zero() {
        p.push(b.at("recent"), "must be longer than 0s");
    }
    if over <= recent {
        p.push(b.at("over"), "must be longer than `recent`");
    }
    let factor_path = b.at("factor");
    let factor = b.number("factor", p).unwrap_or(d.factor);
    if !(factor.is_finite() && factor > 1.0) {
        p.push(factor_path, "must be a number above 1");
    }
    let min_samples = b.int("min_samples", 1, 1_000_000, p).map_or(d.min_samples, |n| n);
    let every = evaluation_every(&mut b, p);
    b.finish(p);
    Some(Baseline {
        percentile,
        recent,
        over,
        factor,
        min_samples,
        every,
    })
}

fn read_slo(o: &mut Obj, p: &mut Problems) -> Option<Slo> {
    let path = o.at("slo");
    let v = o.raw("slo")?;
    let mut s = Obj::new(v, &path, p)?;
    let up_path = s.at("uptime");
    let uptime_pct = match s.raw("uptime") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(t)) => t.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
        None => {
            p.push(&up_path, "is required (the objective, e.g. \"99.9%\")");
            None
        }
        Some(_) => None,
    };
    let uptime_pct = match uptime_pct {
        Some(u) if u > 0.0 && u < 100.0 => Some(u),
        _ => {
            if s.raw("uptime").is_some() || uptime_pct.is_some() {
                p.push(&up_path, "must be a percentage above 0 and below 100 (\"99.9%\")");
            }
            None
        }
    };
    let window = s.duration("window", p).unwrap_or(Duration::from_secs(30 * 86_400));
    if window < Duration::from_secs(60) {
        p.push(s.at("window"), "must be at least 1m");
    }
    let every = evaluation_every(&mut s, p);
    s.finish(p);
    Some(Slo {
        uptime_pct: uptime_pct?,
        window,
        every,
    })
}

fn evaluation_every(o: &mut Obj, p: &mut Problems) -> Duration {
    let every = o.duration("every", p).unwrap_or(Duration::from_secs(60));
    if every < Duration::from_secs(1) {
        p.push(o.at("every"), "must be at least 1s");
    }
    every
}

/// When a maintenance window is open.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// From one instant to another.
    Once {
        /// Start.
        from: DateTime<Utc>,
        /// End (exclusive).
        to: DateTime<Utc>,
    },
    /// On some weekdays, between two local times in a time zone (`end` before `start`
    /// crosses midnight, counted from the start's day).
    Weekly {
        /// The days it starts on (`"mon"`, as in specs).
        #[serde(serialize_with = "weekday_names")]
        weekdays: Vec<Weekday>,
        /// Local start time (`"02:00"`).
        #[serde(serialize_with = "clock_time")]
        start: NaiveTime,
        /// Local end time.
        #[serde(serialize_with = "clock_time")]
        end: NaiveTime,
        /// The time zone (IANA name).
        #[serde(serialize_with = "tz_name")]
        timezone: chrono_tz::Tz,
    },
}

fn weekday_names<S: serde::Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(days.iter().map(|d| d.to_string().to_lowercase()))
}

fn clock_time<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    use chrono::Timelike;
    if t.second() == 0 {
        s.serialize_str(&t.format("%H:%M").to_string())
    } else {
        s.serialize_str(&t.format("%H:%M:%S").to_string())
    }
}

fn tz_name<S: serde::Serializer>(tz: &chrono_tz::Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// A maintenance window: its checks still run and are stored; their alerts are held back.
///
/// ```
/// use monitor_core::alerts::rules::MaintenanceWindow;
/// let w = MaintenanceWindow::from_value(serde_json::json!({
///     "name": "deploy", "services": ["backend"],
///     "from": "2026-12-01T10:00:00Z", "to": "2026-12-01T11:00:00Z"
/// })).unwrap();
/// let at = "2026-12-01T10:30:00Z".parse().unwrap();
/// assert!(w.active_at(at));
/// assert_eq!(w.ends_after(at), Some("2026-12-01T11:00:00Z".parse().unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaintenanceWindow {
    /// Its name.
    pub name: String,
    /// Only these checks (all three filters empty: every check).
    pub checks: Vec<String>,
    /// Checks of these services.
    pub services: Vec<String>,
    /// Checks with any of these tags.
    pub tags: Vec<String>,
    /// When.
    pub schedule: Schedule,
}

impl MaintenanceWindow {
    /// Validates one window given as JSON.
    pub fn from_value(value: Value) -> Result<MaintenanceWindow, crate::spec::SpecError> {
        let mut p = Problems::default();
        match read_maintenance(&value, "", &mut p) {
            Some(w) if p.list.is_empty() => Ok(w),
            _ => Err(crate::spec::SpecError::Invalid(p.list)),
        }
    }

    /// Whether the window covers a check with this name, service and tags.
    pub fn covers(&self, check: &str, service: Option<&str>, tags: &[String]) -> bool {
        if self.checks.is_empty() && self.services.is_empty() && self.tags.is_empty() {
            return true;
        }
        self.checks.iter().any(|c| c == check)
            || service.is_some_and(|s| self.services.iter().any(|x| x == s))
            || tags.iter().any(|t| self.tags.contains(t))
    }

    /// Whether the window is open at `at`.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        match &self.schedule {
            Schedule::Once { from, to } => *from <= at && at < *to,
            Schedule::Weekly { .. } => self.weekly_end(at).is_some(),
        }
    }

    /// When the window, open at `at`, closes (`None` when it is not open).
    pub fn ends_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.schedule {
            Schedule::Once { to, .. } => self.active_at(at).then_some(*to),
            Schedule::Weekly { .. } => self.weekly_end(at),
        }
    }

    /// For a weekly window: the end of the occurrence open at `at`, if one is.
    fn weekly_end(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::{Datelike, TimeZone};
        let Schedule::Weekly {
            weekdays,
            start,
            end,
            timezone,
        } = &self.schedule
        else {
            return None;
        };
        let local = at.with_timezone(timezone);
        let today = local.date_naive();
        // The occurrence that started today, or (crossing midnight) yesterday.
        for day in [today, today.pred_opt()?] {
            if !weekdays.contains(&day.weekday()) {
                continue;
            }
            let end_day = if end <= start { day.succ_opt()? } else { day };
            let resolve = |d: chrono::NaiveDate, t: NaiveTime| {
                let naive = d.and_time(t);
                timezone
                    .from_local_datetime(&naive)
                    .earliest()
                    .or_else(|| {
                        timezone
                            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .map(|x| x.with_timezone(&Utc))
            };
            let (from, to) = (resolve(day, *start)?, resolve(end_day, *end)?);
            if from <= at && at < to {
                return Some(to);
            }
        }
        None
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

pub(crate) fn read_maintenance(value: &Value, path: &str, p: &mut Problems) -> Option<MaintenanceWindow> {
    let mut o = Obj::new(value, path, p)?;
    let name = o.required_string("name", p);
    let checks = o.strings("checks", p).unwrap_or_default();
    let services = o.strings("services", p).unwrap_or_default();
    let tags = o.strings("tags", p).unwrap_or_default();
    let instant = |o: &mut Obj, key: &'static str, p: &mut Problems| -> Option<DateTime<Utc>> {
        let at = o.at(key);
        let s = o.string(key, p)?;
        match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                p.push(
                    at,
                    format!("{s:?} is not an RFC 3339 time (like \"2026-12-01T10:00:00Z\")"),
                );
                None
            }
        }
    };
    let time = |o: &mut Obj, key: &'static str, p: &mut Problems| -> Option<NaiveTime> {
        let at = o.at(key);
        let s = o.string(key, p)?;
        match NaiveTime::parse_from_str(s.trim(), "%H:%M").or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
        {
            Ok(t) => Some(t),
            Err(_) => {
                p.push(at, format!("{s:?} is not a time of day (like \"02:30\")"));
                None
            }
        }
    };
    let once = o.has("from") || o.has("to");
    let schedule = if once {
        let from_path = o.at("from");
        let (from, to) = (instant(&mut o, "from", p), instant(&mut o, "to", p));
        if !o.has("from") {
            p.push(o.at("from"), "is required with \"to\"");
        }
        if !o.has("to") {
            p.push(o.at("to"), "is required with \"from\"");
        }
        for key in ["weekdays", "start", "end", "timezone"] {
            if o.has(key) {
                p.push(
                    o.at(key),
                    "a window is either one-off (from/to) or weekly (weekdays/start/end)",
                );
            }
        }
        match (from, to) {
            (Some(from), Some(to)) if from < to => Some(Schedule::Once { from, to }),
            (Some(_), Some(_)) => {
                p.push(from_path, "must be before \"to\"");
                None
            }
            _ => None,
        }
    } else {
        let wd_path = o.at("weekdays");
        let mut weekdays = Vec::new();
        let given = o.strings("weekdays", p);
        for (i, s) in given.clone().unwrap_or_default().iter().enumerate() {
            match weekday(s) {
                Some(d) => weekdays.push(d),
                None => p.push(index(&wd_path, i), format!("{s:?} is not a weekday (mon..sun)")),
            }
        }
        if given.is_none() {
            weekdays = vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ];
        }
        let start_given = o.has("start");
        let (start, end) = (time(&mut o, "start", p), time(&mut o, "end", p));
        if !start_given {
            p.push(o.at("start"), "is required (or give from/to for a one-off window)");
        }
        if !o.has("end") {
            p.push(o.at("end"), "is required");
        }
        let tz_path = o.at("timezone");
        let tz = match o.string("timezone", p) {
            None => Some(chrono_tz::UTC),
            Some(name) => match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    p.push(
                        tz_path,
                        format!("{name:?} is not an IANA time zone (like \"Europe/Paris\")"),
                    );
                    None
                }
            },
        };
        match (start, end, tz) {
            (Some(start), Some(end), Some(timezone)) if start != end => Some(Schedule::Weekly {
                weekdays,
                start,
                end,
                timezone,
            }),
            (Some(_), Some(_), Some(_)) => {
                p.push(o.at("end"), "must differ from start");
                None
            }
            _ => None,
        }
    };
    o.finish(p);
    Some(MaintenanceWindow {
        name: name?,
        checks,
        services,
        tags,
        schedule: schedule?,
    })
}

/// Reads `notifiers`, `alerts` and `maintenance` of a spec object, checking names and
/// that every `notify` names a notifier.
pub(crate) fn read_alerting(
    o: &mut Obj,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
) -> (Vec<NotifierSpec>, Vec<AlertRule>, Vec<MaintenanceWindow>) {
    fn list<'a>(o: &mut Obj<'a>, key: &'static str, p: &mut Problems) -> &'a [Value] {
        match o.raw(key) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(other) => {
                p.push(key, format!("expected a list of tables, got {}", type_name(other)));
                &[]
            }
        }
    }
    let mut notifiers: Vec<NotifierSpec> = Vec::new();
    // Names are judged on the raw values, so a duplicate is reported even when the
    // notifier has other problems.
    let items = list(o, "notifiers", p);
    let raw_names: Vec<Option<&str>> = items.iter().map(|v| v.get("name").and_then(Value::as_str)).collect();
    for (i, v) in items.iter().enumerate() {
        let path = index("notifiers", i);
        if let Some(name) = raw_names[i] {
            if let Some(first) = raw_names[..i].iter().position(|x| *x == Some(name)) {
                p.push(
                    format!("{path}.name"),
                    format!("{name:?} is already used by notifiers[{first}]"),
                );
            }
        }
        if let Some(n) = read_notifier(v, &path, env, p) {
            notifiers.push(n);
        }
    }
    let mut alerts: Vec<AlertRule> = Vec::new();
    for (i, v) in list(o, "alerts", p).iter().enumerate() {
        let path = index("alerts", i);
        if let Some(r) = read_rule(v, &path, p) {
            if alerts.iter().any(|x| x.name == r.name) {
                p.push(format!("{path}.name"), format!("{:?} is declared twice", r.name));
            }
            for (j, n) in r.notify.iter().enumerate() {
                // Judged against the raw list, so a notifier with other problems is not reported twice.
                let declared = notifiers.iter().any(|x| &x.name == n)
                    || matches!(value_names(o, "notifiers"), Some(names) if names.contains(n));
                if !declared {
                    p.push(format!("{path}.notify[{j}]"), format!("{n:?} is not a notifier"));
                }
            }
            alerts.push(r);
        }
    }
    let mut maintenance = Vec::new();
    for (i, v) in list(o, "maintenance", p).iter().enumerate() {
        if let Some(w) = read_maintenance(v, &index("maintenance", i), p) {
            maintenance.push(w);
        }
    }
    (notifiers, alerts, maintenance)
}

fn value_names(o: &Obj, key: &str) -> Option<Vec<String>> {
    match o.entries().get(key)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(String::from))
                .collect(),
        ),
        _ => None,
    }
}
