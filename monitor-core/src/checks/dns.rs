//! The `dns` check: query a record through hickory-resolver, against a chosen
//! nameserver (UDP or TCP) or the system's, and assert on the response code and the
//! answers. One resolver per nameserver is built once and reused; its cache is off,
//! so every run asks the server.

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use super::net::ip_literal;
use super::Run;
use crate::result::{AssertionFailure, CheckError, ErrorKind};
use crate::spec::reader::{Obj, Problems};
use crate::spec::{Common, UpperBound};

/// Record types a `dns` check can ask for.
pub const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "CAA"];

/// A `dns` check.
///
/// ```toml
/// [[checks]]
/// name = "mx-records"
/// kind = "dns"
/// query = "example.com"
/// record_type = "MX"
/// nameserver = "1.1.1.1:53"      # default: the system's resolvers
/// protocol = "udp"                # or "tcp"
/// [checks.expect]
/// rcode = "NOERROR"
/// contains = ["10 mail.example.com"]
/// ```
#[derive(Clone, Debug)]
pub struct DnsCheck {
    /// The name asked about (treated as fully qualified).
    pub query: String,
    /// The record type asked for.
    pub record_type: RecordType,
    /// The server to ask; `None` uses the system configuration.
    pub nameserver: Option<SocketAddr>,
    /// Transport to the nameserver.
    pub protocol: DnsProtocol,
    /// Assertions.
    pub expect: DnsExpect,
}

/// How to reach the nameserver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsProtocol {
    /// UDP (falls back to TCP on truncation).
    Udp,
    /// TCP only.
    Tcp,
}

/// Assertions of a `dns` check.
#[derive(Clone, Debug)]
pub struct DnsExpect {
    /// Expected response code (`NOERROR` unless set).
    pub rcode: String,
    /// Values that must be among the answers.
    pub contains: Vec<String>,
    /// When set, the answers must be exactly this set.
    pub equals: Option<Vec<String>>,
    /// Bound on the query's duration.
    pub response_time: UpperBound,
}

const RCODES: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
    "NOTZONE",
];

fn rcode_name(code: ResponseCode) -> String {
    let n = u16::from(code) as usize;
    RCODES.get(n).map_or_else(|| format!("RCODE{n}"), |s| s.to_string())
}

impl DnsCheck {
    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<DnsCheck> {
        let query = o.required_string("query", p);
        let rt_path = o.at("record_type");
        let record_type = match o.string("record_type", p).map(|s| s.to_ascii_uppercase()) {
            None => Some(RecordType::A),
            Some(s) if RECORD_TYPES.contains(&s.as_str()) => s.parse::<RecordType>().ok(),
            Some(s) => {
                p.push(
                    rt_path,
                    format!(
                        "{s:?} is not a supported record type (one of: {})",
                        RECORD_TYPES.join(", ")
                    ),
                );
                None
            }
        };
        let ns_path = o.at("nameserver");
        let nameserver = o
            .string("nameserver", p)
            .and_then(|s| parse_nameserver(&s).map_err(|e| p.push(ns_path, e)).ok());
        let proto_path = o.at("protocol");
        let protocol = match o.string("protocol", p).as_deref() {
            None | Some("udp") => DnsProtocol::Udp,
            Some("tcp") => DnsProtocol::Tcp,
            Some(other) => {
                p.push(proto_path, format!("{other:?} is not udp or tcp"));
                DnsProtocol::Udp
            }
        };
        let mut expect = DnsExpect {
            rcode: "NOERROR".into(),
            contains: Vec::new(),
            equals: None,
            response_time: UpperBound::default(),
        };
        if let Some(mut e) = o.object("expect", p) {
            let rcode_path = e.at("rcode");
            if let Some(rc) = e.string("rcode", p).map(|s| s.to_ascii_uppercase()) {
                if RCODES.contains(&rc.as_str()) {
                    expect.rcode = rc;
                } else {
                    p.push(
                        rcode_path,
                        format!("{rc:?} is not a DNS response code (one of: {})", RCODES.join(", ")),
                    );
                }
            }
            expect.contains = e.strings("contains", p).unwrap_or_default();
            expect.equals = e.strings("equals", p);
            expect.response_time = UpperBound::parse(&mut e, "response_time", p).unwrap_or_default();
            e.finish(p);
        }
        Some(DnsCheck {
            query: query?,
            record_type: record_type?,
            nameserver,
            protocol,
            expect,
        })
    }

