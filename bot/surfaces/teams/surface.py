"""The Teams surface: thread cards as new conversations in department channels.

Everything needed to find a card again is shared by every replica: the ``CardRef``
(conversation id + activity id, kept by the dispatcher) and the ``CardLookups`` entries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from microsoft_agents.activity import Activity, ChannelAccount, ConversationParameters

from bot.config import Department
from bot.domain import CardRef
from bot.ports import Alert, Card
from bot.surfaces.teams.card import Json, attachment, plain, summary, thread_card
from bot.surfaces.teams.connector import Connector, TeamsApiError, split_conversation
from bot.surfaces.teams.lookups import CardLookups
from bot.teams_config import TeamsSettings

log = logging.getLogger(__name__)


class TeamsSurface:
    """``bot.ports.Surface`` for Microsoft Teams channels."""

    name = "teams"

    def __init__(
        self,
        settings: TeamsSettings,
        departments: Sequence[Department],
        lookups: CardLookups,
        connector: Connector | None = None,
    ) -> None:
        self.settings = settings
        self.departments = {d.name: d for d in departments}
        self.lookups = lookups
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

    async def find_card(self, channel: str, card: Card, key: str) -> CardRef | None:
        """The card an earlier attempt posted under ``key`` (its ``CardLookups`` entry)."""
        return await self.lookups.posted(key)

    async def find_line(self, ref: CardRef, key: str) -> bool:
        """Always False: the Bot Connector cannot list a channel reply chain, so a line a crash
        cut off between sending and recording is sent again (a repeat rather than a loss)."""
        return False

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        """A new conversation in ``channel`` with the card; the dispatcher posts a key once."""
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
        await self.lookups.remember(key, ref, card.thread_id)
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
            text=plain(
                f"{text.teams} {text}" if isinstance(text, Alert) and text.teams else text, 4000
            ),
            text_format="plain",
            reply_to_id=ref.message_id,
        )
        try:
            await self.connector.send(ref.channel, activity)
        except TeamsApiError as exc:
            if exc.status != 404:
                raise
            log.warning("conversation of card %s is gone from Teams; line dropped", ref.message_id)

    async def post_in_thread(self, ref: CardRef, card: Json) -> None:
        """An Adaptive Card in the reply chain of the card ``ref`` (an approval request)."""
        activity = Activity(type="message", attachments=[attachment(card)])
        activity.reply_to_id = ref.message_id
        await self.connector.send(ref.channel, activity)

    async def close(self) -> None:
        await self.connector.close()
