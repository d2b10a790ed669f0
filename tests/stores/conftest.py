from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore


class Backend:
    """Opens stores on one SQLite file or one Redis prefix, and closes them all at the end."""

    def __init__(self, kind: str, factory: Callable[[], Store]) -> None:
        self.kind = kind
        self._factory = factory
        self.opened: list[Store] = []

    def open(self) -> Store:
        store = self._factory()
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
        backend = Backend("sqlite", lambda: SQLiteStore.from_url(url))
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        backend = Backend("redis", lambda: RedisStore.from_url(url, prefix=prefix))
    yield backend
    for store in backend.opened:
        await store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
