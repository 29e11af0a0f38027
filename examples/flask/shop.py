"""A small Flask app monitoring itself and a dependency with upwatch.

    flask --app examples/flask/shop.py run
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any, Dict, List

from flask import Flask, Request, jsonify
from flask.typing import ResponseReturnValue

from upwatch import Alert, Event
from upwatch.contrib.flask import Upwatch, check_failed

TARGET = os.environ.get("UPWATCH_TARGET", "http://127.0.0.1:5000")
TOKEN = os.environ.get("UPWATCH_TOKEN", "let-me-see")
DB = os.environ.get("SHOP_DB", "shop.sqlite3")


def check_database() -> str:
    """A callable check: the shop's SQLite database answers."""
    with sqlite3.connect(DB) as con:
        (n,) = con.execute("SELECT 1").fetchone()
    return f"database answers {n}"


ALERTS: List[Alert] = []
"""Alerts the shop's notifier received (a real one would page someone)."""


def notify(alert: Alert) -> None:
    """A notifier written in Python (``kind: "callable"``); raising makes the engine retry."""
    ALERTS.append(alert)
    logging.getLogger("shop.alerts").warning("[%s] %s", alert.severity, alert.message)


def token_auth(request: Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {TOKEN}"


def create_app(config: Dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["UPWATCH"] = {
        "db": os.environ.get("UPWATCH_DB", "upwatch.db"),
        "host_interval": "15s",
        "checks": [
            {"name": "home", "kind": "http", "url": f"{TARGET}/", "interval": "30s", "service": "shop"},
            {"name": "health", "kind": "http", "url": f"{TARGET}/health", "interval": "30s", "service": "shop"},
            {"name": "database", "kind": "callable", "interval": "30s", "service": "shop"},
        ],
        "services": [{"name": "shop", "critical": ["health"]}],
        "functions": {"database": check_database},
        "ready_services": ["shop"],
        "notifiers": [{"name": "on-call", "kind": "callable", "fn": notify}],
        "alerts": [{"name": "shop down", "services": ["shop"], "for": "1m", "notify": ["on-call"]}],
    }
    app.config.update(config or {})
    app.extensions["upwatch_failures"] = []
    Upwatch(app, auth=token_auth, url_prefix="/upwatch")

    @app.get("/")
    def home() -> ResponseReturnValue:
        return "<h1>shop</h1>"

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="UP")

    def remember(sender: Flask, event: Event, **extra: Any) -> None:
        sender.extensions["upwatch_failures"].append(event.check)

    check_failed.connect(remember, app)
    app.extensions["upwatch_remember"] = remember  # blinker keeps weak references
    return app


app = create_app()
