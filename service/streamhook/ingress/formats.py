"""Sender formats: ``webhooks[].format`` → a pure parser ``(body, content_type) → notification``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamhook.events import ParsedNotification
from streamhook.ingress import distribution

Parser = Callable[[bytes, str | None], ParsedNotification]

PARSERS: Mapping[str, Parser] = {
    "distribution": distribution.parse,
    "gitlab": distribution.parse,
}


def parser_for(webhook_format: str) -> Parser | None:
    return PARSERS.get(webhook_format)
