//! An authoritative DNS server for the test zone [`ZONE`], plus a black hole.
//!
//! The server is hickory-server with an in-memory zone, answering over both UDP and TCP on the
//! same loopback port. Every record has TTL [`TTL`]:
//!
//! ```text
//! upwatch.test.        SOA   ns1.upwatch.test. hostmaster.upwatch.test. 2026112201 3600 600 86400 300
//! upwatch.test.        NS    ns1.upwatch.test.
//! upwatch.test.        NS    ns2.upwatch.test.
//! upwatch.test.        MX    10 mail.upwatch.test.
//! upwatch.test.        MX    20 backup.upwatch.test.
//! upwatch.test.        TXT   "v=spf1 -all"
//! upwatch.test.        TXT   "hello=world"
//! upwatch.test.        CAA   0 issue "letsencrypt.org"
//! www.upwatch.test.    A     192.0.2.10
//! www.upwatch.test.    A     192.0.2.11
//! www.upwatch.test.    AAAA  2001:db8::10
//! alias.upwatch.test.  CNAME www.upwatch.test.
//! ns1.upwatch.test.    A     127.0.0.1
//! mail.upwatch.test.   A     192.0.2.25
//! ```
//!
//! Any other name inside the zone (e.g. `missing.upwatch.test.`) is NXDOMAIN. Names outside
//! the zone are refused (the server is authoritative only, it does not recurse).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use tokio::io::AsyncReadExt;

use crate::Tasks;

/// The zone served by [`DnsTarget`] (fully qualified).
pub const ZONE: &str = "upwatch.test.";

/// TTL of every record in the zone, in seconds.
pub const TTL: u32 = 60;

/// SOA serial of the zone.
pub const SERIAL: u32 = 2026112201;

/// How long an idle TCP connection to the DNS server is kept open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the black hole keeps an accepted TCP connection open.
const BLACKHOLE_HOLD: Duration = Duration::from_secs(60);

/// A DNS server for [`ZONE`] and a black-hole address, both on `127.0.0.1`.
///
/// Stops when dropped.
#[derive(Debug)]
pub struct DnsTarget {
    /// Serves the zone over both UDP and TCP on this address.
    pub addr: SocketAddr,
    /// Receives UDP datagrams and accepts TCP connections on this address (same port for both)
    /// but never answers; use it to exercise query timeouts.
    pub blackhole: SocketAddr,
    _tasks: Tasks,
}

impl DnsTarget {
    /// Starts the DNS server and the black hole on free loopback ports.
    pub async fn start() -> io::Result<DnsTarget> {
        let mut tasks = Tasks::default();

        let (udp, tcp) = crate::bind_udp_and_tcp().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog()?);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, 32);
        // Aborting this task drops the server, whose JoinSet aborts its socket tasks.
        tasks.spawn(async move {
            let _ = server.block_until_done().await;
        });

        let (udp, tcp) = crate::bind_udp_and_tcp().await?;
        let blackhole = udp.local_addr()?;
        tasks.spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                // Swallow every datagram; errors (e.g. ICMP unreachable) are irrelevant.
                let _ = udp.recv_from(&mut buf).await;
            }
        });
        tasks.spawn(crate::accept_loop(tcp, |mut stream, _peer| async move {
            let mut buf = vec![0u8; 4096];
            let _ = tokio::time::timeout(BLACKHOLE_HOLD, async {
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }));

        Ok(DnsTarget {
            addr,
            blackhole,
            _tasks: tasks,
        })
    }
}

fn name(s: &str) -> io::Result<Name> {
    Name::from_str(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Builds the zone's records.
fn records() -> io::Result<Vec<Record>> {
    let apex = name(ZONE)?;
    let www = name("www.upwatch.test.")?;
    let rec = |n: &Name, data: RData| Record::from_rdata(n.clone(), TTL, data);
    Ok(vec![
        rec(
            &apex,
            RData::SOA(SOA::new(
                name("ns1.upwatch.test.")?,
                name("hostmaster.upwatch.test.")?,
                SERIAL,
                3600,
                600,
                86400,
                300,
            )),
        ),
        rec(&apex, RData::NS(NS(name("ns1.upwatch.test.")?))),
        rec(&apex, RData::NS(NS(name("ns2.upwatch.test.")?))),
        rec(&apex, RData::MX(MX::new(10, name("mail.upwatch.test.")?))),
        rec(&apex, RData::MX(MX::new(20, name("backup.upwatch.test.")?))),
        rec(&apex, RData::TXT(TXT::new(vec!["v=spf1 -all".to_owned()]))),
        rec(&apex, RData::TXT(TXT::new(vec!["hello=world".to_owned()]))),
        rec(
            &apex,
            RData::CAA(CAA::new_issue(false, Some(name("letsencrypt.org")?), Vec::new())),
        ),
        rec(&www, RData::A(A(Ipv4Addr::new(192, 0, 2, 10)))),
        rec(&www, RData::A(A(Ipv4Addr::new(192, 0, 2, 11)))),
        rec(
            &www,
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10))),
        ),
        rec(&name("alias.upwatch.test.")?, RData::CNAME(CNAME(www.clone()))),
        rec(&name("ns1.upwatch.test.")?, RData::A(A(Ipv4Addr::LOCALHOST))),
        rec(&name("mail.upwatch.test.")?, RData::A(A(Ipv4Addr::new(192, 0, 2, 25)))),
    ])
}

fn catalog() -> io::Result<Catalog> {
    let origin = name(ZONE)?;
    // `empty` + upserts: the SOA goes in first, like a zone file would have it.
    let mut handler: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    for record in records()? {
        let what = format!("{} {}", record.name, record.record_type());
        if !handler.upsert_mut(record, SERIAL) {
            return Err(io::Error::other(format!("could not add {what} to the test zone")));
        }
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
    Ok(catalog)
}
