"""Zot events extension: CloudEvents in binary mode (registry-webhooks.md §7.1)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from streamhook.ingress import zot
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import (
    DIGEST_A,
    OCI_INDEX,
    OCI_MANIFEST,
    delivery,
    ignored_only,
    only,
    property_tests,
)

KEYS = ("name", "reference", "digest", "mediaType", "manifest", "actor", "request")


def headers(event_type: str = "zotregistry.image.updated") -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": "5d0e6f1c-0000-4000-8000-000000000001",
        "ce-source": "zotregistry.dev",
        "ce-type": event_type,
        "ce-time": "2026-12-03T10:00:00.123Z",
    }


def data(reference: str = "v1", media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    return {
        "name": "team/app",
        "reference": reference,
        "digest": DIGEST_A,
        "mediaType": media_type,
        "manifest": json.dumps({"schemaVersion": 2, "mediaType": media_type}),
        "actor": {"name": "alice"},
        "request": {"addr": "10.0.0.5:51234", "method": "PUT", "useragent": "skopeo/1.14"},
    }


def parse(body: Any, event_headers: dict[str, str] | None = None) -> Any:
    return zot.parse(delivery(body, "application/json", event_headers or headers()))


def test_image_updated_by_tag_is_a_push_without_host() -> None:
    push = only(parse(data()))
    assert (push.repository, push.tag, push.digest) == ("team/app", "v1", DIGEST_A)
    assert push.media_type == OCI_MANIFEST
    assert push.event_id == "5d0e6f1c-0000-4000-8000-000000000001"
    assert push.hosts == ()


def test_reference_that_is_a_digest_is_untagged() -> None:
    assert ignored_only(parse(data(reference=DIGEST_A))).reason == "untagged"


def test_index_push_keeps_its_media_type() -> None:
    assert only(parse(data(media_type=OCI_INDEX))).media_type == OCI_INDEX


def test_custom_type_prefix_is_matched_by_suffix() -> None:
    assert only(parse(data(), headers("example.registry.image.updated"))).tag == "v1"


def test_header_names_are_case_insensitive_and_values_percent_decoded() -> None:
    event_headers = {k.upper(): v for k, v in headers().items()}
    event_headers["CE-ID"] = "id%20with%20space"
    assert only(parse(data(), event_headers)).event_id == "id with space"


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("zotregistry.image.deleted", "delete"),
        ("zotregistry.image.lint_failed", "other-type"),
        ("zotregistry.image.scanned", "other-type"),
        ("zotregistry.repository.created", "other-type"),
    ],
)
def test_other_types_are_ignored(event_type: str, reason: str) -> None:
    assert ignored_only(parse(data(), headers(event_type))).reason == reason


def test_structured_mode_is_accepted_too() -> None:
    event = {
        "specversion": "1.0",
        "id": "x1",
        "source": "zotregistry.dev",
        "type": "zotregistry.image.updated",
        "data": data(),
    }
    parsed = zot.parse(delivery(event, "application/cloudevents+json; charset=utf-8"))
    assert only(parsed).event_id == "x1"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h, d: h.pop("ce-specversion"), "not a CloudEvent"),
        (lambda h, d: h.update({"ce-specversion": "0.3"}), "specversion must be '1.0'"),
        (lambda h, d: h.pop("ce-type"), "attribute(s) missing: type"),
        (lambda h, d: h.pop("ce-id"), "attribute(s) missing: id"),
        (lambda h, d: d.pop("name"), "data.name is missing or not a repository name"),
        (lambda h, d: d.update(reference="v 1"), "data.reference is not a valid tag"),
        (lambda h, d: d.update(digest="md5:abc"), "data.digest is not a sha256 digest"),
    ],
)
def test_malformed_events(change: Any, problem: str) -> None:
    event_headers, body = headers(), data()
    change(event_headers, body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse(body, event_headers)


def test_empty_body_is_missing_data() -> None:
    with pytest.raises(MalformedPayload, match="CloudEvent data is missing"):
        parse(b"")


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    zot.parse, keys=KEYS, documents=[data()], headers=headers()
)
