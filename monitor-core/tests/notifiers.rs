//! The email, NATS, Redis and AMQP notifiers and message templates, against real receivers:
//! an SMTP server written here (plain, STARTTLS and implicit TLS with a certificate from a
//! throw-away CA, AUTH PLAIN) and the machine's NATS, Redis and RabbitMQ, each test skipped
//! by name when its `UPWATCH_TEST_*_URL` is not set. Brokers and SMTP servers that are down
//! (a closed port) give delivery failures naming the notifier and the kind of failure,
//! with no secret in the events, `status()`, `Debug` or the logs.

use monitor_core::alerts::rules::NotifierSpec;
use monitor_core::bus::{Delivery, Event, EventKind, Filter, Subscription};
use monitor_core::spec::Spec;
use monitor_core::Monitor;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const SMTP_PASSWORD: &str = "smtp-secret-pw";
const BROKER_PASSWORD: &str = "broker-secret-pw";

fn env(k: &str) -> Option<String> {
    match k {
        "SMTP_PASSWORD" => Some(SMTP_PASSWORD.into()),
        "BROKER_PASSWORD" => Some(BROKER_PASSWORD.into()),
        _ => None,
    }
}

fn spec(v: Value) -> Spec {
    Spec::from_value_with_env(v, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn push(name: &str) -> Value {
    json!({"name": name, "kind": "push", "interval": "24h", "service": "backend"})
}

/// The URL of a service from the environment, or `None` after saying the test is skipped.
fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {test}: {var} is not set");
            None
        }
    }
}

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A started monitor with push checks `api` and `db` and the given notifiers, every alert
/// going to every notifier.
fn monitor(notifiers: Value) -> Monitor {
    let names: Vec<Value> = notifiers
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].clone())
        .collect();
    let m = Monitor::builder().host_interval(None).build();
    m.load(spec(json!({
        "checks": [push("api"), push("db")],
        "notifiers": notifiers,
        "alerts": [{"name": "r", "notify": names}]
    })))
    .unwrap();
    m.start();
    m
}

async fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + within;
    while !f() {
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next event of `sub` within `within`.
async fn next_event(sub: &mut Subscription, within: Duration) -> Event {
    match tokio::time::timeout(within, sub.recv()).await {
        Ok(Some(Delivery::Event(e))) => (*e).clone(),
        other => panic!("no event: {other:?}"),
    }
}

/// `(notifier, error, gave_up)` of the next delivery failure.
async fn next_failure(sub: &mut Subscription) -> (String, String, bool) {
    match next_event(sub, Duration::from_secs(20)).await {
        Event::AlertDeliveryFailed {
            notifier,
            error,
            gave_up,
            ..
        } => (notifier, error, gave_up),
        other => panic!("{other:?}"),
    }
}

/// A port with nothing listening on it.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------
// Log capture: every tracing event of the process, so a test can look for secrets in them.

struct Capture;

fn logs() -> &'static Mutex<String> {
    static LOGS: OnceLock<Mutex<String>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(String::new()))
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(Capture);
    });
}

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} {}:", event.metadata().level(), event.metadata().target());
        event.record(&mut Text(&mut line));
        line.push('\n');
        logs().lock().unwrap().push_str(&line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------------------------------
// A small SMTP server (RFC 5321: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT), enough to receive messages the way a real relay does.

#[derive(Clone, Debug, Default)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    tls: bool,
    user: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Security {
    Plain,
    StartTls,
    Implicit,
}

struct SmtpServer {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct SmtpConfig {
    security: Security,
    tls: Option<tokio_rustls::TlsAcceptor>,
    login: Option<(String, String)>,
}

impl SmtpServer {
    /// `cert` is the server's certificate and key (PEM), for STARTTLS and implicit TLS.
    async fn start(security: Security, cert: Option<(String, String)>, login: Option<(&str, &str)>) -> SmtpServer {
        let tls = cert.map(|(cert, key)| {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            let config =
                rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(certs, key)
                    .unwrap();
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let config = SmtpConfig {
            security,
            tls,
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let seen = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (config, seen) = (config.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(30), connection(stream, config, seen)).await;
                });
            }
        });
        SmtpServer { addr, mails, task }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn connection(stream: TcpStream, config: SmtpConfig, seen: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    if config.security == Security::Implicit {
        let tls = config.tls.clone().unwrap().accept(stream).await?;
        session(BufReader::new(tls), &config, &seen, true, true).await?;
        return Ok(());
    }
    if let Some(plain) = session(BufReader::new(stream), &config, &seen, false, true).await? {
        // STARTTLS: the rest of the session is encrypted, and starts over (RFC 3207).
        let tls = config.tls.clone().unwrap().accept(plain.into_inner()).await?;
        session(BufReader::new(tls), &config, &seen, true, false).await?;
    }
    Ok(())
}

/// One session on `io`; returns the stream when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: BufReader<S>,
    config: &SmtpConfig,
    seen: &Mutex<Vec<Mail>>,
    tls: bool,
    greet: bool,
) -> std::io::Result<Option<BufReader<S>>> {
    async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, text: &str) -> std::io::Result<()> {
        io.get_mut().write_all(text.as_bytes()).await?;
        io.get_mut().flush().await
    }
    if greet {
        reply(&mut io, "220 test.local ESMTP\r\n").await?;
    }
    let mut mail = Mail { tls, ..Mail::default() };
    let mut user = None;
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut text = String::from("250-test.local\r\n");
            if config.security == Security::StartTls && !tls {
                text.push_str("250-STARTTLS\r\n");
            }
            if config.login.is_some() {
                text.push_str("250-AUTH PLAIN\r\n");
            }
            text.push_str("250 8BITMIME\r\n");
            reply(&mut io, &text).await?;
        } else if upper == "STARTTLS" && config.security == Security::StartTls && !tls {
            reply(&mut io, "220 2.0.0 ready to start TLS\r\n").await?;
            return Ok(Some(io));
        } else if upper.starts_with("AUTH PLAIN") {
            let mut token = command[10..].trim().to_string();
            if token.is_empty() {
                reply(&mut io, "334 \r\n").await?;
                line.clear();
                io.read_line(&mut line).await?;
                token = line.trim().to_string();
            }
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(token)
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            let ok = match (&config.login, parts.as_slice()) {
                (Some((u, p)), [_, gu, gp]) => *gu == u.as_bytes() && *gp == p.as_bytes(),
                _ => false,
            };
            if ok {
                user = config.login.as_ref().map(|(u, _)| u.clone());
                reply(&mut io, "235 2.7.0 authenticated\r\n").await?;
            } else {
                reply(&mut io, "535 5.7.8 authentication credentials invalid\r\n").await?;
            }
        } else if upper.starts_with("MAIL FROM:") {
            if config.login.is_some() && user.is_none() {
                reply(&mut io, "530 5.7.0 authentication required\r\n").await?;
                continue;
            }
            mail.from = address(&command[10..]);
            mail.to.clear();
            reply(&mut io, "250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(address(&command[8..]));
            reply(&mut io, "250 2.1.5 ok\r\n").await?;
        } else if upper == "DATA" {
            reply(&mut io, "354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if io.read_until(b'\n', &mut l).await? == 0 {
                    return Ok(None);
                }
                if l == b".\r\n" {
                    break;
                }
                // Dot-unstuffing.
                data.extend_from_slice(if l.starts_with(b"..") { &l[1..] } else { &l });
            }
            mail.data = data;
            mail.user = user.clone();
            seen.lock().unwrap().push(mail.clone());
            reply(&mut io, "250 2.0.0 queued\r\n").await?;
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut io, "250 2.0.0 ok\r\n").await?;
        } else if upper == "QUIT" {
            reply(&mut io, "221 2.0.0 bye\r\n").await?;
            return Ok(None);
        } else {
            // What RFC 5321 answers to a command the server does not know (lettre sends none
            // other than the ones above; a reply it did not expect would fail the test).
            reply(&mut io, "500 5.5.1 command unrecognized\r\n").await?;
        }
    }
}

/// The address in `<...>` of a MAIL or RCPT command (parameters such as `BODY=8BITMIME` follow it).
fn address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].to_string()
}

fn parse(mail: &Mail) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(&mail.data)
        .expect("a parsable message")
}

// ---------------------------------------------------------------------------------------

