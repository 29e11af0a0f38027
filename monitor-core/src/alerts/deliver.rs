//! Sending alerts: the outbox and the notifiers.
//!
//! Alerts are queued per notifier and check, and sent by one worker: each queue is first
//! in, first out and has one request in flight at most, so a check's alerts arrive in the
//! order they fired, while alerts of different checks go out side by side (up to 16 per
//! notifier). A receiver that is down holds up nothing but its own queues.
//! A failed attempt is retried with exponential backoff and jitter, up to the
//! notifier's `max_attempts`; each failure is an `alert_delivery_failed` event and shows
//! in `status().alerts`. Only the process that may run checks (the lease holder on a
//! shared store) sends. The outbox is mirrored in the store: with SQLite, alerts still
//! queued when the process stops are sent after it starts again (by whichever process
//! then holds the lease); with the memory store they are lost.
//!
//! Webhook, Slack, Discord and Teams requests go through the HTTP check machinery (a POST
//! run by the [`Prober`] with `expect.status = "2xx"`), so every request has the
//! notifier's timeout. Mail goes over SMTP ([`super::email`]), broker messages to NATS,
//! Redis or AMQP ([`super::brokers`]), each attempt bounded by the same timeout. Errors
//! name the notifier and the kind of failure or the status code, never the URL, the
//! secret, a header or a password.
//!
//! Bodies: webhooks and brokers get the `alert_fired` event JSON (webhooks signed with
//! HMAC-SHA256 in `X-Upwatch-Signature: sha256=<hex>` over the raw body when a secret is
//! set, with `X-Upwatch-Timestamp` and `X-Upwatch-Delivery`); Slack and Discord their
//! incoming webhook shapes; Teams a MessageCard; mail a plain text summary. A notifier's
//! `template` ([`super::template`]) replaces the whole body of a webhook or broker
//! message, the text of a chat message, the plain text of a mail.

use chrono::Utc;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::brokers::Broker;
use super::email::Mailer;
use super::engine::{Alert, Alerting, DeliveryFailure, Publish};
use super::rules::{NotifierKind, NotifierSpec, Trigger};
use super::template::Template;
use crate::bus::Event;
use crate::checks::Prober;
use crate::spec::{CheckKind, CheckSpec};

/// Why a delivery attempt failed: the notifier and the kind of failure, nothing secret.
///
/// ```
/// use monitor_core::alerts::deliver::DeliveryError;
/// let e = DeliveryError { notifier: "ops".into(), failure: "status 503".into() };
/// assert_eq!(e.to_string(), "notifier ops: status 503");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("notifier {notifier}: {failure}")]
pub struct DeliveryError {
    /// The notifier's name.
    pub notifier: String,
    /// `connection`, `timeout`, `status 500`...
    pub failure: String,
}

/// A configured notifier: its spec, its template, and how it sends (the request template
/// of HTTP kinds, the mail transport, the broker connection). `Debug` shows no secret.
pub(crate) struct Notifier {
    pub(crate) spec: NotifierSpec,
    request: Option<CheckSpec>,
    /// `None` without a template; `Some(Err)` for one that does not compile (the spec
    /// refuses those, so only a hand-made spec gets here): its sends fail as `template`.
    template: Option<Result<Template, super::template::TemplateError>>,
    mailer: Option<Mailer>,
    broker: Option<Broker>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("spec", &self.spec).finish()
    }
}

impl Notifier {
    pub(crate) fn new(spec: NotifierSpec) -> Notifier {
        let request = match (&spec.url, spec.kind.is_http()) {
            (Some(url), true) => {
                let template = json!({
                    "name": format!("notifier:{}", spec.name),
                    "kind": "http",
                    "url": url.as_str().replace("${", "$${"),
                    "method": "POST",
                    "interval": "1h",
                    "timeout": format!("{}ms", spec.timeout.as_millis().max(1)),
                    "follow_redirects": false,
                    "max_body": "64KiB",
                    "expect": { "status": "2xx" },
                });
                CheckSpec::from_value_with_env(template, &|_| None).ok()
            }
            _ => None,
        };
        let template = spec
            .template
            .as_deref()
            .map(|source| Template::new(source, spec.kind.template_format()));
        let mailer = spec.email.clone().map(|e| Mailer::new(e, spec.timeout));
        let broker = match (&spec.url, &spec.broker) {
            (Some(url), Some(target)) => Some(Broker::new(url.clone(), target.clone(), spec.timeout)),
            _ => None,
        };
        Notifier {
            spec,
            request,
            template,
            mailer,
            broker,
        }
    }

