"""``bot.untrusted.blank``: text that shows nothing, however it is made."""

from __future__ import annotations

import pytest

from bot.untrusted import blank


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n\u3000\u00a0",
        "\u200b\u200c\u200d\u2060\ufeff",
        "\u202e\u2066\u2069",
        "\U000e0041\U000e0042\U000e007f",
        "\u0301\u0308\ufe0f\u034f",
        "\u00ad\u115f\u1160\u3164\uffa0\u2800",
        "\ue000\U000f0000",
    ],
)
def test_invisible_text_is_blank(text: str) -> None:
    assert blank(text)


@pytest.mark.parametrize(
    "text", ["a", "\u200ba\u200b", "e\u0301", "\U0001f469\u200d\U0001f4bb", "\U0001f3f4", "ـ", "."]
)
def test_anything_visible_is_not_blank(text: str) -> None:
    assert not blank(text)
