"""``SlackSurface``: the ``bot.ports.Surface`` for Slack (cards, updates, activity lines).

    surface = SlackSurface(config.slack, config.departments)   # or SlackSurface.from_config
    board.add_surface(surface)

Posting: the dispatcher posts each key once across replicas (``bot.postclaims``); a key seen
in this process returns its card. Only when the dispatcher recovers a crashed attempt does it
ask ``find_card`` (``conversations.history``: the card's ``switchboard_card`` metadata names
the key) or ``find_line`` (``conversations.replies``: the activity line's metadata) for what
was posted before. Card refs: ``channel`` is the channel ID, ``message_id`` the message ``ts``.

For the inbound half: ``ephemeral(channel, user, text)``, ``user_info(user_id) -> Person``
(``is_guest`` for restricted / ultra-restricted accounts, cached briefly),
``is_member(user_id, department)`` (the department's user group, else its channel), and
``api`` (``SlackWebApi``) for any other Web API call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.aio import Clock
from bot.config import Config, Department, SlackSettings
from bot.domain import CardRef, Person
from bot.errors import ConfigError
from bot.ports import Alert, Card
from bot.storm.ports import Digest, StormNotice, Turns
from bot.surfaces.slack.blocks import ACTIVITY_EVENT, CARD_EVENT, card_message, text_obj
from bot.surfaces.slack.digest import DIGEST_EVENT, digest_message, notice_text
from bot.surfaces.slack.escape import SECTION_TEXT, fit, mrkdwn
from bot.surfaces.slack.webapi import SlackCallError, SlackWebApi

log = logging.getLogger(__name__)
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
GONE = ("message_not_found", "cant_update_message", "channel_not_found", "is_archived")
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}


class SlackSurface:
    """Slack as a chat surface; see the module docstring."""

    name = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        departments: Sequence[Department],
        *,
        api: SlackWebApi | None = None,
        per_channel_interval: float = 1.0,
        cache_seconds: float = 120.0,
        history_window: float = 3 * 86400.0,
        history_pages: int = 5,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.departments = {d.name: d for d in departments}
        self.api = api or SlackWebApi(
            settings.bot_token, settings.api_url, per_channel_interval=per_channel_interval
        )
        self.clock = clock
        """Decides when cached people and channel members are looked up again."""
        self.wall_clock = wall_clock
        """Epoch seconds: how far back the history is searched for an earlier card."""
        self.cache_seconds = cache_seconds
        self.history_window = history_window
        self.history_pages = history_pages
        self._posted: dict[str, CardRef] = {}
        self._found: dict[str, dict[str, str]] = {}
        self._scanned: dict[str, str] = {}
        self._notified: set[str] = set()
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._channel_ids: dict[str, str] = {}
        self._people: dict[str, tuple[float, Person]] = {}
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def reconfigure(self, departments: Sequence[Department]) -> None:
        """Channels and titles of these departments from now on (a config reload)."""
        self.departments = {d.name: d for d in departments}

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> SlackSurface:
        if config.slack is None:
            raise ConfigError("slack: section is missing (bot_token, signing_secret)")
        return cls(config.slack, config.departments, **options)

    # ---- Surface port ------------------------------------------------------------------

    def channel_for(self, department: str) -> str | None:
        dept = self.departments.get(department)
        return (dept.slack_channel or None) if dept else None

    async def post_card(self, channel: str, card: Card, key: str) -> CardRef:
        if key in self._posted:
            return self._posted[key]
        async with self._key_locks.setdefault(key, asyncio.Lock()):
            if key in self._posted:
                return self._posted[key]
            channel_id = await self.resolve_channel(channel)
            message = card_message(card, key, **await self._card_context(card))
            data = await self._post_joining(channel_id, **message, **NO_UNFURL)
            channel_id, ts = str(data["channel"]), str(data["ts"])
            self._found.setdefault(channel_id, {})[key] = ts
            ref = self._posted[key] = self._ref(channel_id, ts, card)
        self._key_locks.pop(key, None)
        return ref

    async def find_card(self, channel: str, card: Card, key: str) -> CardRef | None:
        """The card posted under ``key`` (its metadata), from the channel's recent history."""
        if key in self._posted:
            return self._posted[key]
        channel_id = await self.resolve_channel(channel)
        ts = await self._find_posted(channel_id, key)
        if ts is None:
            return None
        log.info("card %s already in %s (ts %s); not posting again", key, channel_id, ts)
        ref = self._posted[key] = self._ref(channel_id, ts, card)
        return ref

    async def find_line(self, ref: CardRef, key: str) -> bool:
        """Whether the activity line ``key`` is in the card's thread (``conversations.replies``)."""
        if key in self._notified:
            return True
        cursor = ""
        for _ in range(self.history_pages):
            params: dict[str, Any] = {"channel": ref.channel, "ts": ref.message_id, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            data = await self.api.call("conversations.replies", include_all_metadata=True, **params)
            for message in data.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == ACTIVITY_EVENT and payload.get("key") == key:
                    self._notified.add(key)
                    return True
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return False

    async def update_card(self, ref: CardRef, card: Card) -> None:
        message = card_message(card, **await self._card_context(card))
        try:
            await self.api.call("chat.update", channel=ref.channel, ts=ref.message_id, **message)
        except SlackCallError as exc:
            if exc.error not in GONE:
                raise
            log.warning("card %s in %s cannot be updated: %s", ref.message_id, ref.channel, exc)

    async def notify(self, ref: CardRef, text: str, key: str) -> None:
        if key in self._notified:
            return
        mention = text.slack if isinstance(text, Alert) else ""  # trusted config, unescaped
        body = fit(text, SECTION_TEXT - len(mention) - 1, mrkdwn)[0]
        await self.api.post(
            ref.channel,
            thread_ts=ref.message_id,
            text=f"{mention} {body}" if mention else body,
            metadata={"event_type": ACTIVITY_EVENT, "event_payload": {"key": key}},
            **NO_UNFURL,
        )
        self._notified.add(key)

    # ---- storms (bot.storm.ports.DigestSurface) ---------------------------------------

    def pace(self) -> float:
        """Seconds between two messages to one channel (the Web API client's pacer)."""
        return self.api.pacer.interval

    def share_turns(self, turns: Turns) -> None:
        self.api.turns = turns

    async def post_digest(self, channel: str, digest: Digest) -> CardRef:
        channel_id = await self.resolve_channel(channel)
        data = await self._post_joining(channel_id, **digest_message(digest), **NO_UNFURL)
        channel_id, ts = str(data["channel"]), str(data["ts"])
        self._found.setdefault(channel_id, {})[digest.key] = ts
        return CardRef(
            surface=self.name,
            channel=channel_id,
            message_id=ts,
            department=digest.department,
            placement=0,
        )

    async def update_digest(self, ref: CardRef, digest: Digest) -> None:
        message = digest_message(digest, with_metadata=False)
        try:
            await self.api.call("chat.update", channel=ref.channel, ts=ref.message_id, **message)
        except SlackCallError as exc:
            if exc.error not in GONE:
                raise
            log.warning("digest %s in %s cannot be updated: %s", ref.message_id, ref.channel, exc)

    async def find_digest(self, channel: str, key: str) -> CardRef | None:
        """The digest posted under ``key`` (its metadata), from the channel's recent history."""
        channel_id = await self.resolve_channel(channel)
        ts = await self._find_posted(channel_id, key)
        if ts is None:
            return None
        return CardRef(
            surface=self.name, channel=channel_id, message_id=ts, department="", placement=0
        )

    async def storm_notice(self, channel: str, notice: StormNotice) -> None:
        channel_id = await self.resolve_channel(channel)
        text = notice_text(notice)
        await self._post_joining(
            channel_id,
            text=text,
            blocks=[{"type": "section", "text": text_obj(text)}],
            metadata={"event_type": ACTIVITY_EVENT, "event_payload": {"key": notice.key}},
            **NO_UNFURL,
        )

    # ---- for the inbound half ----------------------------------------------------------

    async def close(self) -> None:
        return None  # slack_sdk opens a session per call; nothing stays open

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str = "", escape: bool = True
    ) -> None:
        """An ephemeral message to ``user`` in ``channel``; ``text`` is escaped unless the
        caller built it from escaped parts (``escape=False``)."""
        params: dict[str, Any] = {"channel": channel, "user": user}
        params["text"] = fit(text, SECTION_TEXT, mrkdwn)[0] if escape else text
        if thread_ts:
            params["thread_ts"] = thread_ts
        await self.api.call("chat.postEphemeral", **params)

    async def user_info(self, user_id: str) -> Person:
        """The Slack user as a ``Person``; guests (restricted accounts) have ``is_guest``."""
        cached = self._people.get(user_id)
        if cached and cached[0] > self.clock():
            return cached[1]
        user = (await self.api.call("users.info", user=user_id)).get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("name") or ""
        person = Person(
            surface=self.name,
            id=user_id,
            name=str(name),
            is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        )
        self._people[user_id] = (self.clock() + self.cache_seconds, person)
        return person

    async def is_member(self, user_id: str, department: str) -> bool:
        """Whether ``user_id`` is in the department's user group (when it has one), else in
        its Slack channel. A department with neither has no members."""
        dept = self.departments.get(department)
        if dept is None:
            return False
        if dept.slack_usergroup:
            group = f"group:{dept.slack_usergroup}"
            members = await self._cached_members(group, self._group_members, dept.slack_usergroup)
        elif dept.slack_channel:
            channel = await self.resolve_channel(dept.slack_channel)
            members = await self._cached_members(channel, self._channel_members, channel)
        else:
            return False
        return user_id in members

    async def resolve_channel(self, channel: str) -> str:
        """A channel ID for a configured ``C0123`` or ``#name``."""
        if CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        if name not in self._channel_ids:
            cursor = ""
            while True:
                data = await self.api.call(
                    "conversations.list",
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    **({"cursor": cursor} if cursor else {}),
                )
                for found in data.get("channels") or []:
                    self._channel_ids[str(found.get("name"))] = str(found.get("id"))
                cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
                if name in self._channel_ids or not cursor:
                    break
        if name not in self._channel_ids:
            raise SlackCallError(
                "conversations.list",
                "channel_not_found",
                f"no channel #{name}; check departments[].slack_channel and invite the bot",
            )
        return self._channel_ids[name]

    # ---- internals ---------------------------------------------------------------------

    def _ref(self, channel_id: str, ts: str, card: Card) -> CardRef:
        return CardRef(
            surface=self.name,
            channel=channel_id,
            message_id=ts,
            department=card.department,
            placement=card.placement,
        )

    async def _card_context(self, card: Card) -> dict[str, str]:
        dept = self.departments.get(card.department)
        context = {"current_channel": "", "mention_group": ""}
        if card.banner and dept and dept.slack_channel:
            with contextlib.suppress(SlackCallError):
                context["current_channel"] = await self.resolve_channel(dept.slack_channel)
        elif card.placement > 0 and dept:
            context["mention_group"] = dept.slack_usergroup
        return context

    async def _post_joining(self, channel: str, **message: Any) -> dict[str, Any]:
        try:
            return await self.api.post(channel, **message)
        except SlackCallError as exc:
            if exc.error != "not_in_channel":
                raise
        await self.api.call("conversations.join", channel=channel)
        return await self.api.post(channel, **message)

    async def _find_posted(self, channel: str, key: str) -> str | None:
        """Scan the channel's history since the last scan (or the window) for card keys."""
        found = self._found.setdefault(channel, {})
        oldest = self._scanned.get(channel) or f"{self.wall_clock() - self.history_window:.6f}"
        newest = oldest
        cursor = ""
        for _ in range(self.history_pages):
            params: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            data = await self.api.call("conversations.history", include_all_metadata=True, **params)
            for message in data.get("messages") or []:
                ts = str(message.get("ts", ""))
                newest = max(newest, ts, key=_ts_key)
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                kind = meta.get("event_type")
                if kind in (CARD_EVENT, DIGEST_EVENT) and isinstance(payload.get("key"), str):
                    found.setdefault(payload["key"], ts)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        previous = self._scanned.get(channel)
        self._scanned[channel] = max(previous or newest, newest, key=_ts_key)
        return found.get(key)

    async def _cached_members(
        self, key: str, load: Callable[[str], Awaitable[list[str]]], arg: str
    ) -> frozenset[str]:
        cached = self._members.get(key)
        if cached and cached[0] > self.clock():
            return cached[1]
        members = frozenset(await load(arg))
        self._members[key] = (self.clock() + self.cache_seconds, members)
        return members

    async def _group_members(self, group: str) -> list[str]:
        data = await self.api.call("usergroups.users.list", usergroup=group)
        return [str(u) for u in data.get("users") or []]

    async def _channel_members(self, channel: str) -> list[str]:
        members: list[str] = []
        cursor = ""
        while True:
            params: dict[str, Any] = {"channel": channel, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            data = await self.api.call("conversations.members", **params)
            members += [str(u) for u in data.get("members") or []]
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return members


def _ts_key(ts: str) -> tuple[int, int]:
    whole, _, frac = ts.partition(".")
    try:
        return int(whole or 0), int((frac + "000000")[:6])
    except ValueError:
        return 0, 0