    /// The body for one alert: the template's rendering (wrapped in the chat shape for
    /// chat kinds), or the default for the kind.
    fn body(&self, alert: &Alert) -> Result<String, String> {
        let Some(template) = &self.template else {
            return Ok(render(self.spec.kind, alert));
        };
        let text = template
            .as_ref()
            .map_err(|_| "template".to_string())?
            .render(alert)
            .map_err(|_| "template".to_string())?;
        Ok(match self.spec.kind {
            NotifierKind::Slack | NotifierKind::Discord | NotifierKind::Teams => {
                chat_body(self.spec.kind, alert, &text)
            }
            _ => text,
        })
    }

    /// The request for one alert: body, content type, signature and the notifier's headers.
    fn request(&self, alert: &Alert, body: String) -> Option<CheckSpec> {
        let mut check = self.request.clone()?;
        let CheckKind::Http(http) = &mut check.kind else {
            return None;
        };
        use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
        http.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.spec.kind == NotifierKind::Webhook {
            let stamp = Utc::now().timestamp().to_string();
            if let Ok(v) = HeaderValue::try_from(stamp) {
                http.headers.insert(HeaderName::from_static("x-upwatch-timestamp"), v);
            }
            if let Ok(v) = HeaderValue::try_from(alert.id.as_str()) {
                http.headers.insert(HeaderName::from_static("x-upwatch-delivery"), v);
            }
            if let Some(secret) = &self.spec.secret {
                if let Ok(v) = HeaderValue::try_from(signature(secret.as_bytes(), body.as_bytes())) {
                    http.headers.insert(HeaderName::from_static("x-upwatch-signature"), v);
                }
            }
        }
        for (k, v) in &self.spec.headers {
            if let (Ok(k), Ok(mut v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
                v.set_sensitive(true);
                http.headers.insert(k, v);
            }
        }
        http.body = Some(body.into());
        Some(check)
    }

    /// One attempt. A callable notifier calls `function` (registered in this process).
    async fn send(
        &self,
        prober: &Prober,
        alert: &Arc<Alert>,
        function: Option<NotifierFn>,
    ) -> Result<(), DeliveryError> {
        let fail = |failure: String| DeliveryError {
            notifier: self.spec.name.clone(),
            failure,
        };
        if self.spec.kind == NotifierKind::Callable {
            let f = function.ok_or_else(|| fail("no function registered for it in this process".into()))?;
            return match tokio::time::timeout(self.spec.timeout, f(alert.clone())).await {
                Ok(Ok(())) => Ok(()),
                // The function's own error text: the host program wrote it, it is not ours to hide.
                Ok(Err(e)) => Err(fail(format!("function failed: {e}"))),
                Err(_) => Err(fail("timeout".into())),
            };
        }
        let body = self.body(alert).map_err(fail)?;
        let deadline = Instant::now() + self.spec.timeout;
        if let Some(mailer) = &self.mailer {
            return mailer.send(&self.spec.name, alert, body, deadline).await.map_err(fail);
        }
        if let Some(broker) = &self.broker {
            return broker.publish(alert, body.as_bytes(), deadline).await.map_err(fail);
        }
        let check = self
            .request(alert, body)
            .ok_or_else(|| fail("invalid request".into()))?;
        let result = prober.run(&check).await;
        if result.status != crate::result::Status::Down {
            return Ok(());
        }
        Err(fail(match result.observed.status_code {
            Some(code) => format!("status {code}"),
            None => result
                .error
                .map_or_else(|| "failed".to_string(), |e| e.kind.as_str().to_string()),
        }))
    }
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`): the `X-Upwatch-Signature` header.
///
/// ```
/// use monitor_core::alerts::deliver::signature;
/// // RFC 4231, test case 2.
/// assert_eq!(
///     signature(b"Jefe", b"what do ya want for nothing?"),
///     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The body a notifier of `kind` sends for `alert` when it has no template: the event
/// JSON for webhooks and brokers, the chat shapes, a plain text summary for mail.
///
/// ```
/// use monitor_core::alerts::{deliver::render, rules::NotifierKind, Alert};
/// let a: Alert = serde_json::from_value(serde_json::json!({
///     "id": "1", "rule": "r", "kind": "down", "severity": "critical", "check": "api <x>",
///     "at": "2026-12-01T10:00:00Z", "since": "2026-12-01T09:58:00Z", "message": "api <x> is down"
/// })).unwrap();
/// let hook: serde_json::Value = serde_json::from_str(&render(NotifierKind::Webhook, &a)).unwrap();
/// assert_eq!(hook["event"], "alert_fired");
/// let slack: serde_json::Value = serde_json::from_str(&render(NotifierKind::Slack, &a)).unwrap();
/// assert!(slack["text"].as_str().unwrap().contains("api &lt;x&gt;"));
/// assert_eq!(render(NotifierKind::Nats, &a), render(NotifierKind::Webhook, &a));
/// let mail = render(NotifierKind::Email, &a);
/// assert!(mail.starts_with("api <x> is down\n\ncheck: api <x>\n"), "{mail}");
/// ```
pub fn render(kind: NotifierKind, alert: &Alert) -> String {
    let title = super::template::title(alert);
    let mut facts: Vec<(&str, String)> = vec![("check", alert.check.clone()), ("rule", alert.rule.clone())];
    if let Some(s) = &alert.service {
        facts.push(("service", s.clone()));
    }
    if let Some(s) = alert.status {
        facts.push(("status", s.as_str().into()));
    }
    facts.push(("since", alert.since.to_rfc3339()));
    if let Some(h) = &alert.host {
        facts.push((
            "host",
            format!(
                "{}: cpu {:.0}%, mem {:.0}%, load {:.2}/{:.2}/{:.2} ({} cores)",
                h.hostname, h.cpu_pct, h.memory_used_pct, h.load[0], h.load[1], h.load[2], h.cores
            ),
        ));
    }
    let color = match alert.kind {
        Trigger::Resolved => (0x2e, 0xb8, 0x86),
        Trigger::Degraded | Trigger::CertificateExpiring | Trigger::Flapping => (0xda, 0xa0, 0x38),
        _ => (0xd0, 0x30, 0x30),
    };
    let body = match kind {
        NotifierKind::Webhook
        | NotifierKind::Nats
        | NotifierKind::Redis
        | NotifierKind::Amqp
        | NotifierKind::Callable => Event::AlertFired(Box::new(alert.clone())).to_json(),
        NotifierKind::Email => {
            let mut text = format!("{}\n\n", alert.message);
            for (k, v) in &facts {
                text.push_str(&format!("{k}: {v}\n"));
            }
            if let Some(e) = &alert.error {
                text.push_str(&format!("error: {}\n", e.message));
            }
            text.push_str(&format!("at: {}\nalert: {}\n", alert.at.to_rfc3339(), alert.id));
            return text;
        }
        NotifierKind::Slack => {
            let esc = slack_escape;
            let fields: Vec<String> = facts.iter().map(|(k, v)| format!("*{k}*: {}", esc(v))).collect();
            json!({
                "text": format!("{}: {}", esc(&title), esc(&alert.message)),
                "attachments": [{
                    "color": format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2),
                    "title": esc(&title),
                    "text": format!("{}\n{}", esc(&alert.message), fields.join("\n")),
                    "ts": alert.at.timestamp(),
                }],
            })
        }
        NotifierKind::Discord => {
            let esc = discord_escape;
            json!({
                "content": clip(&esc(&format!("{title}: {}", alert.message)), 2000),
                "allowed_mentions": { "parse": [] },
                "embeds": [{
                    "title": clip(&esc(&title), 256),
                    "description": clip(&esc(&alert.message), 4096),
                    "color": (color.0 as u32) << 16 | (color.1 as u32) << 8 | color.2 as u32,
                    "timestamp": alert.at.to_rfc3339(),
                    "fields": facts.iter().map(|(k, v)| json!({"name": k, "value": clip(&esc(v), 1024), "inline": true})).collect::<Vec<_>>(),
                }],
            })
        }
        NotifierKind::Teams => {
            let esc = teams_escape;
            json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": esc(&title),
                "themeColor": format!("{:02X}{:02X}{:02X}", color.0, color.1, color.2),
                "title": esc(&title),
                "sections": [{
                    "text": esc(&alert.message),
                    "facts": facts.iter().map(|(k, v)| json!({"name": k, "value": esc(v)})).collect::<Vec<_>>(),
                }],
            })
        }
    };
    body.to_string()
}

