"""The Teams surface: thread cards as new conversations in department channels.

Everything needed to find a card again lives in the store, so any replica can update it:
the ``CardRef`` (conversation id + activity id) and, under surface-owned cursor keys, the
card posted for each dispatcher key and the thread behind each card conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from microsoft_agents.activity import Activity, ChannelAccount, ConversationParameters

from bot.config import Department
from bot.domain import CardRef
from bot.ports import Card
from bot.store import Store
from bot.surfaces.teams.card import attachment, plain, summary, thread_card
from bot.surfaces.teams.connector import Connector, TeamsApiError, split_conversation
from bot.surfaces.teams.settings import TeamsSettings

log = logging.getLogger(__name__)
POSTED = "teams:card:"
THREAD_OF = "teams:conversation:"


def _conversation_key(conversation_id: str) -> str:
    channel, root = split_conversation(conversation_id)
    return f"{THREAD_OF}{channel};{root}"


async def thread_for_conversation(store: Store, conversation_id: str) -> str | None:
    """The thread whose card started ``conversation_id`` (a card's reply chain), if any."""
    if not split_conversation(conversation_id)[1]:
        return None
    return await store.get_cursor(_conversation_key(conversation_id))


class TeamsSurface:
    """``bot.ports.Surface`` for Microsoft Teams channels."""

    name = "teams"

    def __init__(
        self,
        settings: TeamsSettings,
        departments: Sequence[Department],
        store: Store,
        connector: Connector | None = None,
    ) -> None:
        self.settings = settings
        self.departments = {d.name: d for d in departments}
        self.store = store
        self.connector = connector or Connector(settings)

    def channel_for(self, department: str) -> str | None:
        dept = self.departments.get(department)
        return (dept.teams_channel or None) if dept else None

    def render(self, card: Card) -> dict[str, object]:
        choices = [(d.name, d.label) for d in self.departments.values()]
        return thread_card(card, choices)

    def _message(self, card: Card) -> Activity:
        return Activity(
            type="message",
            summary=summary(card),
            attachments=[attachment(self.render(card))],
        )

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        stored = await self.store.get_cursor(POSTED + key)
        if stored:
            return CardRef.model_validate_json(stored)
        tenant = self.settings.tenant_id
        channel_data: dict[str, object] = {"channel": {"id": channel}}
        if tenant:
            channel_data["tenant"] = {"id": tenant}
        params = ConversationParameters(
            is_group=True,
            channel_data=channel_data,
            activity=self._message(card),
            tenant_id=tenant or None,
        )
        if self.settings.app_id:
            params.agent = ChannelAccount(id=f"28:{self.settings.app_id}")
        result = await self.connector.create_conversation(params)
        conversation = result.id or ""
        activity_id = result.activity_id or split_conversation(conversation)[1]
        if not conversation or not activity_id:
            raise TeamsApiError(f"Teams did not say where the card for {card.short_id} went")
        ref = CardRef(
            surface=self.name,
            channel=conversation,
            message_id=activity_id,
            department=card.department,
            placement=card.placement,
        )
        await self.store.set_cursor(POSTED + key, ref.model_dump_json())
        await self.store.set_cursor(_conversation_key(conversation), card.thread_id)
        return ref

    async def update_card(self, ref: CardRef, card: Card) -> None:
        """Replace the card in place; a card someone deleted in Teams is skipped (404)."""
        activity = self._message(card)
        activity.id = ref.message_id
        try:
            await self.connector.update(ref.channel, ref.message_id, activity)
        except TeamsApiError as exc:
            if exc.status != 404:
                raise
            log.warning(
                "card %s of %s is gone from Teams; not updated", ref.message_id, card.short_id
            )

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        """A plain-text line in the card's reply chain (``textFormat: plain``: no markup)."""
        activity = Activity(
            type="message",
            text=plain(text, 4000),
            text_format="plain",
            reply_to_id=ref.message_id,
        )
        try:
            await self.connector.send(ref.channel, activity)
        except TeamsApiError as exc:
            if exc.status != 404:
                raise
            log.warning("conversation of card %s is gone from Teams; line dropped", ref.message_id)

    async def close(self) -> None:
        await self.connector.close()
