from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.teams.fakes import ConnectorFake, IssuerFake
from tests.teams.world import TENANT, add_people


@pytest.fixture
async def connector() -> AsyncIterator[ConnectorFake]:
    fake = ConnectorFake(tenant=TENANT)
    add_people(fake)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def issuer() -> AsyncIterator[IssuerFake]:
    fake = IssuerFake()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every Teams test runs on both real stores: card refs must survive any replica."""
    chosen: Store
    if request.param == "sqlite":
        chosen = SQLiteStore.from_url(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
    else:
        url = request.getfixturevalue("redis_url")
        chosen = RedisStore.from_url(url, prefix=request.getfixturevalue("redis_prefix"))
    yield chosen
    await chosen.close()
