"""Post length by the twitter-text v3 rules X applies."""

from __future__ import annotations

import unicodedata

from adapters.graphemes import graphemes, is_emoji_cluster
from adapters.links import find_links

X_URL_LENGTH = 23
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _x_weight(cp: int) -> int:
    return 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT) else 2


def x_weighted_length(text: str) -> int:
    """Length by the twitter-text v3 rules: NFC text, every URL 23, code points in the light
    ranges 1, everything else (CJK, most symbols) 2, and each emoji sequence 2 in total."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for link in find_links(text):
        total += _x_plain(text[position : link.start]) + X_URL_LENGTH
        position = link.end
    return total + _x_plain(text[position:])


def _x_plain(text: str) -> int:
    total = 0
    for cluster in graphemes(text):
        if is_emoji_cluster(cluster):
            total += 2
        else:
            total += sum(_x_weight(ord(ch)) for ch in cluster)
    return total
