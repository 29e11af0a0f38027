"""Django signals, one per event kind, sent from the engine's dispatch thread with
``sender=upwatch.Monitor`` and ``event=<upwatch.Event>``:

    from upwatch.contrib.django.signals import check_failed

    @receiver(check_failed)
    def page_someone(sender, event, **kwargs):
        ...
"""

from __future__ import annotations

from typing import Dict

from django.dispatch import Signal

from ... import EVENT_KINDS, Event, Monitor

__all__ = [
    "check_succeeded",
    "check_failed",
    "check_status_changed",
    "service_status_changed",
    "check_registered",
    "check_updated",
    "check_deleted",
    "check_paused",
    "run_skipped",
    "host_sampled",
    "history_failed",
    "SIGNALS",
    "forward",
]

check_succeeded = Signal()
check_failed = Signal()
check_status_changed = Signal()
service_status_changed = Signal()
check_registered = Signal()
check_updated = Signal()
check_deleted = Signal()
check_paused = Signal()
run_skipped = Signal()
host_sampled = Signal()
history_failed = Signal()

SIGNALS: Dict[str, Signal] = {kind: globals().get(kind) or Signal() for kind in EVENT_KINDS}
"""Every event kind's signal (kinds without a module attribute above are only here)."""


def forward(event: Event) -> None:
    """Sends ``event`` as its signal (receivers' exceptions are logged by the engine)."""
    signal = SIGNALS.get(event.kind)
    if signal is not None and signal.has_listeners(Monitor):
        signal.send(sender=Monitor, event=event)
