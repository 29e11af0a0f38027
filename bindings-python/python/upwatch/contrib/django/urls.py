"""``path("upwatch/", include("upwatch.contrib.django.urls"))``: status, history, changes,
uptime, host, metrics, ready, incidents, alerts."""

from __future__ import annotations

from django.urls import path

from ..endpoints import ENDPOINTS
from .views import endpoint

app_name = "upwatch"

urlpatterns = [path(name, endpoint, {"name": name}, name=name) for name in ENDPOINTS]
