"""Flask integration.

    from upwatch.contrib.flask import Upwatch
    app.config["UPWATCH"] = {"db": "upwatch.db", "checks": [...], "ready_services": ["api"],
                             "notifiers": [{"name": "pager", "kind": "callable", "fn": page}],
                             "alerts": [{"name": "api down", "for": "2m", "notify": ["pager"]}]}
    upwatch = Upwatch(app, auth=lambda request: request.headers.get("X-Token") == TOKEN)
    # or: upwatch = Upwatch(); upwatch.init_app(app, auth=...)

Serves the shared endpoints (:mod:`upwatch.contrib.endpoints`) on a blueprint under
``url_prefix`` (default ``/upwatch``). Access needs ``auth(request) -> bool``; without one
the endpoints answer 403 unless the app says ``public=True``. The monitor is created lazily,
once per process (again in a forked child), on the first request or :meth:`Upwatch.monitor`,
and started unless ``UPWATCH["autostart"]`` is false. Events are sent as blinker signals
(``upwatch.contrib.flask.check_failed`` ...) with the app as sender. ``flask upwatch check``
runs every check once and exits 1 when one is down.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Callable, Dict, Optional, Sequence

import click
from blinker import Namespace
from flask import Blueprint, Flask, Request, Response, current_app, request

from ... import EVENT_KINDS, Event, Monitor
from .. import add_alerting, alerting_sections, endpoints

__all__ = [
    "Upwatch",
    "signals",
    "check_succeeded",
    "check_failed",
    "check_status_changed",
    "service_status_changed",
    "host_sampled",
    "history_failed",
]

signals = Namespace()
check_succeeded = signals.signal("upwatch.check_succeeded")
check_failed = signals.signal("upwatch.check_failed")
check_status_changed = signals.signal("upwatch.check_status_changed")
service_status_changed = signals.signal("upwatch.service_status_changed")
host_sampled = signals.signal("upwatch.host_sampled")
history_failed = signals.signal("upwatch.history_failed")
SIGNALS = {kind: signals.signal(f"upwatch.{kind}") for kind in EVENT_KINDS}

MONITOR_KEYS = ("db", "lease", "host_interval", "max_concurrency", "max_per_host", "threads", "retention", "services")

Auth = Callable[[Request], bool]


def _function(value: Any) -> Callable[..., Any]:
    """A callable notifier's ``fn``: the function, or its dotted path (``"myapp.alerts.page"``)."""
    if isinstance(value, str):
        from werkzeug.utils import import_string

        value = import_string(value)
    if not callable(value):
        raise TypeError(f"UPWATCH notifiers: {value!r} is not callable")
    return value  # type: ignore[no-any-return]