/// A chat message whose text is a template's rendering (values already escaped for the
/// chat's markup).
fn chat_body(kind: NotifierKind, alert: &Alert, text: &str) -> String {
    let body = match kind {
        NotifierKind::Slack => json!({ "text": text }),
        NotifierKind::Discord => json!({
            "content": clip(text, 2000),
            "allowed_mentions": { "parse": [] },
        }),
        _ => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": teams_escape(&super::template::title(alert)),
            "text": text,
        }),
    };
    body.to_string()
}

pub(crate) fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub(crate) fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '\\' | '@' | '#' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn teams_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One alert waiting in the outbox for one notifier.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingDelivery {
    /// The notifier it waits for.
    pub notifier: String,
    /// The alert.
    pub alert: Alert,
    /// Attempts that failed so far.
    pub failed_attempts: u32,
    /// When the next attempt is due, from now (0: as soon as its turn comes).
    pub next_attempt_in_ms: u64,
}

/// A notifier written in the host program: called with each alert, `Err` is a failed
/// attempt (retried like any other). Registered with [`crate::Monitor::set_notifier_function`].
///
/// ```
/// use monitor_core::alerts::deliver::{notifier_function, NotifierFn};
/// let f: NotifierFn = notifier_function(|alert| async move {
///     println!("{}", alert.message);
///     Ok(())
/// });
/// # let _ = f;
/// ```
pub type NotifierFn = Arc<dyn Fn(Arc<Alert>) -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Wraps an async closure as a [`NotifierFn`].
pub fn notifier_function<F, Fut>(f: F) -> NotifierFn
where
    F: Fn(Arc<Alert>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |a| Box::pin(f(a)))
}

