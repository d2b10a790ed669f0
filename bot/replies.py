"""Public replies, exactly once.

The intent is recorded under an idempotency key before the network is called and the result
after. A double click finds the attempt in flight; a retry finds it sent; a restart finds it
pending and asks the source again with the same key (the source uses the network's own
idempotency, or looks its earlier post up), so nothing is ever posted twice.

Beyond one key, one intent: the same text on the same thread within ten minutes is refused
from any other composer (``AlreadySent``) unless it is sent again explicitly (``bot.intent``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

from bot.domain import EventKind, Mention, Person, ReplyRecord, ReplyStatus, Thread, ThreadState
from bot.errors import (
    NotAllowed,
    ReadOnlySource,
    ReplyInProgress,
    ReplyTooLong,
    SourceError,
    SwitchboardError,
)
from bot.intent import INTENT_WINDOW_SECONDS, Intent, intent_key, is_again
from bot.ports import Source
from bot.service import ThreadService, new_id
from bot.storage import REPLY_INTENT, KeyValue, ReplyStore

log = logging.getLogger(__name__)
REPLY_LEASE_SECONDS = 60.0


class IntentReplyStore(ReplyStore, KeyValue, Protocol):
    """The reply service's slice: the ledger, mentions, own posts and the intents."""


class ReplyService:
    def __init__(
        self,
        threads: ThreadService,
        store: IntentReplyStore,
        lease_seconds: float = REPLY_LEASE_SECONDS,
        intent_window: float = INTENT_WINDOW_SECONDS,
    ) -> None:
        self.threads = threads
        self.store = store
        self.lease_seconds = lease_seconds
        self.intent_window = intent_window

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
        self, thread_id: str, actor: Person, text: str, key: str = "", surface: str = ""
    ) -> ReplyRecord:
        """Post ``text`` publicly on the thread's network, once per ``key`` and once per
        intent (the same text on the thread from another composer is ``AlreadySent``
        unless ``key`` is an ``again_key``). Without ``key`` (a typed command) a repeat by
        the same person within the window is the same reply, posted once.

        The replier claims the thread first (atomically), so two people never answer
        the same customer at the same time."""
        if key:
            done = await self.store.get_reply(key)
            if done is not None and done.status is ReplyStatus.SENT:
                return done
        thread = await self.threads.find(thread_id)
        source = await self.check(thread, actor, text)
        adopt = not key
        key = key or f"{surface or 'reply'}:{new_id()}"
        ikey = intent_key(thread.id, text)
        intent = Intent(key, f"@{actor.label}", self.threads.clock(), person=actor.key)
        acquired, key = await self._intend(ikey, intent, adopt=adopt)
        sent = False
        try:
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
                sent = stored.status is ReplyStatus.SENT
                if sent:
                    return stored
                raise ReplyInProgress()
            result = await self._send(source, stored, mention, surface)
            sent = True
            if acquired:
                await self._posted(ikey, intent, result.url)
            return result
        finally:
            if acquired and not sent:
                await self._forget(ikey, key)

    async def _intend(self, ikey: str, mine: Intent, *, adopt: bool) -> tuple[bool, str]:
        """Record the intent ``mine``: (True when this call recorded it, the key to post
        under). ``adopt``: a live intent of the same person lends its key (a repeated
        command). Otherwise another composer's live intent is refused (``AlreadySent``)."""
        key = mine.key
        if is_again(key):
            await self.store.kv_put(REPLY_INTENT, ikey, mine.encode(), ttl=self.intent_window)
            return True, key
        for _ in range(3):
            if await self.store.kv_put_if_absent(
                REPLY_INTENT, ikey, mine.encode(), ttl=self.intent_window
            ):
                return True, key
            raw = await self.store.kv_get(REPLY_INTENT, ikey)
            if raw is None:
                continue
            earlier = Intent.decode(raw)
            if earlier is None or earlier.key == key:
                return False, key
            if adopt and earlier.person == mine.person:
                return False, earlier.key
            await self._refuse(earlier)
        return False, key

    async def _refuse(self, earlier: Intent) -> None:
        record = await self.store.get_reply(earlier.key)
        if record is not None and record.status is ReplyStatus.SENT:
            earlier = dataclasses.replace(earlier, url=record.url or earlier.url)
        raise earlier.refusal(self.threads.clock())

    async def _posted(self, ikey: str, mine: Intent, url: str) -> None:
        """Keep the link beside the intent for composers to show, for the rest of its window."""
        left = self.intent_window - (self.threads.clock() - mine.at).total_seconds()
        if left <= 0:
            return
        posted = dataclasses.replace(mine, url=url)
        try:
            await self.store.kv_put(REPLY_INTENT, ikey, posted.encode(), ttl=left)
        except SwitchboardError as exc:  # the reply is out; only the link beside it is lost
            log.warning("reply %s posted; its link was not kept: %s", mine.key, exc)

    async def _forget(self, ikey: str, key: str) -> None:
        """Nothing was posted under ``key``: let the intent be sent again at once."""
        raw = await self.store.kv_get(REPLY_INTENT, ikey)
        current = Intent.decode(raw) if raw is not None else None
        if current is not None and current.key == key:
            await self.store.kv_delete(REPLY_INTENT, ikey)

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
