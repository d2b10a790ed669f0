"""What every inbound Slack listener shares: the desk (the application facade), the surface,
tracked background work, event de-duplication, people, and the way back from a Slack thread
to a switchboard thread.

Listeners ack first and hand the slow part to ``spawn``; ``settle`` waits for it (tests,
shutdown). A message in a card's Slack thread is mapped to its thread by reading the card
(the thread's parent message) once with ``conversations.replies``: the card carries the
thread id in its ``switchboard_card`` metadata, and only our own bot's cards count.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.config import SlackSettings
from bot.desk import Desk
from bot.domain import CardRef, Person
from bot.errors import SwitchboardError
from bot.interaction import Interaction, Response
from bot.storage import SLACK_EVENT
from bot.surfaces.slack.blocks import CARD_EVENT
from bot.surfaces.slack.escape import SECTION_TEXT, fit, mrkdwn, plain
from bot.surfaces.slack.surface import SlackSurface
from bot.surfaces.slack.webapi import SlackCallError, SlackWebApi

log = logging.getLogger(__name__)
EVENT_TTL_SECONDS = 3600.0
LOOKUP_CACHE = 2048
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")

Notice = Callable[[str, str], Awaitable[None]]


def to_plain(text: str) -> str:
    """Slack message markup as the plain text a person typed: ``<@U1>`` -> ``@U1``,
    ``<https://x|x>`` -> ``https://x``, ``<#C1|name>`` -> ``#name``, entities decoded."""

    def sub(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return target

    return html.unescape(_LINK.sub(sub, text))


def code_block(text: str) -> str:
    """Untrusted, aligned text as an inert mrkdwn code block."""
    inner = plain(text).replace("`", "\u02cb")
    return "```" + fit(inner, SECTION_TEXT - 6, str)[0] + "```"


class SlackInbound:
    """The runtime shared by the listeners of one bolt ``AsyncApp``."""

    def __init__(
        self, desk: Desk, surface: SlackSurface, settings: SlackSettings, bolt: AsyncApp
    ) -> None:
        self.desk = desk
        self.surface = surface
        self.settings = settings
        self.bolt = bolt
        self.home_notice: Notice | None = None
        self.socket: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    @property
    def api(self) -> SlackWebApi:
        return self.surface.api

    # ---- background work ----------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, object], what: str) -> None:
        """Run ``work`` after the ack; failures are logged, never lost silently."""

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Slack %s failed", what)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"slack:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait until every spawned task (and any task they spawned) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.settle(), grace)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- events -------------------------------------------------------------------------

    async def first_delivery(self, body: dict[str, Any]) -> bool:
        """False for an event already taken (Slack retries with ``X-Slack-Retry-Num``, or
        delivers twice); shared through the store so replicas agree."""
        event_id = str(body.get("event_id") or "")
        if not event_id:
            return True
        taken = await self.desk.lookups.kv_put_if_absent(
            SLACK_EVENT, event_id, "1", ttl=EVENT_TTL_SECONDS
        )
        if not taken:
            log.info("Slack event %s already taken; ignoring the repeat", event_id)
        return taken

    # ---- people and places --------------------------------------------------------------

    async def actor(self, user_id: str) -> Person:
        return await self.surface.user_info(user_id)

    async def person(self, user_id: str) -> Person | None:
        try:
            return await self.surface.user_info(user_id)
        except SlackCallError:
            return None

    def channel_department(self, channel_id: str, channel_name: str = "") -> str | None:
        """The department whose Slack channel this is (configured by ID or ``#name``)."""
        for dept in self.desk.departments():
            configured = dept.slack_channel
            if not configured:
                continue
            if configured == channel_id or (
                channel_name and configured.lstrip("#") == channel_name
            ):
                return str(dept.name)
        return None

    async def member_flag(self, user_id: str, department: str) -> bool | None:
        """``Interaction.is_member`` for a reply: asked only where the policy needs it."""
        dept = self.desk.department(department)
        if dept.reply_policy != "members":
            return None
        try:
            return await self.surface.is_member(user_id, dept.name)
        except SlackCallError as exc:
            log.warning("cannot tell whether %s is in %s: %s", user_id, dept.name, exc)
            return None

    async def thread_at(self, channel: str, thread_ts: str, bot_id: str) -> str | None:
        """The switchboard thread whose card is the message ``thread_ts`` in ``channel``."""
        key = (channel, thread_ts)
        if key in self._threads:
            self._threads.move_to_end(key)
            return self._threads[key]
        found: str | None = None
        try:
            data = await self.api.call(
                "conversations.replies",
                channel=channel,
                ts=thread_ts,
                limit=1,
                include_all_metadata=True,
            )
        except SlackCallError as exc:
            log.warning("cannot read %s/%s: %s", channel, thread_ts, exc)
            return None
        messages = data.get("messages") or []
        parent = messages[0] if messages else {}
        meta = parent.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        ours = bool(bot_id) and parent.get("bot_id") == bot_id
        if ours and parent.get("ts") == thread_ts and meta.get("event_type") == CARD_EVENT:
            value = payload.get("thread_id")
            found = value if isinstance(value, str) and value else None
        self._threads[key] = found
        if len(self._threads) > LOOKUP_CACHE:
            self._threads.popitem(last=False)
        return found

    async def current_card(self, thread_id: str) -> CardRef | None:
        """The thread's Slack card in its current department, if it has one."""
        thread = await self.desk.thread(thread_id)
        refs = await self.desk.card_refs(thread)
        mine = [r for r in refs if r.surface == self.surface.name]
        current = [r for r in mine if r.placement == thread.placement]
        return (current or sorted(mine, key=lambda r: r.placement))[-1] if mine else None

    # ---- talking back -------------------------------------------------------------------

    async def tell(
        self, user: str, text: str, *, channel: str = "", thread_ts: str = "", code: bool = False
    ) -> None:
        """Tell ``user`` privately: ephemeral in ``channel``, else a notice on their App Home."""
        if not channel:
            if self.home_notice is not None:
                await self.home_notice(user, text)
            return
        body = code_block(text) if code else fit(text, SECTION_TEXT, mrkdwn)[0]
        try:
            await self.surface.ephemeral(channel, user, body, thread_ts=thread_ts, escape=False)
        except SlackCallError as exc:
            log.warning("could not tell %s in %s (%s): %s", user, channel, exc.error, text)

    async def run(
        self,
        interaction: Interaction,
        *,
        channel: str = "",
        thread_ts: str = "",
        tell_ok: bool = False,
        code: bool = False,
    ) -> Response:
        """``desk.handle`` the interaction; refusals (and, if asked, answers) go back
        privately to the person who acted."""
        try:
            response = await self.desk.handle(interaction)
        except SwitchboardError as exc:
            response = Response(exc.user_text(), ok=False)
        if tell_ok or not response.ok:
            await self.tell(
                interaction.actor.id,
                response.text,
                channel=channel,
                thread_ts=thread_ts,
                code=code and response.ok,
            )
        return response
