"""``Reports``: a period of the audit log, read by time in pages, folded into figures."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from bot.report.figures import Figures, Report
from bot.report.fold import Fold, Policies
from bot.settings.policy import SlaPolicy
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
        the period, never the events: a page is folded while the next is read."""
        figures = Figures(departments)
        fold = Fold(self.policies, figures)

        def read(after: str) -> asyncio.Task[AuditPage]:
            return asyncio.ensure_future(
                self.log.audit_page(since, until, after=after, limit=self.page)
            )

        pending: asyncio.Task[AuditPage] | None = read("")
        try:
            while pending is not None:
                page = await pending
                pending = None
                if page.cursor:  # the store reads the next page while this one is folded
                    pending = read(page.cursor)
                    await asyncio.sleep(0)
                for event in page.events:
                    fold.event(event)
        finally:
            if pending is not None:
                pending.cancel()
        fold.finish(until.timestamp())
        people = sorted(figures.people.values(), key=lambda r: (r.name.lower(), r.key))
        return Report(
            since=since,
            until=until,
            departments=[figures.departments[k] for k in sorted(figures.departments)],
            people=people,
        )
