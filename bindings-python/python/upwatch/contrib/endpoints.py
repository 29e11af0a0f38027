"""The HTTP endpoints every framework integration serves, independent of the framework.

Under a prefix the application chooses:

- ``GET status``  -> ``Monitor.status()``
- ``GET history?check=&service=&tag=&status=&since=&until=&cursor=&limit=`` -> ``{"items", "next_cursor"}``
- ``GET changes?...`` -> a page of status changes, same shape
- ``GET uptime?check=&service=&tag=&window=30d`` -> ``{"window": "30d", "checks": [...]}``
- ``GET host`` -> a host snapshot
- ``GET metrics`` -> Prometheus text
- ``GET ready`` -> 200 ``{"ready": true, "services": {...}}`` or 503 when a readiness service is down
  (``Monitor.readiness``: the rule lives in the engine, the same for every binding)
- ``GET incidents?`` (the ``history`` parameters) -> a page of incidents, ``{"items", "next_cursor"}``
- ``GET alerts`` -> ``alerts_report()``: ``{"status": (as status()["alerts"]), "alerting": alerting(), "pending": pending_alerts()}``

``check``, ``service``, ``tag`` and ``status`` may be repeated or comma lists. A bad query is
a 400 ``{"error": {"code": "invalid_argument", "field": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import InvalidArgumentError, Monitor, UpwatchError

__all__ = ["Response", "ENDPOINTS", "handle", "PROMETHEUS_CONTENT_TYPE", "JSON_CONTENT_TYPE"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

ENDPOINTS = ("status", "history", "changes", "uptime", "host", "metrics", "ready", "incidents", "alerts")

GetList = Callable[[str], List[str]]
"""The values of a query parameter (``request.GET.getlist`` / ``request.args.getlist``)."""


@dataclass
class Response:
    status: int
    body: str
    content_type: str = JSON_CONTENT_TYPE


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")))


def error(status: int, code: str, message: str, field: Optional[str] = None) -> Response:
    err: Dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return _json({"error": err}, status)


def _list(getlist: GetList, key: str) -> Optional[List[str]]:
    out = [part.strip() for value in getlist(key) for part in value.split(",") if part.strip()]
    return out or None


def _one(getlist: GetList, key: str) -> Optional[str]:
    values = getlist(key)
    return values[-1] if values else None


def _limit(getlist: GetList) -> Optional[int]:
    text = _one(getlist, "limit")
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidArgumentError(
            f"limit: expected a whole number, got {text!r}", code="invalid_argument", path="limit"
        ) from None


def ready(monitor: Monitor, services: Optional[Sequence[str]]) -> Response:
    """200 when none of ``services`` (every declared service when ``None``) is down, else 503."""
    answer = monitor.readiness(None if services is None else list(services))
    return _json(answer, 200 if answer["ready"] else 503)


def alerts(monitor: Monitor) -> Response:
    """Alert counters, the alerting set-up (no secrets) and the outbox."""
    return _json(monitor.alerts_report())


def handle(
    monitor: Monitor,
    endpoint: str,
    getlist: GetList,
    ready_services: Optional[Sequence[str]] = None,
) -> Response:
    """Serves one endpoint; every engine error becomes a JSON error response."""
    try:
        if endpoint == "status":
            return Response(200, monitor.status_json())
        if endpoint in ("history", "changes", "incidents"):
            args: Dict[str, Any] = dict(
                check=_list(getlist, "check"),
                service=_list(getlist, "service"),
                tag=_list(getlist, "tag"),
                status=_list(getlist, "status"),
                since=_one(getlist, "since"),
                until=_one(getlist, "until"),
                cursor=_one(getlist, "cursor"),
                limit=_limit(getlist),
            )
            if endpoint == "history":
                return _json(monitor.history(**args))
            if endpoint == "incidents":
                return _json(monitor.incidents(**args))
            return _json(monitor.status_changes(**args))
        if endpoint == "uptime":
            window = _one(getlist, "window") or "30d"
            rows = monitor.uptime(
                _list(getlist, "check"), window, service=_list(getlist, "service"), tag=_list(getlist, "tag")
            )
            return _json({"window": window, "checks": rows})
        if endpoint == "host":
            return _json(monitor.host())
        if endpoint == "metrics":
            return Response(200, monitor.prometheus(), PROMETHEUS_CONTENT_TYPE)
        if endpoint == "ready":
            return ready(monitor, ready_services)
        if endpoint == "alerts":
            return alerts(monitor)
        return error(404, "not_found", f"no endpoint {endpoint!r}")
    except InvalidArgumentError as e:
        return error(400, e.code, e.message, e.field)
    except UpwatchError as e:
        return error(503 if e.code in ("closed", "forwarded", "store") else 500, e.code, e.message, e.path)
