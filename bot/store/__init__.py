"""Stores chosen by URL scheme, imported lazily (``sqlite:///path``, ``redis://host:port/db``)."""

from __future__ import annotations

import time

from bot.errors import ConfigError
from bot.storage import IngestOutcome, IngestStatus
from bot.store.base import Clock, Store

__all__ = ["Clock", "IngestOutcome", "IngestStatus", "Store", "open_store"]


def open_store(url: str, *, prefix: str | None = None, clock: Clock | None = None) -> Store:
    """The store for ``url``; ``clock`` (default ``time.time``) decides every expiry.
    ``prefix``: Redis only, the start of every key (``store.prefix``; else the URL's
    ``?prefix=``, else ``sb:``)."""
    now = clock or time.time
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if prefix is not None:
            raise ConfigError("store.prefix applies to a Redis store only; remove it")
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url, clock=now)
    if scheme in ("redis", "rediss", "unix"):
        from bot.store.redis import RedisStore

        return RedisStore.from_url(url, prefix, clock=now)
    raise ConfigError(
        f"store.url: unsupported scheme in {url!r}; use sqlite:///path/to/file.sqlite3 "
        "or redis://host:6379/0"
    )
