"""Docker Hub push webhooks (registry-webhooks.md §4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import dockerhub
from streamhook.ingress._errors import MalformedPayload
from tests.conftest import sample
from tests.unit._webhooks import (
    DOCKER_MANIFEST,
    ignored_only,
    only,
    parse_json,
    property_tests,
)

SAMPLE = "dockerhub/push.kobold-testdata.json"
KEYS = ("push_data", "tag", "repository", "repo_name", "media_type", "callback_url")


def test_sample_push_names_repository_and_tag_but_no_digest_or_host() -> None:
    push = only(parse_json(dockerhub.parse, sample(SAMPLE)))
    assert (push.repository, push.tag, push.digest) == ("svendowideit/testhook", "stable", None)
    # callback_url / repo_url are web hosts, not the registry: nothing to cross-check.
    assert push.hosts == ()


def test_single_component_name_is_an_official_library_image() -> None:
    body = sample(SAMPLE)
    body["repository"]["repo_name"] = "nginx"
    assert only(parse_json(dockerhub.parse, body)).repository == "library/nginx"


def test_reported_media_type_is_kept_when_it_is_a_manifest_type() -> None:
    body = sample(SAMPLE)
    body["push_data"]["media_type"] = DOCKER_MANIFEST
    assert only(parse_json(dockerhub.parse, body)).media_type == DOCKER_MANIFEST


def test_floats_and_empty_images_list_are_tolerated() -> None:
    body = sample(SAMPLE)
    body["push_data"].update(pushed_at=1.417566161e09, images=[])
    assert only(parse_json(dockerhub.parse, body)).tag == "stable"


def test_push_without_a_tag_is_untagged() -> None:
    body = sample(SAMPLE)
    body["push_data"]["tag"] = ""
    assert ignored_only(parse_json(dockerhub.parse, body)).reason == "untagged"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("push_data"), "push_data must be an object"),
        (lambda b: b.update(repository="x/y"), "repository must be an object"),
        (lambda b: b["repository"].pop("repo_name"), "repository.repo_name is missing"),
        (lambda b: b["push_data"].update(tag=7), "push_data.tag must be a string"),
        (lambda b: b["push_data"].update(tag="a b"), "push_data.tag is not a valid tag"),
    ],
)
def test_malformed_payloads(change: Any, problem: str) -> None:
    body = sample(SAMPLE)
    change(body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(dockerhub.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    dockerhub.parse, keys=KEYS, documents=[sample(SAMPLE)]
)
