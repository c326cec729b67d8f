"""Google Artifact Registry notifications through Pub/Sub push (registry-webhooks.md §7.2)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from streamhook.ingress import gar
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import DIGEST_A, delivery, ignored_only, only, parse_json, property_tests

HOST = "us-west1-docker.pkg.dev"
IMAGE = f"{HOST}/my-project/my-repo/team/app"
KEYS = (
    "message",
    "data",
    "messageId",
    "message_id",
    "attributes",
    "subscription",
    "action",
    "digest",
    "tag",
)


def wrapped(data: dict[str, Any] | bytes, message_id: str = "2070443601311540") -> dict[str, Any]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-12-03T10:00:00.000Z",
            "attributes": {},
        },
        "subscription": "projects/my-project/subscriptions/streamhook",
    }


def insert(tag: str | None = "1.1") -> dict[str, Any]:
    data = {"action": "INSERT", "digest": f"{IMAGE}@{DIGEST_A}"}
    if tag is not None:
        data["tag"] = f"{IMAGE}:{tag}"
    return data


def test_tagged_insert_strips_the_host_and_keeps_it_for_the_cross_check() -> None:
    push = only(parse_json(gar.parse, wrapped(insert())))
    assert (push.repository, push.tag, push.digest) == (
        "my-project/my-repo/team/app",
        "1.1",
        DIGEST_A,
    )
    assert push.hosts == (HOST,)
    assert push.event_id == "2070443601311540"
    assert push.media_type is None


def test_untagged_insert_is_untagged() -> None:
    assert ignored_only(parse_json(gar.parse, wrapped(insert(tag=None)))).reason == "untagged"


def test_tag_only_insert_has_no_digest() -> None:
    data = {"action": "INSERT", "tag": f"{IMAGE}:latest"}
    assert only(parse_json(gar.parse, wrapped(data))).digest is None


def test_snake_case_message_id_alone_is_used() -> None:
    body = wrapped(insert())
    del body["message"]["messageId"]
    body["message"]["message_id"] = "77"
    assert only(parse_json(gar.parse, body)).event_id == "77"


def test_unwrapped_payload_takes_the_id_from_the_header() -> None:
    given = delivery(insert(), headers={"X-Goog-Pubsub-Message-Id": "991"})
    assert only(gar.parse(given)).event_id == "991"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"action": "DELETE", "tag": f"{IMAGE}:1.1"}, "delete"),
        ({"action": "DELETE", "digest": f"{IMAGE}@{DIGEST_A}"}, "delete"),
        ({"action": "UPDATE", "tag": f"{IMAGE}:1.1"}, "other-action"),
        ({"tag": f"{IMAGE}:1.1"}, "other-action"),
    ],
)
def test_other_actions_are_ignored(data: dict[str, Any], reason: str) -> None:
    assert ignored_only(parse_json(gar.parse, wrapped(data))).reason == reason


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"message": {"messageId": "1"}}, "message.data is missing"),
        ({"message": {"data": "%%%"}}, "message.data is not base64"),
        ({"message": "x"}, "body.message must be an object"),
        (wrapped(b"\xff\xfe"), "body is not UTF-8"),
        (wrapped(b"[1]"), "body must be a JSON object"),
        (wrapped({"action": "INSERT"}), "data needs a digest or a tag reference"),
        (
            wrapped({"action": "INSERT", "digest": f"my-repo/app@{DIGEST_A}"}),
            "data.digest is not a full image reference",
        ),
        (wrapped({"action": "INSERT", "digest": f"{IMAGE}:1.1"}), "data.digest does not name a"),
        (wrapped({"action": "INSERT", "tag": f"{IMAGE}@{DIGEST_A}"}), "data.tag does not name a"),
        (
            wrapped(
                {
                    "action": "INSERT",
                    "digest": f"{IMAGE}@{DIGEST_A}",
                    "tag": f"{HOST}/other/repo/app:1",
                }
            ),
            "name different images",
        ),
        (
            wrapped(
                {
                    "action": "INSERT",
                    "digest": f"{IMAGE}@{DIGEST_A}",
                    "tag": "evil.example/my-project/my-repo/team/app:1",
                }
            ),
            "name different images",
        ),
    ],
)
def test_malformed_notifications(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(gar.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    gar.parse, keys=KEYS, documents=[wrapped(insert()), insert()]
)
