"""Every error class, raised by real failures and mapped from the engine's error codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

import upwatch
from upwatch import Monitor

from .conftest import HttpTarget


def test_spec_error_names_every_problem_with_its_path() -> None:
    with pytest.raises(upwatch.SpecError) as info:
        Monitor(config={"lease": "soon", "checks": [{"name": "api", "kind": "http"}]})
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, upwatch.UpwatchError)
    assert e.code == "spec"
    paths = [p for p, _ in e.problems]
    assert "lease" in paths and "checks[0].url" in paths
    assert e.path == e.problems[0][0]
    assert "lease" in str(e)


def test_register_many_problems_carry_the_index() -> None:
    m = Monitor(host_interval="off")
    with pytest.raises(upwatch.SpecError) as info:
        m.register_many(
            [
                {"name": "a", "kind": "push", "interval": "1m"},
                {"name": "b", "kind": "http", "url": "not a url"},
            ]
        )
    assert info.value.path == "[1].url"
    assert m.status()["checks"] == []
    with pytest.raises(upwatch.SpecError) as one:
        m.register({"name": "c", "kind": "http", "url": "http://127.0.0.1/", "expect": {"status": 700}})
    assert one.value.path == "expect.status"
    m.close()


def test_invalid_arguments_name_their_field() -> None:
    m = Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1m"}])
    cases: List[Tuple[Callable[[], object], str]] = [
        (lambda: m.history(limit=0), "limit"),
        (lambda: m.history(since="yesterday"), "since"),
        (lambda: m.history(status="sideways"), "status"),
        (lambda: m.uptime(window="forever"), "window"),
        (lambda: m.record("beat", ok=True, duration_ms=-1), "duration_ms"),
        (lambda: m.on("check_exploded", lambda e: None), "event"),
    ]
    for call, field in cases:
        with pytest.raises(upwatch.InvalidArgumentError) as info:
            call()
        assert isinstance(info.value, ValueError)
        assert info.value.field == field, (info.value.field, field)
        assert info.value.code == "invalid_argument"
    m.close()


def test_unknown_not_a_push_missing_callable(target: HttpTarget) -> None:
    m = Monitor(host_interval="off")
    m.register({"name": "web", "kind": "http", "url": target.url("/"), "interval": "1h"})
    with pytest.raises(upwatch.UnknownCheckError) as unknown:
        m.pause("nope")
    assert isinstance(unknown.value, KeyError) and "nope" in str(unknown.value)
    with pytest.raises(KeyError):
        m.delete("nope")
    with pytest.raises(upwatch.NotAPushCheckError):
        m.push("web")
    with pytest.raises(upwatch.MissingCallableError):
        m.register({"name": "db", "kind": "callable", "interval": "1m"})
    with pytest.raises(TypeError):
        m.register({"name": "db", "kind": "callable", "interval": "1m"}, fn=42)  # type: ignore[arg-type]
    m.close()


def test_duplicate_check_in_one_config() -> None:
    with pytest.raises((upwatch.DuplicateCheckError, upwatch.SpecError)) as info:
        Monitor(
            config={
                "checks": [
                    {"name": "x", "kind": "push", "interval": "1m"},
                    {"name": "x", "kind": "push", "interval": "1m"},
                ]
            }
        )
    assert info.value.code in ("duplicate_check", "spec")


@pytest.mark.skipif(sys.platform != "linux" or __import__("os").geteuid() == 0, reason="root can write anywhere")
def test_store_error_for_an_unwritable_file(tmp_path: Path) -> None:  # pragma: no cover - non-root only
    tmp_path.chmod(0o500)
    with pytest.raises(upwatch.StoreError):
        Monitor(db=tmp_path / "sub" / "x.db")


def test_store_error_for_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "not.db"
    bad.write_bytes(b"this is not a SQLite database at all, just text" * 100)
    with pytest.raises(upwatch.StoreError) as info:
        Monitor(db=bad).status()
    assert info.value.code == "store"


def test_closed_and_timeouts(target: HttpTarget) -> None:
    m = Monitor(host_interval="off")
    m.register({"name": "slow", "kind": "http", "url": target.url("/slow"), "interval": "1h", "timeout": "5s"})
    with pytest.raises(upwatch.CheckTimeout) as info:
        m.run_now("slow", timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    events = m.events("check_failed")
    with pytest.raises(upwatch.CheckTimeout):
        events.next(timeout=0.05)
    m.close()
    with pytest.raises(upwatch.ClosedError):
        m.run_now()
    with pytest.raises(upwatch.ClosedError):
        events.next(timeout=1)


def test_every_error_code_has_its_class() -> None:
    """The classes the engine picks by code (forwarded, host, panic and runtime failures need
    a broken lease holder, /proc or a bug, so their mapping is checked here by class)."""
    expected = {
        "spec": upwatch.SpecError,
        "unknown_check": upwatch.UnknownCheckError,
        "duplicate_check": upwatch.DuplicateCheckError,
        "not_a_push_check": upwatch.NotAPushCheckError,
        "missing_callable": upwatch.MissingCallableError,
        "store": upwatch.StoreError,
        "forwarded": upwatch.ForwardedError,
        "host": upwatch.HostError,
        "invalid_argument": upwatch.InvalidArgumentError,
        "closed": upwatch.ClosedError,
        "panic": upwatch.EnginePanic,
        "runtime": upwatch.EngineStartError,
        "timeout": upwatch.CheckTimeout,
    }
    for code, cls in expected.items():
        assert issubclass(cls, upwatch.UpwatchError)
        assert cls.code == code
        e = cls("boom", code=code, problems=[("a.b", "bad")], path="a.b")
        assert str(e) == "boom" and e.problems == [("a.b", "bad")] and e.path == "a.b"
