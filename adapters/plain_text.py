"""Plain text from untrusted public text: hidden characters gone, blank space tidied.

The result is still raw text: each chat surface escapes it for its own markup.
"""

from __future__ import annotations

import re

from bot.untrusted import neutralize

_BLANK_LINES = re.compile(r"\n{3,}")
_UNPAIRED = re.compile(r"[\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]")


def clean_text(text: str) -> str:
    """Plain text without hidden characters (``bot.untrusted.HIDDEN``), surrogates or
    private-use characters, trailing blanks or runs of blank lines."""
    text = _UNPAIRED.sub("", neutralize(text))
    joined = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", joined).strip()
