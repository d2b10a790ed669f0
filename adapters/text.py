"""Text helpers shared by the adapters: safe plain text, graphemes, links, network lengths.

Everything here treats its input as hostile. ``html_to_text`` turns post HTML into plain text
(links shown by their real target, scripts dropped, entities unescaped); ``clean_text`` strips
control and bidi-override characters from plain text. The result is still raw text: each chat
surface escapes it for its own markup.

``graphemes`` is a compact take on Unicode extended grapheme clusters (UAX #29): CR LF,
combining marks and other extenders, spacing marks, Hangul syllable sequences, emoji modifier
and ZWJ sequences, keycaps, tag sequences and regional-indicator flag pairs. It is what
Bluesky's 300-grapheme rule needs without a Unicode data dependency.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

# ---------------------------------------------------------------- plain text

_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Plain text without control characters, bidi overrides or trailing blank space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_BIDI_CONTROLS)
    kept = []
    for ch in text:
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"):
            kept.append(ch)
    joined = "\n".join(line.rstrip() for line in "".join(kept).split("\n"))
    return _BLANK_LINES.sub("\n\n", joined).strip()


_SKIP_TAGS = {"script", "style", "template", "noscript", "iframe", "object", "svg", "head"}
_BLOCK_TAGS = {"div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
_SPACE = re.compile(r"[ \t\r\n\f]+")
_URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^[\w-]+(?:\.[\w-]+)+(?:[/:?#]|$)", re.I)


def _safe_href(href: str) -> str:
    href = href.strip()
    if not re.match(r"^https?://", href, re.I):
        return ""
    return "".join(ch for ch in href if ch.isprintable() and not ch.isspace())


def _same_url(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return re.sub(r"^[a-z]+://", "", url.strip().rstrip("/…"), flags=re.I).lower()

    return norm(a) == norm(b)


def render_link(href: str, text: str, classes: str = "") -> str:
    """How a link reads in plain text: mentions and tags by their text, other links by their
    real target (a link whose text looks like a different URL shows only the target)."""
    label = " ".join(text.split())
    target = _safe_href(href)
    if not target:
        return label
    if label[:1] in ("@", "#") and not _URL_LIKE.match(label[1:]):
        return label
    words = set(classes.split())
    if {"mention", "hashtag"} & words and label:
        return label
    if not label or _same_url(label, target) or _URL_LIKE.match(label):
        return target
    return f"{label} ({target})"


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.link: tuple[str, str, list[str]] | None = None

    def _emit(self, text: str) -> None:
        if self.link is not None:
            self.link[2].append(text)
        else:
            self.out.append(text)

    def _block(self, lines: int) -> None:
        """End the current block with at least ``lines`` line breaks."""
        target = self.link[2] if self.link is not None else self.out
        tail = "".join(target[-4:])
        have = len(tail) - len(tail.rstrip("\n"))
        if have < lines:
            target.append("\n" * (lines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self._emit("\n")
        elif tag == "p":
            self._block(2)
        elif tag in _BLOCK_TAGS:
            self.pre += tag == "pre"
            self._block(1)
        elif tag == "a" and self.link is None:
            values = dict(attrs)
            self.link = (values.get("href") or "", values.get("class") or "", [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self.skip:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(self.skip - 1, 0)
        elif self.skip:
            return
        elif tag == "p":
            self._block(2)
        elif tag in _BLOCK_TAGS:
            self.pre -= tag == "pre" and self.pre > 0
            self._block(1)
        elif tag == "a" and self.link is not None:
            href, classes, parts = self.link
            self.link = None
            self.out.append(render_link(href, "".join(parts), classes))

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._emit(data if self.pre else _SPACE.sub(" ", data))

    def result(self) -> str:
        if self.link is not None:
            href, classes, parts = self.link
            self.out.append(render_link(href, "".join(parts), classes))
        return clean_text("\n".join(line.strip() for line in "".join(self.out).split("\n")))


def html_to_text(html: str) -> str:
    """Post HTML (Mastodon ``content``, feed summaries) as safe plain text."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    return parser.result()


# ---------------------------------------------------------------- graphemes

_ZWJ = 0x200D


def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _is_pictographic(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x1FC00 <= cp <= 0x1FFFD
        or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x2190 <= cp <= 0x21FF
        or cp in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    ) and not _is_regional(cp)


