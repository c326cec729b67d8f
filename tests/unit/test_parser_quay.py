"""Quay ``repo_push`` payloads (registry-webhooks.md §3)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import quay
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import ignored_only, parse_json, property_tests, pushes, reasons

KEYS = ("repository", "namespace", "name", "docker_url", "homepage", "updated_tags")


def repo_push(*tags: str) -> dict[str, Any]:
    return {
        "repository": "mynamespace/repository",
        "namespace": "mynamespace",
        "name": "repository",
        "docker_url": "quay.io/mynamespace/repository",
        "homepage": "https://quay.io/repository/mynamespace/repository",
        "updated_tags": list(tags),
    }


def test_push_of_one_tag_has_no_digest_and_the_docker_url_host() -> None:
    parsed = parse_json(quay.parse, repo_push("latest"))
    assert pushes(parsed) == [("mynamespace/repository", "latest", None)]
    assert parsed.pushes[0].hosts == ("quay.io",)
    assert parsed.pushes[0].media_type is None


def test_several_tags_become_several_pushes_without_duplicates() -> None:
    parsed = parse_json(quay.parse, repo_push("v1", "latest", "v1"))
    assert [p.tag for p in parsed.pushes] == ["v1", "latest"]


def test_legacy_object_form_of_updated_tags() -> None:
    body = repo_push()
    body["updated_tags"] = {"latest": "e8d0f8a6", "v2": "e8d0f8a6"}
    body["pushed_image_count"] = 1
    assert [p.tag for p in parse_json(quay.parse, body).pushes] == ["latest", "v2"]


def test_docker_url_without_a_path_gives_no_host() -> None:
    body = repo_push("v1")
    body["docker_url"] = "quay.io"
    assert parse_json(quay.parse, body).pushes[0].hosts == ()


@pytest.mark.parametrize(
    "body",
    [
        # build_success and friends: repository fields, but no updated_tags
        {
            "repository": "ns/repo",
            "docker_url": "quay.io/ns/repo",
            "build_id": "1",
            "docker_tags": ["latest"],
        },
        {"notification_type": "namespace", "namespace": "ns"},
    ],
)
def test_non_push_notifications_are_ignored(body: dict[str, Any]) -> None:
    assert ignored_only(parse_json(quay.parse, body)).reason == "not-a-push"


def test_push_without_tags_is_ignored() -> None:
    assert reasons(parse_json(quay.parse, repo_push())) == ["no-tags"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("repository"), "body.repository is missing or not a repository name"),
        (lambda b: b.update(repository="Upper/Case"), "not a repository name"),
        (lambda b: b.update(updated_tags="latest"), "body.updated_tags must be a list"),
        (lambda b: b.update(updated_tags=["ok", 5]), "body.updated_tags[1] is not a valid tag"),
        (lambda b: b.update(updated_tags=["bad:tag"]), "body.updated_tags[0] is not a valid tag"),
        (lambda b: b.update(updated_tags=[f"t{i}" for i in range(1001)]), "too many entries"),
        (lambda b: b.update(docker_url=["quay.io"]), "body.docker_url must be a string"),
    ],
)
def test_malformed_payloads(change: Any, problem: str) -> None:
    body = repo_push("v1")
    change(body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(quay.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    quay.parse, keys=KEYS, documents=[repo_push("v1", "latest")]
)
