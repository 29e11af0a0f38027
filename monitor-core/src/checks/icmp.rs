//! The `icmp` check: echo requests (ping) with a count, packet-loss and rtt bounds.
//!
//! Uses unprivileged ICMP datagram sockets where the kernel allows them
//! (`net.ipv4.ping_group_range`), raw sockets when running as root or with
//! `CAP_NET_RAW`, and otherwise fails with kind `permission` and a message saying
//! which setting to change.

use serde_json::Value;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use surge_ping::{Client, Config, PingIdentifier, PingSequence, SurgeError, ICMP};
use tokio::time::Instant;

use super::net::{self, IpVersion};
use super::Run;
use crate::result::{ms, AssertionFailure, CheckError, ErrorKind};
use crate::spec::reader::{type_name, Obj, Problems};
use crate::spec::{Common, UpperBound};

/// An `icmp` check.
///
/// ```toml
/// [[checks]]
/// name = "gateway"
/// kind = "icmp"
/// host = "10.0.0.1"
/// count = 5                   # echo requests per run (default 3)
/// ping_interval = "200ms"     # spacing between them
/// [checks.expect]
/// max_packet_loss = "20%"     # default: down only when every request is lost
/// rtt = { max = "100ms", warn = "20ms" }   # on the mean round trip
/// ```
#[derive(Clone, Debug)]
pub struct IcmpCheck {
    /// Host name or IP.
    pub host: String,
    /// Echo requests per run.
    pub count: u16,
    /// Spacing between requests.
    pub ping_interval: Duration,
    /// Payload bytes per request.
    pub payload_size: usize,
    /// Address family preference.
    pub ip_version: IpVersion,
    /// Highest tolerated loss, in percent; `None`: only a total loss fails.
    pub max_packet_loss: Option<f64>,
    /// Bound on the mean round-trip time.
    pub rtt: UpperBound,
}

impl IcmpCheck {
    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<IcmpCheck> {
        let host = o.required_string("host", p);
        let count = o.int("count", 1, 100, p).unwrap_or(3) as u16;
        let ping_interval = o.duration("ping_interval", p).unwrap_or(Duration::from_millis(200));
        let payload_size = o.int("payload_size", 0, 1400, p).unwrap_or(56) as usize;
        let ip_version = IpVersion::read(o, p);
        let mut max_packet_loss = None;
        let mut rtt = UpperBound::default();
        if let Some(mut e) = o.object("expect", p) {
            let path = e.at("max_packet_loss");
            max_packet_loss = match e.raw("max_packet_loss") {
                None => None,
                Some(v) => match percent(v) {
                    Some(x) if (0.0..=100.0).contains(&x) => Some(x),
                    _ => {
                        p.push(
                            path,
                            format!("expected a percentage like \"20%\" from 0 to 100, got {}", shown(v)),
                        );
                        None
                    }
                },
            };
            rtt = UpperBound::parse(&mut e, "rtt", p).unwrap_or_default();
            e.finish(p);
        }
        Some(IcmpCheck {
            host: host?,
            count,
            ping_interval,
            payload_size,
            ip_version,
            max_packet_loss,
            rtt,
        })
    }

    pub(crate) async fn probe(&self, pingers: &Pingers, run: &mut Run) -> Result<(), CheckError> {
        let addrs = net::resolve(run, &self.host, 0, self.ip_version).await?;
        let ip = addrs[0].ip();
        run.observed.remote_addr = Some(ip.to_string());
        let client = pingers.client(ip)?;
        let mut pinger = client.pinger(ip, PingIdentifier(next_ident())).await;
        let payload = vec![0x55u8; self.payload_size];
        let mut rtts = Vec::with_capacity(self.count as usize);
        let mut sent = 0u16;
        for seq in 0..self.count {
            let left = run.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pinger.timeout(left.min(Duration::from_secs(2)));
            sent += 1;
            match pinger.ping(PingSequence(seq), &payload).await {
                Ok((_, rtt)) => rtts.push(rtt),
                Err(SurgeError::Timeout { .. }) => {}
                Err(SurgeError::IOError(e)) => return Err(net::io_error(&e, &ip.to_string())),
                Err(e) => return Err(CheckError::new(ErrorKind::Connection, format!("ping {ip}: {e}"))),
            }
            if seq + 1 < self.count {
                let pause = self
                    .ping_interval
                    .min(run.deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
        let received = rtts.len() as u32;
        let loss = if sent == 0 {
            100.0
        } else {
            100.0 * f64::from(u32::from(sent) - received) / f64::from(sent)
        };
        let o = &mut run.observed;
        o.packets_sent = Some(u32::from(sent));
        o.packets_received = Some(received);
        o.packet_loss_pct = Some((loss * 10.0).round() / 10.0);
        if rtts.is_empty() {
            return Err(CheckError::new(
                ErrorKind::Timeout,
                format!("no reply from {ip} to {sent} echo requests"),
            ));
        }
        let avg = rtts.iter().sum::<Duration>() / received;
        o.rtt_min_ms = rtts.iter().min().map(|d| ms(*d));
        o.rtt_avg_ms = Some(ms(avg));
        o.rtt_max_ms = rtts.iter().max().map(|d| ms(*d));
        if let Some(max) = self.max_packet_loss {
            if loss > max {
                run.verdict.failures.push(AssertionFailure::new(
                    "max_packet_loss",
                    format!("<= {max}%"),
                    format!("{loss:.1}%"),
                ));
            }
        }
        self.rtt.evaluate("rtt", avg, &mut run.verdict);
        Ok(())
    }
}

fn percent(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

fn next_ident() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    (std::process::id() as u16).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One ICMP socket per address family, opened on first use and shared by every run.
#[derive(Default)]
pub(crate) struct Pingers {
    v4: OnceLock<Result<Client, String>>,
    v6: OnceLock<Result<Client, String>>,
}

impl Pingers {
    fn client(&self, ip: IpAddr) -> Result<Client, CheckError> {
        let (cell, kind, sysctl) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4, "net.ipv4.ping_group_range"),
            IpAddr::V6(_) => (&self.v6, ICMP::V6, "net.ipv4.ping_group_range (it also governs ICMPv6)"),
        };
        let opened = cell.get_or_init(|| {
            Client::new(&Config::builder().kind(kind).build()).map_err(|e| {
                format!(
                    "cannot open an ICMP socket ({e}); allow unprivileged ping with `sysctl -w {sysctl}=\"0 2147483647\"`, \
                     or give the process CAP_NET_RAW (`setcap cap_net_raw+ep <binary>`)"
                )
            })
        });
        opened
            .clone()
            .map_err(|msg| CheckError::new(ErrorKind::Permission, msg))
    }
}
