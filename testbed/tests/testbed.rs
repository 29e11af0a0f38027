//! End-to-end checks of every testbed target, using real clients over loopback.

use std::io::Read;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use upwatch_testbed::{dns, http, tcp, TestCerts, Testbed};

const T: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// HTTP client helpers (hyper client connections, one request per connection)
// ---------------------------------------------------------------------------------------------

async fn send_on<I>(io: I, req: Request<Empty<Bytes>>) -> Response<Incoming>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("http1 handshake");
    tokio::spawn(conn);
    sender.send_request(req).await.expect("send request")
}

fn get_req(addr: SocketAddr, path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::new())
        .unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    timeout(T, send_on(stream, get_req(addr, path)))
        .await
        .expect("response in time")
}

async fn get_full(addr: SocketAddr, path: &str) -> (hyper::http::response::Parts, Bytes) {
    let resp = get(addr, path).await;
    let (parts, body) = resp.into_parts();
    let body = timeout(T, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (parts, body)
}

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

fn ca_roots(certs: &TestCerts) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(certs.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

async fn tls_connect(
    roots: rustls::RootCertStore,
    addr: SocketAddr,
    server_name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(client_config(roots));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    timeout(T, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
}

fn cert_error(err: &std::io::Error) -> rustls::CertificateError {
    match err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(e)) => e.clone(),
        other => panic!("expected a certificate error, got {other:?} ({err})"),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_routes() {
    let target = upwatch_testbed::HttpTarget::start().await.unwrap();
    let addr = target.addr;
    assert_eq!(target.url("/health"), format!("http://{addr}/health"));

    let (parts, body) = get_full(addr, "/health").await;
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-type"], "application/json");
    assert_eq!(parts.headers["x-upwatch-test"], "yes");
    assert_eq!(parts.headers["server"], "upwatch-testbed");
    assert_eq!(body, http::HEALTH_BODY.as_bytes());
    assert_eq!(
        body,
        r#"{"status":"UP","version":"1.4.2","uptime_s":12345,"latency_ms":12.5,"checks":{"db":"ok","cache":"ok"},"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"tags":["prod","eu"]}"#
    );

    for code in [200u16, 201, 204, 301, 404, 418, 503, 599] {
        let (parts, body) = get_full(addr, &format!("/status/{code}")).await;
        assert_eq!(parts.status.as_u16(), code);
        if code != 204 {
            assert_eq!(body, format!("status {code}"));
        }
    }
    assert_eq!(get_full(addr, "/status/99").await.0.status, 400);

    let (parts, body) = get_full(addr, "/error").await;
    assert_eq!(parts.status, 500);
    assert_eq!(body, r#"{"status":"DOWN","error":"database unreachable"}"#);

    let started = std::time::Instant::now();
    let (parts, body) = get_full(addr, "/slow?ms=150").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"slow ok"[..]));

    let (parts, _) = get_full(addr, "/redirect-loop").await;
    assert_eq!(parts.status, 302);
    assert_eq!(parts.headers["location"], "/redirect-loop");
    let (parts, _) = get_full(addr, "/redirect/3").await;
    assert_eq!(parts.status, 302);
    assert_eq!(parts.headers["location"], "/redirect/2");
    let (parts, body) = get_full(addr, "/redirect/0").await;
    assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"redirected"[..]));
    let (parts, _) = get_full(addr, "/redirect-absolute").await;
    assert_eq!(parts.status, 302);
    assert_eq!(parts.headers["location"], format!("http://{addr}/health"));

    let (parts, body) = get_full(addr, "/gzip").await;
    assert_eq!(parts.headers["content-encoding"], "gzip");
    assert_eq!(parts.headers["content-type"], "application/json");
    let mut json = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut json)
        .unwrap();
    assert_eq!(json, r#"{"status":"UP","compressed":true}"#);

    let (parts, body) = get_full(addr, "/json/10k").await;
    assert_eq!(parts.headers["content-type"], "application/json");
    assert!((10_000..=11_000).contains(&body.len()), "len {}", body.len());
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["status"], "UP");
    let items = doc["items"].as_array().unwrap();
    assert_eq!(doc["count"], items.len());
    assert_eq!(items[0]["id"], 1);
    assert_eq!(items[0]["name"], "item-1");
    assert_eq!(items[0]["healthy"], true);
    assert!(items[0]["latency_ms"].is_f64());
    assert!(body.starts_with(br#"{"status":"UP","count":"#));

    let (parts, body) = get_full(addr, "/text").await;
    assert!(parts.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(body, "hello upwatch");

    let (parts, body) = get_full(addr, "/headers").await;
    assert_eq!(parts.headers["x-version"], "1.4.2");
    assert_eq!(parts.headers["cache-control"], "no-store");
    assert_eq!(body, "ok");

    assert_eq!(get_full(addr, "/nope").await.0.status, 404);
}

#[tokio::test]
async fn http_echo() {
    let target = upwatch_testbed::HttpTarget::start().await.unwrap();
    let stream = TcpStream::connect(target.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/echo?x=1")
        .header("host", "example.test")
        .header("X-Custom", "Value")
        .body(http_body_util::Full::new(Bytes::from_static(b"hello body")))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo");
    assert_eq!(v["headers"]["x-custom"], "Value");
    assert_eq!(v["headers"]["host"], "example.test");
    assert_eq!(v["body"], "hello body");
}

#[tokio::test]
async fn http2_prior_knowledge_and_hang() {
    let target = upwatch_testbed::HttpTarget::start().await.unwrap();
    let stream = TcpStream::connect(target.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let uri = target.url("/health");
    let resp = sender
        .send_request(Request::get(&uri).body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.status(), 200);

    // The absolute redirect also works without a Host header (h2 `:authority`).
    let resp = sender
        .send_request(
            Request::get(target.url("/redirect-absolute"))
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], uri);

    let hang = sender.send_request(Request::get(target.url("/hang")).body(Empty::<Bytes>::new()).unwrap());
    assert!(timeout(Duration::from_millis(300), hang).await.is_err());
}

#[tokio::test]
async fn gzip_bomb_inflates_to_64_mib() {
    let target = upwatch_testbed::HttpTarget::start().await.unwrap();
    let (parts, body) = get_full(target.addr, "/gzip-bomb").await;
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-encoding"], "gzip");
    assert_eq!(parts.headers["content-type"], "text/plain");
    assert!(body.len() < 256 * 1024, "compressed size {}", body.len());
    let inflated = tokio::task::spawn_blocking(move || {
        let mut decoder = flate2::read::GzDecoder::new(&body[..]);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            let n = decoder.read(&mut buf).unwrap();
            if n == 0 {
                break total;
            }
            assert!(buf[..n].iter().all(|&b| b == 0));
            total += n;
        }
    })
    .await
    .unwrap();
    assert_eq!(inflated, http::GZIP_BOMB_INFLATED_LEN);
    assert_eq!(inflated, 64 * 1024 * 1024);
}

#[tokio::test]
async fn endless_streams_past_5_mib() {
    let target = upwatch_testbed::HttpTarget::start().await.unwrap();
    let resp = get(target.addr, "/endless").await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut total = 0usize;
    while total <= 5 * 1024 * 1024 {
        let frame = timeout(T, body.frame())
            .await
            .expect("frame in time")
            .expect("body continues")
            .expect("frame ok");
        if let Ok(data) = frame.into_data() {
            assert!(data.iter().all(|&b| b == b'x'));
            total += data.len();
        }
    }
    assert!(total > 5 * 1024 * 1024);
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tls_targets_verify_as_documented() {
    let tb = Testbed::start().await.unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);

    // The CA file holds the same PEM.
    assert_eq!(std::fs::read_to_string(&tb.certs.ca_file).unwrap(), tb.certs.ca_pem);

    // valid: verifies by IP and by name with only the test CA trusted; serves the routes.
    for name in ["127.0.0.1", "localhost"] {
        let tls = tls_connect(ca_roots(&tb.certs), tb.tls.valid.addr, name)
            .await
            .expect("valid certificate verifies");
        let resp = send_on(tls, get_req(tb.tls.valid.addr, "/health")).await;
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, http::HEALTH_BODY);
    }
    let tls = tls_connect(ca_roots(&tb.certs), tb.tls.valid.addr, "127.0.0.1")
        .await
        .unwrap();
    let resp = send_on(tls, get_req(tb.tls.valid.addr, "/redirect-absolute")).await;
    assert_eq!(resp.headers()["location"], tb.tls.valid.url("/health").as_str());
    let left = tb.tls.valid.not_after.duration_since(now).unwrap();
    assert!(left > 89 * day && left <= 90 * day, "{left:?}");

    // expiring_soon: verifies, ~3 days left.
    tls_connect(ca_roots(&tb.certs), tb.tls.expiring_soon.addr, "127.0.0.1")
        .await
        .expect("expiring_soon still verifies");
    let left = tb.tls.expiring_soon.not_after.duration_since(now).unwrap();
    assert!(left > 2 * day && left <= 3 * day, "{left:?}");

    // expired.
    let err = tls_connect(ca_roots(&tb.certs), tb.tls.expired.addr, "127.0.0.1")
        .await
        .expect_err("expired must fail");
    assert!(
        matches!(
            cert_error(&err),
            rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. }
        ),
        "{err}"
    );
    assert!(tb.tls.expired.not_after < now - day);

    // wrong_host: name mismatch for 127.0.0.1, but fine for wrong.example.
    let err = tls_connect(ca_roots(&tb.certs), tb.tls.wrong_host.addr, "127.0.0.1")
        .await
        .expect_err("wrong host must fail");
    assert!(
        matches!(
            cert_error(&err),
            rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. }
        ),
        "{err}"
    );
    tls_connect(ca_roots(&tb.certs), tb.tls.wrong_host.addr, "wrong.example")
        .await
        .expect("wrong_host is valid for wrong.example");

    // self_signed: unknown issuer for a CA-only client.
    let err = tls_connect(ca_roots(&tb.certs), tb.tls.self_signed.addr, "127.0.0.1")
        .await
        .expect_err("self-signed must fail");
    assert!(
        matches!(cert_error(&err), rustls::CertificateError::UnknownIssuer),
        "{err}"
    );

    // A failed handshake does not stop the accept loop.
    tls_connect(ca_roots(&tb.certs), tb.tls.wrong_host.addr, "wrong.example")
        .await
        .expect("server still accepting after failed handshakes");
    tls_connect(ca_roots(&tb.certs), tb.tls.expired.addr, "127.0.0.1")
        .await
        .expect_err("still serving the expired cert");
}

