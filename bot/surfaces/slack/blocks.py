"""The Block Kit card: ``bot.ports.Card`` -> a ``chat.postMessage`` / ``chat.update`` payload.

``card_message(card, key)`` returns ``{"text", "blocks", "metadata"}``. Every untrusted Card
string is escaped (``escape.plain`` / ``escape.mrkdwn``); the public text is shown as
``plain_text`` so it never formats, links or mentions. Buttons carry ``action_id`` ``sb_<verb>``
and the encoded ``bot.actions.Action`` as ``value``; the overflow menu is ``sb_more``.
The metadata ``switchboard_card`` event names the card's key so a post can be found again.
"""

from __future__ import annotations

from typing import Any

from bot.actions import Action, BadAction, Verb
from bot.ports import Card, CardAction
from bot.surfaces.slack.escape import (
    BUTTON_TEXT,
    HEADER_TEXT,
    OPTION_TEXT,
    SECTION_TEXT,
    channel_link,
    fit,
    group_mention,
    link,
    mrkdwn,
    safe_url,
)

CARD_EVENT = "switchboard_card"
ACTIVITY_EVENT = "switchboard_activity"
ACTION_PREFIX = "sb_"
OVERFLOW_ACTION = "sb_more"
BUTTON_VERBS = (Verb.CLAIM, Verb.RELEASE, Verb.REPLY, Verb.TRANSFER, Verb.RESOLVE)
NETWORKS = {
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "reddit": "Reddit",
    "x": "X",
    "rss": "RSS",
    "webhook": "Webhook",
    "replay": "Replay",
}
STATES = {
    "new": "Unclaimed",
    "claimed": "Claimed",
    "replied": "Replied",
    "transferred": "Transferred, waiting",
    "resolved": "Resolved",
}
HISTORY_LINES = 4
FOLLOW_UPS = 5
LINE = 300
FALLBACK = 280
SHORTENED = "… text shortened"

Block = dict[str, Any]


def text_obj(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    if kind == "plain_text":
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def network_label(card: Card) -> str:
    return NETWORKS.get(card.network) or mrkdwn(card.network)


def author_line(card: Card) -> str:
    name = fit(card.author_name, 120, mrkdwn)[0] if card.author_name else ""
    handle = fit(card.author_handle, 120, mrkdwn)[0]
    who = f"*{name}* · {handle}" if name else f"*{handle}*"
    profile = safe_url(card.author_url)
    return f"{who} · {link(profile)}" if profile else who


def state_line(card: Card) -> str:
    state = STATES.get(card.state) or mrkdwn(card.state)
    if card.owner and card.state != "new":
        state += f" · {fit(card.owner, 80, mrkdwn)[0]}"
    return state


def header(card: Card) -> Block:
    who = card.author_name or card.author_handle
    title = f"{card.short_id} · {NETWORKS.get(card.network, card.network)} · {who}"
    return {"type": "header", "text": text_obj(fit(title, HEADER_TEXT)[0], "plain_text")}


def badge_block(card: Card) -> Block | None:
    """The service-level clock (our own text, escaped all the same), bold once it warns."""
    if not card.badge:
        return None
    text = fit(card.badge, 200, mrkdwn)[0]
    if card.badge_level in ("warning", "overdue"):
        text = f"*{text}*"
    return {"type": "context", "elements": [text_obj(text)]}


def banner_block(card: Card, current_channel: str) -> Block:
    where = channel_link(current_channel)
    now = f" · now in {where}" if where else ""
    text = f":arrow_right: *{fit(card.banner, SECTION_TEXT - 80, mrkdwn)[0]}*{now}"
    return {"type": "section", "text": text_obj(text)}


def fields_block(card: Card) -> Block:
    fields = [
        f"*Department*\n{fit(card.department_title, 200, mrkdwn)[0]}",
        f"*State*\n{state_line(card)}",
        f"*Network*\n{network_label(card)} · {fit(card.source, 200, mrkdwn)[0]}",
        f"*Age*\n{fit(card.age, 100, mrkdwn)[0]}",
    ]
    return {"type": "section", "fields": [text_obj(f) for f in fields]}


def body_blocks(card: Card) -> list[Block]:
    shown, cut = fit(card.text if card.text.strip() else "(no text)", SECTION_TEXT)
    blocks: list[Block] = [{"type": "section", "text": text_obj(shown, "plain_text")}]
    if cut:
        where = link(card.permalink, "open the original") if safe_url(card.permalink) else ""
        note = f"{SHORTENED} ({where})" if where else SHORTENED
        blocks.append({"type": "context", "elements": [text_obj(note)]})
    return blocks


def follow_up_block(card: Card) -> Block | None:
    if not card.follow_ups:
        return None
    shown = card.follow_ups[-FOLLOW_UPS:]
    lines = [f"↳ {fit(' '.join(f.split()), LINE, str)[0]}" for f in shown]
    earlier = len(card.follow_ups) - len(shown)
    if earlier:
        lines.insert(0, f"({earlier} earlier follow-ups)")
    text = fit("\n".join(lines), SECTION_TEXT)[0]
    return {"type": "section", "text": text_obj(text, "plain_text")}


def links_block(card: Card, mention_group: str) -> Block:
    parts = []
    original = safe_url(card.permalink)
    parts.append(f"Original: {link(original)}" if original else "No link to the original")
    if card.read_only:
        parts.append("Read-only source: reply on the original site")
    elif card.reply_limit:
        parts.append(f"Replies up to {card.reply_limit} characters")
    group = group_mention(mention_group)
    if group:
        parts.append(f"For {group}")
    return {"type": "context", "elements": [text_obj(p) for p in parts]}


def history_block(card: Card) -> Block | None:
    if not card.history:
        return None
    lines = [fit(" ".join(h.split()), LINE, mrkdwn)[0] for h in card.history[-HISTORY_LINES:]]
    return {"type": "context", "elements": [text_obj("\n".join(lines))]}


def button(action: CardAction, verb: Verb) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{verb.value}",
        "text": text_obj(fit(action.label, BUTTON_TEXT)[0], "plain_text"),
        "value": action.payload,
    }
    if action.style in ("primary", "danger"):
        element["style"] = action.style
    return element


