"""Harbor Default and CloudEvents payloads (registry-webhooks.md §2)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import harbor
from streamhook.ingress._errors import MalformedPayload
from tests.conftest import sample
from tests.unit._webhooks import (
    DIGEST_A,
    DIGEST_B,
    ignored_only,
    only,
    parse_json,
    property_tests,
    pushes,
    reasons,
)

SAMPLE = "harbor/push-artifact-default-untagged.kobold-testdata.json"
KEYS = (
    "type",
    "event_data",
    "resources",
    "repository",
    "repo_full_name",
    "digest",
    "tag",
    "resource_url",
    "specversion",
    "id",
    "source",
    "data",
)


def resource(tag: str, digest: str = DIGEST_A, host: str = "harbor.example.com") -> dict[str, Any]:
    ref = f"@{digest}" if tag.startswith("sha256:") else f":{tag}"
    return {"digest": digest, "tag": tag, "resource_url": f"{host}/library/app{ref}"}


def event_data(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resources": list(resources),
        "repository": {
            "date_created": 1764000000,
            "name": "app",
            "namespace": "library",
            "repo_full_name": "library/app",
            "repo_type": "private",
        },
    }


def default(event_type: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        "occur_at": 1764771200,
        "operator": "alice",
        "event_data": event_data(*resources),
    }


def cloudevent(event_type: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "4b2f89a6-548d-4c12-9993-a1f5790b97d2",
        "requestid": "2eedfab8",
        "source": "/projects/1/webhook/policies/3",
        "type": event_type,
        "datacontenttype": "application/json",
        "time": "2026-12-03T10:00:00Z",
        "operator": "alice",
        "data": event_data(*resources),
    }


CE = "application/cloudevents+json"


def test_default_push_by_tag() -> None:
    push = only(parse_json(harbor.parse, default("PUSH_ARTIFACT", resource("v1.2.3"))))
    assert (push.repository, push.tag, push.digest) == ("library/app", "v1.2.3", DIGEST_A)
    assert push.media_type is None  # Harbor sends none; resolved through the registry
    assert push.hosts == ("harbor.example.com",)
    assert push.event_id is None


def test_sample_push_by_digest_is_untagged() -> None:
    parsed = parse_json(harbor.parse, sample(SAMPLE))
    assert ignored_only(parsed).reason == "untagged"
    assert parsed.ignored[0].repository == "harbor/alpine"


def test_tag_starting_with_sha256_is_untagged_even_if_not_the_digest() -> None:
    parsed = parse_json(harbor.parse, default("PUSH_ARTIFACT", resource(DIGEST_B, DIGEST_A)))
    assert reasons(parsed) == ["untagged"]


def test_cloudevents_structured_push() -> None:
    parsed = parse_json(
        harbor.parse, cloudevent("harbor.artifact.pushed", resource("v1")), content_type=CE
    )
    push = only(parsed)
    assert (push.repository, push.tag, push.event_id) == (
        "library/app",
        "v1",
        "4b2f89a6-548d-4c12-9993-a1f5790b97d2",
    )


def test_cloudevent_recognised_by_body_when_a_proxy_rewrote_the_content_type() -> None:
    parsed = parse_json(harbor.parse, cloudevent("harbor.artifact.pushed", resource("v1")))
    assert only(parsed).tag == "v1"


def test_several_resources_are_each_considered() -> None:
    # A multi-arch burst folded into one event: two untagged children and the tagged index.
    body = default(
        "PUSH_ARTIFACT",
        resource(DIGEST_A, DIGEST_A),
        resource(DIGEST_B, DIGEST_B),
        resource("latest", "sha256:" + "c" * 64),
    )
    parsed = parse_json(harbor.parse, body)
    assert pushes(parsed) == [("library/app", "latest", "sha256:" + "c" * 64)]
    assert reasons(parsed) == ["untagged", "untagged"]


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("PULL_ARTIFACT", "pull"),
        ("DELETE_ARTIFACT", "delete"),
        ("SCANNING_COMPLETED", "other-event"),
        ("QUOTA_EXCEED", "other-event"),
        ("REPLICATION", "other-event"),
    ],
)
def test_other_default_events_are_ignored(event_type: str, reason: str) -> None:
    assert reasons(parse_json(harbor.parse, default(event_type, resource("v1")))) == [reason]


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("harbor.artifact.pulled", "pull"),
        ("harbor.artifact.deleted", "delete"),
        ("harbor.scan.completed", "other-event"),
    ],
)
def test_other_cloudevents_are_ignored(event_type: str, reason: str) -> None:
    parsed = parse_json(harbor.parse, cloudevent(event_type, resource("v1")), content_type=CE)
    assert reasons(parsed) == [reason]


def test_empty_resources_is_ignored() -> None:
    assert reasons(parse_json(harbor.parse, default("PUSH_ARTIFACT"))) == ["no-resources"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("type"), "body.type is missing"),
        (lambda b: b.update(event_data=[]), "event_data must be an object"),
        (
            lambda b: b["event_data"]["repository"].update(repo_full_name="Bad Name"),
            "repo_full_name is missing or not a repository name",
        ),
        (
            lambda b: b["event_data"]["resources"][0].update(digest="sha256:short"),
            "resources[0].digest is not a sha256 digest",
        ),
        (
            lambda b: b["event_data"]["resources"][0].update(tag="-bad"),
            "resources[0].tag is not a valid tag",
        ),
        (lambda b: b["event_data"].update(resources={"a": 1}), "resources must be a list"),
        (lambda b: b["event_data"].update(resources=[resource("v1")] * 1001), "too many entries"),
    ],
)
def test_malformed_default_payloads(change: Any, problem: str) -> None:
    body = default("PUSH_ARTIFACT", resource("v1"))
    change(body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(harbor.parse, body)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda e: e.update(specversion="0.3"), "specversion"),
        (lambda e: e.pop("id"), "missing: id"),
        (lambda e: e.pop("data"), "data is missing"),
    ],
)
def test_malformed_cloudevents(change: Any, problem: str) -> None:
    event = cloudevent("harbor.artifact.pushed", resource("v1"))
    change(event)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(harbor.parse, event, content_type=CE)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    harbor.parse,
    keys=KEYS,
    documents=[
        default("PUSH_ARTIFACT", resource("v1"), resource(DIGEST_B, DIGEST_B)),
        cloudevent("harbor.artifact.pushed", resource("v1")),
    ],
    content_types=["application/json", CE],
)
