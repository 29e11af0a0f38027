//! The broker notifiers: a NATS subject (async-nats), a Redis channel or stream (redis),
//! an AMQP exchange (lapin). The body is the `alert_fired` event JSON, as webhooks get it,
//! or the notifier's template.
//!
//! Each notifier keeps one connection, made on first use and shared by its concurrent
//! deliveries; a delivery that fails on the connection drops it, and the next one connects
//! again. Every step (connect, publish, confirm) ends by the attempt's deadline (the
//! notifier's timeout).
//!
//! When a delivery counts: NATS once the server answered the `PING` that follows the
//! message (so it has read it); Redis once `PUBLISH` reached at least one subscriber (none
//! is a failure, `no_subscribers`, retried like any other) or `XADD` stored the entry;
//! AMQP once the broker confirmed the message (publisher confirms), and with `mandatory`
//! (the default) only if a queue took it (`unroutable` otherwise).
//!
//! Every message carries the alert's id (NATS header `Nats-Msg-Id`, which JetStream
//! deduplicates on; AMQP `message_id`; a stream entry's `alert` field), so a consumer can
//! recognise a retry of a message that did arrive.
//!
//! Failures are described by kind (`connection_refused`, `timeout`, `auth`, `redis NOAUTH`,
//! `amqp 404`...), never with the URL, which may hold a password.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::Instant;

use super::engine::Alert;
use super::rules::BrokerTarget;

/// Why one attempt failed: the kind of failure, and whether the connection is still good
/// (the broker answered, it just did not take the message).
struct Failure {
    kind: String,
    keep: bool,
}

impl Failure {
    fn broken(kind: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            keep: false,
        }
    }

    fn answered(kind: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            keep: true,
        }
    }
}

/// An open connection.
#[derive(Clone)]
enum Conn {
    Nats(async_nats::Client),
    Redis(redis::aio::MultiplexedConnection),
    Amqp(std::sync::Arc<(lapin::Connection, lapin::Channel)>),
}

/// A configured broker notifier: where it publishes, and its connection once made.
pub(crate) struct Broker {
    url: url::Url,
    target: BrokerTarget,
    timeout: std::time::Duration,
    /// The connection and its generation (so a failed delivery drops only the connection
    /// it used, not one another delivery made since).
    conn: tokio::sync::Mutex<Option<(u64, Conn)>>,
    generation: AtomicU64,
}

