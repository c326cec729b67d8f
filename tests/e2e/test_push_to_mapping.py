"""skopeo push → real Distribution registry → ``streamhook serve`` → (fake) OpenShift API.

Every expectation is computed here from the layout bytes the test generated (``_expected``),
then checked against what reached the API. The registry's own ``/debug/vars`` says how many
notifications it sent and what streamhook answered; streamhook's queue gauges say when it
has finished, so the request counts are final when they are checked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ._expected import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_SCHEMA2,
    comparable_image,
    expected_image,
    expected_list_image,
    expected_mapping,
    platform_entry,
)
from ._oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    BuiltImage,
    build_multi_arch_layout,
    build_single_arch_layout,
)
from ._registry import EndpointMetrics, Manifest
from ._service import metric_total
from ._stack import NAMESPACE, Stack, StackFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

MAPPING_TIMEOUT = 15.0
ACCEPTED = "202 Accepted"
OK = "200 OK"
MAPPINGS_PATH = f"/apis/image.openshift.io/v1/namespaces/{NAMESPACE}/imagestreammappings"
IMAGES_PATH = "/apis/image.openshift.io/v1/images"


# --- reading the fake API -------------------------------------------------------------------


def _posts(stack: Stack, path: str, *, succeeded: bool = True) -> list[dict[str, Any]]:
    bodies = []
    for request in stack.api.requests:
        if request.method != "POST" or request.path.split("?", 1)[0] != path:
            continue
        if succeeded and not 200 <= request.status < 300:
            continue
        bodies.append(request.body)
    return bodies


def mappings(stack: Stack) -> list[dict[str, Any]]:
    """ImageStreamMappings the API accepted (a 404 before the stream was created is not one)."""
    return _posts(stack, MAPPINGS_PATH)


def posted_images(stack: Stack) -> list[dict[str, Any]]:
    return _posts(stack, IMAGES_PATH, succeeded=False)


def warning_events(stack: Stack) -> list[str]:
    """Kubernetes Events of type Warning that streamhook posted (e.g. a failed mapping)."""
    return [
        f"{event.get('reason')}: {event.get('message')}"
        for event in stack.api.events
        if event.get("type") == "Warning"
    ]


def tag_items(stack: Stack, stream: str, tag: str) -> list[dict[str, Any]]:
    return stack.api.tag_history(NAMESPACE, stream, tag)


# --- waiting for the whole pipeline to settle -----------------------------------------------


async def settle(stack: Stack, *, mappings_at_least: int, events_at_least: int) -> EndpointMetrics:
    """Wait for the mappings, for the registry to have nothing pending, for streamhook to idle.

    A Warning Event from streamhook ends the wait early: the mapping failed, say why.
    """
    await stack.api.wait_for(
        lambda: len(mappings(stack)) >= mappings_at_least or bool(warning_events(stack)),
        timeout=MAPPING_TIMEOUT,
    )
    assert not warning_events(stack), warning_events(stack)
    delivered = await stack.registry.wait_notifications_delivered(at_least=events_at_least)
    await stack.service.wait_idle()
    return delivered


async def assert_clean_run(stack: Stack, delivered: EndpointMetrics, *, tagged_pushes: int) -> None:
    """streamhook answered every event 200/202 (202 only for tagged manifests), logged no
    error and no secret, and failed no mapping."""
    assert delivered.failures == 0 and delivered.errors == 0, delivered
    assert set(delivered.statuses) <= {OK, ACCEPTED}, delivered.statuses
    assert delivered.statuses.get(ACCEPTED, 0) == tagged_pushes, delivered.statuses
    assert delivered.successes == delivered.events, delivered
    # Every body matched the API schema: the fake drops unknown fields with a Warning.
    warned = [(r.method, r.path, r.warnings) for r in stack.api.requests if r.warnings]
    assert not warned, warned
    samples = await stack.service.metrics()
    assert metric_total(samples, "streamhook_mappings_total", outcome="failed") == 0
    logs = stack.service.log_text()
    for secret in (stack.webhook_token, stack.api_token):
        assert secret not in logs
    errors = [
        line
        for line in logs.splitlines()
        if line.startswith("{") and json.loads(line).get("level") in ("error", "critical")
    ]
    assert not errors, "\n".join(errors)


# --- what landed in the registry --------------------------------------------------------------


def assert_manifest_carries(
    landed: Manifest, image: BuiltImage, *, media_type: str, config_type: str, layer_type: str
) -> None:
    """The registry holds ``image``'s config and layers (skopeo converts types, not content)."""
    document = landed.document
    assert landed.media_type == media_type
    assert document["config"] == {
        "mediaType": config_type,
        "digest": image.config.digest,
        "size": image.config.size,
    }
    assert [(d["mediaType"], d["digest"], d["size"]) for d in document["layers"]] == [
        (layer_type, layer.blob.digest, layer.blob.size) for layer in image.layers
    ]


