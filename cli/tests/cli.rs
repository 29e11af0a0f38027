//! End-to-end tests of the `upwatch` binary: the real executable, run as a child process,
//! against real loopback servers (upwatch-testbed) that each test starts in its own tokio
//! runtime. Children are awaited with `tokio::process`, so the runtime keeps serving the
//! targets while the binary checks them. Spec files go into a temporary directory.

use monitor_core::store::{HistoryQuery, SqliteStore, Store};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::Command;
use upwatch_testbed::Testbed;

const UPWATCH: &str = env!("CARGO_BIN_EXE_upwatch");

/// No run of the binary in these tests may take longer than this.
const LIMIT: Duration = Duration::from_secs(20);

/// What a finished `upwatch` printed, how it exited, and how long it took.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `upwatch args...` to completion.
async fn upwatch(args: &[&str]) -> Finished {
    let started = Instant::now();
    let output = Command::new(UPWATCH)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(LIMIT, output)
        .await
        .unwrap_or_else(|_| panic!("upwatch {args:?} still running after {LIMIT:?}"))
        .expect("upwatch runs");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
        took: started.elapsed(),
    }
}

/// Every stdout line as JSON; fails on the first line that is not.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_default()
}

/// Writes `text` to `dir/name` and returns the path as a string.
fn write_spec(dir: &TempDir, name: &str, text: &str) -> String {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, text).expect("writing the spec");
    path.to_string_lossy().into_owned()
}

/// Three checks that pass against the testbed: HTTP (every second), TCP banner, DNS MX.
fn healthy_checks(tb: &Testbed) -> String {
    format!(
        r#"
[[services]]
name = "backend"

[[checks]]
name = "api-health"
service = "backend"
kind = "http"
url = "{health}"
interval = "1s"
[checks.expect]
status = [200]
json = {{ "$.status" = "UP" }}

[[checks]]
name = "ssh"
kind = "tcp"
host = "127.0.0.1"
port = {banner}
[checks.expect]
banner = '^SSH-2\.0-'

[[checks]]
name = "mail-mx"
kind = "dns"
query = "upwatch.test"
record_type = "MX"
nameserver = "{dns}"
[checks.expect]
contains = ["10 mail.upwatch.test"]
"#,
        health = tb.http.url("/health"),
        banner = tb.tcp.banner.port(),
        dns = tb.dns.addr,
    )
}

/// A check of the route that answers 500.
fn failing_check(tb: &Testbed) -> String {
    format!(
        r#"
[[checks]]
name = "api-errors"
service = "backend"
kind = "http"
url = "{}"
"#,
        tb.http.url("/error")
    )
}

