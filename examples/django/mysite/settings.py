"""A small Django project monitoring itself with upwatch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "upwatch-example-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "upwatch.contrib.django",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "mysite.urls"
TEMPLATES: List[Dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True

# The site's own pages are its first targets; UPWATCH_TARGET points the checks elsewhere.
TARGET = os.environ.get("UPWATCH_TARGET", "http://127.0.0.1:8000")

UPWATCH: Dict[str, Any] = {
    "db": os.environ.get("UPWATCH_DB", str(BASE_DIR / "upwatch.db")),
    "host_interval": "15s",
    "checks": [
        {"name": "home", "kind": "http", "url": f"{TARGET}/", "interval": "30s", "service": "site"},
        {"name": "health", "kind": "http", "url": f"{TARGET}/health", "interval": "30s", "service": "site"},
        {"name": "database", "kind": "callable", "interval": "30s", "service": "site"},
        {"name": "nightly-job", "kind": "push", "interval": "1d", "grace": "1h", "service": "jobs"},
    ],
    "services": [
        {"name": "site", "description": "the public site", "critical": ["health"]},
        {"name": "jobs", "description": "background jobs"},
    ],
    "functions": {"database": "mysite.views.check_database"},
    "ready_services": ["site"],
    # Alerts: a notifier written in Python (by dotted path) and a rule; a webhook would be
    # {"name": "ops", "kind": "webhook", "url": "https://...", "secret": "..."}.
    "notifiers": [{"name": "log", "kind": "callable", "fn": "mysite.alerts.log_alert"}],
    "alerts": [{"name": "site down", "services": ["site", "jobs"], "for": "1m", "notify": ["log"]}],
    "maintenance": [
        {"name": "nightly backup", "weekdays": ["sun"], "start": "03:00", "end": "03:30", "timezone": "Europe/Paris"}
    ],
}