def _is_extend(cp: int) -> bool:
    if cp == 0x200C or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    if 0xFF9E <= cp <= 0xFF9F:
        return True
    return unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc")


def _hangul(cp: int) -> str:
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _is_control(cp: int) -> bool:
    return cp in (0x0A, 0x0D) or unicodedata.category(chr(cp)) in ("Cc", "Zl", "Zp")


_HANGUL_JOINS = {
    ("L", "L"),
    ("L", "V"),
    ("L", "LV"),
    ("L", "LVT"),
    ("LV", "V"),
    ("LV", "T"),
    ("V", "V"),
    ("V", "T"),
    ("LVT", "T"),
    ("T", "T"),
}


def _joins(prev: int, cp: int, emoji_zwj: bool, regional_run: int) -> bool:
    if prev == 0x0D and cp == 0x0A:
        return True
    if _is_control(prev) or _is_control(cp):
        return False
    if (_hangul(prev), _hangul(cp)) in _HANGUL_JOINS or _is_extend(cp) or cp == _ZWJ:
        return True
    if prev == _ZWJ and emoji_zwj and _is_pictographic(cp):
        return True
    return _is_regional(prev) and _is_regional(cp) and regional_run % 2 == 1


def graphemes(text: str) -> list[str]:
    """``text`` split into (approximate) extended grapheme clusters."""
    clusters: list[str] = []
    current = ""
    prev = -1
    regional_run = 0
    emoji_zwj = False
    for ch in text:
        cp = ord(ch)
        if current and _joins(prev, cp, emoji_zwj, regional_run):
            current += ch
            if not (_is_extend(cp) or cp == _ZWJ or _is_pictographic(cp)):
                emoji_zwj = False
        else:
            if current:
                clusters.append(current)
            current = ch
            regional_run = 0
            emoji_zwj = _is_pictographic(cp)
        regional_run = regional_run + 1 if _is_regional(cp) else 0
        prev = cp
    if current:
        clusters.append(current)
    return clusters


def grapheme_count(text: str) -> int:
    """How many user-perceived characters ``text`` has (Bluesky's unit)."""
    return len(graphemes(text))


def is_emoji_cluster(cluster: str) -> bool:
    cps = [ord(ch) for ch in cluster]
    if any(_is_regional(cp) for cp in cps) or 0x20E3 in cps:
        return True
    if any(_is_pictographic(cp) and cp >= 0x1F000 for cp in cps):
        return True
    return any(_is_pictographic(cp) for cp in cps) and (0xFE0F in cps or _ZWJ in cps)


# ---------------------------------------------------------------- links and offsets

_TLD_WORDS = (
    "com net org edu gov io co dev app social info biz me tv us uk de fr es it nl eu ca au jp "
    "cn ru br in ch se no fi dk pl at be cz ie nz xyz ai gg ly to fm sh page blog news tech "
    "online site shop store cloud club link live world zone email"
)
_TLDS = frozenset(_TLD_WORDS.split())
_LINK_CANDIDATE = re.compile(
    r"(?<![\w@.\-/])(?:https?://[^\s<>\"]+|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"”’"


@dataclass(frozen=True)
class Link:
    """A link found in plain text: character offsets and the full URL."""

    start: int
    end: int
    url: str


def find_links(text: str) -> list[Link]:
    """URLs in ``text``: ``http(s)://`` links, and bare domains with a well-known TLD
    (given ``https://``). Trailing punctuation and an unbalanced ``)`` are left out."""
    links = []
    for match in _LINK_CANDIDATE.finditer(text):
        raw = match.group(0)
        while raw and (
            raw[-1] in _TRAILING or (raw[-1] == ")" and raw.count("(") < raw.count(")"))
        ):
            raw = raw[:-1]
        if "://" not in raw:
            host = raw.split("/", 1)[0]
            if host.rsplit(".", 1)[-1].lower() not in _TLDS:
                continue
            url = f"https://{raw}"
        else:
            if len(raw) <= len(raw.split("://", 1)[0]) + 3:
                continue
            url = raw
        links.append(Link(match.start(), match.start() + len(raw), url))
    return links


def utf8_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Character offsets ``[start, end)`` of ``text`` as UTF-8 byte offsets."""
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))


# ---------------------------------------------------------------- X (twitter-text v3)

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
