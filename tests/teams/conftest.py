from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SQLiteStore
from tests.teams.fake_graph import GraphFake
from tests.teams.fakes import ConnectorFake, IssuerFake, LoginFake
from tests.teams.world import (
    APP_ID,
    BILLING,
    LEGAL,
    PRESS,
    SUPPORT,
    TEAM,
    TEAM_GROUP,
    TENANT,
    add_people,
)

SECRET = "the-client-secret"
GRAPH_TOKEN = "eyJ0eXAiOi.an-app-token"


@pytest.fixture
async def connector() -> AsyncIterator[ConnectorFake]:
    fake = ConnectorFake(tenant=TENANT)
    add_people(fake)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def entra() -> AsyncIterator[LoginFake]:
    """The Entra ID token endpoint the bot's app registration signs in at."""
    fake = LoginFake(tenant=TENANT, client_id=APP_ID, secret=SECRET, token=GRAPH_TOKEN)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def graph(connector: ConnectorFake) -> AsyncIterator[GraphFake]:
    """Microsoft Graph listing what the fake connector holds; the team holds every channel."""
    fake = GraphFake(connector, token=GRAPH_TOKEN, app_id=APP_ID)
    fake.teams[TEAM_GROUP] = {TEAM, SUPPORT, BILLING, PRESS, LEGAL}
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
