"""The schema of the data under a Redis prefix, and its upgrade in place.

Schema 1 (no ``schema`` key) kept leases as strings with a PX and some lookups as source
cursors and leases. Schema 2 keeps leases as hashes and moves those lookups into KV entries
(``bot.store.migrate``). Each entry moves in its own script that does nothing once the entry is
gone, so replicas opening the same prefix at once upgrade it exactly once between them.
"""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from bot.errors import StoreError
from bot.store import lua
from bot.store.keys import Keys
from bot.store.migrate import DROP, cursor_move, lease_move

SCHEMA_VERSION = 2


def _glob(literal: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in literal)


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def upgrade(client: Redis, keys: Keys, clock: Callable[[], float]) -> None:
    found = await client.get(keys.schema)
    version = int(found) if found is not None else 1
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"Redis prefix {keys.prefix!r} has schema version {version}; this build "
            f"knows up to {SCHEMA_VERSION}. Upgrade social-switchboard."
        )
    if version == SCHEMA_VERSION:
        return
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
    await client.set(keys.schema, SCHEMA_VERSION)
