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
    "NotifierSpec",
    "AlertRuleSpec",
    "MaintenanceSpec",
    "AlertDict",
    "DeliveryFailureDict",
    "AlertsStatusDict",
    "NotifierViewDict",
    "AlertRuleDict",
    "BaselineDict",
    "SloDict",
    "MaintenanceViewDict",
    "MuteDict",
    "AlertingDict",
    "PendingAlertDict",
    "IncidentDict",
    "IncidentsPage",
    "IncidentStatsDict",
    "ReadinessDict",
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
    notifiers: List["NotifierSpec"]
    alerts: List["AlertRuleSpec"]
    maintenance: List["MaintenanceSpec"]


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
    maintenance: NotRequired[bool]  # taken while alerts were held back (maintenance, mute)


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
    alerts: "AlertsStatusDict"


class StoredResultDict(TypedDict, total=False):
    check: str
    service: str
    status: str
    at: str
    duration_ms: float
    status_code: int
    error: CheckErrorDict
    maintenance: bool  # taken while alerts were held back (maintenance, mute)


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


# ---- alerting: the [[notifiers]], [[alerts]] and [[maintenance]] shapes, and what comes back


class NotifierSpec(TypedDict, total=False):
    """A notifier, as in a TOML ``[[notifiers]]`` table. ``url``, ``secret`` and ``headers``
    are secrets: :meth:`upwatch.Monitor.alerting` never shows them."""

    name: str
    kind: str  # webhook, slack, discord, teams, callable
    url: str
    secret: str
    headers: Dict[str, str]
    timeout: str
    max_attempts: int
    backoff: str
    max_backoff: str


class FlappingSpec(TypedDict, total=False):
    changes: int
    within: str


# `for` and `from` are Python keywords: these two use the functional syntax.
AlertRuleSpec = TypedDict(
    "AlertRuleSpec",
    {
        "name": str,
        "on": List[str],  # down, resolved, degraded, still_open, flapping, certificate_expiring, latency_baseline, slo
        "checks": List[str],
        "services": List[str],
        "tags": List[str],
        "for": str,
        "severity": str,  # info, warning, critical
        "notify": List[str],
        "repeat": str,
        "send_resolved": bool,
        "flapping": Union[bool, FlappingSpec],
        "certificate": List[str],
    },
    total=False,
)
"""An alert rule, as in a TOML ``[[alerts]]`` table (``{"name": ..., "for": "2m", "notify": [...]}``)."""

MaintenanceSpec = TypedDict(
    "MaintenanceSpec",
    {
        "name": str,
        "checks": List[str],
        "services": List[str],
        "tags": List[str],
        "from": str,
        "to": str,
        "weekdays": List[str],
        "start": str,
        "end": str,
        "timezone": str,
    },
    total=False,
)
"""A maintenance window, as in a TOML ``[[maintenance]]`` table: one-off (``from``/``to``,
RFC 3339) or weekly (``weekdays``, ``start``, ``end``, ``timezone``)."""


class CertificateBriefDict(TypedDict):
    not_after: str
    days_left: float
    threshold_days: float


class HostBriefDict(TypedDict):
    hostname: str
    cpu_pct: float
    memory_used_pct: float
    load: List[float]
    cores: int
    sampled_at: str


class AlertDict(TypedDict):
    """One alert (``upwatch.Alert.to_dict()``): what notifiers receive, and the body of an
    ``alert_fired`` event (which adds ``"event": "alert_fired"``)."""

    id: str
    rule: str
    kind: str  # down, resolved, degraded, still_open, flapping, certificate_expiring, latency_baseline, slo
    severity: str
    check: str
    service: NotRequired[str]
    tags: NotRequired[List[str]]
    status: NotRequired[str]
    at: str
    since: str
    message: str
    error: NotRequired[CheckErrorDict]
    incident: NotRequired[str]
    repeat: int
    certificate: NotRequired[CertificateBriefDict]
    host: NotRequired[HostBriefDict]


