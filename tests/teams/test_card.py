"""Adaptive Card rendering: hostile text stays text, links come only from checked URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.ports import Card, CardAction
from bot.surfaces.teams.card import (
    CARD_TYPE,
    attachment,
    card_marker,
    card_response,
    confirm_reply_card,
    line_card,
    marked,
    message_response,
    plain,
    safe_url,
    thread_card,
)
from tests.teams.world import card_actions, texts

HOSTILE = [
    "[click](https://evil.example/phish)",
    "<at>Everyone</at>",
    "**bold** _italic_ ~~strike~~",
    "<!channel> <!here>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "- item\r\n1. list\n# heading",
    "{{DATE(2017-02-14T06:08:00Z, SHORT)}}",
    "<a href='https://evil.example'>x</a>",
    "reversed \u202egnp.exe\u202c and \x1b[31mred\x07",
]
MARKDOWN_FIELDS = ("TextBlock", "FactSet", "Fact")


def make_card(text: str, **changes: Any) -> Card:
    fields: dict[str, Any] = {
        "thread_id": "th1",
        "short_id": "T-7",
        "network": "mastodon",
        "source": "masto",
        "author_name": text,
        "author_handle": text,
        "author_url": "https://example.social/@ann",
        "text": text,
        "permalink": "https://example.social/@ann/1",
        "age": "2 min ago",
        "state": "claimed",
        "owner": text,
        "department": "support",
        "department_title": "Customer Support",
        "history": (f"Note from bob: {text}",),
        "follow_ups": (f"ann: {text}",),
        "banner": f"Transferred to Billing by bob — {text}",
        "actions": (
            CardAction("Claim", "v1:claim:th1", "primary"),
            CardAction("Reply", "v1:reply:th1"),
            CardAction("Transfer", "v1:transfer:th1"),
            CardAction("Mark as spam", "v1:spam:th1", "danger"),
        ),
        "reply_limit": 500,
    }
    fields.update(changes)
    return Card(**fields)


def walk(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += walk(value, (*path, str(node.get("type", key))))
    elif isinstance(node, list):
        for value in node:
            found += walk(value, path)
    return found


@pytest.mark.parametrize("hostile", HOSTILE)
def test_untrusted_text_only_appears_in_text_runs(hostile: str) -> None:
    card = thread_card(make_card(hostile), [("support", "Support"), ("billing", "Billing")])
    for _path, node in walk(card):
        kind = node.get("type")
        assert kind not in MARKDOWN_FIELDS, "markdown-rendering elements must not be used"
        if kind == "TextRun":
            continue
        for key, value in node.items():
            if isinstance(value, str):
                assert plain(hostile) not in value, (kind, key)
    shown = texts(card)
    assert plain(hostile) in shown


def test_text_runs_keep_markdown_literally() -> None:
    card = thread_card(make_card("[click](https://evil.example) **bold** <at>x</at> &lt;"))
    body = json.dumps(card)
    assert "[click](https://evil.example) **bold** <at>x</at> &lt;" in texts(card)
    assert '"url": "https://evil.example"' not in body
    assert "msteams" in card and "entities" not in card["msteams"]


def test_plain_strips_controls_and_template_functions() -> None:
    assert plain("a\u202eb\x1b[0m\x07c\r\nd") == "ab[0mc\nd"
    assert "{{DATE(" not in plain("{{DATE(2017-02-14T06:08:00Z, SHORT)}}")
    assert plain("x" * 600).endswith("…") and len(plain("x" * 600)) == 500


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.social/@ann/1", True),
        ("http://example.org/x?y=1", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("https://", False),
        ("https://example.org/\u202eevil", False),
        ("ftp://example.org/file", False),
    ],
)
def test_only_plain_http_links_become_clickable(url: str, ok: bool) -> None:
    card = thread_card(make_card("hello", permalink=url, author_url=url))
    opens = [node for _path, node in walk(card) if node.get("type") == "Action.OpenUrl"]
    assert bool(opens) == ok
    assert safe_url(url) == (url if ok else "")


def test_actions_are_universal_actions_with_the_encoded_payload() -> None:
    card = thread_card(
        make_card("hello", placement=1), [("support", "Support"), ("billing", "Billing")]
    )
    assert card["version"] >= "1.4"
    actions = card_actions(card)
    assert actions["Claim"]["verb"] == "claim"
    assert actions["Claim"]["data"] == {"action": "v1:claim:th1", "placement": 1}
    assert actions["Claim"]["style"] == "positive"
    assert actions["Mark as spam"]["style"] == "destructive"
    assert actions["Mark as spam"]["mode"] == "secondary"
    assert actions["Reply/Post publicly"]["data"]["action"] == "v1:reply:th1"
    assert actions["Transfer/Transfer"]["data"]["action"] == "v1:transfer:th1"
    shows = {a["title"]: a for a in card["actions"] if a["type"] == "Action.ShowCard"}
    reply_input = shows["Reply"]["card"]["body"][0]
    assert (reply_input["id"], reply_input["maxLength"]) == ("reply_text", 500)
    choices = shows["Transfer"]["card"]["body"][0]["choices"]
    assert choices == [{"title": "Billing", "value": "billing"}]


def test_banner_card_without_actions_keeps_only_the_link() -> None:
    card = thread_card(make_card("hello", actions=()))
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl"]
    assert card["body"][0]["style"] == "warning"


def test_confirm_card_and_invoke_responses() -> None:
    card = confirm_reply_card("T-7", "mastodon", "**hi** [x](https://evil)", "v1:reply:th1", "u1")
    assert "**hi** [x](https://evil)" in texts(card)
    actions = card_actions(card)
    assert actions["Post publicly"]["data"] == {
        "requester": "u1",
        "action": "v1:reply:th1",
        "text": "**hi** [x](https://evil)",
        "kind": "confirm",
    }
    assert actions["Cancel"]["data"] == {"requester": "u1", "kind": "cancel"}
    assert card_response(card) == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.card.adaptive",
        "value": card,
    }
    assert message_response("Already claimed by \u202eBob")["value"] == "Already claimed by Bob"


@pytest.mark.parametrize("banner", ["", "Transferred to Billing by alice"])
def test_cards_and_lines_carry_their_marker_as_graph_hands_them_back(banner: str) -> None:
    """Graph returns a card as ``attachments[].content``, the card serialized to a string."""
    card = thread_card(make_card("hello", placement=2, banner=banner))
    assert card["body"][0]["id"] == card_marker("th1", 2) == "switchboard.card:th1:2"
    as_graph = [{"id": "a1", "contentType": CARD_TYPE, "content": json.dumps(card)}]
    assert marked(as_graph, card_marker("th1", 2))
    assert not marked(as_graph, card_marker("th1", 1))
    assert not marked([{"contentType": "text/html", "content": json.dumps(card)}], "x")
    assert not marked([{"contentType": CARD_TYPE, "content": "{not json"}], "x")
    assert not marked(None, card_marker("th1", 2))

    line = line_card("<at>Everyone</at> **now**", "ev1:teams")
    assert marked([attachment(line)], "switchboard.line:ev1:teams")
    [block] = line["body"]
    assert block["type"] == "RichTextBlock" and texts(line) == "<at>Everyone</at> **now**"
    assert '"TextBlock"' not in json.dumps(line), "no markdown element"
