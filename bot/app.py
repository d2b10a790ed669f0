"""The composition root: config -> store, sources, services, surfaces, loops.

source -> Ingestor -> ThreadService -> store outbox -> CardDispatcher -> surfaces
surface -> Interaction -> Desk -> handlers -> ThreadService / ReplyService / DraftService -> source

Surfaces are handed ``Switchboard.desk`` (the facade), never the ``Switchboard`` or the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.base import source_class
from bot.config import Config
from bot.desk import Desk
from bot.dispatch import CardDispatcher
from bot.drafts import DraftService
from bot.ingest import Ingestor
from bot.interaction import Interaction, Response
from bot.ports import Source, Surface
from bot.replies import ReplyService
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.store import Store, open_store

log = logging.getLogger(__name__)


def build_sources(config: Config) -> list[Source]:
    sources = []
    for entry in config.sources:
        cls = source_class(str(entry["type"]))
        sources.append(cls.from_settings(cls.settings_model.model_validate(entry)))
    return sources


@dataclass
class Switchboard:
    """Everything wired together; ``start`` runs the loops, ``stop`` ends them cleanly."""

    config: Config
    store: Store
    sources: list[Source]
    surfaces: list[Surface] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_name = {s.name: s for s in self.sources}
        self.threads = ThreadService(
            self.store,
            Directory(self.config.departments),
            Router(self.config.routing.rules, self.config.default_department),
            by_name,
        )
        self.replies = ReplyService(self.threads, self.store)
        self.drafts = DraftService(self.threads, self.replies, self.store)
        lease = self.config.server.lease_seconds
        self.dispatcher = CardDispatcher(
            self.store, self.config.departments, self.surfaces, by_name, lease_seconds=lease
        )
        self.desk = Desk(
            self.threads, self.replies, self.drafts, self.store, self.dispatcher.render, self.store
        )
        """The facade every surface is given (never this object)."""
        self.ingestor = Ingestor(self.threads, self.sources, self.store, lease_seconds=lease)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_config(
        cls, config: Config, surfaces: Sequence[Surface] = (), store: Store | None = None
    ) -> Switchboard:
        return cls(
            config, store or open_store(config.store.url), build_sources(config), [*surfaces]
        )

    def add_surface(self, surface: Surface) -> None:
        self.surfaces.append(surface)
        self.dispatcher.surfaces.append(surface)

    async def handle(self, interaction: Interaction) -> Response:
        return await self.desk.handle(interaction)

    async def start(self, *, ingest: bool = True) -> None:
        await self.store.ping()
        finished = await self.replies.recover()
        if finished:
            log.info("finished %d public replies interrupted by a restart", finished)
        self._stop.clear()
        if ingest:
            self._tasks.append(asyncio.create_task(self.ingestor.run(self._stop)))
        self._tasks.append(asyncio.create_task(self.dispatcher.run(self._stop)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                log.warning("a background loop did not stop within 10 s; cancelled it")
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        for surface in self.surfaces:
            try:
                await surface.close()
            except Exception:
                log.exception("surface %s did not close cleanly", surface.name)
        for source in self.sources:
            await source.close()
        await self.store.close()

    async def readiness(self) -> dict[str, object]:
        """What /readyz reports: ready when the store answers; failing sources and surfaces
        (a card lane that keeps failing) are listed as degraded without taking the whole bot
        out of service; a rate-limited surface is only listed."""
        report: dict[str, object] = {}
        try:
            await self.store.ping()
            report["store"] = "ok"
        except Exception as exc:
            report["store"] = f"unreachable: {exc}"
        sources: dict[str, str] = {}
        for health in self.ingestor.health.values():
            if health.failing:
                sources[health.name] = f"failing: {health.last_error}"
            elif health.rate_limited:
                sources[health.name] = f"rate limited, slowing down: {health.last_error}"
            else:
                sources[health.name] = "ok"
        report["sources"] = sources
        lanes = self.dispatcher.health()
        report["surfaces"] = lanes
        report["degraded"] = any(h.failing for h in self.ingestor.health.values()) or any(
            state.startswith("failing") for state in lanes.values()
        )
        report["ready"] = report["store"] == "ok"
        return report
