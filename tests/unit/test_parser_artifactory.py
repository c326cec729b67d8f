"""JFrog Artifactory docker ``pushed`` events (registry-webhooks.md §7.4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamhook.ingress import artifactory
from streamhook.ingress._errors import MalformedPayload
from tests.unit._webhooks import ignored_only, only, parse_json, property_tests

CHECKSUM = "35c4a2c1" + "0" * 56
KEYS = (
    "domain",
    "event_type",
    "data",
    "repo_key",
    "path",
    "name",
    "sha256",
    "image_name",
    "tag",
    "jpd_origin",
    "platforms",
)


def pushed(name: str = "manifest.json", **data: Any) -> dict[str, Any]:
    return {
        "domain": "docker",
        "event_type": "pushed",
        "subscription_key": "sub",
        "jpd_origin": "https://art.example.com",
        "source": "jfrt@01",
        "data": {
            "repo_key": "docker-local",
            "event_type": "pushed",
            "path": f"team/app/1.2.3/{name}",
            "name": name,
            "sha256": CHECKSUM,
            "size": 1206,
            "image_name": "team/app",
            "tag": "1.2.3",
            "image_type": "docker",
            "platforms": [{"architecture": "amd64", "os": "linux"}],
            **data,
        },
    }


@pytest.mark.parametrize("name", ["manifest.json", "list.manifest.json"])
def test_push_uses_the_repository_path_access_method(name: str) -> None:
    push = only(parse_json(artifactory.parse, pushed(name)))
    assert (push.repository, push.tag, push.digest) == (
        "docker-local/team/app",
        "1.2.3",
        f"sha256:{CHECKSUM}",
    )
    assert push.media_type is None  # the file name cannot tell Docker from OCI
    assert push.hosts == ("art.example.com",)


def test_upper_case_checksum_is_normalised() -> None:
    parsed = parse_json(artifactory.parse, pushed(sha256=CHECKSUM.upper()))
    assert only(parsed).digest == f"sha256:{CHECKSUM}"


def test_without_custom_base_url_there_is_no_host() -> None:
    body = pushed()
    body["jpd_origin"] = ""
    assert only(parse_json(artifactory.parse, body)).hosts == ()


def test_credentials_in_origin_are_not_part_of_the_host() -> None:
    body = pushed()
    body["jpd_origin"] = "https://user:pw@Art.Example.com:8443/artifactory"
    assert only(parse_json(artifactory.parse, body)).hosts == ("art.example.com:8443",)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_type": "deleted"}, "delete"),
        ({"event_type": "promoted"}, "other-event"),
        ({"domain": "artifact"}, "other-domain"),
    ],
)
def test_other_events_are_ignored(change: dict[str, str], reason: str) -> None:
    body = pushed()
    body.update(change)
    assert ignored_only(parse_json(artifactory.parse, body)).reason == reason


def test_non_manifest_files_and_untagged_pushes_are_ignored() -> None:
    assert ignored_only(parse_json(artifactory.parse, pushed("sha256__abc"))).reason == (
        "not-a-manifest"
    )
    assert ignored_only(parse_json(artifactory.parse, pushed(tag=""))).reason == "untagged"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("domain"), "body.domain and body.event_type are required"),
        (lambda b: b.update(data=None), "data must be an object"),
        (
            lambda b: b["data"].pop("repo_key"),
            "data.repo_key/image_name is missing or not a repository name",
        ),
        (lambda b: b["data"].update(image_name="Team/App"), "not a repository name"),
        (lambda b: b["data"].update(sha256="xyz"), "data.sha256 is not a sha256 digest"),
        (lambda b: b["data"].update(tag="1.2.3:x"), "data.tag is not a valid tag"),
        (lambda b: b.update(jpd_origin="http://[::1"), "jpd_origin is not a URL"),
    ],
)
def test_malformed_events(change: Any, problem: str) -> None:
    body = pushed()
    change(body)
    with pytest.raises(MalformedPayload, match=re.escape(problem)):
        parse_json(artifactory.parse, body)


test_arbitrary_bytes, test_arbitrary_json, test_near_valid_json = property_tests(
    artifactory.parse, keys=KEYS, documents=[pushed()]
)
