"""Alerting from Python against real things on loopback: a TCP check on a closed port goes
down, rules fire, notifier functions written in Python and a webhook receiver get the alert;
incidents, mutes, maintenance, the alerting view and readiness."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import upwatch
from upwatch import Alert, Event, Monitor

from .conftest import wait_until


class ClosedPort:
    """A loopback TCP port with nothing listening, that can be opened again (check up)."""

    def __init__(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        self.port: int = s.getsockname()[1]
        s.close()
        self.listener: "socket.socket | None" = None

    def open(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.listener = s

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None


@pytest.fixture
def port() -> Iterator[ClosedPort]:
    p = ClosedPort()
    yield p
    p.close()


def _monitor(port: ClosedPort) -> Monitor:
    return Monitor(
        host_interval="off",
        checks=[
            {"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": port.port, "interval": "1h", "timeout": "2s"}
        ],
    )


class Receiver:
    """A webhook receiver: keeps each POST's headers and raw body."""

    def __init__(self) -> None:
        self.posts: List[Tuple[Dict[str, str], bytes]] = []
        received = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_python_notifier_gets_the_alert_after_a_failed_attempt_and_incidents_follow(port: ClosedPort) -> None:
    m = _monitor(port)
    events: List[Event] = []
    kinds = ["alert_fired", "alert_delivery_failed", "alert_delivered", "incident_opened", "incident_resolved"]
    m.on(kinds, events.append)
    calls: List[Tuple[int, Alert]] = []

    def page(alert: Alert) -> None:
        calls.append((threading.get_ident(), alert))
        if len(calls) == 1:
            raise ConnectionError("pager unreachable")

    m.add_notifier({"name": "pager", "kind": "callable", "backoff": "50ms", "max_attempts": 3}, page)
    m.add_alert({"name": "db down", "checks": ["db"], "for": "0s", "notify": ["pager"]})
    m.start()
    assert m.run_now("db")[0].status == "down"
    wait_until(lambda: any(e.kind == "alert_delivered" for e in events))

    assert len(calls) == 2  # one failure, then the retry
    alert = calls[1][1]
    assert (alert.rule, alert.check, alert.kind, alert.severity) == ("db down", "db", "down", "critical")
    assert alert.status == "down" and alert.error is not None and alert.error["kind"] == "connection_refused"
    assert alert.repeat == 0 and "db is down" in alert.message
    assert calls[0][1] == alert and alert.to_dict()["id"] == alert.id  # the same alert, retried
    assert threading.get_ident() not in {ident for ident, _ in calls}

    failed = next(e for e in events if e.kind == "alert_delivery_failed")
    assert failed.get("notifier") == "pager" and failed.get("attempt") == 1 and failed.get("gave_up") is False
    assert "ConnectionError: pager unreachable" in str(failed.get("error"))
    fired = next(e for e in events if e.kind == "alert_fired")
    assert fired.alert == alert and fired.check == "db"
    delivered = next(e for e in events if e.kind == "alert_delivered")
    assert delivered.get("attempts") == 2

    s = m.status()["alerts"]
    assert (s["fired"], s["delivered"], s["attempts_failed"], s["failed"]) == (1, 1, 1, 0)
    assert s["sending"] and s["last_failure"]["notifier"] == "pager"
    assert m.pending_alerts() == []

    # Back up: the incident is resolved, with its duration.
    time.sleep(0.05)
    port.open()
    assert m.run_now("db")[0].status == "up"
    wait_until(lambda: any(e.kind == "incident_resolved" for e in events))
    wait_until(lambda: any(a.kind == "resolved" for _, a in calls))  # send_resolved
    wait_until(lambda: bool(m.incidents("db")["items"]) and not m.incidents("db")["items"][0]["open"])
    page_ = m.incidents("db")
    assert page_["next_cursor"] is None and len(page_["items"]) == 1
    [incident] = page_["items"]
    opened = next(e for e in events if e.kind == "incident_opened")
    assert incident["id"] == opened.get("incident") and incident["check"] == "db"
    assert not incident["open"] and incident["ended"] is not None and incident["duration_ms"] >= 50
    assert [c["status"] for c in incident["changes"]] == ["down", "up"]
    assert incident["first_error"]["kind"] == "connection_refused"
    [stats] = m.incident_stats("db", window="1h")
    assert stats["check"] == "db" and stats["incidents"] == 1
    assert stats["mttr_ms"] == incident["duration_ms"] and stats["downtime_ms"] == incident["duration_ms"]
    assert m.incidents("db", since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z")["items"] == []
    m.close()


def test_an_async_notifier_function_and_the_async_twins(port: ClosedPort) -> None:
    got: List[Alert] = []

    async def page(alert: Alert) -> None:
        await asyncio.sleep(0.01)
        got.append(alert)

    m = _monitor(port)
    m.add_notifier({"name": "pager", "kind": "callable"}, page)
    m.add_alert({"name": "db down", "for": "0s", "notify": ["pager"], "send_resolved": False})
    m.start()
    m.run_now("db")
    wait_until(lambda: len(got) == 1)
    assert got[0].kind == "down" and got[0].check == "db"

    async def main() -> Tuple[upwatch.IncidentsPage, List[upwatch.IncidentStatsDict]]:
        return await m.incidents_async("db"), await m.incident_stats_async("db", "1h")

    wait_until(lambda: bool(m.incidents("db")["items"]))
    page_, stats = asyncio.run(main())
    assert page_["items"][0]["open"] and stats[0]["incidents"] == 1 and stats[0]["mttr_ms"] is None
    m.close()


def test_a_webhook_gets_the_signed_alert_json_and_alerting_shows_no_secret(
    port: ClosedPort, receiver: Receiver
) -> None:
    m = _monitor(port)
    secret = "webhook-s3cret"
    headers = {"Authorization": "Bearer tok-123"}
    m.add_notifier({"name": "ops", "kind": "webhook", "url": receiver.url, "secret": secret, "headers": headers})
    m.add_alert({"name": "db down", "checks": ["db"], "for": "0s", "notify": ["ops"], "send_resolved": False})
    m.start()
    m.run_now("db")
    wait_until(lambda: len(receiver.posts) == 1)
    headers, body = receiver.posts[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-upwatch-signature"] == expected
    assert headers["authorization"] == "Bearer tok-123"
    sent = json.loads(body)
    assert sent["event"] == "alert_fired" and sent["rule"] == "db down" and sent["check"] == "db"
    assert sent["kind"] == "down" and headers["x-upwatch-delivery"] == sent["id"]
    wait_until(lambda: m.status()["alerts"]["delivered"] == 1)

    view = m.alerting()
    text = json.dumps(view)
    assert secret not in text and receiver.url not in text and "tok-123" not in text
    assert str(receiver.server.server_address[1]) not in text
    assert view["notifiers"] == [
        {"name": "ops", "kind": "webhook", "function": False, "timeout_ms": 10000, "max_attempts": 10}
    ]
    assert [r["name"] for r in view["rules"]] == ["db down"] and view["rules"][0]["notify"] == ["ops"]
    report = m.alerts_report()
    assert report["alerting"] == view and report["pending"] == m.pending_alerts()
    assert report["status"] == m.status()["alerts"]
    m.close()


def test_a_mute_holds_the_alert_back(port: ClosedPort) -> None:
    m = _monitor(port)
    calls: List[Alert] = []
    m.add_notifier({"name": "pager", "kind": "callable"}, calls.append)
    m.add_alert({"name": "db down", "for": "0s", "notify": ["pager"]})
    m.mute("db", "30m")
    assert [(x["target"], x["remaining_ms"] > 29 * 60_000) for x in m.alerting()["mutes"]] == [("db", True)]
    held = m.status()["alerts"]["held"]
    m.start()
    assert m.run_now("db")[0].status == "down"
    wait_until(lambda: m.status()["alerts"]["held"] > held)
    time.sleep(0.2)
    assert calls == [] and m.status()["alerts"]["fired"] == 0
    m.unmute("db")
    assert m.alerting()["mutes"] == []
    with pytest.raises(upwatch.InvalidArgumentError) as info:
        m.mute("db", "a while")
    assert info.value.field == "duration"
    m.close()


def test_a_maintenance_window_holds_alerts_and_shows_as_active(port: ClosedPort) -> None:
    m = _monitor(port)
    calls: List[Alert] = []
    m.add_notifier({"name": "pager", "kind": "callable"}, calls.append)
    m.add_alert({"name": "db down", "for": "0s", "notify": ["pager"]})
    m.add_maintenance(
        {"name": "deploy", "checks": ["db"], "from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}
    )
    m.add_maintenance(
        {"name": "backup", "weekdays": ["sun"], "start": "02:00", "end": "02:30", "timezone": "Europe/Paris"}
    )
    windows = {w["name"]: w for w in m.alerting()["maintenance"]}
    assert windows["deploy"]["active"] and windows["deploy"]["schedule"]["type"] == "once"
    assert windows["backup"]["schedule"]["timezone"] == "Europe/Paris"
    m.start()
    m.run_now("db")
    wait_until(lambda: m.status()["alerts"]["held"] >= 1)
    time.sleep(0.2)
    assert calls == []
    assert m.remove_maintenance("deploy") and not m.remove_maintenance("deploy")
    assert [w["name"] for w in m.alerting()["maintenance"]] == ["backup"]
    with pytest.raises(upwatch.SpecError) as info:
        m.add_maintenance({"name": "bad", "from": "2000-01-01T00:00:00Z"})
    assert info.value.path == "to"
    m.close()


def test_spec_errors_name_the_field() -> None:
    m = Monitor(host_interval="off")
    with pytest.raises(upwatch.SpecError) as info:
        m.add_alert({"name": "api down", "for": "2m", "notify": ["nobody"]})
    assert info.value.path == "notify[0]" and "nobody" in str(info.value)
    with pytest.raises(upwatch.SpecError) as info:
        m.add_alert({"name": "api down", "for": "soon"})
    assert info.value.path == "for"
    with pytest.raises(upwatch.SpecError) as info:
        m.add_notifier({"name": "ops", "kind": "pigeon", "url": "http://127.0.0.1:9/"})
    assert info.value.path == "kind"
    # A callable notifier needs its function; other kinds take none.
    with pytest.raises(upwatch.InvalidArgumentError) as bad:
        m.add_notifier({"name": "pager", "kind": "callable"})
    assert bad.value.field == "fn"
    with pytest.raises(upwatch.InvalidArgumentError) as bad:
        m.add_notifier({"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/"}, print)
    assert bad.value.field == "fn"
    with pytest.raises(TypeError):
        m.add_notifier({"name": "pager", "kind": "callable"}, "not a function")  # type: ignore[arg-type]
    assert m.alerting()["notifiers"] == []
    m.close()


def test_add_and_remove_notifiers_and_rules() -> None:
    m = Monitor(
        host_interval="off",
        notifiers=[{"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}],
        alerts=[{"name": "all", "for": "1m", "notify": ["ops"]}],
    )
    m.add_notifier({"name": "pager", "kind": "callable", "timeout": "2s"}, lambda a: None)
    m.add_alert({"name": "all", "for": "5m", "notify": ["ops", "pager"], "severity": "warning"})  # replaces
    view = m.alerting()
    assert [(n["name"], n["function"], n["timeout_ms"]) for n in view["notifiers"]] == [
        ("ops", False, 10000),
        ("pager", True, 2000),
    ]
    [rule] = view["rules"]
    assert rule["severity"] == "warning" and rule["notify"] == ["ops", "pager"] and rule["for"] == "5m"
    assert m.remove_alert("all") and not m.remove_alert("all")
    assert m.remove_notifier("pager") and not m.remove_notifier("pager")
    assert [n["name"] for n in m.alerting()["notifiers"]] == ["ops"]
    m.close()
    with pytest.raises(upwatch.ClosedError):
        m.alerting()


def test_a_slow_notifier_function_times_out(port: ClosedPort) -> None:
    m = _monitor(port)
    failures: List[Event] = []
    m.on("alert_delivery_failed", failures.append)
    m.add_notifier({"name": "slow", "kind": "callable", "timeout": "200ms", "max_attempts": 1}, lambda a: time.sleep(1))
    m.add_alert({"name": "db down", "for": "0s", "notify": ["slow"], "send_resolved": False})
    m.start()
    m.run_now("db")
    wait_until(lambda: len(failures) == 1)
    assert failures[0].get("error") == "timeout" and failures[0].get("gave_up") is True
    wait_until(lambda: m.status()["alerts"]["failed"] == 1)
    m.close()


def test_pending_alerts_while_retrying_and_no_call_after_close(port: ClosedPort) -> None:
    m = _monitor(port)
    calls: List[float] = []

    def broken(alert: Alert) -> None:
        calls.append(time.monotonic())
        raise RuntimeError("still down")

    retry_fast = {"backoff": "50ms", "max_backoff": "50ms", "max_attempts": 1000}
    m.add_notifier({"name": "pager", "kind": "callable", **retry_fast}, broken)
    m.add_alert({"name": "db down", "for": "0s", "notify": ["pager"]})
    m.start()
    m.run_now("db")
    wait_until(lambda: len(calls) >= 3)
    [pending] = m.pending_alerts()
    assert pending["notifier"] == "pager" and pending["alert"]["check"] == "db" and pending["failed_attempts"] >= 1
    assert pending["next_attempt_in_ms"] <= 100
    m.close()
    n = len(calls)
    time.sleep(0.3)
    assert len(calls) == n  # the engine calls no Python once closed


def test_readiness_is_the_engines_answer(port: ClosedPort) -> None:
    m = Monitor(
        host_interval="off",
        checks=[
            {"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": port.port, "interval": "1h", "service": "store"},
            {"name": "beat", "kind": "push", "interval": "1h", "service": "jobs"},
        ],
        services=[{"name": "store"}, {"name": "jobs"}],
    )
    assert m.readiness() == {"ready": True, "services": {"jobs": "unknown", "store": "unknown"}}
    m.run_now("db")
    m.push("beat")
    answer: Dict[str, Any] = dict(m.readiness())
    assert answer == {"ready": False, "services": {"jobs": "up", "store": "down"}}
    assert m.readiness("jobs") == {"ready": True, "services": {"jobs": "up"}}
    assert m.readiness(["jobs", "nope"]) == {"ready": True, "services": {"jobs": "up", "nope": "unknown"}}
    m.close()


def test_a_mute_asked_of_another_monitor_on_the_file_flags_results_and_services_have_incidents(
    port: ClosedPort, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    checks: List[Dict[str, Any]] = [
        {"name": "db", "service": "backend", "kind": "tcp", "host": "127.0.0.1", "port": port.port,
         "interval": "1h", "timeout": "2s"}
    ]
    holder = Monitor(db=db, host_interval="off", lease="1s", checks=checks)
    holder.start()
    wait_until(holder.runs_checks)
    other = Monitor(db=db, host_interval="off", lease="1s", checks=checks)
    other.start()
    time.sleep(0.5)
    assert not other.runs_checks()

    # Asked of the monitor without the lease: held where the checks run, as the call returns.
    other.mute("backend", "1h")
    assert [x["target"] for x in holder.alerting()["mutes"]] == ["backend"]
    down = holder.run_now("db")[0]
    assert down.status == "down" and down.maintenance
    wait_until(lambda: bool(other.history("db")["items"]))
    assert other.history("db")["items"][0]["maintenance"] is True

    # The service went down with its check: an incident of its own, resolved when it is back.
    wait_until(lambda: any(i["scope"] == "service" for i in other.incidents(service="backend")["items"]))
    [service] = [i for i in other.incidents(service="backend")["items"] if i["scope"] == "service"]
    assert service["open"] and service["id"].startswith("service:backend@") and service["check"] == "db"
    asyncio.run(other.unmute_async("backend"))
    port.open()
    up = holder.run_now("db")[0]
    assert up.status == "up" and not up.maintenance
    wait_until(lambda: not [i for i in other.incidents(service="backend")["items"] if i["open"]])
    [service] = [i for i in other.incidents(service="backend")["items"] if i["scope"] == "service"]
    assert [c["status"] for c in service["changes"]] == ["down", "up"]
    other.close()
    holder.close()
