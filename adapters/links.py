"""Links in plain text (http(s) URLs and bare well-known domains) and UTF-8 offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TLD_WORDS = (
    "com net org edu gov io co dev app social info biz me tv us uk de fr es it nl eu ca au jp "
    "cn ru br in ch se no fi dk pl at be cz ie nz xyz ai gg ly to fm sh page blog news tech "
    "online site shop store cloud club link live world zone email"
)
_TLDS = frozenset(_TLD_WORDS.split())
_LINK_CANDIDATE = re.compile(
    r"(?<![\w@.\-/])(?:https?://[^\s<>\"]+|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"”’"


@dataclass(frozen=True)
class Link:
    """A link found in plain text: character offsets and the full URL."""

    start: int
    end: int
    url: str


def find_links(text: str) -> list[Link]:
    """URLs in ``text``: ``http(s)://`` links, and bare domains with a well-known TLD
    (given ``https://``). Trailing punctuation and an unbalanced ``)`` are left out."""
    links = []
    for match in _LINK_CANDIDATE.finditer(text):
        raw = match.group(0)
        while raw and (
            raw[-1] in _TRAILING or (raw[-1] == ")" and raw.count("(") < raw.count(")"))
        ):
            raw = raw[:-1]
        if "://" not in raw:
            host = raw.split("/", 1)[0]
            if host.rsplit(".", 1)[-1].lower() not in _TLDS:
                continue
            url = f"https://{raw}"
        else:
            if len(raw) <= len(raw.split("://", 1)[0]) + 3:
                continue
            url = raw
        links.append(Link(match.start(), match.start() + len(raw), url))
    return links


def utf8_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets ``[start, end)`` of ``text`` as UTF-8 byte offsets."""
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))
