"""Every source's errors name the source once: ``bluesky: ...``, ``bluesky-main: ...`` or
``bluesky brand: ...``, never ``bluesky bluesky: ...``, in the source's own errors (a dead
server, a server answering 500) and in the lines of ``switchboard check``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from adapters.base import source_class
from bot.domain import Author, Mention
from bot.errors import SourceError
from bot.naming import source_label
from tests.adapters.fakes import LoopbackServer
from tests.boards import DEPARTMENTS, free_port

ROOT = Path(__file__).resolve().parents[2]
NETWORKS = ("mastodon", "bluesky", "reddit", "x", "rss", "webhook")
CASES = [
    (network, name)
    for n, network in enumerate(NETWORKS)
    for name in (network, f"{network}-main", f"brand{n}")
]
"""Names equal to the network (the case that used to double), naming it, and not naming it."""


class ErroringServer(LoopbackServer):
    """Answers every request with HTTP 500 and a JSON error body."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_route("*", "/{tail:.*}", self._fail)

    async def _fail(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "InternalServerError"}, status=500)


def settings(network: str, name: str, url: str) -> dict[str, Any]:
    """The config entry of one source whose every server is ``url``."""
    keys: dict[str, dict[str, Any]] = {
        "mastodon": {"base_url": url, "access_token": "token"},
        "bluesky": {"base_url": url, "handle": "brand.example", "app_password": "app-pass"},
        "reddit": {
            "base_url": url,
            "token_url": f"{url}/api/v1/access_token",
            "client_id": "client",
            "client_secret": "secret",
            "username": "AcmeSupport",
            "password": "password",
        },
        "x": {"base_url": url, "bearer_token": "bearer"},
        "rss": {"url": f"{url}/feed"},
        "webhook": {"secret": "0123456789abcdef0123", "reply_url": f"{url}/replies"},
    }
    return {"name": name, "type": network, **keys[network]}


def said(word: str, text: str) -> int:
    """How many times ``word`` stands in ``text`` as a word of its own (any case)."""
    return len(re.findall(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text, re.I))


def assert_named_once(network: str, name: str, message: str) -> None:
    label = source_label(network, name)
    assert message.startswith(f"{label}: "), message
    assert said(network, message) == 1, message
    assert said(name, message) == 1, message


def a_mention(network: str, name: str) -> Mention:
    return Mention(
        source=name,
        network=network,
        external_id="1",
        conversation_key="1",
        author=Author(id="7", handle="customer"),
        text="the app crashes",
        reply_data={"id": "1"},
    )


async def source_error(network: str, name: str, url: str) -> str:
    """The error the source raises where it first meets its server (a poll, or a reply for
    the webhook, which is pushed to and never polls)."""
    source = source_class(network).from_settings(settings(network, name, url))
    try:
        with pytest.raises(SourceError) as failed:
            if network == "webhook":
                await source.reply(a_mention(network, name), "Thanks, it is fixed.", "key-1")
            else:
                await source.fetch(None)
    finally:
        await source.close()
    return str(failed.value)


def test_the_label_says_the_network_once() -> None:
    assert source_label("bluesky", "bluesky") == "bluesky"
    assert source_label("bluesky", "bluesky-main") == "bluesky-main"
    assert source_label("bluesky", "brand") == "bluesky brand"
    assert source_label("x", "x_main") == "x_main"
    assert source_label("x", "index") == "x index"
    assert source_label("mastodon", "mymastodon") == "mymastodon"


@pytest.fixture
async def erroring() -> AsyncIterator[str]:
    server = ErroringServer()
    yield await server.start()
    await server.close()


@pytest.mark.parametrize(("network", "name"), CASES)
async def test_a_dead_server_error_names_the_source_once(network: str, name: str) -> None:
    message = await source_error(network, name, f"http://127.0.0.1:{free_port()}")
    assert "could not reach" in message
    assert_named_once(network, name, message)


@pytest.mark.parametrize(("network", "name"), CASES)
async def test_a_failing_server_error_names_the_source_once(
    network: str, name: str, erroring: str
) -> None:
    message = await source_error(network, name, erroring)
    assert "HTTP 500" in message
    assert_named_once(network, name, message)


@pytest.fixture(scope="module")
def check_output(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``switchboard check`` over every case, each source pointed at a dead server."""
    folder = tmp_path_factory.mktemp("check")
    dead = f"http://127.0.0.1:{free_port()}"
    config = folder / "switchboard.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"url": f"sqlite:///{folder / 'check.sqlite3'}"},
                "departments": DEPARTMENTS,
                "sources": [settings(network, name, dead) for network, name in CASES],
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(("network", "name"), [c for c in CASES if c[0] != "webhook"])
def test_check_names_each_failing_source_once(
    check_output: list[str], network: str, name: str
) -> None:
    label = source_label(network, name)
    [line] = [line for line in check_output if line.startswith(f"FAIL source {label}: ")]
    assert "reach" in line
    assert_named_once(network, name, line.removeprefix("FAIL source "))


def test_check_of_a_webhook_reaches_nothing_and_passes(check_output: list[str]) -> None:
    """A webhook is pushed to; check describes it without calling its reply_url."""
    for name in ("webhook", "webhook-main", f"brand{NETWORKS.index('webhook')}"):
        assert any(line.startswith(f"ok   source {name}: signed webhook") for line in check_output)