/// One queued delivery.
struct Item {
    alert: Arc<Alert>,
    /// Order of queuing across all queues.
    seq: u64,
    /// Failed attempts so far.
    failures: u32,
    next_at: Instant,
}

/// A queue's key: the notifier and the check.
type Key = (String, String);

/// Deliveries in flight at once per notifier (each check's alerts still go one at a time).
const PARALLEL_PER_NOTIFIER: usize = 16;

/// The queues, one per notifier and check, first in first out, mirrored in the store
/// (SQLite keeps them across restarts; a memory store keeps nothing).
#[derive(Default)]
pub(crate) struct Outbox {
    queues: Mutex<HashMap<Key, VecDeque<Item>>>,
    seq: std::sync::atomic::AtomicU64,
    store: Option<Arc<dyn crate::store::Store>>,
    wake: tokio::sync::Notify,
}

fn store_key(notifier: &str, alert: &Alert) -> String {
    format!("{notifier}/{}", alert.id)
}

impl Outbox {
    pub(crate) fn new(store: Arc<dyn crate::store::Store>) -> Outbox {
        Outbox {
            store: Some(store),
            ..Outbox::default()
        }
    }

    /// Queues `alert` for `notifier`, and keeps it in the store until it is sent.
    pub(crate) fn push(&self, notifier: &str, alert: Arc<Alert>) {
        if let Some(store) = &self.store {
            let json = serde_json::to_string(&*alert).unwrap_or_default();
            if let Err(e) = store.outbox_put(&store_key(notifier, &alert), notifier, &json) {
                tracing::warn!("could not keep alert {} in the outbox: {e}", alert.id);
            }
        }
        self.enqueue(notifier, alert);
    }

