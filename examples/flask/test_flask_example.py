"""The Flask example through Flask's test client, checking real loopback targets."""

from __future__ import annotations

import http.server
import os
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).parent))
import shop  # noqa: E402

from upwatch.contrib.flask import Upwatch  # noqa: E402


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path in ("/", "/health") else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def app(target: str, tmp_path: Path) -> Iterator[Flask]:
    shop.DB = str(tmp_path / "shop.sqlite3")
    conf = dict(shop.create_app().config["UPWATCH"])
    conf["db"] = str(tmp_path / "upwatch.db")
    conf["checks"] = [
        {**c, "url": c["url"].replace(shop.TARGET, target)} if "url" in c else c for c in conf["checks"]
    ]
    app = shop.create_app({"UPWATCH": conf, "TESTING": True})
    yield app
    ext: Upwatch = app.extensions["upwatch"]
    ext.close()


AUTH: Dict[str, str] = {"Authorization": f"Bearer {shop.TOKEN}"}


def test_endpoints_need_the_auth_function(app: Flask) -> None:
    c = app.test_client()
    r = c.get("/upwatch/status")
    assert r.status_code == 403 and r.json is not None and r.json["error"]["code"] == "forbidden"
    assert c.get("/upwatch/status", headers=AUTH).status_code == 200


