"""Reddit's JSON shapes: inbox comments as Mentions, Listings, and errors in answer bodies.

Reddit answers ``POST /api/comment`` (``api_type=json``) with HTTP 200 even when it refuses:
``{"json": {"errors": [["RATELIMIT", "Take a break for 3 minutes...", "ratelimit"]],
"ratelimit": 171.2}}``; ``api_error`` turns that into a ``SourceError`` carrying the wait.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from adapters.html_text import html_to_text
from adapters.plain_text import clean_text
from adapters.support import text_field
from bot.domain import Author, Mention
from bot.errors import SourceError

_SUBMISSION = re.compile(r"^/r/[^/]+/comments/([a-z0-9]+)/", re.IGNORECASE)
_WAIT = re.compile(r"(\d+)\s*(millisecond|second|minute|hour)", re.IGNORECASE)
_UNIT = {"millisecond": 0.001, "second": 1.0, "minute": 60.0, "hour": 3600.0}


def inbox_mention(data: dict[str, Any], source: str, web_url: str) -> Mention:
    """One inbox comment (username mention or reply) as a Mention."""
    fullname, author = text_field(data, "name"), text_field(data, "author")
    if not fullname.startswith("t1_"):
        raise ValueError(f"name {fullname!r} is not a comment fullname")
    context = data.get("context")
    path = context.split("?", 1)[0] if isinstance(context, str) and is_path(context) else ""
    match = _SUBMISSION.match(path)
    candidates = (
        data.get("link_id"),
        f"t3_{match.group(1)}" if match else "",
        data.get("parent_id"),
    )
    link_id = next((c for c in candidates if isinstance(c, str) and c.startswith("t3_")), fullname)
    html = data.get("body_html")
    text = (
        html_to_text(html)
        if isinstance(html, str) and html
        else clean_text(text_field(data, "body"))
    )
    author_id = data.get("author_fullname")
    return Mention(
        source=source,
        network="reddit",
        external_id=fullname,
        conversation_key=link_id,
        author=Author(
            id=author_id if isinstance(author_id, str) and author_id else author,
            handle=author,
            display_name=f"u/{author}",
            profile_url=f"{web_url}/user/{quote(author, safe='')}",
        ),
        text=text,
        permalink=f"{web_url}{path}" if path else "",
        created_at=datetime.fromtimestamp(float(data["created_utc"]), UTC),
        reply_data={
            "thing_id": fullname,
            "link_id": link_id,
            "subreddit": str(data.get("subreddit") or ""),
        },
    )


def listing_children(payload: Any, where: str, label: str) -> tuple[list[Any], str]:
    data = payload.get("data") if isinstance(payload, dict) else None
    children = data.get("children") if isinstance(data, dict) else None
    if not isinstance(children, list):
        raise SourceError(f"{label}: {where} did not answer a Listing: {payload!r:.200}")
    after = data.get("after") if isinstance(data, dict) else None
    return children, after if isinstance(after, str) else ""


def api_error(label: str, errors: Any, ratelimit: Any) -> SourceError:
    pairs = [
        (str(e[0]), str(e[1])) if isinstance(e, list) and len(e) > 1 else (str(e), "")
        for e in (errors if isinstance(errors, list) else [errors])
    ]
    text = "; ".join(f"{code}: {message}" if message else code for code, message in pairs)
    wait = next((wait_seconds(m, ratelimit) for c, m in pairs if c == "RATELIMIT"), None)
    return SourceError(f"{label}: the comment was refused: {text}", retry_after=wait)


def wait_seconds(message: str, ratelimit: Any) -> float:
    if isinstance(ratelimit, int | float) and ratelimit > 0:
        return float(ratelimit)
    match = _WAIT.search(message)
    if match is None:
        return 60.0
    return int(match.group(1)) * _UNIT[match.group(2).lower()]


def is_path(value: str) -> bool:
    return value.startswith("/") and not value.startswith("//")


def normal_text(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))
