"""A surface that appends every card operation to a JSON-lines file.

For audits, dry runs and tests: it shows exactly what a chat platform would have received.
Posting is idempotent per key across restarts (the file is the memory).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.domain import CardRef
from bot.ports import Card


class CardLogSurface:
    name = "cardlog"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._posted: dict[str, CardRef] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line) if line.strip() else {}
                if entry.get("op") == "post":
                    self._posted[entry["key"]] = CardRef.model_validate(entry["ref"])

    def channel_for(self, department: str) -> str | None:
        return department

    def _write(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, default=str) + "\n")
            out.flush()

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        ref = self._posted.get(key)
        if ref is None:
            ref = CardRef(
                surface=self.name,
                channel=channel,
                message_id=key,
                department=card.department,
                placement=card.placement,
            )
            self._write({"op": "post", "key": key, "ref": ref.model_dump(), "card": asdict(card)})
            self._posted[key] = ref
        return ref

    async def update_card(self, ref: CardRef, card: Card) -> None:
        self._write({"op": "update", "key": ref.message_id, "card": asdict(card)})

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        self._write({"op": "notify", "key": ref.message_id, "text": text, "event": key})

    async def close(self) -> None:
        return None  # every line is written and closed as it goes
