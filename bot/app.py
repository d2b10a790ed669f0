"""The composition root: config -> store, sources, services, surfaces, loops.

source -> Ingestor -> ThreadService -> store outbox -> CardDispatcher -> surfaces
surface -> Interaction -> Desk -> handlers -> ThreadService / ReplyService / DraftService -> source

Surfaces are handed ``Switchboard.desk`` (the facade), never the ``Switchboard`` or the store.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.base import connect_sources, source_class
from bot.aio import Sleep, sleep_unless_stopped
from bot.config import Config
from bot.desk import Desk
from bot.dispatch import CardDispatcher
from bot.domain import utcnow
from bot.drafts import DraftService
from bot.ingest import MAX_BACKOFF, Ingestor, LoopState, jittered
from bot.interaction import Interaction, Response
from bot.outage import StoreOutage
from bot.ports import PlatformHealth, Source, Surface
from bot.reload import Outcome, Reconfigurable, reload_config, router_for
from bot.replies import ReplyService
from bot.routing import Router
from bot.service import Directory, ThreadService
from bot.settings.policy import SlaPolicy
from bot.sla.clock import SlaClock
from bot.sla.loop import TimerLoop
from bot.store import Store, open_store

log = logging.getLogger(__name__)
PROBE = "health.probe"
"""Key-value namespace of the readiness write probe (one entry per replica, 60 s expiry)."""
RETENTION_LEASE = "retention"
"""The lease the retention loop runs under: one replica at a time archives."""
RETENTION_BATCH = 500
"""Threads archived per store call (each call is one transaction or a pipeline of scripts)."""
SLA_LOOP = "sla timers"
"""The name /readyz gives the loop that fires SLA timers."""


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
    sleep: Sleep = asyncio.sleep
    """Backoff of the start-up reply recovery (injectable: tests drive time)."""
    replica: str = field(default_factory=lambda: uuid.uuid4().hex)
    """This process among the replicas: lease holder and readiness probe key."""
    probe_timeout: float = 5.0
    platforms: list[PlatformHealth] = field(default_factory=list)
    """Chat platforms whose credentials and connections /readyz reports."""
    clock: Callable[[], datetime] = utcnow
    """The time the services and the retention loop read (injectable: tests drive it)."""
    retention_interval: float = 3600.0
    """Seconds between retention runs (``store.retention_days``), slept with ``sleep``."""

    def __post_init__(self) -> None:
        self.platforms += connect_sources(self.sources, self.store)
        by_name = {s.name: s for s in self.sources}
        self.threads = ThreadService(
            self.store,
            Directory(self.config.departments),
            Router(self.config.routing.rules, self.config.default_department),
            by_name,
            clock=self.clock,
        )
        self.replies = ReplyService(self.threads, self.store)
        self.drafts = DraftService(self.threads, self.replies, self.store)
        lease = self.config.server.lease_seconds
        self.dispatcher = CardDispatcher(
            self.store,
            self.config.departments,
            self.surfaces,
            by_name,
            clock=self.clock,  # cards say ages and clocks as of the board's time
            lease_seconds=lease,
            storm=self.config.storm,
        )
        self.desk = Desk(
            self.threads, self.replies, self.drafts, self.store, self.dispatcher.render, self.store
        )
        """The facade every surface is given (never this object)."""
        self.ingestor = Ingestor(
            self.threads,
            self.sources,
            self.store,
            holder=self.replica,
            lease_seconds=lease,
            sleep=self.sleep,
        )
        self.sla_clock: SlaClock | None = None
        """The SLA clocks' timers (None: no department has a target)."""
        self.timer_loop: TimerLoop | None = None
        if any(d.sla_policy.timed for d in self.config.departments):
            self.sla_clock = SlaClock(self.threads, self.store, self._policy)
            self.threads.observers.append(self.sla_clock)
            self.timer_loop = TimerLoop(
                self.sla_clock,
                self.store,
                self.replica,
                now=self.clock,
                sleep=self.sleep,
                lease_seconds=max(lease, 2 * self.config.sla.check_every.total_seconds()),
                interval=self.config.sla.check_every.total_seconds(),
            )
        self._stop = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def reconfigure(self, config: Config) -> None:
        """Apply a reloaded config's departments, routing and service levels (``bot.reload``
        decided that it may be applied): every part that reads them sees the new ones."""
        self.config = config
        self.threads.directory = Directory(config.departments)
        self.threads.router = router_for(config)
        for part in (self.dispatcher, *self.surfaces):
            if isinstance(part, Reconfigurable):
                part.reconfigure(config.departments)

    def reload(self, path: str | None) -> Outcome:
        """Read the config file again (SIGHUP); an invalid or unsafe one is refused whole."""
        return reload_config(path, lambda: self.config, self.reconfigure)

    def _policy(self, department: str) -> SlaPolicy | None:
        found = self.config.department(department)
        return found.sla_policy if found is not None else None

    @classmethod
    def from_config(
        cls,
        config: Config,
        surfaces: Sequence[Surface] = (),
        store: Store | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> Switchboard:
        return cls(
            config,
            store or open_store(config.store.url, prefix=config.store.prefix),
            build_sources(config),
            [*surfaces],
            clock=clock,
        )

    def add_surface(self, surface: Surface) -> None:
        self.surfaces.append(surface)
        self.dispatcher.surfaces.append(surface)

    def add_platform_health(self, platform: PlatformHealth) -> None:
        self.platforms.append(platform)

    async def handle(self, interaction: Interaction) -> Response:
        return await self.desk.handle(interaction)

    async def start(self, *, ingest: bool = True) -> None:
        """Start the loops; a store or source that fails now only makes them retry."""
        try:
            await self.store.ping()
        except Exception as exc:
            log.warning("the store does not answer yet (%s); starting anyway, retrying", exc)
        self._stop.clear()
        self._tasks["reply recovery"] = asyncio.create_task(self._recover_replies())
        if ingest:
            self._tasks["ingest"] = asyncio.create_task(self.ingestor.run(self._stop))
        self._tasks["dispatcher"] = asyncio.create_task(self.dispatcher.run(self._stop))
        if self.config.store.retention_days > 0:
            self._tasks["retention"] = asyncio.create_task(self._retention())
        if self.timer_loop is not None:
            self._tasks[SLA_LOOP] = asyncio.create_task(self.timer_loop.run(self._stop))

    async def _retention(self) -> None:
        """``retain`` every ``retention_interval``; a failure (store, lease) is logged and
        tried again after a backoff. Releases the lease when stopped."""
        backoff = 1.0
        outage = StoreOutage(log, "retention")
        try:
            while not self._stop.is_set():
                try:
                    archived = await self.retain()
                    outage.recovered()
                    if archived:
                        log.info("archived %d threads closed past the retention period", archived)
                    delay, backoff = self.retention_interval, 1.0
                except Exception as exc:
                    delay = jittered(backoff)
                    if not outage.failed(exc, delay):
                        log.warning("retention failed (%s); retrying in %.0fs", exc, delay)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                await sleep_unless_stopped(self._stop, delay, self.sleep)
        finally:
            await asyncio.shield(self._release_retention())

    async def retain(self) -> int:
        """One retention run, when this replica holds (or takes) the retention lease: archive
        every thread closed more than ``store.retention_days`` ago, a batch per store call.
        Returns how many were archived (0 when another replica holds the lease, or the
        retention is 0: keep forever)."""
        days = self.config.store.retention_days
        if days <= 0:
            return 0
        ttl = 2 * self.retention_interval
        before = self.clock() - timedelta(days=days)
        archived = 0
        while await self.store.acquire_lease(RETENTION_LEASE, self.replica, ttl):
            count = await self.store.archive_closed(before, RETENTION_BATCH)
            archived += count
            if count < RETENTION_BATCH:
                break
        return archived

    async def _release_retention(self) -> None:
        try:
            await self.store.release_lease(RETENTION_LEASE, self.replica)
        except Exception as exc:  # it lapses by itself
            log.warning("could not release the retention lease (%s); it will lapse", exc)

    async def _recover_replies(self) -> None:
        """``ReplyService.recover`` until it gets through once, backing off between tries."""
        backoff = 1.0
        outage = StoreOutage(log, "reply recovery")
        while not self._stop.is_set():
            try:
                finished = await self.replies.recover()
            except Exception as exc:
                delay = jittered(backoff)
                if not outage.failed(exc, delay):
                    log.warning("reply recovery failed (%s); retrying in %.0fs", exc, delay)
                await sleep_unless_stopped(self._stop, delay, self.sleep)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            outage.recovered()
            if finished:
                log.info("finished %d public replies interrupted by a restart", finished)
            return

    async def stop(self) -> None:
        """End the loops (waiting up to 10 s each), then close surfaces, sources and store."""
        self._stop.set()
        for name, task in self._tasks.items():
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                log.warning("the %s loop did not stop within 10 s; cancelled it", name)
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("the %s loop had ended with an error", name)
        self._tasks.clear()
        closers: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            *((f"surface {s.name}", s.close) for s in self.surfaces),
            *((f"source {s.name}", s.close) for s in self.sources),
            ("store", self.store.close),
        ]
        for what, close in closers:
            try:
                await close()
            except Exception:
                log.exception("%s did not close cleanly", what)

    def loops(self) -> dict[str, str]:
        """Each background loop started by ``start``: running, done, or dead with its error."""
        report: dict[str, str] = {}
        for name, task in self._tasks.items():
            if not task.done():
                report[name] = "running"
            elif task.cancelled() or task.exception() is not None:
                error = None if task.cancelled() else task.exception()
                report[name] = f"dead: {error or 'cancelled'}"
            else:
                report[name] = "done" if name == "reply recovery" else "dead: it returned"
        return report

    async def readiness(self) -> dict[str, object]:
        """What /readyz reports. Ready when a real write reaches the store, no loop is dead
        and every chat platform can be used (its token is accepted, its connection is up);
        ``broken`` names what is not. Failing sources and card lanes are listed as degraded
        without taking the bot out of service; a rate-limited one is only listed."""
        report: dict[str, object] = {}
        broken: list[str] = []
        upgrading = self.store.upgrade_progress
        if upgrading is None:
            try:
                probe = self.store.kv_put(PROBE, self.replica, utcnow().isoformat(), ttl=60)
                await asyncio.wait_for(probe, timeout=self.probe_timeout)
                report["store"] = "ok"
            except Exception as exc:
                report["store"] = f"failing: {exc or type(exc).__name__}"
                broken.append("store")
                upgrading = self.store.upgrade_progress  # the probe may have started it
        else:
            broken.append("store")
        if upgrading is not None:
            report["store"] = f"upgrading ({upgrading})"
        sources: dict[str, str] = {}
        for health in self.ingestor.health.values():
            if health.state is LoopState.DEAD:
                sources[health.name] = f"dead, restarting: {health.last_error}"
                broken.append(f"source {health.name}")
            elif health.failing:
                sources[health.name] = f"failing: {health.last_error}"
            elif health.rate_limited:
                sources[health.name] = f"rate limited, slowing down: {health.last_error}"
            else:
                sources[health.name] = "ok"
            if health.detail:  # reordering seen, or items the network no longer serves
                sources[health.name] += f" ({health.detail})"
        report["sources"] = sources
        lanes = self.dispatcher.health()
        report["surfaces"] = lanes
        platforms: dict[str, str] = {}
        for platform in self.platforms:
            try:
                parts = await asyncio.wait_for(platform.health(), timeout=self.probe_timeout)
            except Exception as exc:
                platforms[platform.name] = f"unknown: {str(exc) or type(exc).__name__}"
                continue
            for part, state in parts.items():
                platforms[part] = state.state
                if state.broken:
                    broken.append(part)
        if self.platforms:
            report["platforms"] = platforms
        loops = self.loops() if not self._stop.is_set() else {}
        report["loops"] = loops
        broken += [f"loop {name}" for name, state in loops.items() if state.startswith("dead")]
        report["degraded"] = any(h.failing for h in self.ingestor.health.values()) or any(
            state.startswith("failing") for state in lanes.values()
        )
        report["broken"] = broken
        report["ready"] = not broken
        return report
