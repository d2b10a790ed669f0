"""``Reports``: a period of the audit log, read by time in pages, folded into figures."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from bot.report.figures import Figures, Report
from bot.report.fold import Fold, Policies
from bot.sla.policy import SlaPolicy
from bot.storage import AuditPage

PAGE = 500


class AuditLog(Protocol):
    async def audit_page(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditPage: ...


def policy_table(policies: Iterable[SlaPolicy]) -> Policies:
    """Each department's policy by name (None for a department the config no longer has)."""
    table = {p.department: p for p in policies}
    return table.get


class Reports:
    def __init__(self, log: AuditLog, policies: Policies, *, page: int = PAGE) -> None:
        self.log = log
        self.policies = policies
        self.page = page

    async def build(
        self,
        since: datetime | None,
        until: datetime,
        departments: Collection[str] | None = None,
    ) -> Report:
        """Follow the threads received in ``[since, until)`` through their events before
        ``until``; rows only for ``departments`` when given. Memory follows the threads of
        the period, never the events: one page is held at a time."""
        figures = Figures(departments)
        fold = Fold(self.policies, figures)
        cursor = ""
        while True:
            page = await self.log.audit_page(since, until, after=cursor, limit=self.page)
            for event in page.events:
                fold.event(event)
            if not page.cursor:
                break
            cursor = page.cursor
        fold.finish(until.timestamp())
        people = sorted(figures.people.values(), key=lambda r: (r.name.lower(), r.key))
        return Report(
            since=since,
            until=until,
            departments=[figures.departments[k] for k in sorted(figures.departments)],
            people=people,
        )
