"""Adaptive Cards for Teams, built from the platform-neutral ``bot.ports.Card``.

Untrusted text (posts, names, handles, notes) never goes into a ``TextBlock`` or a ``Fact``:
those render markdown, so ``[click](https://evil)`` would become a link and ``**x**`` bold.
It goes into ``TextRun`` elements of a ``RichTextBlock``, which render text verbatim, after
``plain`` removed control and bidi characters and broke ``{{DATE(...)}}`` template functions.
Links come only from ``Action.OpenUrl`` / ``selectAction`` with http(s) URLs we checked.

Every thread card and activity line carries a marker: the ``id`` of its first element
(``switchboard.card:<thread>:<placement>``, ``switchboard.line:<key>``). Element ids are part
of the Adaptive Card schema, and Microsoft Graph hands a card back as that JSON
(``attachments[].content``, a string), so a post whose answer was lost can be found again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import untrusted
from bot.actions import Action, BadAction, Verb
from bot.domain import Draft
from bot.ports import Card, CardAction

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
MAX_TEXT = 3000
MAX_LINE = 500
HISTORY_LINES = 8
SECONDARY = {Verb.TAKE_OVER, Verb.SEND_BACK, Verb.SPAM}
STYLES = {"primary": "positive", "danger": "destructive"}
BADGE_COLORS = {"due": "Default", "warning": "Warning", "overdue": "Attention"}

CARD_MARK = "switchboard.card:"
LINE_MARK = "switchboard.line:"

_CONTROL = untrusted.HIDDEN

Json = dict[str, Any]


def plain(text: str, limit: int = MAX_LINE) -> str:
    """Untrusted text made safe for a ``TextRun`` (shown verbatim, no markdown)."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    text = text.replace("{{", "{\u200b{")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def safe_url(url: str) -> str:
    """``url`` when it is a plain http(s) URL, else an empty string."""
    return untrusted.safe_url(url)


def run(text: str, *, limit: int = MAX_LINE, url: str = "", **style: Any) -> Json:
    element: Json = {"type": "TextRun", "text": plain(text, limit), **style}
    link = safe_url(url)
    if link:
        element["selectAction"] = {"type": "Action.OpenUrl", "url": link}
    return element


def rich(*runs: Json, **extra: Any) -> Json:
    return {"type": "RichTextBlock", "inlines": list(runs), **extra}


def adaptive(body: list[Json], actions: list[Json] | None = None, **extra: Any) -> Json:
    card: Json = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    card.update(extra)
    return card


def attachment(card: Json) -> Json:
    return {"contentType": CARD_TYPE, "content": card}


def card_marker(thread_id: str, placement: int) -> str:
    """The marker of the card showing ``placement`` of ``thread_id``."""
    return f"{CARD_MARK}{thread_id}:{placement}"


def line_marker(key: str) -> str:
    """The marker of the activity line posted under ``key``."""
    return f"{LINE_MARK}{key}"


def marked(attachments: object, marker: str) -> bool:
    """Whether one of a Graph chatMessage's ``attachments`` is an Adaptive Card whose first
    element carries ``marker`` (``content`` is the card as a JSON string)."""
    if not isinstance(attachments, list):
        return False
    for item in attachments:
        if not isinstance(item, dict) or item.get("contentType") != CARD_TYPE:
            continue
        content = item.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                continue
        body = content.get("body") if isinstance(content, dict) else None
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, dict) and first.get("id") == marker:
            return True
    return False


def line_card(text: str, key: str) -> Json:
    """An activity line: one verbatim text run, marked with its key."""
    line = rich(run(text, limit=4000), id=line_marker(key))
    card = adaptive([line], fallbackText="Switchboard activity")
    del card["msteams"]
    return card


def thread_card(card: Card, departments: Sequence[tuple[str, str]] = ()) -> Json:
    """The thread's card; ``departments`` are (name, label) pairs for the Transfer menu."""
    body: list[Json] = []
    if card.banner:
        body.append(
            {
                "type": "Container",
                "style": "warning",
                "items": [rich(run(card.banner, weight="Bolder"))],
            }
        )
    head = [
        run(card.short_id, weight="Bolder"),
        run(f"  {card.network} · {card.department_title} · {card.state.upper()}"),
    ]
    if card.owner:
        head.append(run(f" · {card.owner}"))
    body.append(rich(*head))
    body[0]["id"] = card_marker(card.thread_id, card.placement)
    if card.badge:
        color = BADGE_COLORS.get(card.badge_level, "Default")
        weight = "Default" if card.badge_level == "due" else "Bolder"
        body.append(rich(run(card.badge, color=color, weight=weight), spacing="None"))
    handle = card.author_handle
    if handle and not handle.startswith("@"):
        handle = "@" + handle
    byline = [run(card.author_name or handle, weight="Bolder", url=card.author_url)]
    if card.author_name and handle:
        byline.append(run(f" {handle}", isSubtle=True))
    byline.append(run(f" · {card.age}", isSubtle=True))
    body.append(rich(*byline))
    body.append(rich(run(card.text, limit=MAX_TEXT), spacing="Small"))
    for follow in card.follow_ups[-5:]:
        body.append(rich(run("↳ " + follow, isSubtle=True)))
    if card.read_only:
        body.append(rich(run("Read-only source: reply on the original site.", italic=True)))
    if card.history:
        lines = [rich(run(line, isSubtle=True)) for line in card.history[-HISTORY_LINES:]]
        body.append({"type": "Container", "separator": True, "items": lines})
    actions = [a for a in (_action(card, act, departments) for act in card.actions) if a]
    link = safe_url(card.permalink)
    if link:
        actions.append({"type": "Action.OpenUrl", "title": "Open original", "url": link})
    return adaptive(body, actions, fallbackText=summary(card))


def summary(card: Card) -> str:
    """A one-line description without untrusted text (notifications, old clients)."""
    return f"{card.short_id} · {card.network} mention for {card.department_title}"


def _data(card: Card, action: CardAction) -> Json:
    return {"action": action.payload, "placement": card.placement}


def _action(card: Card, action: CardAction, departments: Sequence[tuple[str, str]]) -> Json | None:
    try:
        verb = Action.decode(action.payload).verb
    except BadAction:
        return None
    if verb is Verb.REPLY:
        limit = card.reply_limit
        field: Json = {
            "type": "Input.Text",
            "id": "reply_text",
            "isMultiline": True,
            "isRequired": True,
            "errorMessage": "Write the reply first.",
            "placeholder": f"Public reply on {card.network}"
            + (f" (up to {limit})" if limit else ""),
        }
        if limit:
            field["maxLength"] = limit
        send = execute("Post publicly", verb, _data(card, action), style="positive")
        return show_card(action.label, [field], [send])
    if verb is Verb.TRANSFER:
        choices = [{"title": label, "value": name} for name, label in departments]
        choices = [c for c in choices if c["value"] != card.department]
        fields: list[Json] = [
            {
                "type": "Input.ChoiceSet",
                "id": "department",
                "choices": choices,
                "isRequired": True,
                "errorMessage": "Choose a department.",
                "placeholder": "Department",
            },
            {"type": "Input.Text", "id": "note", "placeholder": "Note (optional)"},
        ]
        send = execute("Transfer", verb, _data(card, action))
        return show_card(action.label, fields, [send])
    extra: Json = {}
    if action.style in STYLES:
        extra["style"] = STYLES[action.style]
    if verb in SECONDARY:
        extra["mode"] = "secondary"
    return execute(action.label, verb, _data(card, action), **extra)


def execute(title: str, verb: Verb | str, data: Json, **extra: Any) -> Json:
    return {"type": "Action.Execute", "title": title, "verb": str(verb), "data": data, **extra}


def show_card(title: str, body: list[Json], actions: list[Json]) -> Json:
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "body": body, "actions": actions},
    }


def confirm_reply_card(
    short_id: str, network: str, text: str, payload: str, requester: str
) -> Json:
    """Asks the person who typed ``reply <text>`` to confirm before anything goes public."""
    body = [
        rich(run(f"Post this publicly on {network} for {short_id}?", weight="Bolder")),
        rich(run(text, limit=MAX_TEXT)),
    ]
    base = {"requester": requester}
    actions = [
        execute(
            "Post publicly",
            Verb.REPLY,
            {**base, "action": payload, "text": text, "kind": "confirm"},
            style="positive",
        ),
        execute("Cancel", "cancel", {**base, "kind": "cancel"}),
    ]
    return adaptive(body, actions)


def approval_card(draft: Draft, outcome: str = "") -> Json:
    """A draft public reply for the department's approvers: Approve posts it, Reject drops
    it. With ``outcome`` (after a decision) the card only says what happened."""
    thread = draft.thread
    body = [
        rich(
            run(
                f"Public reply for approval on {thread.short_id} ({thread.network}), "
                f"drafted by {draft.author.label}. Approving posts it publicly.",
                weight="Bolder",
            )
        ),
        rich(run(draft.text, limit=MAX_TEXT)),
    ]
    if outcome:
        return adaptive([*body, rich(run(outcome, limit=MAX_TEXT, color="Good"))])
    actions = [
        execute(
            "Approve and post",
            Verb.APPROVE,
            {"action": Action(Verb.APPROVE, draft.id).encode(), "kind": "draft"},
            style="positive",
        ),
        execute(
            "Reject",
            Verb.REJECT,
            {"action": Action(Verb.REJECT, draft.id).encode(), "kind": "draft"},
            style="destructive",
        ),
    ]
    return adaptive(body, actions)


def notice_card(text: str, ok: bool = True) -> Json:
    """A small card that replaces a confirm card once it was answered."""
    color = "Good" if ok else "Attention"
    return adaptive([rich(run(text, limit=MAX_TEXT, color=color))])


def card_response(card: Json) -> Json:
    """The invoke response of ``adaptiveCard/action`` that refreshes the card in place."""
    return {"statusCode": 200, "type": CARD_TYPE, "value": card}


def message_response(text: str) -> Json:
    """The invoke response that shows ``text`` to the person who clicked, and nobody else."""
    return {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": plain(text, MAX_TEXT),
    }


def error_response(status: int, code: str, message: str) -> Json:
    return {
        "statusCode": status,
        "type": "application/vnd.microsoft.error",
        "value": {"code": code, "message": message},
    }