async def landed_children(
    stack: Stack, repository: str, landed_list: Manifest
) -> list[tuple[dict[str, Any], Manifest]]:
    children = []
    for descriptor in landed_list.document["manifests"]:
        child = await stack.registry.get_manifest(repository, descriptor["digest"])
        assert child.digest == descriptor["digest"]
        assert child.media_type == descriptor["mediaType"]
        assert len(child.body) == descriptor["size"]
        children.append((descriptor, child))
    return children


def assert_single_mapping(
    stack: Stack,
    *,
    stream: str,
    tag: str,
    expected: dict[str, Any],
    landed: Manifest,
    config: bytes | None,
    pushed_at: datetime | None = None,
) -> None:
    (mapping,) = mappings(stack)
    envelope = {k: v for k, v in mapping.items() if k != "image"}
    assert envelope == expected_mapping(NAMESPACE, stream, tag)
    window = None if pushed_at is None else (pushed_at, datetime.now(UTC))
    sent = comparable_image(mapping["image"], manifest=landed, config=config, mapped_between=window)
    assert sent == expected
    (item,) = tag_items(stack, stream, tag)
    assert item["image"] == landed.digest
    assert item["dockerImageReference"] == expected["dockerImageReference"]


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "recommended-filter"])
async def test_single_arch_oci_image_becomes_one_mapping(
    stack_factory: StackFactory, tmp_path: Path, filtered: bool
) -> None:
    layout = build_single_arch_layout(tmp_path / "layout", ref_name="v1", seed="single")
    async with stack_factory(filtered=filtered) as stack:
        await stack.skopeo.push(layout.oci_reference, stack.registry.host, "demo/single", "v1")
        landed = await stack.registry.get_manifest("demo/single", "v1")
        assert landed.body == layout.image.manifest.data  # OCI pushed as is

        # Filtered: exactly the manifest push reaches streamhook. Unfiltered: the two blob
        # pushes come first and are answered 200 with nothing posted.
        delivered = await settle(stack, mappings_at_least=1, events_at_least=1 if filtered else 3)
        if filtered:
            assert delivered.events == 1
        else:
            assert delivered.statuses.get(OK, 0) >= 2

        expected = expected_image(
            layout.image,
            digest=layout.image.manifest.digest,
            manifest_media_type=OCI_MANIFEST,
            layer_media_type=OCI_LAYER_GZIP,
            pull_host=stack.registry.host,
            repository="demo/single",
        )
        assert_single_mapping(
            stack,
            stream="single",
            tag="v1",
            expected=expected,
            landed=landed,
            config=layout.image.config.data,
        )
        assert posted_images(stack) == []
        assert set(stack.api.images) == {landed.digest}
        await assert_clean_run(stack, delivered, tagged_pushes=1)


