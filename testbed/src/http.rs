//! Plain HTTP and HTTPS targets serving a fixed set of test routes.
//!
//! The same [`router`] is served by the plain server ([`HttpTarget`]) and by every HTTPS server
//! ([`HttpsTarget`], [`TlsTargets`]). Every server speaks HTTP/1.1 and HTTP/2 (prior knowledge
//! h2c on the plain server; ALPN `h2` / `http/1.1` over TLS).
//!
//! # Routes
//!
//! | route | response |
//! |---|---|
//! | `GET /health` | 200 JSON [`HEALTH_BODY`], headers `x-upwatch-test: yes`, `server: upwatch-testbed` |
//! | `GET /status/{code}` | status `code` (200..=599, otherwise 400), text `status {code}` (empty for 204/304) |
//! | `GET /error` | 500 JSON [`ERROR_BODY`] |
//! | `GET /slow?ms=N` | sleeps N ms, then 200 `slow ok` |
//! | `GET /hang` | never responds |
//! | `GET /redirect-loop` | 302 to itself |
//! | `GET /redirect/{n}` | 302 to `/redirect/{n-1}`; `/redirect/0` is 200 `redirected` |
//! | `GET /redirect-absolute` | 302 to the absolute URL of `/health` (scheme + `Host` of the request) |
//! | `GET /endless` | 200, a body of 64 KiB chunks of `x` that never ends |
//! | `GET /gzip-bomb` | 200, `content-encoding: gzip`, ~64 KiB that inflate to 64 MiB of zeros |
//! | `GET /gzip` | 200, `content-encoding: gzip`, JSON `{"status":"UP","compressed":true}` |
//! | `GET /json/10k` | 200, a ~10 KiB JSON document (`status`, `count`, `items`) |
//! | `ANY /echo` | 200 JSON `{"method","path","headers","body"}` describing the request |
//! | `GET /text` | 200 `text/plain` `hello upwatch` |
//! | `GET /headers` | 200 `ok` with `x-version: 1.4.2`, `cache-control: no-store` |
//!
//! Anything else is 404 `not found`. Text bodies use axum's `text/plain; charset=utf-8`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::certs::TestCerts;
use crate::Tasks;

/// Body of `GET /health` (served byte for byte).
pub const HEALTH_BODY: &str = r#"{"status":"UP","version":"1.4.2","uptime_s":12345,"latency_ms":12.5,"checks":{"db":"ok","cache":"ok"},"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"tags":["prod","eu"]}"#;

/// Body of `GET /error` (served byte for byte, status 500).
pub const ERROR_BODY: &str = r#"{"status":"DOWN","error":"database unreachable"}"#;

/// Uncompressed body of `GET /gzip`.
pub const GZIP_JSON_BODY: &str = r#"{"status":"UP","compressed":true}"#;

/// Size of the decompressed `GET /gzip-bomb` body: 64 MiB of zero bytes.
pub const GZIP_BOMB_INFLATED_LEN: usize = 64 * 1024 * 1024;

/// Size of each chunk of the never-ending `GET /endless` body.
pub const ENDLESS_CHUNK_LEN: usize = 64 * 1024;

/// How long a TLS handshake may take before the server drops the connection.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

static ENDLESS_CHUNK: [u8; ENDLESS_CHUNK_LEN] = [b'x'; ENDLESS_CHUNK_LEN];

/// URL scheme of the server a request arrived on; inserted as a request extension.
#[derive(Debug, Clone, Copy)]
struct Scheme(&'static str);

/// The standard test routes (see the [module docs](self) for the list).
///
/// Served by every HTTP and HTTPS target; public so callers can extend it (e.g. with
/// `.merge(...)`) and pass the result to [`serve_http`] or [`serve_https`].
pub fn router() -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status/{code}", get(status))
        .route("/error", get(error))
        .route("/slow", get(slow))
        .route("/hang", get(hang))
        .route("/redirect-loop", get(redirect_loop))
        .route("/redirect/{n}", get(redirect_n))
        .route("/redirect-absolute", get(redirect_absolute))
        .route("/endless", get(endless))
        .route("/gzip-bomb", get(gzip_bomb))
        .route("/gzip", get(gzip_json))
        .route("/json/10k", get(json_10k))
        .route("/echo", any(echo))
        .route("/text", get(text))
        .route("/headers", get(headers))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

async fn health() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-upwatch-test"), "yes"),
            (header::SERVER, "upwatch-testbed"),
        ],
        HEALTH_BODY,
    )
        .into_response()
}

