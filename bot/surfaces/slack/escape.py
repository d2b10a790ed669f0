"""Untrusted text for Slack: escaping for mrkdwn and plain_text, safe links, Slack's limits.

Every public string (post text, names, handles, URLs, notes) goes through ``plain`` or
``mrkdwn`` before it reaches a Slack payload:

- ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;``: ``<!channel>``, ``<@U…>``,
  ``<!subteam^…>`` and ``<https://evil|https://bank>`` show literally and ping nobody.
- control and bidi-override characters become U+FFFD, so nothing is hidden or reordered.
- in mrkdwn, formatting characters (``* _ ~ ```) become look-alikes that never format, and a
  leading ``>`` cannot start a quote (Slack offers no escape for these).

Links are built only by ``link``: a validated http(s) URL, shown as itself, or with a label we
wrote (never a label taken from the public). Use mrkdwn text objects with ``verbatim: true``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

from bot import untrusted

SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
OPTION_TEXT = 75
OPTION_VALUE = 150
CONTEXT_ELEMENTS = 10
URL_LENGTH = 3000
FALLBACK_TEXT = 40_000
BLOCKS = 50
ELLIPSIS = "…"

_CONTROL = untrusted.HIDDEN
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_LOOKALIKES = str.maketrans(
    {
        "*": "\u2217",  # asterisk operator
        "\uff0a": "\ufe61",  # full-width asterisk -> small asterisk
        "_": "\u02cd",  # modifier letter low macron
        "\uff3f": "\u2e0f",  # full-width low line -> paragraphos
        "`": "\u02cb",  # modifier letter grave accent
        "\uff40": "\u02cb",
        "~": "\u223c",  # tilde operator
    }
)
_QUOTE_START = re.compile(r"^(&gt;|\uff1e)", re.MULTILINE)
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{2,20}$")


def clean(text: str) -> str:
    """Replace control and bidi-override characters (keeps newlines and tabs)."""
    return _CONTROL.sub("\ufffd", text)


def plain(text: str) -> str:
    """Untrusted text for a ``plain_text`` object (or any Slack text field)."""
    return clean(text).translate(_ENTITIES)


def mrkdwn(text: str) -> str:
    """Untrusted text for a ``mrkdwn`` object: escaped, and unable to format or quote."""
    escaped = plain(text).translate(_LOOKALIKES)
    return _QUOTE_START.sub("\u00ad\\1", escaped)


def fit(
    text: str, limit: int, escape: Callable[[str], str] = plain, suffix: str = ELLIPSIS
) -> tuple[str, bool]:
    """``escape(text)`` cut to at most ``limit`` characters (never inside an entity), with
    ``suffix`` when cut. Returns the text and whether it was cut."""
    whole = escape(text)
    if len(whole) <= limit:
        return whole, False
    room = limit - len(suffix)
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if len(escape(text[:mid])) <= room:
            low = mid
        else:
            high = mid - 1
    return escape(text[:low].rstrip()) + suffix, True


def safe_url(url: str) -> str | None:
    """``url`` if it is an absolute http(s) URL we are willing to link, else None.

    Refused: other schemes (``javascript:``, ``slack:``), user-info (``https://bank@evil``),
    whitespace and control characters, over-long URLs. Non-ASCII host names are shown in
    punycode so a look-alike domain cannot pass for a real one; ``|``, ``<``, ``>`` and other
    unsafe characters are percent-encoded so the URL cannot close or relabel a Slack link.
    """
    url = url.strip()
    if len(url) > URL_LENGTH or not untrusted.safe_url(url):
        return None
    parts = urlsplit(url)
    port = parts.port
    if not parts.hostname:
        return None
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if not re.fullmatch(r"[a-z0-9.\-]+", host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    safe = "/%:@!$&'()*+,;=-._~"
    rebuilt = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            quote(parts.fragment, safe=safe + "?#"),
        )
    )
    return rebuilt if len(rebuilt) <= URL_LENGTH else None


def link(url: str, label: str = "") -> str:
    """A mrkdwn link to a validated http(s) URL. Without ``label`` Slack shows the URL
    itself; ``label`` must be our own trusted text. An unsafe URL comes back as inert text."""
    checked = safe_url(url)
    if checked is None:
        return mrkdwn(url)
    target = checked.translate(_ENTITIES)
    return f"<{target}|{mrkdwn(label)}>" if label else f"<{target}>"


def channel_link(channel_id: str) -> str:
    """``<#C…>`` for a channel ID we know (config or API), else empty."""
    return f"<#{channel_id}>" if _SLACK_ID.match(channel_id) and channel_id[0] in "CG" else ""


def user_mention(user_id: str) -> str:
    """``<@U…>`` for a user ID from Slack itself (never from public text), else empty."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) and user_id[0] in "UW" else ""


def group_mention(group_id: str) -> str:
    """``<!subteam^S…>`` for a configured user group ID, else empty."""
    return f"<!subteam^{group_id}>" if _SLACK_ID.match(group_id) and group_id[0] == "S" else ""