async def test_multi_layer_image_pushed_as_docker_v2(filtered_stack: Stack, tmp_path: Path) -> None:
    stack = filtered_stack
    # Three distinct layers plus the first one again: Size counts it once.
    layout = build_single_arch_layout(
        tmp_path / "layout", ref_name="v2", seed="layers", layer_count=3, repeat_first_layer=True
    )
    await stack.skopeo.push(
        layout.oci_reference, stack.registry.host, "demo/layers", "2.0", manifest_format="v2s2"
    )
    landed = await stack.registry.get_manifest("demo/layers", "2.0")
    assert_manifest_carries(
        landed,
        layout.image,
        media_type=DOCKER_SCHEMA2,
        config_type=DOCKER_CONFIG,
        layer_type=DOCKER_LAYER_GZIP,
    )
    assert landed.digest != layout.image.manifest.digest  # converted, so a new digest

    delivered = await settle(stack, mappings_at_least=1, events_at_least=1)
    assert delivered.events == 1

    expected = expected_image(
        layout.image,
        digest=landed.digest,
        manifest_media_type=DOCKER_SCHEMA2,
        layer_media_type=DOCKER_LAYER_GZIP,
        pull_host=stack.registry.host,
        repository="demo/layers",
    )
    distinct = {layer.blob.digest: layer.blob.size for layer in layout.image.layers}
    assert len(distinct) == 3 and len(layout.image.layers) == 4
    assert expected["dockerImageMetadata"]["Size"] == layout.image.config.size + sum(
        distinct.values()
    )
    assert_single_mapping(
        stack,
        stream="layers",
        tag="2.0",
        expected=expected,
        landed=landed,
        config=layout.image.config.data,
    )
    assert posted_images(stack) == []
    await assert_clean_run(stack, delivered, tagged_pushes=1)


async def _assert_list_mapped(
    stack: Stack,
    *,
    repository: str,
    stream: str,
    tag: str,
    images: tuple[BuiltImage, ...],
    landed: Manifest,
    child_type: str,
    config_type: str,
    layer_type: str,
    pushed_at: datetime,
) -> None:
    children = await landed_children(stack, repository, landed)
    assert len(children) == len(images)
    expected_children = {}
    for image, (descriptor, child) in zip(images, children, strict=True):
        assert descriptor["platform"] == image.platform.as_dict()
        assert_manifest_carries(
            child, image, media_type=child_type, config_type=config_type, layer_type=layer_type
        )
        expected_children[child.digest] = (
            expected_image(
                image,
                digest=child.digest,
                manifest_media_type=child_type,
                layer_media_type=layer_type,
                pull_host=stack.registry.host,
                repository=repository,
            ),
            child,
            image,
        )

    # Children first, each once, as cluster-scoped Images; then one mapping for the list.
    child_posts = posted_images(stack)
    assert sorted(body["metadata"]["name"] for body in child_posts) == sorted(expected_children)
    for body in child_posts:
        expected, child, image = expected_children[body["metadata"]["name"]]
        assert body.get("kind") == "Image"
        assert comparable_image(body, manifest=child, config=image.config.data) == expected

    expected_list = expected_list_image(
        digest=landed.digest,
        media_type=landed.media_type,
        manifests=[
            platform_entry(
                image.platform, digest=child.digest, media_type=child_type, size=len(child.body)
            )
            for image, (_, child) in zip(images, children, strict=True)
        ],
        pull_host=stack.registry.host,
        repository=repository,
    )
    assert_single_mapping(
        stack,
        stream=stream,
        tag=tag,
        expected=expected_list,
        landed=landed,
        config=None,
        pushed_at=pushed_at,
    )
    assert set(stack.api.images) == {landed.digest, *expected_children}


async def test_oci_index_becomes_list_image_and_one_image_per_platform(
    unfiltered_stack: Stack, tmp_path: Path
) -> None:
    stack = unfiltered_stack
    layout = build_multi_arch_layout(tmp_path / "layout", ref_name="multi", seed="index")
    pushed_at = datetime.now(UTC)
    await stack.skopeo.push(
        layout.oci_reference, stack.registry.host, "demo/multi", "latest", all_images=True
    )
    landed = await stack.registry.get_manifest("demo/multi", "latest")
    assert landed.media_type == OCI_INDEX
    assert landed.body == layout.index.data  # pushed as is: the nested index blob

    # Unfiltered: blob pushes and the two untagged child manifest pushes come first.
    delivered = await settle(stack, mappings_at_least=1, events_at_least=3)
    assert delivered.statuses.get(OK, 0) >= 2

    await _assert_list_mapped(
        stack,
        repository="demo/multi",
        stream="multi",
        tag="latest",
        images=layout.images,
        landed=landed,
        child_type=OCI_MANIFEST,
        config_type=OCI_CONFIG,
        layer_type=OCI_LAYER_GZIP,
        pushed_at=pushed_at,
    )
    await assert_clean_run(stack, delivered, tagged_pushes=1)


