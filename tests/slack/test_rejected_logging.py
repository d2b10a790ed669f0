"""slack_bolt's line about a request with a bad signature keeps its body out of the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot import logs

from .fake_slack import FakeSlack
from .inbound_harness import Harness, running


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    out = io.StringIO()
    yield out
    root.handlers[:] = before[0]
    root.setLevel(before[1])


@pytest.fixture
async def slack_app(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


async def test_a_rejected_slack_request_is_logged_without_its_body(
    slack_app: Harness, captured: io.StringIO
) -> None:
    logs.configure("debug", "json", captured)
    body = "command=%2Fclaim&text=T-1&user_id=U1&token=legacy-verification-token-value"
    response = await slack_app.send(body, "application/x-www-form-urlencoded", secret="wrong")
    assert response.status == 401
    rejected = [
        json.loads(line) for line in captured.getvalue().splitlines() if "Invalid request" in line
    ]
    assert rejected, captured.getvalue()
    assert all("command=" not in r["message"] and "withheld" in r["message"] for r in rejected)
    assert "legacy-verification-token-value" not in captured.getvalue()
