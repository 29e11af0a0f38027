"""upwatch: an embeddable monitoring engine (uptime checks, host stats, history) that runs
inside your Python process.

    import upwatch
    m = upwatch.Monitor(db="upwatch.db")
    m.register({"name": "api", "kind": "http", "url": "https://example.com/health", "interval": "30s"})
    m.on("check_failed", lambda e: print(e.check, e.error))
    m.start()
    m.status()

Every call that waits on the engine releases the GIL; ``*_async`` twins run the same call in
the event loop's default executor, so they can be awaited from asyncio (Django async views,
Quart, FastAPI). Errors are subclasses of :class:`UpwatchError`, mapped from the engine's
error codes. The engine logs to the ``upwatch`` logger.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import os
import threading
import weakref
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
)

from . import _upwatch
from ._errors import (
    CheckTimeout,
    ClosedError,
    DuplicateCheckError,
    EnginePanic,
    EngineStartError,
    ForwardedError,
    HostError,
    InvalidArgumentError,
    MissingCallableError,
    NotAPushCheckError,
    SpecError,
    StoreError,
    UnknownCheckError,
    UpwatchError,
)
from ._types import (
    AlertDict,
    AlertingDict,
    AlertsReportDict,
    AlertRuleSpec,
    AlertsStatusDict,
    ChangesPage,
    CheckSpec,
    HistoryPage,
    HostSnapshotDict,
    IncidentDict,
    IncidentsPage,
    IncidentStatsDict,
    MaintenanceSpec,
    MonitorConfig,
    NotifierSpec,
    PendingAlertDict,
    ReadinessDict,
    Retention,
    ResultDict,
    ServiceSpec,
    StatusDict,
    StoredResultDict,
    UptimeDict,
)

__version__: str = _upwatch.__version__

__all__ = [
    "Monitor",
    "CheckResult",
    "Event",
    "Alert",
    "EventStream",
    "EVENT_KINDS",
    "CheckSpec",
    "ServiceSpec",
    "MonitorConfig",
    "NotifierSpec",
    "AlertRuleSpec",
    "MaintenanceSpec",
    "StatusDict",
    "HistoryPage",
    "ChangesPage",
    "UptimeDict",
    "AlertDict",
    "AlertsStatusDict",
    "AlertingDict",
    "PendingAlertDict",
    "IncidentDict",
    "IncidentsPage",
    "IncidentStatsDict",
    "ReadinessDict",
    "UpwatchError",
    "SpecError",
    "InvalidArgumentError",
    "UnknownCheckError",
    "DuplicateCheckError",
    "NotAPushCheckError",
    "MissingCallableError",
    "StoreError",
    "ForwardedError",
    "HostError",
    "ClosedError",
    "EnginePanic",
    "EngineStartError",
    "CheckTimeout",
]

EVENT_KINDS: "tuple[str, ...]" = tuple(_upwatch.EVENT_KINDS)
"""Every event kind: ``check_succeeded``, ``check_failed``, ``check_status_changed``, ..."""

T = TypeVar("T")
Spec = Union[CheckSpec, Mapping[str, Any]]
CheckFunction = Callable[[], Any]
NotifierFunction = Callable[["Alert"], Any]
"""A notifier written in Python: called with each :class:`Alert`; an exception is a failed attempt."""
Names = Union[str, Sequence[str], None]


def _names(value: Names) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class _Shape:
    """A JSON object from the engine behind attributes; ``get`` reads any field."""

    __slots__ = ("_d",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._d: Dict[str, Any] = dict(data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._d.get(key, default)


class _Value(_Shape):
    """A shape compared by value (two equal JSON objects are equal; not hashable)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._d == self._d

    __hash__ = None  # type: ignore[assignment]


