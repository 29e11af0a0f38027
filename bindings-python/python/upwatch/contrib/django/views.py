"""The shared endpoints (:mod:`upwatch.contrib.endpoints`) as Django views, behind
``UPWATCH["permission"]``: a callable ``(request) -> bool`` or its dotted path. The default
lets active staff users in (it needs ``django.contrib.auth``'s middleware)."""

from __future__ import annotations

from typing import Any, Callable

from django.http import HttpRequest, HttpResponse

from .. import endpoints
from . import _import, get_monitor, ready_services, settings_dict

__all__ = ["endpoint", "staff_only", "allow_any"]


def staff_only(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def allow_any(request: HttpRequest) -> bool:
    return True


def _permission() -> Callable[[HttpRequest], bool]:
    value = settings_dict().get("permission", staff_only)
    f = _import(value) if isinstance(value, str) else value
    return f  # type: ignore[no-any-return]


def _respond(r: endpoints.Response) -> HttpResponse:
    return HttpResponse(r.body, status=r.status, content_type=r.content_type)


def endpoint(request: HttpRequest, name: str, **kwargs: Any) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _respond(endpoints.error(405, "method_not_allowed", "only GET"))
    if not _permission()(request):
        return _respond(endpoints.error(403, "forbidden", "not allowed to see upwatch"))
    return _respond(endpoints.handle(get_monitor(), name, request.GET.getlist, ready_services()))
