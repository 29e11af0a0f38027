"""The Django example through Django's test client, checking real loopback targets."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from upwatch import Event
from upwatch.contrib.django import get_monitor, reset
from upwatch.contrib.django.signals import check_failed, check_succeeded


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    if not User.objects.filter(username="staff").exists():
        User.objects.create_user("staff", password="pw", is_staff=True)
        User.objects.create_user("visitor", password="pw")


@pytest.fixture
def staff() -> Client:
    c = Client()
    c.force_login(User.objects.get(username="staff"))
    return c


@pytest.fixture(autouse=True)
def fresh_monitor(tmp_path: Path) -> Iterator[None]:
    """A new monitor on a new history file for each test."""
    reset()
    with override_settings(UPWATCH={**_settings(), "db": str(tmp_path / "upwatch.db")}):
        yield
        reset()


def _ran(client: Client) -> None:
    """Runs every check once so the endpoints have results."""
    results = get_monitor().run_now()
    assert {r.check: r.status for r in results}["home"] == "up"


def test_the_monitor_starts_lazily_on_the_first_request(staff: Client) -> None:
    assert staff.get("/").status_code == 200
    m = get_monitor(start=False)
    assert m.started
    assert get_monitor() is m  # once per process


def test_status_endpoint_is_staff_only(staff: Client) -> None:
    assert Client().get("/upwatch/status").status_code == 403
    visitor = Client()
    visitor.force_login(User.objects.get(username="visitor"))
    r = visitor.get("/upwatch/status")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    _ran(staff)
    r = staff.get("/upwatch/status")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    checks = {c["check"]: c for c in r.json()["checks"]}
    assert checks["home"]["status"] == "up" and checks["health"]["status"] == "up"
    assert checks["database"]["last_result"]["observed"]["message"] == "database answers"


def test_history_changes_uptime_host_metrics(staff: Client) -> None:
    _ran(staff)
    m = get_monitor()
    m.push("nightly-job", ok=False, message="exit 1")
    time.sleep(0.01)
    m.push("nightly-job", ok=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = staff.get("/upwatch/history", {"check": "home,nightly-job", "limit": "2"}).json()
        if len(page["items"]) == 2 and page["next_cursor"]:  # 3 rows written
            break
        time.sleep(0.05)
    assert len(page["items"]) == 2 and page["next_cursor"]
    more = staff.get("/upwatch/history", {"check": ["home", "nightly-job"], "cursor": page["next_cursor"]}).json()
    assert more["items"]
    downs = staff.get("/upwatch/history?status=down&since=1h").json()
    assert [i["check"] for i in downs["items"]] == ["nightly-job"]
    changes = staff.get("/upwatch/changes", {"check": "nightly-job"}).json()
    assert [c["status"] for c in changes["items"]] == ["up", "down", "up"]  # newest first
    uptime = staff.get("/upwatch/uptime", {"service": "site", "window": "1h"}).json()
    assert uptime["window"] == "1h" and {u["check"] for u in uptime["checks"]} == {"home", "health", "database"}
    host = staff.get("/upwatch/host").json()
    assert host["cores"] >= 1
    metrics = staff.get("/upwatch/metrics")
    assert metrics["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'check="home"' in metrics.content.decode()


def test_bad_queries_are_400_with_the_field(staff: Client) -> None:
    for query, field in [("limit=lots", "limit"), ("limit=0", "limit"), ("since=yesterday", "since")]:
        r = staff.get(f"/upwatch/history?{query}")
        assert r.status_code == 400, query
        assert r.json()["error"]["code"] == "invalid_argument" and r.json()["error"]["field"] == field
    r = staff.get("/upwatch/uptime?window=forever")
    assert r.status_code == 400 and r.json()["error"]["field"] == "window"


def test_ready_turns_503_when_a_ready_service_is_down(staff: Client) -> None:
    _ran(staff)
    r = staff.get("/upwatch/ready")
    assert r.status_code == 200 and r.json() == {"ready": True, "services": {"site": "up"}}
    m = get_monitor()
    # Point "health" at a path the target answers 404 to: the service goes down.
    m.update({"name": "health", "kind": "http", "url": os.environ["UPWATCH_TARGET"] + "/missing", "interval": "30s", "service": "site"})
    assert m.run_now("health")[0].status == "down"
    r = staff.get("/upwatch/ready")
    assert r.status_code == 503 and r.json()["ready"] is False and r.json()["services"]["site"] == "down"
    with override_settings(UPWATCH={**_settings(), "ready_services": ["jobs"]}):
        assert staff.get("/upwatch/ready").status_code == 200


def _settings() -> Dict[str, Any]:
    from django.conf import settings

    return dict(settings.UPWATCH)


def _poll(client: Client, url: str, done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 10
    while True:
        body = client.get(url).json()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_incidents_and_alerts_endpoints_and_a_notifier_from_settings(staff: Client) -> None:
    from mysite.alerts import RECENT

    RECENT.clear()
    secret = "django-webhook-s3cret"
    conf = _settings()
    webhook = {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/", "secret": secret}
    conf["notifiers"] = [*conf["notifiers"], webhook]
    conf["alerts"] = [{"name": "jobs down", "services": ["jobs"], "for": "0s", "notify": ["log"]}]
    with override_settings(UPWATCH={**conf, "db": _settings()["db"]}):
        reset()
        for endpoint in ("incidents", "alerts"):
            assert Client().get(f"/upwatch/{endpoint}").status_code == 403
        m = get_monitor()
        m.push("nightly-job", ok=False, message="exit 1")
        deadline = time.monotonic() + 10
        while not RECENT and time.monotonic() < deadline:
            time.sleep(0.02)
        # The notifier named by its dotted path in settings got the alert.
        assert [(a.rule, a.check, a.kind) for a in RECENT] == [("jobs down", "nightly-job", "down")]
        time.sleep(0.02)
        m.push("nightly-job", ok=True)
        url = "/upwatch/incidents?check=nightly-job"
        page = _poll(staff, url, lambda p: bool(p["items"]) and not p["items"][0]["open"])
        [incident] = page["items"]
        assert incident["check"] == "nightly-job" and incident["ended"] and incident["duration_ms"] >= 20
        assert page["next_cursor"] is None
        assert staff.get("/upwatch/incidents?check=home").json() == {"items": [], "next_cursor": None}
        for query, field in [("limit=0", "limit"), ("since=yesterday", "since"), ("status=sideways", "status")]:
            r = staff.get(f"/upwatch/incidents?{query}")
            assert r.status_code == 400 and r.json()["error"]["field"] == field, query
        alerts = _poll(staff, "/upwatch/alerts", lambda a: a["status"]["delivered"] >= 2)  # down, resolved
        assert secret not in json.dumps(alerts) and "127.0.0.1:9" not in json.dumps(alerts)
        assert alerts["status"]["fired"] == 2 and alerts["status"]["failed"] == 0 and alerts["pending"] == []
        assert [(n["name"], n["kind"], n["function"]) for n in alerts["alerting"]["notifiers"]] == [
            ("log", "callable", True),
            ("ops", "webhook", False),
        ]
        assert [r["name"] for r in alerts["alerting"]["rules"]] == ["jobs down"]
        [window] = alerts["alerting"]["maintenance"]
        assert window["name"] == "nightly backup" and window["schedule"]["timezone"] == "Europe/Paris"


def test_permission_setting_and_signals(staff: Client) -> None:
    got: List[Event] = []

    def receiver(sender: object, event: Event, **kwargs: object) -> None:
        got.append(event)

    check_failed.connect(receiver)
    check_succeeded.connect(receiver)
    try:
        with override_settings(UPWATCH={**_settings(), "permission": "upwatch.contrib.django.views.allow_any"}):
            assert Client().get("/upwatch/status").status_code == 200
            get_monitor().push("nightly-job", ok=False)
            deadline = time.monotonic() + 10
            while not any(e.kind == "check_failed" for e in got) and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        check_failed.disconnect(receiver)
        check_succeeded.disconnect(receiver)
    assert any(e.kind == "check_failed" and e.check == "nightly-job" for e in got)


def test_the_status_page_renders(staff: Client) -> None:
    _ran(staff)
    r = Client().get("/status")
    html = r.content.decode()
    assert r.status_code == 200 and "<td>home</td>" in html and "site: up" in html
    # Names and services are the application's text: escaped in the page.
    get_monitor().register({"name": "<b>x</b>", "kind": "push", "interval": "1h", "service": "a&b"})
    html = Client().get("/status").content.decode()
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td><td>a&amp;b</td>" in html and "<b>x</b>" not in html


def test_management_commands() -> None:
    out = io.StringIO()
    call_command("upwatch", "check", stdout=out)  # every check up: returns normally
    assert "home" in out.getvalue() and "database" in out.getvalue()
    out = io.StringIO()
    call_command("upwatch", "check", "home", "health", "--json", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["check"]: r["status"] for r in rows} == {"home": "up", "health": "up"}
    broken = _settings()
    broken["checks"] = [
        {**c, "url": os.environ["UPWATCH_TARGET"] + "/missing"} if c["name"] == "home" else c for c in broken["checks"]
    ]
    with override_settings(UPWATCH=broken):
        out = io.StringIO()
        with pytest.raises(CommandError) as info:
            call_command("upwatch", "check", stdout=out)
        assert info.value.returncode == 1
        assert "down  home" in out.getvalue()
    out = io.StringIO()
    call_command("upwatch", "run", "--for", "0.5", stdout=out)
    assert "monitoring 4 checks" in out.getvalue()


def test_manage_py_upwatch_check_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "UPWATCH_DB": str(tmp_path / "cli.db")}
    manage = str(Path(__file__).parent / "manage.py")
    ok = subprocess.run([sys.executable, manage, "upwatch", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "up  home" in ok.stdout
    env["UPWATCH_TARGET"] = env["UPWATCH_TARGET"] + "/nothing-here"
    down = subprocess.run([sys.executable, manage, "upwatch", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and "checks down" in down.stderr