def test_status_history_uptime_metrics_ready(app: Flask) -> None:
    c: FlaskClient = app.test_client()
    c.get("/")  # the first request starts the monitor
    ext: Upwatch = app.extensions["upwatch"]
    m = ext.monitor()
    assert m.started
    results = {r.check: r for r in m.run_now()}
    assert results["home"].status == "up" and results["database"].message == "database answers 1"
    status = c.get("/upwatch/status", headers=AUTH).get_json()
    assert {x["check"]: x["status"] for x in status["checks"]} == {"home": "up", "health": "up", "database": "up"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = c.get("/upwatch/history?check=home&check=health&limit=1", headers=AUTH).get_json()
        if page["next_cursor"]:
            break
        time.sleep(0.05)
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = c.get(f"/upwatch/history?check=home,health&cursor={page['next_cursor']}", headers=AUTH).get_json()
    assert len(rest["items"]) == 1
    assert c.get("/upwatch/changes?check=home", headers=AUTH).get_json()["items"][0]["status"] == "up"
    up = c.get("/upwatch/uptime?check=home&window=1h", headers=AUTH).get_json()
    assert up["window"] == "1h" and up["checks"][0]["uptime_pct"] == 100.0
    assert c.get("/upwatch/host", headers=AUTH).get_json()["cores"] >= 1
    metrics = c.get("/upwatch/metrics", headers=AUTH)
    assert metrics.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'check="database"' in metrics.get_data(as_text=True)
    ready = c.get("/upwatch/ready", headers=AUTH)
    assert ready.status_code == 200 and ready.get_json() == {"ready": True, "services": {"shop": "up"}}
    bad = c.get("/upwatch/history?limit=-3", headers=AUTH)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limit"


def test_ready_turns_503_and_signals_fire(app: Flask, target: str) -> None:
    c = app.test_client()
    m = app.extensions["upwatch"].monitor()
    m.run_now()
    m.update({"name": "health", "kind": "http", "url": f"{target}/gone", "interval": "30s", "service": "shop"})
    assert m.run_now("health")[0].status == "down"
    r = c.get("/upwatch/ready", headers=AUTH)
    assert r.status_code == 503 and r.get_json() == {"ready": False, "services": {"shop": "down"}}
    deadline = time.monotonic() + 10
    while "health" not in app.extensions["upwatch_failures"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "health" in app.extensions["upwatch_failures"]


def test_incidents_alerts_and_a_notifier_by_dotted_path(app: Flask, target: str) -> None:
    conf = dict(app.config["UPWATCH"])
    # A notifier given by its dotted path, and a rule that fires at once (before the first
    # request builds the monitor).
    conf["notifiers"] = [{"name": "on-call", "kind": "callable", "fn": "shop.notify", "backoff": "50ms"}]
    conf["alerts"] = [{"name": "shop down", "services": ["shop"], "for": "0s", "notify": ["on-call"]}]
    app.config["UPWATCH"] = conf
    c = app.test_client()
    for endpoint in ("incidents", "alerts"):
        assert c.get(f"/upwatch/{endpoint}").status_code == 403
    shop.ALERTS.clear()
    m = app.extensions["upwatch"].monitor()
    m.run_now()
    m.update({"name": "health", "kind": "http", "url": f"{target}/gone", "interval": "30s", "service": "shop"})
    assert m.run_now("health")[0].status == "down"
    deadline = time.monotonic() + 10
    while not shop.ALERTS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(a.rule, a.check, a.kind) for a in shop.ALERTS] == [("shop down", "health", "down")]
    time.sleep(0.02)
    m.update({"name": "health", "kind": "http", "url": f"{target}/health", "interval": "30s", "service": "shop"})
    assert m.run_now("health")[0].status == "up"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = c.get("/upwatch/incidents?check=health", headers=AUTH).get_json()
        if page["items"] and not page["items"][0]["open"]:
            break
        time.sleep(0.05)
    [incident] = page["items"]
    assert incident["check"] == "health" and incident["ended"] and incident["duration_ms"] >= 20
    bad = c.get("/upwatch/incidents?until=later", headers=AUTH)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "until"
    alerts = c.get("/upwatch/alerts", headers=AUTH).get_json()
    assert alerts["status"]["fired"] >= 1 and alerts["status"]["sending"] is True
    assert alerts["alerting"]["notifiers"][0]["name"] == "on-call" and alerts["alerting"]["notifiers"][0]["function"]
    assert [r["name"] for r in alerts["alerting"]["rules"]] == ["shop down"]
    assert isinstance(alerts["pending"], list)
    ready = c.get("/upwatch/ready", headers=AUTH)
    assert ready.status_code == 200 and ready.get_json() == {"ready": True, "services": {"shop": "up"}}


def test_alerting_settings_on_top_of_a_config_file(tmp_path: Path, target: str) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(
        f"""
[monitor]
host_interval = "off"

[[checks]]
name = "home"
kind = "http"
url = "{target}/"
interval = "1h"

[[notifiers]]
name = "ops"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"""
    )
    app = Flask("configured")
    app.config["UPWATCH"] = {
        "config": str(config),
        "autostart": False,
        "notifiers": [{"name": "on-call", "kind": "callable", "fn": shop.notify}],
        "alerts": [{"name": "all", "for": "5m", "notify": ["ops", "on-call"]}],
        "maintenance": [{"name": "later", "from": "2999-01-01T00:00:00Z", "to": "2999-01-02T00:00:00Z"}],
    }
    ext = Upwatch(app, public=True)
    view = ext.monitor(start=False).alerting()
    assert [(n["name"], n["function"]) for n in view["notifiers"]] == [("on-call", True), ("ops", False)]
    assert [r["notify"] for r in view["rules"]] == [["ops", "on-call"]]
    assert [(w["name"], w["active"]) for w in view["maintenance"]] == [("later", False)]
    ext.close()


def test_public_only_when_asked(target: str, tmp_path: Path) -> None:
    closed = Flask("closed")
    closed.config["UPWATCH"] = {"db": None, "host_interval": "off"}
    Upwatch(closed)
    assert closed.test_client().get("/upwatch/status").status_code == 403
    opened = Flask("opened")
    opened.config["UPWATCH"] = {"host_interval": "off", "autostart": False}
    ext = Upwatch()
    ext.init_app(opened, public=True, url_prefix="/mon")
    r = opened.test_client().get("/mon/status")
    assert r.status_code == 200 and r.get_json()["checks"] == []
    assert not ext.monitor(start=False).started
    ext.close()


def test_flask_upwatch_check_cli(app: Flask, target: str) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["upwatch", "check"])
    assert ok.exit_code == 0, ok.output
    assert "up  home" in ok.output
    conf = dict(app.config["UPWATCH"])
    conf["checks"] = [{**c, "url": f"{target}/gone"} if c["name"] == "home" else c for c in conf["checks"]]
    app.config["UPWATCH"] = conf
    down = runner.invoke(args=["upwatch", "check", "--json"])
    assert down.exit_code == 1
    assert '"status": "down"' in down.output


def test_the_app_module_runs_with_one_command(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "UPWATCH_DB": str(tmp_path / "u.db"), "SHOP_DB": str(tmp_path / "s.db")}
    app_path = str(Path(__file__).parent / "shop.py")
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", app_path, "routes"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "/upwatch/status" in out.stdout and "/upwatch/ready" in out.stdout
