"""Retention on Redis: closed threads leave the hot keys; a tombstone stays.

The closed set (schema 4, kept by the commit script) names every resolved thread by closing
time, so a run reads only what is due; each thread is archived by one script (``lua.ARCHIVE``)
guarded on the version it was read at."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.domain import Thread
from bot.storage import ArchivedThread
from bot.store import lua
from bot.store.codec import dump, micros
from bot.store.keys import DEFAULT_PREFIX
from bot.store.redis_io import RedisIO, guarded, texts

ROUNDS = 10
"""How many times a run reads again a due thread that changed while it was being archived."""


class RedisRetention(RedisIO):
    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, prefix, clock=clock)
        self._archive = client.register_script(lua.ARCHIVE)

    @guarded
    async def archive_closed(self, before: datetime, limit: int) -> int:
        if limit <= 0:
            return 0
        k, due = self.keys, micros(before)
        ids = texts(await self.client.zrangebyscore(k.closed, "-inf", f"({due}", 0, limit))
        archived = 0
        for _ in range(ROUNDS):
            if not ids:
                break
            async with self.client.pipeline(transaction=False) as pipe:
                for thread_id in ids:
                    pipe.hmget(k.thread(thread_id), ["doc", "version", "number"])
                rows = await pipe.execute()
            at = datetime.fromtimestamp(self.clock(), UTC)
            async with self.client.pipeline(transaction=False) as pipe:
                for thread_id, (doc, version, number) in zip(ids, rows, strict=True):
                    t = None if doc is None else Thread.model_validate_json(doc)
                    if t is not None and number is not None:
                        t = t.model_copy(update={"number": int(number)})
                    gone = "" if t is None else dump(ArchivedThread.of(t, at))
                    keys = [k.thread(thread_id), k.thread_mentions(thread_id)]
                    keys += [k.thread_cards(thread_id), k.conversation(t.conversation if t else "")]
                    keys += [k.threads, k.closed, k.archived, k.archived_numbers, k.waiting_all]
                    args = [thread_id, version or 0, gone, number or 0, k.threads_in_head]
                    args += [k.mention_head, k.waiting_head, k.held_head]
                    await self._archive(keys=keys, args=args, client=pipe)
                codes = [int(code) for code in await pipe.execute()]
            archived += codes.count(1)
            changed = [i for i, code in zip(ids, codes, strict=True) if code == -1]
            scores = await self.client.zmscore(k.closed, changed) if changed else []
            ids = [
                i
                for i, at_us in zip(changed, scores, strict=True)
                if at_us is not None and at_us < due
            ]
        return archived

    @guarded
    async def get_archived(self, thread_id: str) -> ArchivedThread | None:
        doc = await self.client.hget(self.keys.archived, thread_id)
        return ArchivedThread.model_validate_json(doc) if doc is not None else None

    @guarded
    async def get_archived_by_number(self, number: int) -> ArchivedThread | None:
        doc = await self.client.hget(self.keys.archived_numbers, str(number))
        return ArchivedThread.model_validate_json(doc) if doc is not None else None
