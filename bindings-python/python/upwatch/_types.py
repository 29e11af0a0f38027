"""TypedDicts for the JSON shapes the engine takes and returns (the same in every language).

Specs may also be given as any ``Mapping[str, Any]``: the engine validates them and reports
every problem with its path (``SpecError.problems``)."""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover
    from typing_extensions import NotRequired, TypedDict

__all__ = [
    "Expect",
    "CheckSpec",
    "ServiceSpec",
    "Retention",
    "MonitorConfig",
    "CheckErrorDict",
    "ResultDict",
    "CheckStatusDict",
    "ServiceStatusDict",
    "StatusDict",
    "StoredResultDict",
    "HistoryPage",
    "StatusChangeDict",
    "ChangesPage",
    "UptimeDict",
    "EventDict",
    "HostSnapshotDict",
]


class Expect(TypedDict, total=False):
    status: Union[int, str, List[Union[int, str]]]
    body_contains: Union[str, List[str]]
    body_not_contains: Union[str, List[str]]
    body_regex: Union[str, List[str]]
    json: Dict[str, Any]
    headers_match: Dict[str, str]
    response_time: str
    certificate_expires_in: str


class CheckSpec(TypedDict, total=False):
    """A check, as in a TOML ``[[checks]]`` table."""

    name: str
    kind: str  # http, tls, dns, tcp, icmp, push, host, callable
    service: str
    tags: List[str]
    interval: str
    timeout: str
    retries: int
    success_threshold: int
    enabled: bool
    description: str
    url: str
    method: str
    headers: Dict[str, str]
    body: str
    follow_redirects: bool
    max_redirects: int
    max_body: Union[int, str]
    bearer_token: str
    basic_auth: Dict[str, str]
    host: str
    port: int
    server_name: str
    tls_skip_verify: bool
    ca_file: str
    query: str
    record_type: str
    nameserver: str
    grace: str
    expect: Expect


class ServiceSpec(TypedDict, total=False):
    name: str
    description: str
    critical: List[str]


class Retention(TypedDict, total=False):
    raw: str
    minute: str
    hour: str
    day: str
    changes: str
    max_bytes: Union[int, str]


class MonitorConfig(TypedDict, total=False):
    """The config of ``Monitor(...)`` and of a config file's ``[monitor]`` table."""

    db: Optional[str]
    lease: str
    host_interval: Union[str, bool]
    max_concurrency: int
    max_per_host: int
    threads: int
    retention: Retention
    checks: List[CheckSpec]
    services: List[ServiceSpec]


class CheckErrorDict(TypedDict):
    kind: str
    message: str


class ResultDict(TypedDict):
    """One attempt's result (``CheckResult.to_dict()``)."""

    check: str
    service: NotRequired[str]
    kind: str
    status: str  # up, degraded, down
    at: str
    duration_ms: float
    phases: Dict[str, Optional[float]]
    observed: Dict[str, Any]
    error: NotRequired[CheckErrorDict]
    failed_assertions: NotRequired[List[Dict[str, Any]]]
    warnings: NotRequired[List[Dict[str, Any]]]


class CheckStatusDict(TypedDict):
    check: str
    service: NotRequired[str]
    kind: str
    tags: NotRequired[List[str]]
    status: Optional[str]
    paused: bool
    consecutive_failures: int
    since: NotRequired[str]
    runs: int
    failures: int
    skipped: int
    last_result: NotRequired[ResultDict]


class ServiceStatusDict(TypedDict):
    service: str
    status: Optional[str]
    checks: List[str]
    critical: NotRequired[List[str]]
    description: NotRequired[str]


class StatusDict(TypedDict):
    """``Monitor.status()``."""

    at: str
    checks: List[CheckStatusDict]
    services: List[ServiceStatusDict]
    history: Dict[str, Any]


class StoredResultDict(TypedDict, total=False):
    check: str
    service: str
    status: str
    at: str
    duration_ms: float
    status_code: int
    error: CheckErrorDict


class HistoryPage(TypedDict):
    items: List[StoredResultDict]
    next_cursor: Optional[str]


class StatusChangeDict(TypedDict, total=False):
    check: str
    service: str
    previous: Optional[str]
    status: str
    at: str
    error: CheckErrorDict


class ChangesPage(TypedDict):
    items: List[StatusChangeDict]
    next_cursor: Optional[str]


class UptimeDict(TypedDict):
    check: str
    service: NotRequired[str]
    count: int
    failures: int
    uptime_pct: Optional[float]
    p50_ms: Optional[float]
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    avg_ms: Optional[float]
    min_ms: Optional[float]
    max_ms: Optional[float]


EventDict = Dict[str, Any]
"""An event: ``{"event": "check_failed", "check": ..., ...}`` (see ``upwatch.Event``)."""

HostSnapshotDict = Dict[str, Any]
"""A host snapshot: cpu, memory, swap, disks, networks, load, uptime, ..."""
