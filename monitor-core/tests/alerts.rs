//! Alert rules, maintenance and notifiers: spec validation with paths, rule timing under
//! tokio's paused clock (push checks, no network), and delivery to real HTTP receivers on
//! loopback (HMAC-verified webhooks, Slack/Discord/Teams shapes, a receiver that is down
//! for a while and comes back).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use monitor_core::alerts::deliver::signature;
use monitor_core::alerts::rules::Trigger;
use monitor_core::alerts::{Alert, Clock};
use monitor_core::bus::{Delivery, Event, EventKind, Filter, Subscription};
use monitor_core::spec::Spec;
use monitor_core::{Embedded, Monitor};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn spec(v: Value) -> Spec {
    Spec::from_value_with_env(v, &|k| match k {
        "HOOK_SECRET" => Some("hmac-secret-value".into()),
        "HOOK_TOKEN" => Some("token-secret-value".into()),
        _ => None,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn push(name: &str) -> Value {
    json!({"name": name, "kind": "push", "interval": "24h", "tags": ["t"]})
}

/// A monitor with push checks and the given alerting tables, started, with a subscription to alerts.
fn monitor(checks: &[&str], alerting: Value, clock: Option<Clock>) -> (Monitor, Subscription) {
    let mut b = Monitor::builder().host_interval(None);
    if let Some(c) = clock {
        b = b.clock(c);
    }
    let m = b.build();
    let mut v = alerting;
    v["checks"] = Value::Array(checks.iter().map(|c| push(c)).collect());
    m.load(spec(v)).unwrap();
    let sub = m.subscribe(Filter::default().kinds([EventKind::AlertFired]));
    m.start();
    (m, sub)
}

/// Alerts fired within `within` (of tokio time), with the tokio instant each was seen.
async fn alerts_within(sub: &mut Subscription, within: Duration) -> Vec<(Instant, Alert)> {
    let end = Instant::now() + within;
    let mut out = Vec::new();
    while let Ok(Some(d)) = tokio::time::timeout_at(end, sub.recv()).await {
        if let Delivery::Event(e) = d {
            if let Event::AlertFired(a) = &*e {
                out.push((Instant::now(), (**a).clone()));
            }
        }
    }
    out
}

fn kinds(list: &[(Instant, Alert)]) -> Vec<Trigger> {
    list.iter().map(|(_, a)| a.kind).collect()
}

#[test]
fn spec_tables_validate_with_paths_and_hide_secrets() {
    let s = spec(json!({
        "notifiers": [
            {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/h", "secret": "${HOOK_SECRET}",
             "headers": {"authorization": "Bearer ${HOOK_TOKEN}"}, "timeout": "2s"},
            {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/secretpath"}
        ],
        "alerts": [{"name": "all", "notify": ["hook", "chat"], "for": "2m", "repeat": "1h",
                    "on": ["down", "resolved", "flapping"], "flapping": {"changes": 3, "within": "5m"},
                    "certificate": ["30d", "7d"], "severity": "warning", "tags": ["t"]}],
        "maintenance": [
            {"name": "once", "from": "2026-12-01T10:00:00Z", "to": "2026-12-01T11:00:00Z", "checks": ["a"]},
            {"name": "weekly", "weekdays": ["sat", "sun"], "start": "22:00", "end": "02:00", "timezone": "Europe/Paris"}
        ]
    }));
    assert_eq!(s.notifiers.len(), 2);
    assert_eq!(s.notifiers[0].secret.as_deref(), Some("hmac-secret-value"));
    let r = &s.alerts[0];
    assert_eq!(r.for_, Duration::from_secs(120));
    assert_eq!(r.flapping.unwrap().changes, 3);
    assert_eq!(
        r.certificate,
        vec![Duration::from_secs(30 * 86400), Duration::from_secs(7 * 86400)]
    );
    let debug = format!("{s:?}");
    for secret in ["hmac-secret-value", "token-secret-value", "secretpath", "127.0.0.1:9"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    // Overnight weekly window: Saturday 23:30 Paris is inside, Saturday 21:00 is not.
    let w = &s.maintenance[1];
    assert!(w.active_at("2026-12-05T22:30:00Z".parse().unwrap()));
    assert!(w.active_at("2026-12-06T00:30:00Z".parse().unwrap()));
    assert!(!w.active_at("2026-12-05T20:00:00Z".parse().unwrap()));
    assert_eq!(
        w.ends_after("2026-12-05T22:30:00Z".parse().unwrap()),
        Some("2026-12-06T01:00:00Z".parse().unwrap())
    );

    let err = Spec::from_value(json!({
        "notifiers": [{"name": "n", "kind": "pager", "url": "ftp://x"}, {"name": "n", "kind": "webhook", "url": "http://x/", "timeout": "zero"}],
        "alerts": [{"name": "r", "notify": ["n", "ghost"], "on": ["down", "sideways"], "for": "soon",
                    "severity": "meh", "flapping": {"changes": 1, "within": "1m", "extra": 1}}],
        "maintenance": [{"name": "m", "weekdays": ["funday"], "start": "25:00", "end": "02:00", "timezone": "Mars/Base"},
                        {"name": "o", "from": "2026-12-01T11:00:00Z", "to": "2026-12-01T10:00:00Z"}]
    }))
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "notifiers[0].kind: \"pager\" is not a kind of notifier",
        "notifiers[0].url: is not an http:// or https:// URL with a host",
        "notifiers[1].name: \"n\" is already used by notifiers[0]",
        "notifiers[1].timeout:",
        "alerts[0].notify[1]: \"ghost\" is not a notifier",
        "alerts[0].on[1]: \"sideways\" is not an alert trigger",
        "alerts[0].for:",
        "alerts[0].severity:",
        "alerts[0].flapping.changes:",
        "alerts[0].flapping.extra: unknown field",
        "maintenance[0].weekdays[0]:",
        "maintenance[0].start:",
        "maintenance[0].timezone: \"Mars/Base\" is not an IANA time zone",
        "maintenance[1].from: must be before \"to\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("alerts[0].notify[0]"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn for_delays_and_recovery_cancels() {
    let (m, mut sub) = monitor(&["a"], json!({"alerts": [{"name": "r", "for": "2m"}]}), None);
    let t0 = Instant::now();
    m.push("a", false, Some("disk full".into())).await.unwrap();
    // Recovers after one minute: nothing fires.
    assert!(alerts_within(&mut sub, Duration::from_secs(60)).await.is_empty());
    m.push("a", true, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(300)).await.is_empty());

    // Down for good: fires `for` after the change, then resolves.
    let down_at = Instant::now();
    m.push("a", false, Some("disk full".into())).await.unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(180)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down]);
    let waited = got[0].0 - down_at;
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
        "{waited:?}"
    );
    let a = &got[0].1;
    assert_eq!((a.check.as_str(), a.rule.as_str(), a.repeat), ("a", "r", 0));
    assert!(a.message.contains("disk full"), "{}", a.message);
    assert!(a.incident.is_some());
    m.push("a", true, None).await.unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(10)).await;
    assert_eq!(kinds(&got), vec![Trigger::Resolved]);
    assert!(t0.elapsed() >= Duration::from_secs(540));
    assert_eq!(m.status().alerts.fired, 2);
}

