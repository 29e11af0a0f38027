"""The site's notifier written in Python: a ``callable`` notifier named in ``UPWATCH`` by its
dotted path. It runs on an engine thread; raising makes the engine retry it later."""

from __future__ import annotations

import collections
import logging
from typing import Deque

from upwatch import Alert

logger = logging.getLogger("mysite.alerts")

RECENT: Deque[Alert] = collections.deque(maxlen=100)
"""The latest alerts (what a page for the on-call person could show)."""


def log_alert(alert: Alert) -> None:
    RECENT.append(alert)
    logger.warning("[%s] %s", alert.severity, alert.message)
