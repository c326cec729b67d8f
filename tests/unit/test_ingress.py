"""The webhook handler over real HTTP (aiohttp test server), with a real MemoryQueue."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamhook.config import Settings, parse_settings
from streamhook.ingress.handler import WebhookIngress
from streamhook.metrics import Metrics
from streamhook.pipeline.queue import MemoryQueue
from tests.conftest import sample

TOKEN = "t0ken-value"


def make_settings(capacity: int) -> Settings:
    data: dict[str, Any] = {
        "server": {"maxBodyBytes": 64 * 1024},
        "queue": {"capacity": capacity, "retryAfterSeconds": 7},
        "registries": [{"name": "local", "url": "http://127.0.0.1:5000"}],
        "webhooks": [
            {
                "name": "bearer",
                "format": "distribution",
                "registry": "local",
                "auth": {"bearerToken": TOKEN},
            },
            {
                "name": "basic",
                "format": "distribution",
                "registry": "local",
                "auth": {"basic": {"username": "reg", "password": "pw"}},
            },
            {
                "name": "gitlab",
                "format": "gitlab",
                "registry": "local",
                "auth": {"header": "Authorization", "headerValue": "raw-secret"},
            },
            {
                "name": "tokenurl",
                "format": "distribution",
                "registry": "local",
                "auth": {"urlToken": "url-secret"},
            },
            {"name": "open", "format": "distribution", "registry": "local", "auth": {"none": True}},
        ],
        "rules": [{"registry": "local", "repository": "demo/*", "namespace": "demo"}],
    }
    return parse_settings(data)


class Harness:
    def __init__(self, client: TestClient, queue: MemoryQueue, metrics: Metrics) -> None:
        self.client, self.queue, self.metrics = client, queue, metrics

    async def post(self, path: str, body: bytes | dict, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        return await self.client.post(path, data=data, headers=headers or {})


async def start(aiohttp_client, capacity: int) -> Harness:  # type: ignore[no-untyped-def]
    settings = make_settings(capacity)
    queue = MemoryQueue(settings.queue.capacity)
    metrics = Metrics()
    ingress = WebhookIngress(settings, queue, metrics)
    app = web.Application()
    app.router.add_post("/webhooks/{name}", ingress.handle)
    app.router.add_post("/webhooks/{name}/{token}", ingress.handle)
    return Harness(await aiohttp_client(app), queue, metrics)


@pytest.fixture
async def harness(aiohttp_client) -> Harness:  # type: ignore[no-untyped-def]
    return await start(aiohttp_client, 100)


def push_body(tag: str = "v1", repository: str = "demo/single") -> dict:
    body = sample("distribution/v2.8.2-push-oci-manifest-tagged.json")["body"]
    body["events"][0]["target"]["tag"] = tag
    body["events"][0]["target"]["repository"] = repository
    return body


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_tagged_push_is_accepted_and_queued(harness: Harness) -> None:
    resp = await harness.post("/webhooks/bearer", push_body(), BEARER)
    assert resp.status == 202
    summary = await resp.json()
    assert summary["accepted"] == [
        {"repository": "demo/single", "tag": "v1", "target": "demo/single:v1", "outcome": "queued"}
    ]
    work = await harness.queue.get()
    assert (work.event.registry, work.event.webhook) == ("local", "bearer")
    assert work.event.digest.startswith("sha256:8c0cf097")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"X-Token": TOKEN},
    ],
)
async def test_bad_credentials_get_401_and_nothing_changes(
    harness: Harness, headers: dict[str, str]
) -> None:
    resp = await harness.post("/webhooks/bearer", push_body(), headers)
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized"}
    assert harness.queue.depth == 0


async def test_auth_happens_before_parsing(harness: Harness) -> None:
    resp = await harness.post("/webhooks/bearer", b"{not json", {})
    assert resp.status == 401


async def test_basic_header_and_url_token_auth(harness: Harness) -> None:
    good_basic = {"Authorization": "Basic " + base64.b64encode(b"reg:pw").decode()}
    bad_basic = {"Authorization": "Basic " + base64.b64encode(b"reg:nope").decode()}
    assert (await harness.post("/webhooks/basic", push_body("a"), good_basic)).status == 202
    assert (await harness.post("/webhooks/basic", push_body("b"), bad_basic)).status == 401
    assert (
        await harness.post("/webhooks/basic", push_body("b"), {"Authorization": "Basic !!!"})
    ).status == 401
    gitlab = {"Authorization": "raw-secret"}
    assert (await harness.post("/webhooks/gitlab", push_body("c"), gitlab)).status == 202
    assert (
        await harness.post(
            "/webhooks/gitlab", push_body("c"), {"Authorization": "Bearer raw-secret"}
        )
    ).status == 401
    assert (await harness.post("/webhooks/tokenurl/url-secret", push_body("d"))).status == 202
    assert (await harness.post("/webhooks/tokenurl/url-secreT", push_body("d"))).status == 401
    assert (await harness.post("/webhooks/tokenurl", push_body("d"))).status == 401
    # A token in the path of a webhook that does not use one is not a credential.
    assert (await harness.post(f"/webhooks/bearer/{TOKEN}", push_body("e"))).status == 401


async def test_repeated_header_lines_are_all_considered(harness: Harness) -> None:
    resp = await harness.client.post(
        "/webhooks/bearer",
        data=json.dumps(push_body()).encode(),
        headers=[("Authorization", "Bearer other"), ("Authorization", f"Bearer {TOKEN}")],
    )
    assert resp.status == 202


async def test_ignored_events_answer_200_and_are_counted(harness: Harness) -> None:
    for name in (
        "v2.8.2-push-blob-layer.json",
        "v2.8.2-pull-manifest-head-by-tag.json",
        "v2.8.2-push-manifest-by-digest-untagged.json",
        "v2.8.2-delete-manifest-by-digest.json",
        "v2.8.2-mount-blob-cross-repo.json",
    ):
        resp = await harness.post(
            "/webhooks/bearer", sample(f"distribution/{name}")["body"], BEARER
        )
        assert resp.status == 200, name
    resp = await harness.post("/webhooks/bearer", push_body(repository="other/app"), BEARER)
    assert resp.status == 200
    assert (await resp.json())["ignored"][0]["reason"] == "no-matching-rule"
    assert harness.queue.depth == 0
    value = harness.metrics.registry.get_sample_value(
        "streamhook_events_total", {"webhook": "bearer", "outcome": "ignored", "reason": "blob"}
    )
    assert value == 1


async def test_payload_host_that_is_not_the_registry_is_refused(harness: Harness) -> None:
    body = push_body()
    body["events"][0]["request"]["host"] = "evil.example:5000"
    resp = await harness.post("/webhooks/bearer", body, BEARER)
    assert resp.status == 200
    assert (await resp.json())["ignored"][0]["reason"] == "host-mismatch"
    assert harness.queue.depth == 0


async def test_malformed_body_is_400_with_a_reason(harness: Harness) -> None:
    resp = await harness.post("/webhooks/bearer", b'{"events": 5}', BEARER)
    assert resp.status == 400
    assert "events must be a list" in (await resp.json())["error"]


async def test_oversized_bodies_are_413_with_and_without_length(harness: Harness) -> None:
    big = b"{" + b" " * (64 * 1024) + b"}"
    resp = await harness.post("/webhooks/bearer", big, BEARER)
    assert resp.status == 413

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * 8192

    resp = await harness.client.post("/webhooks/bearer", data=chunks(), headers=BEARER)
    assert resp.status == 413
    assert harness.queue.depth == 0


async def test_unknown_webhook_is_404(harness: Harness) -> None:
    assert (await harness.post("/webhooks/nope", push_body(), BEARER)).status == 404


async def test_full_queue_is_503_with_retry_after_and_queues_nothing(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    harness = await start(aiohttp_client, 2)
    assert (await harness.post("/webhooks/bearer", push_body("a"), BEARER)).status == 202
    assert (await harness.post("/webhooks/bearer", push_body("b"), BEARER)).status == 202
    resp = await harness.post("/webhooks/bearer", push_body("c"), BEARER)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "7"
    assert harness.queue.depth == 2
    # A newer push for a waiting target still coalesces: it needs no new slot.
    resp = await harness.post("/webhooks/bearer", push_body("a"), BEARER)
    assert resp.status == 202
    assert (await resp.json())["accepted"][0]["outcome"] == "coalesced"


async def test_none_auth_accepts_without_credentials(harness: Harness) -> None:
    assert (await harness.post("/webhooks/open", push_body())).status == 202


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(body=st.binary(max_size=4096))
async def test_arbitrary_bytes_get_2xx_or_4xx_and_queue_nothing(
    harness: Harness, body: bytes
) -> None:
    resp = await harness.post("/webhooks/open", body)
    assert resp.status in (200, 400)
    assert harness.queue.depth == 0


async def test_one_malformed_event_does_not_cost_the_others(harness: Harness) -> None:
    body = push_body("good")
    body["events"].append({"action": 5, "target": {}})
    resp = await harness.post("/webhooks/bearer", body, BEARER)
    assert resp.status == 202
    summary = await resp.json()
    assert [a["tag"] for a in summary["accepted"]] == ["good"]
    assert [i["reason"] for i in summary["ignored"]] == ["malformed"]
    assert harness.queue.depth == 1
