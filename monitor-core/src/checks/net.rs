//! Connection set-up shared by the HTTP, TLS and TCP checks: name resolution with an
//! address-family preference, and TCP connect across the resolved addresses, each
//! phase timed and bounded by the run's deadline.

use serde_json::Value;
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Run;
use crate::result::{CheckError, ErrorKind};
use crate::spec::reader::{Obj, Problems};

/// Which address family to use when a host name has both.
///
/// ```
/// use monitor_core::checks::IpVersion;
/// assert_eq!(IpVersion::parse("prefer_ipv6"), Some(IpVersion::PreferIpv6));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpVersion {
    /// Whatever the resolver returns, in its order.
    #[default]
    Any,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// IPv4 addresses first, IPv6 as fallback.
    PreferIpv4,
    /// IPv6 addresses first, IPv4 as fallback.
    PreferIpv6,
}

impl IpVersion {
    /// Parses the spec's spelling (`any`, `ipv4`, `ipv6`, `prefer_ipv4`, `prefer_ipv6`).
    pub fn parse(s: &str) -> Option<IpVersion> {
        Some(match s {
            "any" => IpVersion::Any,
            "ipv4" | "4" => IpVersion::Ipv4,
            "ipv6" | "6" => IpVersion::Ipv6,
            "prefer_ipv4" => IpVersion::PreferIpv4,
            "prefer_ipv6" => IpVersion::PreferIpv6,
            _ => return None,
        })
    }

    pub(crate) fn read(o: &mut Obj, p: &mut Problems) -> IpVersion {
        let path = o.at("ip_version");
        match o.raw("ip_version") {
            None => IpVersion::Any,
            Some(Value::String(s)) => IpVersion::parse(s).unwrap_or_else(|| {
                p.push(
                    path,
                    format!("{s:?} is not one of any, ipv4, ipv6, prefer_ipv4, prefer_ipv6"),
                );
                IpVersion::Any
            }),
            Some(other) => {
                p.push(path, format!("expected a string, got {other}"));
                IpVersion::Any
            }
        }
    }

    fn order(self, mut addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
        match self {
            IpVersion::Any => {}
            IpVersion::Ipv4 => addrs.retain(SocketAddr::is_ipv4),
            IpVersion::Ipv6 => addrs.retain(SocketAddr::is_ipv6),
            IpVersion::PreferIpv4 => addrs.sort_by_key(|a| a.is_ipv6()),
            IpVersion::PreferIpv6 => addrs.sort_by_key(|a| a.is_ipv4()),
        }
        addrs
    }
}

/// `host` with IPv6 brackets removed, as an IP when it is one.
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Resolves `host:port` (the system resolver, as curl does), timing the `dns` phase.
pub(crate) async fn resolve(
    run: &mut Run,
    host: &str,
    port: u16,
    ip: IpVersion,
) -> Result<Vec<SocketAddr>, CheckError> {
    if let Some(addr) = ip_literal(host) {
        let addrs = ip.order(vec![SocketAddr::new(addr, port)]);
        if addrs.is_empty() {
            return Err(CheckError::new(
                ErrorKind::Dns,
                format!("{host} does not match ip_version {ip:?}"),
            ));
        }
        return Ok(addrs);
    }
    let t = Instant::now();
    let found = run
        .within("DNS resolution", tokio::net::lookup_host((host, port)))
        .await?;
    run.phases.add(|p| &mut p.dns_ms, t.elapsed());
    let found: Vec<SocketAddr> = found
        .map_err(|e| CheckError::new(ErrorKind::Dns, format!("could not resolve {host}: {e}")))?
        .collect();
    run.observed.addresses = found.iter().map(|a| a.ip().to_string()).collect();
    let addrs = ip.order(found);
    if addrs.is_empty() {
        return Err(CheckError::new(
            ErrorKind::Dns,
            format!("{host} has no address for ip_version {ip:?}"),
        ));
    }
    Ok(addrs)
}

/// Connects to the first address that accepts, timing the `connect` phase.
pub(crate) async fn connect(run: &mut Run, addrs: &[SocketAddr]) -> Result<TcpStream, CheckError> {
    let t = Instant::now();
    let mut last = None;
    for addr in addrs {
        match run.within("TCP connect", TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                run.phases.add(|p| &mut p.connect_ms, t.elapsed());
                run.observed.remote_addr = Some(addr.to_string());
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = Some(io_error(&e, &addr.to_string())),
            Err(timeout) => {
                run.phases.add(|p| &mut p.connect_ms, t.elapsed());
                return Err(timeout);
            }
        }
    }
    run.phases.add(|p| &mut p.connect_ms, t.elapsed());
    Err(last.unwrap_or_else(|| CheckError::new(ErrorKind::Connection, "no address to connect to")))
}

/// Maps an I/O error to the check error kinds people act on.
pub(crate) fn io_error(e: &io::Error, peer: &str) -> CheckError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            CheckError::new(ErrorKind::ConnectionRefused, format!("connection refused by {peer}"))
        }
        io::ErrorKind::PermissionDenied => CheckError::new(ErrorKind::Permission, format!("{peer}: {e}")),
        io::ErrorKind::TimedOut => CheckError::new(ErrorKind::Timeout, format!("{peer}: {e}")),
        _ => CheckError::new(ErrorKind::Connection, format!("{peer}: {e}")),
    }
}
