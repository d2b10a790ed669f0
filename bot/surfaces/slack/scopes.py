"""The bot scopes each Web API method we call, and each event we subscribe to, needs.

``manifest.yaml`` must ask for exactly the scopes of what the code uses: a test reads every
``api.call("method", …)`` in this package and checks the manifest against this table, so a new
call without its scope (or a scope nothing needs) fails before an install does. Scopes as
Slack's method reference lists them for bot tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postEphemeral": frozenset({"chat:write"}),
    # chat:write.public: post a card into a public channel the bot has not joined yet.
    "chat.postMessage": frozenset({"chat:write", "chat:write.public"}),
    "chat.update": frozenset({"chat:write"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "conversations.join": frozenset({"channels:join"}),
    "conversations.list": frozenset({"channels:read", "groups:read"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),
    "views.open": frozenset(),
    "views.publish": frozenset(),
}
"""Bot scopes by method (public and private channels: ``channels:*`` and ``groups:*``)."""

EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "app_mention": frozenset({"app_mentions:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
}
COMMAND_SCOPES = frozenset({"commands"})
"""What slash commands and shortcuts need."""


def scopes_for(methods: Iterable[str], events: Iterable[str]) -> set[str]:
    """The bot scopes an app calling ``methods`` and subscribing to ``events`` needs; a
    method or event missing from the tables raises ``KeyError`` naming it."""
    needed = set(COMMAND_SCOPES)
    for method in methods:
        needed |= METHOD_SCOPES[method]
    for event in events:
        needed |= EVENT_SCOPES[event]
    return needed
