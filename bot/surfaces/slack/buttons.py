"""Card buttons and the card's overflow menu (``sb_<verb>`` / ``sb_more``), on a card in a
channel or on the App Home. The payload is the encoded ``bot.actions.Action``; Reply and
Transfer open their modals, everything else goes straight to the handlers."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import Action, BadAction, Verb
from bot.interaction import Interaction
from bot.surfaces.slack import home, modals
from bot.surfaces.slack.blocks import ACTION_PREFIX, OVERFLOW_ACTION
from bot.surfaces.slack.inbound import SlackInbound

log = logging.getLogger(__name__)
CARD_VERBS = (
    Verb.CLAIM,
    Verb.RELEASE,
    Verb.TAKE_OVER,
    Verb.REPLY,
    Verb.TRANSFER,
    Verb.SEND_BACK,
    Verb.RESOLVE,
    Verb.SPAM,
)
CARD_ACTION_IDS = (*(f"{ACTION_PREFIX}{v.value}" for v in CARD_VERBS), OVERFLOW_ACTION)
CARD_ACTION = re.compile("^(?:" + "|".join(map(re.escape, CARD_ACTION_IDS)) + ")$")


def decode(action: dict[str, Any]) -> Action | None:
    payload = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    try:
        return Action.decode(str(payload))
    except BadAction as exc:
        log.warning("ignored a Slack action: %s", exc)
        return None


async def on_card_action(inbound: SlackInbound, body: dict[str, Any]) -> None:
    act = decode((body.get("actions") or [{}])[0])
    if act is None or act.verb not in CARD_VERBS:
        return
    user = str(body["user"]["id"])
    container = body.get("container") or {}
    on_home = container.get("type") == "view"
    channel = "" if on_home else str((body.get("channel") or {}).get("id") or "")
    card_ts = str(container.get("message_ts") or "")
    trigger = str(body.get("trigger_id") or "")
    if act.verb is Verb.REPLY:
        await modals.open_reply(
            inbound,
            trigger_id=trigger,
            thread_id=act.thread_id,
            user=user,
            channel=channel,
            thread_ts=card_ts,
        )
        return
    if act.verb is Verb.TRANSFER:
        await modals.open_transfer(
            inbound, trigger_id=trigger, thread_id=act.thread_id, user=user, channel=channel
        )
        return
    actor = await inbound.actor(user)
    interaction = Interaction(inbound.surface.name, actor, act.verb, thread_ref=act.thread_id)
    response = await inbound.run(interaction, channel=channel, thread_ts="")
    if on_home and response.ok:
        await home.publish(inbound, user)


def register(bolt: AsyncApp, inbound: SlackInbound) -> None:
    async def card_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        inbound.spawn(on_card_action(inbound, body), "card action")

    bolt.action(CARD_ACTION)(card_action)
