"""Finding our own posts in a Teams channel again, and saying when we cannot.

``TeamDirectory`` knows which team (its Microsoft 365 group id, what Graph needs) holds each
channel: learnt from the activities Teams sends (``channelData.team.aadGroupId`` with
``channelData.channel.id``) and kept in the key-value port so every replica knows it; else
``teams.team_id``; else the team learnt last. ``ChannelHistory`` reads the channel through
Graph (``bot.surfaces.teams.graph``) for a card or line carrying a marker
(``bot.surfaces.teams.card``). When it cannot — no app id, the team is unknown, Graph refuses —
the answer is "not found", so the post is made again (at least once), said once in the log
and in ``/readyz`` (``teams graph``, not broken: cards still post).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.ports import PartHealth
from bot.storage import TEAMS_CONVERSATION_TTL, TEAMS_TEAM, KeyValue
from bot.surfaces.teams.card import marked
from bot.surfaces.teams.graph import GraphClient, GraphRefused
from bot.teams_config import GUID

log = logging.getLogger(__name__)
GRAPH_PART = "teams graph"
LAST = "last"


def _get(data: object, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


class TeamDirectory:
    """Channel -> team group id, shared by every replica (the ``TEAMS_TEAM`` namespace)."""

    def __init__(self, kv: KeyValue, configured: str = "") -> None:
        self.kv = kv
        self.configured = configured
        self._seen: dict[str, str] = {}

    async def learn(self, activity: Mapping[str, Any]) -> None:
        """Remember the team of the channel an incoming activity (a JSON body) came from."""
        data = activity.get("channelData")
        group = _get(data, "team", "aadGroupId")
        if not isinstance(group, str) or not GUID.match(group):
            return
        channel = _get(data, "channel", "id") or _get(data, "teamsChannelId")
        channel = channel or _get(data, "team", "id")
        if not isinstance(channel, str) or not channel or self._seen.get(channel) == group:
            return
        ttl = TEAMS_CONVERSATION_TTL
        await self.kv.kv_put(TEAMS_TEAM, f"channel:{channel}", group, ttl=ttl)
        await self.kv.kv_put(TEAMS_TEAM, LAST, group, ttl=ttl)
        self._seen[channel] = group

    async def team_for(self, channel: str) -> str:
        """The group id of the team holding ``channel``, or '' when nothing says it."""
        learnt = await self.kv.kv_get(TEAMS_TEAM, f"channel:{channel}")
        if learnt:
            return learnt
        if self.configured:
            return self.configured
        return await self.kv.kv_get(TEAMS_TEAM, LAST) or ""


class ChannelHistory:
    """Looks a marked card or line up through Graph; see the module docstring."""

    def __init__(self, graph: GraphClient | None, teams: TeamDirectory) -> None:
        self.graph = graph
        self.teams = teams
        self.fallback = "" if graph else "not used (no teams.app_id): a lost post is made again"
        self.used = False

    async def find_card(self, channel: str, marker: str) -> str | None:
        """The id of the root message in ``channel`` carrying ``marker``, if Graph shows it."""
        team = await self._team(channel)
        if self.graph is None or not team:
            return None
        try:
            async for message in self.graph.messages(team, channel):
                if marked(message.get("attachments"), marker):
                    self._worked()
                    return str(message.get("id") or "") or None
        except GraphRefused as exc:
            self._falling_back(str(exc))
            return None
        self._worked()
        return None

    async def has_line(self, channel: str, root: str, marker: str) -> bool:
        """Whether the reply chain under ``root`` holds a line carrying ``marker``."""
        team = await self._team(channel)
        if self.graph is None or not team:
            return False
        try:
            async for message in self.graph.replies(team, channel, root):
                if marked(message.get("attachments"), marker):
                    self._worked()
                    return True
        except GraphRefused as exc:
            self._falling_back(str(exc))
            return False
        self._worked()
        return False

    async def _team(self, channel: str) -> str:
        if self.graph is None:
            return ""
        team = await self.teams.team_for(channel)
        if not team:
            self._falling_back(
                f"the team of channel {channel} is not known: set teams.team_id, "
                "or add the app to the team again"
            )
        return team

    def _falling_back(self, why: str) -> None:
        if self.fallback != why:
            log.warning("Teams look-ups fall back to posting again (at least once): %s", why)
        self.fallback = why

    def _worked(self) -> None:
        if self.fallback and self.graph is not None:
            log.info("Teams look-ups through Microsoft Graph work again")
        self.fallback = ""
        self.used = True

    def health(self) -> dict[str, PartHealth]:
        """``teams graph`` for /readyz; never broken (cards still post without it)."""
        if self.fallback:
            state = self.fallback
            if self.graph is not None:
                state = f"falling back to posting again (at least once): {state}"
            return {GRAPH_PART: PartHealth(state)}
        return {GRAPH_PART: PartHealth("ok" if self.used else "ok (not needed yet)")}

    async def close(self) -> None:
        if self.graph is not None:
            await self.graph.close()