#[test]
fn spec_problems_name_the_field_and_secrets_stay_out_of_debug_and_errors() {
    let err = Spec::from_value_with_env(
        json!({
            "notifiers": [
                {"name": "a", "kind": "pager", "url": "http://x/"},
                {"name": "b", "kind": "email", "host": "smtp.example.com", "port": 0, "tls": "ssl3",
                 "from": "not an address", "to": ["ops@example.com", "nope"], "url": "http://x/",
                 "subject": "{{ title", "html": "{% for %}"},
                {"name": "c", "kind": "email", "host": "localhost", "tls": "none", "username": "u",
                 "password": "${SMTP_PASSWORD}", "from": "a@example.com"},
                {"name": "d", "kind": "nats", "url": "http://user:${BROKER_PASSWORD}@127.0.0.1:4222", "subject": "alerts.*"},
                {"name": "e", "kind": "redis", "url": "redis://:${BROKER_PASSWORD}@127.0.0.1:6379", "mode": "list",
                 "channel": "x"},
                {"name": "f", "kind": "redis", "url": "redis://127.0.0.1", "mode": "stream", "channel": "x", "maxlen": 0},
                {"name": "g", "kind": "amqp", "url": "amqp://guest:${BROKER_PASSWORD}@127.0.0.1/%2f", "routing_key": "k",
                 "secret": "s", "template": "{{ nosuchfield }}"},
                {"name": "h", "kind": "webhook", "url": "http://127.0.0.1/h", "template": "not json {{ check }}"},
                {"name": "i", "kind": "slack", "url": "https://hooks.slack.com/x", "template": "{{ check | nosuchfilter }}"}
            ]
        }),
        &env,
    )
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "notifiers[0].kind: \"pager\" is not a kind of notifier (one of: webhook, slack, discord, teams, email, nats, redis, amqp, callable)",
        "notifiers[1].port: must be 1..65535",
        "notifiers[1].tls: \"ssl3\" is not a TLS mode (one of: starttls, tls, none)",
        "notifiers[1].from: \"not an address\" is not an email address",
        "notifiers[1].to[1]: \"nope\" is not an email address",
        "notifiers[1].url: is not used by email notifiers",
        "notifiers[1].subject: syntax error",
        "notifiers[1].html: syntax error",
        "notifiers[2].password: would be sent in clear with tls = \"none\"",
        "notifiers[2].to: is required",
        "notifiers[3].url: is not a nats:// or tls:// URL with a host",
        "notifiers[3].subject: \"alerts.*\" is not a NATS subject",
        "notifiers[4].mode: \"list\" is not a Redis mode (one of: publish, stream)",
        "notifiers[5].channel: is for mode = \"publish\"",
        "notifiers[5].maxlen: expected a whole number from 1",
        "notifiers[6].exchange: is required",
        "notifiers[6].secret: only webhooks are signed",
        "notifiers[6].template: undefined value",
        "notifiers[7].template: does not render JSON",
        "notifiers[8].template:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        !text.contains(BROKER_PASSWORD) && !text.contains(SMTP_PASSWORD),
        "{text}"
    );

    let n = NotifierSpec::from_value(json!({
        "name": "mail", "kind": "email", "host": "smtp.example.com", "tls": "tls",
        "username": "apikey-user", "password": SMTP_PASSWORD, "from": "upwatch@example.com", "to": "ops@example.com"
    }))
    .unwrap();
    assert_eq!(n.email.as_ref().unwrap().port, 465);
    let b = NotifierSpec::from_value(json!({
        "name": "bus", "kind": "amqp", "url": format!("amqp://guest:{BROKER_PASSWORD}@127.0.0.1:5672/%2f"),
        "exchange": "alerts", "routing_key": "upwatch.alert"
    }))
    .unwrap();
    for debug in [format!("{n:?}"), format!("{b:?}")] {
        for secret in [SMTP_PASSWORD, BROKER_PASSWORD, "apikey-user", "guest:"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}

#[tokio::test]
async fn email_over_starttls_with_login_applies_the_templates() {
    let certs = upwatch_testbed::TestCerts::new();
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86400);
    let cert = certs.leaf(&["127.0.0.1"], now - day, now + 30 * day);
    let server = SmtpServer::start(Security::StartTls, Some(cert), Some(("upwatch", SMTP_PASSWORD))).await;
    let m = monitor(json!([{
        "name": "mail", "kind": "email", "host": "127.0.0.1", "port": server.addr.port(), "tls": "starttls",
        "username": "upwatch", "password": "${SMTP_PASSWORD}", "ca_file": certs.ca_file,
        "from": "upwatch <upwatch@example.com>", "to": ["ops@example.com", "On Call <oncall@example.com>"],
        "subject": "{{ title }} ({{ service }})",
        "template": "Check {{ check }} is {{ kind }}: {{ message }}{% if error %} [{{ error.kind }}]{% endif %}",
        "html": "<p>Alert on <b>{{ check }}</b>: {{ message }}</p>",
        "timeout": "5s"
    }]));
    let mut delivered = m.subscribe(Filter::default().kinds([EventKind::AlertDelivered]));
    m.push("api", false, Some("500 from <db>".into())).await.unwrap();
    wait_until("one mail", Duration::from_secs(20), || server.mails().len() == 1).await;
    m.push("api", true, None).await.unwrap();
    wait_until("two mails", Duration::from_secs(20), || server.mails().len() == 2).await;

    let mails = server.mails();
    let first = &mails[0];
    assert!(first.tls, "the message went over TLS");
    assert_eq!(first.user.as_deref(), Some("upwatch"));
    assert_eq!(first.from, "upwatch@example.com");
    assert_eq!(first.to, ["ops@example.com", "oncall@example.com"]);
    let msg = parse(first);
    assert_eq!(msg.subject(), Some("[CRITICAL] api down (backend)"));
    let text = msg.body_text(0).unwrap();
    assert!(text.starts_with("Check api is down: "), "{text}");
    assert!(
        text.contains("500 from <db>") && text.contains("[push_failed]"),
        "{text}"
    );
    let html = msg.body_html(0).unwrap();
    assert!(html.contains("<p>Alert on <b>api</b>: "), "{html}");
    assert!(html.contains("500 from &lt;db&gt;"), "values are HTML-escaped: {html}");
    assert!(
        msg.message_id().unwrap().ends_with(".mail@upwatch"),
        "{:?}",
        msg.message_id()
    );

    let resolved = parse(&mails[1]);
    assert_eq!(resolved.subject(), Some("[INFO] api resolved (backend)"));
    let text = resolved.body_text(0).unwrap();
    assert!(
        text.starts_with("Check api is resolved: ") && !text.contains('['),
        "{text}"
    );

    for _ in 0..2 {
        match next_event(&mut delivered, Duration::from_secs(5)).await {
            Event::AlertDelivered { notifier, attempts, .. } => assert_eq!((notifier.as_str(), attempts), ("mail", 1)),
            other => panic!("{other:?}"),
        }
    }
    m.shutdown().await;
}

