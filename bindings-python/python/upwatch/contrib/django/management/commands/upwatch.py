"""``manage.py upwatch run`` (a dedicated monitoring process) and ``manage.py upwatch check``
(runs every check once, prints them, exits 1 when one is down)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import build_monitor


class Command(BaseCommand):
    help = "Runs the upwatch monitor (run) or every check once (check)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="schedule the checks in this process until stopped")
        run.add_argument("--for", dest="duration", type=float, default=None, help="stop after this many seconds")
        run.add_argument("--json", action="store_true", help="print every event as a JSON line")
        check = sub.add_parser("check", help="run every check once; exit 1 when one is down")
        check.add_argument("names", nargs="*", help="only these checks")
        check.add_argument("--json", action="store_true", help="print results as JSON lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "run":
            self._run(options["duration"], options["json"])
        else:
            self._check(options["names"], options["json"])

    def _run(self, duration: Any, as_json: bool) -> None:
        m = build_monitor()
        stop = threading.Event()
        if as_json:
            m.on(None, lambda e: self.stdout.write(json.dumps(e.to_dict())))
        else:
            m.on(
                ["check_status_changed", "service_status_changed"],
                lambda e: self.stdout.write(f"{e.kind}: {e.check or e.service} {e.previous} -> {e.status}"),
            )
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        m.start()
        self.stdout.write(f"upwatch: monitoring {len(m.status()['checks'])} checks (runs checks: {m.runs_checks()})")
        stop.wait(duration)
        m.close()

    def _check(self, names: Any, as_json: bool) -> None:
        m = build_monitor()
        try:
            results = m.run_now(names or None)
        finally:
            m.close()
        down = [r for r in results if r.status == "down"]
        for r in results:
            if as_json:
                self.stdout.write(json.dumps(r.to_dict()))
            else:
                why = f" ({r.error['message']})" if r.error else ""
                self.stdout.write(f"{r.status:>8}  {r.check}  {r.duration_ms:.0f} ms{why}")
        if down:
            raise CommandError(f"{len(down)} of {len(results)} checks down", returncode=1)
        sys.stdout.flush()