async fn status(Path(code): Path<String>) -> Response {
    let parsed = code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok());
    match parsed {
        Some(s) if s == StatusCode::NO_CONTENT || s == StatusCode::NOT_MODIFIED => s.into_response(),
        Some(s) => (s, format!("status {}", s.as_u16())).into_response(),
        None => (StatusCode::BAD_REQUEST, "invalid status code (expected 200..=599)").into_response(),
    }
}

async fn error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        ERROR_BODY,
    )
        .into_response()
}

async fn slow(Query(params): Query<HashMap<String, String>>) -> Response {
    let ms = match params.get("ms").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "ms must be an integer").into_response(),
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slow ok".into_response()
}

async fn hang() -> Response {
    std::future::pending().await
}

fn redirect_to(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn redirect_loop() -> Response {
    redirect_to("/redirect-loop")
}

async fn redirect_n(Path(n): Path<u32>) -> Response {
    if n == 0 {
        "redirected".into_response()
    } else {
        redirect_to(&format!("/redirect/{}", n - 1))
    }
}

async fn redirect_absolute(req: Request) -> Response {
    let scheme = req
        .extensions()
        .get::<Scheme>()
        .map(|s| s.0)
        .or_else(|| {
            req.uri()
                .scheme_str()
                .map(|s| if s == "https" { "https" } else { "http" })
        })
        .unwrap_or("http");
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) => redirect_to(&format!("{scheme}://{host}/health")),
        None => (StatusCode::BAD_REQUEST, "missing Host header").into_response(),
    }
}

async fn endless() -> Response {
    let chunks = futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from_static(&ENDLESS_CHUNK)));
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Gzip of 64 MiB of zeros, built once per process.
fn gzip_bomb_bytes() -> Bytes {
    static BOMB: OnceLock<Bytes> = OnceLock::new();
    BOMB.get_or_init(|| Bytes::from(gzip_of_zeros_64mib())).clone()
}

async fn gzip_bomb() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain"), (header::CONTENT_ENCODING, "gzip")],
        gzip_bomb_bytes(),
    )
        .into_response()
}

/// CRC-32 of 64 MiB of zero bytes (`zlib.crc32(bytes(64 << 20))`).
const ZEROS_64MIB_CRC32: u32 = 0xb2eb_30ed;

/// LSB-first bit writer for a DEFLATE stream (RFC 1951).
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    len: u32,
}

impl BitWriter {
    /// Writes the low `count` bits of `value`, least significant first (header fields, extra bits).
    fn bits(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.acc |= ((value >> i) & 1) << self.len;
            self.len += 1;
            if self.len == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.len = 0;
            }
        }
    }

    /// Writes a Huffman code of `len` bits, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bits((code >> i) & 1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A gzip member whose content is [`GZIP_BOMB_INFLATED_LEN`] zero bytes, ~64 KiB compressed.