#[tokio::test]
async fn email_over_implicit_tls_and_in_plain_text_with_the_default_message() {
    let certs = upwatch_testbed::TestCerts::new();
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86400);
    let cert = certs.leaf(&["127.0.0.1"], now - day, now + 30 * day);
    let tls = SmtpServer::start(Security::Implicit, Some(cert), None).await;
    let plain = SmtpServer::start(Security::Plain, None, None).await;
    let m = monitor(json!([
        {"name": "tls", "kind": "email", "host": "127.0.0.1", "port": tls.addr.port(), "tls": "tls",
         "ca_file": certs.ca_file, "from": "upwatch@example.com", "to": "ops@example.com", "timeout": "5s"},
        {"name": "relay", "kind": "email", "host": "127.0.0.1", "port": plain.addr.port(), "tls": "none",
         "from": "upwatch@example.com", "to": "ops@example.com", "timeout": "5s"}
    ]));
    m.push("db", false, Some("connection reset".into())).await.unwrap();
    wait_until("a mail on each server", Duration::from_secs(20), || {
        tls.mails().len() == 1 && plain.mails().len() == 1
    })
    .await;
    let (a, b) = (&tls.mails()[0], &plain.mails()[0]);
    assert!(a.tls && !b.tls);
    for mail in [a, b] {
        let msg = parse(mail);
        assert_eq!(msg.subject(), Some("[CRITICAL] db down"));
        let text = msg.body_text(0).unwrap();
        assert!(
            text.contains("check: db") && text.contains("service: backend"),
            "{text}"
        );
        assert!(text.contains("connection reset"), "{text}");
        assert!(msg.body_html(0).is_none_or(|h| !h.contains("<p>")), "no HTML part");
    }
    m.shutdown().await;
}

