"""Fixtures for the Slack tests: ``fake_slack`` is a running ``FakeSlack`` (see fake_slack.py).

Its ``api_url`` goes into ``slack.api_url``; ``settings()`` gives a whole ``slack:`` section.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fake_slack import FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
