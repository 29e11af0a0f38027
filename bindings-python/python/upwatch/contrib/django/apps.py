from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import request_started


def _first_request(sender: Any, **kwargs: Any) -> None:
    from . import get_monitor

    # Once per process: get_monitor builds and starts it, later calls return at once.
    get_monitor()


class UpwatchConfig(AppConfig):
    """Starts the monitor lazily: on the first request a process serves (so a gunicorn
    ``--preload`` master never runs checks, each worker builds its own engine)."""

    name = "upwatch.contrib.django"
    label = "upwatch"
    verbose_name = "upwatch"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import settings_dict

        if settings_dict().get("autostart", True):
            request_started.connect(_first_request, dispatch_uid="upwatch-first-request")
