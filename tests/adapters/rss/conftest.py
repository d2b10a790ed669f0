"""What the RSS/Atom tests share: the loopback feed server, samples, and sources on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.rss import RssSource
from tests.adapters.fakes.rss_fake import RssFake

FIXTURES = Path(__file__).parents[2] / "fixtures" / "rss"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
async def fake() -> AsyncIterator[RssFake]:
    server = RssFake()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., RssSource]]:
    """Build RSS sources (named ``alerts`` unless ``name=`` says otherwise); closed after."""
    made: list[RssSource] = []

    def build(url: str, **overrides: Any) -> RssSource:
        settings = {"name": "alerts", "type": "rss", "url": url, **overrides}
        source = RssSource.from_settings(settings)
        made.append(source)
        return source

    yield build
    for source in made:
        await source.close()
