"""``Reports``: a period of the audit log, read by time in pages of light rows, folded into
figures."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Protocol

from bot.domain import AuditEvent
from bot.report.figures import Figures, Report
from bot.report.fold import RECENT, Fold, Policies
from bot.settings.policy import SlaPolicy
from bot.storage import AuditRows

PAGE = 500


class AuditLog(Protocol):
    async def audit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "",
        limit: int = 1000,
    ) -> AuditRows: ...

    async def events(self, thread_id: str) -> list[AuditEvent]: ...


def policy_table(policies: Iterable[SlaPolicy]) -> Policies:
    """Each department's policy by name (None for a department the config no longer has)."""
    table = {p.department: p for p in policies}
    return table.get


class Reports:
    def __init__(
        self, log: AuditLog, policies: Policies, *, page: int = PAGE, recent: int = RECENT
    ) -> None:
        self.log = log
        self.policies = policies
        self.page = page
        self.recent = max(recent, page)
        """Closed threads remembered (at least a page: see ``Fold.needs``)."""

    async def build(
        self,
        since: datetime | None,
        until: datetime,
        departments: Collection[str] | None = None,
    ) -> Report:
        """Follow the threads received in ``[since, until)`` through their events before
        ``until``; rows only for ``departments`` when given. Memory follows the threads open
        at one time, never the events nor the period's total: a page is folded while the next
        is read, and a closed thread is forgotten (a reopen of one closed long before is
        looked up in that thread's own events)."""
        figures = Figures(departments)
        fold = Fold(self.policies, figures, recent=self.recent)
        start = -math.inf if since is None else since.timestamp()

        def read(after: str) -> asyncio.Task[AuditRows]:
            return asyncio.ensure_future(
                self.log.audit_rows(since, until, after=after, limit=self.page)
            )

        pending: asyncio.Task[AuditRows] | None = read("")
        try:
            while pending is not None:
                page = await pending
                pending = None
                if page.cursor:  # the store reads the next page while this one is folded
                    pending = read(page.cursor)
                    await asyncio.sleep(0)
                for thread_id in fold.needs(page.rows):
                    upto = next(r.at for r in page.rows if r.thread_id == thread_id)
                    fold.recall(thread_id, await self.log.events(thread_id), start, upto)
                for row in page.rows:
                    fold.row(row)
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
