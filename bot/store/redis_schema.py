"""The schema of the data under a Redis prefix, and its upgrade in place.

Schema 1 (no ``schema`` key) kept leases as strings with a PX and some lookups as source
cursors and leases. Schema 2 keeps leases as hashes and moves those lookups into KV entries
(``bot.store.migrate``). Schema 3 adds the indexes behind the waiting queues and each person's
open threads (``lua.INDEX_THREAD``). Schema 4 adds the index of closed threads by closing time
(``lua.INDEX_CLOSED``) behind retention. Each entry moves, and each thread is indexed, in its
own script that does nothing once done, so replicas opening the same prefix at once upgrade it
exactly once between them.
"""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from bot.domain import Thread, ThreadState
from bot.errors import StoreError
from bot.storage import UpgradeProgress
from bot.store import lua
from bot.store.codec import held_by, micros, waiting_in
from bot.store.keys import Keys
from bot.store.migrate import DROP, cursor_move, lease_move

SCHEMA_VERSION = 4
BATCH = 1000


def _glob(literal: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in literal)


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def upgrade(
    client: Redis,
    keys: Keys,
    clock: Callable[[], float],
    report: Callable[[UpgradeProgress], None] | None = None,
) -> None:
    """Bring the data under the prefix to ``SCHEMA_VERSION``; ``report`` is handed the
    progress (updated as it goes) when there is something to upgrade."""
    found = await client.get(keys.schema)
    version = int(found) if found is not None else 1
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"Redis prefix {keys.prefix!r} has schema version {version}; this build "
            f"knows up to {SCHEMA_VERSION}. Upgrade social-switchboard."
        )
    if version == SCHEMA_VERSION:
        return
    progress = UpgradeProgress(version, SCHEMA_VERSION)
    if report is not None:
        report(progress)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        if step == 2:
            progress.begin(2)
            await _to_2(client, keys, clock)
        elif step == 3:
            await _to_3(client, keys, progress)
        else:
            await _to_4(client, keys, progress)
    await client.set(keys.schema, SCHEMA_VERSION)


async def _to_2(client: Redis, keys: Keys, clock: Callable[[], float]) -> None:
    move_cursor = client.register_script(lua.MIGRATE_CURSOR)
    move_lease = client.register_script(lua.MIGRATE_LEASE)
    for source in map(_str, await client.hkeys(keys.cursors)):
        if (move := cursor_move(source)) is None:
            continue
        now = clock()
        until, gc = ("", 0) if move.ttl is None else (now + move.ttl, lua.gc_ms(move.ttl))
        entry = keys.kv(move.namespace, move.key)
        await move_cursor(keys=[keys.cursors, entry], args=[source, until, gc, now])
    head = keys.leases
    async for found in client.scan_iter(match=_glob(head) + "*", count=1000):
        key = _str(found)
        move = lease_move(key[len(head) :])
        if move is None:
            mode, target, value = "keep", key, ""
        elif move is DROP:
            mode, target, value = "drop", key, ""
        else:
            mode, target = "kv", keys.kv(move.namespace, move.key)
            value = move.value or ""
        await move_lease(keys=[key, target], args=[mode, value, clock(), lua.GRACE_MS])


async def _to_3(client: Redis, keys: Keys, progress: UpgradeProgress) -> None:
    """Index every thread written before schema 3, a batch of threads per round trip; a
    thread that changed while being read is read again."""
    index = client.register_script(lua.INDEX_THREAD)
    progress.begin(3, int(await client.zcard(keys.threads)))
    start = 0
    while ids := [_str(i) for i in await client.zrange(keys.threads, start, start + BATCH - 1)]:
        start += len(ids)
        progress.done += len(ids)
        while ids:
            async with client.pipeline(transaction=False) as pipe:
                for thread_id in ids:
                    pipe.hmget(keys.thread(thread_id), ["doc", "version"])
                rows = await pipe.execute()
            async with client.pipeline(transaction=False) as pipe:
                for thread_id, (doc, found) in zip(ids, rows, strict=True):
                    thread = Thread.model_validate_json(doc) if doc is not None else None
                    marks = (waiting_in(thread), held_by(thread)) if thread else ("", "")
                    await index(
                        keys=[keys.thread(thread_id), keys.waiting_all],
                        args=[thread_id, found or 0, *marks, keys.waiting_head, keys.held_head],
                        client=pipe,
                    )
                done = await pipe.execute()
            ids = [thread_id for thread_id, code in zip(ids, done, strict=True) if code == -1]


async def _to_4(client: Redis, keys: Keys, progress: UpgradeProgress) -> None:
    """Index every resolved thread by the time it was closed, a batch per round trip, walking
    the resolved set by thread number (a thread reopened meanwhile shifts nothing)."""
    index = client.register_script(lua.INDEX_CLOSED)
    resolved = keys.threads_in(ThreadState.RESOLVED)
    progress.begin(4, int(await client.zcard(resolved)))
    low = "-inf"
    while True:
        found = await client.zrangebyscore(resolved, low, "+inf", 0, BATCH, withscores=True)
        if not found:
            break
        ids = [_str(row[0]) for row in found]
        low = f"({int(found[-1][1])}"
        progress.done += len(ids)
        while ids:
            async with client.pipeline(transaction=False) as pipe:
                for thread_id in ids:
                    pipe.hmget(keys.thread(thread_id), ["doc", "version"])
                rows = await pipe.execute()
            async with client.pipeline(transaction=False) as pipe:
                for thread_id, (doc, version) in zip(ids, rows, strict=True):
                    closed = _closed_us(doc)
                    await index(
                        keys=[keys.thread(thread_id), keys.closed],
                        args=[thread_id, version or 0, closed],
                        client=pipe,
                    )
                done = await pipe.execute()
            ids = [thread_id for thread_id, code in zip(ids, done, strict=True) if code == -1]


def _closed_us(doc: object) -> int:
    """When the thread in ``doc`` was closed, in microseconds (0 when there is no thread)."""
    if doc is None:
        return 0
    thread = Thread.model_validate_json(_str(doc))
    return micros(thread.resolved_at or thread.updated_at)
