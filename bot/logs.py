"""How switchboard logs: text or JSON lines on stderr, with secrets and request bodies kept out.

- ``--log-level`` / ``SWITCHBOARD_LOG_LEVEL`` (debug, info, warning, error) and ``--log-format``
  / ``SWITCHBOARD_LOG_FORMAT`` (text, json), on every subcommand.
- A JSON line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and when
  known ``thread`` (the thread number being worked on) and ``request_id`` (the HTTP request
  being answered), taken from context variables the server and the thread service set, plus
  ``error`` (the traceback) when there is one.
- Redaction happens on the finished line, traceback included, in both formats: token shapes
  (Slack ``xox…``/``xapp-…``, ``Bearer …``, JWTs, ``password=…``-style pairs) and every secret
  value of the loaded config are replaced by ``[redacted]``. Libraries' request and response
  dumps never reach the output: slack_bolt's line about a rejected request loses its body, and
  the HTTP clients' debug traces are held at INFO.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
LEVEL_ENV, FORMAT_ENV = "SWITCHBOARD_LOG_LEVEL", "SWITCHBOARD_LOG_FORMAT"
REDACTED = "[redacted]"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the HTTP request being answered (set by the server for each request)."""
thread_number: ContextVar[str | None] = ContextVar("thread_number", default=None)
"""The number (``T-1042``) of the thread being worked on."""

TOKEN_SHAPES = re.compile(
    r"(xox[abposer]-|xapp-)[A-Za-z0-9-]+"  # Slack bot, user, refresh and app-level tokens
    r"|(bearer\s+)[A-Za-z0-9._~+/=-]+"  # Authorization: Bearer …
    r"|()eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"  # JWTs
    r"|((?:password|passwd|secret|token)=)[^&\s\"']+"  # query- and form-style pairs
    r"|((?:password|secret|token)[\"']?\s*:\s*[\"'])[^\"']+",  # JSON- and dict-style pairs
    re.IGNORECASE,
)
"""Each shape's first group is what stays in front of ``[redacted]``."""
SECRET_KEYS = re.compile(r"token|secret|password|private_key|app_password", re.IGNORECASE)
QUIET_LIBRARIES = ("slack_sdk", "slack_bolt", "aiohttp.client", "msal", "urllib3", "asyncio")
"""Loggers whose DEBUG lines dump requests and responses: never below INFO."""
REJECTED_BODY = re.compile(r"(Invalid request signature detected \(.*?)(, body: .*)\)$", re.S)


class Redactor:
    """Replaces secrets in a finished log line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Short values ("1", "yes") would redact ordinary words: only real secrets count.
        self._secrets |= {s for s in secrets if isinstance(s, str) and len(s) >= 8}

    def __call__(self, line: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            line = line.replace(secret, REDACTED)
        return TOKEN_SHAPES.sub(_keep_prefix, line)


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = next((g for g in match.groups() if g is not None), "")
    return prefix + REDACTED


REDACT = Redactor()
"""The process's redactor; ``remember_secrets`` adds the config's secret values to it."""


def secret_values(data: Any, key: str = "") -> Iterator[str]:
    """Every string under a key that names a secret, anywhere in ``data``."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from secret_values(v, str(k))
    elif isinstance(data, list | tuple):
        for v in data:
            yield from secret_values(v, key)
    elif isinstance(data, str) and SECRET_KEYS.search(key):
        yield data


def remember_secrets(config: Any) -> None:
    """Redact every secret of ``config`` (a pydantic model or a mapping) from now on."""
    dump = config.model_dump() if hasattr(config, "model_dump") else config
    REDACT.add(secret_values(dump))


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.name.startswith("slack_bolt"):
        message = REJECTED_BODY.sub(r"\1, body withheld)", message)
    return message


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor = REDACT) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _message(record)
        context = " ".join(
            f"{name}={value}"
            for name, value in (("thread", thread_number.get()), ("request", request_id.get()))
            if value
        )
        line = super().formatMessage(record)
        return f"{line} [{context}]" if context else line

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor = REDACT) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        if (number := thread_number.get()) is not None:
            line["thread"] = number
        if (rid := request_id.get()) is not None:
            line["request_id"] = rid
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return self.redact(json.dumps(line, ensure_ascii=False))


def choose(flag: str | None, env: str, allowed: tuple[str, ...], default: str) -> str:
    """The flag's value, else the environment's, else ``default``; ValueError naming the
    setting when the value is not one of ``allowed``."""
    value = (flag or os.environ.get(env) or default).strip().lower()
    if value not in allowed:
        source = f"--{env.removeprefix('SWITCHBOARD_').lower().replace('_', '-')}"
        raise ValueError(f"{source if flag else env}: {value!r} is not one of {', '.join(allowed)}")
    return value


def configure(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) at ``level`` in ``fmt``; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    floor = max(logging.INFO, root.level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(floor)
    return handler


@contextmanager
def working_on(number: str) -> Iterator[None]:
    """Log lines written inside say which thread they are about."""
    token = thread_number.set(number)
    try:
        yield
    finally:
        thread_number.reset(token)
