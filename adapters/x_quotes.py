"""X quote posts of our own posts: a public post quoting one of ours is a mention of the
company even when it does not name the account (X's mentions timeline lists only those that
do). X offers quotes per post, so every ``quotes_every`` the source reads its ``quote_posts``
newest posts (``GET /2/users/:id/tweets``) and the newest quotes of each
(``GET /2/tweets/:id/quote_tweets``); the store keeps each quote once."""

from __future__ import annotations

from typing import Any

from adapters.http import HttpClient
from bot.errors import SourceError

QUOTE_PAGE = 10
"""Quotes read per post (X's least ``max_results`` for quote_tweets)."""


async def recent_quotes(
    http: HttpClient,
    headers: dict[str, str],
    me: str,
    posts: int,
    fields: str,
    users: dict[str, dict[str, Any]],
    label: str,
) -> list[Any]:
    """The newest quotes of our ``posts`` newest posts; their authors go into ``users``."""
    params: dict[str, str | int] = {"max_results": max(5, posts), "exclude": "retweets,replies"}
    timeline = await http.get_json(f"/2/users/{me}/tweets", params=params, headers=headers)
    if not isinstance(timeline, dict):
        raise SourceError(f"{label}: our posts answer is not an object")
    ours = [t for t in timeline.get("data") or [] if isinstance(t, dict) and t.get("id")][:posts]
    found: list[Any] = []
    for post in ours:
        answer = await http.get_json(
            f"/2/tweets/{post['id']}/quote_tweets",
            params={
                "max_results": QUOTE_PAGE,
                "expansions": "author_id",
                "tweet.fields": fields,
                "user.fields": "username,name",
            },
            headers=headers,
        )
        if not isinstance(answer, dict):
            raise SourceError(f"{label}: quotes answer is not an object")
        found += [t for t in answer.get("data") or [] if isinstance(t, dict)]
        for user in (answer.get("includes") or {}).get("users") or []:
            if isinstance(user, dict) and user.get("id"):
                users[str(user["id"])] = user
    return found