class CheckResult(_Value):
    """One attempt's result. Attributes mirror the JSON shape; ``to_dict()`` returns it."""

    __slots__ = ()

    @property
    def check(self) -> str:
        return str(self._d["check"])

    @property
    def service(self) -> Optional[str]:
        return self._d.get("service")

    @property
    def kind(self) -> str:
        return str(self._d.get("kind", ""))

    @property
    def status(self) -> str:
        """``up``, ``degraded`` or ``down``."""
        return str(self._d["status"])

    @property
    def ok(self) -> bool:
        """Whether the attempt passed (up or degraded)."""
        return self.status != "down"

    @property
    def at(self) -> str:
        """When, RFC 3339 (UTC)."""
        return str(self._d["at"])

    @property
    def duration_ms(self) -> float:
        return float(self._d.get("duration_ms", 0.0))

    @property
    def phases(self) -> Dict[str, Optional[float]]:
        return dict(self._d.get("phases") or {})

    @property
    def observed(self) -> Dict[str, Any]:
        return dict(self._d.get("observed") or {})

    @property
    def message(self) -> Optional[str]:
        """The message a push, record or check function gave (``observed.message``)."""
        m = (self._d.get("observed") or {}).get("message")
        return None if m is None else str(m)

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        """``{"kind": ..., "message": ...}`` for a failed attempt."""
        return self._d.get("error")

    @property
    def failed_assertions(self) -> List[Dict[str, Any]]:
        return list(self._d.get("failed_assertions") or [])

    @property
    def warnings(self) -> List[Dict[str, Any]]:
        return list(self._d.get("warnings") or [])

    @property
    def maintenance(self) -> bool:
        """Taken while alerts about the check were held back (a maintenance window or a mute)."""
        return bool(self._d.get("maintenance", False))

    def to_dict(self) -> ResultDict:
        return dict(self._d)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"CheckResult(check={self.check!r}, status={self.status!r}, duration_ms={self.duration_ms:.1f})"


class Event(_Shape):
    """Something that happened: ``kind`` is ``check_failed``, ``service_status_changed``, ...
    Attributes mirror the JSON shape (missing ones are ``None``); ``to_dict()`` returns it."""

    __slots__ = ()

    @property
    def kind(self) -> str:
        return str(self._d["event"])

    @property
    def check(self) -> Optional[str]:
        v = self._d.get("check")
        if v is None and isinstance(self._d.get("cause"), dict):
            v = self._d["cause"].get("check")
        return None if v is None else str(v)

    @property
    def service(self) -> Optional[str]:
        return self._d.get("service")

    @property
    def status(self) -> Optional[str]:
        return self._d.get("status")

    @property
    def previous(self) -> Optional[str]:
        return self._d.get("previous")

    @property
    def at(self) -> Optional[str]:
        return self._d.get("at")

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        return self._d.get("error")

    @property
    def message(self) -> Optional[str]:
        m = self._d.get("message")
        if m is None:
            m = (self._d.get("observed") or {}).get("message")
        return None if m is None else str(m)

    @property
    def result(self) -> Optional[CheckResult]:
        """The attempt's result, for ``check_succeeded`` and ``check_failed``."""
        if self.kind in ("check_succeeded", "check_failed"):
            return CheckResult(self._d)
        return None

    @property
    def alert(self) -> Optional["Alert"]:
        """The alert, for ``alert_fired``."""
        if self.kind == "alert_fired":
            return Alert({k: v for k, v in self._d.items() if k != "event"})
        return None

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._d)

    def __repr__(self) -> str:
        return f"Event(kind={self.kind!r}, check={self.check!r}, status={self.status!r})"


