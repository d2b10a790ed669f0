"""Plain text from hostile HTML, grapheme counting, links and the X weighted length."""

from __future__ import annotations

import pytest

from adapters.text import (
    clean_text,
    find_links,
    grapheme_count,
    graphemes,
    html_to_text,
    utf8_span,
    x_weighted_length,
)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one</p><p>two<br>three<br/>four</p>", "one\n\ntwo\nthree\nfour"),
        ("<p>a &amp; b &lt;c&gt; &#39;d&#39; &nbsp;e</p>", "a & b <c> 'd' \xa0e"),
        (
            '<p><span class="h-card"><a href="https://x.example/@kim" class="u-url mention">'
            "@<span>kim</span></a></span> hi</p>",
            "@kim hi",
        ),
        (
            '<a href="https://x.example/tags/help" class="mention hashtag">#<span>help</span></a>',
            "#help",
        ),
        (
            '<a href="https://example.com/a/very/long/path">'
            '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very'
            '</span><span class="invisible">/long/path</span></a>',
            "https://example.com/a/very/long/path",
        ),
        ('<a href="https://evil.example/x">https://bank.example</a>', "https://evil.example/x"),
        ('<a href="https://evil.example/x">www.bank.example</a>', "https://evil.example/x"),
        (
            '<a href="https://evil.example/x">@bank.example</a>',
            "@bank.example (https://evil.example/x)",
        ),
        ('<a href="https://evil.example/x">your bank</a>', "your bank (https://evil.example/x)"),
        ('<a href="javascript:alert(1)">click me</a>', "click me"),
        ("<p>ok<script>alert(1)</script><style>p{}</style></p>", "ok"),
        ("<p>&lt;!channel&gt; &lt;@U123&gt; <!channel></p>", "<!channel> <@U123>"),
        (
            '<p>unclosed <a href="https://example.com/x">link',
            "unclosed link (https://example.com/x)",
        ),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_clean_text_drops_controls_and_bidi_overrides() -> None:
    assert clean_text("a\x00b\x1bc\u202eevil\u2066d\r\ne\n\n\n\nf  ") == "abcevild\ne\n\nf"
    assert clean_text("tab\tkept 👩‍💻") == "tab\tkept 👩‍💻"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("abc", 3),
        ("e\u0301", 1),
        ("👩‍👩‍👧‍👦", 1),
        ("👍🏽", 1),
        ("🇫🇷🇩🇪", 2),
        ("🇫🇷🇩", 2),
        ("1️⃣", 1),
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 1),
        ("한국어", 3),
        ("\u1100\u1161\u11a8", 1),
        ("a\r\nb", 3),
        ("नमस्ते", 4),  # no Unicode 15.1 conjunct rule, like the PDS's grapheme counter
        ("🙂\u200d", 1),
        ("a\u200d🙂", 2),
    ],
)
def test_grapheme_count(text: str, count: int) -> None:
    assert grapheme_count(text) == count
    assert "".join(graphemes(text)) == text


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hello", 5),
        ("日本語", 6),
        ("こんにちは", 10),
        ("😀", 2),
        ("👩‍👩‍👧‍👦", 2),
        ("🇯🇵", 2),
        ("👍🏽👍🏽", 4),
        ("https://example.com/a/very/long/path?with=query", 23),
        ("go to example.com now", 6 + 23 + 4),
        ("“quote” — ok…", 14),  # U+2026 is outside the light ranges
        ("e\u0301", 1),
        ("안녕", 4),
    ],
)
def test_x_weighted_length(text: str, length: int) -> None:
    assert x_weighted_length(text) == length


def test_find_links() -> None:
    text = (
        "see https://example.com/a_(b) and (https://x.example/p). Also bsky.app, "
        "mail kim@example.com, file.txt, e.g. http://"
    )
    found = [(text[link.start : link.end], link.url) for link in find_links(text)]
    assert found == [
        ("https://example.com/a_(b)", "https://example.com/a_(b)"),
        ("https://x.example/p", "https://x.example/p"),
        ("bsky.app", "https://bsky.app"),
    ]


def test_utf8_span() -> None:
    text = "日本 👩‍👩‍👧 @kim"
    start = text.index("@kim")
    byte_start, byte_end = utf8_span(text, start, start + 4)
    assert text.encode()[byte_start:byte_end] == b"@kim"
    assert byte_start == len("日本 👩‍👩‍👧 ".encode())
