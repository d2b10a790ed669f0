from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.store import Clock, Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore


class FakeClock:
    """Epoch seconds that move only when the test says so: expiry without real sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Backend:
    """Opens stores on one SQLite file or one Redis prefix, and closes them all at the end.

    ``open(clock=...)`` gives a store on that clock (default: the real ``time.time``)."""

    def __init__(
        self, kind: str, factory: Callable[[Clock], Store], *, path: Path | None = None
    ) -> None:
        self.kind = kind
        self.path = path
        """The SQLite file (None on Redis)."""
        self._factory = factory
        self.opened: list[Store] = []

    def open(self, *, clock: Clock | None = None) -> Store:
        store = self._factory(clock or time.time)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "switchboard.sqlite3"
        url = f"sqlite:///{path}"
        backend = Backend("sqlite", lambda clock: SQLiteStore.from_url(url, clock=clock), path=path)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        backend = Backend(
            "redis", lambda clock: RedisStore.from_url(url, prefix=prefix, clock=clock)
        )
    yield backend
    for store in backend.opened:
        await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(backend: Backend, clock: FakeClock) -> Store:
    """A store on the test's ``clock``."""
    return backend.open(clock=clock)