const INVALID: &str = r#"
[[checks]]
name = "api"
kind = "http"
url = "http://127.0.0.1:9/"
intervall = "5s"
[checks.expect]
status = 700
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_0_when_every_check_is_up() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "up.toml", &healthy_checks(&tb));

    let table = upwatch(&["check", &spec]).await;
    assert_eq!(table.code, Some(0), "{}{}", table.stdout, table.stderr);
    assert!(table.stdout.starts_with("STATUS "), "{}", table.stdout);
    for name in ["api-health", "ssh", "mail-mx", "backend"] {
        assert!(table.stdout.contains(name), "{name} missing:\n{}", table.stdout);
    }
    assert!(table.stdout.contains("3 checks: 3 up"), "{}", table.stdout);
    assert!(!table.stdout.contains('\x1b'), "no colours into a pipe");

    let json = upwatch(&["check", "--json", &spec]).await;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let results = json_lines(&json.stdout);
    let names: Vec<&str> = results.iter().map(|r| field(r, "check")).collect();
    assert_eq!(names, ["api-health", "ssh", "mail-mx"], "in file order");
    assert!(results.iter().all(|r| field(r, "status") == "up"), "{results:?}");
    assert_eq!(results[0]["observed"]["status_code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_1_when_a_check_is_down() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "down.toml", &(healthy_checks(&tb) + &failing_check(&tb)));

    let json = upwatch(&["check", "--json", &spec]).await;
    assert_eq!(json.code, Some(1), "{}{}", json.stdout, json.stderr);
    let results = json_lines(&json.stdout);
    assert_eq!(results.len(), 4);
    let errors = results.iter().find(|r| field(r, "check") == "api-errors").unwrap();
    assert_eq!(field(errors, "status"), "down");
    assert_eq!(errors["error"]["kind"], "assertion");
    let up = results.iter().filter(|r| field(r, "status") == "up").count();
    assert_eq!(up, 3, "{results:?}");

    let table = upwatch(&["check", &spec]).await;
    assert_eq!(table.code, Some(1));
    assert!(table.stdout.contains("DOWN"), "{}", table.stdout);
    assert!(table.stdout.contains("expected 200-399, got 500"), "{}", table.stdout);
    assert!(table.stdout.contains("4 checks: 3 up, 1 down"), "{}", table.stdout);
}

#[tokio::test]
async fn check_exits_2_on_an_invalid_spec() {
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "bad.toml", INVALID);
    let out = upwatch(&["check", &spec]).await;
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("checks[0].expect.status: 700 is not an HTTP status"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn validate_lists_every_problem_with_its_path() {
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "bad.toml", INVALID);
    let out = upwatch(&["validate", &spec]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().map(str::trim).collect();
    assert!(
        lines[0].starts_with("upwatch: ") && lines[0].ends_with("bad.toml has 2 problems:"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"checks[0].expect.status: 700 is not an HTTP status"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&r#"checks[0].intervall: unknown field (did you mean "interval"?)"#),
        "{lines:?}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn validate_accepts_a_good_spec_and_counts_it() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "up.toml", &(healthy_checks(&tb) + &failing_check(&tb)));
    let out = upwatch(&["validate", &spec]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "ok: 4 checks, 1 service\n");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[tokio::test]
async fn a_missing_file_is_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.toml");
    let missing = missing.to_str().unwrap();
    for command in ["validate", "check", "run"] {
        let out = upwatch(&[command, missing]).await;
        assert_eq!(out.code, Some(2), "{command}");
        assert_eq!(
            out.stderr,
            format!("upwatch: could not read {missing}: No such file or directory\n"),
            "{command}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_events_as_json_lines_and_stops_after_for() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "up.toml", &healthy_checks(&tb));

    let db = dir.path().join("history.db");
    let out = upwatch(&["run", &spec, "--json", "--for", "3s", "--db", db.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.took >= Duration::from_secs(3) && out.took < Duration::from_secs(10),
        "{:?}",
        out.took
    );
    assert!(out.stderr.contains("stopped after 3s"), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    let of = |kind: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| field(e, "event") == kind && field(e, "check") == "api-health")
            .collect()
    };
    // Once at start, then every second: at least three runs in three seconds.
    let succeeded = of("check_succeeded");
    assert!(succeeded.len() >= 3, "{} runs: {}", succeeded.len(), out.stdout);
    assert!(succeeded.iter().all(|e| field(e, "status") == "up"));
    let changed = of("check_status_changed");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["previous"], Value::Null);
    assert_eq!(field(changed[0], "status"), "up");
    assert!(events
        .iter()
        .any(|e| field(e, "event") == "service_status_changed" && field(e, "service") == "backend"));
    // Every result the agent printed is in the history file.
    let store = SqliteStore::open(&db).unwrap();
    let stored = store
        .history(&HistoryQuery::default().check("api-health").limit(1000))
        .unwrap();
    let printed = events
        .iter()
        .filter(|e| {
            matches!(field(e, "event"), "check_succeeded" | "check_failed") && field(e, "check") == "api-health"
        })
        .count();
    assert_eq!(stored.items.len(), printed);
}

#[tokio::test]
async fn demo_shows_healthy_and_broken_targets() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("demo.db");
    let out = upwatch(&["demo", "--json", "--for", "6s", "--db", db.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("broken on purpose"), "{}", out.stderr);
    let events = json_lines(&out.stdout);
    let runs: Vec<&Value> = events
        .iter()
        .filter(|e| matches!(field(e, "event"), "check_succeeded" | "check_failed"))
        .collect();
    let mut checks: Vec<&str> = runs.iter().map(|e| field(e, "check")).collect();
    checks.sort();
    checks.dedup();
    assert!(checks.len() >= 8, "only {checks:?} ran");
    let failed: Vec<&str> = runs
        .iter()
        .filter(|e| field(e, "event") == "check_failed")
        .map(|e| field(e, "check"))
        .collect();
    assert!(failed.contains(&"shop-checkout"), "{failed:?}");
    assert!(failed.contains(&"admin-cert"), "{failed:?}");
    let degraded = runs.iter().filter(|e| field(e, "status") == "degraded").count();
    assert!(degraded >= 2, "the slow route and the soon-expiring certificate");
    let heartbeats = runs.iter().filter(|e| field(e, "check") == "queue-worker").count();
    assert!(heartbeats >= 2, "the demo pushes every few seconds");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store.history(&HistoryQuery::default().limit(1000)).unwrap().items.len(),
        runs.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_run_cleanly() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = write_spec(&dir, "up.toml", &healthy_checks(&tb));

    let child = Command::new(UPWATCH)
        .args(["run", &spec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().expect("running").to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(kill.success());
    let output = tokio::time::timeout(Duration::from_secs(8), child.wait_with_output())
        .await
        .expect("upwatch exits soon after SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(6), "{:?}", sent.elapsed());
    assert!(stderr.contains("stopped (SIGTERM)"), "{stderr}");
    // Not a terminal: JSON lines, and the runs before the signal are there.
    let events = json_lines(&String::from_utf8_lossy(&output.stdout));
    assert!(events.iter().any(|e| field(e, "event") == "check_succeeded"));
}

#[tokio::test]
async fn help_lists_the_commands() {
    let out = upwatch(&["--help"]).await;
    assert_eq!(out.code, Some(0));
    for command in ["run", "check", "validate", "demo", "Exit codes"] {
        assert!(out.stdout.contains(command), "{command}:\n{}", out.stdout);
    }
    let bad = upwatch(&["run", "x.toml", "--for", "soon"]).await;
    assert_eq!(bad.code, Some(2), "usage errors exit 2 like spec errors");
}
