"""The OpenShift API fake itself: its answers must be the server's (docs §2, §3)."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.fakes.openshift_api import (
    AMD64_DIGEST,
    ARM64_DIGEST,
    LIST_DIGEST,
    MAX_BODY_BYTES,
    FakeOpenShiftAPI,
    add_tag_event,
    example_child_image_arm64,
    example_image_amd64,
    example_list_image,
    example_mapping,
    example_server_computes_image,
    example_server_computes_list_image,
    parse_reference,
)

ISM = "/apis/image.openshift.io/v1/namespaces/team-a/imagestreammappings"
IMAGES = "/apis/image.openshift.io/v1/images"
STREAMS = "/apis/image.openshift.io/v1/namespaces/team-a/imagestreams"
FIXED_NOW = datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
HEX = "0123456789abcdef" * 4


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Http:
    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        self.session = session
        self.token = token

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        headers = {"Content-Type": content_type}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        data = None if payload is None else io.BytesIO(payload)  # big bodies: no loop blocking
        async with self.session.request(method, path, data=data, headers=headers) as response:
            text = await response.text()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return Answer(response.status, parsed, dict(response.headers))

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.send("POST", path, body, **kwargs)

    async def get(self, path: str) -> Answer:
        return await self.send("GET", path)


@pytest.fixture
async def api() -> AsyncIterator[FakeOpenShiftAPI]:
    async with FakeOpenShiftAPI(namespaces=["team-a"], now=lambda: FIXED_NOW) as fake:
        yield fake


@pytest.fixture
async def http(api: FakeOpenShiftAPI) -> AsyncIterator[Http]:
    context = ssl.create_default_context(cafile=api.ca_path)
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(base_url=api.url, connector=connector) as session:
        yield Http(session, api.token)


def _mapping(image: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return example_mapping(image or example_image_amd64(), **kwargs)


def _tagged(ref: str, image: str) -> dict[str, Any]:
    body = _mapping()
    body["image"]["metadata"]["name"] = image
    body["image"]["dockerImageReference"] = ref
    return body


# ------------------------------------------------------------------ transport, auth, limits


async def test_requests_need_the_bearer_token(api: FakeOpenShiftAPI, http: Http) -> None:
    for token in ("", "wrong-token"):
        answer = await http.post(ISM, _mapping(), token=token)
        assert answer.status == 401
        assert answer.body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
    assert [(r.status, r.body) for r in api.requests] == [(401, None), (401, None)]


async def test_the_certificate_only_verifies_with_the_fake_ca(api: FakeOpenShiftAPI) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{api.url}/apis")


async def test_mapping_answer_is_a_201_success_status(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    answer = await http.post(ISM, _mapping())
    assert answer.status == 201
    assert answer.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }


async def test_body_limit_is_three_mebibytes(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    body = _mapping()
    body["image"]["dockerImageConfig"] = ""
    padding = MAX_BODY_BYTES - len(json.dumps(body).encode())
    body["image"]["dockerImageConfig"] = "x" * padding
    exact = json.dumps(body).encode()
    assert len(exact) == MAX_BODY_BYTES

    assert (await http.post(ISM, raw=exact)).status == 201
    too_big = await http.post(ISM, raw=exact + b" ")
    assert too_big.status == 413
    assert too_big.body["reason"] == "RequestEntityTooLarge"


async def test_unsupported_content_type(http: Http) -> None:
    answer = await http.post(ISM, raw=b"tag: x", content_type="application/yaml")
    assert answer.status == 415


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b"null", b'"tag"', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "array", "null", "string", "not-utf8", "deeply-nested"],
)
async def test_malformed_json_is_a_bad_request(
    api: FakeOpenShiftAPI, http: Http, raw: bytes
) -> None:
    api.add_stream("team-a", "app")
    answer = await http.post(ISM, raw=raw)
    assert answer.status == 400
    assert answer.body["reason"] == "BadRequest"
    assert (await http.post(ISM, _mapping())).status == 201  # still serving


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda b: b.update(tag=5), "ImageStreamMapping.tag"),
        (lambda b: b.update(metadata=[]), "ImageStreamMapping.metadata"),
        (lambda b: b["image"]["dockerImageLayers"][0].update(size="12"), "size"),
        (lambda b: b["image"]["dockerImageLayers"][0].update(size=1.5), "size"),
        (lambda b: b["image"].update(dockerImageSignatures=["not base64!"]), "base64"),
        (lambda b: b["image"]["dockerImageMetadata"].update(Size="big"), "dockerImageMetadata"),
        (lambda b: b["image"]["dockerImageMetadata"].update(Created="yesterday"), "Created"),
    ],
)
async def test_wrong_json_types_are_a_bad_request(
    api: FakeOpenShiftAPI, http: Http, mutate: Any, where: str
) -> None:
    api.add_stream("team-a", "app")
    body = _mapping()
    mutate(body)
    answer = await http.post(ISM, body)
    assert answer.status == 400
    assert where in answer.body["message"]
    assert api.images == {}


async def test_kind_and_namespace_must_match_the_endpoint(http: Http) -> None:
    wrong_kind = _mapping()
    wrong_kind["kind"] = "Image"
    assert (await http.post(ISM, wrong_kind)).status == 400
    other_namespace = _mapping(namespace="elsewhere")
    answer = await http.post(ISM, other_namespace)
    assert answer.status == 400
    assert "does not match the namespace sent on the request" in answer.body["message"]


async def test_unknown_paths_and_methods(http: Http) -> None:
    assert (await http.get(ISM)).status == 405  # create-only resource
    answer = await http.get("/apis/example.com/v1/widgets")
    assert answer.status == 404
    assert answer.body["kind"] == "Status"


# ------------------------------------------------------------------ ISM: 404s and validation


async def test_missing_stream_is_a_404_naming_imagestreammappings(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    answer = await http.post(ISM, _mapping())
    assert answer.status == 404
    assert answer.body["details"] == {
        "name": "app",
        "group": "image.openshift.io",
        "kind": "imagestreammappings",
    }
    assert answer.body["message"] == 'imagestreammappings.image.openshift.io "app" not found'
    assert api.images == {}  # the Image is not created when the stream is missing


async def test_missing_namespace_is_a_404_naming_namespaces(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    answer = await http.post(ISM.replace("team-a", "ghost"), _mapping(namespace="ghost"))
    assert answer.status == 404
    assert answer.body["details"] == {"name": "ghost", "kind": "namespaces"}
    assert api.images == {}


def _parent(body: dict[str, Any], path: str) -> tuple[Any, str]:
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    return target, last


def _without(path: str) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        target, last = _parent(body, path)
        del target[last]

    return mutate


def _set(path: str, value: Any) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        target, last = _parent(body, path)
        target[last] = value

    return mutate


@pytest.mark.parametrize(
    ("image", "mutate", "fields"),
    [
        ("amd64", _without("tag"), ["tag"]),
        ("amd64", _without("metadata.name"), ["metadata.name", "name", "dockerImageRepository"]),
        ("amd64", _without("image.metadata.name"), ["image.metadata.name"]),
        ("amd64", _set("image.metadata.namespace", "team-a"), ["image.metadata.namespace"]),
        ("amd64", _set("image.metadata.name", "a/b"), ["image.metadata.name"]),
        ("amd64", _without("image.dockerImageReference"), ["image.dockerImageReference"]),
        ("amd64", _set("image.dockerImageReference", "Reg/App"), ["image.dockerImageReference"]),
        (
            "list",
            _set("image.dockerImageManifests.0.digest", "nope"),
            ["image.dockerImageManifests[0].digest"],
        ),
        (
            "list",
            _set("image.dockerImageManifests.0.mediaType", "json"),
            ["image.dockerImageManifests[0].mediaType"],
        ),
        (
            "list",
            _set("image.dockerImageManifests.1.architecture", ""),
            ["image.dockerImageManifests[1].architecture"],
        ),
        ("list", _without("image.dockerImageManifests.1.os"), ["image.dockerImageManifests[1].os"]),
        (
            "list",
            _set("image.dockerImageManifests.0.manifestSize", -1),
            ["image.dockerImageManifests[0].size"],
        ),
        (
            "list",
            _set(
                "image.dockerImageLayers",
                [{"name": "sha256:" + HEX, "size": 1, "mediaType": "x/y"}],
            ),
            ["image.dockerImageLayers"],
        ),
        ("list", _set("image.dockerImageManifests.0.digest", "sha256:" + HEX + "garbage"), []),
    ],
)
async def test_validation_answers_422_with_causes(
    api: FakeOpenShiftAPI, http: Http, image: str, mutate: Any, fields: list[str]
) -> None:
    api.add_stream("team-a", "app")
    body = _mapping(example_image_amd64() if image == "amd64" else example_list_image())
    mutate(body)

    answer = await http.post(ISM, body)

    if not fields:  # the digest pattern is matched unanchored, exactly like the server
        assert answer.status == 201
        return
    assert answer.status == 422
    assert answer.body["reason"] == "Invalid"
    assert answer.body["details"]["kind"] == "ImageStreamMapping"
    assert [c["field"] for c in answer.body["details"]["causes"]] == fields
    assert api.images == {}
    assert api.status_writes == 0


async def test_invalid_reference_message_is_distributions(
    http: Http, api: FakeOpenShiftAPI
) -> None:
    api.add_stream("team-a", "app")
    body = _mapping()
    body["image"]["dockerImageReference"] = "Registry.Example.com/Team/App"
    answer = await http.post(ISM, body)
    [cause] = answer.body["details"]["causes"]
    assert cause == {
        "reason": "FieldValueInvalid",
        "message": (
            'Invalid value: "Registry.Example.com/Team/App": repository name must be lowercase'
        ),
        "field": "image.dockerImageReference",
    }
    assert answer.body["message"] == (
        'ImageStreamMapping.image.openshift.io "app" is invalid: image.dockerImageReference: '
        'Invalid value: "Registry.Example.com/Team/App": repository name must be lowercase'
    )


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("app", None),
        ("registry.example.com/team/app", None),
        ("Registry.Example.com:5000/team/app:1.2.3", None),
        ("localhost:5000/a/b/c/d:v1", None),
        ("[::1]:5000/app", None),
        ("a__b/c--d/e.f", None),
        (f"registry.example.com/team/app@sha256:{HEX}", None),
        (f"app:tag@sha256:{HEX}", None),
        ("", "repository name must have at least one component"),
        ("Team/App", "repository name must be lowercase"),
        ("app/", "invalid reference format"),
        ("-app", "invalid reference format"),
        ("app:", "invalid reference format"),
        ("app:" + "t" * 129, "invalid reference format"),
        ("app@sha256:xyz", "invalid reference format"),
        ("app\n", "invalid reference format"),
        (f"app@sha256:{HEX[:-1]}", "invalid checksum digest length"),
        (f"app@md5:{HEX[:32]}", "unsupported digest algorithm"),
        (f"app@sha256:{HEX.upper()}", "invalid checksum digest format"),
        ("a/" * 127 + "bc", "repository name must not be more than 255 characters"),
    ],
)
def test_reference_grammar(reference: str, problem: str | None) -> None:
    assert parse_reference(reference) == problem


def test_reference_parsing_is_linear_on_hostile_input() -> None:
    started = time.monotonic()
    for hostile in ("a" * 50_000 + "!", "a-" * 25_000 + "!", "a." * 25_000 + "/!"):
        assert parse_reference(hostile) == "invalid reference format"
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------ ISM: images


async def test_image_is_created_when_absent_and_never_updated(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    api.add_stream("team-a", "app")
    first = _mapping()
    assert (await http.post(ISM, first)).status == 201
    stored = copy.deepcopy(api.images[AMD64_DIGEST])
    assert stored["metadata"]["creationTimestamp"] == "2026-02-03T04:05:06Z"

    second = _mapping(tag="other")
    second["image"]["dockerImageMetadata"]["Size"] = 1
    second["image"]["metadata"]["annotations"] = {"changed": "yes"}
    second["image"]["dockerImageReference"] = f"mirror.example.com/team/app@{AMD64_DIGEST}"
    assert (await http.post(ISM, second)).status == 201

    assert api.images[AMD64_DIGEST] == stored
    [event] = api.tag_history("team-a", "app", "other")
    assert event["dockerImageReference"] == f"mirror.example.com/team/app@{AMD64_DIGEST}"


async def test_signatures_in_a_mapping_are_dropped(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    body = _mapping()
    body["image"]["signatures"] = [{"metadata": {"name": "bad"}}]  # would not even validate
    assert (await http.post(ISM, body)).status == 201
    assert "signatures" not in api.images[AMD64_DIGEST]


async def test_stored_metadata_is_the_servers_encoding(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    body = _mapping()
    metadata = body["image"]["dockerImageMetadata"]
    metadata["Created"] = "2024-05-14T11:21:33.987654321+02:00"
    metadata["Os"] = "linux"  # no such field in DockerImage
    metadata["Config"]["StopSignal"] = "SIGTERM"  # not in DockerConfig
    metadata["Config"]["Tty"] = False  # omitempty
    del metadata["kind"], metadata["apiVersion"], metadata["ContainerConfig"]

    assert (await http.post(ISM, body)).status == 201

    assert (
        api.images[AMD64_DIGEST]["dockerImageMetadata"]
        == example_image_amd64()["dockerImageMetadata"]
    )


async def test_server_computes_metadata_from_manifest_and_config(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    api.add_stream("team-a", "app")
    assert (await http.post(ISM, _mapping(example_server_computes_image()))).status == 201

    stored = api.images[AMD64_DIGEST]
    expected = example_image_amd64()
    for key in ("dockerImageMetadata", "dockerImageLayers", "dockerImageManifestMediaType"):
        assert stored[key] == expected[key], key
    assert stored["metadata"]["annotations"] == expected["metadata"]["annotations"]
    assert "dockerImageManifest" in stored and "dockerImageConfig" in stored


async def test_manifest_blob_stored_strips_manifest_and_config(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    api.add_stream("team-a", "app")
    image = example_server_computes_image()
    image["metadata"]["annotations"]["image.openshift.io/manifestBlobStored"] = "true"
    assert (await http.post(ISM, _mapping(image))).status == 201
    stored = api.images[AMD64_DIGEST]
    assert "dockerImageManifest" not in stored and "dockerImageConfig" not in stored
    assert stored["dockerImageMetadata"]["Size"] == 77351604


async def test_layers_sent_with_a_manifest_but_no_order_annotation_are_reversed(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    api.add_stream("team-a", "app")
    image = example_server_computes_image()
    del image["metadata"]["annotations"]
    assert (await http.post(ISM, _mapping(image))).status == 201
    stored = api.images[AMD64_DIGEST]
    assert stored["dockerImageLayers"] == example_image_amd64()["dockerImageLayers"][::-1]
    assert stored["metadata"]["annotations"] == {
        "image.openshift.io/dockerLayersOrder": "ascending"
    }


async def test_server_computes_manifest_list(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    assert (await http.post(ISM, _mapping(example_server_computes_list_image()))).status == 201
    stored = api.images[LIST_DIGEST]
    assert stored["dockerImageManifests"] == example_list_image()["dockerImageManifests"]
    assert stored["dockerImageMetadata"] == {
        "kind": "DockerImage",
        "apiVersion": "image.openshift.io/1.0",
        "Id": LIST_DIGEST,
        "Created": "2026-02-03T04:05:06Z",  # server clock, whole seconds
        "ContainerConfig": {},
    }
    assert "dockerImageLayers" not in stored


async def test_list_descriptor_without_platform_is_invalid_after_derivation(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    api.add_stream("team-a", "app")
    image = example_server_computes_list_image()
    manifest = json.loads(image["dockerImageManifest"])
    del manifest["manifests"][1]["platform"]
    image["dockerImageManifest"] = json.dumps(manifest)
    answer = await http.post(ISM, _mapping(image))
    assert answer.status == 422
    assert answer.body["details"]["kind"] == "Image"
    assert [c["field"] for c in answer.body["details"]["causes"]] == [
        "dockerImageManifests[1].architecture",
        "dockerImageManifests[1].os",
    ]


async def test_managed_image_reference_is_rewritten_to_the_stream(http: Http) -> None:
    async with FakeOpenShiftAPI(
        namespaces=["team-a"], internal_registry_hostname="image-registry.svc:5000"
    ) as api:
        context = ssl.create_default_context(cafile=api.ca_path)
        async with aiohttp.ClientSession(
            base_url=api.url, connector=aiohttp.TCPConnector(ssl=context)
        ) as session:
            local = Http(session, api.token)
            api.add_stream("team-a", "app")
            image = example_image_amd64()
            image["metadata"]["annotations"]["openshift.io/image.managed"] = "true"
            assert (await local.post(ISM, _mapping(image, tag="new"))).status == 201
            assert (await local.post(ISM, _mapping(image, tag="again"))).status == 201
            no_ref = _mapping(tag="defaulted")
            no_ref["image"]["dockerImageReference"] = ""
            assert (await local.post(ISM, no_ref)).status == 201

        internal = f"image-registry.svc:5000/team-a/app@{AMD64_DIGEST}"
        # New image: the posted ref; already existing managed image: the stream's own repo.
        assert api.tag_history("team-a", "app", "new")[0]["dockerImageReference"] == (
            f"registry.example.com/team/app@{AMD64_DIGEST}"
        )
        assert api.tag_history("team-a", "app", "again")[0]["dockerImageReference"] == internal
        assert api.tag_history("team-a", "app", "defaulted")[0]["dockerImageReference"] == internal


# ------------------------------------------------------------------ ISM: tag history (§3.6)


async def test_tag_history_semantics_over_http(api: FakeOpenShiftAPI, http: Http) -> None:
    stream = api.add_stream("team-a", "app")
    a, b, c = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
    ref1, ref2 = "registry.example.com/team/app:1.2.3", "mirror.example.com/team/app:1.2.3"

    def history() -> list[tuple[str, str, int]]:
        return [
            (i["dockerImageReference"], i["image"], i["generation"])
            for i in api.tag_history("team-a", "app", "1.2.3")
        ]

    assert (await http.post(ISM, _tagged(ref1, a))).status == 201
    assert history() == [(ref1, a, 1)]
    version = stream["metadata"]["resourceVersion"]

    assert (await http.post(ISM, _tagged(ref1, a))).status == 201  # idempotent re-post
    assert history() == [(ref1, a, 1)]
    assert api.status_writes == 1
    assert stream["metadata"]["resourceVersion"] == version

    stream["metadata"]["generation"] = 2
    await http.post(ISM, _tagged(ref1, a))  # same ref and image: generation updated in place
    assert history() == [(ref1, a, 2)]

    stream["status"]["tags"][0]["conditions"] = [{"type": "ImportSuccess", "status": "False"}]
    await http.post(ISM, _tagged(ref1, b))  # same ref, new image: in place
    assert history() == [(ref1, b, 2)]
    assert "conditions" not in stream["status"]["tags"][0]  # any change clears conditions

    await http.post(ISM, _tagged(ref2, b))  # same image, new ref: in place
    assert history() == [(ref2, b, 2)]

    await http.post(ISM, _tagged(ref1, c))  # both new: a new history entry in front
    assert history() == [(ref1, c, 2), (ref2, b, 2)]
    assert api.status_writes == 5


@pytest.mark.parametrize(
    ("previous", "next_event", "changed", "items"),
    [
        (None, ("r", "i", 1), True, [("r", "i", 1)]),
        (("r", "i", 1), ("r", "i", 1), False, [("r", "i", 1)]),
        (("r", "i", 1), ("r", "i", 2), True, [("r", "i", 2)]),
        (("r", "i", 1), ("r", "j", 2), True, [("r", "j", 2)]),
        (("r", "i", 1), ("s", "i", 1), True, [("s", "i", 1)]),
        (("r", "i", 1), ("s", "j", 1), True, [("s", "j", 1), ("r", "i", 1)]),
    ],
)
def test_add_tag_event_table(
    previous: tuple[str, str, int] | None,
    next_event: tuple[str, str, int],
    changed: bool,
    items: list[tuple[str, str, int]],
) -> None:
    def event(triple: tuple[str, str, int]) -> dict[str, Any]:
        ref, image, generation = triple
        return {
            "created": "t",
            "dockerImageReference": ref,
            "image": image,
            "generation": generation,
        }

    stream: dict[str, Any] = {"status": {}}
    if previous:
        stream["status"]["tags"] = [{"tag": "t", "items": [event(previous)]}]
    assert add_tag_event(stream, "t", event(next_event)) is changed
    assert [
        (i["dockerImageReference"], i["image"], i["generation"])
        for i in stream["status"]["tags"][0]["items"]
    ] == items


async def test_tracking_tags_follow_the_mapped_tag(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream(
        "team-a",
        "app",
        spec_tags=[
            {"name": "latest", "from": {"kind": "ImageStreamTag", "name": "1.2.3"}},
            {"name": "stable", "from": {"kind": "ImageStreamTag", "name": "app:1.2.3"}},
            {
                "name": "ours",
                "from": {"kind": "ImageStreamTag", "name": "1.2.3", "namespace": "team-a"},
            },
            {"name": "foreign", "from": {"kind": "ImageStreamTag", "name": "other:1.2.3"}},
            {
                "name": "elsewhere",
                "from": {"kind": "ImageStreamTag", "name": "1.2.3", "namespace": "team-b"},
            },
            {"name": "pinned", "from": {"kind": "DockerImage", "name": "x.io/y:1.2.3"}},
            {"name": "other-tag", "from": {"kind": "ImageStreamTag", "name": "app:2.0"}},
        ],
    )
    await http.post(ISM, _mapping())
    tags = {t["tag"]: t["items"][0]["image"] for t in api.stream("team-a", "app")["status"]["tags"]}
    assert tags == {
        "1.2.3": AMD64_DIGEST,
        "latest": AMD64_DIGEST,
        "ours": AMD64_DIGEST,
        "stable": AMD64_DIGEST,
    }
    assert [t["tag"] for t in api.stream("team-a", "app")["status"]["tags"]] == sorted(tags)


# ------------------------------------------------------------------ images, streams, events


async def test_images_endpoint(api: FakeOpenShiftAPI, http: Http) -> None:
    child = example_child_image_arm64()
    created = await http.post(IMAGES, child)
    assert created.status == 201
    assert created.body["metadata"]["uid"]
    assert created.body["dockerImageMetadata"] == child["dockerImageMetadata"]

    again = await http.post(IMAGES, child)
    assert again.status == 409
    assert again.body["reason"] == "AlreadyExists"
    assert again.body["details"] == {
        "name": ARM64_DIGEST,
        "group": "image.openshift.io",
        "kind": "images",
    }

    fetched = await http.get(f"{IMAGES}/{ARM64_DIGEST}")
    assert (fetched.status, fetched.body) == (200, created.body)
    missing = await http.get(f"{IMAGES}/sha256:{HEX}")
    assert missing.status == 404
    assert missing.body["details"]["kind"] == "images"


async def test_invalid_image_is_422_before_409(api: FakeOpenShiftAPI, http: Http) -> None:
    child = example_child_image_arm64()
    assert (await http.post(IMAGES, child)).status == 201
    child["dockerImageReference"] = ""
    answer = await http.post(IMAGES, child)
    assert answer.status == 422
    assert answer.body["message"].startswith(
        f'Image.image.openshift.io "{ARM64_DIGEST}" is invalid'
    )


async def test_unknown_fields_are_dropped_with_a_warning(api: FakeOpenShiftAPI, http: Http) -> None:
    child = example_child_image_arm64()
    child["dockerImageLayer"] = []  # a typo the server would silently drop
    answer = await http.post(IMAGES, child)
    assert answer.status == 201
    assert answer.headers["Warning"] == '299 - "unknown field \\"dockerImageLayer\\""'
    assert api.requests[-1].warnings == ['unknown field "dockerImageLayer"']
    assert "dockerImageLayer" not in api.images[ARM64_DIGEST]


async def test_imagestreams_endpoint(api: FakeOpenShiftAPI, http: Http) -> None:
    created = await http.post(STREAMS, {"metadata": {"name": "app"}})
    assert created.status == 201
    assert created.body["metadata"]["generation"] == 1
    assert created.body["spec"] == {"lookupPolicy": {"local": False}}
    assert (await http.post(STREAMS, {"metadata": {"name": "app"}})).status == 409
    invalid = await http.post(STREAMS, {"metadata": {"name": "App"}})
    assert invalid.status == 422
    assert "must match" in invalid.body["message"]
    missing_ns = await http.post(STREAMS.replace("team-a", "ghost"), {"metadata": {"name": "a"}})
    assert (missing_ns.status, missing_ns.body["details"]["kind"]) == (404, "namespaces")

    assert (await http.get(f"{STREAMS}/app")).body == api.stream("team-a", "app")
    assert (await http.get(f"{STREAMS}/nope")).status == 404
    listed = await http.get(STREAMS)
    assert [s["metadata"]["name"] for s in listed.body["items"]] == ["app"]


async def test_events_endpoint(api: FakeOpenShiftAPI, http: Http) -> None:
    path = "/api/v1/namespaces/team-a/events"
    event: dict[str, Any] = {
        "metadata": {"generateName": "app."},
        "involvedObject": {"kind": "ImageStream", "name": "app", "namespace": "team-a"},
        "reason": "Mapped",
        "message": "ok",
        "type": "Normal",
    }
    assert (await http.post(path, event)).status == 201
    assert api.events[0]["metadata"]["name"].startswith("app.")

    wrong = copy.deepcopy(event)
    wrong["involvedObject"]["namespace"] = "team-b"
    answer = await http.post(path, wrong)
    assert answer.status == 422
    assert answer.body["details"]["causes"][0]["field"] == "involvedObject.namespace"
    nameless = copy.deepcopy(event)
    del nameless["metadata"]
    assert (await http.post(path, nameless)).status == 422
    assert len(api.events) == 1


# ------------------------------------------------------------------ faults, waiting


async def test_injected_faults_count_down(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")
    fault = api.inject("POST", r"/imagestreammappings$", 429, times=2, headers={"Retry-After": "4"})
    answers = [await http.post(ISM, _mapping()) for _ in range(3)]
    assert [a.status for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "4"
    assert answers[0].body["details"] == {"retryAfterSeconds": 4}
    assert fault.hits == 2
    assert (await http.get(f"{STREAMS}/app")).status == 200  # other methods/paths untouched


async def test_wait_for_wakes_on_requests(api: FakeOpenShiftAPI, http: Http) -> None:
    api.add_stream("team-a", "app")

    async def post_later() -> None:
        await http.post(ISM, _mapping())

    waiter = asyncio.create_task(
        api.wait_for(lambda: bool(api.tag_history("team-a", "app", "1.2.3")), timeout=10)
    )
    await asyncio.sleep(0)  # let the waiter start before the request exists
    assert not waiter.done()
    await post_later()
    await waiter
    assert api.requests[-1].status == 201


async def test_wait_for_times_out_with_a_useful_message(api: FakeOpenShiftAPI) -> None:
    with pytest.raises(AssertionError, match="condition not met"):
        await api.wait_for(lambda: False, timeout=0.1)


async def test_image_with_generate_name_gets_a_server_name(
    api: FakeOpenShiftAPI, http: Http
) -> None:
    child = example_child_image_arm64()
    child["metadata"] = {"generateName": "tmp-"}
    answer = await http.post(IMAGES, child)
    assert answer.status == 201
    assert answer.body["metadata"]["name"].startswith("tmp-")
    assert set(api.images) == {answer.body["metadata"]["name"]}
