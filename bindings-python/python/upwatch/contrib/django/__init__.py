"""Django integration: add ``"upwatch.contrib.django"`` to ``INSTALLED_APPS``, configure it
with ``UPWATCH = {...}`` in settings, and include the endpoints:

    # settings.py
    UPWATCH = {
        "db": BASE_DIR / "upwatch.db",      # default; None keeps history in memory
        "config": BASE_DIR / "upwatch.toml", # optional: checks from a TOML file
        "checks": [{"name": "api", "kind": "http", "url": "https://...", "interval": "30s"}],
        "functions": {"db": "myapp.checks.check_db"},  # callable checks, by name
        "notifiers": [{"name": "pager", "kind": "callable", "fn": "myapp.alerts.page"},
                      {"name": "ops", "kind": "webhook", "url": "https://...", "secret": "..."}],
        "alerts": [{"name": "api down", "checks": ["api"], "for": "2m", "notify": ["pager", "ops"]}],
        "maintenance": [{"name": "backup", "weekdays": ["sun"], "start": "02:00", "end": "03:00",
                         "timezone": "Europe/Paris"}],
        "ready_services": ["api"],          # readiness endpoint (default: every service)
        "permission": "myapp.perms.can_see", # default: active staff users only
        "autostart": True,                  # start scheduling on first use (default)
    }
    # urls.py
    path("upwatch/", include("upwatch.contrib.django.urls"))

The monitor is created lazily, once per process (after a fork, in the child), on the first
request or the first :func:`get_monitor` call. Events are also sent as Django signals
(:mod:`upwatch.contrib.django.signals`).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Optional, Sequence

from ... import Monitor
from .. import add_alerting, alerting_sections

__all__ = ["get_monitor", "reset", "settings_dict"]

_lock = threading.Lock()
_monitor: Optional[Monitor] = None
_pid: Optional[int] = None

MONITOR_KEYS = ("db", "lease", "host_interval", "max_concurrency", "max_per_host", "threads", "retention")


def settings_dict() -> Dict[str, Any]:
    """``settings.UPWATCH`` (an empty dict when unset)."""
    from django.conf import settings

    return dict(getattr(settings, "UPWATCH", {}) or {})


def _import(path: str) -> Any:
    from django.utils.module_loading import import_string

    return import_string(path)


def _function(value: Any) -> Callable[..., Any]:
    f = _import(value) if isinstance(value, str) else value
    if not callable(f):
        raise TypeError(f"UPWATCH functions: {value!r} is not callable")
    return f  # type: ignore[no-any-return]


def build_monitor(conf: Optional[Dict[str, Any]] = None) -> Monitor:
    """A new monitor from ``settings.UPWATCH`` (not started, signals connected)."""
    from django.conf import settings

    from . import signals

    conf = settings_dict() if conf is None else conf
    functions: Dict[str, Any] = dict(conf.get("functions") or {})
    # Notifiers, rules and windows; a callable notifier's "fn" is a function or its dotted path.
    alerting, notifier_functions = alerting_sections(conf)
    if conf.get("config"):
        m = Monitor.from_config(os.fspath(conf["config"]))
    else:
        options: Dict[str, Any] = {k: conf[k] for k in MONITOR_KEYS if k in conf}
        if "db" not in conf and getattr(settings, "BASE_DIR", None) is not None:
            options["db"] = os.path.join(os.fspath(settings.BASE_DIR), "upwatch.db")
        if options.get("db") is not None:
            options["db"] = os.fspath(options["db"])
        # Checks without a Python function go into the config with the services (so a
        # service's `critical` list can name them); callable checks are registered after.
        inline = [dict(spec) for spec in conf.get("checks") or [] if spec.get("name") not in functions]
        if inline:
            options["checks"] = inline
        if conf.get("services"):
            options["services"] = list(conf["services"])
        options.update(alerting)
        m = Monitor(config=options)
    for spec in conf.get("checks") or []:
        name = spec.get("name")
        if name in functions:
            m.register(spec, _function(functions[name]))
        elif conf.get("config"):  # the file's checks plus these
            m.register(spec)
    add_alerting(m, alerting, notifier_functions, _function, in_config=not conf.get("config"))
    m.on(None, signals.forward)
    return m


def get_monitor(start: Optional[bool] = None) -> Monitor:
    """This process's monitor, created on first use (and again in a forked child, where the
    parent's monitor keeps working too, but each process gets its own listeners). Started
    unless ``UPWATCH["autostart"]`` is false (or ``start=False``)."""
    global _monitor, _pid
    pid = os.getpid()
    m = _monitor
    if m is None or _pid != pid or m.closed:
        with _lock:
            if _monitor is None or _pid != pid or _monitor.closed:
                _monitor = build_monitor()
                _pid = pid
            m = _monitor
    if start is None:
        start = bool(settings_dict().get("autostart", True))
    if start and not m.started:
        m.start()
    return m


def reset() -> None:
    """Closes this process's monitor (tests, settings changes); the next use builds a new one."""
    global _monitor
    with _lock:
        if _monitor is not None and _pid == os.getpid():
            _monitor.close(grace=1.0)
        _monitor = None


def ready_services() -> Optional[Sequence[str]]:
    value = settings_dict().get("ready_services")
    return None if value is None else list(value)
