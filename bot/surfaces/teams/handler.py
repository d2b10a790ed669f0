"""What the bot does with each activity Teams sends: @mention commands, card actions
(``adaptiveCard/action`` invokes), and being added to a team.

Activities become ``Interaction`` values for the desk (the application facade); nothing
here decides product rules. A reply in a department whose replies need approval comes back
as a draft: its approval card (Approve / Reject) goes into the card's reply chain, and the
approvers are the people acting from that department's channel.

Each confirm card carries its own reply key, so a repeated click posts once. Text the thread
already got in the last ten minutes from another composer is refused; the card then turns into
a warning with "Post it again", which posts it under ``bot.intent.again_key``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from microsoft_agents.activity import Activity, InvokeResponse, TurnContextProtocol
from microsoft_agents.hosting.core import ActivityHandler, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase, TeamsConnectorClient

from bot import commands
from bot.actions import DRAFT_VERBS, Action, BadAction, Verb
from bot.desk import Desk
from bot.domain import Draft, Person
from bot.errors import AlreadySent, SwitchboardError
from bot.intent import again_key
from bot.interaction import Interaction
from bot.surfaces.teams import card as cards
from bot.surfaces.teams.connector import TeamsApiError, split_conversation
from bot.surfaces.teams.surface import TeamsSurface
from bot.teams_config import TeamsSettings

log = logging.getLogger(__name__)
Ctx = TurnContextProtocol[Activity]
SURFACE = "teams"
GUEST_ROLES = {"guest", "anonymous"}
GUEST_CACHE_SECONDS = 300.0
CONFIRM_KINDS = ("confirm", "again", "cancel")


def keyed_confirm_card(
    short_id: str, network: str, text: str, payload: str, requester: str, *, warning: str = ""
) -> dict[str, Any]:
    """The confirm card, its "Post publicly" keyed for this card alone; with ``warning``
    (the text was already sent) it says so and offers "Post it again" instead."""
    card = cards.confirm_reply_card(short_id, network, text, payload, requester)
    key = f"teams:confirm:{uuid.uuid4().hex}"
    for action in card.get("actions", []):
        data = action.get("data")
        if isinstance(data, dict) and data.get("kind") == "confirm":
            data["key"] = key
            if warning:
                data.update(kind="again", key=again_key(key))
                action["title"] = "Post it again"
    if warning:
        card["body"].insert(0, cards.rich(cards.run(warning, color="Attention")))
    return card


def _get(data: object, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


class TeamsBot(ActivityHandler):
    def __init__(
        self,
        settings: TeamsSettings,
        desk: Desk,
        surface: TeamsSurface,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.desk = desk
        self.surface = surface
        self.clock = clock
        self._by_channel = {d.teams_channel: d.name for d in desk.departments() if d.teams_channel}
        self._guests: dict[str, tuple[float, bool]] = {}

    # messages ------------------------------------------------------------------------------
    async def on_message_activity(self, turn_context: Ctx) -> None:
        activity = turn_context.activity
        if not self._our_tenant(activity):
            await self._say(turn_context, "This switchboard serves another organization.")
            return
        text = _command_text(activity)
        if not text:
            await self._say(turn_context, "Mention me with a command; `help` lists them.")
            return
        actor = await self._person(turn_context)
        channel_department = self._channel_department(activity)
        try:
            interaction = commands.parse(
                text, SURFACE, actor, channel_department=channel_department
            )
        except commands.CommandError as exc:
            await self._say(turn_context, str(exc))
            return
        if interaction.thread_ref is None:
            chain = await self.surface.lookups.thread_for(activity.conversation.id)
            if chain:
                interaction = dataclasses.replace(interaction, thread_ref=chain)
        if interaction.verb is Verb.REPLY:
            await self._confirm_reply(turn_context, interaction)
            return
        response = await self.desk.handle(interaction)
        await self._say(turn_context, response.text)

    async def _confirm_reply(self, turn_context: Ctx, interaction: Interaction) -> None:
        try:
            thread = await self.desk.thread(interaction.thread_ref, interaction.actor)
        except SwitchboardError as exc:
            await self._say(turn_context, exc.user_text())
            return
        payload = Action(Verb.REPLY, thread.id).encode()
        card = keyed_confirm_card(
            thread.short_id, thread.network, interaction.text, payload, interaction.actor.id
        )
        await turn_context.send_activity(
            Activity(type="message", attachments=[cards.attachment(card)])
        )

    # card actions --------------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: Ctx) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        body = await self._card_action(turn_context)
        return InvokeResponse(status=200, body=body)

    async def _card_action(self, turn_context: Ctx) -> dict[str, Any]:
        activity = turn_context.activity
        action = _get(activity.value, "action")
        data = _get(action, "data")
        if _get(action, "type") != "Action.Execute" or not isinstance(data, Mapping):
            return cards.error_response(400, "BadRequest", "Not a switchboard card action.")
        if not self._our_tenant(activity):
            return cards.message_response("This switchboard serves another organization.")
        actor = await self._person(turn_context)
        kind = data.get("kind")
        if kind in CONFIRM_KINDS and data.get("requester") != actor.id:
            return cards.message_response("Only the person who asked for this reply can answer it.")
        if kind == "cancel":
            return cards.card_response(cards.notice_card("Cancelled; nothing was posted."))
        try:
            decoded = Action.decode(str(data.get("action", "")))
        except BadAction as exc:
            return cards.error_response(400, "BadRequest", str(exc))
        interaction = Interaction(
            surface=SURFACE,
            actor=actor,
            verb=decoded.verb,
            thread_ref=decoded.thread_id,
            channel_department=self._channel_department(activity),
        )
        if kind in ("confirm", "again"):
            key = str(data.get("key") or "")
            key = again_key(key) if kind == "again" and key else key
            interaction = dataclasses.replace(interaction, text=str(data.get("text", "")), key=key)
        elif decoded.verb is Verb.REPLY:
            interaction = dataclasses.replace(interaction, text=str(data.get("reply_text", "")))
        elif decoded.verb is Verb.TRANSFER:
            interaction = dataclasses.replace(
                interaction,
                department=str(data.get("department") or "") or None,
                text=str(data.get("note", "")).strip(),
            )
        if decoded.verb in DRAFT_VERBS:
            return await self._decide(interaction, decoded.thread_id)
        if decoded.verb is Verb.REPLY:
            interaction = await self._with_membership(interaction)
        response = await self.desk.handle(interaction)
        if response.ok and response.draft is not None:
            await self._request_approval(response.draft)
        if kind in ("confirm", "again"):
            return await self._confirmed(interaction, decoded.thread_id, response.text, response.ok)
        if not response.ok or response.thread is None:
            return cards.message_response(response.text)
        placement = data.get("placement")
        if not isinstance(placement, int) or not 0 <= placement <= response.thread.placement:
            placement = None
        card = await self.desk.card(response.thread, placement)
        return cards.card_response(self.surface.render(card))

    async def _confirmed(
        self, interaction: Interaction, thread_id: str, said: str, ok: bool
    ) -> dict[str, Any]:
        """The confirm card after its click: the outcome, or "already sent" with a way to
        post it again."""
        if (
            ok
            or not AlreadySent.said_in(said)
            or await self.desk.earlier_reply(thread_id, interaction.text) is None
        ):
            return cards.card_response(cards.notice_card(said, ok))
        thread = await self.desk.thread(thread_id)
        payload = Action(Verb.REPLY, thread.id).encode()
        card = keyed_confirm_card(
            thread.short_id,
            thread.network,
            interaction.text,
            payload,
            interaction.actor.id,
            warning=said,
        )
        return cards.card_response(card)

    async def _decide(self, interaction: Interaction, draft_id: str) -> dict[str, Any]:
        """Approve / Reject on an approval card; the card is replaced by the outcome."""
        try:
            draft = await self.desk.draft(draft_id)
        except SwitchboardError as exc:
            return cards.message_response(exc.user_text())
        member = interaction.channel_department == draft.thread.department
        response = await self.desk.handle(
            dataclasses.replace(
                interaction, thread_ref=draft.thread.id, draft_id=draft.id, is_member=member
            )
        )
        if not response.ok:
            return cards.message_response(response.text)
        who = interaction.actor.label
        url = response.reply.url if response.reply else ""
        if interaction.verb is Verb.REJECT:
            line = f"Rejected by {who}; not posted."
        else:
            verb = "Approved" if interaction.verb is Verb.APPROVE else "Sent"
            line = f"{verb} by {who} and posted publicly" + (f": {url}" if url else ".")
        return cards.card_response(cards.approval_card(draft, line))

    async def _request_approval(self, draft: Draft) -> None:
        """Put the approval card under the thread's Teams card (its reply chain)."""
        refs = [r for r in await self.desk.card_refs(draft.thread) if r.surface == SURFACE]
        current = [r for r in refs if r.placement == draft.thread.placement]
        if not current:
            log.warning("no Teams card for %s; approval card not shown", draft.thread.short_id)
            return
        try:
            await self.surface.post_in_thread(current[-1], cards.approval_card(draft))
        except TeamsApiError as exc:
            log.warning("could not show the approval card of %s: %s", draft.thread.short_id, exc)

    async def _with_membership(self, interaction: Interaction) -> Interaction:
        """Members of a department are the people in its channel: a reply from there is
        from a member; from anywhere else (another channel, a personal chat) it is not."""
        try:
            thread = await self.desk.thread(interaction.thread_ref, interaction.actor)
        except SwitchboardError:
            return interaction
        member = interaction.channel_department == thread.department
        return dataclasses.replace(interaction, is_member=member)

    # installation --------------------------------------------------------------------------
    async def on_conversation_update_activity(self, turn_context: Ctx) -> None:
        activity = turn_context.activity
        recipient = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        if recipient is None or recipient not in added or not self._our_tenant(activity):
            return
        channel = _get(activity.channel_data, "channel", "id") or activity.conversation.id
        department = self._by_channel.get(channel)
        if department:
            text = f"Switchboard is here. This channel shows the {department} department."
        else:
            text = (
                "Switchboard is installed. To show a department in this channel, set its "
                f"teams_channel to {channel} in the config. Mention me with help for commands."
            )
        await self._say(turn_context, text)

    # helpers --------------------------------------------------------------------------------
    async def _say(self, turn_context: Ctx, text: str) -> None:
        await turn_context.send_activity(
            Activity(type="message", text=cards.plain(text, 4000), text_format="plain")
        )

    def _our_tenant(self, activity: Activity) -> bool:
        """A second line behind the endpoint's 403 (``teams.tenant_id`` / ``tenant_ids``)."""
        tenant = (activity.conversation.tenant_id if activity.conversation else None) or _get(
            activity.channel_data, "tenant", "id"
        )
        return self.settings.tenant_allowed(str(tenant or ""))

    def _channel_department(self, activity: Activity) -> str | None:
        channel = _get(activity.channel_data, "channel", "id")
        if not channel and activity.conversation:
            channel = split_conversation(activity.conversation.id)[0]
        return self._by_channel.get(str(channel or ""))

    async def _person(self, turn_context: Ctx) -> Person:
        sender = turn_context.activity.from_property
        person_id = sender.aad_object_id or sender.id
        guest = await self._is_guest(turn_context, sender.id)
        return Person(surface=SURFACE, id=person_id, name=sender.name or "", is_guest=guest)

    async def _is_guest(self, turn_context: Ctx, user_id: str) -> bool:
        """Guests (and anyone we cannot look up) never count as full members: fail closed."""
        now = self.clock()
        cached = self._guests.get(user_id)
        if cached and cached[0] > now:
            return cached[1]
        activity = turn_context.activity
        where = (
            _get(activity.channel_data, "team", "id")
            or split_conversation(activity.conversation.id)[0]
        )
        services = turn_context.services if isinstance(turn_context, TurnContext) else None
        client = services.get(ConnectorClientBase) if services else None  # type: ignore[type-abstract]
        guest = True
        if isinstance(client, TeamsConnectorClient):
            try:
                member = await client.get_conversation_member(where, user_id)
                guest = (member.user_role or "user").lower() in GUEST_ROLES
            except Exception as exc:
                log.warning("cannot look up Teams member %s: %s; treating as guest", user_id, exc)
                return True
        self._guests[user_id] = (now + GUEST_CACHE_SECONDS, guest)
        return guest


def _command_text(activity: Activity) -> str:
    """The message text without the bot's @mention (and Teams' non-breaking spaces)."""
    text = activity.remove_recipient_mention() if activity.entities else (activity.text or "")
    return text.replace("&nbsp;", " ").replace("\xa0", " ").strip()
