"""The Teams surface: thread cards as new conversations in department channels.

Everything needed to find a card again is shared by every replica: the ``CardRef``
(conversation id + activity id, kept by the dispatcher) and the ``CardLookups`` entries.
A card or line whose answer was lost (a crash, a 5xx, a dropped connection) is found in the
channel through Microsoft Graph by the marker it carries (``ChannelHistory``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from microsoft_agents.activity import Activity, ChannelAccount, ConversationParameters

from bot.config import Department
from bot.domain import CardRef
from bot.ports import Alert, Card
from bot.surfaces.teams.card import (
    Json,
    attachment,
    card_marker,
    line_card,
    line_marker,
    summary,
    thread_card,
)
from bot.surfaces.teams.connector import MESSAGE_ID, Connector, TeamsApiError, split_conversation
from bot.surfaces.teams.history import ChannelHistory, TeamDirectory
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
        history: ChannelHistory | None = None,
    ) -> None:
        self.settings = settings
        self.departments = {d.name: d for d in departments}
        self.lookups = lookups
        self.connector = connector or Connector(settings)
        self.history = history or ChannelHistory(None, TeamDirectory(lookups.kv))

    def reconfigure(self, departments: Sequence[Department]) -> None:
        """Channels and titles of these departments from now on (a config reload)."""
        self.departments = {d.name: d for d in departments}

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
        """The card an earlier attempt posted under ``key``: its ``CardLookups`` entry, else
        the channel's root message carrying the card's marker (through Graph)."""
        known = await self.lookups.posted(key)
        if known is not None:
            return known
        found = await self.history.find_card(channel, card_marker(card.thread_id, card.placement))
        if found is None:
            return None
        log.info("card %s is already in Teams (message %s); not posting again", key, found)
        ref = self._ref(f"{channel}{MESSAGE_ID}{found}", found, card)
        await self.lookups.remember(key, ref, card.thread_id)
        return ref

    async def find_line(self, ref: CardRef, key: str) -> bool:
        """Whether the line ``key`` is in the card's reply chain (through Graph); False when
        Graph cannot be asked, so the line is sent again (a repeat rather than a loss)."""
        channel, root = split_conversation(ref.channel)
        return await self.history.has_line(channel, root or ref.message_id, line_marker(key))

    def _ref(self, conversation: str, activity_id: str, card: Card) -> CardRef:
        return CardRef(
            surface=self.name,
            channel=conversation,
            message_id=activity_id,
            department=card.department,
            placement=card.placement,
        )

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
        ref = self._ref(conversation, activity_id, card)
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
        """A line in the card's reply chain: a small card whose one text run shows ``text``
        verbatim (no markup), marked with ``key`` so Graph can find it again. An alert names
        its Teams notify target in front."""
        shown = f"{text.teams} {text}" if isinstance(text, Alert) and text.teams else str(text)
        activity = Activity(
            type="message",
            summary="Switchboard activity",
            attachments=[attachment(line_card(shown, key))],
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
        await self.history.close()
