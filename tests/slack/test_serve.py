"""`switchboard serve` with a `slack:` section, as an operator runs it: the card reaches the
department channel and a signed slash command sent to /slack/events claims it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import yaml

from tests.boards import free_port
from tests.clock import eventually

from .fake_slack import FakeSlack
from .inbound_harness import ALICE, BILLING, config_for, sign, workspace


async def test_serve_posts_cards_and_takes_slash_commands(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    workspace(fake_slack)
    port = free_port()
    config = config_for(fake_slack, tmp_path)
    config["server"] = {"host": "127.0.0.1", "port": port}
    mention = {
        "network": "mastodon",
        "external_id": "m-1",
        "conversation_key": "m-1",
        "author": {"id": "1", "handle": "dana@example.social", "display_name": "<!channel>"},
        "text": "I was charged twice <@U0ALICE>",
        "permalink": "https://example.social/@dana/1",
    }
    Path(config["sources"][0]["path"]).write_text(json.dumps([mention]))
    config["sources"][0]["poll_interval"] = 0.2
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    server = subprocess.Popen(  # noqa: ASYNC220 - started, then polled without blocking
        [sys.executable, "-m", "bot.cli", "serve", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await eventually(lambda: bool(fake_slack.messages_in(BILLING)), within=10, step=0.05)
        cards = fake_slack.messages_in(BILLING)
        assert len(cards) == 1
        posted = json.dumps(fake_slack.calls("chat.postMessage")[0].params)
        assert "<!channel>" not in posted and "<@U0ALICE>" not in posted

        body = urlencode(
            {
                "team_id": fake_slack.team_id,
                "channel_id": BILLING,
                "channel_name": "billing",
                "user_id": ALICE,
                "user_name": "alice",
                "command": "/claim",
                "text": "T-1001",
                "response_url": "https://hooks.slack.com/commands/T/1/x",
                "trigger_id": "1.2.3",
            }
        )
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(fake_slack.signing_secret, body, stamp),
        }
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/slack/events"
            answer = await http.post(url, data=body.encode(), headers=headers)
            assert answer.status == 200
            forged = await http.post(
                url, data=body.encode(), headers={**headers, "X-Slack-Signature": "v0=00"}
            )
            assert forged.status == 401
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert (await ready.json())["ready"] is True
        await eventually(lambda: bool(fake_slack.calls("chat.update")), within=10, step=0.05)
        update = json.dumps(fake_slack.calls("chat.update")[-1].params)
        assert "alice" in update
    finally:
        server.terminate()
        with contextlib.suppress(AssertionError):  # keep the fake Slack serving while it stops
            await eventually(lambda: server.poll() is not None, within=20, step=0.05)
        _, err = server.communicate(timeout=5)
    assert server.returncode == 0, err.decode()
