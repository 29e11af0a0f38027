"""Python side of benches/python/compare.sh: per-call cost of the binding, the psutil full
snapshot, and a Django view rendering the status of 1,000 checks. Prints `name: X us/call`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

import upwatch

CHECKS = 1_000
BUDGET = float(os.environ.get("UPWATCH_BENCH_SECONDS", "3"))


def report(name: str, f: Callable[[], object]) -> float:
    for _ in range(3):
        f()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < BUDGET:
        f()
        calls += 1
    per = (time.perf_counter() - start) * 1e6 / calls
    print(f"python/{name}: {per:.1f} us/call ({calls} calls)", flush=True)
    return per


def monitor_with_results() -> upwatch.Monitor:
    """The same engine as the Rust bench: 1,000 push checks that each have a result."""
    m = upwatch.Monitor(host_interval="off")
    m.register_many(
        [{"name": f"check-{i:04}", "kind": "push", "interval": "1h", "service": f"svc-{i % 10}"} for i in range(CHECKS)]
    )
    for i in range(CHECKS):
        m.push(f"check-{i:04}", ok=i % 7 != 0)
    return m


def bench_binding() -> None:
    m = monitor_with_results()
    assert len(m.status()["checks"]) == CHECKS
    report("status_1000_checks", m.status)
    report("status_1000_checks_json", m.status_json)
    report("host_now", lambda: m.host(fresh=True))
    report("host_cached", m.host)
    report("push", lambda: m.push("check-0001"))
    m.close()


def bench_django() -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["upwatch.contrib.django"],
        MIDDLEWARE=[],
        UPWATCH={
            "db": None,
            "host_interval": "off",
            "autostart": False,
            "permission": "upwatch.contrib.django.views.allow_any",
            "checks": [
                {"name": f"check-{i:04}", "kind": "push", "interval": "1h", "service": f"svc-{i % 10}"}
                for i in range(CHECKS)
            ],
        },
    )
    django.setup()
    from django.test import Client

    from upwatch.contrib.django import get_monitor

    m = get_monitor()
    for i in range(CHECKS):
        m.push(f"check-{i:04}", ok=i % 7 != 0)
    c = Client()
    assert len(c.get("/upwatch/status").json()["checks"]) == CHECKS
    page = c.get("/status-page")
    assert page.status_code == 200 and page.content.count(b"<tr") == CHECKS + 1
    report("django_json_status_view_1000_checks", lambda: c.get("/upwatch/status"))
    report("django_html_status_view_1000_checks", lambda: c.get("/status-page"))


def _urls() -> list:  # type: ignore[type-arg]
    from django.urls import include, path

    # The example project's own status page (examples/django/mysite/views.py), not a copy.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "django"))
    from mysite.views import status_page

    return [path("upwatch/", include("upwatch.contrib.django.urls")), path("status-page", status_page)]


def __getattr__(name: str) -> object:  # ROOT_URLCONF = this module
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "binding"
    if what == "binding":
        bench_binding()
    elif what == "django":
        bench_django()
