"""JSON from strangers, parsed with bounds: nesting depth, number length, no NaN/Infinity.

``json.loads`` alone recurses once per nesting level (a body of ``[[[[…`` raises
``RecursionError``), turns a 4,000-digit integer into a big int and ``1e999`` into
``inf``. ``loads`` refuses all of these with ``UnsafeJson``, whose text says what was wrong
(phrased to follow "body ": "body is nested deeper than 16 levels").
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 16
"""Arrays and objects nested deeper than this are refused (the webhook body needs 4)."""
MAX_NUMBER = 32
"""Characters in one JSON number (a 64-bit id has at most 20)."""


class UnsafeJson(ValueError):
    """The body is not JSON, or is JSON outside the bounds; the text says which."""


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER:
        raise UnsafeJson(f"has a number longer than {MAX_NUMBER} characters")
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER:
        raise UnsafeJson(f"has a number longer than {MAX_NUMBER} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise UnsafeJson(f"has a number out of range ({text[:MAX_NUMBER]})")
    return value


def _constant(name: str) -> float:
    raise UnsafeJson(f"has {name}, which is not a JSON number")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` parsed, or ``UnsafeJson`` naming the problem."""
    try:
        value = json.loads(raw, parse_int=_integer, parse_float=_real, parse_constant=_constant)
    except UnsafeJson:
        raise
    except RecursionError:
        raise UnsafeJson(f"is nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise UnsafeJson(f"is not valid JSON: {exc}") from None
    if _depth(value, max_depth) > max_depth:
        raise UnsafeJson(f"is nested deeper than {max_depth} levels")
    return value


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests (iteratively; stops counting once past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children)
    return deepest