///
/// Compressing 64 MiB with a general-purpose encoder takes over a second in debug builds, so
/// the DEFLATE stream is written directly: one dynamic-Huffman block whose literal/length code
/// has only three symbols (literal 0 = `10`, end-of-block = `11`, length 258 = `0`) and whose
/// distance code maps distance 1 to `0`. Each 258-byte run then costs 2 bits, the best ratio
/// DEFLATE allows (~1032:1), and building the body takes microseconds.
fn gzip_of_zeros_64mib() -> Vec<u8> {
    const MAX_MATCH: usize = 258;
    // Enough leading literals that the rest is a whole number of 258-byte matches.
    let literals = 1 + (GZIP_BOMB_INFLATED_LEN - 1) % MAX_MATCH;
    let matches = (GZIP_BOMB_INFLATED_LEN - literals) / MAX_MATCH;

    let mut w = BitWriter {
        out: Vec::with_capacity(GZIP_BOMB_INFLATED_LEN / 1000),
        acc: 0,
        len: 0,
    };
    // Gzip header: magic, CM=deflate, no flags, mtime 0, XFL 0, OS unknown.
    w.out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

    // Block header: BFINAL=1, BTYPE=2 (dynamic Huffman).
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(286 - 257, 5); // HLIT: literal/length codes 0..=285
    w.bits(2 - 1, 5); // HDIST: distance codes 0..=1
    w.bits(19 - 4, 4); // HCLEN: all 19 code-length code lengths follow
                       // Code-length code: symbol 18 -> `0`, 1 -> `10`, 2 -> `11` (lengths 1, 2, 2).
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    for sym in ORDER {
        let len = match sym {
            18 => 1,
            1 | 2 => 2,
            _ => 0,
        };
        w.bits(len, 3);
    }
    let (cl_18, cl_1, cl_2) = ((0, 1), (0b10, 2), (0b11, 2));
    // Literal/length code lengths: 0 -> 2, 1..=255 -> 0, 256 -> 2, 257..=284 -> 0, 285 -> 1.
    w.code(cl_2.0, cl_2.1);
    w.code(cl_18.0, cl_18.1);
    w.bits(138 - 11, 7); // 138 zeros
    w.code(cl_18.0, cl_18.1);
    w.bits(117 - 11, 7); // 117 zeros (255 in total)
    w.code(cl_2.0, cl_2.1);
    w.code(cl_18.0, cl_18.1);
    w.bits(28 - 11, 7); // 28 zeros
    w.code(cl_1.0, cl_1.1);
    // Distance code lengths: 0 -> 1, 1 -> 1.
    w.code(cl_1.0, cl_1.1);
    w.code(cl_1.0, cl_1.1);

    // Data: literal zeros, then runs of 258 at distance 1 (`0` + `0`), then end of block.
    for _ in 0..literals {
        w.code(0b10, 2);
    }
    for _ in 0..matches {
        w.code(0b00, 2);
    }
    w.code(0b11, 2);

    let mut out = w.finish();
    out.extend_from_slice(&ZEROS_64MIB_CRC32.to_le_bytes());
    out.extend_from_slice(&(GZIP_BOMB_INFLATED_LEN as u32).to_le_bytes());
    out
}

async fn gzip_json() -> Response {
    static GZ: OnceLock<Bytes> = OnceLock::new();
    let body = GZ
        .get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            io::Write::write_all(&mut enc, GZIP_JSON_BODY.as_bytes()).expect("gzip into memory");
            Bytes::from(enc.finish().expect("gzip into memory"))
        })
        .clone();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        body,
    )
        .into_response()
}

/// The deterministic ~10 KiB document served at `/json/10k`.
///
/// Shape: `{"status":"UP","count":N,"items":[{"id":1,"name":"item-1","healthy":true,
/// "latency_ms":1.37},...]}` with items appended until the document reaches 10,000 bytes.
pub fn json_10k_body() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        const TARGET: usize = 10_000;
        let mut items: Vec<String> = Vec::new();
        let mut items_len = 0; // bytes of the items, including separating commas
        loop {
            let head = format!(r#"{{"status":"UP","count":{},"items":["#, items.len());
            let total = head.len() + items_len + "]}".len();
            if total >= TARGET {
                return format!("{head}{}]}}", items.join(","));
            }
            let i = items.len() + 1;
            let latency = 1.0 + ((i * 37) % 500) as f64 / 100.0;
            let item = format!(r#"{{"id":{i},"name":"item-{i}","healthy":true,"latency_ms":{latency:.2}}}"#);
            items_len += item.len() + usize::from(!items.is_empty());
            items.push(item);
        }
    })
}

