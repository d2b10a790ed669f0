"""The due-time index on Redis: a sorted set of timer keys scored by when each can next be
taken (its due time, or the end of its lease), a hash of timer docs, and a sorted set of the
names for cancelling by prefix; each call is one script (``lua.TIMER_*``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis

from bot.storage import DueTimer
from bot.store import lua
from bot.store.codec import from_micros, micros
from bot.store.keys import DEFAULT_PREFIX
from bot.store.redis_io import RedisIO, guarded, text


class RedisTimers(RedisIO):
    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, prefix, clock=clock)
        self._timer_schedule = client.register_script(lua.TIMER_SCHEDULE)
        self._timer_cancel = client.register_script(lua.TIMER_CANCEL)
        self._timer_cancel_prefix = client.register_script(lua.TIMER_CANCEL_PREFIX)
        self._timer_take = client.register_script(lua.TIMER_TAKE)
        self._timer_finish = client.register_script(lua.TIMER_FINISH)

    @property
    def _timer_keys(self) -> list[str]:
        return [self.keys.timers, self.keys.timer_docs, self.keys.timer_names]

    @guarded
    async def schedule(self, key: str, due: datetime, payload: str) -> None:
        await self._timer_schedule(keys=self._timer_keys, args=[key, micros(due), payload])

    @guarded
    async def cancel(self, key: str) -> None:
        await self._timer_cancel(keys=self._timer_keys, args=[key])

    @guarded
    async def cancel_prefix(self, prefix: str) -> int:
        return int(await self._timer_cancel_prefix(keys=self._timer_keys, args=[prefix]))

    @guarded
    async def take_due(
        self, now: datetime, limit: int, lease_seconds: float, holder: str
    ) -> list[DueTimer]:
        if limit <= 0:
            return []
        now_us = micros(now)
        until = now_us + max(0, round(lease_seconds * 1_000_000))
        rows = await self._timer_take(keys=self._timer_keys, args=[now_us, limit, until, holder])
        taken = []
        for key, due, payload, attempts, generation in rows:
            due_us = int(text(due))
            taken.append(
                DueTimer(
                    key=text(key),
                    due=from_micros(due_us),
                    payload=text(payload),
                    attempts=int(attempts),
                    late=timedelta(microseconds=now_us - due_us),
                    generation=int(generation),
                )
            )
        return taken

    @guarded
    async def next_due(self) -> datetime | None:
        first = await self.client.zrange(self.keys.timers, 0, 0, withscores=True)
        return from_micros(int(first[0][1])) if first else None

    @guarded
    async def finish(self, key: str, holder: str, generation: int | None = None) -> bool:
        args = [key, holder, "" if generation is None else generation]
        return bool(await self._timer_finish(keys=self._timer_keys, args=args))
