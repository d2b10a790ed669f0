"""User-perceived characters: Unicode extended grapheme clusters (UAX #29, via ``regex``).

Bluesky limits posts to 300 graphemes; X counts each emoji sequence once.
"""

from __future__ import annotations

import regex

_CLUSTER = regex.compile(r"\X")
_EMOJI = regex.compile(
    r"[\p{Regional_Indicator}\u20e3\p{Emoji_Presentation}]"
    r"|\p{Extended_Pictographic}.*[\ufe0f\u200d]"
)


def graphemes(text: str) -> list[str]:
    """``text`` split into extended grapheme clusters."""
    return _CLUSTER.findall(text)


def grapheme_count(text: str) -> int:
    """How many user-perceived characters ``text`` has (Bluesky's unit)."""
    return len(graphemes(text))


def is_emoji_cluster(cluster: str) -> bool:
    """Whether one grapheme cluster shows as an emoji (flag, keycap, emoji presentation, or a
    pictograph made emoji by VS16 or a ZWJ sequence)."""
    return _EMOJI.search(cluster) is not None
