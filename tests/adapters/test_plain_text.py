"""Plain text from hostile HTML and public text."""

from __future__ import annotations

import pytest

from adapters.html_text import html_to_text
from adapters.plain_text import clean_text


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
