"""Sonatype Nexus Repository 3 "Webhook: Repository" component events (§7.5).

For a Docker component ``name`` is the image path and ``version`` the tag; there is no
digest, media type or host (the Docker connector of the hosted repository is configured).
Asset events (``rm:repository:asset``) and other formats are ignored.
"""

from __future__ import annotations

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._json import decode_object

DELIVERY_HEADER = "X-Nexus-Webhook-Delivery"
DOCKER_FORMAT = "docker"
PUSH_ACTIONS = frozenset({"CREATED", "UPDATED"})


def parse(delivery: Delivery) -> ParsedNotification:
    body = decode_object(delivery.body)
    component = f.child(body, "component", "body")
    if component is None:
        return f.ignore("asset" if "asset" in body else "other-event")
    if f.text(component, "format", "component") != DOCKER_FORMAT:
        return f.ignore("not-docker")
    repository = f.repository(f.text(component, "name", "component"), "component.name")
    action = f.text(body, "action", "body")
    if action not in PUSH_ACTIONS:
        return f.ignore("delete" if action == "DELETED" else "other-action", repository)
    entry = f.push_or_untagged(
        repository,
        f.tag_unless_digest(f.text(component, "version", "component"), "component.version"),
        event_id=f.header(delivery, DELIVERY_HEADER),
    )
    return f.collect([entry])
