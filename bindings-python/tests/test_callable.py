"""Checks written in Python: run on an engine thread with the GIL, same retries and events."""

from __future__ import annotations

import asyncio
import threading
from typing import List, Optional

import pytest

import upwatch
from upwatch import Event, Monitor

from .conftest import wait_until


def test_a_callable_check_passes_fails_and_gives_messages() -> None:
    m = Monitor(host_interval="off")
    calls: List[int] = []
    outcome: List[object] = [None]

    def check_db() -> Optional[object]:
        calls.append(threading.get_ident())
        value = outcome[0]
        if isinstance(value, Exception):
            raise value
        return value

    m.register({"name": "db", "kind": "callable", "interval": "1h"}, fn=check_db)
    [r] = m.run_now("db")
    assert r.status == "up" and r.message is None
    outcome[0] = "42 rows"
    assert m.run_now("db")[0].message == "42 rows"
    outcome[0] = True
    assert m.run_now("db")[0].status == "up"
    outcome[0] = False
    r = m.run_now("db")[0]
    assert r.status == "down" and r.error is not None and "False" in r.error["message"]
    outcome[0] = ConnectionError("db unreachable")
    r = m.run_now("db")[0]
    assert r.status == "down" and r.error is not None
    assert "ConnectionError: db unreachable" in r.error["message"]
    assert threading.get_ident() not in calls  # never on the calling thread
    m.close()


def test_a_coroutine_function_is_run_to_completion() -> None:
    async def check_api() -> str:
        await asyncio.sleep(0.01)
        return "async ok"

    m = Monitor(host_interval="off")
    m.register({"name": "api", "kind": "callable", "interval": "1h"}, fn=check_api)
    [r] = m.run_now("api")
    assert r.status == "up" and r.message == "async ok"
    m.close()


def test_retries_and_events_apply_to_callable_checks() -> None:
    attempts: List[int] = []

    def flaky() -> None:
        attempts.append(1)
        raise RuntimeError("still broken")

    m = Monitor(host_interval="off")
    changes: List[Event] = []
    m.on("check_status_changed", changes.append)
    m.register({"name": "flaky", "kind": "callable", "interval": "1h", "retries": 1}, fn=flaky)
    m.run_now("flaky")
    m.run_now("flaky")
    wait_until(lambda: any(e.status == "down" for e in changes))
    assert len(attempts) == 2
    m.close()


def test_scheduled_callable_checks_run_and_update_keeps_the_function() -> None:
    ran = threading.Event()
    m = Monitor(host_interval="off")
    m.register({"name": "tick", "kind": "callable", "interval": "1s"}, fn=lambda: ran.set())
    m.start()
    assert ran.wait(10)
    m.update({"name": "tick", "kind": "callable", "interval": "1h", "service": "s"})
    assert m.run_now("tick")[0].status == "up"  # still has its function
    m.update({"name": "tick", "kind": "callable", "interval": "1h"}, fn=lambda: "new")
    assert m.run_now("tick")[0].message == "new"
    m.close()


def test_a_callable_check_needs_a_function() -> None:
    m = Monitor(host_interval="off")
    with pytest.raises(upwatch.MissingCallableError):
        m.register({"name": "db", "kind": "callable", "interval": "1h"})
    m.close()
