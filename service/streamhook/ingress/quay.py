"""Quay ``repo_push`` notifications (registry-webhooks.md §3).

There is no event type in the body: a push is recognised by ``updated_tags`` (a list; very
old Quay sent an object keyed by tag). No digest and no media type: each tag is resolved
through the registry. ``docker_url`` is ``host/namespace/name`` and only cross-checked.
"""

from __future__ import annotations

from typing import Any

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object
from streamhook.reference import is_tag


def _tags(body: dict[str, Any]) -> list[str]:
    value = body.get("updated_tags")
    names = f.bounded(list(value) if isinstance(value, dict) else value, "body.updated_tags")
    for index, name in enumerate(names):
        if not isinstance(name, str) or not is_tag(name):
            raise MalformedPayload(f"body.updated_tags[{index}] is not a valid tag")
    return list(dict.fromkeys(names))


def parse(delivery: Delivery) -> ParsedNotification:
    body = decode_object(delivery.body)
    if "updated_tags" not in body:
        return f.ignore("not-a-push")  # build, mirror, vulnerability … notifications
    repository = f.repository(f.text(body, "repository", "body"), "body.repository")
    tags = _tags(body)
    if not tags:
        return f.ignore("no-tags", repository)
    host = f.hosts(f.host_of_reference(f.text(body, "docker_url", "body")))
    return f.collect(f.push_or_untagged(repository, tag, payload_hosts=host) for tag in tags)
