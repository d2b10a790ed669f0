"""The Teams app package: ``manifest.json`` and two icons, zipped, ready to upload.

Icons are drawn here (a switchboard jack: a ring and a plug) and written as PNG with
zlib/struct, so building a package needs nothing beyond the standard library.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bot.errors import ConfigError
from bot.teams_config import GUID, TeamsSettings

MANIFEST_VERSION = "1.17"
SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
RESOURCE_SPECIFIC = [{"name": "ChannelMessage.Read.Group", "type": "Application"}]
"""Granted by the team's owner when the app is added (resource-specific consent, no tenant
admin): read the team's channel messages, so a card whose answer was lost is found again."""
Pixel = tuple[int, int, int, int]

TEAM_COMMANDS = [
    ("claim", "Take this thread (or the first waiting: due first)"),
    ("release", "Put the thread back in the queue"),
    ("reply", "reply <text>: answer publicly on the network (asks to confirm)"),
    ("note", "note <text>: an internal note, never public"),
    ("transfer", "transfer <department> [note]: move the thread"),
    ("resolve", "Close the thread"),
    ("directory", "Departments, their channels and who is on duty"),
    ("mine", "Your open threads"),
    ("queue", "queue [department]: waiting threads, due first"),
    ("help", "All commands"),
]
PERSONAL_COMMANDS = [
    ("directory", "Departments, their channels and who is on duty"),
    ("mine", "Your open threads"),
    ("queue", "queue [department]: waiting threads, due first"),
    ("show", "show T-12: a thread and its history"),
    ("help", "All commands"),
]


def manifest(settings: TeamsSettings, version: str = "1.0.0") -> dict[str, Any]:
    """The app manifest for ``settings``; ConfigError names what is missing."""
    if not settings.app_id:
        raise ConfigError("teams.app_id is needed to build the Teams app package")
    app_id = settings.manifest_id or settings.app_id
    if not GUID.match(app_id):
        raise ConfigError(f"teams.manifest_id must be a GUID, got {app_id!r}")
    unset = [
        f"teams.{key}"
        for key in ("developer_name", "website_url", "privacy_url", "terms_url")
        if not getattr(settings, key)
    ]
    if unset:
        raise ConfigError(
            f"the Teams app package needs {', '.join(unset)}: Teams shows your organization's "
            "name and links its website, privacy statement and terms of use on the app's page"
        )
    domains = []
    if settings.public_url:
        host = urlparse(settings.public_url).hostname
        if not host or urlparse(settings.public_url).scheme != "https":
            raise ConfigError(f"teams.public_url must be an https URL, got {settings.public_url!r}")
        domains.append(host)
    name = settings.app_name

    def commands(entries: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"title": title, "description": text} for title, text in entries]

    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": settings.developer_name,
            "websiteUrl": settings.website_url,
            "privacyUrl": settings.privacy_url,
            "termsOfUseUrl": settings.terms_url,
        },
        "name": {"short": name, "full": f"{name}: public mentions, answered by the right team"},
        "description": {
            "short": "Claim, answer and transfer public social media mentions.",
            "full": (
                "Brings public mentions of your organization (Mastodon, Bluesky, Reddit, X, "
                "RSS, webhooks) into the channel of the department that can help. Anyone can "
                "claim a mention, reply publicly from Teams, or transfer it to another "
                "department, in Teams or Slack, like a phone call."
            ),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": settings.accent_color,
        "bots": [
            {
                "botId": settings.app_id,
                "scopes": ["team", "personal"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "commandLists": [
                    {"scopes": ["team"], "commands": commands(TEAM_COMMANDS)},
                    {"scopes": ["personal"], "commands": commands(PERSONAL_COMMANDS)},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": domains,
        "webApplicationInfo": {"id": settings.app_id, "resource": f"api://{settings.app_id}"},
        "authorization": {"permissions": {"resourceSpecific": RESOURCE_SPECIFIC}},
    }


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGBA PNG."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _jack(size: int, x: int, y: int) -> bool:
    """The glyph: a ring with a plug in its middle, scaled to ``size``."""
    c = (size - 1) / 2
    r = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
    ring = 0.30 * size <= r <= 0.40 * size
    plug = r <= 0.12 * size
    return bool(ring or plug)


def color_icon(accent: str, size: int = 192) -> bytes:
    rgb = tuple(int(accent[i : i + 2], 16) for i in (1, 3, 5))
    back: Pixel = (rgb[0], rgb[1], rgb[2], 255)
    white: Pixel = (255, 255, 255, 255)
    return png(size, size, lambda x, y: white if _jack(size, x, y) else back)


def outline_icon(size: int = 32) -> bytes:
    """White on transparent, as Teams requires for the outline icon."""
    white: Pixel = (255, 255, 255, 255)
    clear: Pixel = (0, 0, 0, 0)
    return png(size, size, lambda x, y: white if _jack(size, x, y) else clear)


def build_package(settings: TeamsSettings, out: str | Path, version: str = "1.0.0") -> Path:
    """Write the zip to ``out`` and return its path."""
    data = manifest(settings, version)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
        zf.writestr(COLOR_ICON, color_icon(settings.accent_color))
        zf.writestr(OUTLINE_ICON, outline_icon())
    return path
