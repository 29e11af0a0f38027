//! The `http` check: one request (plus redirects) with exact phase timings, a bounded
//! body read, and the assertions of [`expect`].
//!
//! The client is hyper (the HTTP engine under reqwest) over our own connector:
//! resolving, connecting and the rustls handshake are done here so each phase is
//! timed on its own and the certificate is seen, which reqwest does not expose.
//! Every check opens a new connection, as a probe should, and never reuses one.

mod expect;

pub use expect::{HttpExpect, JsonAssertion, JsonOp, Pattern, ResponseFacts, StatusMatch};

use base64::Engine;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;
use url::Url;

use super::net::{self, IpVersion};
use super::tls::{self, evaluate_expiry, Alpn, TlsConfigs, TlsTrust};
use super::Run;
use crate::result::{CheckError, ErrorKind};
use crate::spec::reader::{join, Obj, Problems};
use crate::spec::Common;

/// Default bound on redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Default cap on the body read, counted after decompression.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const USER_AGENT: &str = concat!("upwatch/", env!("CARGO_PKG_VERSION"));

/// An `http` check.
///
/// ```toml
/// [[checks]]
/// name = "api-health"
/// kind = "http"
/// url = "https://api.example.com/health"
/// method = "GET"
/// headers = { "x-api-key" = "${API_KEY}" }
/// bearer_token = "${TOKEN}"          # or basic_auth = { username = "u", password = "${PW}" }
/// follow_redirects = true            # up to max_redirects (5)
/// max_body = "1MiB"                  # after decompression
/// ip_version = "prefer_ipv4"
/// [checks.expect]
/// status = [200]
/// ```
#[derive(Clone, Debug)]
pub struct HttpCheck {
    /// The URL requested (http or https).
    pub url: Url,
    /// Request method.
    pub method: Method,
    /// Request headers (including `authorization` from `basic_auth` / `bearer_token`).
    pub headers: HeaderMap,
    /// Request body.
    pub body: Option<Bytes>,
    /// Follow 3xx responses with a `location`.
    pub follow_redirects: bool,
    /// Redirects allowed before `too_many_redirects`.
    pub max_redirects: u32,
    /// Certificate trust for https.
    pub tls: TlsTrust,
    /// Address family preference.
    pub ip_version: IpVersion,
    /// Cap on the body read, after decompression.
    pub max_body: u64,
    /// The assertions.
    pub expect: HttpExpect,
}

