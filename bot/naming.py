"""How messages name a source: its label, which says the source's network once."""

from __future__ import annotations

import re


def source_label(network: str, name: str) -> str:
    """``bluesky``, ``bluesky-main`` or ``bluesky brand``: a name that already says the network
    (as a word of the name, or anywhere in it for networks longer than two letters, so ``x`` is
    not found in ``index``) is the label itself; any other name comes after the network."""
    lowered = name.lower()
    said = network in re.split(r"[^a-z0-9]+", lowered) or (len(network) > 2 and network in lowered)
    return name if said else f"{network} {name}"


def about_source(network: str, name: str, message: str) -> str:
    """``message`` starting with the source's label exactly once (``<label>: <message>`` unless
    it already starts so)."""
    label = source_label(network, name)
    return message if message.startswith(f"{label}: ") else f"{label}: {message}"