#[tokio::test]
async fn https_negotiates_h2_via_alpn() {
    let certs = TestCerts::new();
    let now = SystemTime::now();
    let (cert, key) = certs.leaf(
        &["localhost"],
        now - Duration::from_secs(60),
        now + Duration::from_secs(3600),
    );
    let target = upwatch_testbed::serve_https(None, &cert, &key).await.unwrap();
    assert_eq!(target.url("/x"), format!("https://{}/x", target.addr));
    assert_eq!(target.cert_pem, cert);

    let mut cfg = (*client_config(ca_roots(&certs))).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(target.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(Request::get(target.url("/text")).body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello upwatch");

    // A custom router can be served too.
    let custom = axum::Router::new().route("/hi", axum::routing::get(|| async { "hi" }));
    let target = upwatch_testbed::serve_https(Some(custom), &cert, &key).await.unwrap();
    let tls = tls_connect(ca_roots(&certs), target.addr, "localhost").await.unwrap();
    let resp = send_on(tls, get_req(target.addr, "/hi")).await;
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hi");
}

#[test]
fn leaf_certificate_names() {
    let certs = TestCerts::new();
    let now = SystemTime::now();
    let (cert, key) = certs.leaf(&["127.0.0.1", "localhost"], now, now + Duration::from_secs(3600));
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.contains("PRIVATE KEY"));
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn =
        |name: &x509_parser::x509::X509Name<'_>| name.iter_common_name().next().unwrap().as_str().unwrap().to_owned();
    assert_eq!(cn(parsed.subject()), "127.0.0.1");
    assert_eq!(cn(parsed.issuer()), "upwatch test CA");

    let (cert, _) = TestCerts::self_signed(&["localhost"], now, now + Duration::from_secs(60));
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(cn(parsed.subject()), "localhost");
    assert_eq!(cn(parsed.issuer()), "localhost");
}

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

fn query_bytes(name: &str, rtype: RecordType) -> (u16, Vec<u8>) {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_str(name).unwrap(), rtype));
    (msg.metadata.id, msg.to_vec().unwrap())
}

