"""Generic CloudEvents for custom senders, structured or binary mode (registry-webhooks.md §7.6).

Accepted event ``type``: anything ending in ``.pushed`` or ``.updated`` (for example
``com.example.image.pushed``); other types are authentic but ignored. Accepted ``data``::

    {"repository": "team/app",                 # required, path on the configured registry
     "tag": "v1",                              # optional; without it the push is untagged
     "digest": "sha256:<64 hex>",              # optional; resolved from the tag when absent
     "mediaType": "application/vnd.oci.image.manifest.v1+json",   # optional
     "host": "registry.example.com"}           # optional; cross-checked, never dialled
"""

from __future__ import annotations

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _cloudevents
from streamhook.ingress import _fields as f

PUSH_TYPE_SUFFIXES = (".pushed", ".updated")


def parse(delivery: Delivery) -> ParsedNotification:
    event = _cloudevents.read(delivery)
    if not event.type.endswith(PUSH_TYPE_SUFFIXES):
        return f.ignore("delete" if event.type.endswith(".deleted") else "other-type")
    data = _cloudevents.require_data(event)
    host = f.text(data, "host", "data")
    entry = f.push_or_untagged(
        f.repository(f.text(data, "repository", "data"), "data.repository"),
        f.tag(f.text(data, "tag", "data"), "data.tag"),
        digest=f.digest(f.text(data, "digest", "data"), "data.digest"),
        media_type=f.text(data, "mediaType", "data"),
        event_id=event.id,
        payload_hosts=f.hosts(host.lower() if host else None),
    )
    return f.collect([entry])
