"""``manifest.yaml`` creates the app the code expects: every slash command, shortcut and event
it declares has a listener, and every listener is declared."""

from __future__ import annotations

import ast
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.surfaces.slack import events, home
from bot.surfaces.slack.app import EVENTS_PATH
from bot.surfaces.slack.commands import SLASH_COMMANDS
from bot.surfaces.slack.modals import DIRECTORY_SHORTCUT, PUBLIC_REPLY_SHORTCUT
from bot.surfaces.slack.scopes import METHOD_SCOPES, scopes_for

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, BILLING, Harness, running

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"
EVENT_LISTENERS = {*events.EVENTS, *home.EVENTS}
PACKAGE = Path(__file__).resolve().parents[2] / "bot" / "surfaces" / "slack"


def methods_called() -> set[str]:
    """Every Web API method named in an ``….call("method", …)`` in the Slack package."""
    found: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
async def h(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(fake_slack, tmp_path) as harness:
        yield harness


def shortcuts(manifest: dict[str, Any], kind: str) -> set[str]:
    return {s["callback_id"] for s in manifest["features"]["shortcuts"] if s["type"] == kind}


def test_manifest_declares_what_the_app_listens_to(manifest: dict[str, Any]) -> None:
    features, settings = manifest["features"], manifest["settings"]
    commands = {c["command"] for c in features["slash_commands"]}
    assert commands == set(SLASH_COMMANDS)
    assert all(c["usage_hint"] and c["description"] for c in features["slash_commands"])
    assert shortcuts(manifest, "message") == {PUBLIC_REPLY_SHORTCUT}
    assert shortcuts(manifest, "global") == {DIRECTORY_SHORTCUT}
    events = {e.split(".")[0] for e in settings["event_subscriptions"]["bot_events"]}
    assert events == EVENT_LISTENERS
    bot_events = settings["event_subscriptions"]["bot_events"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == scopes_for(
        methods_called(), bot_events
    )
    urls = {c["url"] for c in features["slash_commands"]}
    urls |= {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert urls == {f"https://YOUR-HOST{EVENTS_PATH}"}
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["bot_user"]["display_name"]
    assert 175 <= len(manifest["display_information"]["long_description"]) <= 4000


def test_the_scope_table_knows_every_method_called_and_only_those() -> None:
    called = methods_called()
    assert {"chat.postMessage", "conversations.join", "views.publish"} <= called
    assert called == set(METHOD_SCOPES)
    assert "channels:join" in scopes_for(called, ())


async def test_every_declared_entry_point_is_handled(h: Harness, manifest: dict[str, Any]) -> None:
    for command in manifest["features"]["slash_commands"]:
        response = await h.command(ALICE, command["command"], "help")
        assert response.status == 200, command["command"]
    message = h.said(ALICE, BILLING, "hello")
    for callback_id in shortcuts(manifest, "message"):
        assert (await h.shortcut(ALICE, BILLING, message, callback_id)).status == 200
    for callback_id in shortcuts(manifest, "global"):
        payload = {
            "type": "shortcut",
            "token": "legacy-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": h.fake.team_id, "domain": "switchboard-test"},
            "user": {"id": ALICE, "username": "alice", "team_id": h.fake.team_id},
            "is_enterprise_install": False,
            "callback_id": callback_id,
            "trigger_id": h.trigger(),
        }
        assert (await h.interact(payload)).status == 200
    samples = {
        "message": h.said(ALICE, BILLING, "hi"),
        "app_mention": h.said(ALICE, BILLING, "<@U0BOT> help") | {"type": "app_mention"},
        "app_home_opened": {
            "type": "app_home_opened",
            "user": ALICE,
            "tab": "home",
            "event_ts": "1",
        },
    }
    for name in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert (await h.event(samples[name.split(".")[0]])).status == 200, name
    await h.settle()
    (directory,) = [v for v in h.fake.views.values() if v["type"] == "modal"]
    assert "billing" in str(directory["blocks"]) and "on duty" in str(directory["blocks"])
    assert ALICE in h.fake.home


async def test_undeclared_entry_points_are_not_handled(h: Harness) -> None:
    assert (await h.command(ALICE, "/undeclared", "")).status == 404
    message = h.said(ALICE, BILLING, "hello")
    assert (await h.shortcut(ALICE, BILLING, message, "sb_undeclared")).status == 404
