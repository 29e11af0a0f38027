"""Framework integrations: :mod:`upwatch.contrib.django` and :mod:`upwatch.contrib.flask`.

Both serve the same endpoints (see :mod:`upwatch.contrib.endpoints`)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Tuple

from .. import Monitor

ALERTING_KEYS = ("notifiers", "alerts", "maintenance")

Sections = Dict[str, List[Dict[str, Any]]]


def alerting_sections(conf: Mapping[str, Any]) -> Tuple[Sections, Dict[str, Any]]:
    """Splits a framework's settings' ``notifiers``, ``alerts`` and ``maintenance`` into the
    config shape and the functions of callable notifiers (their ``"fn"``: a function or a
    dotted path), by notifier name. A callable notifier stays in the config without its
    function, so that rules naming it validate; the function is added once the monitor exists."""
    sections: Sections = {}
    functions: Dict[str, Any] = {}
    for key in ALERTING_KEYS:
        items = [dict(item) for item in conf.get(key) or []]
        if key == "notifiers":
            for n in items:
                if "fn" in n:
                    functions[str(n.get("name"))] = n.pop("fn")
        if items:
            sections[key] = items
    return sections, functions


def add_alerting(
    m: Monitor,
    sections: Sections,
    functions: Mapping[str, Any],
    resolve: Callable[[Any], Callable[..., Any]],
    *,
    in_config: bool,
) -> None:
    """Gives ``m`` the callable notifiers' functions, and (``in_config=False``: the monitor
    came from a config file) the settings' notifiers, rules and windows as well."""
    for n in sections.get("notifiers", []):
        name = str(n.get("name"))
        if name in functions:
            m.add_notifier(n, resolve(functions[name]))
        elif not in_config:
            m.add_notifier(n)
    if not in_config:
        for rule in sections.get("alerts", []):
            m.add_alert(rule)
        for window in sections.get("maintenance", []):
            m.add_maintenance(window)