impl HttpCheck {
    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<HttpCheck> {
        let url_path = o.at("url");
        let url = o.required_string("url", p).and_then(|u| match Url::parse(&u) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                p.push(&url_path, format!("{u:?} is not an http:// or https:// URL"));
                None
            }
            Ok(url) if url.host_str().is_none() => {
                p.push(&url_path, format!("{u:?} has no host"));
                None
            }
            Ok(url) => Some(url),
            Err(e) => {
                p.push(&url_path, format!("{u:?} is not a URL: {e}"));
                None
            }
        });
        let method_path = o.at("method");
        let method = match o.string("method", p) {
            None => Method::GET,
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or_else(|_| {
                p.push(method_path, format!("{m:?} is not an HTTP method"));
                Method::GET
            }),
        };
        let mut headers = HeaderMap::new();
        let headers_path = o.at("headers");
        for (name, value) in o.string_map("headers", p).unwrap_or_default() {
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(n), Ok(v)) => {
                    headers.append(n, v);
                }
                (Err(_), _) => p.push(join(&headers_path, &name), "is not a valid header name"),
                (_, Err(_)) => p.push(
                    join(&headers_path, &name),
                    "has characters not allowed in a header value",
                ),
            }
        }
        let body = o.string("body", p).map(Bytes::from);
        let auth_path = o.at("basic_auth");
        let mut auth = None;
        if let Some(mut b) = o.object("basic_auth", p) {
            let user = b.required_string("username", p);
            let password = b.string("password", p).unwrap_or_default();
            b.finish(p);
            if let Some(user) = user {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                auth = Some(format!("Basic {token}"));
            }
        }
        let bearer_path = o.at("bearer_token");
        if let Some(token) = o.string("bearer_token", p) {
            if auth.is_some() {
                p.push(&bearer_path, "use either basic_auth or bearer_token, not both");
            }
            auth = Some(format!("Bearer {token}"));
        }
        if let Some(value) = auth {
            if headers.contains_key(header::AUTHORIZATION) {
                p.push(auth_path, "an authorization header is already set in headers");
            }
            match HeaderValue::try_from(value) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    headers.insert(header::AUTHORIZATION, v);
                }
                Err(_) => p.push(bearer_path, "has characters not allowed in a header value"),
            }
        }
        let follow_redirects = o.bool("follow_redirects", p).unwrap_or(true);
        let max_redirects = o
            .int("max_redirects", 0, 30, p)
            .map_or(DEFAULT_MAX_REDIRECTS, |n| n as u32);
        let tls = TlsTrust::read(o, p, true);
        let ip_version = IpVersion::read(o, p);
        let max_body = o.size("max_body", p).unwrap_or(DEFAULT_MAX_BODY);
        if max_body > 1 << 30 {
            p.push(o.at("max_body"), "at most 1GiB");
        }
        let expect = match o.object("expect", p) {
            Some(mut e) => {
                let x = HttpExpect::read(&mut e, p);
                e.finish(p);
                x
            }
            None => HttpExpect::default(),
        };
        let has_cert_bound =
            expect.certificate_expires_in.min.is_some() || expect.certificate_expires_in.warn.is_some();
        if has_cert_bound && url.as_ref().is_some_and(|u| u.scheme() != "https") {
            p.push(
                format!("{}.certificate_expires_in", o.at("expect")),
                "needs an https:// url",
            );
        }
        Some(HttpCheck {
            url: url?,
            method,
            headers,
            body,
            follow_redirects,
            max_redirects,
            tls,
            ip_version,
            max_body,
            expect,
        })
    }

    pub(crate) async fn probe(&self, tls: &TlsConfigs, run: &mut Run) -> Result<(), CheckError> {
        let mut url = self.url.clone();
        let mut method = self.method.clone();
        let mut body = self.body.clone();
        let mut headers = self.headers.clone();
        let mut redirects = 0u32;
        loop {
            let hop = self.exchange(tls, run, &url, &method, &headers, body.clone()).await?;
            let status = hop.parts.status;
            let location = location_of(&hop.parts.headers);
            if self.follow_redirects && status.is_redirection() {
                if let Some(location) = location {
                    if redirects >= self.max_redirects {
                        run.observed.redirects = Some(redirects);
                        run.observed.status_code = Some(status.as_u16());
                        return Err(CheckError::new(
                            ErrorKind::TooManyRedirects,
                            format!("stopped after {} redirects (next: {location})", self.max_redirects),
                        ));
                    }
                    let next = url.join(location).map_err(|e| {
                        CheckError::new(ErrorKind::Protocol, format!("bad redirect location {location:?}: {e}"))
                    })?;
                    if !matches!(next.scheme(), "http" | "https") {
                        return Err(CheckError::new(
                            ErrorKind::Protocol,
                            format!("redirect to a non-HTTP URL: {next}"),
                        ));
                    }
                    if next.origin() != url.origin() {
                        // Credentials are for the origin they were configured for.
                        headers.remove(header::AUTHORIZATION);
                        headers.remove(header::COOKIE);
                    }
                    let to_get = status == http::StatusCode::SEE_OTHER
                        || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
                    if to_get && method != Method::HEAD {
                        method = Method::GET;
                        body = None;
                        headers.remove(header::CONTENT_TYPE);
                        headers.remove(header::CONTENT_LENGTH);
                    }
                    redirects += 1;
                    url = next;
                    continue;
                }
            }
            if redirects > 0 {
                run.observed.redirects = Some(redirects);
                run.observed.final_url = Some(url.to_string());
            }
            run.observed.status_code = Some(status.as_u16());
            run.observed.http_version = Some(version_name(hop.parts.version).into());
            let Hop {
                parts,
                body: body_bytes,
            } = hop;
            run.observed.body_bytes = Some(body_bytes.len() as u64);
            let facts = ResponseFacts {
                status: status.as_u16(),
                headers: &parts.headers,
                body: &body_bytes,
                elapsed: run.started.elapsed(),
            };
            run.verdict = self.expect.evaluate(&facts);
            if let Some(cert) = &run.observed.certificate {
                evaluate_expiry(&self.expect.certificate_expires_in, cert, &mut run.verdict);
            }
            return Ok(());
        }
    }

    /// One request on a new connection: resolve, connect, TLS, send, then the response
    /// head and (unless it is a redirect to follow, or a HEAD) the body.
    async fn exchange(
        &self,
        tls_configs: &TlsConfigs,
        run: &mut Run,
        url: &Url,
        method: &Method,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Hop, CheckError> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = net::resolve(run, host, port, self.ip_version).await?;
        let tcp = net::connect(run, &addrs).await?;
        if url.scheme() == "https" {
            let stream = tls::handshake(tls_configs, run, tcp, host, &self.tls, Alpn::Http).await?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let request = build_request(url, method, headers, body, h2)?;
            self.converse(run, TokioIo::new(stream), request, h2).await
        } else {
            let request = build_request(url, method, headers, body, false)?;
            self.converse(run, TokioIo::new(tcp), request, false).await
        }
    }

    /// Speaks HTTP over a fresh connection. The connection is driven in this same task,
    /// beside the request (no task per connection), and closed when the hop is done.
    async fn converse<IO>(
        &self,
        run: &mut Run,
        io: IO,
        request: Request<Full<Bytes>>,
        h2: bool,
    ) -> Result<Hop, CheckError>
    where
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let head_only = request.method() == Method::HEAD;
        let t = Instant::now();
        if h2 {
            let (mut sender, conn) = run
                .within(
                    "the HTTP/2 handshake",
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io),
                )
                .await?
                .map_err(hyper_error)?;
            let sending = sender.send_request(request);
            drive(conn, self.respond(run, t, sending, head_only)).await
        } else {
            let (mut sender, conn) = run
                .within("the HTTP handshake", hyper::client::conn::http1::handshake(io))
                .await?
                .map_err(hyper_error)?;
            let sending = sender.send_request(request);
            drive(conn, self.respond(run, t, sending, head_only)).await
        }
    }

    /// Waits for the response head (`first_byte`), then reads the body when it matters.
    async fn respond(
        &self,
        run: &mut Run,
        sent: Instant,
        sending: impl Future<Output = Result<Response<Incoming>, hyper::Error>>,
        head_only: bool,
    ) -> Result<Hop, CheckError> {
        let response = run.within("the first byte", sending).await;
        run.phases.add(|p| &mut p.first_byte_ms, sent.elapsed());
        let (parts, incoming) = response?.map_err(hyper_error)?.into_parts();
        let redirect = self.follow_redirects && parts.status.is_redirection() && location_of(&parts.headers).is_some();
        let body = if redirect || head_only {
            Vec::new()
        } else {
            self.read_body(run, &parts.headers, incoming).await?
        };
        Ok(Hop { parts, body })
    }

    /// Reads the body, decompressing by `content-encoding`, up to `max_body` bytes.
    async fn read_body(&self, run: &mut Run, headers: &HeaderMap, incoming: Incoming) -> Result<Vec<u8>, CheckError> {
        use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
        let t = Instant::now();
        let raw = tokio_util::io::StreamReader::new(incoming.into_data_stream().map_err_into_io());
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let mut reader: Pin<Box<dyn AsyncRead + Send>> = match encoding.as_str() {
            "" | "identity" => Box::pin(raw),
            "gzip" | "x-gzip" => Box::pin(GzipDecoder::new(raw)),
            "deflate" => Box::pin(ZlibDecoder::new(raw)),
            "br" => Box::pin(BrotliDecoder::new(raw)),
            "zstd" => Box::pin(ZstdDecoder::new(raw)),
            other => {
                return Err(CheckError::new(
                    ErrorKind::Protocol,
                    format!("unsupported content-encoding {other:?}"),
                ));
            }
        };
        let limit = self.max_body;
        let mut buf = Vec::with_capacity(8 * 1024);
        let read = run
            .within("the response body", (&mut reader).take(limit + 1).read_to_end(&mut buf))
            .await;
        run.phases.add(|p| &mut p.transfer_ms, t.elapsed());
        match read? {
            Ok(_) if buf.len() as u64 > limit => Err(CheckError::new(
                ErrorKind::BodyTooLarge,
                format!(
                    "body is larger than max_body ({} bytes, counted after decompression)",
                    limit
                ),
            )),
            Ok(_) => Ok(buf),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(CheckError::new(
                ErrorKind::Protocol,
                format!("could not decode the {encoding} body: {e}"),
            )),
            Err(e) => Err(CheckError::new(
                ErrorKind::Connection,
                format!("reading the body failed: {e}"),
            )),
        }
    }
}

