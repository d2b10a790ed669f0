"""The card dispatcher: drains the store's outbox onto every chat surface, one lane per surface.

Design. The claim loop takes visible outbox items (up to ``window`` in flight) and appends each
to every surface's lane. A lane is a FIFO worked by one task: it does its surface's part of the
head item (post or update the current card, close old cards, add the activity line), then
moves on. An item is acked once every lane has done its part, so one surface's rate limiting
or outage never stalls another surface's cards, while each surface still sees a thread's
updates in order.

- Priority: items of threads people act on (claim, reply, transfer, …) are worked before the
  rest, each with its thread's earlier waiting items, so a thread's items stay in order
  (``bot.lanes``).
- Storms: before the first card of a new thread, a surface that can show digests
  (``bot.storm.ports.DigestSurface``) asks ``digests`` (``bot.storm.digester``) whether its
  channel is in a storm; then the thread becomes a digest line instead (store only, fast).
  A digest thread gets its card with the first item of someone acting on it; its line says
  so. Follow-ups and timers leave it in the digest.
- Rate limits: a surface call that raises an error with ``retry_after`` (``SlackCallError``,
  ``TeamsApiError``) pauses that lane for that long and the same item is retried; nothing else
  waits for it.
- Failures: other errors are retried on the lane with exponential backoff; after
  ``max_attempts`` the lane sets the item aside (not acked: it comes back from the outbox when
  its lease runs out) and goes on, so one bad item cannot wedge a surface. Such an item may
  come back after later items of its thread; cards always render the thread's current state,
  so only its activity line can land out of order.
- At least once: nothing is acked before every lane is done with it; a crash leaves in-flight
  items to come back when their leases run out. A lease that runs out while a lane still holds
  the item simply lets the claim loop take it again (it is recognised and not queued twice).
- Backpressure: with ``window`` items in flight (a long outage of one surface) the claim loop
  stops claiming until some finish, so memory stays bounded; the others' lanes drain meanwhile.
- Exactly once across replicas: a card is posted under its stable ``card_key`` and an
  activity line under its key only by the replica holding the key's claim in the store
  (``bot.postclaims``); a dead replica's claim expires after the lease and the next taker
  looks the earlier post up before posting. Nothing else looks anything up.

``run(stop)`` survives store, surface and platform errors (logged, backed off, never silent);
``health()`` reports each lane. ``drain()`` processes everything visible (tests, demo): lanes
wait out rate limits, and any other surface error is raised once the other lanes are done.
Do not run ``drain()`` and ``run()`` on one dispatcher at the same time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.aio import Clock, Sleep, sleep_or_event
from bot.cards import history_line, render_card
from bot.config import Department
from bot.domain import AuditEvent, CardRef, EventKind, OutboxItem, Thread, utcnow
from bot.lanes import NOT_ACTED
from bot.lanes import Entry as _Entry
from bot.lanes import Lane as _Lane
from bot.outage import StoreOutage, store_error
from bot.ports import Card, Source, Surface
from bot.postclaims import PostClaims, PostOnce
from bot.settings.storm import StormSettings
from bot.store import Store
from bot.storm.digester import Digester
from bot.storm.ports import DigestSurface

log = logging.getLogger(__name__)
MOVES = (EventKind.TRANSFERRED, EventKind.SENT_BACK)

QUIET = (EventKind.OPENED,)


def card_key(thread: Thread, surface: Surface) -> str:
    return f"{thread.id}:{thread.placement}:{surface.name}"


def retry_after_of(exc: BaseException) -> float | None:
    """The ``retry_after`` seconds a rate-limit error carries, else None."""
    value = getattr(exc, "retry_after", None)
    return max(0.0, float(value)) if isinstance(value, int | float) else None


class CardDispatcher:
    """Outbox -> surfaces with a lane per surface; see the module docstring."""

    def __init__(
        self,
        store: Store,
        departments: Sequence[Department],
        surfaces: Sequence[Surface],
        sources: Mapping[str, Source],
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 30.0,
        *,
        monotonic: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        window: int = 500,
        max_attempts: int = 5,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        claim_seconds: float | None = None,
        storm: StormSettings | None = None,
    ) -> None:
        self.store = store
        self.departments = {d.name: d for d in departments}
        self.surfaces = list(surfaces)
        self.sources = sources
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.monotonic = monotonic
        self.sleep = sleep
        self.window = window
        self.max_attempts = max_attempts
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        claims = PostClaims(store, claim_seconds or lease_seconds, sleep)
        self.once = PostOnce(store, claims)
        """Posts each card and activity line once across every replica."""
        self.digests = Digester(
            store,
            departments,
            storm or StormSettings(),
            claims,
            self._queued,
            clock=clock,
            monotonic=monotonic,
            sleep=sleep,
        )
        """Storm mode: new threads as digest lines while a channel cannot keep up."""
        self._lanes: dict[str, _Lane] = {}
        self._inflight: dict[str, _Entry] = {}
        self._finished: deque[_Entry] = deque()
        self._changed = asyncio.Event()
        self.outage = StoreOutage(log, "card dispatch")
        """The claim loop's store outage (said once, not every attempt)."""

    def reconfigure(self, departments: Sequence[Department]) -> None:
        """Cards render with these departments from now on (a config reload)."""
        self.departments = {d.name: d for d in departments}

    # ---- one item on one surface ------------------------------------------------------------

    async def render(self, thread: Thread, placement: int | None = None) -> Card:
        source = self.sources.get(thread.source)
        return render_card(
            thread,
            await self.store.mentions(thread.id),
            await self.store.events(thread.id),
            self.departments,
            self.clock(),
            source.reply_limit() if source else None,
            placement=placement,
        )

    async def process(self, item: OutboxItem) -> None:
        """Do ``item`` on every surface in turn, right now (no lanes, no ack)."""
        for surface in list(self.surfaces):
            await self.process_on(surface, item)

    async def process_on(self, surface: Surface, item: OutboxItem) -> None:
        """``surface``'s part of ``item``: its current card, its old cards, its activity line."""
        thread = await self.store.get_thread(item.thread_id)
        event = await self.store.get_event(item.event_id)
        if thread is None or event is None:
            log.warning("outbox item %s points at nothing; dropped", item.id)
            return
        refs = await self.store.card_refs(thread.id)
        fresh = card_key(thread, surface) not in refs
        digest = surface if fresh and isinstance(surface, DigestSurface) else None
        if digest is not None and await self._in_digest(digest, thread, event):
            return
        current = await self._sync_current(surface, thread, refs)
        line = history_line(event, self.departments)
        if event.kind in MOVES:
            await self._close_old(surface, thread, refs, event, line)
        elif line and current is not None and event.kind not in QUIET:
            echo = event.kind is EventKind.NOTE and event.surface == surface.name
            if not echo:  # a note written right there is not echoed back
                await self.once.notify(surface, current, line, f"{event.id}:{surface.name}")

    async def _sync_current(
        self, surface: Surface, thread: Thread, refs: dict[str, CardRef]
    ) -> CardRef | None:
        channel = surface.channel_for(thread.department)
        if not channel:
            return None
        card = await self.render(thread)
        key = card_key(thread, surface)
        ref = refs.get(key)
        if ref is None:
            ref = await self.once.post_card(surface, thread.id, channel, card, key)
            refs[key] = ref
        else:
            await surface.update_card(ref, card)
        return ref

    async def _in_digest(self, surface: DigestSurface, thread: Thread, event: AuditEvent) -> bool:
        """True when the thread stays a digest line: new in a storm, or in a digest already
        and nobody acted on it. A thread someone acts on gets its card (its line says so)."""
        if event.kind is EventKind.OPENED:
            return await self.digests.fold(surface, thread, await self.store.mentions(thread.id))
        placed = await self.digests.placed(surface, thread.id)
        if placed is None:
            return False
        if event.kind in NOT_ACTED:
            return True
        await self.digests.carded(placed, thread.id)
        return False

    def _queued(self, surface: str, channel: str) -> int:
        """New cards waiting in ``surface``'s lane for ``channel`` (storm detection)."""
        lane = self._lanes.get(surface)
        if lane is None or not lane.opens:
            return 0
        return sum(
            count for dept, count in lane.opens.items() if lane.surface.channel_for(dept) == channel
        )

    async def _close_old(
        self,
        surface: Surface,
        thread: Thread,
        refs: dict[str, CardRef],
        event: AuditEvent,
        line: str | None,
    ) -> None:
        for ref in list(refs.values()):
            if ref.surface != surface.name or ref.placement >= thread.placement:
                continue
            await surface.update_card(ref, await self.render(thread, ref.placement))
            if line and ref.placement == thread.placement - 1:
                await self.once.notify(surface, ref, line, f"{event.id}:{ref.surface}")

    # ---- claiming and acking ------------------------------------------------------------------

    def _lane(self, surface: Surface) -> _Lane:
        lane = self._lanes.get(surface.name)
        if lane is None:
            lane = self._lanes[surface.name] = _Lane(surface)
            if isinstance(surface, DigestSurface):
                surface.share_turns(self.digests.turns)
        return lane

    async def _claim(self) -> int:
        """Claim visible items onto the lanes until none is visible or the window is full."""
        new = 0
        while len(self._inflight) < self.window:
            item = await self.store.outbox_claim(self.lease_seconds)
            if item is None:
                break
            known = self._inflight.get(item.id)
            if known is not None and not (known.set_aside and not known.waiting):
                continue  # its lease ran out while a lane still had it; now leased again
            lanes = [self._lane(s) for s in self.surfaces]
            entry = _Entry(item, {lane.surface.name for lane in lanes})
            await self._classify(entry)
            self._inflight[item.id] = entry
            for lane in lanes:
                lane.push(entry)
            if not entry.waiting:
                self._finished.append(entry)
            new += 1
        return new

    async def _classify(self, entry: _Entry) -> None:
        """Note the item's event kind and department (lane priority, storm backlog)."""
        event = await self.store.get_event(entry.item.event_id)
        if event is None:
            return
        entry.kind = event.kind
        if event.kind is EventKind.OPENED:
            thread = await self.store.get_thread(entry.item.thread_id)
            entry.department = thread.department if thread else ""

    def _done_on(self, lane: _Lane, entry: _Entry) -> None:
        lane.remove(entry)
        entry.waiting.discard(lane.surface.name)
        if not entry.waiting:
            self._finished.append(entry)
            self._changed.set()

    async def _ack_finished(self) -> int:
        """Ack every item all lanes are done with; an item set aside is left to come back."""
        acked = 0
        while self._finished:
            entry = self._finished[0]
            if not entry.set_aside:
                await self.store.outbox_ack(entry.item.id)
                acked += 1
            self._finished.popleft()
            if self._inflight.get(entry.item.id) is entry:
                del self._inflight[entry.item.id]
        return acked

    # ---- lanes ----------------------------------------------------------------------------------

    async def _step(self, lane: _Lane) -> Exception | None:
        """Try the head item once; None when it is done (or the lane was paused for it)."""
        entry = lane.head()
        try:
            await self.process_on(lane.surface, entry.item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            wait = retry_after_of(exc)
            if wait is None:
                return exc
            lane.paused_until = self.monotonic() + wait
            lane.rate_limited = True
            lane.error = str(exc) or type(exc).__name__
            log.warning("%s is rate limited; its cards wait %.1fs", lane.surface.name, wait)
            return None
        lane.rate_limited = False
        lane.attempts = 0
        lane.error = ""
        lane.outage.recovered()
        self._done_on(lane, entry)
        return None

    def _failed(self, lane: _Lane, exc: Exception) -> None:
        lane.attempts += 1
        lane.rate_limited = False
        lane.error = str(exc) or type(exc).__name__
        backoff = min(self.first_backoff * 2 ** (lane.attempts - 1), self.max_backoff)
        lane.paused_until = self.monotonic() + backoff * random.uniform(0.8, 1.2)
        name = lane.surface.name
        outage = lane.outage.failed(exc, backoff)  # a store outage is said once, not per try
        if lane.attempts < self.max_attempts:
            if not outage:
                log.warning("%s card failed (%s); retrying in %.1fs", name, lane.error, backoff)
            return
        entry = lane.head()
        log.log(
            logging.DEBUG if outage else logging.ERROR,
            "%s card for outbox item %s failed %d times (%s); set aside until its lease runs out",
            name,
            entry.item.id,
            lane.attempts,
            lane.error,
            exc_info=None if outage else exc,
        )
        entry.set_aside = True
        lane.attempts = 0
        self._done_on(lane, entry)

    async def _work(self, lane: _Lane, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if not lane:
                    lane.wake.clear()
                    await sleep_or_event(None, stop, lane.wake)
                    continue
                wait = lane.paused_until - self.monotonic()
                if wait > 0:
                    await sleep_or_event(wait, stop, sleep=self.sleep)
                    continue
                failure = await self._step(lane)
                if failure is not None:
                    self._failed(lane, failure)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s card lane crashed; going on", lane.surface.name)
                await sleep_or_event(self.first_backoff, stop, sleep=self.sleep)

    async def _drain_lane(self, lane: _Lane) -> Exception | None:
        while lane:
            wait = lane.paused_until - self.monotonic()
            if wait > 0:
                await self.sleep(wait)
            failure = await self._step(lane)
            if failure is not None:
                lane.error = str(failure) or type(failure).__name__
                while lane:
                    head = lane.head()
                    head.set_aside = True
                    self._done_on(lane, head)
                return failure
        return None

    # ---- entry points ---------------------------------------------------------------------------

    async def drain(self) -> int:
        """Process every visible item; returns how many were acked (tests, demo)."""
        done = 0
        while True:
            new = await self._claim()
            lanes = [self._lane(s) for s in self.surfaces]
            failures = await asyncio.gather(*(self._drain_lane(lane) for lane in lanes))
            acked = await self._ack_finished()
            done += acked
            failure = next((f for f in failures if f is not None), None)
            if failure is not None:
                raise failure
            await self.digests.flush(self.surfaces)
            if not new and not acked:
                return done

    async def run(self, stop: asyncio.Event, idle: float = 0.2) -> None:
        """Dispatch until ``stop`` is set; never dies of an error (logs and backs off)."""
        workers: dict[str, asyncio.Task[None]] = {}
        backoff = idle
        try:
            while not stop.is_set():
                try:
                    for surface in self.surfaces:
                        lane = self._lane(surface)
                        task = workers.get(surface.name)
                        if task is None or task.done():
                            workers[surface.name] = asyncio.create_task(self._work(lane, stop))
                    digests = workers.get(" digests")
                    shows = any(isinstance(s, DigestSurface) for s in self.surfaces)
                    if shows and (digests is None or digests.done()):
                        runner = self.digests.run(self.surfaces, stop)
                        workers[" digests"] = asyncio.create_task(runner)
                    await self._ack_finished()
                    new = await self._claim()
                    backoff = idle
                    if not new:
                        self._changed.clear()
                        await sleep_or_event(idle, stop, self._changed, sleep=self.sleep)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not self.outage.failed(exc, backoff):
                        log.exception(
                            "card dispatch: the outbox failed; retrying in %.1fs", backoff
                        )
                    await sleep_or_event(backoff, stop, sleep=self.sleep)
                    backoff = min(backoff * 2, 30.0)
                else:
                    self.outage.recovered()
        finally:
            if not stop.is_set():
                for task in workers.values():
                    task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)
        try:
            await self._ack_finished()
        except Exception as exc:
            if store_error(exc) is None:
                log.exception("card dispatch: could not ack on the way out; the items will return")
            else:
                log.warning(
                    "card dispatch: could not ack on the way out (%s); the items will return", exc
                )

    def health(self) -> dict[str, str]:
        """Each surface's lane: ``ok``, ``rate limited until <time>`` or ``failing: <error>``."""
        report: dict[str, str] = {}
        now = self.monotonic()
        for surface in self.surfaces:
            lane = self._lane(surface)
            queued = f" ({len(lane)} waiting)" if lane else ""
            if lane.rate_limited and lane.paused_until > now:
                until = self.clock() + timedelta(seconds=lane.paused_until - now)
                stamp = until.isoformat(timespec="seconds")
                report[surface.name] = f"rate limited until {stamp}{queued}"
            elif lane.error and not lane.rate_limited:
                report[surface.name] = f"failing: {lane.error}{queued}"
            else:
                report[surface.name] = "ok"
        storms = [where for where, on in self.digests.storms().items() if on]
        if self.digests.error:
            report["digests"] = f"failing: {self.digests.error}"
        elif storms:
            report["digests"] = "storm in " + ", ".join(sorted(storms))
        return report
