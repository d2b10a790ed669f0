"""The Block Kit card: everything shown, hostile text inert, Slack's limits respected."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.actions import Action, Verb
from bot.ports import Card, CardAction
from bot.surfaces.slack.blocks import card_message

from .fake_blocks import block_errors
from .hostile import HOSTILE, assert_inert, strings

THREAD = "th-1"


def act(label: str, verb: Verb, style: str = "") -> CardAction:
    return CardAction(label, Action(verb, THREAD).encode(), style)


def make_card(**changes: Any) -> Card:
    card = Card(
        thread_id=THREAD,
        short_id="T-1042",
        network="mastodon",
        source="mastodon-main",
        author_name="Dana Customer",
        author_handle="@dana@social.example",
        author_url="https://social.example/@dana",
        text="My invoice is wrong & I want a refund <3",
        permalink="https://social.example/@dana/1",
        age="5 min ago",
        state="claimed",
        owner="alice",
        department="billing",
        department_title="Billing",
        history=("Claimed by alice",),
        actions=(
            act("Release", Verb.RELEASE),
            act("Reply", Verb.REPLY),
            act("Transfer", Verb.TRANSFER),
            act("Resolve", Verb.RESOLVE),
            act("Take over", Verb.TAKE_OVER),
            act("Send back", Verb.SEND_BACK),
            act("Mark as spam", Verb.SPAM, "danger"),
        ),
        reply_limit=500,
    )
    return replace(card, **changes)


def block(message: dict[str, Any], kind: str, n: int = 0) -> dict[str, Any]:
    found: list[dict[str, Any]] = [b for b in message["blocks"] if b["type"] == kind]
    return found[n]


def all_text(message: dict[str, Any]) -> str:
    return "\n".join(strings(message))


def test_card_shows_everything_a_person_needs() -> None:
    message = card_message(make_card(), "th-1:0:slack")
    text = all_text(message)
    for shown in (
        "T-1042",
        "Mastodon",
        "mastodon-main",
        "Dana Customer",
        "@dana@social.example",
        "<https://social.example/@dana>",
        "My invoice is wrong &amp; I want a refund &lt;3",
        "<https://social.example/@dana/1>",
        "5 min ago",
        "Claimed · alice",
        "Billing",
        "Claimed by alice",
        "Replies up to 500 characters",
    ):
        assert shown in text, shown
    assert message["metadata"] == {
        "event_type": "switchboard_card",
        "event_payload": {"key": "th-1:0:slack", "thread_id": THREAD, "placement": 0},
    }
    assert block_errors(message["blocks"]) == []


def test_buttons_and_overflow_carry_our_action_payloads() -> None:
    actions = block(card_message(make_card()), "actions")
    buttons = [e for e in actions["elements"] if e["type"] == "button"]
    assert [b["action_id"] for b in buttons] == [
        "sb_release",
        "sb_reply",
        "sb_transfer",
        "sb_resolve",
    ]
    for b in buttons:
        assert Action.decode(b["value"]).thread_id == THREAD
    (menu,) = [e for e in actions["elements"] if e["type"] == "overflow"]
    assert menu["action_id"] == "sb_more"
    options = {o["text"]["text"]: o for o in menu["options"]}
    assert list(options) == ["Open original", "Take over", "Send back", "Mark as spam"]
    assert options["Open original"]["url"] == "https://social.example/@dana/1"
    assert Action.decode(options["Take over"]["value"]) == Action(Verb.TAKE_OVER, THREAD)
    assert Action.decode(options["Mark as spam"]["value"]).verb is Verb.SPAM


def test_claim_button_is_primary_and_unclaimed_card_says_so() -> None:
    card = make_card(state="new", owner="", actions=(act("Claim", Verb.CLAIM, "primary"),))
    message = card_message(card)
    claim, menu = block(message, "actions")["elements"]
    assert [o["text"]["text"] for o in menu["options"]] == ["Open original"]
    assert claim["action_id"] == "sb_claim" and claim["style"] == "primary"
    assert "Unclaimed" in all_text(message)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_in_every_field_pings_nobody(hostile: str) -> None:
    card = make_card(
        author_name=hostile,
        author_handle=hostile,
        author_url=hostile,
        text=hostile,
        permalink=hostile,
        owner=hostile,
        department_title=hostile,
        source=hostile,
        age=hostile,
        history=(hostile, f"Note from alice: {hostile}"),
        follow_ups=(f"dana: {hostile}",),
        banner=f"Transferred to Support by alice — {hostile}",
    )
    message = card_message(card, "k", current_channel="C0SUPPORT")
    assert_inert(message)
    assert_inert(message["text"], channels=False)
    assert block_errors(message["blocks"]) == []


def test_public_text_is_plain_text_so_formatting_shows_literally() -> None:
    message = card_message(make_card(text="*bold* _it_ `code` &lt;b&gt;"))
    body = message["blocks"][2]["text"]
    assert body == {
        "type": "plain_text",
        "text": "*bold* _it_ `code` &amp;lt;b&amp;gt;",
        "emoji": True,
    }
    for b in message["blocks"]:
        for t in [b.get("text"), *b.get("fields", []), *b.get("elements", [])]:
            if isinstance(t, dict) and t.get("type") == "mrkdwn":
                assert t["verbatim"] is True


def test_long_post_is_cut_with_a_link_to_the_original() -> None:
    message = card_message(make_card(text="refund please & thanks " * 1000))
    body = message["blocks"][2]["text"]["text"]
    assert len(body) <= 3000 and body.endswith("…")
    note = message["blocks"][3]["elements"][0]["text"]
    assert note == "… text shortened (<https://social.example/@dana/1|open the original>)"
    assert len(message["text"]) < 600
    assert block_errors(message["blocks"]) == []


def test_every_limit_holds_with_oversized_fields() -> None:
    huge = "&<>" * 5000
    card = make_card(
        author_name=huge,
        author_handle=huge,
        owner=huge,
        department_title=huge,
        source=huge,
        text=huge,
        history=tuple(huge for _ in range(30)),
        follow_ups=tuple(huge for _ in range(30)),
        banner=huge,
        actions=tuple(CardAction("x" * 200, a.payload, a.style) for a in make_card().actions),
    )
    message = card_message(card, "k")
    assert block_errors(message["blocks"]) == []
    assert len(message["text"]) <= 1000
    header = block(message, "header")["text"]["text"]
    assert len(header) <= 150


def test_moved_card_shows_the_banner_and_no_buttons() -> None:
    card = make_card(banner="Transferred to Support by alice — refund question", actions=())
    message = card_message(card, current_channel="C0SUPPORT")
    first = message["blocks"][0]["text"]["text"]
    assert "Transferred to Support by alice — refund question" in first
    assert "now in <#C0SUPPORT>" in first
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    assert message["text"].startswith("Transferred to Support by alice")


def test_transferred_in_card_mentions_the_department_group() -> None:
    message = card_message(make_card(placement=1), mention_group="S0SUPPORT")
    assert message["text"].startswith("<!subteam^S0SUPPORT>")
    assert "For <!subteam^S0SUPPORT>" in all_text(message)
    assert_inert(message, groups=frozenset({"S0SUPPORT"}))
    bad = card_message(make_card(placement=1), mention_group="<!channel>")
    assert "subteam" not in all_text(bad) and "channel>" not in all_text(bad)


def test_read_only_source_and_history_tail() -> None:
    lines = tuple(f"Note from alice: step {n}" for n in range(10))
    card = make_card(read_only=True, reply_limit=None, history=lines)
    message = card_message(card)
    text = all_text(message)
    assert "Read-only source: reply on the original site" in text
    assert "step 9" in text and "step 6" in text and "step 5" not in text


def test_follow_ups_are_listed_newest_last() -> None:
    follow = tuple(f"dana: more detail {n}" for n in range(8))
    text = all_text(card_message(make_card(follow_ups=follow)))
    assert "(3 earlier follow-ups)" in text
    assert "↳ dana: more detail 7" in text and "more detail 2" not in text
