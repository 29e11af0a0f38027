//! Incidents on a real SQLite file: opened and resolved with events, listed with their
//! changes and errors, still open after a restart and resolved by the next process.

use monitor_core::alerts::incidents::IncidentScope;
use monitor_core::bus::Event;
use monitor_core::embed::Embedded;
use monitor_core::EventKind;
use serde_json::json;
use std::time::Duration;

fn engine(db: &std::path::Path) -> Embedded {
    Embedded::from_value(json!({
        "db": db,
        "host_interval": "off",
        "checks": [{ "name": "payments", "service": "shop", "kind": "push", "interval": "1h" }],
    }))
    .unwrap()
}

fn next(events: &monitor_core::embed::EventStream) -> Event {
    let e = events
        .next_blocking(Some(Duration::from_secs(5)))
        .unwrap()
        .expect("an event");
    (*e).clone()
}

#[test]
fn an_incident_opens_on_down_and_resolves_on_up_with_its_errors_and_changes() {
    let dir = tempfile::tempdir().unwrap();
    let m = engine(&dir.path().join("h.db"));
    let events = m
        .events(&[EventKind::IncidentOpened, EventKind::IncidentResolved])
        .unwrap();
    m.wait(m.push("payments", true, None)).unwrap();
    m.wait(m.push("payments", false, Some("gateway 502".into()))).unwrap();
    let opened = next(&events);
    let Event::IncidentOpened {
        incident, check, error, ..
    } = &opened
    else {
        panic!("expected incident_opened, got {opened:?}")
    };
    assert_eq!(check, "payments");
    assert!(error.as_ref().unwrap().message.contains("gateway 502"));
    m.wait(m.push("payments", false, Some("gateway timeout".into())))
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    m.wait(m.push("payments", true, None)).unwrap();
    let resolved = next(&events);
    let Event::IncidentResolved {
        incident: same,
        duration_ms,
        ..
    } = &resolved
    else {
        panic!("expected incident_resolved, got {resolved:?}")
    };
    assert_eq!(same, incident);
    assert!(*duration_ms >= 20.0, "{duration_ms}");
    m.close();

    let m = engine(&dir.path().join("h.db"));
    let page = m.wait(m.incidents(&json!({ "check": "payments" }))).unwrap();
    assert_eq!(page.items.len(), 1);
    let i = &page.items[0];
    assert_eq!(&i.id, incident);
    assert!(!i.open);
    assert_eq!(i.changes.len(), 2, "{:?}", i.changes);
    assert!(i.first_error.as_ref().unwrap().message.contains("gateway 502"));
    assert!(
        i.last_error.as_ref().unwrap().message.contains("gateway timeout"),
        "{:?} {:?}",
        i.last_error,
        m.wait(m.history(&json!({ "check": "payments" }))).unwrap().items
    );
    let stats = m.wait(m.incident_stats(&json!({ "check": "payments" }), "1h")).unwrap();
    assert_eq!(stats[0].incidents, 1);
    assert_eq!(stats[0].mttr_ms, Some(i.duration_ms));
    assert!(stats[0].mtbf_ms.unwrap() > 3_500_000.0);
    let bad = m.wait(m.incidents(&json!({ "cursor": "zzz" }))).unwrap_err();
    assert_eq!(bad.path(), Some("cursor"));
    m.close();
}

#[test]
fn an_incident_open_at_exit_is_still_open_after_restart_and_resolved_there() {
    let dir = tempfile::tempdir().unwrap();
    let first = engine(&dir.path().join("h.db"));
    first.wait(first.push("payments", true, None)).unwrap();
    let down = first.wait(first.push("payments", false, None)).unwrap();
    first.close();

    let second = engine(&dir.path().join("h.db"));
    let open = second.wait(second.incidents(&json!({ "check": "payments" }))).unwrap();
    assert_eq!(open.items.len(), 1);
    assert!(open.items[0].open);
    // The service's own incident, from its derived status, is open too.
    let all = second.wait(second.incidents(&json!({}))).unwrap();
    let scopes: Vec<(IncidentScope, bool)> = all.items.iter().map(|i| (i.scope, i.open)).collect();
    assert_eq!(scopes.len(), 2, "{:?}", all.items);
    assert!(scopes.contains(&(IncidentScope::Service, true)), "{scopes:?}");
    let events = second.events(&[EventKind::IncidentResolved]).unwrap();
    second.wait(second.push("payments", true, None)).unwrap();
    let Event::IncidentResolved { incident, started, .. } = next(&events) else {
        panic!("expected incident_resolved")
    };
    assert_eq!(incident, open.items[0].id);
    assert_eq!(started.timestamp_millis(), down.at.timestamp_millis());
    // Written by the history thread: read once it has.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let service = loop {
        let page = second.wait(second.incidents(&json!({ "service": "shop" }))).unwrap();
        let service: Vec<_> = page
            .items
            .into_iter()
            .filter(|i| i.scope == IncidentScope::Service)
            .collect();
        if service.iter().all(|i| !i.open) || std::time::Instant::now() > end {
            break service;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        service.len(),
        1,
        "no zombie: one service incident, resolved after the restart"
    );
    assert!(!service[0].open);
    let i = &service[0];
    assert!(i.id.starts_with("service:shop@"), "{}", i.id);
    assert_eq!(i.check, "payments", "the check that took the service down");
    let lag = (i.started - down.at).num_milliseconds();
    assert!(
        (0..5_000).contains(&lag),
        "the service went down with its check: {lag} ms"
    );
    assert_eq!(i.changes.last().unwrap().status, monitor_core::Status::Up);
    second.close();
}
