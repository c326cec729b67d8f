"""GitHub Packages (GHCR) package and registry_package webhooks (registry-webhooks.md §6.2)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from streamhook.ingress import github
from streamhook.ingress._errors import MalformedPayload
from tests.conftest import sample
from tests.unit._webhooks import (
    DIGEST_A,
    OCI_MANIFEST,
    delivery,
    ignored_only,
    only,
    property_tests,
)

PACKAGE = "github/package-published-docker.octokit-example.json"
REGISTRY_PACKAGE = "github/registry_package-published-docker.octokit-example.json"
VERSION_DIGEST = "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498"
FORM = "application/x-www-form-urlencoded"
KEYS = (
    "action",
    "package",
    "registry_package",
    "package_type",
    "ecosystem",
    "package_version",
    "name",
    "package_url",
    "container_metadata",
    "tag",
    "manifest",
    "digest",
    "media_type",
)


def parse(body: Any, event: str = "package", content_type: str = "application/json") -> Any:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab"}
    return github.parse(delivery(body, content_type, headers))


def tagged(name: str = PACKAGE, tag: str = "v1.2.3") -> dict[str, Any]:
    body = sample(name)
    key = "package" if "package" in body else "registry_package"
    version = body[key]["package_version"]
    version["container_metadata"]["tag"] = {"name": tag, "digest": DIGEST_A}
    version["container_metadata"]["manifest"].update(digest=DIGEST_A, media_type=OCI_MANIFEST)
    version["package_url"] = f"ghcr.io/Codertocat/hello-world:{tag}"
    return body


@pytest.mark.parametrize(
    ("name", "event"), [(PACKAGE, "package"), (REGISTRY_PACKAGE, "registry_package")]
)
def test_published_samples_are_untagged_versions(name: str, event: str) -> None:
    ignored = ignored_only(parse(sample(name), event))
    assert (ignored.reason, ignored.repository) == ("untagged", "codertocat/hello-world")


@pytest.mark.parametrize(
    ("name", "event"), [(PACKAGE, "package"), (REGISTRY_PACKAGE, "registry_package")]
)
def test_tagged_version_is_a_push_with_lower_case_repository(name: str, event: str) -> None:
    push = only(parse(tagged(name), event))
    assert (push.repository, push.tag, push.digest) == (
        "codertocat/hello-world",
        "v1.2.3",
        DIGEST_A,
    )
    assert push.media_type == OCI_MANIFEST
    assert push.hosts == ("ghcr.io",)
    assert push.event_id == "72d3162e-cc78-11e3-81ab"


def test_truncated_manifest_digest_falls_back_to_the_version_name() -> None:
    body = tagged()
    body["package"]["package_version"]["container_metadata"]["manifest"]["digest"] = "sha256:6c62"
    assert only(parse(body)).digest == VERSION_DIGEST


def test_tag_from_package_url_when_container_metadata_is_missing() -> None:
    body = tagged(tag="edge")
    del body["package"]["package_version"]["container_metadata"]
    push = only(parse(body))
    assert (push.tag, push.digest, push.media_type) == ("edge", VERSION_DIGEST, None)


def test_form_encoded_body_carries_the_json_in_payload() -> None:
    form = urlencode({"payload": json.dumps(tagged())}).encode()
    assert only(parse(form, content_type=FORM)).tag == "v1.2.3"


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (b"", "exactly one 'payload' field"),
        (b"other=1", "exactly one 'payload' field"),
        (b"payload=%7B%7D&payload=%7B%7D", "exactly one 'payload' field"),
        (b"payload", "not valid x-www-form-urlencoded"),
        ("payload=\u00e9".encode(), "not valid x-www-form-urlencoded"),
        (b"&".join(b"f%d=1" % i for i in range(50)), "not valid x-www-form-urlencoded"),
        (b"payload=%5B%5D", "body must be a JSON object"),
    ],
)
def test_malformed_form_bodies(form: bytes, problem: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse(form, content_type=FORM)


@pytest.mark.parametrize(
    ("event", "reason"), [("ping", "ping"), ("push", "other-event"), ("package_v2", "other-event")]
)
def test_other_events_are_ignored_without_reading_the_body(event: str, reason: str) -> None:
    assert ignored_only(parse(b"not json at all", event)).reason == reason


def test_missing_event_header_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="X-GitHub-Event header is missing"):
        github.parse(delivery(tagged()))


@pytest.mark.parametrize("action", ["deleted", "created", None])
def test_actions_other_than_published_or_updated_are_ignored(action: str | None) -> None:
    body = tagged()
    body["action"] = action
    assert ignored_only(parse(body)).reason == "other-action"


def test_updated_action_is_a_push() -> None:
    body = tagged()
    body["action"] = "updated"
    assert only(parse(body)).tag == "v1.2.3"


def test_non_container_packages_are_ignored() -> None:
    body = tagged()
    body["package"].update(package_type="npm", ecosystem="npm")
    body["package"]["registry"]["type"] = "npm"
    assert ignored_only(parse(body)).reason == "not-a-container"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda v: v.pop("package_url"), "package_url must be host/owner/image[:tag]"),
        (lambda v: v.update(package_url="hello-world:v1"), "must be host/owner/image[:tag]"),
        (lambda v: v.update(package_url="ghcr.io/Bad Name:v1"), "not a repository name"),
        (lambda v: v.update(package_url="ghcr.io/o/i:-x"), "package_url tag is not a valid tag"),
        (lambda v: v["container_metadata"].update(tag="v1"), "container_metadata.tag must be an"),
        (lambda v: v["container_metadata"]["tag"].update(name="a b"), "is not a valid tag"),
    ],
)
def test_malformed_package_versions(change: Any, problem: str) -> None:
    body = tagged()
    change(body["package"]["package_version"])
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse(body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    github.parse,
    keys=KEYS,
    documents=[tagged()],
    content_types=["application/json", FORM],
    headers={"X-GitHub-Event": "package"},
)
