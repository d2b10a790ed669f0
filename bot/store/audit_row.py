"""An audit event's stored JSON document read as an ``AuditRow``: the JSON scanner and the few
fields a report needs, without validating the full ``AuditEvent`` (several times cheaper)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from bot.storage import AuditRow

_scan: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once
"""The C scanner behind ``json.loads``, without its wrappers (the documents are our own
compact JSON: one object, no surrounding space)."""


def audit_row(at_us: float, doc: str | bytes) -> AuditRow:
    """The row of one stored event; ``at_us`` is its time from the store's index."""
    d: dict[str, Any] = _scan(doc if isinstance(doc, str) else doc.decode(), 0)[0]
    actor = d.get("actor")
    if actor:
        key = f"{actor['surface']}:{actor['id']}"
        label = actor.get("name") or actor["id"]
    else:
        key = label = ""
    data = d.get("data")
    if data:
        return AuditRow(
            d["kind"],
            d["thread_id"],
            at_us / 1e6,
            key,
            label,
            str(data.get("department") or ""),
            str(data.get("to") or ""),
            bool(data.get("to_person")),
            bool(data.get("rollover")),
        )
    return AuditRow(d["kind"], d["thread_id"], at_us / 1e6, key, label, "", "", False, False)
