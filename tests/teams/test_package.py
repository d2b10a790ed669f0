"""The Teams app package: manifest.json and two real PNG icons in a zip."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.surfaces.teams.package import build_package, manifest
from bot.teams_config import TeamsSettings
from tests.teams.world import APP_ID, TENANT

SETTINGS = TeamsSettings(
    app_id=APP_ID,
    app_password="secret",
    tenant_id=TENANT,
    public_url="https://switchboard.example.com",
    app_name="Acme Switchboard",
    accent_color="#123456",
    developer_name="Acme Inc.",
    website_url="https://acme.example.org",
    privacy_url="https://acme.example.org/privacy",
    terms_url="https://acme.example.org/terms",
)


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Decode an 8-bit RGBA, non-interlaced PNG whose rows use filter 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + chunk) & 0xFFFFFFFF
        if tag == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert (depth, color, interlace) == (8, 6, 0)
            size = (width, height)
        elif tag == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height = size
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        rows.append([tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)])
    return width, height, rows


def test_package_holds_manifest_and_icons(tmp_path: Path) -> None:
    path = build_package(SETTINGS, tmp_path / "out" / "teams-app.zip", version="1.2.3")

    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        data = json.loads(zf.read("manifest.json"))
        color = read_png(zf.read("color.png"))
        outline = read_png(zf.read("outline.png"))

    assert data["manifestVersion"] == "1.17"
    assert data["$schema"].endswith("/v1.17/MicrosoftTeams.schema.json")
    assert (data["id"], data["version"]) == (APP_ID, "1.2.3")
    assert data["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert data["accentColor"] == "#123456"
    assert data["name"]["short"] == "Acme Switchboard"
    assert len(data["description"]["short"]) <= 80
    [bot] = data["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["team", "personal"]
    lists = {tuple(c["scopes"]): c["commands"] for c in bot["commandLists"]}
    team = [c["title"] for c in lists[("team",)]]
    assert {"claim", "reply", "transfer", "resolve", "directory", "mine", "help"} <= set(team)
    for commands in lists.values():
        assert len(commands) <= 10
        assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128 for c in commands)
    assert data["validDomains"] == ["switchboard.example.com"]

    width, height, rows = color
    assert (width, height) == (192, 192)
    assert rows[0][0] == (0x12, 0x34, 0x56, 255)
    assert rows[96][96] == (255, 255, 255, 255)
    width, height, rows = outline
    assert (width, height) == (32, 32)
    pixels = {p for row in rows for p in row}
    assert pixels == {(255, 255, 255, 255), (0, 0, 0, 0)}, "outline: white on transparent"


def test_the_team_grants_reading_its_channel_messages_when_the_app_is_added() -> None:
    """Resource-specific consent (manifest 1.12+): the app registration named in
    webApplicationInfo, and ChannelMessage.Read.Group as an application permission."""
    data = manifest(
        SETTINGS.model_copy(update={"manifest_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"})
    )
    info = data["webApplicationInfo"]
    assert info["id"] == APP_ID and info["resource"]
    assert data["authorization"] == {
        "permissions": {
            "resourceSpecific": [{"name": "ChannelMessage.Read.Group", "type": "Application"}]
        }
    }


def test_manifest_id_can_differ_from_the_bot_id() -> None:
    other = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    data = manifest(SETTINGS.model_copy(update={"manifest_id": other}))
    assert data["id"] == other and data["bots"][0]["botId"] == APP_ID


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"app_id": "", "app_password": ""}, "teams.app_id is needed"),
        ({"public_url": "http://plain.example.com"}, "must be an https URL"),
        (
            {"privacy_url": "", "terms_url": ""},
            "needs teams.privacy_url, teams.terms_url: Teams shows your organization",
        ),
    ],
)
def test_package_errors_name_the_key(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        manifest(SETTINGS.model_copy(update=changes))
