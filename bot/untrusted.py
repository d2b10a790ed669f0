"""The one policy for untrusted public text: hidden characters and links.

``HIDDEN`` matches every character that can hide, reorder or disguise text without being seen:

- C0 controls except tab and newline (escape sequences, NUL, CR), DEL and the C1 controls;
- bidi controls: ALM U+061C, LRM/RLM U+200E/F, the embeddings and overrides LRE..RLO
  U+202A-E and the isolates LRI..PDI U+2066-9;
- invisible format characters: ZWSP U+200B, word joiner and invisible operators U+2060-4,
  the deprecated format controls U+206A-F, BOM/ZWNBSP U+FEFF, Mongolian vowel separator
  U+180E, interlinear annotation U+FFF9-B, the Hangul fillers U+3164/U+FFA0 (blank names);
- tag characters U+E0000-E007F (invisible "ASCII smuggling"), except inside an emoji tag
  sequence (the flags of England, Scotland, Wales: U+1F3F4, tags, CANCEL TAG U+E007F);
- ZWNJ/ZWJ U+200C/D in Latin, Greek, Cyrillic or symbol text, where they only split a word
  to dodge a keyword match. They are kept after an emoji (ZWJ sequences such as 👩‍💻 need
  them) and in scripts that use them (Devanagari conjuncts, Persian ZWNJ, Sinhala...).

Variation selectors, combining marks and the soft hyphen are kept: they change how a visible
character looks, never what order text reads in. ``neutralize`` removes or replaces what
``HIDDEN`` matches; ``blank`` tells whether text shows nothing at all; ``safe_url`` decides
whether a public URL may become a link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import regex

MAX_URL = 4096

_TAG_SPEC = r"\U000E0020-\U000E007E"
_SEQ = "{0,31}"  # bounded: real tag sequences are short, and a hostile run stays linear
_STRAY_TAG = (
    rf"(?<!\U0001F3F4[{_TAG_SPEC}]{_SEQ})[{_TAG_SPEC}]"
    rf"|[{_TAG_SPEC}](?![{_TAG_SPEC}]{_SEQ}\U000E007F)"
    rf"|(?<!\U0001F3F4[{_TAG_SPEC}]{{1,31}})\U000E007F"
    r"|[\U000E0000-\U000E001F]"
)
_JOINER_KEPT = (
    r"\p{Extended_Pictographic}|\p{Emoji_Modifier}|\uFE0F|\u20E3"
    r"|[\p{L}\p{M}](?<!\p{Latin}|\p{Greek}|\p{Cyrillic})"
)
HIDDEN: regex.Pattern[str] = regex.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f"
    r"\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    r"\u3164\ufeff\uffa0\ufff9-\ufffb]"
    rf"|{_STRAY_TAG}"
    rf"|(?<!{_JOINER_KEPT})[\u200c\u200d]"
)
"""Every hidden, reordering or disguising character (see the module docstring)."""

_SPACE = regex.compile(r"\s")


def neutralize(text: str, replacement: str = "") -> str:
    """``text`` with every ``HIDDEN`` character replaced by ``replacement`` (removed by
    default; U+FFFD makes them visible). CR LF and lone CR become LF first."""
    return HIDDEN.sub(replacement, text.replace("\r\n", "\n").replace("\r", "\n"))


def has_hidden(text: str) -> bool:
    """Whether ``text`` holds any ``HIDDEN`` character."""
    return HIDDEN.search(text) is not None


_UNSEEN = regex.compile(
    r"[\s\p{Z}\p{Cc}\p{Cf}\p{Mn}\p{Me}\p{Cn}\p{Co}\p{Cs}"
    r"\u00ad\u115f\u1160\u2800\u3164\uffa0]+"
)


def blank(text: str) -> bool:
    """Whether ``text`` shows nothing once ``neutralize``d: only blanks, format characters,
    lone combining marks and variation selectors, unassigned or private-use code points, the
    soft hyphen, the Hangul fillers or the braille blank U+2800."""
    return not _UNSEEN.sub("", neutralize(text))


def safe_url(url: str) -> str:
    """``url`` (without surrounding blanks) when it may become a link, else ``""``.

    Only absolute ``http``/``https`` URLs with a host; refused: other schemes (``javascript:``,
    ``data:``), user-info (``https://bank.example@evil.example``), a backslash in the host part
    (``https://bank.example\\@evil.example``), whitespace, control and hidden characters, a bad
    port, unparsable hosts and URLs longer than ``MAX_URL``.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL or _SPACE.search(url) or has_hidden(url):
        return ""
    if not url.isprintable():
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if "@" in parts.netloc or "\\" in parts.netloc:
        return ""
    return url