async def test_docker_manifest_list_becomes_list_image_and_one_image_per_platform(
    filtered_stack: Stack, tmp_path: Path
) -> None:
    stack = filtered_stack
    layout = build_multi_arch_layout(tmp_path / "layout", ref_name="multi", seed="list")
    pushed_at = datetime.now(UTC)
    await stack.skopeo.push(
        layout.oci_reference,
        stack.registry.host,
        "demo/docker",
        "1.0",
        all_images=True,
        manifest_format="v2s2",
    )
    landed = await stack.registry.get_manifest("demo/docker", "1.0")
    assert landed.media_type == DOCKER_LIST

    # Filtered: exactly the two untagged child pushes (200) and the tagged list push (202).
    delivered = await settle(stack, mappings_at_least=1, events_at_least=3)
    assert delivered.events == 3
    assert delivered.statuses == {OK: 2, ACCEPTED: 1}

    await _assert_list_mapped(
        stack,
        repository="demo/docker",
        stream="docker",
        tag="1.0",
        images=layout.images,
        landed=landed,
        child_type=DOCKER_SCHEMA2,
        config_type=DOCKER_CONFIG,
        layer_type=DOCKER_LAYER_GZIP,
        pushed_at=pushed_at,
    )
    await assert_clean_run(stack, delivered, tagged_pushes=1)


async def test_repushing_the_same_image_is_harmless(filtered_stack: Stack, tmp_path: Path) -> None:
    stack = filtered_stack
    layout = build_single_arch_layout(tmp_path / "layout", ref_name="v1", seed="again")
    for _ in range(2):
        await stack.skopeo.push(layout.oci_reference, stack.registry.host, "demo/again", "v1")
    # The second push is a fresh notification (new id, same digest and tag).
    delivered = await settle(stack, mappings_at_least=1, events_at_least=2)
    assert delivered.events == 2

    digest = layout.image.manifest.digest
    for mapping in mappings(stack):
        assert mapping["image"]["metadata"]["name"] == digest
        assert mapping["tag"] == "v1"
    (item,) = tag_items(stack, "again", "v1")
    assert item["image"] == digest
    assert item["dockerImageReference"] == f"{stack.registry.host}/demo/again@{digest}"
    assert set(stack.api.images) == {digest}
    assert posted_images(stack) == []
    await assert_clean_run(stack, delivered, tagged_pushes=2)


async def test_cross_repository_mounts_and_pulls_post_nothing(
    unfiltered_stack: Stack, tmp_path: Path
) -> None:
    """The same image pushed to a second repository: skopeo HEADs and mounts the blobs from
    the first (``pull`` and ``mount`` events), then pushes the manifest. Only the two tagged
    manifest pushes become mappings; the Image is shared and posted by neither as a child."""
    stack = unfiltered_stack
    layout = build_single_arch_layout(tmp_path / "layout", ref_name="v1", seed="mount")
    digest = layout.image.manifest.digest
    await stack.skopeo.push(layout.oci_reference, stack.registry.host, "demo/first", "v1")
    await settle(stack, mappings_at_least=1, events_at_least=3)
    await stack.skopeo.push(layout.oci_reference, stack.registry.host, "demo/second", "v1")
    delivered = await settle(stack, mappings_at_least=2, events_at_least=6)

    access_log = stack.registry.process.stdout_path.read_text(encoding="utf-8")
    assert "/v2/demo/second/blobs/uploads/?from=demo%2Ffirst&mount=" in access_log
    assert [m["metadata"]["name"] for m in mappings(stack)] == ["first", "second"]
    for stream in ("first", "second"):
        (item,) = tag_items(stack, stream, "v1")
        assert item["image"] == digest
        assert item["dockerImageReference"] == f"{stack.registry.host}/demo/{stream}@{digest}"
    assert set(stack.api.images) == {digest}
    assert posted_images(stack) == []
    await assert_clean_run(stack, delivered, tagged_pushes=2)