#[tokio::test]
async fn smtp_refusals_and_missing_starttls_are_failures_without_the_password() {
    capture_logs();
    let certs = upwatch_testbed::TestCerts::new();
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86400);
    let cert = certs.leaf(&["127.0.0.1"], now - day, now + 30 * day);
    let server = SmtpServer::start(Security::StartTls, Some(cert), Some(("upwatch", "another-password"))).await;
    // A server that does not offer STARTTLS: the mail must not go out in clear.
    let plain = SmtpServer::start(Security::Plain, None, None).await;
    let common = json!({"kind": "email", "host": "127.0.0.1", "from": "upwatch@example.com", "to": "ops@example.com",
                        "max_attempts": 1, "timeout": "5s", "ca_file": certs.ca_file});
    let with = |extra: Value| {
        let mut v = common.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let m = monitor(json!([
        with(
            json!({"name": "badlogin", "port": server.addr.port(), "username": "upwatch", "password": "${SMTP_PASSWORD}"})
        ),
        with(json!({"name": "nostarttls", "port": plain.addr.port()})),
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.push("api", false, None).await.unwrap();
    let mut got = vec![next_failure(&mut failures).await, next_failure(&mut failures).await];
    got.sort();
    assert_eq!(
        got,
        [
            ("badlogin".to_string(), "smtp 535".to_string(), true),
            ("nostarttls".to_string(), "protocol".to_string(), true)
        ]
    );
    assert!(server.mails().is_empty() && plain.mails().is_empty());
    let status = serde_json::to_string(&m.status()).unwrap();
    assert!(!status.contains(SMTP_PASSWORD), "{status}");
    m.shutdown().await;
    let logs = logs().lock().unwrap().clone();
    assert!(logs.contains("not delivered"), "{logs}");
    assert!(!logs.contains(SMTP_PASSWORD), "{logs}");
}

#[tokio::test]
async fn receivers_that_are_down_give_failures_naming_notifier_and_kind_without_secrets() {
    capture_logs();
    let (smtp, nats, redis, amqp) = (closed_port(), closed_port(), closed_port(), closed_port());
    let m = monitor(json!([
        {"name": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port(), "username": "u",
         "password": "${SMTP_PASSWORD}", "from": "upwatch@example.com", "to": "ops@example.com"},
        {"name": "nats", "kind": "nats", "url": format!("nats://u:${{BROKER_PASSWORD}}@{nats}"), "subject": "alerts"},
        {"name": "redis", "kind": "redis", "url": format!("redis://:${{BROKER_PASSWORD}}@{redis}"), "channel": "alerts"},
        {"name": "amqp", "kind": "amqp", "url": format!("amqp://guest:${{BROKER_PASSWORD}}@{amqp}/%2f"), "exchange": "alerts"}
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.push("api", false, None).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        let (notifier, error, gave_up) = next_failure(&mut failures).await;
        assert!(!gave_up);
        if !got.iter().any(|(n, _)| *n == notifier) {
            got.push((notifier, error));
        }
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("amqp".to_string(), "connection_refused".to_string()),
            ("mail".to_string(), "connection_refused".to_string()),
            ("nats".to_string(), "connection_refused".to_string()),
            ("redis".to_string(), "connection_refused".to_string()),
        ]
    );
    let status = m.status();
    let failure = status.alerts.last_failure.clone().unwrap();
    assert_eq!(failure.error, "connection_refused");
    let text = serde_json::to_string(&status).unwrap();
    for secret in [SMTP_PASSWORD, BROKER_PASSWORD] {
        assert!(!text.contains(secret), "{text}");
    }
    m.shutdown().await;
    let logs = logs().lock().unwrap().clone();
    for secret in [SMTP_PASSWORD, BROKER_PASSWORD] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn receivers_that_accept_and_never_answer_time_out_within_the_notifier_timeout() {
    // Takes connections and holds them, silent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().unwrap().push(stream);
        }
    });
    let common = json!({"timeout": "300ms", "max_attempts": 1});
    let with = |extra: Value| {
        let mut v = common.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let m = monitor(json!([
        with(
            json!({"name": "mail", "kind": "email", "host": "127.0.0.1", "port": addr.port(), "tls": "tls",
                    "from": "upwatch@example.com", "to": "ops@example.com"})
        ),
        with(json!({"name": "nats", "kind": "nats", "url": format!("nats://{addr}"), "subject": "alerts"})),
        with(json!({"name": "redis", "kind": "redis", "url": format!("redis://{addr}"), "channel": "alerts"})),
        with(json!({"name": "amqp", "kind": "amqp", "url": format!("amqp://{addr}/%2f"), "exchange": "alerts"})),
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    let started = std::time::Instant::now();
    m.push("api", false, None).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_failure(&mut failures).await);
    }
    let took = started.elapsed();
    got.sort();
    let expected: Vec<(String, String, bool)> = ["amqp", "mail", "nats", "redis"]
        .iter()
        .map(|n| (n.to_string(), "timeout".to_string(), true))
        .collect();
    assert_eq!(got, expected);
    // Each attempt ended at its timeout, not at some library default.
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(held.lock().unwrap().len() >= 4);
    server.abort();
    m.shutdown().await;
}

#[tokio::test]
async fn webhook_and_chat_templates_are_sent_escaped_and_signed() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let seen: Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>> = Arc::default();
    let mut router = axum::Router::new();
    for path in ["/hook", "/slack", "/discord", "/teams"] {
        let seen = seen.clone();
        router = router.route(
            path,
            axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                seen.lock().unwrap().push((path.to_string(), headers, body));
                axum::http::StatusCode::NO_CONTENT
            }),
        );
    }
    let target = upwatch_testbed::serve_http(Some(router)).await.unwrap();
    let m = monitor(json!([
        {"name": "hook", "kind": "webhook", "url": target.url("/hook"), "secret": "hmac-key",
         "template": "{\"summary\": {{ title }}, \"detail\": {{ message }}, \"tags\": {{ tags }}, \"svc\": {{ service }}}"},
        {"name": "slack", "kind": "slack", "url": target.url("/slack"), "template": "*{{ check }}*: {{ message }}"},
        {"name": "discord", "kind": "discord", "url": target.url("/discord"), "template": "**{{ check }}**: {{ message }}"},
        {"name": "teams", "kind": "teams", "url": target.url("/teams"), "template": "**{{ check }}**: {{ message }}"}
    ]));
    m.push("api", false, Some("got <b>*500*</b> & \"quotes\"".into()))
        .await
        .unwrap();
    wait_until("4 requests", Duration::from_secs(20), || {
        seen.lock().unwrap().len() == 4
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let of = |p: &str| seen.iter().find(|r| r.0 == p).cloned().unwrap();

    let (_, headers, body) = of("/hook");
    assert_eq!(
        headers["x-upwatch-signature"].to_str().unwrap(),
        monitor_core::alerts::deliver::signature(b"hmac-key", &body)
    );
    let hook: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(hook["summary"], "[CRITICAL] api down");
    assert!(
        hook["detail"]
            .as_str()
            .unwrap()
            .contains("got <b>*500*</b> & \"quotes\""),
        "{hook}"
    );
    assert_eq!(
        (hook["tags"].clone(), hook["svc"].clone()),
        (json!([]), json!("backend"))
    );

    let slack: Value = serde_json::from_slice(&of("/slack").2).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("*api*: ") && text.contains("got &lt;b&gt;*500*&lt;/b&gt; &amp; \"quotes\""),
        "{text}"
    );
    let discord: Value = serde_json::from_slice(&of("/discord").2).unwrap();
    let text = discord["content"].as_str().unwrap();
    assert!(
        text.starts_with("**api**: ") && text.contains("<b\\>\\*500\\*"),
        "{text}"
    );
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    let teams: Value = serde_json::from_slice(&of("/teams").2).unwrap();
    assert_eq!(teams["@type"], "MessageCard");
    let text = teams["text"].as_str().unwrap();
    assert!(
        text.starts_with("**api**: ") && text.contains("&lt;b&gt;\\*500\\*"),
        "{text}"
    );
    m.shutdown().await;
}

#[tokio::test]
async fn nats_subject_receives_the_event_json() {
    let Some(url) = service_url("UPWATCH_TEST_NATS_URL", "nats_subject_receives_the_event_json") else {
        return;
    };
    use futures_util::StreamExt;
    let subject = unique("upwatch.test");
    let client = async_nats::connect(url.as_str()).await.unwrap();
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();
    capture_logs();
    // The machine's server has no authorization and takes any credentials: these check that
    // they are passed as credentials, and stay out of the logs.
    let mut with_login = url::Url::parse(&url).unwrap();
    let _ = with_login.set_username("upwatch");
    let _ = with_login.set_password(Some("${BROKER_PASSWORD}"));
    let with_login = with_login
        .as_str()
        .replace("$%7BBROKER_PASSWORD%7D", "${BROKER_PASSWORD}");
    let m = monitor(json!([
        {"name": "bus", "kind": "nats", "url": with_login, "subject": subject, "timeout": "5s"},
        {"name": "bus2", "kind": "nats", "url": url, "subject": format!("{subject}.custom"),
         "template": "{\"text\": {{ message }}, \"check\": {{ check }}, \"severity\": {{ severity|upper }}}"}
    ]));
    let mut custom = client.subscribe(format!("{subject}.custom")).await.unwrap();
    client.flush().await.unwrap();
    m.push("api", false, Some("timeout \"quoted\"".into())).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(body["event"], "alert_fired");
    assert_eq!(
        (body["check"].as_str(), body["kind"].as_str()),
        (Some("api"), Some("down"))
    );
    let headers = msg.headers.unwrap();
    assert_eq!(
        headers.get("Nats-Msg-Id").unwrap().as_str(),
        body["id"].as_str().unwrap()
    );
    let msg = tokio::time::timeout(Duration::from_secs(20), custom.next())
        .await
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(body["check"], "api");
    assert_eq!(body["severity"], "CRITICAL");
    assert!(body["text"].as_str().unwrap().contains("timeout \"quoted\""), "{body}");
    // The connection is kept: a second alert goes over it.
    m.push("api", true, None).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(body["kind"], "resolved");
    m.shutdown().await;
    let logs = logs().lock().unwrap().clone();
    assert!(!logs.contains(BROKER_PASSWORD), "{logs}");
}

/// A TCP proxy to `upstream` that can be stopped (closing every connection) and started
/// again on the same address, and counts the connections it took.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let p = Proxy {
            addr: "127.0.0.1:0".parse().unwrap(),
            upstream,
            accepted: Arc::default(),
            tasks: Arc::default(),
        };
        p.listen().await
    }

    async fn listen(mut self) -> Proxy {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (upstream, accepted, tasks) = (self.upstream.clone(), self.accepted.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
        self
    }

    fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn a_broker_connection_is_kept_and_made_again_after_it_broke() {
    let Some(url) = service_url(
        "UPWATCH_TEST_REDIS_URL",
        "a_broker_connection_is_kept_and_made_again_after_it_broke",
    ) else {
        return;
    };
    let real = url::Url::parse(&url).unwrap();
    let upstream = format!("{}:{}", real.host_str().unwrap(), real.port().unwrap_or(6379));
    let proxy = Proxy::start(upstream).await;
    let mut via = real.clone();
    via.set_port(Some(proxy.addr.port())).unwrap();
    let _ = via.set_host(Some("127.0.0.1"));
    let stream = unique("upwatch:test:reconnect");
    let m = monitor(json!([
        {"name": "stream", "kind": "redis", "url": via.as_str(), "mode": "stream", "stream": stream,
         "timeout": "2s", "backoff": "50ms", "max_backoff": "200ms"}
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let len = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let stream = stream.clone();
        async move {
            let n: u64 = redis::cmd("XLEN").arg(&stream).query_async(&mut conn).await.unwrap();
            n
        }
    };
    async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while !f().await {
            assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    m.push("api", false, None).await.unwrap();
    until("entry 1", async || len(&mut conn).await == 1).await;
    m.push("api", true, None).await.unwrap();
    until("entry 2", async || len(&mut conn).await == 2).await;
    assert_eq!(proxy.accepted(), 1, "both alerts went over one connection");

    // The connection breaks and the broker is unreachable for a while.
    proxy.stop();
    m.push("db", false, None).await.unwrap();
    let (notifier, error, gave_up) = next_failure(&mut failures).await;
    assert_eq!(notifier, "stream");
    assert!(
        ["connection", "connection_refused"].contains(&error.as_str()),
        "{error}"
    );
    assert!(!gave_up);
    assert_eq!(len(&mut conn).await, 2);

    // Back on the same address: a new connection carries the alert, once.
    let proxy = proxy.listen().await;
    until("entry 3", async || len(&mut conn).await == 3).await;
    assert_eq!(proxy.accepted(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(len(&mut conn).await, 3);
    let _: () = redis::cmd("DEL").arg(&stream).query_async(&mut conn).await.unwrap();
    m.shutdown().await;
}

#[tokio::test]
async fn redis_channel_and_stream_receive_the_alerts() {
    let Some(url) = service_url("UPWATCH_TEST_REDIS_URL", "redis_channel_and_stream_receive_the_alerts") else {
        return;
    };
    use futures_util::StreamExt;
    let channel = unique("upwatch:test:channel");
    let stream = unique("upwatch:test:stream");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let m = monitor(json!([
        {"name": "chan", "kind": "redis", "url": url, "channel": channel, "timeout": "5s"},
        {"name": "stream", "kind": "redis", "url": url, "mode": "stream", "stream": stream, "maxlen": 1000,
         "template": "{\"check\": {{ check }}, \"what\": {{ kind }}}"},
        {"name": "nobody", "kind": "redis", "url": url, "channel": unique("upwatch:test:nobody"), "max_attempts": 1}
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.push("db", false, None).await.unwrap();
    let mut messages = pubsub.on_message();
    let msg = tokio::time::timeout(Duration::from_secs(20), messages.next())
        .await
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
    assert_eq!(body["event"], "alert_fired");
    assert_eq!(body["check"], "db");

    // A channel nobody listens on: the message is lost, so it is not a delivery.
    let (notifier, error, gave_up) = next_failure(&mut failures).await;
    assert_eq!(
        (notifier.as_str(), error.as_str(), gave_up),
        ("nobody", "no_subscribers", true)
    );

    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut entries = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while entries.is_empty() {
        assert!(std::time::Instant::now() < end, "nothing in the stream");
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(10)
            .arg("STREAMS")
            .arg(&stream)
            .arg("0")
            .query_async(&mut conn)
            .await
            .unwrap();
        entries = stream_fields(&reply);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fields = &entries[0];
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("check"), "db");
    assert_eq!(get("kind"), "down");
    assert!(!get("alert").is_empty());
    let body: Value = serde_json::from_str(&get("body")).unwrap();
    assert_eq!(body, json!({"check": "db", "what": "down"}));
    let _: () = redis::cmd("DEL").arg(&stream).query_async(&mut conn).await.unwrap();
    m.shutdown().await;
}

/// The field/value pairs of each entry of an `XREAD` reply.
fn stream_fields(reply: &redis::Value) -> Vec<Vec<(String, String)>> {
    use redis::Value as V;
    let text = |v: &V| match v {
        V::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        V::SimpleString(s) => s.clone(),
        other => format!("{other:?}"),
    };
    let mut out = Vec::new();
    let streams: Vec<&V> = match reply {
        V::Array(items) => items.iter().collect(),
        V::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        _ => return out,
    };
    for s in streams {
        let entries = match s {
            V::Array(pair) if pair.len() == 2 => &pair[1],
            other => other,
        };
        if let V::Array(entries) = entries {
            for e in entries {
                if let V::Array(idf) = e {
                    if let Some(V::Array(fields)) = idf.get(1) {
                        out.push(fields.chunks(2).map(|c| (text(&c[0]), text(&c[1]))).collect());
                    }
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn amqp_exchange_delivers_with_publisher_confirms() {
    let Some(url) = service_url(
        "UPWATCH_TEST_AMQP_URL",
        "amqp_exchange_delivers_with_publisher_confirms",
    ) else {
        return;
    };
    use futures_util::StreamExt;
    use lapin::options::*;
    use lapin::types::FieldTable;
    capture_logs();
    let exchange = unique("upwatch.test");
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        exchange.as_str().into(),
        lapin::ExchangeKind::Direct,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let queue = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.queue_bind(
        queue.name().clone(),
        exchange.as_str().into(),
        "upwatch.alert".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            queue.name().clone(),
            "test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let m = monitor(json!([
        {"name": "rabbit", "kind": "amqp", "url": url, "exchange": exchange, "routing_key": "upwatch.alert", "timeout": "5s"},
        {"name": "nowhere", "kind": "amqp", "url": url, "exchange": exchange, "routing_key": "no.queue", "max_attempts": 1},
        {"name": "missing", "kind": "amqp", "url": url, "exchange": unique("upwatch.nosuch"), "max_attempts": 1}
    ]));
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.push("api", false, None).await.unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(body["event"], "alert_fired");
    assert_eq!(body["check"], "api");
    let props = &delivery.properties;
    assert_eq!(
        props.message_id().as_ref().unwrap().as_str(),
        body["id"].as_str().unwrap()
    );
    assert_eq!(props.content_type().as_ref().unwrap().as_str(), "application/json");
    assert_eq!(*props.delivery_mode(), Some(2));

    let mut got = vec![next_failure(&mut failures).await, next_failure(&mut failures).await];
    got.sort();
    assert_eq!(
        got,
        [
            ("missing".to_string(), "amqp 404".to_string(), true),
            ("nowhere".to_string(), "unroutable".to_string(), true)
        ]
    );
    m.shutdown().await;
    let _ = conn.close(200, "done".into()).await;
    // The URL holds the login (guest:guest on the test machine).
    let logs = logs().lock().unwrap().clone();
    assert!(!logs.contains(url.as_str()), "the URL is in the logs:\n{logs}");
}
