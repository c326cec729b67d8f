"""Generic CloudEvents for custom senders, structured and binary (registry-webhooks.md §7.6)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from streamhook.ingress import cloudevents
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import (
    DIGEST_A,
    OCI_MANIFEST,
    delivery,
    ignored_only,
    only,
    parse_json,
    property_tests,
)

STRUCTURED = "application/cloudevents+json"
KEYS = (
    "specversion",
    "id",
    "source",
    "type",
    "data",
    "data_base64",
    "repository",
    "tag",
    "digest",
    "mediaType",
    "host",
)


def payload(**extra: Any) -> dict[str, Any]:
    return {
        "repository": "team/app",
        "tag": "v1",
        "digest": DIGEST_A,
        "mediaType": OCI_MANIFEST,
        "host": "Registry.Example.com",
        **extra,
    }


def structured(event_type: str = "com.example.image.pushed", **fields: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/ci/pipeline",
        "type": event_type,
        "datacontenttype": "application/json",
        "data": payload(),
        **fields,
    }


def binary_headers(event_type: str = "com.example.image.pushed") -> dict[str, str]:
    return {"ce-specversion": "1.0", "ce-id": "evt-2", "ce-source": "/ci", "ce-type": event_type}


def test_structured_event_is_a_push_with_a_lower_case_host() -> None:
    push = only(parse_json(cloudevents.parse, structured(), content_type=STRUCTURED))
    assert (push.repository, push.tag, push.digest, push.media_type) == (
        "team/app",
        "v1",
        DIGEST_A,
        OCI_MANIFEST,
    )
    assert push.hosts == ("registry.example.com",)
    assert push.event_id == "evt-1"


def test_binary_event_is_a_push() -> None:
    parsed = cloudevents.parse(delivery(payload(), "application/json", binary_headers()))
    assert only(parsed).event_id == "evt-2"


def test_data_base64_is_decoded() -> None:
    event = structured()
    event["data_base64"] = base64.b64encode(json.dumps(event.pop("data")).encode()).decode()
    assert only(parse_json(cloudevents.parse, event, content_type=STRUCTURED)).tag == "v1"


def test_only_repository_is_required() -> None:
    event = structured(data={"repository": "team/app", "tag": "v1"})
    push = only(parse_json(cloudevents.parse, event, content_type=STRUCTURED))
    assert (push.digest, push.media_type, push.hosts) == (None, None, ())


def test_updated_suffix_is_a_push_too() -> None:
    event = structured("com.example.image.updated")
    assert only(parse_json(cloudevents.parse, event, content_type=STRUCTURED)).tag == "v1"


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [("com.example.image.deleted", "delete"), ("com.example.scan.finished", "other-type")],
)
def test_other_types_are_ignored(event_type: str, reason: str) -> None:
    parsed = parse_json(cloudevents.parse, structured(event_type), content_type=STRUCTURED)
    assert ignored_only(parsed).reason == reason


def test_untagged_and_non_manifest_data_are_ignored() -> None:
    untagged = structured(data=payload(tag=None))
    chart = structured(data=payload(mediaType="application/vnd.cncf.helm.config.v1+json"))
    assert ignored_only(parse_json(cloudevents.parse, untagged)).reason == "untagged"
    assert ignored_only(parse_json(cloudevents.parse, chart)).reason == "not-a-manifest"


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        ([structured()], "application/cloudevents-batch+json", "batched CloudEvents"),
        (payload(), "application/json", "not a CloudEvent"),
        (structured(data="text"), STRUCTURED, "event.data must be an object"),
        (structured(data_base64="!!"), STRUCTURED, "both data and data_base64"),
        ({**structured(), "data": None, "data_base64": "!!"}, STRUCTURED, "both data and"),
        (
            {k: v for k, v in structured().items() if k != "data"} | {"data_base64": "!!"},
            STRUCTURED,
            "data_base64 is not base64",
        ),
        (structured(data={"tag": "v1"}), STRUCTURED, "data.repository is missing"),
        (structured(data=payload(host=5)), STRUCTURED, "data.host must be a string"),
        (structured(source=""), STRUCTURED, "missing: source"),
    ],
)
def test_malformed_events(body: Any, content_type: str, problem: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(cloudevents.parse, body, content_type=content_type)


# Structured mode (and bodies that are not CloudEvents at all).
test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    cloudevents.parse,
    keys=KEYS,
    documents=[structured()],
    content_types=[STRUCTURED, "application/json", "application/cloudevents-batch+json"],
)

(
    test_binary_arbitrary_bytes,
    test_binary_arbitrary_json,
    test_binary_near_valid_json,
) = property_tests(cloudevents.parse, keys=KEYS, documents=[payload()], headers=binary_headers())
