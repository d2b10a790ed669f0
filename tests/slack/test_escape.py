"""Escaping untrusted text for Slack: nothing pings, formats, hides or relabels a link."""

from __future__ import annotations

import re

import pytest

from bot.surfaces.slack.escape import (
    channel_link,
    clean,
    fit,
    group_mention,
    link,
    mrkdwn,
    plain,
    safe_url,
    user_mention,
)

from .hostile import HOSTILE, assert_inert

PARTIAL_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("escape", [plain, mrkdwn])
def test_hostile_text_has_no_control_sequence(text: str, escape: object) -> None:
    out = escape(text)  # type: ignore[operator]
    assert "<" not in out and ">" not in out
    assert not PARTIAL_ENTITY.search(out)
    assert_inert(out, channels=False)


def test_entities_round_trip_to_the_original_characters() -> None:
    raw = 'a < b && c > d, "&lt;" stays literal'
    assert plain(raw) == 'a &lt; b &amp;&amp; c &gt; d, "&amp;lt;" stays literal'
    decoded = plain(raw).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert decoded == raw


def test_mrkdwn_cannot_format_or_quote() -> None:
    out = mrkdwn("*bold* _it_ ~gone~ `code` ```block``` ＊x＊\n> quote\nfine > here")
    assert not set("*_~`") & set(out)
    assert "\uff0a" not in out
    first, second, third = out.split("\n")[:3]
    assert first.startswith("∗bold∗ ˍitˍ ∼gone∼ ˋcodeˋ")
    assert second.startswith("\u00ad&gt;")
    assert third == "fine &gt; here"


def test_plain_keeps_formatting_characters_exactly() -> None:
    assert plain("*bold* _it_ `x`") == "*bold* _it_ `x`"


def test_control_and_bidi_characters_are_made_visible() -> None:
    assert clean("a\u202eb\u2066c\x1b[31md\ne\tf") == "a\ufffdb\ufffdc\ufffd[31md\ne\tf"
    assert clean("family 👨\u200d👩\u200d👧") == "family 👨\u200d👩\u200d👧"


@pytest.mark.parametrize("escape", [plain, mrkdwn])
def test_fit_cuts_between_entities_within_the_limit(escape: object) -> None:
    for raw in ("&" * 5000, "<>" * 3000, "x&" * 2000, "é" * 4000):
        out, cut = fit(raw, 3000, escape)  # type: ignore[arg-type]
        assert cut and len(out) <= 3000 and out.endswith("…")
        assert len(out) > 2990 - 5
        assert not PARTIAL_ENTITY.search(out)


def test_fit_leaves_short_text_alone() -> None:
    assert fit("a & b", 10) == ("a &amp; b", False)
    assert fit("a & b", 8) == ("a &amp;…", True)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "slack://open",
        "ftp://files.example/x",
        "//evil.example/path",
        "https://bank.example@evil.example/login",
        "https://user:pw@evil.example/",
        "https://evil.example|https://bank.example",
        "https://evil.example/a b",
        "https://evil.example/\u202e",
        "https://",
        "",
        "https://evil.example/" + "a" * 3000,
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    assert safe_url(url) is None
    assert "<" not in link(url, "open the original")


def test_safe_urls_are_normalised_so_they_cannot_break_a_link() -> None:
    assert safe_url("https://social.example/@a/1?x=1&y=2") == "https://social.example/@a/1?x=1&y=2"
    assert safe_url("HTTPS://Social.Example/a|b>c<d") == "https://social.example/a%7Cb%3Ec%3Cd"
    assert safe_url("https://bаnk.example/") == "https://xn--bnk-6cd.example/"
    assert safe_url("http://localhost:8080/x") == "http://localhost:8080/x"


def test_links_show_the_real_url_unless_we_wrote_the_label() -> None:
    url = "https://social.example/@a/1?x=1&y=2"
    assert link(url) == "<https://social.example/@a/1?x=1&amp;y=2>"
    assert link(url, "open the original") == (
        "<https://social.example/@a/1?x=1&amp;y=2|open the original>"
    )
    assert link("https://evil.example|https://bank.example") == (
        "https://evil.example|https://bank.example"
    )


def test_mentions_only_for_real_ids() -> None:
    assert user_mention("U024BE7LH") == "<@U024BE7LH>"
    assert group_mention("S0BILLING") == "<!subteam^S0BILLING>"
    assert channel_link("C0SUPPORT") == "<#C0SUPPORT>"
    for bad in ("U0<!here>", "<!channel>", "here", "S12|x", "", "u024be7lh"):
        assert user_mention(bad) == group_mention(bad) == channel_link(bad) == ""
    assert group_mention("U024BE7LH") == "" and user_mention("S0BILLING") == ""
