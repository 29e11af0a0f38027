"""The example's pages: a home page, a health endpoint, and a status page for people."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join

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
    """Every check's status as an HTML table (public here; the JSON endpoints are staff-only)."""
    status = get_monitor().status()
    rows = format_html_join(
        "\n",
        "<tr class='{}'><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                c["status"] or "unknown",
                c["check"],
                c.get("service", ""),
                c["status"] or "unknown",
                f"{c['last_result']['duration_ms']:.0f} ms" if "last_result" in c else "",
            )
            for c in status["checks"]
        ),
    )
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
