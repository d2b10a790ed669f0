"""Storm mode for the card dispatcher: fold new threads into digests, keep them shown.

The dispatcher asks ``fold`` before it posts the first card of a new thread; in a storm the
thread becomes a line of the channel's current digest instead (store only: fast, so the
lane never waits for the platform). ``run`` (or ``flush`` when draining) then shows the
digests: posts a new digest when the channel's posting turn is free, edits one whose lines or
marks changed when the workspace's editing turn is free (one edit carries every line added
since the last: coalesced), and posts the storm's start and end notices.

Several replicas: each decides from its own queue and flow (its own ``StormGauge``; it paces
its own posts), and a channel is in a storm while *any* replica sees one (the shared
``alive`` entry). Everything shown is shared: the digests and their lines in the store
(``DigestBook``), posting exactly once per key under the same claims as cards
(``bot.postclaims``), and the posting and editing turns taken in the store so that two
replicas together stay within the platform's rate.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.aio import Clock, Sleep, sleep_or_event
from bot.config import Department
from bot.domain import CardRef, Mention, Thread, utcnow
from bot.outage import StoreOutage
from bot.postclaims import PostClaims
from bot.settings.storm import StormSettings
from bot.storage import KeyValue
from bot.storm.book import DigestBook, SharedTurns, StormRecord, digest_key
from bot.storm.gauge import StormGauge
from bot.storm.ports import Digest, DigestLine, DigestSurface, StormNotice

log = logging.getLogger(__name__)
Queued = Callable[[str, str], int]
"""``(surface, channel) -> new cards queued for it`` on this replica."""
TOP_AUTHORS = 3


@dataclass
class _Channel:
    surface: DigestSurface
    channel: str
    gauge: StormGauge
    kept_at: float = -1e9
    shared_at: float = -1e9
    shared: bool = False
    storm: StormRecord | None = None
    notices: list[StormNotice] = field(default_factory=list)
    settled: int | None = None
    """Digests below this number are full and shown (not looked at again)."""


class Digester:
    """See the module docstring."""

    def __init__(
        self,
        store: KeyValue,
        departments: Sequence[Department],
        settings: StormSettings,
        claims: PostClaims,
        queued: Queued,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        tick: float = 0.25,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.departments = {d.name: d for d in departments}
        self.settings = settings
        self.book = DigestBook(store, settings.lines_per_digest)
        self.claims = claims
        self.queued = queued
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.tick = tick
        self.holder = holder or uuid.uuid4().hex
        self.turns = SharedTurns(store, self.holder)
        """Posting and editing turns shared with the other replicas."""
        self.delay = settings.delay.total_seconds()
        self.window = settings.window.total_seconds()
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._stale: set[str] = set()
        self._wake = asyncio.Event()
        self.outage = StoreOutage(log, "storm digests")
        self.error = ""

    # ---- from the card lanes ------------------------------------------------------------

    def _channel(self, surface: DigestSurface, channel: str) -> _Channel:
        found = self._channels.get((surface.name, channel))
        if found is None:
            gauge = StormGauge(self.delay, self.window, surface.pace())
            found = self._channels[(surface.name, channel)] = _Channel(surface, channel, gauge)
        return found

    async def fold(
        self, surface: DigestSurface, thread: Thread, mentions: Sequence[Mention]
    ) -> bool:
        """Show the new ``thread`` as a digest line (True) if its channel is in a storm."""
        if not self.settings.enabled:
            return False
        name = surface.channel_for(thread.department)
        if not name:
            return False
        if await self.book.placed(surface.name, thread.id) is not None:
            return True  # folded before (the item came back after a crash or a lease)
        chan = self._channel(surface, name)
        now = self.monotonic()
        chan.gauge.arrived(now)
        if not await self._stormy(chan, now):
            return False
        first = mentions[0] if mentions else None
        line = DigestLine(
            thread_id=thread.id,
            short_id=thread.short_id,
            network=thread.network,
            author_handle=first.author.handle if first else "",
            text=first.text if first else "",
            permalink=first.permalink if first else "",
            arrived=first.created_at if first else thread.created_at,
        )
        await self.book.add(surface.name, name, line)
        self._wake.set()
        return True

    async def placed(self, surface: DigestSurface, thread_id: str) -> str | None:
        """The digest showing ``thread_id`` (it has no card of its own yet), or None."""
        return await self.book.placed(surface.name, thread_id)

    async def carded(self, key: str, thread_id: str) -> None:
        """``thread_id`` got its own card: its line in digest ``key`` says so."""
        await self.book.mark(key, thread_id)
        self._stale.add(key)
        self._wake.set()

    async def _stormy(self, chan: _Channel, now: float) -> bool:
        queued = self.queued(chan.surface.name, chan.channel)
        if chan.gauge.update(now, queued):
            if now - chan.kept_at >= 1.0:
                chan.kept_at = now
                record = await self.book.keep_storm(
                    chan.surface.name, chan.channel, self.clock(), self.delay
                )
                if record is not None:
                    log.warning("storm in %s: showing digests", chan.channel)
                    chan.notices.append(self._start_notice(chan, record, now))
                    self._wake.set()
                chan.shared, chan.shared_at = True, now
            return True
        if now - chan.shared_at >= 1.0:
            chan.shared = await self.book.alive(chan.surface.name, chan.channel)
            chan.shared_at = now
        return chan.shared

    # ---- showing ------------------------------------------------------------------------

    def _surfaces(self, surfaces: Sequence[object]) -> list[DigestSurface]:
        return [s for s in surfaces if isinstance(s, DigestSurface)]

    def _known(self, surface: DigestSurface) -> list[_Channel]:
        for dept in self.departments.values():
            name = surface.channel_for(dept.name)
            if name:
                self._channel(surface, name)
        return [c for (s, _), c in self._channels.items() if s == surface.name]

    async def step(self, surfaces: Sequence[object]) -> bool:
        """One round over every channel; True while something is left to show."""
        busy = False
        for surface in self._surfaces(surfaces):
            for chan in self._known(surface):
                busy |= await self._show(chan)
        return busy

    async def _show(self, chan: _Channel) -> bool:
        now = self.monotonic()
        await self._stormy(chan, now)
        await self._watch_end(chan)
        busy = await self._post_notices(chan)
        surface, name = chan.surface, chan.channel
        current = await self.book.current(surface.name, name)
        if chan.settled is None:
            chan.settled = chan.storm.first_digest if chan.storm else max(0, current - 1)
        low = min(chan.settled, current)
        keys = [digest_key(surface.name, name, n) for n in range(low, current + 1)]
        prefix = f"{surface.name}:{name}:"
        keys += sorted(k for k in self._stale if k.startswith(prefix) and k not in keys)
        for key in keys:
            shown = await self._show_digest(chan, key)
            if shown is None:
                busy = True
            elif shown and key in self._stale:
                self._stale.discard(key)
        return busy

    async def _show_digest(self, chan: _Channel, key: str) -> bool | None:
        """True: shown as it is; False: empty; None: waits for a turn."""
        lines = await self.book.lines(key)
        if not lines:
            return False
        digest = self._digest(chan, key, lines)
        state = f"{len(lines)}:{sum(line.carded for line in lines)}"
        ref = await self.book.ref(key)
        surface = chan.surface
        if ref is None:
            if not await self.turns.free(f"post:{surface.name}:{chan.channel}"):
                return None
            ref = await self._post_digest(chan, digest)
        elif await self.book.shown(key) != state:
            if not await self.turns.take(f"update:{surface.name}", self.settings.update_interval):
                return None
            await surface.update_digest(ref, digest)
        else:
            if digest.full and chan.settled == digest.number:
                chan.settled = digest.number + 1
            return True
        await self.book.set_shown(key, state)
        return True

    async def _post_digest(self, chan: _Channel, digest: Digest) -> CardRef:
        claim = await self.claims.take(f"digest:{digest.key}")
        if claim is None:
            ref = await self.book.ref(digest.key)
            if ref is not None:
                return ref
            raise RuntimeError(f"digest {digest.key} was posted but its ref is missing")
        found = None
        if claim.recovering:
            found = await chan.surface.find_digest(chan.channel, digest.key)
        try:
            ref = found or await chan.surface.post_digest(chan.channel, digest)
        except Exception as exc:
            if getattr(exc, "retry_after", None) is not None:
                await self.claims.release(claim)
            raise
        await self.book.save_ref(digest.key, ref)
        await self.claims.done(claim)
        return ref

    def _digest(self, chan: _Channel, key: str, lines: Sequence[DigestLine]) -> Digest:
        shown = chan.surface.channel_for
        dept = next((d for d in self.departments.values() if shown(d.name) == chan.channel), None)
        return Digest(
            key=key,
            number=int(key.rsplit(":", 1)[1]),
            department=dept.name if dept else "",
            department_title=dept.label if dept else chan.channel,
            lines=tuple(lines),
            capacity=self.settings.lines_per_digest,
            now=self.clock(),
        )

    # ---- notices ------------------------------------------------------------------------

    def _start_notice(self, chan: _Channel, record: StormRecord, now: float) -> StormNotice:
        chan.storm = record
        title = self._digest(chan, "x:0", ()).department_title
        return StormNotice(
            key=f"{chan.surface.name}:{chan.channel}:{record.number}:start",
            department_title=title,
            ended=False,
            mentions=chan.gauge.recent(now),
            minutes=max(1, round(self.window / 60)),
        )

    async def _watch_end(self, chan: _Channel) -> None:
        if chan.gauge.on or chan.storm is None:
            return
        surface, name = chan.surface.name, chan.channel
        if await self.book.alive(surface, name):
            return
        record, chan.storm = chan.storm, None
        if not await self.book.end_storm(surface, name, record.number):
            return
        lines: list[DigestLine] = []
        current = await self.book.current(surface, name)
        for number in range(record.first_digest, current + 1):
            lines += await self.book.lines(digest_key(surface, name, number))
        minutes = max(1, round((self.clock() - record.started).total_seconds() / 60))
        authors = Counter(line.author_handle for line in lines if line.author_handle)
        log.warning("storm in %s is over: %d threads in digests", name, len(lines))
        chan.notices.append(
            StormNotice(
                key=f"{surface}:{name}:{record.number}:end",
                department_title=self._digest(chan, "x:0", ()).department_title,
                ended=True,
                mentions=len(lines),
                minutes=minutes,
                networks=dict(Counter(line.network for line in lines).most_common()),
                top_authors=authors.most_common(TOP_AUTHORS),
                waiting=sum(not line.carded for line in lines),
            )
        )

    async def _post_notices(self, chan: _Channel) -> bool:
        while chan.notices:
            notice = chan.notices[0]
            surface = chan.surface
            if not await self.turns.free(f"post:{surface.name}:{chan.channel}"):
                return True
            claim = await self.claims.take(f"notice:{notice.key}")
            if claim is not None:
                try:
                    await surface.storm_notice(chan.channel, notice)
                except Exception as exc:
                    if getattr(exc, "retry_after", None) is not None:
                        await self.claims.release(claim)
                    raise
                await self.claims.done(claim)
            chan.notices.pop(0)
        return False

    # ---- loops --------------------------------------------------------------------------

    async def flush(self, surfaces: Sequence[object]) -> None:
        """Show everything folded so far (tests, demo): wait out the turns as needed."""
        while await self.step(surfaces):
            await self.sleep(self.tick)

    async def run(self, surfaces: Sequence[object], stop: asyncio.Event) -> None:
        """Show digests until ``stop``; errors are logged, backed off and reported."""
        backoff = self.tick
        while not stop.is_set():
            try:
                await self.step(surfaces)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.error = str(exc) or type(exc).__name__
                wait = getattr(exc, "retry_after", None)
                pause = float(wait) if isinstance(wait, int | float) else backoff
                if not self.outage.failed(exc, pause):
                    log.warning("storm digests failed (%s); retrying in %.1fs", self.error, pause)
                await sleep_or_event(pause, stop, sleep=self.sleep)
                backoff = min(backoff * 2, 30.0)
                continue
            self.error = ""
            self.outage.recovered()
            backoff = self.tick
            self._wake.clear()
            await sleep_or_event(self.tick, stop, sleep=self.sleep)

    def storms(self) -> Mapping[str, bool]:
        """``<surface>:<channel>`` -> whether this replica sees a storm there."""
        return {f"{s}:{c}": chan.gauge.on for (s, c), chan in self._channels.items()}
