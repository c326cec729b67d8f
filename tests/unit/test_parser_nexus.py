"""Sonatype Nexus 3 repository component events for Docker (registry-webhooks.md §7.5)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import nexus
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import DIGEST_A, ignored_only, only, parse_json, property_tests

KEYS = (
    "timestamp",
    "nodeId",
    "initiator",
    "repositoryName",
    "action",
    "component",
    "format",
    "name",
    "version",
    "asset",
)
HEADERS = {
    "X-Nexus-Webhook-Id": "rm:repository:component",
    "X-Nexus-Webhook-Delivery": "7f4ae6b1-3a54-4d6c-9a3c-4e2b4c1a9d10",
}


def component_event(action: str = "CREATED", **component: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-12-03T10:00:00.000+0000",
        "nodeId": "52905B51",
        "initiator": "ci/10.0.0.1",
        "repositoryName": "docker-hosted",
        "action": action,
        "component": {
            "id": "08909bf0",
            "componentId": "ZG9ja2VyLWhvc3RlZA",
            "format": "docker",
            "name": "team/app",
            "group": None,
            "version": "1.2.3",
            **component,
        },
    }


@pytest.mark.parametrize("action", ["CREATED", "UPDATED"])
def test_created_or_updated_docker_component_is_a_push(action: str) -> None:
    push = only(parse_json(nexus.parse, component_event(action), headers=HEADERS))
    assert (push.repository, push.tag, push.digest, push.hosts) == ("team/app", "1.2.3", None, ())
    assert push.event_id == "7f4ae6b1-3a54-4d6c-9a3c-4e2b4c1a9d10"


def test_version_that_is_a_digest_is_untagged() -> None:
    parsed = parse_json(nexus.parse, component_event(version=DIGEST_A))
    assert ignored_only(parsed).reason == "untagged"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (component_event("DELETED"), "delete"),
        (component_event("PURGED"), "other-action"),
        (component_event(format="maven2", name="org.example:lib"), "not-docker"),
        (
            {
                "action": "CREATED",
                "asset": {"id": "a", "format": "docker", "name": "v2/team/app/manifests/1.2.3"},
            },
            "asset",
        ),
        ({"action": "UPDATED", "repositoryName": "docker-hosted"}, "other-event"),
    ],
)
def test_other_events_are_ignored(body: dict[str, Any], reason: str) -> None:
    assert ignored_only(parse_json(nexus.parse, body)).reason == reason


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.pop("name"), "component.name is missing or not a repository name"),
        (lambda c: c.update(version="a/b"), "component.version is not a valid tag"),
        (lambda c: c.update(format=1), "component.format must be a string"),
    ],
)
def test_malformed_events(change: Any, problem: str) -> None:
    body = component_event()
    change(body["component"])
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(nexus.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    nexus.parse, keys=KEYS, documents=[component_event()], headers=HEADERS
)