class Alert(_Value):
    """An alert, as a notifier function receives it (and as ``alert_fired`` events carry it).
    Attributes mirror the JSON shape (missing ones are ``None``); ``to_dict()`` returns it."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """Unique id (a webhook's ``X-Upwatch-Delivery``): the same on every retry."""
        return str(self._d["id"])

    @property
    def rule(self) -> str:
        return str(self._d["rule"])

    @property
    def kind(self) -> str:
        """``down``, ``resolved``, ``degraded``, ``still_open``, ``flapping``, ``certificate_expiring``, ``latency_baseline`` or ``slo``."""
        return str(self._d["kind"])

    @property
    def severity(self) -> str:
        """``info``, ``warning`` or ``critical``."""
        return str(self._d["severity"])

    @property
    def check(self) -> str:
        return str(self._d["check"])

    @property
    def service(self) -> Optional[str]:
        return self._d.get("service")

    @property
    def tags(self) -> List[str]:
        return list(self._d.get("tags") or [])

    @property
    def status(self) -> Optional[str]:
        """The check's settled status when the alert fired."""
        return self._d.get("status")

    @property
    def at(self) -> str:
        """When it fired, RFC 3339 (UTC)."""
        return str(self._d["at"])

    @property
    def since(self) -> str:
        """When the condition began (the change to down, the first flap...)."""
        return str(self._d["since"])

    @property
    def message(self) -> str:
        """A sentence for people."""
        return str(self._d.get("message", ""))

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        """``{"kind": ..., "message": ...}``: the error that took the check down."""
        return self._d.get("error")

    @property
    def incident(self) -> Optional[str]:
        """The open incident's id (as in :meth:`Monitor.incidents`)."""
        return self._d.get("incident")

    @property
    def repeat(self) -> int:
        """0 for the first alert, 1.. for reminders."""
        return int(self._d.get("repeat", 0))

    @property
    def certificate(self) -> Optional[Dict[str, Any]]:
        return self._d.get("certificate")

    @property
    def host(self) -> Optional[Dict[str, Any]]:
        """CPU, memory and load of the machine running the check, for failure alerts."""
        return self._d.get("host")

    def to_dict(self) -> AlertDict:
        return dict(self._d)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Alert(rule={self.rule!r}, kind={self.kind!r}, check={self.check!r})"


class EventStream:
    """Events from :meth:`Monitor.events`: ``for e in stream``, ``async for e in stream``
    or ``stream.next(timeout=...)``. Iteration ends when the monitor is closed."""

    _POLL = 0.25

    def __init__(self, raw: "_upwatch.EventStream") -> None:
        self._raw = raw

    def next(self, timeout: Optional[float] = None) -> Event:
        """The next event. Raises :class:`CheckTimeout` after ``timeout`` seconds without one,
        :class:`ClosedError` once the monitor is closed."""
        if timeout is not None:
            d = self._raw.next(timeout)
            if d is None:
                raise CheckTimeout(f"no event within {timeout}s", code="timeout")
            return Event(d)
        while True:  # in slices, so Ctrl-C is seen
            d = self._raw.next(self._POLL)
            if d is not None:
                return Event(d)

    @property
    def missed(self) -> int:
        """Events lost because this reader fell behind."""
        return self._raw.missed

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        try:
            return self.next()
        except ClosedError:
            raise StopIteration from None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        loop = asyncio.get_running_loop()
        while True:
            # Short slices: a cancelled task leaves no executor thread waiting for long.
            try:
                d = await loop.run_in_executor(None, self._raw.next, self._POLL)
            except ClosedError:
                raise StopAsyncIteration from None
            if d is not None:
                return Event(d)

    async def next_async(self, timeout: Optional[float] = None) -> Event:
        """:meth:`next`, awaitable."""
        if timeout is None:
            return await self.__anext__()
        loop = asyncio.get_running_loop()
        d = await loop.run_in_executor(None, self._raw.next, timeout)
        if d is None:
            raise CheckTimeout(f"no event within {timeout}s", code="timeout")
        return Event(d)


_open: "weakref.WeakSet[Monitor]" = weakref.WeakSet()
_open_lock = threading.Lock()
_timeouts = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="upwatch-wait")


@atexit.register
def _close_all() -> None:
    """At interpreter exit, close every open monitor: no listener or check function runs
    after this, so nothing tries to take the GIL while the interpreter finalizes."""
    with _open_lock:
        monitors = list(_open)
    for m in monitors:
        try:
            m.close(grace=1.0)
        except Exception:  # pragma: no cover - best effort at exit
            pass


