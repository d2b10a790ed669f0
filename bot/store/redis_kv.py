"""The KV port on Redis: one hash {value, until} per entry, written by cached Lua scripts.

The injected clock decides expiry (``until``, epoch seconds); a generous ``PEXPIRE`` beyond it
lets Redis delete entries nobody reads again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from bot.store import lua
from bot.store.keys import DEFAULT_PREFIX
from bot.store.redis_io import RedisIO, guarded, opt


class RedisKV(RedisIO):
    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, prefix, clock=clock)
        self._kv_put = client.register_script(lua.KV_PUT)
        self._kv_put_if_absent = client.register_script(lua.KV_PUT_IF_ABSENT)

    def _expiry(self, ttl: float | None) -> tuple[float, float | str, int]:
        """Now, the entry's ``until`` ('' = never) and its ``PEXPIRE``."""
        now = self.clock()
        return (now, "", 0) if ttl is None else (now, now + ttl, lua.gc_ms(ttl))

    @guarded
    async def kv_get(self, namespace: str, key: str) -> str | None:
        entry = self.keys.kv(namespace, key)
        value, until = await self.client.hmget(entry, ["value", "until"])
        if until is not None and float(until) <= self.clock():
            return None
        return opt(value)

    @guarded
    async def kv_put(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> None:
        _, until, gc = self._expiry(ttl)
        await self._kv_put(keys=[self.keys.kv(namespace, key)], args=[value, until, gc])

    @guarded
    async def kv_put_if_absent(
        self, namespace: str, key: str, value: str, *, ttl: float | None = None
    ) -> bool:
        now, until, gc = self._expiry(ttl)
        entry = self.keys.kv(namespace, key)
        return bool(await self._kv_put_if_absent(keys=[entry], args=[value, until, gc, now]))

    @guarded
    async def kv_delete(self, namespace: str, key: str) -> None:
        await self.client.delete(self.keys.kv(namespace, key))
