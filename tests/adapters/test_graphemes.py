"""Grapheme clusters (Bluesky's unit) by the Unicode rules, through ``regex``."""

from __future__ import annotations

import pytest

from adapters.graphemes import grapheme_count, graphemes, is_emoji_cluster


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
        ("नमस्ते", 3),
        ("क्षि", 1),
        ("กำ", 1),
        ("สวัสดี", 4),
        ("🏳️‍🌈", 1),
        ("🧑🏽‍💻", 1),
        ("👨‍👩‍👧 and 🇯🇵🇺🇦", 8),
        ("🙂\u200d", 1),
        ("a\u200d🙂", 2),
    ],
)
def test_grapheme_count(text: str, count: int) -> None:
    assert grapheme_count(text) == count
    assert "".join(graphemes(text)) == text


@pytest.mark.parametrize(
    ("cluster", "emoji"),
    [
        ("😀", True),
        ("👩‍💻", True),
        ("🇯🇵", True),
        ("1️⃣", True),
        ("☺️", True),
        ("☺", False),
        ("a", False),
        ("क्षि", False),
        ("日", False),
    ],
)
def test_is_emoji_cluster(cluster: str, emoji: bool) -> None:
    assert is_emoji_cluster(cluster) is emoji


def test_a_devanagari_post_of_300_graphemes_fits_bluesky() -> None:
    text = "नमस्ते " * 75
    assert grapheme_count(text) == 300
