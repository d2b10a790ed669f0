"""Small pieces the source adapters share: settings coercion, timestamps, the source's label,
check() error explanations and logging of malformed items."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from adapters.base import SourceSettings
from adapters.http import HttpStatusError, NetworkError, excerpt
from bot.errors import ConfigError, SourceError

S = TypeVar("S", bound=SourceSettings)

MALFORMED = (KeyError, TypeError, ValueError, AttributeError, ValidationError)
"""What parsing one untrusted item may raise; the item is logged and skipped."""


def coerce_settings(model: type[S], settings: Any) -> S:
    """``settings`` as ``model``: the model itself, another settings model or a mapping."""
    if isinstance(settings, model):
        return settings
    raw = settings.model_dump() if isinstance(settings, SourceSettings) else settings
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("name", "?") if isinstance(raw, dict) else "?"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"sources[{name}]: {problems}") from exc


def parse_time(value: Any) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive input is taken as UTC)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def text_field(data: Any, key: str) -> str:
    """A required string field of an untrusted JSON object."""
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{key} is {type(value).__name__}, not a string")
    text = str(value)
    if not text:
        raise ValueError(f"{key} is empty")
    return text


def log_malformed(log: logging.Logger, source: str, item: Any, error: BaseException) -> None:
    try:
        raw = json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        raw = repr(item)
    log.warning(
        "%s: skipped a malformed item (%s: %s): %s",
        source,
        type(error).__name__,
        error,
        excerpt(raw, 300),
    )


def unlabelled(error: BaseException, label: str) -> str:
    """The text of ``error`` without a leading ``<label>: `` (so a wrapper says it once)."""
    text = str(error)
    return text[len(label) + 2 :] if text.startswith(f"{label}: ") else text


def labelled(error: SourceError, label: str) -> SourceError:
    """``error`` with its text starting with ``<label>: `` exactly once."""
    if str(error).startswith(f"{label}: "):
        return error
    return SourceError(f"{label}: {error}", retry_after=error.retry_after)


def explain_check_error(
    error: SourceError,
    *,
    label: str,
    base_url: str,
    auth_hint: str,
    scope_hint: str,
) -> SourceError:
    """A check() failure reworded for the person configuring the source, naming the source
    once (``label``, which says the network)."""
    detail = unlabelled(error, label)
    if isinstance(error, NetworkError):
        text = f"{label}: cannot reach {base_url} ({detail}). Check base_url and the network."
    elif isinstance(error, HttpStatusError) and error.status == 401:
        text = f"{label}: the credentials were rejected (HTTP 401). {auth_hint}"
    elif isinstance(error, HttpStatusError) and error.status == 403:
        text = f"{label}: access denied (HTTP 403): {scope_hint}"
    elif isinstance(error, HttpStatusError) and error.status in (404, 405):
        text = (
            f"{label}: {base_url} does not answer like this network's API "
            f"(HTTP {error.status}). Check base_url."
        )
    else:
        return labelled(error, label)
    return SourceError(text, retry_after=error.retry_after)
