"""Fork safety: a monitor made before fork() works in the child; processes sharing one SQLite
file elect exactly one to run the checks."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any, List

import pytest

from upwatch import Monitor

from .conftest import HttpTarget, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork")


def _wait_child(pid: int, limit: float = 30.0) -> int:
    until = time.monotonic() + limit
    while time.monotonic() < until:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    raise AssertionError("the child hung")


def test_os_fork_child_uses_the_monitor(target: HttpTarget) -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    m.register({"name": "web", "kind": "http", "url": target.url("/health"), "interval": "1h"})
    m.register({"name": "fn", "kind": "callable", "interval": "1h"}, fn=lambda: "from python")
    seen: List[str] = []
    m.on("check_failed", lambda e: seen.append(str(e.check)))
    m.start()
    m.push("beat")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            r = m.push("beat", ok=False, message="child")
            web = m.run_now("web")[0]
            fn = m.run_now("fn")[0]
            until = time.monotonic() + 10
            while "beat" not in seen and time.monotonic() < until:
                time.sleep(0.01)
            ok = r.status == "down" and web.status == "up" and fn.message == "from python" and "beat" in seen
            code = 0 if ok else 3
            m.close()
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0
    # The parent's engine was not touched by the child.
    assert m.status()["checks"][0]["status"] == "up"
    assert seen == []
    m.close()


def _child_work(m: Monitor, q: "multiprocessing.Queue[Any]") -> None:
    r = m.push("beat", ok=False)
    q.put((r.status, os.getpid()))
    m.close()


def test_multiprocessing_fork_start_method() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    m.start()
    ctx = multiprocessing.get_context("fork")
    q: "multiprocessing.Queue[Any]" = ctx.Queue()
    procs = [ctx.Process(target=_child_work, args=(m, q)) for _ in range(2)]
    for p in procs:
        p.start()
    got = [q.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert [s for s, _ in got] == ["down", "down"]
    assert len({pid for _, pid in got}) == 2
    assert m.push("beat").status == "up"
    m.close()


def _worker(db: str, q: "multiprocessing.Queue[Any]", stop: Any) -> None:
    m = Monitor(db=db, host_interval="off", lease="1s")

    def tick() -> str:
        with open(f"{db}.ran-{os.getpid()}", "a") as f:
            f.write("x")
        return str(os.getpid())

    m.register({"name": "tick", "kind": "callable", "interval": "1s"}, fn=tick)
    m.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    q.put((os.getpid(), m.runs_checks()))
    m.close(grace=1.0)


def test_four_processes_on_one_sqlite_file_one_runs_checks(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("fork")
    q: "multiprocessing.Queue[Any]" = ctx.Queue()
    stop = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(db, q, stop)) for _ in range(4)]
    for p in procs:
        p.start()
    reader = Monitor(db=db, host_interval="off")
    # Wait for results from the one process that runs the checks.
    wait_until(lambda: len(reader.history("tick", limit=50)["items"]) >= 3, limit=30)
    stop.set()
    answers = [q.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    leaders = [pid for pid, runs in answers if runs]
    assert len(leaders) == 1, answers
    ran = sorted(p.name for p in tmp_path.iterdir() if ".ran-" in p.name)
    assert ran == [f"shared.db.ran-{leaders[0]}"], (ran, answers)
    reader.close()


def test_a_python_notifier_works_in_a_forked_child() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    got: List[Any] = []
    m.add_notifier({"name": "pager", "kind": "callable"}, got.append)
    m.add_alert({"name": "beat down", "for": "0s", "notify": ["pager"], "send_resolved": False})
    m.start()
    m.push("beat")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            m.push("beat", ok=False, message="child")
            until = time.monotonic() + 10
            while not got and time.monotonic() < until:
                time.sleep(0.01)
            ok = [(a.check, a.kind) for a in got] == [("beat", "down")]
            ok = ok and m.alerting()["notifiers"][0]["function"]
            code = 0 if ok else 3
            m.close()
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0
    assert got == [] and m.status()["alerts"]["fired"] == 0  # the parent saw nothing
    m.close()
