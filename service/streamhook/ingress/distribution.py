"""CNCF Distribution (2.x/3.x) and GitLab notification envelopes (registry-webhooks.md §1, §6.1).

Only ``push`` of a manifest media type with a tag becomes work. Blob pushes
(``application/octet-stream``), pulls (HEAD included), mounts, deletes and untagged pushes
(index children, push by digest) are authentic but ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from streamhook import mediatypes
from streamhook.digest import is_digest
from streamhook.events import Delivery, Ignored, ParsedNotification, Push
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object
from streamhook.reference import is_repository, is_tag

ENVELOPE_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.events.v1+json",
        "application/vnd.docker.distribution.events.v2+json",
        "application/json",
    }
)
MAX_EVENTS = 1000


def _text(event: dict[str, Any], section: str, key: str, where: str) -> str | None:
    container = event.get(section)
    if container is None:
        return None
    if not isinstance(container, dict):
        raise MalformedPayload(f"{where}.{section} must be an object")
    value = container.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{section}.{key} must be a string")
    return value


def _hosts(event: dict[str, Any], where: str) -> tuple[str, ...]:
    hosts = []
    request_host = _text(event, "request", "host", where)
    if request_host:
        hosts.append(request_host.lower())
    url = _text(event, "target", "url", where)
    if url:
        netloc = urlsplit(url).netloc
        if netloc:
            hosts.append(netloc.rsplit("@", 1)[-1].lower())
    return tuple(dict.fromkeys(hosts))


def _entry(event: Any, where: str) -> Push | Ignored:
    if not isinstance(event, dict):
        raise MalformedPayload(f"{where} must be an object")
    action = event.get("action")
    if not isinstance(action, str):
        raise MalformedPayload(f"{where}.action must be a string")
    if not isinstance(event.get("target"), dict):
        raise MalformedPayload(f"{where}.target must be an object")
    repository = _text(event, "target", "repository", where)
    tag = _text(event, "target", "tag", where)
    digest = _text(event, "target", "digest", where)
    media_type = mediatypes.normalize(_text(event, "target", "mediaType", where))
    if action != "push":
        return Ignored(action if action in ("pull", "mount", "delete") else "other-action")
    if media_type not in mediatypes.MANIFEST_TYPES:
        reason = "blob" if media_type in (None, "application/octet-stream") else "not-a-manifest"
        return Ignored(reason, repository)
    if not is_repository(repository):
        raise MalformedPayload(f"{where}.target.repository is missing or not a repository name")
    if digest is not None and not is_digest(digest):
        raise MalformedPayload(f"{where}.target.digest is not a sha256 digest")
    if tag is None:
        return Ignored("untagged", repository)
    if not is_tag(tag):
        raise MalformedPayload(f"{where}.target.tag is not a valid tag")
    event_id = event.get("id")
    return Push(
        repository=repository,  # type: ignore[arg-type]  # checked by is_repository
        tag=tag,
        digest=digest,
        media_type=media_type,
        event_id=event_id if isinstance(event_id, str) else None,
        hosts=_hosts(event, where),
    )


def parse(delivery: Delivery) -> ParsedNotification:
    envelope = decode_object(delivery.body)
    events = envelope.get("events", [])
    if events is None:
        events = []
    if not isinstance(events, list):
        raise MalformedPayload("events must be a list")
    if len(events) > MAX_EVENTS:
        raise MalformedPayload(f"too many events ({len(events)} > {MAX_EVENTS})")
    pushes: list[Push] = []
    ignored: list[Ignored] = []
    for index, event in enumerate(events):
        entry = _entry(event, f"events[{index}]")
        (pushes if isinstance(entry, Push) else ignored).append(entry)  # type: ignore[arg-type]
    return ParsedNotification(tuple(pushes), tuple(ignored))