    pub(crate) async fn probe(&self, resolvers: &Resolvers, run: &mut Run) -> Result<(), CheckError> {
        let resolver = resolvers.get(self.nameserver, self.protocol)?;
        let fqdn = if self.query.ends_with('.') {
            self.query.clone()
        } else {
            format!("{}.", self.query)
        };
        let t = Instant::now();
        let outcome = run
            .within("the DNS answer", resolver.lookup(fqdn.as_str(), self.record_type))
            .await;
        let took = t.elapsed();
        run.phases.add(|p| &mut p.dns_ms, took);
        let (rcode, answers) = match outcome? {
            Ok(lookup) => {
                let answers: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == self.record_type)
                    .map(|r| present(&r.data))
                    .collect();
                ("NOERROR".to_string(), answers)
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) => (rcode_name(none.response_code), Vec::new()),
            Err(NetError::Dns(DnsError::ResponseCode(code))) => (rcode_name(code), Vec::new()),
            Err(NetError::Timeout) => return Err(CheckError::timeout(run.timeout, "the DNS answer")),
            Err(NetError::Io(e)) => return Err(super::net::io_error(&e, &self.server_label())),
            Err(e) => {
                return Err(CheckError::new(
                    ErrorKind::Dns,
                    format!("query for {fqdn} {} failed: {e}", self.record_type),
                ))
            }
        };
        run.observed.rcode = Some(rcode.clone());
        run.observed.answers = answers.clone();
        let v = &mut run.verdict;
        if rcode != self.expect.rcode {
            v.failures
                .push(AssertionFailure::new("rcode", self.expect.rcode.clone(), rcode.clone()));
        }
        let got: BTreeSet<String> = answers.iter().map(|a| normalize(a, self.record_type)).collect();
        let shown = || {
            if answers.is_empty() {
                "no records".to_string()
            } else {
                answers.join(", ")
            }
        };
        if self.expect.rcode == "NOERROR" && rcode == "NOERROR" && answers.is_empty() && self.expect.equals.is_none() {
            v.failures.push(AssertionFailure::new(
                "answers",
                format!("at least one {} record", self.record_type),
                "no records",
            ));
        }
        for want in &self.expect.contains {
            if !got.contains(&normalize(want, self.record_type)) {
                v.failures
                    .push(AssertionFailure::new("contains", want.clone(), shown()));
            }
        }
        if let Some(equals) = &self.expect.equals {
            let want: BTreeSet<String> = equals.iter().map(|a| normalize(a, self.record_type)).collect();
            if want != got {
                v.failures
                    .push(AssertionFailure::new("equals", equals.join(", "), shown()));
            }
        }
        self.expect.response_time.evaluate("response_time", took, v);
        Ok(())
    }

    fn server_label(&self) -> String {
        self.nameserver
            .map_or_else(|| "the system resolver".to_string(), |a| a.to_string())
    }
}

/// A record's data in presentation form, TXT strings joined without quotes.
fn present(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b))
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

/// Answers compare without the trailing dot and, except TXT, without case.
fn normalize(value: &str, rt: RecordType) -> String {
    let v = value.trim();
    if rt == RecordType::TXT {
        return v.trim_matches('"').to_string();
    }
    v.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    ip_literal(s).map(|ip| SocketAddr::new(ip, 53)).ok_or_else(|| {
        format!("{s:?} is not an IP address with an optional port (like \"9.9.9.9\" or \"127.0.0.1:5353\")")
    })
}

/// One resolver per (nameserver, protocol), built on first use and reused.
#[derive(Default)]
pub(crate) struct Resolvers {
    built: Mutex<HashMap<(Option<SocketAddr>, DnsProtocol), TokioResolver>>,
}

impl Resolvers {
    fn get(&self, server: Option<SocketAddr>, protocol: DnsProtocol) -> Result<TokioResolver, CheckError> {
        let key = (server, protocol);
        if let Some(r) = self.built.lock().expect("resolver cache poisoned").get(&key) {
            return Ok(r.clone());
        }
        let mut opts = ResolverOpts::default();
        // A monitor asks every time: no cache, no hosts file, names as written.
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.attempts = 2;
        opts.timeout = Duration::from_secs(5);
        let built = match server {
            Some(addr) => {
                let mut ns = match protocol {
                    DnsProtocol::Udp => NameServerConfig::udp(addr.ip()),
                    DnsProtocol::Tcp => NameServerConfig::tcp(addr.ip()),
                };
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
                .with_options(opts)
                .build()
            }
            None => TokioResolver::builder_tokio().and_then(|b| {
                let mut b = b;
                let system = b.options_mut();
                system.cache_size = 0;
                system.use_hosts_file = ResolveHosts::Never;
                b.build()
            }),
        }
        .map_err(|e| CheckError::new(ErrorKind::Dns, format!("could not set up the resolver: {e}")))?;
        self.built
            .lock()
            .expect("resolver cache poisoned")
            .insert(key, built.clone());
        Ok(built)
    }
}
