"""Values from the engine come back as plain dicts, lists, str, int, float, bool and None, in
the shapes of the engine's JSON (what Django/Flask endpoints serialize), however the binding
builds them (keys and repeated strings are shared objects; nothing else is)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

from upwatch import Monitor
from upwatch._types import CheckStatusDict, ResultDict, StatusDict

from .conftest import HttpTarget

PLAIN = (dict, list, str, int, float, bool, type(None))


def walk(value: Any, path: str = "$") -> None:
    """Every value is a plain JSON-like object; every key a str."""
    assert type(value) in PLAIN, f"{path}: {type(value).__name__}"
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str, f"{path}: key {k!r}"
            walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            walk(v, f"{path}[{i}]")


def without_at(status: Any) -> Dict[str, Any]:
    """The snapshot but its time (two calls are two snapshots)."""
    return {k: v for k, v in status.items() if k != "at"}


def test_status_is_plain_and_equals_the_engine_json(target: HttpTarget, tmp_path: Path) -> None:
    # Names and messages around the length where strings stop being shared (40 bytes), non-ASCII
    # text, and many distinct short strings (collisions in the binding's small string cache).
    long_name = "n" * 39 + "é"  # 41 bytes
    specs: List[Dict[str, Any]] = [
        {"name": "health", "kind": "http", "url": target.url("/health"), "interval": "1h", "service": "api"},
        {"name": "broken", "kind": "http", "url": target.url("/status/500"), "interval": "1h", "service": "api"},
        {"name": "idle", "kind": "push", "interval": "1h", "tags": ["a", "b"]},
        {"name": long_name, "kind": "push", "interval": "1h", "service": "x" * 40},
        {"name": "café ☕", "kind": "push", "interval": "1h", "service": "ünï"},
    ]
    specs += [{"name": f"c{i}", "kind": "push", "interval": "1h", "service": f"s{i % 7}"} for i in range(300)]
    with Monitor(db=tmp_path / "c.db", host_interval="off") as m:
        m.register_many(specs)
        m.run_now(["health", "broken"])
        m.push(long_name, ok=False, message="m" * 40)
        m.push("café ☕", message="ok ✓")
        for i in range(300):
            m.push(f"c{i}", ok=i % 3 != 0, message=None if i % 2 else f"msg {i % 5}")
        m.pause("idle")
        # The history thread writes in the background: two snapshots agree once it has written
        # all 304 results (2 runs and 302 pushes).
        deadline = time.monotonic() + 10
        while m.status()["history"]["written"] < 304:
            assert time.monotonic() < deadline, m.status()["history"]
            time.sleep(0.02)

        status = m.status()
        walk(status)
        assert without_at(status) == without_at(json.loads(m.status_json()))
        assert set(StatusDict.__annotations__) <= set(status)
        rows = {c["check"]: c for c in status["checks"]}
        for row in rows.values():
            assert set(row) <= set(CheckStatusDict.__annotations__), row.keys()
            if "last_result" in row:
                assert set(row["last_result"]) <= set(ResultDict.__annotations__), row["last_result"].keys()
        assert rows[long_name]["last_result"]["observed"]["message"] == "m" * 40
        assert rows["café ☕"]["service"] == "ünï" and rows["café ☕"]["last_result"]["observed"]["message"] == "ok ✓"
        assert rows["broken"]["last_result"]["error"]["kind"] and rows["health"]["last_result"]["observed"]
        assert rows["idle"]["paused"] is True and rows["idle"]["tags"] == ["a", "b"]

        # Shared strings, separate containers: changing one row changes no other.
        a, b = rows["c1"], rows["c2"]
        assert a["last_result"] is not b["last_result"] and a["last_result"]["phases"] is not b["last_result"]["phases"]
        a["last_result"]["phases"]["dns_ms"] = 1.0
        assert "dns_ms" not in b["last_result"]["phases"]
        assert without_at(m.status()) == without_at(json.loads(m.status_json()))


def test_status_from_threads_at_once() -> None:
    m = Monitor(host_interval="off", checks=[{"name": f"t{i}", "kind": "push", "interval": "1h"} for i in range(200)])
    for i in range(200):
        m.push(f"t{i}", ok=i % 2 == 0)
    want = json.loads(m.status_json())["checks"]
    errors: List[str] = []

    def read() -> None:
        for _ in range(20):
            got = m.status()["checks"]
            if got != want:
                errors.append(repr(got[:1]))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m.close()
    assert errors == []


def test_host_and_results_are_plain() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    host = m.host(fresh=True)
    walk(host)
    assert set(host) == {
        "at", "hostname", "os", "uptime_s", "boot_time", "cpu_pct", "cpus", "cores", "load1", "load5",
        "load15", "memory", "swap", "disks", "networks", "processes", "cgroup",
    }  # fmt: skip
    assert host == json.loads(json.dumps(host))
    assert len(host["cpus"]) == host["cores"] and host["processes"] > 1 and host["uptime_s"] > 0
    assert all(set(n) >= {"name", "rx_bytes", "tx_bytes", "rx_bps", "tx_bps"} for n in host["networks"])
    again = m.host(fresh=True)
    assert again["at"] > host["at"]
    assert all(n["rx_bps"] is not None for n in again["networks"])  # rates since the previous sample
    assert m.host()["at"] == again["at"]  # younger than a second: the same snapshot
    r = m.push("beat", ok=False, message="down")
    walk(r.to_dict())
    assert r.to_dict()["status"] == "down" and r.message == "down"
    m.close()