async fn query_udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let (id, bytes) = query_bytes(name, rtype);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&bytes, server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, from) = timeout(T, sock.recv_from(&mut buf))
        .await
        .expect("udp answer in time")
        .unwrap();
    assert_eq!(from, server);
    let resp = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(resp.metadata.id, id);
    resp
}

async fn query_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let (id, bytes) = query_bytes(name, rtype);
    let mut stream = TcpStream::connect(server).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.unwrap();
    let resp = timeout(T, async {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0u8; len as usize];
        stream.read_exact(&mut buf).await.unwrap();
        buf
    })
    .await
    .expect("tcp answer in time");
    let resp = Message::from_vec(&resp).unwrap();
    assert_eq!(resp.metadata.id, id);
    resp
}

/// Answers of `rtype` as zone-file style strings, sorted.
fn answers(msg: &Message, rtype: RecordType) -> Vec<String> {
    let mut out: Vec<String> = msg
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| {
            assert_eq!(r.ttl, dns::TTL);
            r.data.to_string()
        })
        .collect();
    out.sort();
    out
}

async fn check_zone(server: SocketAddr, tcp: bool) {
    let q = |name: &'static str, rtype| async move {
        let msg = if tcp {
            query_tcp(server, name, rtype).await
        } else {
            query_udp(server, name, rtype).await
        };
        assert!(msg.metadata.authoritative, "{name} {rtype}");
        msg
    };

    let msg = q("www.upwatch.test.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&msg, RecordType::A), ["192.0.2.10", "192.0.2.11"]);
    let msg = q("www.upwatch.test.", RecordType::AAAA).await;
    assert_eq!(answers(&msg, RecordType::AAAA), ["2001:db8::10"]);

    let msg = q("upwatch.test.", RecordType::MX).await;
    let mx: Vec<(u16, String)> = msg
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::MX(mx) => (mx.preference, mx.exchange.to_string()),
            other => panic!("unexpected {other:?}"),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        mx,
        [
            (10, "mail.upwatch.test.".to_owned()),
            (20, "backup.upwatch.test.".to_owned())
        ]
    );

    let msg = q("upwatch.test.", RecordType::TXT).await;
    let mut txt: Vec<String> = msg
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::TXT(t) => t
                .txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<String>(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    txt.sort();
    assert_eq!(txt, ["hello=world", "v=spf1 -all"]);

    let msg = q("upwatch.test.", RecordType::CAA).await;
    assert_eq!(msg.answers.len(), 1);
    match &msg.answers[0].data {
        RData::CAA(caa) => {
            assert!(!caa.issuer_critical);
            assert_eq!(caa.tag, "issue");
            assert_eq!(caa.value, b"letsencrypt.org");
        }
        other => panic!("unexpected {other:?}"),
    }

    let msg = q("upwatch.test.", RecordType::NS).await;
    assert_eq!(
        answers(&msg, RecordType::NS),
        ["ns1.upwatch.test.", "ns2.upwatch.test."]
    );

    let msg = q("upwatch.test.", RecordType::SOA).await;
    match &msg.answers[0].data {
        RData::SOA(soa) => {
            assert_eq!(soa.serial, dns::SERIAL);
            assert_eq!(soa.mname.to_string(), "ns1.upwatch.test.");
            assert_eq!(soa.rname.to_string(), "hostmaster.upwatch.test.");
            assert_eq!(
                (soa.refresh, soa.retry, soa.expire, soa.minimum),
                (3600, 600, 86400, 300)
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    let msg = q("alias.upwatch.test.", RecordType::A).await;
    assert_eq!(answers(&msg, RecordType::CNAME), ["www.upwatch.test."]);

    let msg = q("ns1.upwatch.test.", RecordType::A).await;
    assert_eq!(answers(&msg, RecordType::A), ["127.0.0.1"]);
    let msg = q("mail.upwatch.test.", RecordType::A).await;
    assert_eq!(answers(&msg, RecordType::A), ["192.0.2.25"]);

    let msg = q("missing.upwatch.test.", RecordType::A).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert!(msg.answers.is_empty());
}

#[tokio::test]
async fn dns_over_udp_and_tcp() {
    let target = upwatch_testbed::DnsTarget::start().await.unwrap();
    assert_eq!(dns::ZONE, "upwatch.test.");
    check_zone(target.addr, false).await;
    check_zone(target.addr, true).await;
}

#[tokio::test]
async fn dns_blackhole_never_answers() {
    let target = upwatch_testbed::DnsTarget::start().await.unwrap();
    let (_, bytes) = query_bytes("www.upwatch.test.", RecordType::A);

    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&bytes, target.blackhole).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(timeout(Duration::from_millis(300), sock.recv_from(&mut buf))
        .await
        .is_err());

    let mut stream = TcpStream::connect(target.blackhole).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.unwrap();
    assert!(timeout(Duration::from_millis(300), stream.read(&mut buf))
        .await
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tcp_targets() {
    let targets = upwatch_testbed::TcpTargets::start().await.unwrap();

    // banner, then PING -> PONG
    let stream = TcpStream::connect(targets.banner).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    timeout(T, reader.read_line(&mut line)).await.unwrap().unwrap();
    assert_eq!(line, "SSH-2.0-upwatch_testbed\r\n");
    assert_eq!(line, tcp::BANNER);
    reader.get_mut().write_all(b"hello\r\nPING\r\n").await.unwrap();
    line.clear();
    timeout(T, reader.read_line(&mut line)).await.unwrap().unwrap();
    assert_eq!(line, "PONG\r\n");

    // echo
    let stream = TcpStream::connect(targets.echo).await.unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"PING\nhello there\r\nPING\r\n")
        .await
        .unwrap();
    for expected in ["PONG\r\n", "hello there\r\n", "PONG\r\n"] {
        line.clear();
        timeout(T, reader.read_line(&mut line)).await.unwrap().unwrap();
        assert_eq!(line, expected);
    }

    // silent: accepts, sends nothing
    let mut stream = TcpStream::connect(targets.silent).await.unwrap();
    stream.write_all(b"PING\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    assert!(timeout(Duration::from_millis(300), stream.read(&mut buf))
        .await
        .is_err());

    // closed: refused
    let err = TcpStream::connect(targets.closed).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dropping_the_testbed_stops_servers() {
    let tb = Testbed::start().await.unwrap();
    let http = tb.http.addr;
    let https = tb.tls.valid.addr;
    let banner = tb.tcp.banner;
    let dns_addr = tb.dns.addr;
    // A connection that is open when the testbed goes away is closed too.
    let mut open = TcpStream::connect(banner).await.unwrap();
    let mut line = [0u8; 64];
    let _ = open.read(&mut line).await.unwrap();
    assert_eq!(get_full(http, "/text").await.1, "hello upwatch");

    drop(tb);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for addr in [http, https, banner, dns_addr] {
        let err = TcpStream::connect(addr).await.expect_err("listener closed");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{addr}");
    }
    let n = timeout(T, open.read(&mut line)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "open connection closed");
}
