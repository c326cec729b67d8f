"""Azure Container Registry webhook bodies (registry-webhooks.md §5)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import acr
from streamhook.ingress._errors import MalformedPayload
from tests.conftest import sample
from tests.unit._webhooks import (
    DIGEST_A,
    DOCKER_MANIFEST,
    ignored_only,
    only,
    parse_json,
    property_tests,
)

SAMPLE = "acr/push-event.kobold-testdata.json"
KEYS = (
    "id",
    "timestamp",
    "action",
    "target",
    "mediaType",
    "digest",
    "repository",
    "tag",
    "request",
    "host",
)


def event(**target: Any) -> dict[str, Any]:
    body = sample(SAMPLE)
    body["target"]["digest"] = DIGEST_A  # the sample's digest is masked with x characters
    body["target"].update(target)
    return body


def test_push_by_tag_carries_digest_media_type_and_request_host() -> None:
    push = only(parse_json(acr.parse, event()))
    assert (push.repository, push.tag, push.digest) == ("busybox", "v1", DIGEST_A)
    assert push.media_type == DOCKER_MANIFEST
    assert push.hosts == ("test.azurecr.io",)
    assert push.event_id == "9a5f8995-dbab-4c2b-b06c-0c29c23e759e"


def test_masked_sample_digest_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="not a sha256 digest"):
        parse_json(acr.parse, sample(SAMPLE))


def test_push_by_digest_is_untagged() -> None:
    body = event()
    del body["target"]["tag"]
    assert ignored_only(parse_json(acr.parse, body)).reason == "untagged"


def test_ping_is_ignored_whatever_else_it_carries() -> None:
    ping = {"id": "b0a8b5d0", "timestamp": "2026-12-03T10:00:00Z", "action": "ping"}
    assert ignored_only(parse_json(acr.parse, ping)).reason == "ping"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"action": "delete"}, "delete"),
        ({"action": "chart_push"}, "other-action"),
        ({"action": "quarantine"}, "other-action"),
    ],
)
def test_other_actions_are_ignored(change: dict[str, str], reason: str) -> None:
    body = event()
    body.update(change)
    assert ignored_only(parse_json(acr.parse, body)).reason == reason


def test_helm_chart_media_type_is_not_an_image() -> None:
    body = event(mediaType="application/vnd.acr.helm.chart")
    assert ignored_only(parse_json(acr.parse, body)).reason == "not-a-manifest"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[]", "body must be a JSON object"),
        (b'{"events": []}', "body.action must be a string"),
        (b'{"action": "push", "target": 1}', "body.target must be an object"),
    ],
)
def test_malformed_bodies(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(acr.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    acr.parse, keys=KEYS, documents=[event()]
)
