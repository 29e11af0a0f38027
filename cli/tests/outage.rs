//! A webhook receiver that is down for three minutes, and an agent killed with SIGKILL
//! while alerts wait for it: after a restart and the receiver's return, every alert
//! arrives exactly once, in order per check.
//!
//! Real processes (`upwatch run --json --db`), real TCP targets toggled by binding and
//! closing listeners, a real HTTP receiver on loopback. It takes as long as the outage
//! (`UPWATCH_OUTAGE_SECS`, default 180), so it is ignored by a plain `cargo test`:
//! `scripts/test-all.sh` runs it (`-- --ignored`) in the background beside the binding suites.

mod common;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::agent;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The `alert_fired` events an agent printed: (id, check, kind).
fn fired(out: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "alert_fired")
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("check"), s("kind"))
        })
        .collect()
}

/// Waits until the agent printed `n` alerts.
fn wait_fired(outs: &[&Path], n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: usize = outs.iter().map(|o| fired(o).len()).sum();
        if got >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {got} of {n} alerts fired; agent output:\n{}",
            outs.iter()
                .map(|o| std::fs::read_to_string(o.with_extension("err")).unwrap_or_default())
                .collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP target whose check is up while a listener is bound. Its connections are accepted
/// and closed (a backlog never accepted fills up after a couple of minutes of checks).
struct Target {
    addr: SocketAddr,
    accepting: Option<(Arc<std::sync::atomic::AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Target {
    fn new() -> Target {
        let mut t = Target {
            addr: "127.0.0.1:0".parse().unwrap(),
            accepting: None,
        };
        t.listen(TcpListener::bind("127.0.0.1:0").unwrap());
        t
    }
    fn listen(&mut self, listener: TcpListener) {
        use std::sync::atomic::{AtomicBool, Ordering};
        self.addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => drop(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.accepting = Some((stop, thread));
    }
    fn down(&mut self) {
        if let Some((stop, thread)) = self.accepting.take() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            thread.join().unwrap(); // the thread owned the listener: the port is closed now
        }
    }
    fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).unwrap();
        self.listen(listener);
    }
}

fn outbox_rows(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap()
}

type Received = Arc<Mutex<Vec<Value>>>;

async fn receive(State(seen): State<Received>, body: Bytes) -> StatusCode {
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            seen.lock().unwrap().push(v);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[test]
#[ignore = "three minutes long: scripts/test-all.sh runs it beside the binding suites"]
fn alerts_survive_a_three_minute_receiver_outage_and_a_sigkill() {
    let outage = Duration::from_secs(
        std::env::var("UPWATCH_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180),
    );
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db, spec): (PathBuf, PathBuf) = (dir.path().join("upwatch.db"), dir.path().join("upwatch.toml"));
    let receiver = free_addr();
    let (mut a, mut b) = (Target::new(), Target::new());
    std::fs::write(
        &spec,
        format!(
            r#"
[[checks]]
name = "a"
kind = "tcp"
host = "127.0.0.1"
port = {pa}
interval = "1s"
timeout = "500ms"

[[checks]]
name = "b"
kind = "tcp"
host = "127.0.0.1"
port = {pb}
interval = "1s"
timeout = "500ms"

[[notifiers]]
name = "hook"
kind = "webhook"
url = "http://{receiver}/hook"
timeout = "1s"
backoff = "200ms"
max_backoff = "5s"
max_attempts = 1000

[[alerts]]
name = "tcp"
notify = ["hook"]
"#,
            pa = a.addr.port(),
            pb = b.addr.port(),
        ),
    )
    .unwrap();

    // First life: two down/up rounds per check, then `a` down again; nothing is delivered.
    let (out1, out2) = (dir.path().join("agent1.jsonl"), dir.path().join("agent2.jsonl"));
    let mut first = agent(&spec, &db, &out1);
    std::thread::sleep(Duration::from_secs(2));
    let mut n = 0;
    for _ in 0..2 {
        for (t, _) in [(&mut a, "a"), (&mut b, "b")] {
            t.down();
            n += 1;
            wait_fired(&[&out1], n, "down");
        }
        for (t, _) in [(&mut a, "a"), (&mut b, "b")] {
            t.up();
            n += 1;
            wait_fired(&[&out1], n, "resolved");
        }
    }
    a.down();
    n += 1;
    wait_fired(&[&out1], n, "a down again");
    assert_eq!(outbox_rows(&db), n as i64, "every fired alert waits in the outbox");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    // Second life: the kept alerts are taken over; new changes add theirs behind them.
    let mut second = agent(&spec, &db, &out2);
    std::thread::sleep(Duration::from_secs(4));
    a.up();
    n += 1;
    wait_fired(&[&out1, &out2], n, "a resolved after restart");
    b.down();
    n += 1;
    wait_fired(&[&out1, &out2], n, "b down after restart");
    b.up();
    n += 1;
    wait_fired(&[&out1, &out2], n, "b resolved after restart");
    assert!(second.try_wait().unwrap().is_none(), "the second agent runs");

    // The receiver returns after the outage.
    if let Some(left) = outage.checked_sub(started.elapsed()) {
        std::thread::sleep(left);
    }
    let seen: Received = Arc::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = Router::new().route("/hook", post(receive)).with_state(seen.clone());
    let listener = rt.block_on(tokio::net::TcpListener::bind(receiver)).unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} alerts arrived",
            seen.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Anything sent twice would arrive within a few retries.
    std::thread::sleep(Duration::from_secs(3));
    let got = seen.lock().unwrap().clone();
    let _ = second.kill();
    let _ = second.wait();

    let all: Vec<(String, String, String)> = fired(&out1).into_iter().chain(fired(&out2)).collect();
    assert_eq!(
        all.len(),
        n,
        "{all:?}\n{}",
        std::fs::read_to_string(&out2)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("status_changed") || l.contains("incident") || l.contains("alert_fired"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(got.len(), n, "every alert exactly once: {got:#?}");
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), n, "no duplicates");
    for (id, _, _) in &all {
        assert!(ids.contains(id.as_str()), "{id} arrived");
    }
    // In order per check: the order they fired in.
    let mut per_check: HashMap<&str, Vec<&str>> = HashMap::new();
    for a in &got {
        per_check
            .entry(a["check"].as_str().unwrap())
            .or_default()
            .push(a["kind"].as_str().unwrap());
    }
    let cycle = ["down", "resolved", "down", "resolved", "down", "resolved"];
    assert_eq!(per_check["a"], cycle);
    assert_eq!(per_check["b"], cycle);
    for check in ["a", "b"] {
        let fired_order: Vec<&str> = all.iter().filter(|x| x.1 == check).map(|x| x.0.as_str()).collect();
        let got_order: Vec<&str> = got
            .iter()
            .filter(|x| x["check"] == check)
            .map(|x| x["id"].as_str().unwrap())
            .collect();
        assert_eq!(got_order, fired_order, "{check}: delivered in the order fired");
    }
    assert_eq!(outbox_rows(&db), 0, "nothing left to send");
    let c = rusqlite::Connection::open(&db).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    eprintln!(
        "{n} alerts, receiver down {:.0}s, agent killed once: all delivered once, in order",
        outage.as_secs_f64()
    );
}
