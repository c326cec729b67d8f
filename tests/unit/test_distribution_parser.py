from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamhook.events import Delivery, Push
from streamhook.ingress import distribution
from streamhook.ingress._errors import MalformedPayload
from tests.conftest import SAMPLES, sample

DIST = SAMPLES / "distribution"
OCI_DIGEST = "sha256:8c0cf0973b40e369dc94220fc53d51c833366a1f43cc9ee7e5b1ee03003eed6c"


def parse(body: bytes, content_type: str | None):  # type: ignore[no-untyped-def]
    return distribution.parse(Delivery(body, content_type))


def body_of(record: dict) -> bytes:
    return json.dumps(record["body"]).encode()


def test_tagged_oci_manifest_push_becomes_a_push() -> None:
    record = sample("distribution/v2.8.2-push-oci-manifest-tagged.json")
    parsed = parse(body_of(record), record["headers"]["Content-Type"])
    assert parsed.ignored == ()
    assert parsed.pushes == (
        Push(
            repository="demo/single",
            tag="v1",
            digest=OCI_DIGEST,
            media_type="application/vnd.oci.image.manifest.v1+json",
            event_id="b08497e8-77be-4fce-81c8-4ff2bf5a76fe",
            hosts=("127.0.0.1:5000",),
        ),
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("v2.8.2-push-blob-layer.json", "blob"),
        ("v2.8.2-push-blob-config.json", "blob"),
        ("v2.8.2-pull-blob-get.json", "pull"),
        ("v2.8.2-pull-manifest-head-by-tag.json", "pull"),
        ("v2.8.2-pull-manifest-get-by-tag.json", "pull"),
        ("v2.8.2-mount-blob-cross-repo.json", "mount"),
        ("v2.8.2-delete-manifest-by-digest.json", "delete"),
        ("v2.8.2-delete-tag-after-manifest-delete.json", "delete"),
        ("v2.8.2-push-oci-index-child-manifest-untagged.json", "untagged"),
        ("v2.8.2-push-docker-v2-child-manifest-untagged.json", "untagged"),
        ("v2.8.2-push-manifest-by-digest-untagged.json", "untagged"),
    ],
)
def test_non_work_events_are_ignored_with_a_reason(name: str, reason: str) -> None:
    record = sample(f"distribution/{name}")
    parsed = parse(body_of(record), None)
    assert parsed.pushes == ()
    assert [i.reason for i in parsed.ignored] == [reason]


@pytest.mark.parametrize(
    ("name", "media_type", "tag"),
    [
        ("v2.8.2-push-oci-index-tagged.json", "application/vnd.oci.image.index.v1+json", "latest"),
        (
            "v2.8.2-push-docker-manifest-list-tagged.json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "latest",
        ),
        (
            "v2.8.2-push-retag-existing-manifest.json",
            "application/vnd.oci.image.manifest.v1+json",
            "v2",
        ),
        (
            "v2.8.2-push-repush-identical-tagged.json",
            "application/vnd.oci.image.manifest.v1+json",
            "v1",
        ),
    ],
)
def test_tagged_manifest_pushes(name: str, media_type: str, tag: str) -> None:
    parsed = parse(body_of(sample(f"distribution/{name}")), None)
    assert [(p.media_type, p.tag) for p in parsed.pushes] == [(media_type, tag)]


def test_multiarch_sequence_yields_exactly_one_push_for_the_tagged_index() -> None:
    records = sample("distribution/v2.8.2-sequence-push-multiarch-oci-index.json")
    pushes = [p for r in records for p in parse(body_of(r), None).pushes]
    assert [(p.repository, p.tag) for p in pushes] == [("demo/multi", "latest")]


def test_envelope_with_several_events_is_looped() -> None:
    events = [
        sample("distribution/v2.8.2-push-blob-layer.json")["body"]["events"][0],
        sample("distribution/v2.8.2-push-oci-manifest-tagged.json")["body"]["events"][0],
        sample("distribution/v2.8.2-push-retag-existing-manifest.json")["body"]["events"][0],
    ]
    parsed = parse(json.dumps({"events": events}).encode(), "application/json")
    assert [p.tag for p in parsed.pushes] == ["v1", "v2"]
    assert [i.reason for i in parsed.ignored] == ["blob"]


def test_entries_that_are_not_events_are_skipped() -> None:
    parsed = parse(b'{"events": [1, "x", null]}', None)
    assert parsed.pushes == ()
    assert [i.reason for i in parsed.ignored] == ["malformed"] * 3


def test_empty_or_missing_events_list_is_fine() -> None:
    assert parse(b'{"events": []}', None).pushes == ()
    assert parse(b"{}", None).pushes == ()


def test_relative_target_url_contributes_no_host() -> None:
    event = sample("distribution/v2.8.2-push-oci-manifest-tagged.json")["body"]["events"][0]
    event["target"]["url"] = "/v2/demo/single/manifests/" + OCI_DIGEST
    event["request"]["host"] = "Registry.Example:5000"
    (push,) = parse(json.dumps({"events": [event]}).encode(), None).pushes
    assert push.hosts == ("registry.example:5000",)


def _tagged_event() -> dict:
    return sample("distribution/v2.8.2-push-oci-manifest-tagged.json")["body"]["events"][0]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e["target"].update(repository="Upper/Case"), "repository"),
        (lambda e: e["target"].update(repository="../etc"), "repository"),
        (lambda e: e["target"].pop("repository"), "repository"),
        (lambda e: e["target"].update(digest="md5:abc"), "digest"),
        (lambda e: e["target"].update(tag="bad tag!"), "tag"),
        (lambda e: e["target"].update(tag=7), "tag"),
        (lambda e: e.update(action=["push"]), "action"),
        (lambda e: e.update(target="nope"), "target"),
        (lambda e: e.update(request=[]), "request"),
    ],
)
def test_malformed_event_is_skipped_naming_the_field(mutate, problem: str) -> None:  # type: ignore[no-untyped-def]
    event = _tagged_event()
    mutate(event)
    with pytest.raises(MalformedPayload, match=problem):
        distribution.parse_event(event, "events[1]")  # ACR's bare event: a 400
    good = _tagged_event()
    parsed = parse(json.dumps({"events": [good, event]}).encode(), None)
    # In an envelope the good event still counts and the bad one is skipped, named.
    assert [p.tag for p in parsed.pushes] == ["v1"]
    (skipped,) = parsed.ignored
    assert skipped.reason == "malformed"
    assert problem in skipped.detail and "events[1]" in skipped.detail


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"events"',
        b'{"events": {}}',
        b'{"events": [NaN]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        json.dumps({"events": [{"action": "pull", "target": {}}] * 1001}).encode(),
    ],
)
def test_garbage_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse(body, None)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_anything_but_malformed(body: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        parse(body, None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "events",
                    "action",
                    "target",
                    "tag",
                    "repository",
                    "mediaType",
                    "digest",
                    "request",
                    "host",
                    "url",
                    "id",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(json_values)
def test_arbitrary_json_never_raises_anything_but_malformed(value: object) -> None:
    try:
        parsed = parse(json.dumps(value).encode(), None)
    except MalformedPayload:
        return
    for push in parsed.pushes:
        assert push.tag and push.repository


def test_samples_folder_is_present() -> None:
    assert Path(DIST).is_dir() and len(list(DIST.glob("*.json"))) >= 20