#[tokio::test(start_paused = true)]
async fn repeat_reminds_while_down_and_stops_on_resolve() {
    let (m, mut sub) = monitor(
        &["a", "b"],
        json!({"alerts": [{"name": "r", "checks": ["a"], "repeat": "1h", "severity": "warning"}]}),
        None,
    );
    m.push("b", false, None).await.unwrap(); // not matched by the rule
    m.push("a", false, None).await.unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(3 * 3600 - 60)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down; 3]);
    assert_eq!(got.iter().map(|(_, a)| a.repeat).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(got
        .iter()
        .all(|(_, a)| a.check == "a" && a.severity.as_str() == "warning"));
    let gap = got[1].0 - got[0].0;
    assert!(
        gap >= Duration::from_secs(3600) && gap < Duration::from_secs(3601),
        "{gap:?}"
    );
    m.push("a", true, None).await.unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(3 * 3600)).await;
    assert_eq!(kinds(&got), vec![Trigger::Resolved]);
}

#[tokio::test(start_paused = true)]
async fn flapping_raises_one_alert_then_the_settled_status() {
    let (m, mut sub) = monitor(
        &["a"],
        json!({"alerts": [{"name": "r", "for": "1m", "on": ["down", "resolved", "flapping"],
                           "flapping": {"changes": 4, "within": "10m"}}]}),
        None,
    );
    // Eight changes, 20 s apart: under `for`, so no down alert; one flapping alert.
    for i in 0..8 {
        m.push("a", i % 2 == 1, None).await.unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    m.push("a", false, None).await.unwrap(); // ends down
    let got = alerts_within(&mut sub, Duration::from_secs(9 * 60)).await;
    assert_eq!(kinds(&got), vec![Trigger::Flapping]);
    // Quiet for the window: flapping ends and the check, still down, is alerted on.
    let got = alerts_within(&mut sub, Duration::from_secs(120)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down]);
    m.push("a", true, None).await.unwrap();
    assert_eq!(
        kinds(&alerts_within(&mut sub, Duration::from_secs(5)).await),
        vec![Trigger::Resolved]
    );
}

