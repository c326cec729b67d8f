"""Typed, strict field access shared by the sender parsers.

Every accessor names the offending path in its ``MalformedPayload`` so a 400 answer says
what is wrong. Empty strings count as absent: several senders send ``""`` for "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streamhook import mediatypes
from streamhook.digest import is_digest
from streamhook.events import Delivery, Ignored, ParsedNotification, Push
from streamhook.ingress._errors import MalformedPayload
from streamhook.reference import is_repository, is_tag

MAX_ENTRIES = 1000  # resources, tags or events in one delivery
DIGEST_PREFIX = "sha256:"


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be an object")
    return value


def child(container: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """An optional nested object; absent or null is None."""
    value = container.get(key)
    return None if value is None else as_object(value, f"{where}.{key}")


def text(container: Mapping[str, Any], key: str, where: str) -> str | None:
    value = container.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{key} must be a string")
    return value


def bounded(value: Any, where: str) -> list[Any]:
    """A list of at most MAX_ENTRIES items; null is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{where} must be a list")
    if len(value) > MAX_ENTRIES:
        raise MalformedPayload(f"{where} has too many entries ({len(value)} > {MAX_ENTRIES})")
    return value


def bounded_list(container: Mapping[str, Any], key: str, where: str) -> list[Any]:
    return bounded(container.get(key), f"{where}.{key}")


def repository(value: str | None, where: str) -> str:
    if not is_repository(value):
        raise MalformedPayload(f"{where} is missing or not a repository name")
    return value  # type: ignore[return-value]  # checked by is_repository


def digest(value: str | None, where: str) -> str | None:
    if value is not None and not is_digest(value):
        raise MalformedPayload(f"{where} is not a sha256 digest")
    return value


def tag(value: str | None, where: str) -> str | None:
    if value is not None and not is_tag(value):
        raise MalformedPayload(f"{where} is not a valid tag")
    return value


def tag_unless_digest(value: str | None, where: str) -> str | None:
    """A reference field that holds the tag, or the digest when there was no tag."""
    if value is None or value.startswith(DIGEST_PREFIX):
        return None
    return tag(value, where)


def header(delivery: Delivery, name: str) -> str | None:
    """The first value of a request header (names are case-insensitive in the service)."""
    value = delivery.headers.get(name)
    if value is None:  # a plain dict (tests, tools) is not case-insensitive by itself
        lowered = name.lower()
        value = next((v for k, v in delivery.headers.items() if k.lower() == lowered), None)
    return value or None


def host_of_reference(reference: str | None) -> str | None:
    """``host`` of ``host/path…`` (no scheme), lower-cased; None when there is no host part."""
    if not reference:
        return None
    host, slash, _ = reference.partition("/")
    return host.lower() if slash and host else None


def hosts(*candidates: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for h in candidates if h))


def push_or_untagged(
    repository: str,
    tag: str | None,
    *,
    digest: str | None = None,
    media_type: str | None = None,
    event_id: str | None = None,
    payload_hosts: tuple[str, ...] = (),
) -> Push | Ignored:
    """A Push for a tagged manifest. Untagged pushes need no work (nothing to map), and a
    media type that is not a manifest's (blobs, Helm charts) is not an image."""
    normalized = mediatypes.normalize(media_type)
    if normalized is not None and normalized not in mediatypes.MANIFEST_TYPES:
        return Ignored("not-a-manifest", repository, tag)
    if tag is None:
        return Ignored("untagged", repository)
    return Push(repository, tag, digest, normalized, event_id, payload_hosts)


def collect(entries: Iterable[Push | Ignored]) -> ParsedNotification:
    pushes: list[Push] = []
    ignored: list[Ignored] = []
    for entry in entries:
        if isinstance(entry, Push):
            pushes.append(entry)
        else:
            ignored.append(entry)
    return ParsedNotification(tuple(pushes), tuple(ignored))


def ignore(reason: str, repository: str | None = None) -> ParsedNotification:
    return ParsedNotification(ignored=(Ignored(reason, repository),))