class DeliveryFailureDict(TypedDict):
    notifier: str
    alert: str
    error: str
    at: str


class AlertsStatusDict(TypedDict):
    """``status()["alerts"]``: alert counters of this process."""

    fired: int
    held: int
    queued: int
    delivered: int
    failed: int
    attempts_failed: int
    last_failure: NotRequired[DeliveryFailureDict]
    sending: bool


class NotifierViewDict(TypedDict):
    """A notifier without its URL, secret or headers."""

    name: str
    kind: str
    function: bool
    timeout_ms: int
    max_attempts: int


class BaselineDict(TypedDict):
    """Latency against the check's own history: ``p95 over recent > factor x p95 over over``."""

    percentile: int
    recent: str
    over: str
    factor: float
    min_samples: int
    every: str


class SloDict(TypedDict):
    """An uptime objective over a window."""

    uptime_pct: float
    window: str
    every: str


class FlappingDict(TypedDict):
    changes: int
    within: str


AlertRuleDict = TypedDict(
    "AlertRuleDict",
    {
        "name": str,
        "scope": str,  # check, or service (one alert per service, from its derived status)
        "on": List[str],
        "checks": List[str],
        "services": List[str],
        "tags": List[str],
        "for": str,
        "severity": str,
        "notify": List[str],
        "repeat": Optional[str],
        "send_resolved": bool,
        "flapping": Optional[FlappingDict],
        "certificate": List[str],
        "baseline": BaselineDict,
        "slo": SloDict,
    },
    total=False,
)
"""An alert rule as :meth:`upwatch.Monitor.alerting` shows it (defaults filled in)."""


class MaintenanceViewDict(TypedDict):
    """A maintenance window and whether it is open now. ``schedule`` is
    ``{"type": "once", "from", "to"}`` or ``{"type": "weekly", "weekdays", "start", "end", "timezone"}``."""

    name: str
    checks: List[str]
    services: List[str]
    tags: List[str]
    schedule: Dict[str, Any]
    active: bool


class MuteDict(TypedDict):
    target: str
    remaining_ms: int


class AlertingDict(TypedDict):
    """:meth:`upwatch.Monitor.alerting`: the set-up in force, without secrets."""

    notifiers: List[NotifierViewDict]
    rules: List[AlertRuleDict]
    maintenance: List[MaintenanceViewDict]
    mutes: List[MuteDict]


class PendingAlertDict(TypedDict):
    """One alert waiting in the outbox for one notifier."""

    notifier: str
    alert: AlertDict
    failed_attempts: int
    next_attempt_in_ms: int


class AlertsReportDict(TypedDict):
    """:meth:`upwatch.Monitor.alerts_report`: counters, set-up and outbox in one answer."""

    status: AlertsStatusDict
    alerting: AlertingDict
    pending: List[PendingAlertDict]


class IncidentDict(TypedDict):
    """A check's or a service's incident: from its settled change to down until it is back up.

    For a service (``scope == "service"``), ``check`` is the check whose change took it down.
    """

    id: str
    scope: str  # check, service
    check: str
    service: NotRequired[str]
    started: str
    ended: Optional[str]
    duration_ms: float
    open: bool
    first_error: NotRequired[CheckErrorDict]
    last_error: NotRequired[CheckErrorDict]
    changes: List[StatusChangeDict]


class IncidentsPage(TypedDict):
    items: List[IncidentDict]
    next_cursor: Optional[str]


class IncidentStatsDict(TypedDict):
    """Reliability of one check over a window: incidents, downtime, MTTR and MTBF (ms)."""

    check: str
    incidents: int
    downtime_ms: float
    mttr_ms: Optional[float]
    mtbf_ms: Optional[float]


class ReadinessDict(TypedDict):
    """The ``ready`` endpoint's answer: each service is up, degraded, down or unknown."""

    ready: bool
    services: Dict[str, str]
