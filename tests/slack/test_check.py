"""`switchboard check` proves the Slack tokens and every department channel, and says the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.cli import check
from bot.config import parse_config

from .fake_slack import FakeSlack


def config(fake: FakeSlack, tmp_path: Path, **slack: str) -> Any:
    return parse_config(
        {
            "store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"},
            "slack": {**fake.settings(), **slack},
            "departments": [
                {"name": "billing", "slack_channel": "#billing", "slack_usergroup": "S0BILLING"},
                {"name": "press", "slack_channel": "C0PRESS"},
                {"name": "jobs", "slack_channel": "#jobs"},
                {"name": "legal", "slack_channel": "#legal"},
                {"name": "sales", "slack_channel": "#sales", "slack_usergroup": "S0NOPE"},
                {"name": "social"},
            ],
        }
    )


@pytest.fixture
def workspace(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_channel("C0BILLING", "billing")
    fake_slack.add_channel("C0PRESS", "press", bot_is_member=False)
    fake_slack.add_channel("C0JOBS", "jobs", private=True, bot_is_member=False)
    fake_slack.add_channel("C0LEGAL", "legal")["is_archived"] = True
    fake_slack.add_usergroup("S0BILLING", "billing-team", ["U1", "U2"])
    return fake_slack


async def test_check_signs_in_and_looks_at_every_channel(
    workspace: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await check(config(workspace, tmp_path)) == 1
    out = capsys.readouterr().out
    assert "ok   slack: signed in as switchboard in Switchboard Test" in out
    assert "ok   slack channel #billing (billing): the bot is a member" in out
    assert "ok   slack channel C0PRESS (press): public; the bot joins it" in out
    assert "FAIL slack channel #jobs (jobs): private, and the bot is not a member: /invite" in out
    assert "FAIL slack channel #legal (legal): the channel is archived" in out
    assert "FAIL slack channel #sales (sales): channel_not_found: check departments" in out
    assert "ok   slack user group S0BILLING (billing): 2 members" in out
    assert "FAIL slack user group S0NOPE (sales): no_such_subteam: check departments" in out
    assert "social" not in out  # no channel: nothing to check
    assert out.splitlines()[-1] == "10 checks: 4 failed, 0 warnings — not ready to serve"
    assert not [c for c in workspace.calls() if c.method.startswith("chat.")]  # posts nothing


async def test_a_refused_bot_token_says_what_to_copy(
    workspace: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await check(config(workspace, tmp_path, bot_token="xoxb-wrong")) == 1
    out = capsys.readouterr().out
    assert "FAIL slack: invalid_auth: slack.bot_token is not a token of this workspace" in out
    assert "Bot User OAuth Token (xoxb-...)" in out and "xoxb-wrong" not in out
    workspace.revoked = True
    assert await check(config(workspace, tmp_path)) == 1
    assert "token_revoked: slack.bot_token was revoked: reinstall" in capsys.readouterr().out


async def test_the_app_token_is_proved_in_socket_mode(
    workspace: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("press", "jobs", "legal", "sales"):
        workspace.channels.pop(f"C0{name.upper()}", None)
    workspace.add_channel("C0PRESS", "press")
    good = config(workspace, tmp_path, app_token=workspace.app_token)
    data = good.model_dump()
    data["departments"] = data["departments"][:2]
    assert await check(type(good).model_validate(data)) == 0
    assert "ok   slack socket mode: the app token opens" in capsys.readouterr().out
    bad = type(good).model_validate(data | {"slack": data["slack"] | {"app_token": "xapp-1-no"}})
    assert await check(bad) == 1
    out = capsys.readouterr().out
    assert "FAIL slack socket mode: slack.app_token was refused by Slack (invalid_auth)" in out
