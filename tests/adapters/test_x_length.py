"""Post length by the twitter-text v3 rules."""

from __future__ import annotations

import pytest

from adapters.x_length import x_weighted_length


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