class Upwatch:
    """The Flask extension: one monitor per process for the app it is bound to."""

    def __init__(
        self,
        app: Optional[Flask] = None,
        *,
        auth: Optional[Auth] = None,
        public: bool = False,
        url_prefix: str = "/upwatch",
    ) -> None:
        self.auth = auth
        self.public = public
        self.url_prefix = url_prefix
        self._lock = threading.Lock()
        self._monitor: Optional[Monitor] = None
        self._pid: Optional[int] = None
        self._app: Optional[Flask] = None
        if app is not None:
            self.init_app(app)

    def init_app(
        self, app: Flask, *, auth: Optional[Auth] = None, public: Optional[bool] = None, url_prefix: Optional[str] = None
    ) -> None:
        if auth is not None:
            self.auth = auth
        if public is not None:
            self.public = public
        if url_prefix is not None:
            self.url_prefix = url_prefix
        self._app = app
        app.extensions["upwatch"] = self
        app.register_blueprint(self._blueprint(), url_prefix=self.url_prefix)
        app.cli.add_command(self._cli())
        if self.config(app).get("autostart", True):
            app.before_request(self._ensure_started)

    # ---- the monitor ------------------------------------------------------------------------

    @staticmethod
    def config(app: Optional[Flask] = None) -> Dict[str, Any]:
        app = app or current_app
        return dict(app.config.get("UPWATCH") or {})

    def build(self, app: Optional[Flask] = None) -> Monitor:
        """A new monitor from ``app.config["UPWATCH"]`` (not started, signals connected)."""
        app = app or self._app or current_app
        conf = self.config(app)
        functions: Dict[str, Any] = dict(conf.get("functions") or {})
        # Notifiers, rules and windows; a callable notifier's "fn" is a function or its dotted path.
        alerting, notifier_functions = alerting_sections(conf)
        if conf.get("config"):
            m = Monitor.from_config(os.fspath(conf["config"]))
        else:
            options = {k: conf[k] for k in MONITOR_KEYS if k in conf}
            options.update(alerting)
            if options.get("db") is not None:
                options["db"] = os.fspath(options["db"])
            # Checks without a Python function go into the config with the services (so a
            # service's `critical` list can name them); callable checks are registered after.
            inline = [dict(spec) for spec in conf.get("checks") or [] if spec.get("name") not in functions]
            if inline:
                options["checks"] = inline
            m = Monitor(config=options)
        for spec in conf.get("checks") or []:
            name = spec.get("name")
            if name in functions or conf.get("config"):
                m.register(spec, functions.get(name))
        add_alerting(m, alerting, notifier_functions, _function, in_config=not conf.get("config"))
        sender = app

        def forward(event: Event) -> None:
            signal = SIGNALS.get(event.kind)
            if signal is not None and signal.receivers:
                signal.send(sender, event=event)

        m.on(None, forward)
        return m

    def monitor(self, start: Optional[bool] = None) -> Monitor:
        """This process's monitor, built on first use; started unless ``autostart`` is false."""
        pid = os.getpid()
        m = self._monitor
        if m is None or self._pid != pid or m.closed:
            with self._lock:
                if self._monitor is None or self._pid != pid or self._monitor.closed:
                    self._monitor = self.build()
                    self._pid = pid
                m = self._monitor
        if start is None:
            start = bool(self.config(self._app).get("autostart", True))
        if start and not m.started:
            m.start()
        return m

    def close(self) -> None:
        with self._lock:
            if self._monitor is not None and self._pid == os.getpid():
                self._monitor.close(grace=1.0)
            self._monitor = None

    def _ensure_started(self) -> None:
        self.monitor()

    # ---- the blueprint ------------------------------------------------------------------------

    def _allowed(self) -> bool:
        if self.auth is not None:
            return bool(self.auth(request))
        return self.public

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("upwatch", __name__)

        def view(name: str) -> Callable[[], Response]:
            def serve() -> Response:
                if not self._allowed():
                    r = endpoints.error(403, "forbidden", "not allowed to see upwatch")
                else:
                    ready: Optional[Sequence[str]] = self.config().get("ready_services")
                    r = endpoints.handle(self.monitor(), name, request.args.getlist, ready)
                return Response(r.body, status=r.status, content_type=r.content_type)

            serve.__name__ = name
            return serve

        for name in endpoints.ENDPOINTS:
            bp.add_url_rule(f"/{name}", endpoint=name, view_func=view(name), methods=["GET"])
        return bp

    # ---- the CLI ------------------------------------------------------------------------------

    def _cli(self) -> click.Group:
        ext = self

        @click.group("upwatch", help="upwatch: run the checks")
        def group() -> None:
            pass

        @group.command("check", help="Run every check once; exit 1 when one is down.")
        @click.argument("names", nargs=-1)
        @click.option("--json", "as_json", is_flag=True, help="print results as JSON lines")
        def check(names: Sequence[str], as_json: bool) -> None:
            m = ext.build(ext._app)
            try:
                results = m.run_now(list(names) or None)
            finally:
                m.close()
            for r in results:
                if as_json:
                    click.echo(json.dumps(r.to_dict()))
                else:
                    why = f" ({r.error['message']})" if r.error else ""
                    click.echo(f"{r.status:>8}  {r.check}  {r.duration_ms:.0f} ms{why}")
            down = [r for r in results if r.status == "down"]
            if down:
                click.echo(f"{len(down)} of {len(results)} checks down", err=True)
                sys.exit(1)

        return group
