"""CNCF Distribution (2.x/3.x) and GitLab notification envelopes (registry-webhooks.md §1, §6.1).

Only ``push`` of a manifest media type with a tag becomes work. Blob pushes
(``application/octet-stream``), pulls (HEAD included), mounts, deletes and untagged pushes
(index children, push by digest) are authentic but ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from streamhook import mediatypes
from streamhook.events import Delivery, Ignored, ParsedNotification, Push
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object


def _hosts(event: dict[str, Any], where: str) -> tuple[str, ...]:
    request = f.child(event, "request", where) or {}
    target = f.child(event, "target", where) or {}
    request_host = f.text(request, "host", f"{where}.request")
    url = f.text(target, "url", f"{where}.target")
    url_host = urlsplit(url).netloc.rsplit("@", 1)[-1] if url else None
    return f.hosts(request_host and request_host.lower(), url_host and url_host.lower())


def parse_event(event: Any, where: str) -> Push | Ignored:
    """One Distribution event (also ACR's bare event) → a push, or why it needs no work."""
    event = f.as_object(event, where)
    action = event.get("action")
    if not isinstance(action, str):
        raise MalformedPayload(f"{where}.action must be a string")
    target = f.as_object(event.get("target"), f"{where}.target")
    at = f"{where}.target"
    repository = f.text(target, "repository", at)
    tag = f.text(target, "tag", at)
    digest = f.text(target, "digest", at)
    media_type = mediatypes.normalize(f.text(target, "mediaType", at))
    hosts = _hosts(event, where)
    if action != "push":
        return Ignored(action if action in ("pull", "mount", "delete") else "other-action")
    if media_type not in mediatypes.MANIFEST_TYPES:
        reason = "blob" if media_type in (None, "application/octet-stream") else "not-a-manifest"
        return Ignored(reason, repository)
    event_id = event.get("id")
    return f.push_or_untagged(
        f.repository(repository, f"{at}.repository"),
        f.tag(tag, f"{at}.tag"),
        digest=f.digest(digest, f"{at}.digest"),
        media_type=media_type,
        event_id=event_id if isinstance(event_id, str) else None,
        payload_hosts=hosts,
    )


def _entry(event: Any, where: str) -> Push | Ignored:
    try:
        return parse_event(event, where)
    except MalformedPayload as problem:
        # One bad event must not cost the others: a 4xx would make the registry retry the
        # whole envelope forever and block every notification behind it.
        return Ignored("malformed", detail=str(problem))


def parse(delivery: Delivery) -> ParsedNotification:
    """An unreadable envelope is malformed (400); a malformed event inside one is skipped."""
    envelope = decode_object(delivery.body)
    events = f.bounded_list(envelope, "events", "body")
    return f.collect(_entry(event, f"events[{i}]") for i, event in enumerate(events))
