"""Every Monitor call against real loopback targets and real SQLite files."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import List

import pytest

import upwatch
from upwatch import CheckResult, Monitor

from .conftest import HttpTarget, wait_until


def test_register_run_now_status_and_results(target: HttpTarget, tmp_path: Path) -> None:
    with Monitor(db=tmp_path / "h.db", host_interval="off") as m:
        m.register({"name": "health", "kind": "http", "url": target.url("/health"), "interval": "1h", "service": "api"})
        m.register_many(
            [
                {"name": "broken", "kind": "http", "url": target.url("/status/500"), "interval": "1h", "service": "api"},
                {"name": "payments", "kind": "push", "interval": "1h", "tags": ["money"]},
            ]
        )
        results = m.run_now(["health", "broken"])
        by = {r.check: r for r in results}
        assert isinstance(by["health"], CheckResult)
        assert by["health"].status == "up" and by["health"].ok
        assert by["health"].kind == "http" and by["health"].service == "api"
        assert by["health"].duration_ms > 0
        assert by["broken"].status == "down" and not by["broken"].ok
        assert by["broken"].error is not None
        assert by["health"].to_dict()["check"] == "health"
        assert json.loads(json.dumps(by["broken"].to_dict()))["status"] == "down"
        assert "health" in repr(by["health"])

        one = m.run_now("health")
        assert [r.check for r in one] == ["health"]

        status = m.status()
        rows = {c["check"]: c for c in status["checks"]}
        assert rows["broken"]["status"] == "down"
        assert rows["health"]["last_result"]["status"] == "up"
        assert {s["service"]: s["status"] for s in status["services"]}["api"] == "degraded"  # one of two checks down
        assert json.loads(m.status_json())["checks"] == json.loads(json.dumps(status["checks"]))
        assert not m.started
        m.start()
        assert m.started
        assert not m.closed
    assert m.closed


def test_push_record_pause_resume_update_delete(tmp_path: Path) -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    r = m.push("beat")
    assert r.status == "up" and r.check == "beat"
    r = m.push("beat", ok=False, message="disk full")
    assert r.status == "down" and r.message == "disk full"
    r = m.record("beat", ok=True, duration_ms=812, message="HTTP 200")
    assert r.status == "up" and r.duration_ms == 812.0
    m.pause("beat")
    assert [c["paused"] for c in m.status()["checks"]] == [True]
    m.resume("beat")
    assert [c["paused"] for c in m.status()["checks"]] == [False]
    m.update({"name": "beat", "kind": "push", "interval": "2h", "service": "jobs"})
    assert m.status()["checks"][0]["service"] == "jobs"
    m.delete("beat")
    assert m.status()["checks"] == []
    m.close()


def test_history_paging_filters_changes_latest_uptime(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    m = Monitor(db=str(db), host_interval="off")
    m.register_many(
        [
            {"name": "a", "kind": "push", "interval": "1h", "service": "svc", "tags": ["t1"]},
            {"name": "b", "kind": "push", "interval": "1h"},
        ]
    )
    for i in range(5):
        m.push("a", ok=i % 2 == 0)
        time.sleep(0.003)  # distinct milliseconds: the page cursor is (time in ms, check)
    m.push("b", ok=False)
    m.close()  # everything is written before close returns

    m = Monitor(db=db, host_interval="off")
    page = m.history("a", since="1h", limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen: List[str] = [row["at"] for row in page["items"]]
    while page["next_cursor"]:
        page = m.history("a", since="1h", limit=2, cursor=page["next_cursor"])
        seen += [row["at"] for row in page["items"]]
    assert len(seen) == 5
    assert len(m.history(status="down")["items"]) == 3
    assert len(m.history(["a", "b"], status=["down"])["items"]) == 3
    assert len(m.history(service="svc")["items"]) == 5
    assert len(m.history(tag="t1")["items"]) == 5
    assert m.history(until="2000-01-01T00:00:00Z")["items"] == []

    changes = m.status_changes("a")
    assert [c["status"] for c in changes["items"]][:2] == ["up", "down"]
    latest = m.latest()
    assert sorted(r["check"] for r in latest) == ["a", "b"]
    uptime = m.uptime("a", window="24h")
    assert uptime[0]["check"] == "a" and uptime[0]["count"] == 5
    assert uptime[0]["uptime_pct"] == pytest.approx(60.0)
    assert m.uptime(window="7d", service="svc")[0]["check"] == "a"
    m.close()


def test_host_prometheus_and_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "upwatch.toml"
    cfg.write_text(
        '[monitor]\ndb = "from-file.db"\nhost_interval = "off"\n\n'
        '[[checks]]\nname = "beat"\nkind = "push"\ninterval = "1m"\nservice = "jobs"\n'
        '\n[[services]]\nname = "jobs"\n'
    )
    m = Monitor.from_config(cfg)
    m.push("beat", ok=False)
    host = m.host(fresh=True)
    assert host["cpus"] and host["cores"] >= 1 and "memory" in host
    again = m.host()
    assert again["memory"] == host["memory"]  # younger than a second: the same snapshot
    text = m.prometheus()
    assert "upwatch_check_up" in text or "upwatch_check_status" in text
    assert 'check="beat"' in text
    assert m.is_shared()  # a SQLite file may be shared by processes
    m.start()
    wait_until(m.runs_checks)  # alone on the file, this process takes the lease
    m.close()
    assert (tmp_path / "from-file.db").exists()
    with pytest.raises(upwatch.ClosedError):
        m.status()
    with pytest.raises(upwatch.ClosedError):
        m.push("beat")


def test_calls_release_the_gil(target: HttpTarget) -> None:
    """A Python thread keeps running while run_now waits on a slow target."""
    m = Monitor(host_interval="off")
    m.register({"name": "slow", "kind": "http", "url": target.url("/slow"), "interval": "1h", "timeout": "5s"})
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    before = ticks
    [r] = m.run_now("slow")
    stop.set()
    t.join()
    assert r.status == "up"
    assert ticks - before > 200, ticks - before  # ~1.5 s of 1 ms sleeps
    m.close()


def test_monitor_keyword_config(tmp_path: Path) -> None:
    m = Monitor(
        tmp_path / "k.db",
        lease="2s",
        host_interval=False,
        max_concurrency=8,
        max_per_host=2,
        threads=1,
        retention={"raw": "7d", "max_bytes": "10MiB"},
        checks=[{"name": "x", "kind": "push", "interval": "1m", "service": "s"}],
        services=[{"name": "s", "description": "the s"}],
    )
    assert m.status()["services"][0]["description"] == "the s"
    assert "idle" in repr(m)
    m.close()
    assert os.path.exists(tmp_path / "k.db")
