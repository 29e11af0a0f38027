//! The `email` notifier: one message per alert over SMTP (lettre, on tokio with rustls).
//!
//! The transport is built on first use and kept: lettre's pool reuses an open connection
//! and opens a new one when the old one broke. Each attempt, connection and TLS included,
//! has the notifier's timeout. `tls = "starttls"` insists on STARTTLS (no silent
//! fallback to plain text), and a password is never sent without TLS (refused in the spec).
//!
//! The message: `From`, `To`, the subject (template `subject`, default `[CRITICAL] api
//! down`), a plain text body (template `template`, default: the alert's message and facts)
//! and, with `html`, an HTML alternative. Its `Message-ID` is made of the alert's id and the
//! notifier's name, so a retry of a mail that did arrive can be recognised as the same.
//!
//! Failures are described by kind (`connection_refused`, `timeout`, `tls`, `smtp 535`...),
//! never with the server's text, the login or the password.

use lettre::message::{header::ContentType, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::engine::Alert;
use super::rules::{EmailSpec, SmtpTls};
use super::template::Template;

/// Longest subject sent, in characters.
const MAX_SUBJECT: usize = 200;

/// Reads a PEM file of CA certificates, checking it holds at least one.
pub(crate) fn read_ca_file(file: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(file).map_err(|e| format!("could not read {}: {e}", file.display()))?;
    let mut found = 0;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| format!("{} is not a PEM certificate file: {e}", file.display()))?;
        found += 1;
    }
    if found == 0 {
        return Err(format!("{} holds no PEM certificate", file.display()));
    }
    Ok(pem)
}

/// A configured mail notifier: its settings, templates and (once used) its transport.
pub(crate) struct Mailer {
    spec: EmailSpec,
    subject: Option<Template>,
    html: Option<Template>,
    timeout: std::time::Duration,
    transport: OnceCell<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    /// Templates were validated with the spec; one that fails here is left out (the
    /// default subject is used, or no HTML part).
    pub(crate) fn new(spec: EmailSpec, timeout: std::time::Duration) -> Mailer {
        let compile = |source: &Option<String>, format| source.as_deref().and_then(|s| Template::new(s, format).ok());
        Mailer {
            subject: compile(&spec.subject, super::template::Format::Text),
            html: compile(&spec.html, super::template::Format::Html),
            spec,
            timeout,
            transport: OnceCell::new(),
        }
    }

    /// The transport; lettre's `timeout` bounds each command on the socket, each attempt
    /// as a whole is bounded by the caller.
    fn build_transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let s = &self.spec;
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            .port(s.port)
            .timeout(Some(self.timeout));
        if s.tls != SmtpTls::None {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(file) = &s.ca_file {
                let pem = read_ca_file(file)?;
                let cert = Certificate::from_pem(&pem).map_err(|_| "tls".to_string())?;
                params = params
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(cert);
            }
            let params = params.build_rustls().map_err(|_| "tls".to_string())?;
            b = b.tls(match s.tls {
                SmtpTls::StartTls => Tls::Required(params),
                _ => Tls::Wrapper(params),
            });
        } else {
            b = b.tls(Tls::None);
        }
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            b = b.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(b.build())
    }

    /// The message for one alert; `body` is the plain text.
    fn message(&self, notifier: &str, alert: &Alert, body: String) -> Result<Message, String> {
        let s = &self.spec;
        let subject = self
            .subject
            .as_ref()
            .and_then(|t| t.render(alert).ok())
            .unwrap_or_else(|| super::template::title(alert));
        let mut b = Message::builder()
            .from(s.from.parse::<Mailbox>().map_err(|_| "invalid address".to_string())?)
            .subject(one_line(&subject))
            .message_id(Some(message_id(notifier, &alert.id)));
        for to in &s.to {
            b = b.to(to.parse::<Mailbox>().map_err(|_| "invalid address".to_string())?);
        }
        let html = match &self.html {
            Some(t) => Some(t.render(alert).map_err(|_| "template".to_string())?),
            None => None,
        };
        match html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(body, html)),
            None => b.header(ContentType::TEXT_PLAIN).body(body),
        }
        .map_err(|_| "invalid message".to_string())
    }

    /// Sends one alert before `deadline`. The error is the kind of failure.
    pub(crate) async fn send(
        &self,
        notifier: &str,
        alert: &Alert,
        body: String,
        deadline: Instant,
    ) -> Result<(), String> {
        let transport = self
            .transport
            .get_or_try_init(|| async { self.build_transport() })
            .await?;
        let message = self.message(notifier, alert, body)?;
        match tokio::time::timeout_at(deadline, transport.send(message)).await {
            Err(_) => Err("timeout".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failure(&e)),
        }
    }
}

/// The kind of an SMTP failure: the reply code when the server refused, else what broke.
fn failure(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        return format!("smtp {code}");
    }
    if e.is_timeout() {
        return "timeout".into();
    }
    if e.is_tls() {
        return "tls".into();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection_refused",
                std::io::ErrorKind::TimedOut => "timeout",
                _ => "connection",
            }
            .into();
        }
        source = s.source();
    }
    if e.is_client() || e.is_response() {
        // STARTTLS or a login mechanism the server does not offer, a malformed reply...
        return "protocol".into();
    }
    "connection".into()
}

/// `<alert-id.notifier@upwatch>`, with only characters a Message-ID may hold.
fn message_id(notifier: &str, alert: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("<{}.{}@upwatch>", clean(alert), clean(notifier))
}

/// A header value on one line (no CR/LF to inject headers with), clipped.
fn one_line(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.trim();
    if flat.chars().count() <= MAX_SUBJECT {
        return flat.to_string();
    }
    let mut out: String = flat.chars().take(MAX_SUBJECT - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_stay_on_one_line_and_message_ids_are_clean() {
        assert_eq!(one_line(" a\r\nBcc: x@y\n "), "a  Bcc: x@y");
        assert_eq!(one_line(&"x".repeat(500)).chars().count(), MAX_SUBJECT);
        assert_eq!(message_id("ops mail", "17-3"), "<17-3.ops-mail@upwatch>");
    }
}
