"""GitHub Packages (GHCR) ``package`` / ``registry_package`` webhooks (registry-webhooks.md §6.2).

``X-GitHub-Event`` says what the body is; ``ping`` (sent when the hook is created) and every
other event are authentic but ignored. The body is JSON or, when the hook is configured so,
form-encoded with the JSON in the ``payload`` field (the signature covers the raw body either
way). ``package_url`` is ``ghcr.io/OWNER/IMAGE:TAG`` (a trailing ``:`` when untagged); GHCR
names are lower-case while owners may be mixed-case in payloads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from streamhook import mediatypes
from streamhook.digest import is_digest
from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object

EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
PACKAGE_EVENTS = frozenset({"package", "registry_package"})
PUSH_ACTIONS = frozenset({"published", "updated"})
CONTAINER_KINDS = frozenset({"container", "docker"})
FORM_TYPE = "application/x-www-form-urlencoded"
FORM_FIELD = "payload"
MAX_FORM_FIELDS = 16


def _body(delivery: Delivery) -> dict[str, Any]:
    if mediatypes.normalize(delivery.content_type) != FORM_TYPE:
        return decode_object(delivery.body)
    try:
        form = parse_qs(
            delivery.body.decode("ascii"), strict_parsing=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload("form body is not valid x-www-form-urlencoded data") from None
    values = form.get(FORM_FIELD, [])
    if len(values) != 1:
        raise MalformedPayload(f"form body needs exactly one {FORM_FIELD!r} field")
    return decode_object(values[0].encode("utf-8"))


def _is_container(package: dict[str, Any]) -> bool:
    registry = package.get("registry")
    kinds = [
        package.get("package_type"),
        package.get("ecosystem"),
        registry.get("type") if isinstance(registry, dict) else None,
    ]
    return any(isinstance(k, str) and k.lower() in CONTAINER_KINDS for k in kinds)


def _split_package_url(url: str | None, where: str) -> tuple[str, str, str | None]:
    """``host/path[:tag]`` → (host, lower-case repository, tag or None)."""
    host = f.host_of_reference(url)
    if url is None or host is None:
        raise MalformedPayload(f"{where} must be host/owner/image[:tag]")
    path = url.partition("/")[2]
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
    return host, f.repository(path.lower(), where), f.tag(tag or None, f"{where} tag")


def _first_digest(*candidates: str | None) -> str | None:
    # GitHub's own example has a truncated manifest digest next to a good version name.
    return next((c for c in candidates if is_digest(c)), None)


def parse(delivery: Delivery) -> ParsedNotification:
    event = f.header(delivery, EVENT_HEADER)
    if event is None:
        raise MalformedPayload(f"{EVENT_HEADER} header is missing")
    if event not in PACKAGE_EVENTS:
        return f.ignore("ping" if event == "ping" else "other-event")
    body = _body(delivery)
    package = f.as_object(body.get(event), event)
    if f.text(body, "action", "body") not in PUSH_ACTIONS:
        return f.ignore("other-action")
    if not _is_container(package):
        return f.ignore("not-a-container")
    where = f"{event}.package_version"
    version = f.as_object(package.get("package_version"), where)
    host, repository, url_tag = _split_package_url(
        f.text(version, "package_url", where), f"{where}.package_url"
    )
    metadata = f.child(version, "container_metadata", where) or {}
    tag_info = f.child(metadata, "tag", f"{where}.container_metadata") or {}
    manifest = f.child(metadata, "manifest", f"{where}.container_metadata") or {}
    tag = f.tag(f.text(tag_info, "name", f"{where}.container_metadata.tag"), f"{where} tag")
    entry = f.push_or_untagged(
        repository,
        tag or url_tag,
        digest=_first_digest(f.text(manifest, "digest", where), f.text(version, "name", where)),
        media_type=f.text(manifest, "media_type", f"{where}.container_metadata.manifest"),
        event_id=f.header(delivery, DELIVERY_HEADER),
        payload_hosts=(host,),
    )
    return f.collect([entry])