#[tokio::test(start_paused = true)]
async fn weekly_maintenance_in_a_time_zone_holds_alerts_until_it_ends() {
    // Saturday 2026-12-05, 00:59 UTC = 01:59 in Paris; the window is 02:00-03:00 Paris time.
    let clock = Clock::following_tokio("2026-12-05T00:59:00Z".parse().unwrap());
    let (m, mut sub) = monitor(
        &["a", "b"],
        json!({
            "alerts": [{"name": "r", "for": "1m"}],
            "maintenance": [{"name": "night", "checks": ["a"], "weekdays": ["sat"], "start": "02:00",
                             "end": "03:00", "timezone": "Europe/Paris"}]
        }),
        Some(clock),
    );
    tokio::time::sleep(Duration::from_secs(120)).await; // 01:01 UTC, inside the window
    m.push("a", false, None).await.unwrap();
    m.push("b", false, None).await.unwrap(); // not covered: alerts as usual
    let got = alerts_within(&mut sub, Duration::from_secs(50 * 60)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.check, "b");
    assert!(m.status().alerts.held >= 1);
    // The window closes at 03:00 Paris = 02:00 UTC: `a`, still down, is alerted on then.
    let got = alerts_within(&mut sub, Duration::from_secs(20 * 60)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down]);
    let a = &got[0].1;
    assert_eq!(a.check, "a");
    let at = a.at;
    assert!(
        at >= "2026-12-05T02:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
            && at < "2026-12-05T02:00:02Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
        "{at}"
    );
}

#[tokio::test(start_paused = true)]
async fn mute_holds_back_alerts_and_recovery_during_mute_sends_nothing() {
    let (m, mut sub) = monitor(&["a", "b"], json!({"alerts": [{"name": "r", "for": "30s"}]}), None);
    m.mute("a", Duration::from_secs(600)).await.unwrap();
    m.push("a", false, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(590)).await.is_empty());
    let got = alerts_within(&mut sub, Duration::from_secs(20)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down]);
    // Muted again; down and back up inside the mute: nothing at all.
    m.push("a", true, None).await.unwrap();
    assert_eq!(
        kinds(&alerts_within(&mut sub, Duration::from_secs(1)).await),
        vec![Trigger::Resolved]
    );
    m.mute("a", Duration::from_secs(600)).await.unwrap();
    m.push("a", false, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    m.push("a", true, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(900)).await.is_empty());
    // Other checks were never muted.
    m.unmute("a").await.unwrap();
    m.push("b", false, None).await.unwrap();
    assert_eq!(alerts_within(&mut sub, Duration::from_secs(40)).await.len(), 1);
}

/// One request a receiver saw: its path, body (parsed), whether the signature verified, headers.
type Received = (String, Value, bool, HeaderMap);

/// What a receiver saw.
#[derive(Clone, Default)]
struct Seen {
    bodies: Arc<Mutex<Vec<Received>>>,
}