/// Turns hyper's body-frame errors into `io::Error`s for `StreamReader`.
trait MapErrIntoIo: Sized {
    fn map_err_into_io(self) -> futures_util::stream::MapErr<Self, fn(hyper::Error) -> std::io::Error>;
}

impl<S: futures_util::Stream<Item = Result<Bytes, hyper::Error>>> MapErrIntoIo for S {
    fn map_err_into_io(self) -> futures_util::stream::MapErr<Self, fn(hyper::Error) -> std::io::Error> {
        use futures_util::TryStreamExt;
        self.map_err(std::io::Error::other)
    }
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

fn build_request(
    url: &Url,
    method: &Method,
    headers: &HeaderMap,
    body: Option<Bytes>,
    h2: bool,
) -> Result<Request<Full<Bytes>>, CheckError> {
    // HTTP/1.1 wants the origin form and a Host header; HTTP/2 the absolute form.
    let target = if h2 {
        url.as_str().to_string()
    } else {
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    };
    let mut req = Request::builder()
        .method(method.clone())
        .uri(target)
        .body(Full::new(body.unwrap_or_default()))
        .map_err(|e| CheckError::new(ErrorKind::Protocol, format!("could not build the request: {e}")))?;
    let h = req.headers_mut();
    if !h2 {
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        };
        if let Ok(v) = HeaderValue::try_from(host) {
            h.insert(header::HOST, v);
        }
    }
    h.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate, br, zstd"),
    );
    for (name, value) in headers {
        h.insert(name.clone(), value.clone());
    }
    Ok(req)
}

/// The response to one request: its head, and its body when it was read.
struct Hop {
    parts: http::response::Parts,
    body: Vec<u8>,
}

/// A redirect's target, when the response has a readable `location`.
fn location_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::LOCATION).and_then(|l| l.to_str().ok())
}

/// Polls a connection alongside the work that uses it until the work is done. A
/// connection that ends first (the server closed it) leaves the work to finish alone.
async fn drive<C: Future, W: Future>(conn: C, work: W) -> W::Output {
    tokio::pin!(conn);
    tokio::pin!(work);
    let mut conn_done = false;
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

fn hyper_error(e: hyper::Error) -> CheckError {
    use std::error::Error;
    let detail = e.source().map(|s| format!(": {s}")).unwrap_or_default();
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        CheckError::new(ErrorKind::Protocol, format!("invalid HTTP response: {e}{detail}"))
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        CheckError::new(
            ErrorKind::Connection,
            format!("connection closed before a complete response{detail}"),
        )
    } else {
        CheckError::new(ErrorKind::Connection, format!("HTTP error: {e}{detail}"))
    }
}
