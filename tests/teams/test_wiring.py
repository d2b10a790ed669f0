"""The Teams endpoint as `switchboard serve` wires it from the config, and `teams-package`."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Switchboard
from bot.config import parse_config
from bot.platforms import install_platforms
from bot.server import build_app
from tests.boards import mention_item, real_store, write_items
from tests.teams.world import APP_ID, DEPARTMENTS, SUPPORT, TENANT

TEAMS = {"app_id": APP_ID, "app_password": "secret", "tenant_id": TENANT}


async def test_serve_wires_the_teams_endpoint_and_refuses_unsigned_requests(
    tmp_path: Path,
) -> None:
    items = write_items(tmp_path / "i.json", [mention_item(1)])
    source = {"name": "sample", "type": "replay", "path": str(items)}
    config = parse_config({"departments": DEPARTMENTS, "teams": TEAMS, "sources": [source]})
    async with real_store("sqlite", tmp_path) as store:
        board = Switchboard.from_config(config, [], store=store)
        app = build_app(board)
        closers = install_platforms(board, app, config)
        assert [s.name for s in board.surfaces] == ["teams"]
        assert board.surfaces[0].channel_for("support") == SUPPORT
        async with TestClient(TestServer(app)) as client:
            activity = {
                "type": "message",
                "serviceUrl": "https://smba.trafficmanager.net/teams/",
                "text": "claim",
            }
            refused = await client.post("/api/messages", json=activity)
            assert refused.status == 401
        for close in closers:
            await close()


def test_teams_package_from_the_config(tmp_path: Path) -> None:
    """Only the teams section counts: the others' environment variables need not be set."""
    config = tmp_path / "config.yaml"
    pages = {
        "developer_name": "Acme Inc.",
        "website_url": "https://acme.example.org",
        "privacy_url": "https://acme.example.org/privacy",
        "terms_url": "https://acme.example.org/terms",
    }
    slack = {"bot_token": "${SB_UNSET_SLACK_TOKEN}", "signing_secret": "${SB_UNSET_SECRET}"}
    data = {"departments": DEPARTMENTS, "slack": slack, "teams": TEAMS | pages}
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "app.zip"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "teams-package",
            "--config",
            str(config),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["developer"]["privacyUrl"] == "https://acme.example.org/privacy"
    assert "example.com" not in json.dumps(manifest["developer"])

    config.write_text(yaml.safe_dump({**data, "teams": TEAMS}))
    refused = subprocess.run(
        [sys.executable, "-m", "bot.cli", "teams-package", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "teams.developer_name, teams.website_url, teams.privacy_url" in refused.stderr
