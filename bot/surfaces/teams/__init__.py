"""Microsoft Teams, on the Microsoft 365 Agents SDK (the successor of botbuilder-python).

``settings`` (the config section), ``card`` (Adaptive Cards, escaping), ``surface`` (the
``Surface`` port: post, update, notify), ``handler`` (activities -> ``Interaction``),
``auth`` (incoming JWTs), ``connector`` (outgoing calls), ``graph`` and ``history`` (finding
our own posts again through Microsoft Graph), ``app`` (``POST /api/messages``),
``package`` (the Teams app zip). Only ``settings`` and ``package`` import without the SDK.
"""

from bot.teams_config import TeamsSettings

__all__ = ["TeamsSettings"]
