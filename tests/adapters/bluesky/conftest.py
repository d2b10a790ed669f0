"""The Bluesky fake and sources on it, shared by the Bluesky tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.bluesky import BlueskySettings, BlueskySource
from adapters.http import HttpClient
from tests.adapters.fakes.bluesky_fake import BlueskyFake


@pytest.fixture
async def fake() -> AsyncIterator[BlueskyFake]:
    server = BlueskyFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(fake: BlueskyFake) -> AsyncIterator[Any]:
    opened: list[BlueskySource] = []

    def build(
        password: str = "app-pass",
        base_url: str = "",
        page_size: int = 3,
        max_pages: int = 10,
        **more: Any,
    ) -> BlueskySource:
        settings = BlueskySettings(
            name="bsky-main",
            type="bluesky",
            base_url=base_url or fake.url,
            handle="brand.bsky.social",
            app_password=password,
            page_size=page_size,
            max_pages=max_pages,
            **more,
        )
        http = HttpClient(settings.base_url, label="bluesky test", backoff=0.01, timeout=5)
        source = BlueskySource(settings, http=http, clock=lambda: fake.clock)
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()
