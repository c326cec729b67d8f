"""The whole service in-process: webhook → queue → worker → registry fake → API fake over TLS.

Real parts everywhere but the two servers: create_app, the aiohttp handler, MemoryQueue,
Workers, RegistryClient and the kubernetes-asyncio ClusterWriter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from streamhook import image as images
from streamhook import mediatypes
from streamhook.app import METRICS, QUEUE, create_app
from streamhook.config import Settings, parse_settings
from tests.fakes.openshift_api import FakeOpenShiftAPI
from tests.fakes.registry import FakeRegistry, PushedImage

TOKEN = "hook-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ISM = r"/namespaces/demo/imagestreammappings$"
IMAGES = r"/apis/image.openshift.io/v1/images$"


def settings_for(registry: FakeRegistry, kubeconfig: Path, **openshift: Any) -> Settings:
    return parse_settings(
        {
            "retry": {"initialDelaySeconds": 0.01, "maxDelaySeconds": 0.05, "maxAttempts": 4},
            "openshift": {"mode": "cluster", "kubeconfig": str(kubeconfig), **openshift},
            "registries": [{"name": "local", "url": registry.url, "pullHost": "registry.example"}],
            "webhooks": [
                {
                    "name": "local",
                    "format": "distribution",
                    "registry": "local",
                    "auth": {"bearerToken": TOKEN},
                }
            ],
            "rules": [{"registry": "local", "repository": "demo/*", "namespace": "demo"}],
        }
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeOpenShiftAPI]:
    async with FakeOpenShiftAPI(namespaces=["demo"]) as fake:
        yield fake


@pytest.fixture
async def registry(aiohttp_server) -> FakeRegistry:  # type: ignore[no-untyped-def]
    fake = FakeRegistry()
    await fake.serve(aiohttp_server)
    return fake


async def start(registry, api, tmp_path, aiohttp_client, **openshift):  # type: ignore[no-untyped-def]
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", namespace="demo")
    app = create_app(settings_for(registry, kubeconfig, **openshift))
    client: TestClient = await aiohttp_client(app)
    return client


async def deliver(client: TestClient, body: dict[str, Any]) -> int:
    """POST a notification and wait until the queue has nothing waiting or in flight."""
    resp = await client.post("/webhooks/local", json=body, headers=AUTH)
    await client.app[QUEUE].join()
    return resp.status


def notification(
    registry: FakeRegistry, repository: str, tag: str, digest: str | None, media_type: str
) -> dict[str, Any]:
    target: dict[str, Any] = {"mediaType": media_type, "repository": repository, "tag": tag}
    if digest:
        target["digest"] = digest
    return {
        "events": [
            {
                "id": f"ev-{tag}",
                "action": "push",
                "target": target,
                "request": {"host": registry.host, "method": "PUT"},
            }
        ]
    }


def expected_image(pushed: PushedImage, repository: str) -> dict[str, Any]:
    return images.build_image(
        pull_repository=f"registry.example/{repository}",
        digest=pushed.digest,
        manifest=pushed.body,
        content_type=pushed.media_type,
        config=pushed.config,
    )


async def test_tagged_push_becomes_an_exact_mapping(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v1"], layers=[b"one", b"two", b"one"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    assert (
        await deliver(
            client, notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
        )
        == 202
    )
    expected = images.image_stream_mapping(
        namespace="demo", image_stream="app", tag="v1", image=expected_image(pushed, "demo/app")
    )
    # The first POST meets a missing stream (404); the stream is created and it is sent again.
    assert [r.body for r in api.requests_to("POST", ISM)] == [expected, expected]
    (item,) = api.tag_history("demo", "app", "v1")
    assert item["image"] == pushed.digest
    assert item["dockerImageReference"] == f"registry.example/demo/app@{pushed.digest}"
    stored = api.images[pushed.digest]
    assert stored["dockerImageMetadata"]["Size"] == len(pushed.config) + len(b"one") + len(b"two")
    assert "openshift.io/image.managed" not in stored["metadata"].get("annotations", {})


async def test_push_without_digest_is_resolved_by_head(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v2"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    assert (
        await deliver(client, notification(registry, "demo/app", "v2", None, pushed.media_type))
        == 202
    )
    assert api.tag_history("demo", "app", "v2")[0]["image"] == pushed.digest
    assert registry.count("HEAD", "/v2/demo/app/manifests/v2") == 1


async def test_stale_digest_hint_maps_what_the_tag_points_at_now(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    old = registry.put_image("demo/app", tags=["v1"], layers=[b"old"])
    new = registry.put_image("demo/app", tags=["v1"], layers=[b"new"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    assert (
        await deliver(client, notification(registry, "demo/app", "v1", old.digest, old.media_type))
        == 202
    )
    assert api.tag_history("demo", "app", "v1")[0]["image"] == new.digest
    assert old.digest not in api.images


@pytest.mark.parametrize(("mode", "children_posted"), [("preserve", 2), ("index-only", 0)])
async def test_manifest_list_children_then_index(  # type: ignore[no-untyped-def]
    registry, api, tmp_path, aiohttp_client, mode: str, children_posted: int
) -> None:
    amd = registry.put_image("demo/multi", layers=[b"amd"], architecture="amd64")
    arm = registry.put_image("demo/multi", layers=[b"arm"], architecture="arm64")
    index = registry.put_index(
        "demo/multi",
        [amd, arm],
        tags=["latest"],
        platforms=[
            {"architecture": "amd64", "os": "linux"},
            {"architecture": "arm64", "os": "linux", "variant": "v8"},
        ],
    )
    client = await start(registry, api, tmp_path, aiohttp_client, manifestLists=mode)
    assert (
        await deliver(
            client, notification(registry, "demo/multi", "latest", index, mediatypes.OCI_INDEX)
        )
        == 202
    )
    posted_children = api.requests_to("POST", IMAGES)
    assert len(posted_children) == children_posted
    if children_posted:
        assert [r.body for r in posted_children] == [
            images.image_object(expected_image(amd, "demo/multi")),
            images.image_object(expected_image(arm, "demo/multi")),
        ]
        # The children exist before the mapping that references them.
        order = [r.path for r in api.requests if r.method == "POST"]
        assert max(i for i, p in enumerate(order) if p.endswith("/images")) < next(
            i for i, p in enumerate(order) if p.endswith("/imagestreammappings")
        )
    mapping = api.requests_to("POST", ISM)[-1].body
    manifests = mapping["image"]["dockerImageManifests"]
    assert [(m["digest"], m["architecture"], m.get("variant")) for m in manifests] == [
        (amd.digest, "amd64", None),
        (arm.digest, "arm64", "v8"),
    ]
    assert mapping["image"]["dockerImageMetadata"]["Id"] == index


async def test_repeated_push_fetches_nothing_twice_and_is_harmless(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v1"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
    for _ in range(2):
        assert await deliver(client, body) == 202
    assert registry.count("GET", f"/v2/demo/app/manifests/{pushed.digest}") == 1
    assert registry.count("GET", f"/v2/demo/app/blobs/{pushed.config_digest}") == 1
    assert registry.count("HEAD") == 2
    assert len(api.tag_history("demo", "app", "v1")) == 1


async def test_registry_429_is_retried_after_the_hint(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v1"])
    registry.fail_next("/v2/demo/app/manifests/v1", 429, headers={"Retry-After": "1"})
    client = await start(registry, api, tmp_path, aiohttp_client)
    assert (
        await deliver(
            client, notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
        )
        == 202
    )
    metrics = client.app[METRICS]
    assert (
        metrics.registry.get_sample_value(
            "streamhook_retries_total", {"registry": "local", "reason": "registry-rate-limited"}
        )
        == 1
    )
    assert (
        metrics.registry.get_sample_value(
            "streamhook_mappings_total", {"registry": "local", "outcome": "mapped", "reason": "ok"}
        )
        == 1
    )


async def test_missing_stream_is_created_and_5xx_retried(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v1"])
    api.inject("POST", ISM, 500)
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
    assert await deliver(client, body) == 202
    assert api.requests_to("POST", r"/namespaces/demo/imagestreams$")
    assert api.tag_history("demo", "app", "v1")[0]["image"] == pushed.digest
    assert [e["reason"] for e in api.events] == ["Mapped"]


async def test_permanent_api_error_is_not_retried_and_reported(
    registry, api, tmp_path, aiohttp_client
) -> None:  # type: ignore[no-untyped-def]
    pushed = registry.put_image("demo/app", tags=["v1"])
    api.inject("POST", ISM, 422)
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
    assert await deliver(client, body) == 202
    assert len(api.requests_to("POST", ISM)) == 1
    assert (
        client.app[METRICS].registry.get_sample_value(
            "streamhook_mappings_total",
            {"registry": "local", "outcome": "failed", "reason": "api-invalid"},
        )
        == 1
    )
    assert [(e["reason"], e["type"]) for e in api.events] == [("MappingFailed", "Warning")]


async def test_artifact_is_skipped_not_mapped(registry, api, tmp_path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    config_digest = registry.put_blob("demo/app", b"{}")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "size": 2,
                "digest": config_digest,
            },
            "layers": [],
        }
    ).encode()
    digest = registry.put_manifest("demo/app", manifest, mediatypes.OCI_MANIFEST, tags=["sig"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "sig", digest, mediatypes.OCI_MANIFEST)
    assert await deliver(client, body) == 202
    skipped = [
        s
        for m in client.app[METRICS].registry.collect()
        if m.name == "streamhook_mappings"
        for s in m.samples
        if s.name.endswith("_total") and s.labels["outcome"] == "skipped"
    ]
    assert [s.value for s in skipped] == [1]
    assert not api.requests_to("POST", ISM)


async def test_health_readiness_and_metrics(registry, api, tmp_path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await start(registry, api, tmp_path, aiohttp_client)
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    await client.post("/webhooks/local", json={"events": []}, headers=AUTH)
    text = await (await client.get("/metrics")).text()
    assert 'streamhook_webhook_requests_total{status="200",webhook="local"} 1.0' in text
    assert "streamhook_queue_capacity 1000.0" in text
    assert 'streamhook_build_info{version="' in text
    assert "streamhook_push_to_mapping_seconds_bucket" in text or "push_to_mapping" in text


async def test_tag_not_linked_yet_falls_back_to_the_verified_payload_digest(  # type: ignore[no-untyped-def]
    registry, api, tmp_path, aiohttp_client
) -> None:
    # Distribution notifies before it links the tag: the HEAD right after the push can 404.
    pushed = registry.put_image("demo/app", tags=["v1"])
    registry.fail_next("/v2/demo/app/manifests/v1", 404, methods=["HEAD"])
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "v1", pushed.digest, pushed.media_type)
    assert await deliver(client, body) == 202
    assert api.tag_history("demo", "app", "v1")[0]["image"] == pushed.digest


async def test_tag_missing_without_a_digest_is_a_permanent_failure(  # type: ignore[no-untyped-def]
    registry, api, tmp_path, aiohttp_client
) -> None:
    client = await start(registry, api, tmp_path, aiohttp_client)
    body = notification(registry, "demo/app", "gone", None, mediatypes.OCI_MANIFEST)
    assert await deliver(client, body) == 202
    assert (
        client.app[METRICS].registry.get_sample_value(
            "streamhook_mappings_total",
            {"registry": "local", "outcome": "failed", "reason": "registry-not-found"},
        )
        == 1
    )
    assert not api.requests_to("POST", ISM)