def option(label: str, value: str, url: str = "") -> Block:
    entry: Block = {"text": text_obj(fit(label, OPTION_TEXT)[0], "plain_text"), "value": value}
    if url:
        entry["url"] = url
    return entry


def actions_block(card: Card) -> Block | None:
    buttons: list[Block] = []
    menu: list[Block] = []
    for action in card.actions:
        try:
            verb = Action.decode(action.payload).verb
        except BadAction:
            continue
        if verb in BUTTON_VERBS:
            buttons.append(button(action, verb))
        elif len(action.payload) <= 150:
            menu.append(option(action.label, action.payload))
    original = safe_url(card.permalink)
    if original and card.actions:
        menu.insert(
            0, option("Open original", Action(Verb.SHOW, card.thread_id).encode(), original)
        )
    if menu:
        buttons.append({"type": "overflow", "action_id": OVERFLOW_ACTION, "options": menu[:5]})
    if not buttons:
        return None
    return {"type": "actions", "block_id": f"sb_card:{card.thread_id}", "elements": buttons}


def fallback_text(card: Card, mention_group: str = "") -> str:
    """The notification / screen-reader text: short, escaped like everything else."""
    who = card.author_handle or card.author_name
    lead = f"{card.short_id} · {NETWORKS.get(card.network, card.network)} · {who}: "
    body = " ".join(card.text.split())
    text = fit(lead, 200, mrkdwn)[0] + fit(body, FALLBACK, mrkdwn)[0]
    if card.banner:
        text = fit(card.banner, FALLBACK, mrkdwn)[0] + " · " + text
    group = group_mention(mention_group)
    return f"{group} {text}" if group else text


def card_metadata(card: Card, key: str) -> dict[str, Any]:
    return {
        "event_type": CARD_EVENT,
        "event_payload": {"key": key, "thread_id": card.thread_id, "placement": card.placement},
    }


def card_blocks(card: Card, *, current_channel: str = "", mention_group: str = "") -> list[Block]:
    blocks: list[Block | None] = [
        banner_block(card, current_channel) if card.banner else None,
        header(card),
        badge_block(card),
        {"type": "section", "text": text_obj(author_line(card))},
        *body_blocks(card),
        follow_up_block(card),
        links_block(card, mention_group),
        fields_block(card),
        history_block(card),
        actions_block(card),
    ]
    return [b for b in blocks if b is not None]


def card_message(
    card: Card, key: str = "", *, current_channel: str = "", mention_group: str = ""
) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update. ``current_channel`` is the
    channel ID now holding the thread (linked from a moved card's banner); ``mention_group``
    a user group ID to mention on a card that arrived by transfer. Without ``key`` the
    message carries no metadata (chat.update keeps the metadata already there)."""
    message: dict[str, Any] = {
        "text": fallback_text(card, mention_group),
        "blocks": card_blocks(card, current_channel=current_channel, mention_group=mention_group),
    }
    if key:
        message["metadata"] = card_metadata(card, key)
    return message
