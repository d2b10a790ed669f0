"""The example config is safe to start as it is: with its credentials set and no real network
answering, `serve`'s work (a poll of every source, then the card dispatcher) posts nothing
into the channels and stores nothing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import Switchboard
from bot.config import parse_config
from bot.errors import SwitchboardError
from bot.surfaces.slack.surface import SlackSurface
from tests.boards import free_port
from tests.scenario.test_networks import EXAMPLE_SECRETS

from .fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def example(fake: FakeSlack, tmp_path: Path) -> dict[str, Any]:
    """The example as an operator fills it in, every network pointed at a closed port."""
    data = yaml.safe_load((ROOT / "switchboard.example.yaml").read_text(encoding="utf-8"))
    data["store"] = {"url": f"sqlite:///{tmp_path / 'sb.sqlite3'}"}
    data["slack"] = {**data["slack"], "api_url": fake.api_url}
    closed = f"http://127.0.0.1:{free_port()}"
    for source in data["sources"]:
        for key in ("base_url", "url", "token_url", "api_url"):
            if key in source or (key == "base_url" and source["type"] != "rss"):
                source[key] = closed
    assert isinstance(data, dict)
    return data


async def test_starting_the_example_posts_nothing(
    fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in EXAMPLE_SECRETS:
        monkeypatch.setenv(name, "set-by-test")
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    monkeypatch.setenv("WEBHOOK_SECRET", "0123456789abcdef0123456789abcdef")
    config = parse_config(example(fake_slack, tmp_path), "switchboard.example.yaml")
    assert {s["type"] for s in config.sources} >= {"mastodon", "rss", "webhook"}
    assert "replay" not in {s["type"] for s in config.sources}
    board = Switchboard.from_config(config, [SlackSurface.from_config(config)])
    try:
        for source in board.sources:
            with contextlib.suppress(SwitchboardError):  # nothing answers: refused, retried later
                await board.ingestor.poll_once(source)
        await board.dispatcher.drain()
        assert await board.store.list_threads() == []
        assert await board.store.outbox_size() == 0
    finally:
        await board.stop()
    posted = [c.method for c in fake_slack.calls() if c.method.startswith("chat.")]
    assert posted == []
