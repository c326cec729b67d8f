"""Google Artifact Registry notifications through a Pub/Sub push subscription (§7.2).

The push body wraps the message: ``{"message": {"data": <base64 JSON>, "messageId": …},
"subscription": …}``; with "payload unwrapping" the body is the JSON itself and the id comes
in ``x-goog-pubsub-message-id``. The JSON is ``{"action": "INSERT", "digest": "HOST/P/R/IMG@
sha256:…", "tag": "HOST/P/R/IMG:TAG"}``: full references, so the repository is the path after
the host, and the host is only cross-checked against the configured registry.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object
from streamhook.reference import ImageRef, parse_image_ref

INSERT_ACTION = "INSERT"
MESSAGE_ID_HEADER = "x-goog-pubsub-message-id"


def _unwrap(body: dict[str, Any], delivery: Delivery) -> tuple[dict[str, Any], str | None]:
    message = f.child(body, "message", "body")
    if message is None:
        return body, f.header(delivery, MESSAGE_ID_HEADER)
    encoded = f.text(message, "data", "message")
    if encoded is None:
        raise MalformedPayload("message.data is missing")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayload("message.data is not base64") from None
    event_id = f.text(message, "messageId", "message") or f.text(message, "message_id", "message")
    return decode_object(raw), event_id


def _reference(data: dict[str, Any], key: str) -> ImageRef | None:
    value = f.text(data, key, "data")
    if value is None:
        return None
    try:
        ref = parse_image_ref(value)
    except ValueError:
        raise MalformedPayload(f"data.{key} is not a full image reference") from None
    if (ref.digest if key == "digest" else ref.tag) is None:
        raise MalformedPayload(f"data.{key} does not name a {key}")
    return ref


def parse(delivery: Delivery) -> ParsedNotification:
    data, event_id = _unwrap(decode_object(delivery.body), delivery)
    action = f.text(data, "action", "data")
    if action != INSERT_ACTION:
        return f.ignore("delete" if action == "DELETE" else "other-action")
    by_digest, by_tag = _reference(data, "digest"), _reference(data, "tag")
    refs = [ref for ref in (by_digest, by_tag) if ref is not None]
    if not refs:
        raise MalformedPayload("data needs a digest or a tag reference")
    if len({(ref.host, ref.repository) for ref in refs}) > 1:
        raise MalformedPayload("data.digest and data.tag name different images")
    entry = f.push_or_untagged(
        refs[0].repository,
        by_tag.tag if by_tag else None,
        digest=by_digest.digest if by_digest else None,
        event_id=event_id,
        payload_hosts=(refs[0].host,),
    )
    return f.collect([entry])
