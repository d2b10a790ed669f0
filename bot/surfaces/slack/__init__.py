"""The Slack surface.

Outbound (cards, activity lines, pacing, 429s): ``surface.SlackSurface`` over
``webapi.SlackWebApi``, rendering with ``blocks.card_message`` and escaping every untrusted
string with ``escape``. Inbound (events, slash commands, interactivity) lives in ``app``.
"""
