"""Public replies, exactly once.

The intent is recorded under an idempotency key before the network is called and the result
after. A double click finds the attempt in flight; a retry finds it sent; a restart finds it
pending and asks the source again with the same key (the source uses the network's own
idempotency, or looks its earlier post up), so nothing is ever posted twice.
"""

from __future__ import annotations

import logging

from bot.domain import EventKind, Mention, Person, ReplyRecord, ReplyStatus, Thread, ThreadState
from bot.errors import (
    NotAllowed,
    ReadOnlySource,
    ReplyInProgress,
    ReplyTooLong,
    SourceError,
    SwitchboardError,
)
from bot.ports import Source
from bot.service import ThreadService
from bot.storage import ReplyStore

log = logging.getLogger(__name__)
REPLY_LEASE_SECONDS = 60.0


class ReplyService:
    def __init__(
        self, threads: ThreadService, store: ReplyStore, lease_seconds: float = REPLY_LEASE_SECONDS
    ) -> None:
        self.threads = threads
        self.store = store
        self.lease_seconds = lease_seconds

    async def record(self, key: str) -> ReplyRecord | None:
        """The reply recorded under ``key``, whatever its status."""
        return await self.store.get_reply(key)

    def source_for(self, thread: Thread) -> Source:
        source = self.threads.sources.get(thread.source)
        if source is None:
            raise SwitchboardError(
                f"{thread.short_id} came from {thread.source}, which is not connected now."
            )
        return source

    async def check(self, thread: Thread, actor: Person, text: str) -> Source:
        """Refuse early (guest, policy, read-only, too long) so composers can show why."""
        if actor.is_guest:
            raise NotAllowed("Guests cannot reply publicly; ask a colleague to send it.")
        if thread.state is ThreadState.RESOLVED or thread.spam:
            raise NotAllowed(f"{thread.short_id} is resolved; it reopens when the author writes.")
        source = self.source_for(thread)
        limit = source.reply_limit()
        if limit is None:
            mention = (await self.store.mentions(thread.id))[-1]
            raise ReadOnlySource(source.name, mention.permalink)
        if not text.strip():
            raise SwitchboardError("The reply is empty.")
        length = source.measure(text)
        if length > limit.limit:
            raise ReplyTooLong(length, limit.limit, thread.network)
        return source

    async def reply(
        self, thread_id: str, actor: Person, text: str, key: str, surface: str = ""
    ) -> ReplyRecord:
        """Post ``text`` publicly on the thread's network, once per ``key``.

        The replier claims the thread first (atomically), so two people never answer
        the same customer at the same time."""
        done = await self.store.get_reply(key)
        if done is not None and done.status is ReplyStatus.SENT:
            return done
        thread = await self.threads.find(thread_id)
        source = await self.check(thread, actor, text)
        thread = await self.threads.claim(thread.id, actor, surface)
        mention = (await self.store.mentions(thread.id))[-1]
        record = ReplyRecord(
            key=key,
            thread_id=thread.id,
            mention_key=mention.key,
            text=text,
            actor=actor,
            created_at=self.threads.clock(),
        )
        stored, mine = await self.store.reply_begin(record, self.lease_seconds)
        if not mine:
            if stored.status is ReplyStatus.SENT:
                return stored
            raise ReplyInProgress()
        return await self._send(source, stored, mention, surface)

    async def _send(
        self, source: Source, record: ReplyRecord, mention: Mention, surface: str
    ) -> ReplyRecord:
        try:
            result = await source.reply(mention, record.text, record.key)
        except SourceError as exc:
            failed = await self.store.reply_finish(record.key, ReplyStatus.FAILED, error=str(exc))
            await self._record(failed, EventKind.REPLY_FAILED, surface, error=str(exc))
            raise
        await self.store.mark_own_post(source.name, result.external_id)
        sent = await self.store.reply_finish(
            record.key, ReplyStatus.SENT, external_id=result.external_id, url=result.url
        )
        await self._record(sent, EventKind.REPLIED, surface, url=result.url, text=record.text)
        return sent

    async def _record(
        self, record: ReplyRecord, kind: EventKind, surface: str, **data: str
    ) -> None:
        def mutate(t: Thread) -> Thread:
            if kind is EventKind.REPLIED:
                return t.evolve(
                    state=ThreadState.REPLIED, owner=record.actor, reply_count=t.reply_count + 1
                )
            return t.evolve()

        await self.threads.change(
            record.thread_id, record.actor, surface, kind, mutate, key=record.key, **data
        )

    async def recover(self) -> int:
        """Finish replies whose sender died mid-flight; returns how many were finished."""
        finished = 0
        for pending in await self.store.pending_replies():
            stored, mine = await self.store.reply_begin(pending, self.lease_seconds)
            if not mine:
                continue
            thread = await self.threads.find(stored.thread_id)
            mention = await self.store.get_mention(stored.mention_key)
            if mention is None:
                continue
            try:
                await self._send(self.source_for(thread), stored, mention, "recovery")
                finished += 1
            except SwitchboardError as exc:
                log.warning("reply %s still failing: %s", stored.key, exc)
        return finished