impl Broker {
    pub(crate) fn new(url: url::Url, target: BrokerTarget, timeout: std::time::Duration) -> Broker {
        Broker {
            url,
            target,
            timeout,
            conn: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Publishes `body` for `alert` before `deadline`. The error is the kind of failure.
    pub(crate) async fn publish(&self, alert: &Alert, body: &[u8], deadline: Instant) -> Result<(), String> {
        let (generation, conn) = self.connection(deadline).await.map_err(|f| f.kind)?;
        let result = match tokio::time::timeout_at(deadline, self.send(&conn, alert, body)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::broken("timeout")),
        };
        match result {
            Ok(()) => Ok(()),
            Err(f) => {
                if !f.keep {
                    let mut cached = self.conn.lock().await;
                    if cached.as_ref().is_some_and(|(g, _)| *g == generation) {
                        *cached = None;
                    }
                }
                Err(f.kind)
            }
        }
    }

    /// The kept connection, or a new one. Connecting holds the lock, so concurrent
    /// deliveries wait for one connection rather than each opening their own.
    async fn connection(&self, deadline: Instant) -> Result<(u64, Conn), Failure> {
        let mut cached = self.conn.lock().await;
        if let Some((g, c)) = cached.as_ref() {
            return Ok((*g, c.clone()));
        }
        let conn = match tokio::time::timeout_at(deadline, self.connect()).await {
            Ok(r) => r?,
            Err(_) => return Err(Failure::broken("timeout")),
        };
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *cached = Some((g, conn.clone()));
        Ok((g, conn))
    }

    async fn connect(&self) -> Result<Conn, Failure> {
        match &self.target {
            BrokerTarget::Nats { .. } => {
                let mut options = async_nats::ConnectOptions::new()
                    .name("upwatch")
                    .connection_timeout(self.timeout)
                    .request_timeout(Some(self.timeout));
                // Credentials go in the options, not the server address, which async-nats
                // logs (at debug level) with everything in it.
                let mut url = self.url.clone();
                let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                let user = decode(url.username());
                match url.password().map(decode) {
                    Some(password) => options = options.user_and_password(user, password),
                    None if !user.is_empty() => options = options.token(user),
                    None => {}
                }
                let _ = url.set_username("");
                let _ = url.set_password(None);
                let client = options
                    .connect(url.as_str())
                    .await
                    .map_err(|e| Failure::broken(nats_connect_failure(&e)))?;
                Ok(Conn::Nats(client))
            }
            BrokerTarget::RedisPublish { .. } | BrokerTarget::RedisStream { .. } => {
                let client = redis::Client::open(self.url.as_str()).map_err(|_| Failure::broken("invalid url"))?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout));
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| redis_failure(&e))?;
                Ok(Conn::Redis(conn))
            }
            BrokerTarget::Amqp { .. } => {
                let props = lapin::ConnectionProperties::default().with_connection_name("upwatch".into());
                let conn = lapin::Connection::connect(self.url.as_str(), props)
                    .await
                    .map_err(|e| amqp_failure(&e))?;
                let channel = conn.create_channel().await.map_err(|e| amqp_failure(&e))?;
                channel
                    .confirm_select(lapin::options::ConfirmSelectOptions::default())
                    .await
                    .map_err(|e| amqp_failure(&e))?;
                Ok(Conn::Amqp(std::sync::Arc::new((conn, channel))))
            }
        }
    }

    async fn send(&self, conn: &Conn, alert: &Alert, body: &[u8]) -> Result<(), Failure> {
        match (conn, &self.target) {
            (Conn::Nats(client), BrokerTarget::Nats { subject }) => {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", alert.id.as_str());
                headers.insert("Content-Type", "application/json");
                client
                    .publish_with_headers(subject.clone(), headers, body.to_vec().into())
                    .await
                    .map_err(|_| Failure::broken("connection"))?;
                // The server answering the PING sent after the message has read the message.
                client.flush().await.map_err(|_| Failure::broken("connection"))
            }
            (Conn::Redis(conn), BrokerTarget::RedisPublish { channel }) => {
                let mut conn = conn.clone();
                let receivers: i64 = redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(body)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| redis_failure(&e))?;
                if receivers == 0 {
                    return Err(Failure::answered("no_subscribers"));
                }
                Ok(())
            }
            (Conn::Redis(conn), BrokerTarget::RedisStream { stream, maxlen }) => {
                let mut conn = conn.clone();
                let _id: String = redis::cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(*maxlen)
                    .arg("*")
                    .arg("alert")
                    .arg(&alert.id)
                    .arg("check")
                    .arg(&alert.check)
                    .arg("kind")
                    .arg(alert.kind.as_str())
                    .arg("body")
                    .arg(body)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| redis_failure(&e))?;
                Ok(())
            }
            (
                Conn::Amqp(pair),
                BrokerTarget::Amqp {
                    exchange,
                    routing_key,
                    mandatory,
                    persistent,
                },
            ) => {
                use lapin::options::BasicPublishOptions;
                let properties = lapin::BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(if *persistent { 2 } else { 1 })
                    .with_message_id(alert.id.as_str().into())
                    .with_app_id("upwatch".into())
                    .with_timestamp(alert.at.timestamp().max(0) as u64);
                let options = BasicPublishOptions {
                    mandatory: *mandatory,
                    ..BasicPublishOptions::default()
                };
                let confirm = pair
                    .1
                    .basic_publish(
                        exchange.as_str().into(),
                        routing_key.as_str().into(),
                        options,
                        body,
                        properties,
                    )
                    .await
                    .map_err(|e| amqp_failure(&e))?;
                match confirm.await.map_err(|e| amqp_failure(&e))? {
                    lapin::Confirmation::Ack(None) => Ok(()),
                    lapin::Confirmation::Ack(Some(_)) => Err(Failure::answered("unroutable")),
                    lapin::Confirmation::Nack(_) => Err(Failure::answered("nacked")),
                    lapin::Confirmation::NotRequested => Err(Failure::broken("not confirmed")),
                }
            }
            _ => Err(Failure::broken("internal")),
        }
    }
}

/// `connection_refused`, `timeout` or `connection`, from the I/O error under `e`, if any.
fn io_failure(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection_refused",
                std::io::ErrorKind::TimedOut => "timeout",
                _ => "connection",
            });
        }
        source = s.source();
    }
    None
}

fn nats_connect_failure(e: &async_nats::ConnectError) -> String {
    use async_nats::ConnectErrorKind as K;
    match e.kind() {
        K::TimedOut => "timeout",
        K::Dns => "dns",
        K::Tls => "tls",
        K::Authentication | K::AuthorizationViolation => "auth",
        K::ServerParse => "invalid url",
        _ => io_failure(e).unwrap_or("connection"),
    }
    .into()
}

fn redis_failure(e: &redis::RedisError) -> Failure {
    if e.is_timeout() {
        return Failure::broken("timeout");
    }
    if e.is_connection_refusal() {
        return Failure::broken("connection_refused");
    }
    if e.is_io_error() || e.is_connection_dropped() {
        return Failure::broken(io_failure(e).unwrap_or("connection"));
    }
    match e.code() {
        // The server's error code (NOAUTH, WRONGTYPE...), never its message.
        Some(code) => {
            let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
            Failure {
                keep: !matches!(code.as_str(), "NOAUTH" | "WRONGPASS" | "NOPERM"),
                kind: format!("redis {code}"),
            }
        }
        None => Failure::broken("protocol"),
    }
}

fn amqp_failure(e: &lapin::Error) -> Failure {
    match e.kind() {
        lapin::ErrorKind::IOError(io) => Failure::broken(match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection_refused",
            std::io::ErrorKind::TimedOut => "timeout",
            _ => "connection",
        }),
        // A channel or connection closed by the broker: 403 access refused, 404 no such
        // exchange... the channel is gone either way.
        lapin::ErrorKind::ProtocolError(amqp) => Failure::broken(format!("amqp {}", amqp.get_id())),
        lapin::ErrorKind::AuthProviderError(_) => Failure::broken("auth"),
        lapin::ErrorKind::MissingHeartbeatError => Failure::broken("timeout"),
        _ => Failure::broken("connection"),
    }
}
