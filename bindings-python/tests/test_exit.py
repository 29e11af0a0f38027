"""Interpreter exit with live listeners, check functions and readers: no hang, no crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPTS = {
    "busy listeners": """
        import threading, time, upwatch
        m = upwatch.Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
        m.register({"name": "fn", "kind": "callable", "interval": "1s"}, fn=lambda: time.sleep(0.05))
        m.on(None, lambda e: time.sleep(0.001))
        m.on("check_failed", lambda e: [i * i for i in range(1000)])
        m.start()
        def pusher():
            while True:
                m.push("beat", ok=False)
        threading.Thread(target=pusher, daemon=True).start()
        time.sleep(0.5)
        print("exiting")
    """,
    "listener blocked at exit": """
        import time, upwatch
        m = upwatch.Monitor(host_interval="off", checks=[{"name": "beat", "kind": "push", "interval": "1h"}])
        entered = []
        m.on("check_failed", lambda e: (entered.append(1), time.sleep(0.5)))
        m.push("beat", ok=False)
        while not entered:
            time.sleep(0.01)
        print("exiting")
    """,
    "reader threads blocked at exit": """
        import threading, time, upwatch
        m = upwatch.Monitor(host_interval="off")
        stream = m.events()
        threading.Thread(target=lambda: list(stream), daemon=True).start()
        threading.Thread(target=lambda: stream.next(timeout=60), daemon=True).start()
        time.sleep(0.2)
        print("exiting")
    """,
    "two monitors, one closed, one not": """
        import upwatch
        a = upwatch.Monitor(host_interval="off", checks=[{"name": "x", "kind": "push", "interval": "1h"}])
        b = upwatch.Monitor(host_interval="1s")
        a.on(None, lambda e: None); b.on(None, lambda e: None)
        b.start(); a.push("x"); a.close()
        print("exiting")
    """,
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_exit_neither_hangs_nor_crashes(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPTS[name])],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.strip() == "exiting"
    assert "panicked" not in proc.stderr and "Fatal" not in proc.stderr, proc.stderr
