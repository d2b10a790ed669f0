"""Hostile public text and a check that a Slack payload stays inert.

``HOSTILE`` holds strings a public post may carry; ``assert_inert(payload)`` walks every
string in a payload (blocks, text, options) and fails on any Slack control sequence that is
not one we build ourselves: a mention, a broadcast, or a link whose label is not our own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

HOSTILE = (
    "<!channel> everyone look",
    "<!here|here> now",
    "<!everyone>",
    "hi <@U024BE7LH> and <@W0123ABC|boss>",
    "<!subteam^S123|@support-team> please",
    "pay here: <https://evil.example|https://bank.example>",
    "<#C0123|general>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "*bold* _italic_ ~strike~ `code` ```block```",
    "> quoted\n&gt; also quoted",
    "right-to-left \u202egnp.exe",
    "<javascript:alert(1)|click>",
)
TRUSTED_LABELS = frozenset({"open the original"})
_CONSTRUCT = re.compile(r"<([^<>]*)>")
_OUR_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d+)?(/[^\s|<>]*)?$")


def strings(payload: Any) -> Iterator[str]:
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, dict):
        for value in payload.values():
            yield from strings(value)
    elif isinstance(payload, list | tuple):
        for value in payload:
            yield from strings(value)


def constructs(payload: Any) -> list[str]:
    """Every ``<…>`` control sequence in the payload's strings."""
    return [m.group(1) for text in strings(payload) for m in _CONSTRUCT.finditer(text)]


def assert_inert(
    payload: Any, *, groups: frozenset[str] = frozenset(), channels: bool = True
) -> None:
    """No ping, broadcast or disguised link anywhere in ``payload``.

    Allowed: ``<https://real.url>``, ``<https://real.url|open the original>``, ``<#C…>``
    channel links (when ``channels``), and ``<!subteam^S…>`` for the IDs in ``groups``.
    """
    for inner in constructs(payload):
        target, _, label = inner.partition("|")
        if target.startswith("!subteam^") and target[9:] in groups and not label:
            continue
        if channels and re.fullmatch(r"#[CG][A-Z0-9]+", target) and not label:
            continue
        assert _OUR_URL.match(target), f"control sequence in payload: <{inner}>"
        assert not label or label in TRUSTED_LABELS, f"link with a foreign label: <{inner}>"
    for text in strings(payload):
        assert "\u202e" not in text, "bidi override reached Slack"
