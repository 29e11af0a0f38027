"""The example's pages: a home page, a health endpoint, and a status page for people."""

from __future__ import annotations

from html import escape
from typing import Any, Mapping

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from upwatch.contrib.django import get_monitor


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>upwatch example</h1><p><a href='/status'>status</a></p>")


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "UP"})


def check_database() -> str:
    """A callable check: the Django database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    connection.close()  # runs on an engine thread: do not keep its connection open
    return "database answers"


def status_page(request: HttpRequest) -> HttpResponse:
    """Every check's status as an HTML table (public here; the JSON endpoints are staff-only).

    The rows are built with ``html.escape`` rather than ``format_html_join``: a thousand rows
    through ``format_html`` take some 10 ms, ten times the rest of the page. Names and services
    are escaped; a status is one of four words the engine writes."""
    status = get_monitor().status()
    rows = mark_safe("\n".join(_row(c) for c in status["checks"]))
    services = format_html_join(
        ", ", "{}: {}", ((s["service"], s["status"] or "unknown") for s in status["services"])
    )
    return HttpResponse(
        format_html(
            "<!doctype html><title>status</title><h1>Status</h1><p>{}</p>"
            "<table><tr><th>check</th><th>service</th><th>status</th><th>last</th></tr>\n{}\n</table>",
            services,
            rows,
        )
    )


def _row(check: Mapping[str, Any]) -> str:
    state = check["status"] or "unknown"
    last = check.get("last_result")
    took = f"{last['duration_ms']:.0f} ms" if last else ""
    return (
        f"<tr class='{state}'><td>{escape(check['check'])}</td><td>{escape(check.get('service', ''))}</td>"
        f"<td>{state}</td><td>{took}</td></tr>"
    )
