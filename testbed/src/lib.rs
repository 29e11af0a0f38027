//! Real network targets on loopback for upwatch's integration tests, examples, benchmarks and
//! the `upwatch demo` command.
//!
//! Everything here is a *real* server: real TCP/UDP sockets bound to `127.0.0.1` on ports chosen
//! by the operating system, real TLS (rustls with the `ring` provider) with certificates issued
//! by a throw-away test CA, and a real DNS server speaking the wire protocol (hickory-server).
//! Nothing is mocked.
//!
//! The usual entry point is [`Testbed::start`], which starts every target at once:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let tb = upwatch_testbed::Testbed::start().await?;
//! println!("plain HTTP:  {}", tb.http.url("/health"));
//! println!("valid HTTPS: {}", tb.tls.valid.url("/health"));
//! println!("DNS server:  {} (zone {})", tb.dns.addr, upwatch_testbed::dns::ZONE);
//! println!("SSH banner:  {}", tb.tcp.banner);
//! # Ok(()) }
//! ```
//!
//! Servers run as tasks on the tokio runtime that started them. Every target owns its tasks and
//! aborts them when it is dropped, so dropping the [`Testbed`] (or an individual target) stops
//! the corresponding servers, including connections that are still open.

#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

pub mod certs;
pub mod dns;
pub mod http;
pub mod tcp;

pub use certs::TestCerts;
pub use dns::DnsTarget;
pub use http::{router, serve_http, serve_https, HttpTarget, HttpsTarget, TlsTargets};
pub use tcp::TcpTargets;

/// Every testbed target, started together on `127.0.0.1`.
///
/// Dropping the `Testbed` stops all of its servers (each target aborts its tasks when dropped).
/// The struct deliberately has no `Drop` impl of its own so that its fields can be moved out
/// individually; a moved-out target keeps running until it is dropped itself.
#[derive(Debug)]
pub struct Testbed {
    /// Plain HTTP/1.1 + HTTP/2 (h2c) server with the standard test routes (see [`http`]).
    pub http: HttpTarget,
    /// HTTPS servers with the standard test routes, one per certificate variant.
    pub tls: TlsTargets,
    /// Authoritative DNS server for [`dns::ZONE`], plus a black-hole address.
    pub dns: DnsTarget,
    /// Raw TCP targets: banner, echo, silent and closed ports.
    pub tcp: TcpTargets,
    /// The test CA (PEM and file on disk) that signed the HTTPS certificates.
    pub certs: TestCerts,
}

impl Testbed {
    /// Starts every target on 127.0.0.1 (ports chosen by the OS).
    ///
    /// Servers run as tokio tasks on the current runtime and stop when the `Testbed` is dropped.
    /// Must be called from within a tokio runtime.
    pub async fn start() -> io::Result<Testbed> {
        let certs = TestCerts::new();
        let http = HttpTarget::start().await?;
        let tls = TlsTargets::start(&certs).await?;
        let dns = DnsTarget::start().await?;
        let tcp = TcpTargets::start().await?;
        Ok(Testbed {
            http,
            tls,
            dns,
            tcp,
            certs,
        })
    }
}

/// Tasks owned by one target; aborted when the owner is dropped.
#[derive(Debug, Default)]
pub(crate) struct Tasks(Vec<AbortHandle>);

impl Tasks {
    /// Spawns `fut` on the current runtime and keeps its abort handle.
    pub(crate) fn spawn<F>(&mut self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.push(tokio::spawn(fut).abort_handle());
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

/// The loopback address with port 0 (let the OS choose).
pub(crate) fn loopback_any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Binds a TCP listener on `127.0.0.1:0`.
pub(crate) async fn bind_tcp() -> io::Result<TcpListener> {
    TcpListener::bind(loopback_any_port()).await
}

/// Binds a UDP socket and a TCP listener on the same free loopback port.
pub(crate) async fn bind_udp_and_tcp() -> io::Result<(tokio::net::UdpSocket, TcpListener)> {
    let mut last_err = None;
    for _ in 0..50 {
        let udp = tokio::net::UdpSocket::bind(loopback_any_port()).await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free port for UDP and TCP")))
}

/// Accepts connections forever, running `handle` for each one as its own task.
///
/// Connection tasks live in a [`JoinSet`] owned by this future, so aborting the accept loop also
/// aborts every open connection. Finished connection tasks are reaped after each accept.
/// Accept errors (e.g. a connection reset before it was accepted, or running out of file
/// descriptors) never end the loop.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                conns.spawn(handle(stream, peer));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        while conns.try_join_next().is_some() {}
    }
}
