"""The Reddit fake and sources on it, shared by the Reddit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.reddit import RedditSettings, RedditSource
from adapters.support import coerce_settings
from tests.adapters.fakes.reddit_fake import RedditFake


@pytest.fixture
async def fake() -> AsyncIterator[RedditFake]:
    server = RedditFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(fake: RedditFake) -> AsyncIterator[Callable[..., RedditSource]]:
    opened: list[RedditSource] = []

    def build(**overrides: Any) -> RedditSource:
        settings = {
            "name": "reddit-main",
            "type": "reddit",
            "base_url": fake.url,
            "token_url": f"{fake.url}/api/v1/access_token",
            "client_id": "app-id",
            "client_secret": "app-secret",
            "username": "AcmeSupport",
            "password": "hunter2",
            **overrides,
        }
        source = RedditSource(
            coerce_settings(RedditSettings, settings),
            clock=lambda: datetime.fromtimestamp(fake.now, UTC),
        )
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()


@pytest.fixture
async def source(make: Callable[..., RedditSource]) -> AsyncIterator[RedditSource]:
    src = make()
    yield src
    await src.close()
