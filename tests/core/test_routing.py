from __future__ import annotations

from bot.config import RoutingRule
from bot.domain import Author, Mention
from bot.routing import Router


def mention(
    text: str, *, handle: str = "someone", source: str = "masto", network: str = "x"
) -> Mention:
    return Mention(
        source=source,
        network=network,
        external_id="1",
        conversation_key="1",
        author=Author(id="1", handle=handle),
        text=text,
    )


def router(*rules: RoutingRule) -> Router:
    return Router(rules, "social")


def test_keywords_are_whole_words_and_case_insensitive() -> None:
    r = router(RoutingRule(department="billing", keywords=("refund", "VAT number")))
    assert r.route(mention("I want a REFUND!")) == "billing"
    assert r.route(mention("what is my vat number?")) == "billing"
    assert r.route(mention("refunds are nice")) == "social"
    assert r.route(mention("prefund")) == "social"


def test_first_match_wins_and_conditions_combine() -> None:
    r = router(
        RoutingRule(department="press", network="x", keywords=("comment",)),
        RoutingRule(department="support", keywords=("comment", "down")),
        RoutingRule(department="vip", author=("@BigCustomer",)),
        RoutingRule(department="legal", regex=r"\bGDPR\b"),
        RoutingRule(department="rss", source="alerts"),
    )
    assert r.route(mention("any comment?", network="x")) == "press"
    assert r.route(mention("any comment?", network="bluesky")) == "support"
    assert r.route(mention("hi", handle="bigcustomer")) == "vip"
    assert r.route(mention("a gdpr request")) == "legal"
    assert r.route(mention("news", source="alerts")) == "rss"
    assert r.route(mention("nothing matches")) == "social"


def test_keywords_with_regex_characters_are_literal() -> None:
    r = router(RoutingRule(department="eng", keywords=("c++", "502")))
    assert r.route(mention("I write C++ daily")) == "eng"
    assert r.route(mention("got a 502 error")) == "eng"
    assert r.route(mention("got a 5022 error")) == "social"
