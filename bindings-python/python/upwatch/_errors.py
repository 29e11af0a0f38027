"""The exception hierarchy. The compiled module picks a class by the engine's error code
(``spec``, ``unknown_check``, ...), never by the message text."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

__all__ = [
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


class UpwatchError(Exception):
    """Base class of every upwatch error. ``code`` is the engine's stable error code."""

    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        problems: Sequence[Tuple[str, str]] = (),
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.problems: List[Tuple[str, str]] = [(str(p), str(m)) for p, m in problems]
        self.path = path

    def __str__(self) -> str:  # KeyError would show the repr of its argument
        return self.message


class SpecError(UpwatchError, ValueError):
    """A spec or config is invalid. ``problems`` lists ``(path, message)`` pairs
    (``checks[0].url``, ``[1].interval`` for ``register_many``); ``path`` is the first one."""

    code = "spec"


class InvalidArgumentError(UpwatchError, ValueError):
    """An argument of the call is wrong; ``field`` names it (``limit``, ``window``, ...)."""

    code = "invalid_argument"

    @property
    def field(self) -> Optional[str]:
        return self.path


class UnknownCheckError(UpwatchError, KeyError):
    """No check has this name."""

    code = "unknown_check"


class DuplicateCheckError(UpwatchError):
    """A check with this name exists."""

    code = "duplicate_check"


class NotAPushCheckError(UpwatchError):
    """``push``/``record`` on a check that is not a push check."""

    code = "not_a_push_check"


class MissingCallableError(UpwatchError):
    """A ``callable`` check was registered without its function."""

    code = "missing_callable"


class StoreError(UpwatchError):
    """History could not be read or written."""

    code = "store"


class ForwardedError(UpwatchError):
    """The process that runs the checks (it holds the lease) refused or did not answer."""

    code = "forwarded"


class HostError(UpwatchError):
    """The host could not be sampled."""

    code = "host"


class ClosedError(UpwatchError):
    """The monitor is closed."""

    code = "closed"


class EnginePanic(UpwatchError):
    """The engine hit a bug while serving the call; the monitor lives on."""

    code = "panic"


class EngineStartError(UpwatchError):
    """The engine's runtime could not start (threads could not be spawned)."""

    code = "runtime"


class CheckTimeout(UpwatchError, TimeoutError):
    """A wait ran out of time (``events().next(timeout=...)``, ``run_now(timeout=...)``)."""

    code = "timeout"
