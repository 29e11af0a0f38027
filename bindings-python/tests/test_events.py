"""Listeners on the dispatch thread, logged exceptions, event streams (sync and asyncio)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
import threading
from typing import List, Optional, Tuple

import pytest

import upwatch
from upwatch import Event, Monitor

from .conftest import wait_until


def _thread_name() -> str:
    """The OS name of the calling thread (Rust threads are nameless to Python)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
        return f.read().strip()


def test_listeners_run_on_the_dispatch_thread_until_removed() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h", "service": "jobs"}])
    seen: List[Tuple[str, Optional[str], str]] = []
    every: List[str] = []
    lid = m.on("check_failed", lambda e: seen.append((e.kind, e.check, _thread_name())))
    m.on(None, lambda e: every.append(e.kind))
    m.push("beat", ok=False, message="no")
    m.push("beat", ok=True)
    wait_until(lambda: len(seen) == 1 and {"service_status_changed", "check_succeeded"} <= set(every))
    assert seen == [("check_failed", "beat", "upwatch-dispatc")]  # comm keeps 15 characters
    assert threading.get_native_id() != 0
    assert "check_succeeded" in every and "check_status_changed" in every
    assert m.off(lid) and not m.off(lid)
    m.push("beat", ok=False)
    wait_until(lambda: every.count("check_failed") == 2)
    assert len(seen) == 1
    m.close()


def test_event_objects_have_attributes_and_to_dict() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h", "service": "jobs"}])
    got: List[Event] = []
    m.on(["check_failed", "service_status_changed"], got.append)
    m.push("beat", ok=False, message="disk full")
    wait_until(lambda: len(got) == 2)
    failed = next(e for e in got if e.kind == "check_failed")
    assert failed.check == "beat" and failed.status == "down" and failed.service == "jobs"
    assert failed.message == "disk full" and failed.at
    assert failed.result is not None and failed.result.status == "down"
    assert failed.to_dict()["event"] == "check_failed"
    svc = next(e for e in got if e.kind == "service_status_changed")
    assert svc.service == "jobs" and svc.status == "down" and svc.check == "beat" and svc.result is None
    assert svc.get("cause") == {"check": "beat", "status": "down"}
    m.close()


def test_an_exception_in_a_listener_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    after: List[str] = []

    def broken(e: Event) -> None:
        raise RuntimeError("listener bug")

    m.on("check_failed", broken)
    m.on("check_failed", lambda e: after.append(e.kind))
    with caplog.at_level(logging.ERROR, logger="upwatch"):
        m.push("beat", ok=False)
        m.push("beat", ok=False)
        wait_until(lambda: len(after) == 2)
        wait_until(lambda: len([r for r in caplog.records if r.name == "upwatch"]) >= 2)
    record = next(r for r in caplog.records if r.name == "upwatch")
    assert record.exc_info is not None and "listener bug" in str(record.exc_info[1])
    assert m.push("beat").status == "up"  # the engine carries on
    m.close()


def test_a_slow_listener_does_not_delay_checks() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    release = threading.Event()
    m.on("check_succeeded", lambda e: release.wait(5))
    for _ in range(10):
        assert m.push("beat").status == "up"  # returns while the listener is still blocked
    wait_until(lambda: len(m.history("beat", limit=100)["items"]) == 10)
    release.set()
    m.close()


def test_event_stream_sync_iteration_ends_when_closed() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    stream = m.events(["check_succeeded", "check_failed"])
    m.push("beat")
    m.push("beat", ok=False)
    first = stream.next(timeout=5)
    assert (first.kind, first.check) == ("check_succeeded", "beat")
    threading.Timer(0.3, m.close).start()
    rest = [e.kind for e in stream]  # ends when the monitor closes
    assert rest == ["check_failed"]
    assert stream.missed == 0


def test_async_for_events_and_async_twins() -> None:
    async def main() -> List[str]:
        m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
        await m.register_async({"name": "other", "kind": "push", "interval": "1h"})
        got: List[str] = []

        async def consume() -> None:
            async for e in m.events("check_failed"):
                got.append(f"{e.kind}:{e.check}")
                if len(got) == 2:
                    break

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        r = await m.push_async("beat", ok=False)
        assert r.status == "down"
        await m.record_async("other", ok=False, duration_ms=5)
        await asyncio.wait_for(task, 10)
        results = await m.run_now_async(["beat"])
        assert results[0].check == "beat"
        for _ in range(200):  # history is written in batches, off the hot path
            page = await m.history_async("beat", limit=10)
            if page["items"]:
                break
            await asyncio.sleep(0.02)
        assert page["items"]
        assert (await m.status_changes_async("beat"))["items"]
        assert await m.latest_async()
        assert (await m.uptime_async("beat", "1h"))[0]["count"] >= 1
        assert "memory" in await m.host_async()
        await m.pause_async("beat")
        await m.resume_async("beat")
        await m.update_async({"name": "beat", "kind": "push", "interval": "2h"})
        await m.delete_async("other")
        await m.register_many_async([{"name": "third", "kind": "push", "interval": "1h"}])
        with pytest.raises(upwatch.CheckTimeout):
            await m.events().next_async(timeout=0.05)
        await m.close_async()
        return got

    assert asyncio.run(main()) == ["check_failed:beat", "check_failed:other"]


def test_a_cancelled_async_reader_does_not_block() -> None:
    async def main() -> None:
        m = Monitor(host_interval="off")
        task = asyncio.create_task(m.events().__anext__())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        m.close()

    asyncio.run(main())  # returns: the executor slice ends within its poll interval


def test_engine_logs_reach_the_upwatch_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The engine logs with Rust `tracing`; a failed history write reaches logger `upwatch`."""
    db = tmp_path / "x.db"
    m = Monitor(db=db, host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
    m.push("beat")
    wait_until(lambda: bool(m.history("beat")["items"]))
    con = sqlite3.connect(db)
    con.execute("drop table results")
    con.commit()
    con.close()
    failures = m.events("history_failed")
    with caplog.at_level(logging.WARNING, logger="upwatch"):
        upwatch._upwatch._refresh_log_level()
        m.push("beat", ok=False)
        assert failures.next(timeout=10).kind == "history_failed"
        wait_until(lambda: any(r.name.startswith("upwatch.monitor_core") for r in caplog.records))
    record = next(r for r in caplog.records if r.name.startswith("upwatch.monitor_core"))
    assert record.levelno == logging.WARNING and "no such table" in record.getMessage()
    m.close()
