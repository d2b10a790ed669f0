"""Claim one thread from many coroutines; run as a script it is one process of a race.

``python claimer.py REDIS_URL PREFIX THREAD_ID WORKER CLAIMERS PROCESSES`` prints one JSON
list of [won, owner_key] pairs.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from bot.domain import AuditEvent, EventKind, Person, ThreadState
from bot.store import Store


async def claim(
    store: Store, thread_id: str, me: Person, ready: Callable[[], Awaitable[object]]
) -> tuple[bool, str]:
    """Read, and while nobody owns the thread, compare-and-set it to ``me``.

    ``ready`` is awaited after the first read, so every claimer can be made to read the
    unclaimed thread before anyone tries to commit.
    """
    first = True
    while True:
        thread = await store.get_thread(thread_id)
        if thread is None:
            raise LookupError(thread_id)
        if first:
            first = False
            await ready()
        if thread.owner is not None:
            return False, thread.owner.key
        claimed = thread.evolve(owner=me, state=ThreadState.CLAIMED)
        note = AuditEvent(
            id=uuid.uuid4().hex, thread_id=thread_id, kind=EventKind.CLAIMED, actor=me
        )
        if await store.commit(claimed, thread.version, note):
            return True, me.key


async def _race(url: str, prefix: str, thread_id: str, worker: int, n: int, procs: int) -> None:
    from bot.store.redis import RedisStore

    store = RedisStore.from_url(url, prefix=prefix)
    try:
        gate, everyone = f"{prefix}test:read", n * procs

        async def ready() -> None:
            await store.client.incr(gate)
            deadline = time.monotonic() + 20
            while int(await store.client.get(gate) or 0) < everyone:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other claimers never read the thread")
                await asyncio.sleep(0.005)

        people = [Person(surface="slack", id=f"U{worker}-{i}") for i in range(n)]
        results = await asyncio.gather(*(claim(store, thread_id, p, ready) for p in people))
        print(json.dumps(results))
    finally:
        await store.close()


if __name__ == "__main__":
    url, prefix, thread_id, worker, n, procs = sys.argv[1:7]
    asyncio.run(_race(url, prefix, thread_id, int(worker), int(n), int(procs)))
