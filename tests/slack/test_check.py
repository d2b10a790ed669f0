"""`switchboard check` signs in to Slack (auth.test) and says clearly what is wrong."""

from __future__ import annotations

import pytest

from bot.cli import check
from bot.config import parse_config

from .fake_slack import FakeSlack


async def test_check_signs_in_to_slack(
    fake_slack: FakeSlack, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"}, "departments": [{"name": "a"}]}
    good = parse_config({**base, "slack": fake_slack.settings()})
    assert await check(good) == 0
    assert "ok   slack: signed in as" in capsys.readouterr().out
    bad = parse_config({**base, "slack": {**fake_slack.settings(), "bot_token": "xoxb-wrong"}})
    assert await check(bad) == 1
    out = capsys.readouterr().out
    assert "FAIL slack: Slack auth.test failed: invalid_auth" in out
