"""Post HTML (Mastodon ``content``, feed summaries, Reddit ``body_html``) as plain text.

Links read by their real target, scripts and styles are dropped, entities unescaped, and the
result passes through ``clean_text``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from adapters.plain_text import clean_text
from bot.untrusted import safe_url

_SKIP_TAGS = {"script", "style", "template", "noscript", "iframe", "object", "svg", "head"}
_BLOCK_TAGS = {"div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
_SPACE = re.compile(r"[ \t\r\n\f]+")
_URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^[\w-]+(?:\.[\w-]+)+(?:[/:?#]|$)", re.I)


def _same_url(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return re.sub(r"^[a-z]+://", "", url.strip().rstrip("/…"), flags=re.I).lower()

    return norm(a) == norm(b)


def render_link(href: str, text: str, classes: str = "") -> str:
    """How a link reads in plain text: mentions and tags by their text, other links by their
    real target (a link whose text looks like a different URL shows only the target)."""
    label = " ".join(text.split())
    target = safe_url(href)
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