async fn record(State((seen, path)): State<(Seen, &'static str)>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get("x-upwatch-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let ok = sig == signature(b"hmac-secret-value", &body);
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.bodies.lock().unwrap().push((path.to_string(), v, ok, headers));
    StatusCode::NO_CONTENT
}

fn receiver(seen: &Seen) -> Router {
    let mut r = Router::new();
    for path in ["/hook", "/slack", "/discord", "/teams"] {
        r = r.route(path, post(record).with_state((seen.clone(), path)));
    }
    r
}

async fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + within;
    while !f() {
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn webhook_is_signed_and_chat_notifiers_get_their_shapes() {
    let seen = Seen::default();
    let target = upwatch_testbed::serve_http(Some(receiver(&seen))).await.unwrap();
    let hook = target.url("/hook");
    let m = Monitor::builder().build();
    m.load(spec(json!({
        "checks": [push("api")],
        "notifiers": [
            {"name": "hook", "kind": "webhook", "url": hook, "secret": "${HOOK_SECRET}",
             "headers": {"authorization": "Bearer ${HOOK_TOKEN}"}},
            {"name": "slack", "kind": "slack", "url": target.url("/slack")},
            {"name": "discord", "kind": "discord", "url": target.url("/discord")},
            {"name": "teams", "kind": "teams", "url": target.url("/teams")}
        ],
        "alerts": [{"name": "api", "notify": ["hook", "slack", "discord", "teams"]}]
    })))
    .unwrap();
    let mut delivered = m.subscribe(Filter::default().kinds([EventKind::AlertDelivered]));
    m.start();
    wait_until("a host sample", Duration::from_secs(20), || m.host().is_some()).await;
    m.push("api", false, Some("500 from <db>".into())).await.unwrap();
    wait_until("4 deliveries", Duration::from_secs(20), || {
        seen.bodies.lock().unwrap().len() == 4
    })
    .await;
    m.push("api", true, None).await.unwrap();
    wait_until("8 deliveries", Duration::from_secs(20), || {
        seen.bodies.lock().unwrap().len() == 8
    })
    .await;
    let bodies = seen.bodies.lock().unwrap().clone();
    let of = |p: &str| bodies.iter().filter(|b| b.0 == p).cloned().collect::<Vec<_>>();

    let hooks = of("/hook");
    assert_eq!(hooks.len(), 2);
    for (_, body, signed, headers) in &hooks {
        assert!(signed, "signature did not verify: {body}");
        assert_eq!(body["event"], "alert_fired");
        assert_eq!(headers["authorization"], "Bearer token-secret-value");
        assert_eq!(
            headers["x-upwatch-delivery"].to_str().unwrap(),
            body["id"].as_str().unwrap()
        );
        assert!(headers.contains_key("x-upwatch-timestamp"));
    }
    assert_eq!(hooks[0].1["kind"], "down");
    assert_eq!(hooks[0].1["check"], "api");
    assert!(hooks[0].1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("500 from <db>"));
    assert!(hooks[0].1["host"]["cpu_pct"].is_number(), "{}", hooks[0].1);
    assert!(hooks[0].1["host"]["load"].is_array());
    assert_eq!(hooks[1].1["kind"], "resolved");
    assert!(hooks[1].1.get("host").is_none());

    let slack = &of("/slack")[0].1;
    assert!(slack["text"].as_str().unwrap().contains("&lt;db&gt;"), "{slack}");
    assert!(slack["attachments"][0]["color"].is_string());
    let discord = &of("/discord")[0].1;
    assert!(discord["embeds"][0]["title"].as_str().unwrap().contains("api"));
    assert!(discord["embeds"][0]["color"].is_u64());
    let teams = &of("/teams")[0].1;
    assert_eq!(teams["@type"], "MessageCard");
    assert!(teams["sections"][0]["facts"].is_array());

    let mut n = 0;
    while n < 8 {
        match tokio::time::timeout(Duration::from_secs(5), delivered.recv()).await {
            Ok(Some(Delivery::Event(e))) if matches!(&*e, Event::AlertDelivered { attempts: 1, .. }) => n += 1,
            other => panic!("{other:?}"),
        }
    }
    let status = m.status();
    assert_eq!(
        (status.alerts.fired, status.alerts.delivered, status.alerts.queued),
        (2, 8, 0)
    );
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains("hmac-secret-value") && !text.contains("token-secret-value"));
    m.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_then_returns_gets_every_alert_once_in_order() {
    // A port with nothing listening yet.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let m = Monitor::builder().build();
    m.load(spec(json!({
        "checks": [push("a"), push("b")],
        "notifiers": [{"name": "hook", "kind": "webhook", "url": format!("http://{addr}/hook"),
                       "secret": "${HOOK_SECRET}", "timeout": "1s", "backoff": "50ms", "max_backoff": "300ms",
                       "max_attempts": 1000}],
        "alerts": [{"name": "r", "notify": ["hook"]}]
    })))
    .unwrap();
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.start();
    for _ in 0..3 {
        for check in ["a", "b"] {
            m.push(check, false, None).await.unwrap();
        }
        for check in ["b", "a"] {
            m.push(check, true, None).await.unwrap();
        }
    }
    // Failures are events and show in status(), without the URL.
    match tokio::time::timeout(Duration::from_secs(10), failures.recv()).await {
        Ok(Some(Delivery::Event(e))) => match &*e {
            Event::AlertDeliveryFailed {
                notifier,
                error,
                gave_up,
                ..
            } => {
                assert_eq!(notifier, "hook");
                assert_eq!(error, "connection_refused");
                assert!(!gave_up);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = m.status();
    assert_eq!(status.alerts.fired, 12);
    assert_eq!(status.alerts.delivered, 0);
    assert!(status.alerts.queued >= 1);
    let failure = status.alerts.last_failure.clone().expect("a failure");
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains(&addr.to_string()) && !text.contains("/hook"), "{text}");
    assert_eq!(failure.notifier, "hook");

    // The receiver comes back on the same address.
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let router = receiver(&seen);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    wait_until("12 deliveries", Duration::from_secs(30), || {
        m.status().alerts.delivered == 12
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies = seen.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 12, "every alert exactly once");
    assert!(bodies.iter().all(|b| b.2), "signatures verify");
    let mut ids: Vec<&str> = bodies.iter().map(|b| b.1["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    for check in ["a", "b"] {
        let seq: Vec<String> = bodies
            .iter()
            .filter(|b| b.1["check"] == check)
            .map(|b| b.1["kind"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            seq,
            ["down", "resolved", "down", "resolved", "down", "resolved"],
            "{check}"
        );
        let order: Vec<u64> = bodies
            .iter()
            .filter(|b| b.1["check"] == check)
            .map(|b| b.1["id"].as_str().unwrap().rsplit('-').next().unwrap().parse().unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }
    assert_eq!(m.status().alerts.queued, 0);
    server.abort();
    m.shutdown().await;
}

#[tokio::test]
async fn a_receiver_answering_500_is_retried_then_given_up() {
    let hits = Arc::new(Mutex::new(0u32));
    let h = hits.clone();
    let router = Router::new().route(
        "/hook",
        post(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }),
    );
    let target = upwatch_testbed::serve_http(Some(router)).await.unwrap();
    let m = Monitor::builder().build();
    m.load(spec(json!({
        "checks": [push("a")],
        "notifiers": [{"name": "hook", "kind": "webhook", "url": target.url("/hook"),
                       "backoff": "10ms", "max_backoff": "20ms", "max_attempts": 3}],
        "alerts": [{"name": "r", "notify": ["hook"]}]
    })))
    .unwrap();
    let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
    m.start();
    m.push("a", false, None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), failures.recv()).await {
            Ok(Some(Delivery::Event(e))) => match &*e {
                Event::AlertDeliveryFailed {
                    attempt,
                    error,
                    gave_up,
                    ..
                } => seen.push((*attempt, error.clone(), *gave_up)),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            (1, "status 500".to_string(), false),
            (2, "status 500".to_string(), false),
            (3, "status 500".to_string(), true)
        ]
    );
    assert_eq!(*hits.lock().unwrap(), 3);
    let a = m.status().alerts;
    assert_eq!((a.failed, a.queued, a.attempts_failed), (1, 0, 3));
    assert_eq!(a.last_failure.unwrap().error, "status 500");
    m.shutdown().await;
}

#[test]
fn the_embed_config_takes_alerting_tables_and_mute_and_status_shows_alerts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen = Seen::default();
    let target = rt.block_on(upwatch_testbed::serve_http(Some(receiver(&seen)))).unwrap();
    let Err(err) = Embedded::from_value(json!({"alerts": [{"name": "r", "notify": ["nobody"]}]})) else {
        panic!("accepted an unknown notifier");
    };
    assert_eq!(err.path(), Some("alerts[0].notify[0]"));

    let e = Embedded::from_value(json!({
        "host_interval": "off",
        "checks": [push("a"), push("b"), push("c")],
        "notifiers": [{"name": "hook", "kind": "webhook", "url": target.url("/hook"), "secret": "hmac-secret-value"}],
        "alerts": [{"name": "r", "notify": ["hook"]}],
        "maintenance": [{"name": "m", "checks": ["b"], "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}]
    }))
    .unwrap();
    e.start().unwrap();
    e.wait(e.mute("c", "1h")).unwrap();
    for check in ["b", "c", "a"] {
        e.wait(e.push(check, false, None)).unwrap();
    }
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while e.status().unwrap().alerts.delivered < 1 {
        assert!(std::time::Instant::now() < end, "no delivery");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let bodies = seen.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "only the check outside maintenance and mute");
    assert_eq!(bodies[0].1["check"], "a");
    assert!(bodies[0].2);
    let status = serde_json::to_value(e.status().unwrap()).unwrap();
    assert_eq!(status["alerts"]["delivered"], 1);
    assert_eq!(status["alerts"]["held"], 2);
    assert!(!status.to_string().contains("hmac-secret-value"));
    e.close();
}

#[tokio::test]
async fn a_burst_beyond_the_event_buffer_still_alerts_on_every_check() {
    // A bus of 16 events and 200 checks going down at once: the rule engine falls behind,
    // is told it missed events, and catches up from the settled statuses.
    let m = Monitor::builder().host_interval(None).event_buffer(16).build();
    let checks: Vec<Value> = (0..200).map(|i| push(&format!("c{i:03}"))).collect();
    m.load(spec(json!({"checks": checks, "alerts": [{"name": "r"}]})))
        .unwrap();
    m.start();
    for i in 0..200 {
        m.push(&format!("c{i:03}"), false, None).await.unwrap();
    }
    wait_until("200 alerts", Duration::from_secs(20), || m.status().alerts.fired >= 200).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.status().alerts.fired, 200);
    for i in 0..200 {
        m.push(&format!("c{i:03}"), true, None).await.unwrap();
    }
    wait_until("200 resolved", Duration::from_secs(20), || {
        m.status().alerts.fired >= 400
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.status().alerts.fired, 400);
    m.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn still_open_fires_once_the_incident_has_lasted_for_and_repeats() {
    let (m, mut sub) = monitor(
        &["a"],
        json!({"alerts": [{"name": "long", "on": ["still_open", "resolved"], "for": "1h", "repeat": "4h"}]}),
        None,
    );
    m.push("a", false, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(3599)).await.is_empty());
    let got = alerts_within(&mut sub, Duration::from_secs(2)).await;
    assert_eq!(kinds(&got), vec![Trigger::StillOpen]);
    assert!(
        got[0].1.message.contains("still open after 1.0h"),
        "{}",
        got[0].1.message
    );
    assert!(got[0].1.incident.is_some());
    let got = alerts_within(&mut sub, Duration::from_secs(4 * 3600)).await;
    assert_eq!(kinds(&got), vec![Trigger::StillOpen]);
    assert_eq!(got[0].1.repeat, 1);
    m.push("a", true, None).await.unwrap();
    assert_eq!(
        kinds(&alerts_within(&mut sub, Duration::from_secs(8 * 3600)).await),
        vec![Trigger::Resolved]
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_incident_still_open_reminds_and_its_resolve_ends_it() {
    let m = Monitor::builder().host_interval(None).build();
    m.load(spec(json!({
        "checks": [{"name": "pay", "kind": "push", "interval": "24h", "service": "shop"}],
        "alerts": [{"name": "long", "scope": "service", "on": ["still_open", "resolved"], "for": "1h", "repeat": "4h"}]
    })))
    .unwrap();
    let mut sub = m.subscribe(Filter::default().kinds([EventKind::AlertFired]));
    m.start();
    m.push("pay", true, None).await.unwrap();
    m.push("pay", false, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(3599)).await.is_empty());
    let got = alerts_within(&mut sub, Duration::from_secs(2)).await;
    assert_eq!(kinds(&got), vec![Trigger::StillOpen]);
    assert!(got[0]
        .1
        .incident
        .as_deref()
        .is_some_and(|i| i.starts_with("service:shop@")));
    let got = alerts_within(&mut sub, Duration::from_secs(4 * 3600)).await;
    assert_eq!((kinds(&got), got[0].1.repeat), (vec![Trigger::StillOpen], 1));
    m.push("pay", true, None).await.unwrap();
    // Resolved once; no reminder after it.
    assert_eq!(
        kinds(&alerts_within(&mut sub, Duration::from_secs(8 * 3600)).await),
        vec![Trigger::Resolved]
    );
    m.shutdown().await;
}

#[tokio::test]
async fn alerts_left_in_the_sqlite_outbox_are_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upwatch.db");
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = json!({
        "checks": [push("a")],
        "notifiers": [{"name": "hook", "kind": "webhook", "url": format!("http://{addr}/hook"),
                       "secret": "${HOOK_SECRET}", "timeout": "1s", "backoff": "50ms", "max_backoff": "200ms",
                       "max_attempts": 1000}],
        "alerts": [{"name": "r", "notify": ["hook"]}]
    });
    // First life: the receiver is down; the alert stays in the outbox when the process stops.
    {
        let m = Monitor::builder().sqlite(&db).unwrap().host_interval(None).build();
        m.load(spec(config.clone())).unwrap();
        let mut failures = m.subscribe(Filter::default().kinds([EventKind::AlertDeliveryFailed]));
        m.start();
        m.push("a", false, Some("first life".into())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), failures.recv())
            .await
            .expect("a failed attempt");
        assert_eq!(m.status().alerts.queued, 1);
        m.shutdown().await;
    }
    // Second life: the receiver is back; the kept alert is sent, once.
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let router = receiver(&seen);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let m = Monitor::builder().sqlite(&db).unwrap().host_interval(None).build();
    m.load(spec(config)).unwrap();
    m.start();
    wait_until("the kept alert", Duration::from_secs(20), || {
        m.status().alerts.delivered == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies = seen.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0].1["kind"], "down");
    assert!(bodies[0].1["message"].as_str().unwrap().contains("first life"));
    assert!(bodies[0].2, "signature verifies");
    assert_eq!(m.status().alerts.queued, 0);
    m.shutdown().await;
    server.abort();
    // Delivered: a third life has nothing to send.
    let m = Monitor::builder().sqlite(&db).unwrap().host_interval(None).build();
    m.load(spec(json!({"checks": [push("a")]}))).unwrap();
    m.start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(m.status().alerts.queued, 0);
    m.shutdown().await;
}

/// A stored result of `check` at `at`, taking `ms`.
fn stored(check: &str, at: chrono::DateTime<chrono::Utc>, ms: f64, up: bool) -> Arc<monitor_core::CheckResult> {
    let mut r: monitor_core::CheckResult = serde_json::from_value(json!({
        "check": check, "kind": "push", "status": if up { "up" } else { "down" },
        "at": "2026-01-01T00:00:00Z", "duration_ms": ms
    }))
    .unwrap();
    r.at = at;
    Arc::new(r)
}

#[tokio::test(start_paused = true)]
async fn baseline_and_slo_rules_read_seeded_history() {
    use monitor_core::store::{Batch, SqliteStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("h.db")).unwrap());
    let now = chrono::Utc::now();
    // Seven days every 10 minutes at ~100 ms; `web` fails 1 in 50 (98% < 99.9%).
    let mut batch = Batch::default();
    for i in 1..=(7 * 144) {
        let at = now - chrono::Duration::minutes(10 * i + 20);
        let ms = 90.0 + (i % 21) as f64;
        batch.results.push(stored("api", at, ms, true));
        batch.results.push(stored("web", at, ms, i % 50 != 0));
    }
    // The last 15 minutes: `api` takes ~400 ms, four times its usual.
    for i in 0..15 {
        let at = now - chrono::Duration::seconds(60 * i + 30);
        batch.results.push(stored("api", at, 400.0 + i as f64, true));
        batch.results.push(stored("web", at, 100.0, true));
    }
    store.write(&batch).unwrap();

    let m = Monitor::builder()
        .store(store.clone())
        .host_interval(None)
        .clock(Clock::following_tokio(now))
        .build();
    m.load(spec(json!({
        "checks": [push("api"), push("web")],
        "alerts": [
            {"name": "slow", "checks": ["api", "web"], "for": "2m",
             "baseline": {"percentile": "p95", "recent": "15m", "over": "7d", "factor": 2, "every": "1m"}},
            {"name": "objective", "slo": {"uptime": "99.9%", "window": "30d", "every": "1m"}, "repeat": "1h"}
        ]
    })))
    .unwrap();
    let mut sub = m.subscribe(Filter::default().kinds([EventKind::AlertFired]));
    let t0 = Instant::now();
    m.start();

    let got = alerts_within(&mut sub, Duration::from_secs(150)).await;
    assert_eq!(kinds(&got), vec![Trigger::Slo, Trigger::LatencyBaseline], "{got:?}");
    let (slo_at, slo) = (&got[0].0, &got[0].1);
    assert!(
        *slo_at - t0 < Duration::from_secs(1),
        "no `for`: at the first evaluation"
    );
    assert_eq!((slo.check.as_str(), slo.rule.as_str()), ("web", "objective"));
    let measured = slo.measured.as_ref().expect("measured");
    assert_eq!(measured.metric, "uptime_pct");
    assert!((measured.value - 98.0).abs() < 0.3, "{measured:?}");
    assert_eq!(measured.threshold, 99.9);
    assert!(slo.message.contains("below the 99.900% objective"), "{}", slo.message);

    let (slow_at, slow) = (&got[1].0, &got[1].1);
    let waited = *slow_at - t0;
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(125),
        "`for` 2m after the first breach: {waited:?}"
    );
    assert_eq!(slow.check, "api", "web's latency is its usual");
    let measured = slow.measured.as_ref().expect("measured");
    assert_eq!(measured.metric, "p95_ms");
    assert!((400.0..=420.0).contains(&measured.value), "{measured:?}");
    let baseline = measured.baseline.expect("baseline");
    assert!((95.0..=115.0).contains(&baseline), "{measured:?}");
    assert!((measured.threshold - 2.0 * baseline).abs() < 1e-9);
    assert!(slow.message.contains("x its 7days baseline"), "{}", slow.message);

    // Fast again: fresh results in the recent window bring p95 back; one `resolved` follows.
    tokio::time::sleep(Duration::from_secs(16 * 60)).await;
    let mut fresh = Batch::default();
    let wall = now + chrono::Duration::from_std(t0.elapsed()).unwrap();
    for i in 0..10 {
        fresh
            .results
            .push(stored("api", wall - chrono::Duration::seconds(20 * i + 5), 100.0, true));
    }
    store.write(&fresh).unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(120)).await;
    let resolved: Vec<&Alert> = got.iter().map(|(_, a)| a).filter(|a| a.check == "api").collect();
    assert_eq!(resolved.len(), 1, "{got:?}");
    assert_eq!(resolved[0].kind, Trigger::Resolved);
    assert!(
        resolved[0].message.contains("back within its baseline"),
        "{}",
        resolved[0].message
    );
    // `web` is still below its objective: reminded hourly (`repeat`), nothing else.
    assert!(got.iter().all(|(_, a)| a.check == "api"), "{got:?}");
    let got = alerts_within(&mut sub, Duration::from_secs(45 * 60)).await;
    assert_eq!(kinds(&got), vec![Trigger::Slo]);
    assert_eq!((got[0].1.check.as_str(), got[0].1.repeat), ("web", 1));
    m.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_service_rule_alerts_once_for_the_service_not_per_check() {
    let m = Monitor::builder().host_interval(None).build();
    let check = |name: &str| json!({"name": name, "kind": "push", "interval": "24h", "service": "shop"});
    m.load(spec(json!({
        "services": [{"name": "shop"}],
        "checks": [check("pay"), check("cart"), push("other")],
        "alerts": [{"name": "shop down", "scope": "service", "services": ["shop"], "for": "1m"}]
    })))
    .unwrap();
    let mut sub = m.subscribe(Filter::default().kinds([EventKind::AlertFired]));
    m.start();
    for c in ["pay", "cart", "other"] {
        m.push(c, true, None).await.unwrap();
    }
    let t0 = Instant::now();
    m.push("pay", false, Some("card gateway 502".into())).await.unwrap();
    m.push("cart", false, None).await.unwrap();
    m.push("other", false, None).await.unwrap(); // not in the service: no alert
    let got = alerts_within(&mut sub, Duration::from_secs(300)).await;
    assert_eq!(kinds(&got), vec![Trigger::Down], "{got:?}");
    let (at, a) = &got[0];
    assert!(*at - t0 >= Duration::from_secs(60) && *at - t0 < Duration::from_secs(61));
    assert_eq!((a.check.as_str(), a.service.as_deref()), ("shop", Some("shop")));
    assert!(a.message.starts_with("service shop is down"), "{}", a.message);
    // It names the service's own incident (listed by `incidents()` with scope = service).
    assert!(
        a.incident.as_deref().is_some_and(|i| i.starts_with("service:shop@")),
        "{:?}",
        a.incident
    );
    // With every check critical, one down check degrades the shop and the second takes it down.
    assert!(a.message.contains("after a change of cart"), "{}", a.message);
    // One check back: the service is degraded, not up. Both back: one resolved.
    m.push("pay", true, None).await.unwrap();
    assert!(alerts_within(&mut sub, Duration::from_secs(120)).await.is_empty());
    m.push("cart", true, None).await.unwrap();
    let got = alerts_within(&mut sub, Duration::from_secs(10)).await;
    assert_eq!(kinds(&got), vec![Trigger::Resolved]);
    assert_eq!(got[0].1.message, "service shop is back up");

    let e = Spec::from_value(json!({"alerts": [{"name": "x", "scope": "service", "checks": ["pay"], "on": ["slo"]}]}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("alerts[0].checks: a service rule follows services"), "{e}");
    assert!(
        e.contains(
            "alerts[0].on[0]: a service rule alerts on down, resolved, degraded, flapping or still_open, not slo"
        ),
        "{e}"
    );
    m.shutdown().await;
}
