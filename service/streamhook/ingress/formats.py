"""Sender formats: ``webhooks[].format`` → a pure parser ``Delivery → ParsedNotification``.

Parsers raise ``MalformedPayload`` (answered 400) and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import (
    acr,
    artifactory,
    cloudevents,
    distribution,
    dockerhub,
    ecr,
    gar,
    github,
    harbor,
    nexus,
    quay,
    zot,
)

Parser = Callable[[Delivery], ParsedNotification]

PARSERS: Mapping[str, Parser] = {
    "distribution": distribution.parse,
    "gitlab": distribution.parse,
    "harbor": harbor.parse,
    "quay": quay.parse,
    "dockerhub": dockerhub.parse,
    "acr": acr.parse,
    "github": github.parse,
    "zot": zot.parse,
    "cloudevents": cloudevents.parse,
    "gar": gar.parse,
    "ecr": ecr.parse,
    "artifactory": artifactory.parse,
    "nexus": nexus.parse,
}


def parser_for(webhook_format: str) -> Parser | None:
    return PARSERS.get(webhook_format)
