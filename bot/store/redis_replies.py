"""The reply ledger on Redis: one hash {doc, status, lease_until} per reply key, and the set
of pending keys, written by cached Lua scripts on the store's clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from bot.domain import ReplyRecord, ReplyStatus
from bot.errors import StoreError
from bot.store import lua
from bot.store.codec import dump
from bot.store.keys import DEFAULT_PREFIX
from bot.store.redis_io import RedisIO, guarded, texts

MAX_RETRIES = 1000


class RedisReplies(RedisIO):
    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, prefix, clock=clock)
        self._reply_begin = client.register_script(lua.REPLY_BEGIN)
        self._reply_finish = client.register_script(lua.REPLY_FINISH)

    @guarded
    async def reply_begin(
        self, record: ReplyRecord, lease_seconds: float
    ) -> tuple[ReplyRecord, bool]:
        fresh = record.model_copy(update={"status": ReplyStatus.PENDING})
        doc, owned = await self._reply_begin(
            keys=[self.keys.reply(record.key), self.keys.replies_pending],
            args=[
                record.key,
                dump(fresh),
                lease_seconds * 1000,
                ReplyStatus.PENDING.value,
                ReplyStatus.FAILED.value,
                self._now_ms(),
            ],
        )
        return ReplyRecord.model_validate_json(doc), bool(owned)

    @guarded
    async def reply_finish(
        self,
        key: str,
        status: ReplyStatus,
        *,
        external_id: str = "",
        url: str = "",
        error: str = "",
    ) -> ReplyRecord:
        changes: dict[str, Any] = {
            "status": status,
            "external_id": external_id,
            "url": url,
            "error": error,
        }
        for _ in range(MAX_RETRIES):
            doc = await self.client.hget(self.keys.reply(key), "doc")
            if doc is None:
                break
            done = ReplyRecord.model_validate_json(doc).model_copy(update=changes)
            written = await self._reply_finish(
                keys=[self.keys.reply(key), self.keys.replies_pending],
                args=[key, doc, dump(done), status.value, ReplyStatus.PENDING.value],
            )
            if written == 1:
                return done
            if written == -1:
                break
        else:
            raise StoreError(f"reply {key!r} kept changing; gave up finishing it")
        raise StoreError(f"no reply recorded under {key!r}")

    @guarded
    async def get_reply(self, key: str) -> ReplyRecord | None:
        doc = await self.client.hget(self.keys.reply(key), "doc")
        return ReplyRecord.model_validate_json(doc) if doc is not None else None

    @guarded
    async def pending_replies(self) -> list[ReplyRecord]:
        keys = sorted(texts(await self.client.smembers(self.keys.replies_pending)))
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(self.keys.reply(key), "doc")
            docs = await pipe.execute()
        records = [ReplyRecord.model_validate_json(doc) for doc in docs if doc is not None]
        return sorted(records, key=lambda r: r.created_at)
