"""Fixtures: a real HTTP server on loopback (http.server in a thread) and temp SQLite paths."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Callable, Iterator

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            body = b"status"
        elif self.path.startswith("/slow"):
            time.sleep(1.5)
            code, body = 200, b"slow ok"
        else:
            code, body = 200, b'{"status": "UP", "ok": true}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class HttpTarget:
    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    t = HttpTarget()
    yield t
    t.close()


def wait_until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    until = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > until:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)
