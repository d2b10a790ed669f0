"""Contract: of many simultaneous claims exactly one wins, in one process and across many."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.domain import EventKind, Person
from bot.store import Store
from bot.store.redis import RedisStore

from .builders import ingest, mention
from .claimer import claim

REPO = Path(__file__).resolve().parents[2]


async def test_fifty_claimers_one_winner(store: Store) -> None:
    thread = (await ingest(store, mention(1))).thread
    people = [Person(surface="slack", id=f"U{n}") for n in range(50)]

    everyone_read = asyncio.Barrier(len(people))
    results = await asyncio.gather(
        *(claim(store, thread.id, p, everyone_read.wait) for p in people)
    )

    winners = [key for won, key in results if won]
    assert len(winners) == 1
    assert {key for _, key in results} == set(winners)
    stored = await store.get_thread(thread.id)
    assert stored is not None and stored.owner is not None
    assert (stored.owner.key, stored.version) == (winners[0], thread.version + 1)
    kinds = [e.kind for e in await store.events(thread.id)]
    assert kinds == [EventKind.OPENED, EventKind.CLAIMED]
    assert await store.outbox_size() == 2


@pytest.mark.redis
async def test_claimers_in_four_processes_one_winner(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore.from_url(redis_url, prefix=redis_prefix)
    try:
        thread = (await ingest(store, mention(1))).thread
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        script = str(Path(__file__).with_name("claimer.py"))
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                script,
                redis_url,
                redis_prefix,
                thread.id,
                str(w),
                "12",
                "4",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            for w in range(4)
        ]
        outputs = [await p.communicate() for p in procs]
        for p, (_, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err.decode()
        results = [tuple(r) for out, _ in outputs for r in json.loads(out)]

        assert len(results) == 48
        winners = [key for won, key in results if won]
        assert len(winners) == 1
        assert {key for _, key in results} == set(winners)
        stored = await store.get_thread(thread.id)
        assert stored is not None and stored.owner is not None
        assert stored.owner.key == winners[0]
        assert [e.kind for e in await store.events(thread.id)][1:] == [EventKind.CLAIMED]
    finally:
        await store.close()
