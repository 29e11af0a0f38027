//! Raw TCP targets: a banner server, a line echo server, a silent server and a closed port.
//!
//! Lines are read up to `\n`; a trailing `\r\n` or `\n` is ignored when comparing with `PING`.
//! Lines longer than 64 KiB close the connection.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Tasks;

/// Banner sent by [`TcpTargets::banner`] on accept.
pub const BANNER: &str = "SSH-2.0-upwatch_testbed\r\n";

/// Reply to a `PING` line.
pub const PONG: &str = "PONG\r\n";

/// The banner server closes a connection after this much time without a complete line.
pub const BANNER_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The echo server closes a connection after this much time without a complete line.
pub const ECHO_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the silent server holds an accepted connection before closing it.
pub const SILENT_HOLD: Duration = Duration::from_secs(60);

const MAX_LINE: u64 = 64 * 1024;

/// Raw TCP targets on `127.0.0.1`. Stops when dropped.
#[derive(Debug)]
pub struct TcpTargets {
    /// On accept writes [`BANNER`] (`SSH-2.0-upwatch_testbed\r\n`), then answers each `PING`
    /// line with `PONG\r\n` (other lines are ignored); closes after 10 s idle.
    pub banner: SocketAddr,
    /// No banner; answers a `PING` line with `PONG\r\n` and echoes any other line back
    /// unchanged (including its line ending). Closes after 60 s idle.
    pub echo: SocketAddr,
    /// Accepts and never sends anything; holds the connection open for ~60 s (or until the
    /// client closes it), discarding whatever the client sends.
    pub silent: SocketAddr,
    /// A port nothing listens on: connecting is refused. (A listener was bound there and
    /// dropped, so the port is very unlikely to be reused while the testbed runs.)
    pub closed: SocketAddr,
    _tasks: Tasks,
}

impl TcpTargets {
    /// Starts the banner, echo and silent servers and picks a closed port.
    pub async fn start() -> io::Result<TcpTargets> {
        let mut tasks = Tasks::default();

        let listener = crate::bind_tcp().await?;
        let banner = listener.local_addr()?;
        tasks.spawn(crate::accept_loop(listener, |stream, _| banner_conn(stream)));

        let listener = crate::bind_tcp().await?;
        let echo = listener.local_addr()?;
        tasks.spawn(crate::accept_loop(listener, |stream, _| echo_conn(stream)));

        let listener = crate::bind_tcp().await?;
        let silent = listener.local_addr()?;
        tasks.spawn(crate::accept_loop(listener, |stream, _| silent_conn(stream)));

        let closed = crate::bind_tcp().await?.local_addr()?;

        Ok(TcpTargets {
            banner,
            echo,
            silent,
            closed,
            _tasks: tasks,
        })
    }
}

fn is_ping(line: &[u8]) -> bool {
    line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l)) == Some(b"PING".as_slice())
}

/// Reads one line (with its terminator) into `line`, or `Ok(false)` on EOF/timeout/overlong.
async fn next_line(
    reader: &mut BufReader<tokio::net::tcp::ReadHalf<'_>>,
    line: &mut Vec<u8>,
    idle: Duration,
) -> io::Result<bool> {
    line.clear();
    let mut limited = (&mut *reader).take(MAX_LINE);
    match tokio::time::timeout(idle, limited.read_until(b'\n', line)).await {
        Ok(Ok(0)) | Err(_) => Ok(false),
        Ok(Ok(n)) => Ok(n < MAX_LINE as usize || line.ends_with(b"\n")),
        Ok(Err(e)) => Err(e),
    }
}

async fn banner_conn(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = async {
        let (read, mut write) = stream.split();
        write.write_all(BANNER.as_bytes()).await?;
        let mut reader = BufReader::new(read);
        let mut line = Vec::new();
        while next_line(&mut reader, &mut line, BANNER_IDLE_TIMEOUT).await? {
            if is_ping(&line) {
                write.write_all(PONG.as_bytes()).await?;
            }
        }
        io::Result::Ok(())
    }
    .await;
}

async fn echo_conn(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = async {
        let (read, mut write) = stream.split();
        let mut reader = BufReader::new(read);
        let mut line = Vec::new();
        while next_line(&mut reader, &mut line, ECHO_IDLE_TIMEOUT).await? {
            if is_ping(&line) {
                write.write_all(PONG.as_bytes()).await?;
            } else {
                write.write_all(&line).await?;
            }
        }
        io::Result::Ok(())
    }
    .await;
}

async fn silent_conn(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let _ = tokio::time::timeout(SILENT_HOLD, async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
