"""Stores chosen by URL scheme, imported lazily (``sqlite:///path``, ``redis://host:port/db``)."""

from __future__ import annotations

from bot.errors import ConfigError
from bot.store.base import IngestOutcome, IngestStatus, Store

__all__ = ["IngestOutcome", "IngestStatus", "Store", "open_store"]


def open_store(url: str) -> Store:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        from bot.store.redis import RedisStore

        return RedisStore.from_url(url)
    raise ConfigError(
        f"store.url: unsupported scheme in {url!r}; use sqlite:///path/to/file.sqlite3 "
        "or redis://host:6379/0"
    )
