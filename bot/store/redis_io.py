"""How the Redis store talks to Redis: library errors become StoreErrors, and the data under
the prefix is upgraded (``redis_schema``) before the first command of each store instance."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StoreError
from bot.storage import UpgradeProgress
from bot.store.keys import DEFAULT_PREFIX, Keys
from bot.store.redis_schema import upgrade

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="RedisIO")


def guarded(
    fn: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Upgrade the data first (once); turn every library error into a StoreError that says
    where and why."""

    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            await self._ensure_schema()
            return await fn(self, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreError(f"cannot reach Redis at {self.where}: {_reason(exc)}") from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self.where} failed: {exc}") from exc

    functools.update_wrapper(wrapper, fn)
    return wrapper


def _reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno) if seen.errno > 0 else str(seen.strerror)
        if isinstance(seen, TimeoutError):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    return str(exc)


class RedisIO:
    def __init__(
        self,
        client: Redis,
        prefix: str = DEFAULT_PREFIX,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.clock = clock
        opts = client.connection_pool.connection_kwargs
        host, port = opts.get("host", "localhost"), opts.get("port", 6379)
        self.where = str(opts.get("path") or f"{host}:{port}")
        self._upgraded = False
        self._upgrading: asyncio.Future[None] | None = None
        self._progress: UpgradeProgress | None = None

    def _now_ms(self) -> float:
        return self.clock() * 1000

    @property
    def upgrade_progress(self) -> UpgradeProgress | None:
        """The schema upgrade the first command of this instance is running, or None."""
        return self._progress

    def _report(self, progress: UpgradeProgress | None) -> None:
        self._progress = progress

    async def _ensure_schema(self) -> None:
        """Run the upgrade once per instance. It runs in a task of its own, so a caller that
        gives up waiting (a readiness probe's timeout) does not abort it for the others; one
        that failed is tried again by the next command."""
        if self._upgraded:
            return
        task = self._upgrading
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._upgrading = asyncio.ensure_future(self._upgrade())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        await asyncio.shield(task)

    async def _upgrade(self) -> None:
        try:
            await upgrade(self.client, self.keys, self.clock, self._report)
            self._upgraded = True
        finally:
            self._progress = None


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def opt(value: object) -> str | None:
    return None if value is None else text(value)


def texts(values: Iterable[object]) -> list[str]:
    return [text(value) for value in values]
