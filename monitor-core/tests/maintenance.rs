//! Maintenance and mutes on real SQLite files: results taken while alerts are held back are
//! stored flagged; a mute asked of any process sharing the file holds in the one that runs
//! the checks, survives a restart and a takeover of the lease.

use monitor_core::embed::Embedded;
use monitor_core::Status;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn push(name: &str, service: &str) -> Value {
    json!({ "name": name, "service": service, "kind": "push", "interval": "1h" })
}

fn engine(db: &Path, extra: Value) -> Embedded {
    let mut config = json!({
        "db": db,
        "lease": "1s",
        "host_interval": "off",
        "checks": [push("a", "web"), push("b", "web"), push("c", "jobs")],
        "alerts": [{ "name": "down", "for": "0s" }],
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    Embedded::from_value(config).unwrap()
}

fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(check, maintenance)` of the newest stored result of each check.
fn flags(e: &Embedded) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = e
        .wait(e.latest(&json!({})))
        .unwrap()
        .into_iter()
        .map(|r| (r.check, r.maintenance))
        .collect();
    out.sort();
    out
}

#[test]
fn results_during_maintenance_or_a_mute_are_stored_flagged_and_count_as_usual() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let e = engine(
        &db,
        json!({ "maintenance": [{ "name": "b-upgrade", "checks": ["b"],
            "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z" }] }),
    );
    e.start().unwrap();
    e.wait(e.mute("c", "1h")).unwrap();
    for check in ["a", "b", "c"] {
        let r = e.wait(e.push(check, false, None)).unwrap();
        assert_eq!(r.maintenance, check != "a", "the result handed back: {check}");
    }
    wait_for("three stored results", Duration::from_secs(5), || flags(&e).len() == 3);
    assert_eq!(
        flags(&e),
        vec![("a".into(), false), ("b".into(), true), ("c".into(), true)]
    );
    // A status filter still finds flagged results; they count in uptime like any other.
    let down = e.wait(e.history(&json!({ "status": "down" }))).unwrap();
    assert_eq!(down.items.len(), 3);
    assert_eq!(down.items.iter().filter(|r| r.maintenance).count(), 2);
    let uptime = e.wait(e.uptime(&json!({ "check": "c" }), "1h")).unwrap();
    assert_eq!((uptime[0].count, uptime[0].failures), (1, 1));
    // The mute ends: the next result is not flagged.
    e.wait(e.mute("c", "0s")).unwrap();
    e.wait(e.push("c", true, None)).unwrap();
    wait_for("the unflagged result", Duration::from_secs(5), || {
        e.wait(e.history(&json!({ "check": "c" }))).unwrap().items.len() == 2
    });
    let c = e.wait(e.history(&json!({ "check": "c" }))).unwrap().items;
    assert_eq!(
        c.iter().map(|r| (r.status, r.maintenance)).collect::<Vec<_>>(),
        vec![(Status::Up, false), (Status::Down, true)]
    );
    assert_eq!(e.status().unwrap().alerts.held, 2, "b and c were held back, a was not");
    e.close();

    // Read back by a new process from the file: the flags were written, not just kept in memory.
    let again = engine(&db, json!({}));
    assert_eq!(
        flags(&again),
        vec![("a".into(), false), ("b".into(), true), ("c".into(), false)]
    );
    again.close();
}

#[test]
fn a_mute_is_kept_in_the_file_and_holds_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let e = engine(&db, json!({}));
    e.wait(e.mute("jobs", "45m")).unwrap();
    let err = e.wait(e.mute(" ", "45m")).unwrap_err();
    assert_eq!(err.path(), Some("target"));
    e.close();

    let e = engine(&db, json!({}));
    let mutes = e.alerting().unwrap().mutes;
    assert_eq!(mutes.len(), 1);
    assert_eq!(mutes[0].target, "jobs");
    assert!(mutes[0].remaining_ms > 44 * 60_000, "{}", mutes[0].remaining_ms);
    e.start().unwrap();
    // "jobs" is c's service: c's failure is held back and flagged.
    assert!(e.wait(e.push("c", false, None)).unwrap().maintenance);
    wait_for("held", Duration::from_secs(5), || e.status().unwrap().alerts.held == 1);
    e.close();
}

#[test]
fn a_mute_asked_of_a_process_without_the_lease_holds_in_the_one_with_it_and_after_a_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let holder = engine(&db, json!({}));
    holder.start().unwrap();
    wait_for("the lease", Duration::from_secs(10), || holder.runs_checks().unwrap());
    let follower = engine(&db, json!({}));
    follower.start().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!follower.runs_checks().unwrap(), "one scheduler per file");

    // Asked of the follower, sent to the holder: it holds there as soon as the call returns.
    follower.wait(follower.mute("a", "1h")).unwrap();
    assert_eq!(holder.alerting().unwrap().mutes[0].target, "a");
    assert!(holder.wait(holder.push("a", false, None)).unwrap().maintenance);
    // A push through the follower runs in the holder too, and is flagged there.
    assert!(follower.wait(follower.push("a", false, None)).unwrap().maintenance);
    assert!(!follower.wait(follower.push("b", false, None)).unwrap().maintenance);
    wait_for("b's alert, and a's held", Duration::from_secs(5), || {
        let a = holder.status().unwrap().alerts;
        a.fired >= 1 && a.held >= 1
    });

    // The holder goes; the follower takes over and still holds alerts about "a" back.
    holder.close();
    wait_for("the takeover", Duration::from_secs(10), || {
        follower.runs_checks().unwrap()
    });
    assert_eq!(follower.alerting().unwrap().mutes[0].target, "a");
    follower.wait(follower.push("a", true, None)).unwrap();
    assert!(follower.wait(follower.push("a", false, None)).unwrap().maintenance);
    // Ended through the new holder: the next result is not flagged.
    follower.wait(follower.mute("a", "0s")).unwrap();
    assert!(follower.alerting().unwrap().mutes.is_empty());
    assert!(!follower.wait(follower.push("a", false, None)).unwrap().maintenance);
    follower.close();
}
