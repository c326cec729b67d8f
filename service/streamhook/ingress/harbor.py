"""Harbor webhooks, Default and CloudEvents payload formats (registry-webhooks.md §2).

Only ``PUSH_ARTIFACT`` (CloudEvents ``harbor.artifact.pushed``) is work. Harbor reports an
untagged artifact (index child, push by digest) with ``tag`` set to the digest, so a tag
that starts with ``sha256:`` means untagged. Harbor sends no media type.
"""

from __future__ import annotations

from typing import Any

from streamhook.events import Delivery, Ignored, ParsedNotification, Push
from streamhook.ingress import _cloudevents
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object

PUSH_TYPE = "PUSH_ARTIFACT"
PUSH_CLOUDEVENT_TYPE = "harbor.artifact.pushed"
IGNORED_REASONS = {
    "PULL_ARTIFACT": "pull",
    "DELETE_ARTIFACT": "delete",
    "harbor.artifact.pulled": "pull",
    "harbor.artifact.deleted": "delete",
}


def _resource(value: Any, repository: str, event_id: str | None, where: str) -> Push | Ignored:
    resource = f.as_object(value, where)
    return f.push_or_untagged(
        repository,
        f.tag_unless_digest(f.text(resource, "tag", where), f"{where}.tag"),
        digest=f.digest(f.text(resource, "digest", where), f"{where}.digest"),
        event_id=event_id,
        payload_hosts=f.hosts(f.host_of_reference(f.text(resource, "resource_url", where))),
    )


def _event_data(data: dict[str, Any], event_id: str | None, where: str) -> ParsedNotification:
    about = f.as_object(data.get("repository"), f"{where}.repository")
    repository = f.repository(
        f.text(about, "repo_full_name", f"{where}.repository"), f"{where}.repository.repo_full_name"
    )
    resources = f.bounded_list(data, "resources", where)
    if not resources:
        return f.ignore("no-resources", repository)
    return f.collect(
        _resource(resource, repository, event_id, f"{where}.resources[{index}]")
        for index, resource in enumerate(resources)
    )


def _from_cloudevent(event: _cloudevents.CloudEvent) -> ParsedNotification:
    if event.type != PUSH_CLOUDEVENT_TYPE:
        return f.ignore(IGNORED_REASONS.get(event.type, "other-event"))
    return _event_data(_cloudevents.require_data(event), event.id, "data")


def parse(delivery: Delivery) -> ParsedNotification:
    if _cloudevents.is_binary(delivery):
        return _from_cloudevent(_cloudevents.read(delivery))
    body = decode_object(delivery.body)
    if "specversion" in body:
        return _from_cloudevent(_cloudevents.from_object(body))
    event_type = f.text(body, "type", "body")
    if event_type is None:
        raise MalformedPayload("body.type is missing")
    if event_type != PUSH_TYPE:
        return f.ignore(IGNORED_REASONS.get(event_type, "other-event"))
    # The Default format carries no event id; CloudEvents ids are stable across job retries.
    return _event_data(f.as_object(body.get("event_data"), "event_data"), None, "event_data")