async fn json_10k() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json_10k_body()).into_response()
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut map = serde_json::Map::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name.as_str()) {
            Some(serde_json::Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_owned(), serde_json::Value::String(value));
            }
        }
    }
    axum::Json(serde_json::json!({
        "method": method.as_str(),
        "path": uri.path(),
        "headers": map,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

async fn text() -> Response {
    "hello upwatch".into_response()
}

async fn headers() -> Response {
    (
        [
            (
                header::HeaderName::from_static("x-version"),
                HeaderValue::from_static("1.4.2"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "ok",
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// Serves `router` on one accepted connection (HTTP/1.1 or HTTP/2, auto-detected).
async fn serve_connection<I>(io: I, builder: Arc<auto::Builder<TokioExecutor>>, router: Router)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    // Connection errors (client went away, protocol errors) only end this connection.
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}

/// A plain-HTTP server (HTTP/1.1 and h2c) on `127.0.0.1`.
///
/// Stops (including open connections) when dropped.
#[derive(Debug)]
pub struct HttpTarget {
    /// Address the server listens on.
    pub addr: SocketAddr,
    _tasks: Tasks,
}

impl HttpTarget {
    /// Starts a plain HTTP server with the standard [`router`] on `127.0.0.1:0`.
    pub async fn start() -> io::Result<HttpTarget> {
        serve_http(None).await
    }

    /// `"http://127.0.0.1:PORT{path}"` (a missing leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        make_url("http", self.addr, path)
    }
}

/// Starts a plain HTTP server (HTTP/1.1 and h2c) on `127.0.0.1:0`.
///
/// `router` defaults to the standard test [`router`] when `None`. The accept loop spawns one
/// task per connection and sets `TCP_NODELAY`; it is the benchmark target for connection-rate
/// tests. Must be called from within a tokio runtime.
pub async fn serve_http(router: Option<Router>) -> io::Result<HttpTarget> {
    let listener = crate::bind_tcp().await?;
    let addr = listener.local_addr()?;
    let router = router.unwrap_or_else(self::router).layer(Extension(Scheme("http")));
    let mut tasks = Tasks::default();
    tasks.spawn(serve_plain(listener, router));
    Ok(HttpTarget { addr, _tasks: tasks })
}

async fn serve_plain(listener: TcpListener, router: Router) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    crate::accept_loop(listener, move |stream, _peer| {
        let builder = builder.clone();
        let router = router.clone();
        async move {
            let _ = stream.set_nodelay(true);
            serve_connection(stream, builder, router).await;
        }
    })
    .await
}

/// An HTTPS server on `127.0.0.1` with one certificate.
///
/// Stops (including open connections) when dropped.
#[derive(Debug)]
pub struct HttpsTarget {
    /// Address the server listens on.
    pub addr: SocketAddr,
    /// `notAfter` of the served leaf certificate (exact, read back from the certificate).
    pub not_after: SystemTime,
    /// The served certificate chain, PEM (leaf first).
    pub cert_pem: String,
    _tasks: Tasks,
}

impl HttpsTarget {
    /// `"https://127.0.0.1:PORT{path}"` (a missing leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        make_url("https", self.addr, path)
    }
}

/// Starts an HTTPS server on `127.0.0.1:0` presenting `cert_pem` (leaf first, optionally
/// followed by intermediates) with the private key `key_pem` (PKCS#8, SEC1 or PKCS#1 PEM).
///
/// `router` defaults to the standard test [`router`] when `None`. TLS uses rustls with the
/// `ring` provider (TLS 1.2 and 1.3) and offers ALPN `h2` and `http/1.1`. A failed or stalled
/// (10 s) handshake only drops that connection. Any certificate is accepted, including expired
/// or not-yet-valid ones. Must be called from within a tokio runtime.
///
/// # Errors
///
/// Fails if the PEM cannot be parsed, rustls rejects the key, or binding fails.
pub async fn serve_https(router: Option<Router>, cert_pem: &str, key_pem: &str) -> io::Result<HttpsTarget> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid_data)?;
    let leaf = certs
        .first()
        .ok_or_else(|| invalid_data("no certificate in cert_pem"))?;
    let not_after = cert_not_after(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(invalid_data)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(invalid_data)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(invalid_data)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = crate::bind_tcp().await?;
    let addr = listener.local_addr()?;
    let router = router.unwrap_or_else(self::router).layer(Extension(Scheme("https")));
    let mut tasks = Tasks::default();
    tasks.spawn(serve_tls(listener, acceptor, router));
    Ok(HttpsTarget {
        addr,
        not_after,
        cert_pem: cert_pem.to_owned(),
        _tasks: tasks,
    })
}

async fn serve_tls(listener: TcpListener, acceptor: TlsAcceptor, router: Router) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    crate::accept_loop(listener, move |stream, _peer| {
        let builder = builder.clone();
        let router = router.clone();
        let acceptor = acceptor.clone();
        async move {
            let _ = stream.set_nodelay(true);
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                // Handshake failed (e.g. the client rejected the certificate) or timed out.
                _ => return,
            };
            serve_connection(tls, builder, router).await;
        }
    })
    .await
}

/// HTTPS servers with the standard routes, one per certificate variant.
///
/// Every certificate except `self_signed` is issued by the [`TestCerts`] CA. All validity
/// windows are relative to the moment [`TlsTargets::start`] runs.
#[derive(Debug)]
pub struct TlsTargets {
    /// SANs IP `127.0.0.1` + DNS `localhost`; valid from yesterday for 90 days.
    pub valid: HttpsTarget,
    /// Same SANs; valid from yesterday until 3 days from now.
    pub expiring_soon: HttpsTarget,
    /// Same SANs; valid from 30 days ago until 2 days ago.
    pub expired: HttpsTarget,
    /// SAN only DNS `wrong.example` (no IP SAN); valid from yesterday for 90 days.
    pub wrong_host: HttpsTarget,
    /// Self-signed (not from the CA); SANs IP `127.0.0.1` + `localhost`; valid 90 days.
    pub self_signed: HttpsTarget,
}

impl TlsTargets {
    /// Issues the five certificates and starts one HTTPS server for each.
    pub async fn start(certs: &TestCerts) -> io::Result<TlsTargets> {
        let now = SystemTime::now();
        let yesterday = now - DAY;
        let local = ["127.0.0.1", "localhost"];

        let (c, k) = certs.leaf(&local, yesterday, now + 90 * DAY);
        let valid = serve_https(None, &c, &k).await?;
        let (c, k) = certs.leaf(&local, yesterday, now + 3 * DAY);
        let expiring_soon = serve_https(None, &c, &k).await?;
        let (c, k) = certs.leaf(&local, now - 30 * DAY, now - 2 * DAY);
        let expired = serve_https(None, &c, &k).await?;
        let (c, k) = certs.leaf(&["wrong.example"], yesterday, now + 90 * DAY);
        let wrong_host = serve_https(None, &c, &k).await?;
        let (c, k) = TestCerts::self_signed(&local, yesterday, now + 90 * DAY);
        let self_signed = serve_https(None, &c, &k).await?;

        Ok(TlsTargets {
            valid,
            expiring_soon,
            expired,
            wrong_host,
            self_signed,
        })
    }
}

fn make_url(scheme: &str, addr: SocketAddr, path: &str) -> String {
    if path.starts_with('/') {
        format!("{scheme}://{addr}{path}")
    } else {
        format!("{scheme}://{addr}/{path}")
    }
}

fn invalid_data(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Reads `notAfter` from a DER certificate.
fn cert_not_after(der: &CertificateDer<'_>) -> io::Result<SystemTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(invalid_data)?;
    let ts = cert.validity().not_after.timestamp();
    let secs = Duration::from_secs(ts.unsigned_abs());
    Ok(if ts >= 0 {
        SystemTime::UNIX_EPOCH + secs
    } else {
        SystemTime::UNIX_EPOCH - secs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_constant_matches_64_mib_of_zeros() {
        let mut crc = flate2::Crc::new();
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..GZIP_BOMB_INFLATED_LEN / zeros.len() {
            crc.update(&zeros);
        }
        assert_eq!(crc.sum(), ZEROS_64MIB_CRC32);
    }

    #[test]
    fn json_10k_size() {
        let doc = json_10k_body();
        assert!((10_000..=11_000).contains(&doc.len()), "{}", doc.len());
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert_eq!(v["count"], v["items"].as_array().unwrap().len());
    }
}
