"""Sender formats: ``webhooks[].format`` → a pure parser ``Delivery → ParsedNotification``.

Parsers raise ``MalformedPayload`` (answered 400) and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import distribution

Parser = Callable[[Delivery], ParsedNotification]

PARSERS: Mapping[str, Parser] = {
    "distribution": distribution.parse,
    "gitlab": distribution.parse,
}


def parser_for(webhook_format: str) -> Parser | None:
    return PARSERS.get(webhook_format)
