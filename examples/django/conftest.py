"""Django settings for the example's tests: a real loopback HTTP target (the checks' URLs),
a temp database for Django and for upwatch."""

from __future__ import annotations

import http.server
import os
import sys
import tempfile
import threading
from pathlib import Path

import django

_tmp = tempfile.mkdtemp(prefix="upwatch-django-")


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path in ("/", "/health") else 404
        body = b'{"status": "UP"}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


TARGET = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
threading.Thread(target=TARGET.serve_forever, daemon=True).start()

os.environ["UPWATCH_TARGET"] = f"http://127.0.0.1:{TARGET.server_address[1]}"
os.environ["UPWATCH_DB"] = str(Path(_tmp) / "upwatch.db")
os.environ["DJANGO_DB"] = str(Path(_tmp) / "django.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
sys.path.insert(0, str(Path(__file__).parent))
django.setup()
