"""Config reload without a restart (SIGHUP to ``switchboard serve``).

What a reload applies: ``departments`` (titles, channels, user groups, reply policy, service
levels, hours, notify targets, who is on duty, escalation; new departments too), ``routing``
and the company-wide ``sla``. The new file is validated first; a file that is invalid, or that
changes anything else (the store, the server, the chat platforms, the sources), removes a
department, or switches the SLA timers on where none ran, is refused as a whole and the
running config is kept — the log line says why and that a restart applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.config import Config, Department, load_config
from bot.errors import SwitchboardError
from bot.routing import Router

log = logging.getLogger(__name__)

RELOADED = frozenset({"departments", "routing", "sla"})
"""The top-level sections a reload applies."""


@runtime_checkable
class Reconfigurable(Protocol):
    """A part that keeps its own view of the departments (a surface, the card dispatcher)."""

    def reconfigure(self, departments: Sequence[Department]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    applied: bool
    said: str


def refusals(old: Config, new: Config) -> list[str]:
    """What in ``new`` a reload cannot apply (empty: all of it can)."""
    found = [
        f"{name} changed"
        for name in type(old).model_fields
        if name not in RELOADED and getattr(old, name) != getattr(new, name)
    ]
    removed = sorted({d.name for d in old.departments} - {d.name for d in new.departments})
    if removed:
        found.append(f"departments removed ({', '.join(removed)}): their threads need a home")
    was_timed = any(d.sla_policy.timed for d in old.departments)
    if not was_timed and any(d.sla_policy.timed for d in new.departments):
        found.append("service-level targets where none were timed: the SLA timers start then")
    return found


def reload_config(
    path: str | None,
    current: Callable[[], Config],
    apply: Callable[[Config], None],
) -> Outcome:
    """Read ``path`` again and ``apply`` it when it may be; never raises."""
    try:
        new = load_config(path)
    except SwitchboardError as exc:
        said = f"config reload refused, keeping the running config: {exc}"
        log.error("%s", said)
        return Outcome(False, said)
    refused = refusals(current(), new)
    if refused:
        said = (
            "config reload refused, keeping the running config (a restart applies it): "
            + "; ".join(refused)
        )
        log.error("%s", said)
        return Outcome(False, said)
    apply(new)
    names = ", ".join(d.name for d in new.departments)
    said = f"config reloaded: {len(new.departments)} departments ({names}), routing, sla"
    log.info("%s", said)
    return Outcome(True, said)


def router_for(config: Config) -> Router:
    return Router(config.routing.rules, config.default_department)
