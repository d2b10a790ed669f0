"""atproto record helpers for the Bluesky adapter: record keys, post text, facets and the
notification cursor. Pure functions over untrusted JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from adapters.html_text import render_link
from adapters.plain_text import clean_text
from adapters.support import MALFORMED, parse_time
from bot.errors import SourceError

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01
_YEAR_US = 365 * 24 * 3600 * 1_000_000

Stop = tuple[datetime, frozenset[str]]


def record_key(idempotency_key: str) -> str:
    """A valid TID (13 base32-sortable chars) derived only from ``idempotency_key``."""
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")
    micros = _TID_EPOCH_US + (digest >> 10) % _YEAR_US
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def cursor_key(cursor: str | None) -> Stop | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        return parse_time(data["t"]), frozenset(data.get("uris", []))
    except (*MALFORMED, json.JSONDecodeError) as exc:
        raise SourceError(f"stored cursor {cursor[:80]!r} is not ours: {exc}") from exc


def facet(start: int, end: int, feature: dict[str, str]) -> dict[str, Any]:
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}


def post_text(record: dict[str, Any]) -> str:
    """A post's text as plain text, link facets shown by their real target."""
    raw = record["text"].encode("utf-8")
    spans = []
    for item in record.get("facets") or []:
        try:
            start, end = int(item["index"]["byteStart"]), int(item["index"]["byteEnd"])
            uris = [f["uri"] for f in item["features"] if f.get("$type", "").endswith("#link")]
        except MALFORMED:
            continue
        if uris and 0 <= start < end <= len(raw) and isinstance(uris[0], str):
            spans.append((start, end, uris[0]))
    out, position = [], 0
    for start, end, uri in sorted(spans):
        if start < position:
            continue
        label = raw[start:end].decode("utf-8", errors="replace")
        out += [raw[position:start].decode("utf-8", errors="replace"), render_link(uri, label)]
        position = end
    out.append(raw[position:].decode("utf-8", errors="replace"))
    return clean_text("".join(out))


def is_old(item: Any, stop: Stop) -> bool:
    try:
        indexed = parse_time(item["indexedAt"])
    except MALFORMED:
        return False
    return indexed < stop[0] or (indexed == stop[0] and item.get("uri") in stop[1])


def next_cursor(items: list[Any], cursor: str | None) -> str | None:
    stamps: dict[datetime, tuple[str, set[str]]] = {}
    previous = cursor_key(cursor)
    for item in items:
        try:
            raw = str(item["indexedAt"])
            stamp = parse_time(raw)
        except MALFORMED:
            continue
        stamps.setdefault(stamp, (raw, set()))[1].add(str(item.get("uri", "")))
    if not stamps:
        return cursor
    newest = max(stamps)
    if previous is not None and newest < previous[0]:
        return cursor
    raw, uris = stamps[newest]
    if previous is not None and newest == previous[0]:
        uris |= previous[1]
    return json.dumps({"t": raw, "uris": sorted(uris)}, separators=(",", ":"))
