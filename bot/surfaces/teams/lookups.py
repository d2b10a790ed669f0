"""What the Teams side must find again, in the key-value port, so any replica can:

- the card posted for each dispatcher key (a recovering dispatcher adopts it), and
- the thread behind each card's conversation (a reply chain in a channel), so commands typed
  under a card act on its thread.

Both expire: a dispatcher key is retried for minutes, not months; a card older than the
conversation entry's lifetime no longer maps its replies to the thread (they are refused
with "which thread?" and can name one, ``claim T-12``).
"""

from __future__ import annotations

from bot.domain import CardRef
from bot.storage import (
    TEAMS_CONVERSATION,
    TEAMS_CONVERSATION_TTL,
    TEAMS_POSTED,
    TEAMS_POSTED_TTL,
    KeyValue,
)
from bot.surfaces.teams.connector import split_conversation


def conversation_key(conversation_id: str) -> str:
    channel, root = split_conversation(conversation_id)
    return f"{channel};{root}"


class CardLookups:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def posted(self, key: str) -> CardRef | None:
        stored = await self.kv.kv_get(TEAMS_POSTED, key)
        return CardRef.model_validate_json(stored) if stored else None

    async def remember(self, key: str, ref: CardRef, thread_id: str) -> None:
        await self.kv.kv_put(TEAMS_POSTED, key, ref.model_dump_json(), ttl=TEAMS_POSTED_TTL)
        await self.kv.kv_put(
            TEAMS_CONVERSATION,
            conversation_key(ref.channel),
            thread_id,
            ttl=TEAMS_CONVERSATION_TTL,
        )

    async def thread_for(self, conversation_id: str) -> str | None:
        """The thread whose card started ``conversation_id`` (a card's reply chain), if any."""
        if not split_conversation(conversation_id)[1]:
            return None
        return await self.kv.kv_get(TEAMS_CONVERSATION, conversation_key(conversation_id))