class Monitor:
    """An upwatch engine in this process.

    ``Monitor(db="upwatch.db", checks=[...])``; nothing is scheduled until :meth:`start`.
    ``notifiers``, ``alerts`` and ``maintenance`` take the config file's ``[[notifiers]]``,
    ``[[alerts]]`` and ``[[maintenance]]`` shapes (a ``callable`` notifier's function is given
    with :meth:`add_notifier`).
    Without ``db`` a bounded history is kept in memory. Several processes sharing one ``db``
    (gunicorn workers, Celery prefork) elect one to run the checks (:meth:`runs_checks`);
    a monitor created before ``fork()`` keeps working in the child.
    """

    def __init__(
        self,
        db: Union[str, "os.PathLike[str]", None] = None,
        *,
        lease: Optional[str] = None,
        host_interval: Union[str, bool, None] = None,
        max_concurrency: Optional[int] = None,
        max_per_host: Optional[int] = None,
        threads: Optional[int] = None,
        retention: Optional[Retention] = None,
        checks: Optional[Iterable[Spec]] = None,
        services: Optional[Iterable[Union[ServiceSpec, Mapping[str, Any]]]] = None,
        notifiers: Optional[Iterable[Union[NotifierSpec, Mapping[str, Any]]]] = None,
        alerts: Optional[Iterable[Union[AlertRuleSpec, Mapping[str, Any]]]] = None,
        maintenance: Optional[Iterable[Union[MaintenanceSpec, Mapping[str, Any]]]] = None,
        config: Optional[Union[MonitorConfig, Mapping[str, Any]]] = None,
        _raw: Optional["_upwatch.Monitor"] = None,
    ) -> None:
        if _raw is None:
            c: Dict[str, Any] = dict(config or {})
            for key, value in (
                ("db", os.fspath(db) if db is not None else None),
                ("lease", lease),
                ("host_interval", host_interval),
                ("max_concurrency", max_concurrency),
                ("max_per_host", max_per_host),
                ("threads", threads),
                ("retention", dict(retention) if retention is not None else None),
                ("checks", [dict(s) for s in checks] if checks is not None else None),
                ("services", [dict(s) for s in services] if services is not None else None),
                ("notifiers", [dict(n) for n in notifiers] if notifiers is not None else None),
                ("alerts", [dict(r) for r in alerts] if alerts is not None else None),
                ("maintenance", [dict(w) for w in maintenance] if maintenance is not None else None),
            ):
                if value is not None:
                    c[key] = value
            _raw = _upwatch.Monitor(c)
        self._m = _raw
        with _open_lock:
            _open.add(self)

    @classmethod
    def from_config(cls, path: Union[str, "os.PathLike[str]"]) -> "Monitor":
        """A monitor from a TOML (or ``.json``) file: settings in ``[monitor]``, then
        ``[[checks]]`` and ``[[services]]``. A relative ``db`` is taken beside the file."""
        return cls(_raw=_upwatch.Monitor.from_file(os.fspath(path)))

    # ---- checks -------------------------------------------------------------------------

    def register(self, spec: Spec, fn: Optional[CheckFunction] = None) -> None:
        """Registers (or replaces) a check. A ``kind: "callable"`` check needs ``fn``: it is
        called on an engine thread with the GIL; returning ``None``/``True`` passes, a
        ``str`` passes with that message, ``False`` or an exception fails. An ``async def``
        function is run with ``asyncio.run`` on that thread."""
        self._m.register(dict(spec), fn)

    def register_many(self, specs: Iterable[Spec]) -> None:
        """Registers several checks, none unless all are valid (problems name ``[i].field``)."""
        self._m.register_many([dict(s) for s in specs])

    def update(self, spec: Spec, fn: Optional[CheckFunction] = None) -> None:
        """Replaces a check's spec (and function), keeping its status."""
        self._m.update(dict(spec), fn)

    def delete(self, name: str) -> None:
        self._m.delete(name)

    def pause(self, name: str) -> None:
        self._m.pause(name)

    def resume(self, name: str) -> None:
        self._m.resume(name)

    def run_now(self, names: Names = None, *, timeout: Optional[float] = None) -> List[CheckResult]:
        """Runs the named checks (all when ``None``) now and returns their results. With
        ``timeout``, raises :class:`CheckTimeout` if they take longer (they finish anyway)."""
        call = functools.partial(self._m.run_now, _names(names))
        raw = call() if timeout is None else _within(call, timeout, "run_now")
        return [CheckResult(r) for r in raw]

    def push(self, name: str, ok: bool = True, message: Optional[str] = None) -> CheckResult:
        """A heartbeat for a push check."""
        return CheckResult(self._m.push(name, ok, message))

    def record(self, name: str, ok: bool, duration_ms: float, message: Optional[str] = None) -> CheckResult:
        """A result from the app's own traffic, on a push check, with its measured duration."""
        return CheckResult(self._m.record(name, ok, float(duration_ms), message))

    # ---- state and history ----------------------------------------------------------------

    def status(self) -> StatusDict:
        """Every check's status and latest result, every service's status."""
        return self._m.status()

    def status_json(self) -> str:
        """:meth:`status` as JSON text, serialized by the engine (what HTTP endpoints send)."""
        return self._m.status_json()

    def history(
        self,
        check: Names = None,
        *,
        service: Names = None,
        tag: Names = None,
        status: Names = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
        cursor: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> HistoryPage:
        """A page of stored results, newest first: ``{"items": [...], "next_cursor": ...}``.
        ``since``/``until``: ``"24h"`` (that long ago) or an RFC 3339 time."""
        return self._m.history(_query(check, service, tag, status, since, until, cursor, limit))

    def latest(self, check: Names = None, *, service: Names = None, tag: Names = None) -> List[StoredResultDict]:
        """The latest stored result of each matching check."""
        return self._m.latest(_query(check, service, tag, None, None, None, None, None))

    def status_changes(
        self,
        check: Names = None,
        *,
        service: Names = None,
        tag: Names = None,
        status: Names = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
        cursor: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> ChangesPage:
        """A page of status changes, newest first."""
        return self._m.status_changes(_query(check, service, tag, status, since, until, cursor, limit))

    def uptime(
        self, check: Names = None, window: str = "30d", *, service: Names = None, tag: Names = None
    ) -> List[UptimeDict]:
        """Uptime and latency percentiles over ``window`` for the matching checks."""
        return self._m.uptime(_query(check, service, tag, None, None, None, None, None), window)

    def host(self, fresh: bool = False) -> HostSnapshotDict:
        """A host snapshot (the latest when younger than a second; ``fresh=True`` samples now)."""
        return self._m.host(fresh)

    def prometheus(self) -> str:
        """The current state in the Prometheus text format."""
        return self._m.prometheus()

    def readiness(self, services: Names = None) -> ReadinessDict:
        """What a ``ready`` endpoint answers: ``{"ready": ..., "services": {name: status}}``,
        ready unless one of ``services`` (every declared service when ``None``) is down; a
        service without a status yet is ``unknown``."""
        return self._m.readiness(_names(services))

    # ---- alerting -------------------------------------------------------------------------

    def add_notifier(self, spec: Union[NotifierSpec, Mapping[str, Any]], fn: Optional[NotifierFunction] = None) -> None:
        """Adds (or replaces) a notifier (the ``[[notifiers]]`` shape: webhook, slack, discord,
        teams, callable). A ``kind: "callable"`` notifier needs ``fn``: it is called with each
        :class:`Alert` on an engine thread with the GIL (never an engine worker), under the
        notifier's ``timeout``; an exception is a failed attempt, retried with ``backoff`` up
        to ``max_attempts`` (each an ``alert_delivery_failed`` event with the exception's
        text). An ``async def`` function is run with ``asyncio.run`` on that thread. Other
        kinds take no ``fn`` (:class:`InvalidArgumentError`, field ``fn``)."""
        deliver: Optional[Callable[[Dict[str, Any]], Any]] = None
        if fn is not None:
            if not callable(fn):
                raise TypeError("fn must be callable")
            user = fn

            def deliver(data: Dict[str, Any]) -> Any:
                return user(Alert(data))

        self._m.add_notifier(dict(spec), deliver)

    def remove_notifier(self, name: str) -> bool:
        """Removes a notifier; ``False`` when none has this name."""
        return self._m.remove_notifier(name)

    def add_alert(self, rule: Union[AlertRuleSpec, Mapping[str, Any]]) -> None:
        """Adds (or replaces) an alert rule (the ``[[alerts]]`` shape). Its ``notify`` names
        must be notifiers already added (:class:`SpecError` naming ``notify[0]``)."""
        self._m.add_alert(dict(rule))

    def remove_alert(self, name: str) -> bool:
        """Removes an alert rule; ``False`` when none has this name."""
        return self._m.remove_alert(name)

    def add_maintenance(self, window: Union[MaintenanceSpec, Mapping[str, Any]]) -> None:
        """Adds (or replaces) a maintenance window (the ``[[maintenance]]`` shape): one-off
        ``{"from", "to"}`` or weekly ``{"weekdays", "start", "end", "timezone"}``. Checks it
        covers still run and are stored; their alerts are held back."""
        self._m.add_maintenance(dict(window))

    def remove_maintenance(self, name: str) -> bool:
        """Removes a maintenance window; ``False`` when none has this name."""
        return self._m.remove_maintenance(name)

    def mute(self, target: str, duration: str = "30m") -> None:
        """Holds back alerts about a check or a service's checks for ``duration``; they
        still run and are stored, flagged ``maintenance``. With a shared database the mute is
        kept there and sent to the process that runs the checks (this call waits for it). A
        bad duration is :class:`InvalidArgumentError` (``duration``)."""
        self._m.mute(target, duration)

    def unmute(self, target: str) -> None:
        """Ends a mute early."""
        self._m.mute(target, "0s")

    def alerting(self) -> AlertingDict:
        """Notifiers (without URL, secret or headers), rules, maintenance windows (with
        ``active``) and mutes in force."""
        return self._m.alerting()

    def pending_alerts(self) -> List[PendingAlertDict]:
        """Alerts waiting in this process's outbox, oldest first."""
        return self._m.pending_alerts()

    def alerts_report(self) -> AlertsReportDict:
        """Alert counters (as in ``status()["alerts"]``), :meth:`alerting` and
        :meth:`pending_alerts` in one answer, without the status of every check."""
        return self._m.alerts_report()

    def incidents(
        self,
        check: Names = None,
        *,
        service: Names = None,
        tag: Names = None,
        status: Names = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
        cursor: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> IncidentsPage:
        """A page of incidents (down until back up) that started in the range, plus those
        still open, newest first: ``{"items": [...], "next_cursor": ...}``."""
        return self._m.incidents(_query(check, service, tag, status, since, until, cursor, limit))

    def incident_stats(
        self, check: Names = None, window: str = "30d", *, service: Names = None, tag: Names = None
    ) -> List[IncidentStatsDict]:
        """Incidents, downtime, MTTR and MTBF per matching check over ``window``."""
        return self._m.incident_stats(_query(check, service, tag, None, None, None, None, None), window)

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Starts scheduling checks (and host sampling). Calling it again does nothing."""
        self._m.start()

    def close(self, grace: float = 5.0) -> None:
        """Stops scheduling, waits up to ``grace`` seconds for checks in flight, writes
        pending history. No listener or check function is called after it returns."""
        self._m.close(grace)
        with _open_lock:
            _open.discard(self)

    @property
    def closed(self) -> bool:
        return self._m.closed

    @property
    def started(self) -> bool:
        return self._m.started

    def is_shared(self) -> bool:
        """Whether other processes share the database."""
        return self._m.is_shared()

    def runs_checks(self) -> bool:
        """Whether this process runs the checks (only one of the processes sharing a db does)."""
        return self._m.runs_checks()

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- events ---------------------------------------------------------------------------

    def on(self, kinds: Names, fn: Callable[[Event], Any]) -> int:
        """Calls ``fn(event)`` for every event of ``kinds`` (a name, a list, or ``None`` for
        all) on the engine's dispatch thread (with the GIL), never on its workers: a slow
        handler never delays checks. An exception in ``fn`` is logged on logger ``upwatch``.
        Returns an id for :meth:`off`."""
        def deliver(data: Dict[str, Any]) -> None:
            fn(Event(data))

        return self._m.on(_names(kinds), deliver)

    def off(self, listener_id: int) -> bool:
        """Removes a listener; ``False`` when none has this id."""
        return self._m.off(listener_id)

    def events(self, kinds: Names = None) -> EventStream:
        """A stream of events of ``kinds`` (all when ``None``) from now on."""
        return EventStream(self._m.events(_names(kinds)))

    # ---- async twins: the same calls in the running loop's default executor --------------

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    async def register_async(self, spec: Spec, fn: Optional[CheckFunction] = None) -> None:
        await self._run(self.register, spec, fn)

    async def register_many_async(self, specs: Iterable[Spec]) -> None:
        await self._run(self.register_many, list(specs))

    async def update_async(self, spec: Spec, fn: Optional[CheckFunction] = None) -> None:
        await self._run(self.update, spec, fn)

    async def delete_async(self, name: str) -> None:
        await self._run(self.delete, name)

    async def pause_async(self, name: str) -> None:
        await self._run(self.pause, name)

    async def resume_async(self, name: str) -> None:
        await self._run(self.resume, name)

    async def mute_async(self, target: str, duration: str = "30m") -> None:
        await self._run(self.mute, target, duration)

    async def unmute_async(self, target: str) -> None:
        await self._run(self.unmute, target)

    async def run_now_async(self, names: Names = None, *, timeout: Optional[float] = None) -> List[CheckResult]:
        if timeout is None:
            return await self._run(self.run_now, names)
        try:
            return await asyncio.wait_for(self._run(self.run_now, names), timeout)
        except asyncio.TimeoutError:
            raise CheckTimeout(f"run_now did not finish within {timeout}s", code="timeout") from None

    async def push_async(self, name: str, ok: bool = True, message: Optional[str] = None) -> CheckResult:
        return await self._run(self.push, name, ok, message)

    async def record_async(
        self, name: str, ok: bool, duration_ms: float, message: Optional[str] = None
    ) -> CheckResult:
        return await self._run(self.record, name, ok, duration_ms, message)

    async def history_async(self, check: Names = None, **query: Any) -> HistoryPage:
        return await self._run(self.history, check, **query)

    async def latest_async(self, check: Names = None, **query: Any) -> List[StoredResultDict]:
        return await self._run(self.latest, check, **query)

    async def status_changes_async(self, check: Names = None, **query: Any) -> ChangesPage:
        return await self._run(self.status_changes, check, **query)

    async def uptime_async(self, check: Names = None, window: str = "30d", **query: Any) -> List[UptimeDict]:
        return await self._run(self.uptime, check, window, **query)

    async def incidents_async(self, check: Names = None, **query: Any) -> IncidentsPage:
        return await self._run(self.incidents, check, **query)

    async def incident_stats_async(
        self, check: Names = None, window: str = "30d", **query: Any
    ) -> List[IncidentStatsDict]:
        return await self._run(self.incident_stats, check, window, **query)

    async def host_async(self, fresh: bool = False) -> HostSnapshotDict:
        return await self._run(self.host, fresh)

    async def close_async(self, grace: float = 5.0) -> None:
        await self._run(self.close, grace)

    def __repr__(self) -> str:
        if not hasattr(self, "_m"):
            return "<upwatch.Monitor (not built)>"
        state = "closed" if self.closed else ("started" if self.started else "idle")
        return f"<upwatch.Monitor {state}>"


def _query(
    check: Names,
    service: Names,
    tag: Names,
    status: Names,
    since: Optional[str],
    until: Optional[str],
    cursor: Optional[str],
    limit: Optional[int],
) -> Dict[str, Any]:
    q: Dict[str, Any] = {}
    for key, value in (("check", check), ("service", service), ("tag", tag), ("status", status)):
        names = _names(value)
        if names:
            q[key] = names
    for key, text in (("since", since), ("until", until), ("cursor", cursor)):
        if text is not None:
            q[key] = text
    if limit is not None:
        q["limit"] = limit
    return q


def _within(call: Callable[[], T], timeout: float, what: str) -> T:
    future = _timeouts.submit(call)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise CheckTimeout(f"{what} did not finish within {timeout}s", code="timeout") from None
