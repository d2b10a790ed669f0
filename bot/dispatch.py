"""The card dispatcher: drains the store's outbox onto every chat surface.

At least once: an item is acked only after every surface took it; a crash leaves it to come
back when its lease runs out. No duplicate cards: each card is posted under a stable key and
surfaces make posting idempotent per key; the ref is stored right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.aio import sleep_unless_stopped
from bot.cards import history_line, render_card
from bot.config import Department
from bot.domain import AuditEvent, CardRef, EventKind, OutboxItem, Thread, utcnow
from bot.ports import Card, Source, Surface
from bot.store import Store

log = logging.getLogger(__name__)
MOVES = (EventKind.TRANSFERRED, EventKind.SENT_BACK)
QUIET = (EventKind.OPENED,)


def card_key(thread: Thread, surface: Surface) -> str:
    return f"{thread.id}:{thread.placement}:{surface.name}"


class CardDispatcher:
    def __init__(
        self,
        store: Store,
        departments: Sequence[Department],
        surfaces: Sequence[Surface],
        sources: Mapping[str, Source],
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.departments = {d.name: d for d in departments}
        self.surfaces = list(surfaces)
        self.sources = sources
        self.clock = clock
        self.lease_seconds = lease_seconds

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
        thread = await self.store.get_thread(item.thread_id)
        event = await self.store.get_event(item.event_id)
        if thread is None or event is None:
            log.warning("outbox item %s points at nothing; dropped", item.id)
            return
        refs = await self.store.card_refs(thread.id)
        current = await self._sync_current(thread, refs)
        line = history_line(event, self.departments)
        if event.kind in MOVES:
            await self._close_old(thread, refs, event, line)
        elif line and event.kind not in QUIET:
            for ref in current:
                if event.kind is EventKind.NOTE and event.surface == ref.surface:
                    continue  # the note was written right there; do not echo it back
                await self._surface(ref).notify(ref, line, f"{event.id}:{ref.surface}")

    async def _sync_current(self, thread: Thread, refs: dict[str, CardRef]) -> list[CardRef]:
        card = await self.render(thread)
        current = []
        for surface in self.surfaces:
            channel = surface.channel_for(thread.department)
            if not channel:
                continue
            key = card_key(thread, surface)
            ref = refs.get(key)
            if ref is None:
                ref = await surface.post_card(channel, card, key)
                await self.store.set_card_ref(thread.id, key, ref)
                refs[key] = ref
            else:
                await surface.update_card(ref, card)
            current.append(ref)
        return current

    async def _close_old(
        self, thread: Thread, refs: dict[str, CardRef], event: AuditEvent, line: str | None
    ) -> None:
        for ref in refs.values():
            if ref.placement >= thread.placement:
                continue
            await self._surface(ref).update_card(ref, await self.render(thread, ref.placement))
            if line and ref.placement == thread.placement - 1:
                await self._surface(ref).notify(ref, line, f"{event.id}:{ref.surface}")

    def _surface(self, ref: CardRef) -> Surface:
        for surface in self.surfaces:
            if surface.name == ref.surface:
                return surface
        raise LookupError(f"no surface {ref.surface!r} is configured for an existing card")

    async def drain(self) -> int:
        """Process every visible item once; returns how many were done (tests, demo)."""
        done = 0
        while (item := await self.store.outbox_claim(self.lease_seconds)) is not None:
            await self.process(item)
            await self.store.outbox_ack(item.id)
            done += 1
        return done

    async def run(self, stop: asyncio.Event, idle: float = 0.2) -> None:
        backoff = idle
        while not stop.is_set():
            try:
                item = await self.store.outbox_claim(self.lease_seconds)
                if item is None:
                    await sleep_unless_stopped(stop, idle)
                    continue
                await self.process(item)
                await self.store.outbox_ack(item.id)
                backoff = idle
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("card dispatch failed; retrying in %.1fs", backoff)
                await sleep_unless_stopped(stop, backoff)
                backoff = min(backoff * 2, 30.0)
