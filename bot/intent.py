"""One public reply per intent: the same text to the same thread is sent once per window.

An intent is the thread and the normalised text (runs of whitespace collapsed, leading
mentions lower-cased). The first composer to send it records the intent in the key-value
port (``reply.intent``) with a ten-minute expiry on the store's clock, so every replica
agrees; later composers, whoever and whichever modal or tab they use, are refused with
"already sent by …" unless they explicitly send it again.

A surface asks for "send it again" by keying the reply with :func:`again_key`; the reply
service sees it through :func:`is_again`. These helpers are pure, so surfaces may use them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from bot.errors import AlreadySent
from bot.storage import REPLY_INTENT, KeyValue

INTENT_WINDOW_SECONDS = 600.0
"""How long the same text on the same thread counts as the same intent."""
AGAIN_PREFIX = "again:"
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.+-]+(?:@[\w.-]+)?\s+)+", re.UNICODE)


def normalise(text: str) -> str:
    """The text as an intent: whitespace collapsed, leading mentions lower-cased."""
    flat = " ".join(text.split())
    lead = _LEADING_MENTIONS.match(flat + " ")
    if lead is None:
        return flat
    end = min(lead.end(), len(flat))
    return flat[:end].lower() + flat[end:]


def intent_key(thread_id: str, text: str) -> str:
    """The key-value key of the intent to post ``text`` on ``thread_id``."""
    digest = hashlib.sha256(f"{thread_id}\x1f{normalise(text)}".encode()).hexdigest()
    return f"{thread_id}:{digest[:40]}"


def again_key(key: str) -> str:
    """The idempotency key of a composer whose person confirmed "send it again"."""
    return key if is_again(key) else f"{AGAIN_PREFIX}{key}"


def is_again(key: str) -> bool:
    """Whether the reply under ``key`` was explicitly confirmed as a second sending."""
    return key.startswith(AGAIN_PREFIX)


@dataclass(frozen=True)
class Intent:
    """Who first sent a text on a thread, when, and the ledger key it is posted under."""

    key: str
    by: str
    at: datetime
    url: str = ""
    """The public link, once posted."""
    person: str = ""
    """The sender's ``Person.key``."""

    def encode(self) -> str:
        at = self.at.isoformat()
        return json.dumps(
            {"key": self.key, "by": self.by, "at": at, "url": self.url, "person": self.person}
        )

    @classmethod
    def decode(cls, raw: str) -> Intent | None:
        try:
            data = json.loads(raw)
            at = datetime.fromisoformat(data["at"])
            url, person = str(data.get("url") or ""), str(data.get("person") or "")
            return cls(str(data["key"]), str(data["by"]), at, url, person)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def refusal(self, now: datetime) -> AlreadySent:
        """The refusal of a second composer: sent (with the link) or still being sent."""
        when = ago((now - self.at).total_seconds())
        return AlreadySent(self.by, when, self.url, sending=not self.url)


def ago(seconds: float) -> str:
    """``just now``, ``1 min ago``, ``7 min ago``."""
    minutes = int(max(seconds, 0.0) // 60)
    return "just now" if minutes < 1 else f"{minutes} min ago"


async def earlier(kv: KeyValue, thread_id: str, text: str) -> Intent | None:
    """The live intent holding ``text`` on ``thread_id`` (a composer warns before sending)."""
    raw = await kv.kv_get(REPLY_INTENT, intent_key(thread_id, text))
    return Intent.decode(raw) if raw is not None else None
