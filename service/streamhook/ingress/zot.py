"""Zot events extension: CloudEvents in binary mode (registry-webhooks.md §7.1).

Only types ending in ``.image.updated`` are pushes (the ``zotregistry.`` prefix is
configurable in newer Zot). ``data.reference`` is the tag, or the digest when the manifest
was pushed by digest (index children): that is an untagged push. Zot names no host.
"""

from __future__ import annotations

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _cloudevents
from streamhook.ingress import _fields as f

PUSH_TYPE_SUFFIX = ".image.updated"
DELETE_TYPE_SUFFIX = ".image.deleted"


def parse(delivery: Delivery) -> ParsedNotification:
    event = _cloudevents.read(delivery)
    if not event.type.endswith(PUSH_TYPE_SUFFIX):
        return f.ignore("delete" if event.type.endswith(DELETE_TYPE_SUFFIX) else "other-type")
    data = _cloudevents.require_data(event)
    entry = f.push_or_untagged(
        f.repository(f.text(data, "name", "data"), "data.name"),
        f.tag_unless_digest(f.text(data, "reference", "data"), "data.reference"),
        digest=f.digest(f.text(data, "digest", "data"), "data.digest"),
        media_type=f.text(data, "mediaType", "data"),
        event_id=event.id,
    )
    return f.collect([entry])
