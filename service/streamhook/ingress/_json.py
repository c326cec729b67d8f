"""Strict, bounded JSON decoding shared by the sender parsers."""

from __future__ import annotations

import json
from typing import Any

from streamhook.ingress._errors import MalformedPayload

MAX_DEPTH = 64


def _depth(value: Any, limit: int) -> int:
    # Iterative, so hostile nesting cannot exhaust the Python stack.
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _reject_constant(name: str) -> Any:
    raise MalformedPayload(f"body is not valid JSON: {name} is not allowed")


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object, or raise MalformedPayload saying what is wrong."""
    if not body.strip():
        raise MalformedPayload("body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedPayload("body is nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, MalformedPayload):
            raise
        raise MalformedPayload(f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedPayload("body must be a JSON object")
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise MalformedPayload("body is nested too deeply")
    return value
