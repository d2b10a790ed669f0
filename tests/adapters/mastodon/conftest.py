"""The Mastodon fake and sources on it, shared by the Mastodon tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.http import HttpClient
from adapters.mastodon import MastodonSettings, MastodonSource
from tests.adapters.fakes.mastodon_fake import MastodonFake


@pytest.fixture
async def fake() -> AsyncIterator[MastodonFake]:
    server = MastodonFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make(fake: MastodonFake) -> AsyncIterator[Any]:
    opened: list[MastodonSource] = []

    def build(
        token: str = "good-token", base_url: str = "", page_size: int = 3, **more: Any
    ) -> MastodonSource:
        settings = MastodonSettings(
            name="mastodon-main",
            type="mastodon",
            base_url=base_url or fake.url,
            access_token=token,
            page_size=page_size,
            **more,
        )
        http = HttpClient(settings.base_url, label="mastodon test", backoff=0.01, timeout=5)
        source = MastodonSource(settings, http=http, clock=lambda: fake.clock)
        opened.append(source)
        return source

    yield build
    for source in opened:
        await source.close()
