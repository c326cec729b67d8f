"""Amazon ECR image actions through EventBridge (registry-webhooks.md §7.3)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import ecr
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import (
    DIGEST_A,
    OCI_MANIFEST,
    ignored_only,
    only,
    parse_json,
    property_tests,
)

KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "region",
    "detail",
    "result",
    "repository-name",
    "image-digest",
    "action-type",
    "image-tag",
    "manifest-media-type",
)


def image_action(**detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "13cde686-328b-6117-af20-0e5566167482",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": "123456789012",
        "time": "2019-11-16T01:54:34Z",
        "region": "us-west-2",
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": "team/app",
            "image-digest": DIGEST_A,
            "action-type": "PUSH",
            "image-tag": "latest",
            "manifest-media-type": OCI_MANIFEST,
            "artifact-media-type": "application/vnd.oci.image.config.v1+json",
            **detail,
        },
    }


def test_successful_push_derives_the_registry_host() -> None:
    push = only(parse_json(ecr.parse, image_action()))
    assert (push.repository, push.tag, push.digest, push.media_type) == (
        "team/app",
        "latest",
        DIGEST_A,
        OCI_MANIFEST,
    )
    assert push.hosts == ("123456789012.dkr.ecr.us-west-2.amazonaws.com",)
    assert push.event_id == "13cde686-328b-6117-af20-0e5566167482"


def test_china_regions_use_their_own_domain() -> None:
    body = image_action()
    body["region"] = "cn-north-1"
    assert only(parse_json(ecr.parse, body)).hosts == (
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    )


def test_without_account_and_region_there_is_nothing_to_cross_check() -> None:
    body = image_action()
    del body["account"], body["region"]
    assert only(parse_json(ecr.parse, body)).hosts == ()


def test_push_without_a_tag_is_untagged() -> None:
    body = image_action()
    del body["detail"]["image-tag"]
    assert ignored_only(parse_json(ecr.parse, body)).reason == "untagged"


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"action-type": "DELETE"}, "delete"),
        ({"result": "FAILURE"}, "failed"),
        ({"action-type": "REPLICATE"}, "other-action"),
    ],
)
def test_deletes_and_failures_are_ignored(detail: dict[str, str], reason: str) -> None:
    assert ignored_only(parse_json(ecr.parse, image_action(**detail))).reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"detail-type": "ECR Image Scan"}, "other-event"),
        ({"detail-type": "ECR Replication Action"}, "other-event"),
        ({"source": "custom.app"}, "other-event"),
    ],
)
def test_other_detail_types_are_ignored(change: dict[str, str], reason: str) -> None:
    body = image_action()
    body.update(change)
    assert ignored_only(parse_json(ecr.parse, body)).reason == reason


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("detail-type"), "body.detail-type is missing"),
        (lambda b: b.update(detail=[]), "detail must be an object"),
        (lambda b: b["detail"].pop("repository-name"), "detail.repository-name is missing"),
        (lambda b: b["detail"].update({"image-digest": "sha256:AB"}), "not a sha256 digest"),
        (lambda b: b["detail"].update({"image-tag": ".hidden"}), "image-tag is not a valid tag"),
        (lambda b: b.update(account="evil.example/x"), "not an AWS account/region"),
        (lambda b: b.update(region="us-west-2.evil.example"), "not an AWS account/region"),
    ],
)
def test_malformed_events(change: Any, problem: str) -> None:
    body = image_action()
    change(body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(ecr.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    ecr.parse, keys=KEYS, documents=[image_action()]
)
