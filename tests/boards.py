"""Build a real Switchboard for tests: a real store (SQLite file or Redis) and a replay source."""

from __future__ import annotations

import io
import json
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bot.app import Switchboard
from bot.config import parse_config
from bot.domain import Person
from bot.ports import Surface
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from bot.surfaces.shell import ShellSurface

REDIS_URL = "redis://127.0.0.1:6379/0"

DEPARTMENTS: list[dict[str, Any]] = [
    {"name": "social", "title": "Social team"},
    {"name": "support", "title": "Customer Support", "slack_channel": "C-support"},
    {"name": "billing", "title": "Billing"},
    {"name": "press", "title": "PR", "reply_policy": "members"},
    {"name": "legal", "title": "Legal", "reply_policy": "approval"},
]
ROUTING: dict[str, Any] = {
    "default_department": "social",
    "rules": [
        {"department": "billing", "keywords": ["refund", "invoice"]},
        {"department": "support", "keywords": ["outage", "down"]},
        {"department": "legal", "keywords": ["lawyer"]},
    ],
}


def person(name: str, *, guest: bool = False) -> Person:
    return Person(surface="shell", id=name, name=name, is_guest=guest)


def mention_item(n: int, text: str = "hello @acme", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "network": "mastodon",
        "external_id": f"m-{n}",
        "conversation_key": f"m-{n}",
        "author": {"id": f"a{n}", "handle": f"user{n}@example.social", "display_name": f"U {n}"},
        "text": text,
        "permalink": f"https://example.social/@user{n}/m-{n}",
        "minutes_ago": 10,
    }
    item.update(extra)
    return item


def write_items(path: Path, items: Sequence[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(list(items)), encoding="utf-8")
    return path


@asynccontextmanager
async def real_store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    if kind == "sqlite":
        store: Store = SQLiteStore.from_url(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
        try:
            yield store
        finally:
            await store.close()
        return
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        yield store
    finally:
        await store.close()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def board_for(
    store: Store,
    items_file: Path,
    surfaces: Sequence[Surface] | None = None,
    **source: Any,
) -> Switchboard:
    config = parse_config(
        {
            "departments": DEPARTMENTS,
            "routing": ROUTING,
            "sources": [{"name": "sample", "type": "replay", "path": str(items_file), **source}],
        }
    )
    shown = list(surfaces) if surfaces is not None else [ShellSurface(io.StringIO())]
    return Switchboard.from_config(config, shown, store=store)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
