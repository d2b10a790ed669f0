"""Checked value types shared by the config sections (``bot/config.py``, ``bot/teams_config.py``).

Pydantic names the key in the error (``slack.api_url``); the message carries the bad value
and the fix.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator


def check_http_url(value: str) -> str:
    """``value`` when it is an absolute http(s) URL with a host, else ValueError."""
    problem = ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme.lower() not in ("http", "https"):
            problem = "the scheme must be http or https"
        elif not parts.hostname:
            problem = "it has no host"
        elif any(c.isspace() for c in value):
            problem = "it contains blanks"
    if problem:
        raise ValueError(
            f"{value!r} is not a URL ({problem}); write a full address such as "
            "https://host.example/path"
        )
    return value


def check_optional_http_url(value: str) -> str:
    """``""`` (not set) or an http(s) URL with a host."""
    return value if value == "" else check_http_url(value)


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
"""An absolute http(s) URL with a host."""
OptionalHttpUrl = Annotated[str, AfterValidator(check_optional_http_url)]
"""An http(s) URL with a host, or ``""`` for "not set"."""


def check_host(host: str) -> str:
    """``host`` when it is an IP address or a name this machine resolves, else ValueError."""
    if not host.strip():
        raise ValueError("is empty; use 127.0.0.1 (this machine) or 0.0.0.0 (every interface)")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(
            f"{host!r} does not resolve ({reason}); use an IP address such as 127.0.0.1 or "
            "0.0.0.0, or a host name this machine can resolve"
        ) from None
    return host
