"""The Slack Web API methods the fake answers, over its in-memory workspace.

``SlackMethods`` holds the workspace (users, channels, messages, views) and one handler per
method; ``fake_slack.FakeSlack`` adds the HTTP server, set-up helpers and injected failures.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from .fake_blocks import block_errors

Params = dict[str, Any]
Answer = dict[str, Any]
WORKSPACE_URL = "https://switchboard-test.slack.example/"


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _micros(ts: Any) -> int:
    whole, _, frac = str(ts).partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class SlackMethods:
    """The workspace state and a handler per Web API method (``handlers``)."""

    def __init__(self, *, team_id: str, bot_user_id: str) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = "B0BOT"
        self.app_id = "A0APP"
        self.users: dict[str, Params] = {}
        self.channels: dict[str, Params] = {}
        self.usergroups: dict[str, Params] = {}
        self.messages: dict[str, list[Params]] = {}
        self.ephemerals: list[Params] = []
        self.views: dict[str, Params] = {}
        self.home: dict[str, Params] = {}
        self.expired_triggers: set[str] = set()
        self._last_us = 0
        self._view_ids = itertools.count(1)
        self.handlers: dict[str, Callable[[Params], Answer]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.members": self._members,
            "conversations.list": self._list,
            "conversations.join": self._join,
            "usergroups.users.list": self._usergroup_users,
        }

    # ---- what tests look at ----------------------------------------------------------------

    def messages_in(self, channel: str) -> list[Params]:
        """Top-level messages in ``channel``, oldest first."""
        return [m for m in self.messages.get(channel, []) if m.get("thread_ts", m["ts"]) == m["ts"]]

    def thread(self, channel: str, ts: str) -> list[Params]:
        """Replies under the message ``ts`` (not the message itself), oldest first."""
        return [
            m for m in self.messages.get(channel, []) if m.get("thread_ts") == ts and m["ts"] != ts
        ]

    def message(self, channel: str, ts: str) -> Params:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        raise KeyError(f"no message {ts} in {channel}")

    def find_channel(self, name_or_id: str) -> Params | None:
        if name_or_id in self.channels:
            return self.channels[name_or_id]
        name = name_or_id.lstrip("#")
        return next((c for c in self.channels.values() if c["name"] == name), None)

    # ---- methods ----------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _channel(self, params: Params, name: str = "channel") -> Params:
        value = params.get(name)
        if not value:
            raise SlackError("channel_not_found")
        channel = self.find_channel(str(value))
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def _user(self, user_id: Any) -> Params:
        user = self.users.get(str(user_id or ""))
        if user is None:
            raise SlackError("user_not_found")
        return user

    # ---- methods ---------------------------------------------------------------------------

    def _auth_test(self, params: Params) -> Answer:
        return {
            "url": WORKSPACE_URL,
            "team": "Switchboard Test",
            "user": "switchboard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _content(self, params: Params) -> Params:
        text = params.get("text")
        blocks = decoded(params.get("blocks"))
        if not text and not blocks:
            raise SlackError("no_text")
        content: Params = {"text": str(text or "")}
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                raise SlackError("invalid_blocks", errors=errors)
            content["blocks"] = blocks
        metadata = decoded(params.get("metadata"))
        if metadata is not None:
            if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
                raise SlackError("invalid_metadata_format")
            content["metadata"] = metadata
        return content

    def _post_message(self, params: Params) -> Answer:
        channel = self._channel(params)
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        content = self._content(params)
        thread_ts = params.get("thread_ts")
        parent = None
        if thread_ts:
            try:
                parent = self.message(channel["id"], str(thread_ts))
            except KeyError:
                raise SlackError("thread_not_found") from None
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            **content,
        }
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
        self.messages[channel["id"]].append(message)
        return {"channel": channel["id"], "ts": message["ts"], "message": message}

    def _update(self, params: Params) -> Answer:
        channel = self._channel(params)
        try:
            message = self.message(channel["id"], str(params.get("ts", "")))
        except KeyError:
            raise SlackError("message_not_found") from None
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        message.update(self._content(params))
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel["id"],
            "ts": message["ts"],
            "text": message["text"],
            "message": message,
        }

    def _post_ephemeral(self, params: Params) -> Answer:
        channel = self._channel(params)
        user = self._user(params.get("user"))
        if channel["members"] and user["id"] not in channel["members"]:
            raise SlackError("user_not_in_channel")
        content = self._content(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {"channel": channel["id"], "user": user["id"], "ts": ts, **content}
            | ({"thread_ts": params["thread_ts"]} if params.get("thread_ts") else {})
        )
        return {"message_ts": ts}

    def _permalink(self, params: Params) -> Answer:
        channel = self._channel(params)
        ts = str(params.get("message_ts", ""))
        try:
            message = self.message(channel["id"], ts)
        except KeyError:
            raise SlackError("message_not_found") from None
        link = f"{WORKSPACE_URL}archives/{channel['id']}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return {"channel": channel["id"], "permalink": link}

    def _new_view(self, spec: Any, previous: Params | None = None) -> Params:
        if not isinstance(spec, dict) or spec.get("type") not in ("modal", "home"):
            raise SlackError("invalid_arguments")
        errors = block_errors(spec.get("blocks", []), limit=100)
        if errors:
            raise SlackError("invalid_arguments", response_metadata={"messages": errors})
        view_id = previous["id"] if previous else f"V{next(self._view_ids):08d}"
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": f"{time.time_ns()}.{view_id}",
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            **spec,
        }
        self.views[view_id] = view
        return view

    def _views_open(self, params: Params) -> Answer:
        trigger = str(params.get("trigger_id") or "")
        if not trigger or trigger in self.expired_triggers:
            raise SlackError("expired_trigger_id" if trigger else "invalid_trigger_id")
        self.expired_triggers.add(trigger)
        return {"view": self._new_view(decoded(params.get("view")))}

    def _views_update(self, params: Params) -> Answer:
        view_id = params.get("view_id")
        external = params.get("external_id")
        previous = next(
            (
                v
                for v in self.views.values()
                if (view_id and v["id"] == view_id) or (external and v["external_id"] == external)
            ),
            None,
        )
        if previous is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != previous["hash"]:
            raise SlackError("hash_conflict")
        return {"view": self._new_view(decoded(params.get("view")), previous)}

    def _views_publish(self, params: Params) -> Answer:
        user = self._user(params.get("user_id"))
        spec = decoded(params.get("view"))
        if not isinstance(spec, dict) or spec.get("type") != "home":
            raise SlackError("invalid_arguments")
        view = self._new_view(spec, self.home.get(user["id"]))
        self.home[user["id"]] = view
        return {"view": view}

    def _users_info(self, params: Params) -> Answer:
        return {"user": self._user(params.get("user"))}

    def _conversations_info(self, params: Params) -> Answer:
        channel = dict(self._channel(params))
        channel.pop("members")
        return {"channel": channel}

    def _history(self, params: Params) -> Answer:
        channel = self._channel(params)
        with_metadata = _truthy(params.get("include_all_metadata"))
        inclusive = _truthy(params.get("inclusive"))
        oldest = _micros(params.get("oldest") or "0")
        latest = _micros(params.get("latest") or "9999999999")
        picked = []
        for message in reversed(self.messages_in(channel["id"])):
            ts = _micros(message["ts"])
            inside = oldest <= ts <= latest if inclusive else oldest < ts < latest
            if inside:
                shown = dict(message)
                if not with_metadata:
                    shown.pop("metadata", None)
                picked.append(shown)
        return self._page(picked, params, "messages")

    def _replies(self, params: Params) -> Answer:
        channel = self._channel(params)
        ts = str(params.get("ts", ""))
        try:
            parent = self.message(channel["id"], ts)
        except KeyError:
            raise SlackError("thread_not_found") from None
        return self._page([parent, *self.thread(channel["id"], ts)], params, "messages")

    def _members(self, params: Params) -> Answer:
        return self._page(list(self._channel(params)["members"]), params, "members")

    def _list(self, params: Params) -> Answer:
        types = str(params.get("types") or "public_channel").split(",")
        shown = []
        for channel in self.channels.values():
            kind = "private_channel" if channel["is_private"] else "public_channel"
            if kind in types:
                shown.append({k: v for k, v in channel.items() if k != "members"})
        return self._page(shown, params, "channels")

    def _join(self, params: Params) -> Answer:
        channel = self._channel(params)
        if channel["is_private"] and not channel["is_member"]:
            raise SlackError("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return {"channel": {k: v for k, v in channel.items() if k != "members"}}

    def _usergroup_users(self, params: Params) -> Answer:
        group = self.usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}

    @staticmethod
    def _page(items: list[Any], params: Params, name: str) -> Answer:
        limit = min(int(params.get("limit") or 100), 1000)
        start = int(params.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        answer: Answer = {name: page, "response_metadata": {"next_cursor": ""}}
        if more:
            answer["response_metadata"]["next_cursor"] = str(start + limit)
        if name == "messages":
            answer["has_more"] = more
        return answer
