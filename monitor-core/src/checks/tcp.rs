//! The `tcp` check: connect, optionally send bytes, optionally expect a banner
//! (a regex over what the server sends first, read up to a bound).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::http::Pattern;
use super::net::{self, IpVersion};
use super::Run;
use crate::result::{AssertionFailure, CheckError};
use crate::spec::reader::{Obj, Problems};
use crate::spec::{Common, UpperBound};

/// At most this much of what a server sends is read while looking for the banner.
pub const MAX_BANNER: usize = 4096;

/// A `tcp` check.
///
/// ```toml
/// [[checks]]
/// name = "smtp"
/// kind = "tcp"
/// host = "mail.example.com"
/// port = 25
/// send = "EHLO upwatch\r\n"       # optional
/// [checks.expect]
/// banner = '^220 '
/// ```
#[derive(Clone, Debug)]
pub struct TcpCheck {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Address family preference.
    pub ip_version: IpVersion,
    /// Bytes written after connecting.
    pub send: Option<String>,
    /// A pattern what the server sends must match.
    pub banner: Option<Pattern>,
    /// Bound on connect time.
    pub connect_time: UpperBound,
}

impl TcpCheck {
    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<TcpCheck> {
        let host = o.required_string("host", p);
        if !o.has("port") {
            o.raw("port");
            p.push(o.at("port"), "is required");
        }
        let port = o.int("port", 1, 65535, p).map(|n| n as u16);
        let ip_version = IpVersion::read(o, p);
        let send = o.string("send", p);
        let mut banner = None;
        let mut connect_time = UpperBound::default();
        if let Some(mut e) = o.object("expect", p) {
            let path = e.at("banner");
            banner = e
                .string("banner", p)
                .and_then(|s| Pattern::compile(&s).map_err(|err| p.push(path, err)).ok());
            connect_time = UpperBound::parse(&mut e, "connect_time", p).unwrap_or_default();
            e.finish(p);
        }
        Some(TcpCheck {
            host: host?,
            port: port?,
            ip_version,
            send,
            banner,
            connect_time,
        })
    }

    pub(crate) async fn probe(&self, run: &mut Run) -> Result<(), CheckError> {
        let addrs = net::resolve(run, &self.host, self.port, self.ip_version).await?;
        let t = Instant::now();
        let mut stream = net::connect(run, &addrs).await?;
        self.connect_time
            .evaluate("connect_time", t.elapsed(), &mut run.verdict);
        let peer = format!("{}:{}", self.host, self.port);
        if let Some(bytes) = &self.send {
            run.within("sending", stream.write_all(bytes.as_bytes()))
                .await?
                .map_err(|e| net::io_error(&e, &peer))?;
        }
        let Some(pattern) = &self.banner else { return Ok(()) };
        let t = Instant::now();
        let mut seen = Vec::with_capacity(256);
        let mut buf = [0u8; 1024];
        let outcome = loop {
            match tokio::time::timeout_at(run.deadline, stream.read(&mut buf)).await {
                Err(_) => break Err(()),
                Ok(Err(e)) => return Err(net::io_error(&e, &peer)),
                Ok(Ok(0)) => break Ok(()),
                Ok(Ok(n)) => {
                    seen.extend_from_slice(&buf[..n]);
                    if pattern.is_match(&seen) || seen.len() >= MAX_BANNER {
                        break Ok(());
                    }
                }
            }
        };
        run.phases.add(|p| &mut p.first_byte_ms, t.elapsed());
        seen.truncate(MAX_BANNER);
        let text = String::from_utf8_lossy(&seen).to_string();
        run.observed.banner = Some(text.clone());
        if outcome.is_err() && seen.is_empty() {
            return Err(CheckError::timeout(run.timeout, "the banner"));
        }
        if !pattern.is_match(&seen) {
            let got = if text.is_empty() {
                "nothing (connection closed)".to_string()
            } else {
                format!("{text:?}")
            };
            run.verdict
                .failures
                .push(AssertionFailure::new("banner", format!("/{}/", pattern.source), got));
        }
        Ok(())
    }
}
