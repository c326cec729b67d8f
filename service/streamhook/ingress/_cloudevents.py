"""CloudEvents 1.0 over HTTP: structured and binary content modes (registry-webhooks.md §7.6).

Structured: ``Content-Type: application/cloudevents+json``, the body is the event (``data`` or
``data_base64``). Binary: attributes in ``ce-*`` headers, the body is ``data``. Batched mode is
refused: no registry sends it and one event per request keeps answers simple.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from streamhook import mediatypes
from streamhook.events import Delivery
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object

SPEC_VERSION = "1.0"
STRUCTURED_PREFIX = "application/cloudevents"
BATCH_PREFIX = "application/cloudevents-batch"
REQUIRED_ATTRIBUTES = ("id", "source", "type")


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    data: dict[str, Any] | None


def is_binary(delivery: Delivery) -> bool:
    content_type = mediatypes.normalize(delivery.content_type) or ""
    return not content_type.startswith(STRUCTURED_PREFIX) and (
        f.header(delivery, "ce-specversion") is not None
    )


def _checked(attributes: dict[str, str | None], data: dict[str, Any] | None) -> CloudEvent:
    if attributes.get("specversion") != SPEC_VERSION:
        raise MalformedPayload(f"CloudEvent specversion must be {SPEC_VERSION!r}")
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise MalformedPayload(f"CloudEvent attribute(s) missing: {', '.join(missing)}")
    return CloudEvent(
        attributes["id"],  # type: ignore[arg-type]  # checked just above
        attributes["source"],  # type: ignore[arg-type]
        attributes["type"],  # type: ignore[arg-type]
        data,
    )


def _binary(delivery: Delivery) -> CloudEvent:
    attributes = {
        name: unquote(value) if (value := f.header(delivery, f"ce-{name}")) else None
        for name in ("specversion", *REQUIRED_ATTRIBUTES)
    }
    data = decode_object(delivery.body) if delivery.body.strip() else None
    return _checked(attributes, data)


def _structured_data(envelope: dict[str, Any]) -> dict[str, Any] | None:
    if "data_base64" in envelope:
        if "data" in envelope:
            raise MalformedPayload("CloudEvent has both data and data_base64")
        encoded = f.text(envelope, "data_base64", "event")
        if encoded is None:
            return None
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedPayload("event.data_base64 is not base64") from None
        return decode_object(raw)
    return f.child(envelope, "data", "event")


def from_object(envelope: dict[str, Any]) -> CloudEvent:
    """A structured-mode event already decoded from JSON."""
    attributes = {
        name: f.text(envelope, name, "event") for name in ("specversion", *REQUIRED_ATTRIBUTES)
    }
    return _checked(attributes, _structured_data(envelope))


def read(delivery: Delivery) -> CloudEvent:
    content_type = mediatypes.normalize(delivery.content_type) or ""
    if content_type.startswith(BATCH_PREFIX):
        raise MalformedPayload("batched CloudEvents are not supported: send one event per request")
    if is_binary(delivery):
        return _binary(delivery)
    envelope = decode_object(delivery.body)
    if content_type.startswith(STRUCTURED_PREFIX) or "specversion" in envelope:
        return from_object(envelope)
    raise MalformedPayload(
        "not a CloudEvent: expected ce-* headers or Content-Type application/cloudevents+json"
    )


def require_data(event: CloudEvent) -> dict[str, Any]:
    if event.data is None:
        raise MalformedPayload("CloudEvent data is missing")
    return event.data