    fn enqueue(&self, notifier: &str, alert: Arc<Alert>) {
        let key = (notifier.to_string(), alert.check.clone());
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock().entry(key).or_default().push_back(Item {
            alert,
            seq,
            failures: 0,
            next_at: Instant::now(),
        });
        self.wake.notify_one();
    }

    /// Queues what the store kept (alerts not sent before a restart, or by a previous
    /// lease holder) that is not queued here already. Returns how many.
    pub(crate) fn restore(&self) -> usize {
        let Some(store) = &self.store else { return 0 };
        let rows = match store.outbox_load() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("could not read the alert outbox: {e}");
                return 0;
            }
        };
        let mut n = 0;
        for (_, notifier, json) in rows {
            let Ok(alert) = serde_json::from_str::<Alert>(&json) else {
                continue;
            };
            let queued = self
                .lock()
                .get(&(notifier.clone(), alert.check.clone()))
                .is_some_and(|q| q.iter().any(|i| i.alert.id == alert.id));
            if !queued {
                self.enqueue(&notifier, Arc::new(alert));
                n += 1;
            }
        }
        n
    }

    fn forget(&self, notifier: &str, alert: &Alert) {
        if let Some(store) = &self.store {
            if let Err(e) = store.outbox_delete(&store_key(notifier, alert)) {
                tracing::warn!("could not remove alert {} from the outbox: {e}", alert.id);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().values().map(VecDeque::len).sum()
    }

    /// Makes the sender look at the queues again (a function was registered, say).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// What waits to be sent, oldest first.
    pub(crate) fn pending(&self) -> Vec<PendingDelivery> {
        let now = Instant::now();
        let queues = self.lock();
        let mut items: Vec<(u64, PendingDelivery)> = queues
            .iter()
            .flat_map(|((notifier, _), q)| {
                q.iter().map(move |i| {
                    (
                        i.seq,
                        PendingDelivery {
                            notifier: notifier.clone(),
                            alert: (*i.alert).clone(),
                            failed_attempts: i.failures,
                            next_attempt_in_ms: i.next_at.saturating_duration_since(now).as_millis() as u64,
                        },
                    )
                })
            })
            .collect();
        items.sort_by_key(|(seq, _)| *seq);
        items.into_iter().map(|(_, p)| p).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Item>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The wait before retry number `failures` (1, 2, ...): doubling from `backoff`, capped,
/// with ±20 % jitter so that many processes do not retry in step.
fn backoff(spec: &NotifierSpec, failures: u32) -> Duration {
    let base = spec
        .backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(spec.max_backoff);
    base.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// Sends what the outbox holds until `stop`, while `may_send()` says this process may.
pub(crate) async fn run(
    alerting: Arc<Alerting>,
    publish: Publish,
    prober: Prober,
    may_send: Arc<dyn Fn() -> bool + Send + Sync>,
    stop: CancellationToken,
) {
    let mut in_flight: HashSet<Key> = HashSet::new();
    let mut per_notifier: HashMap<String, usize> = HashMap::new();
    let mut sends: JoinSet<(Key, String, Result<(), DeliveryError>)> = JoinSet::new();
    let mut was_sending = false;
    loop {
        if stop.is_cancelled() {
            break;
        }
        let config = alerting.config();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let sending = may_send();
        if sending && !was_sending {
            // Just became the sender (started, or took the lease over): what the store
            // kept is ours to send now.
            let n = alerting.outbox.restore();
            if n > 0 {
                tracing::info!("{n} undelivered alerts taken from the outbox");
            }
        }
        was_sending = sending;
        {
            let mut queues = alerting.outbox.lock();
            let mut dropped = Vec::new();
            // Oldest heads first, so a burst goes out in the order it fired.
            let mut heads: Vec<(&Key, &mut VecDeque<Item>)> = queues.iter_mut().collect();
            heads.sort_by_key(|(_, q)| q.front().map(|i| i.seq));
            for (key, queue) in heads {
                let Some(head) = queue.front() else { continue };
                if in_flight.contains(key) {
                    continue;
                }
                let name = &key.0;
                let Some(notifier) = config.notifiers.get(name).cloned() else {
                    // The notifier was removed: nothing can send these.
                    dropped.extend(queue.drain(..).map(|i| (name.clone(), i.alert)));
                    continue;
                };
                if per_notifier.get(name).copied().unwrap_or(0) >= PARALLEL_PER_NOTIFIER {
                    continue;
                }
                if !sending {
                    continue;
                }
                if head.next_at > now {
                    next = Some(next.map_or(head.next_at, |n| n.min(head.next_at)));
                    continue;
                }
                in_flight.insert(key.clone());
                *per_notifier.entry(name.clone()).or_default() += 1;
                let (alert, prober, key) = (head.alert.clone(), prober.clone(), key.clone());
                let function = alerting.function(name);
                sends.spawn(async move {
                    let r = notifier.send(&prober, &alert, function).await;
                    (key, alert.id.clone(), r)
                });
            }
            queues.retain(|_, q| !q.is_empty());
            drop(queues);
            if !dropped.is_empty() {
                alerting.stats.lock().unwrap_or_else(|p| p.into_inner()).failed += dropped.len() as u64;
            }
        }
        if !sending {
            // Not the lease holder: look again soon.
            next = Some(now + Duration::from_millis(500));
        }
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = alerting.outbox.wake.notified() => {}
            _ = sleep => {}
            Some(done) = sends.join_next(), if !sends.is_empty() => {
                let Ok((key, id, result)) = done else { continue };
                in_flight.remove(&key);
                if let Some(n) = per_notifier.get_mut(&key.0) {
                    *n = n.saturating_sub(1);
                }
                finish(&alerting, &publish, &key, &id, result);
            }
        }
    }
}

/// Books one attempt's outcome: pop on success or when attempts run out, else reschedule.
fn finish(alerting: &Alerting, publish: &Publish, key: &Key, id: &str, result: Result<(), DeliveryError>) {
    let config = alerting.config();
    let name = key.0.as_str();
    let mut queues = alerting.outbox.lock();
    let Some(queue) = queues.get_mut(key) else { return };
    let Some(head) = queue.front_mut().filter(|h| h.alert.id == id) else {
        return;
    };
    let at = Utc::now();
    match result {
        Ok(()) => {
            let item = queue.pop_front().expect("head exists");
            drop(queues);
            alerting.outbox.forget(name, &item.alert);
            alerting.stats.lock().unwrap_or_else(|p| p.into_inner()).delivered += 1;
            publish(Event::AlertDelivered {
                alert: item.alert.id.clone(),
                rule: item.alert.rule.clone(),
                check: item.alert.check.clone(),
                notifier: name.to_string(),
                attempts: item.failures + 1,
                at,
            });
        }
        Err(e) => {
            head.failures += 1;
            let max = config.notifiers.get(name).map_or(1, |n| n.spec.max_attempts);
            let gave_up = head.failures >= max;
            let (alert, attempt) = (head.alert.clone(), head.failures);
            if gave_up {
                queue.pop_front();
                alerting.outbox.forget(name, &alert);
            } else if let Some(n) = config.notifiers.get(name) {
                head.next_at = Instant::now() + backoff(&n.spec, head.failures);
            }
            drop(queues);
            tracing::warn!("alert {} not delivered ({e}), attempt {attempt}", alert.id);
            {
                let mut stats = alerting.stats.lock().unwrap_or_else(|p| p.into_inner());
                stats.attempts_failed += 1;
                if gave_up {
                    stats.failed += 1;
                }
                stats.last_failure = Some(DeliveryFailure {
                    notifier: name.to_string(),
                    alert: alert.id.clone(),
                    error: e.failure.clone(),
                    at,
                });
            }
            publish(Event::AlertDeliveryFailed {
                alert: alert.id.clone(),
                rule: alert.rule.clone(),
                check: alert.check.clone(),
                notifier: name.to_string(),
                attempt,
                error: e.failure,
                gave_up,
                at,
            });
        }
    }
}
