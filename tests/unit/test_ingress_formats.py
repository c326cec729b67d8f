"""Every sender format through the real webhook handler over HTTP (aiohttp test server).

The registry of an event is always the webhook's; payload hosts are only cross-checked.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from streamhook.config import WEBHOOK_FORMATS, parse_settings
from streamhook.ingress.formats import parser_for
from streamhook.ingress.handler import WebhookIngress
from streamhook.metrics import Metrics
from streamhook.pipeline.queue import MemoryQueue
from tests.conftest import sample

DIGEST = "sha256:" + "a" * 64
SECRET = "hook-secret"
AUDIENCE = "https://streamhook.example.com/webhooks/gar"
ISSUER = "https://accounts.google.com"

REGISTRIES = {
    "harbor": "https://harbor.example.com",
    "quay": "https://quay.io",
    "hub": "https://registry-1.docker.io",
    "acr": "https://test.azurecr.io",
    "gitlab": "https://registry.gitlab.example.com",
    "ghcr": "https://ghcr.io",
    "zot": "https://zot.example.com",
    "custom": "https://registry.example.com",
    "gar": "https://us-west1-docker.pkg.dev",
    "ecr": "https://123456789012.dkr.ecr.us-west-2.amazonaws.com",
    "art": "https://art.example.com",
    "nexus": "https://nexus.example.com:8443",
}
REGISTRY_OF = {
    "distribution": "gitlab",
    "gitlab": "gitlab",
    "harbor": "harbor",
    "quay": "quay",
    "dockerhub": "hub",
    "acr": "acr",
    "github": "ghcr",
    "zot": "zot",
    "cloudevents": "custom",
    "gar": "gar",
    "ecr": "ecr",
    "artifactory": "art",
    "nexus": "nexus",
}
# Headers some formats need before they look at the body at all.
FORMAT_HEADERS = {
    "github": {"X-GitHub-Event": "package"},
    "zot": {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-source": "zot",
        "ce-type": "zotregistry.image.updated",
    },
    "cloudevents": {"Content-Type": "application/cloudevents+json"},
}


def test_every_configurable_format_has_a_parser() -> None:
    assert all(parser_for(name) is not None for name in WEBHOOK_FORMATS)


# --- harness -------------------------------------------------------------------------------


class Harness:
    def __init__(self, client: TestClient, queue: MemoryQueue) -> None:
        self.client, self.queue = client, queue

    async def post(
        self, path: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.client.post(path, data=data, headers=all_headers) as resp:
            return resp.status, await resp.json()

    async def drain(self) -> list[tuple[str, str, str, str | None]]:
        works = []
        while self.queue.depth:
            work = await self.queue.get()
            self.queue.done(work)
            works.append(
                (work.event.registry, work.event.repository, work.event.tag, work.event.digest)
            )
        return works


def signer_and_jwks(tmp_path: Path) -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "RS256"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return key, str(path)


@pytest.fixture
async def ingress(aiohttp_client: Any, tmp_path: Path) -> tuple[Harness, rsa.RSAPrivateKey]:
    key, jwks = signer_and_jwks(tmp_path)
    hooks: list[dict[str, Any]] = [
        {
            "name": f"{name}-open",
            "format": name,
            "registry": REGISTRY_OF[name],
            "auth": {"none": True},
        }
        for name in WEBHOOK_FORMATS
    ]
    hooks += [
        {
            "name": "harbor",
            "format": "harbor",
            "registry": "harbor",
            "auth": {"header": "Authorization", "headerValue": "Harbor-Secret"},
        },
        {"name": "quay", "format": "quay", "registry": "quay", "auth": {"urlToken": "q-token"}},
        {"name": "github", "format": "github", "registry": "ghcr", "auth": {"hmacSecret": SECRET}},
        {
            "name": "artifactory",
            "format": "artifactory",
            "registry": "art",
            "auth": {"hmacSecret": SECRET},
        },
        {"name": "nexus", "format": "nexus", "registry": "nexus", "auth": {"hmacSecret": SECRET}},
        {
            "name": "gar",
            "format": "gar",
            "registry": "gar",
            "auth": {"oidc": {"jwksFile": jwks, "audience": AUDIENCE, "issuer": ISSUER}},
        },
    ]
    settings_ = parse_settings(
        {
            "queue": {"capacity": 100},
            "registries": [
                {"name": name, "url": url, **({"pullHost": "docker.io"} if name == "hub" else {})}
                for name, url in REGISTRIES.items()
            ],
            "webhooks": hooks,
            "rules": [
                {"registry": name, "repository": "*", "namespace": "demo"} for name in REGISTRIES
            ],
        }
    )
    queue = MemoryQueue(settings_.queue.capacity)
    handler = WebhookIngress(settings_, queue, Metrics())
    app = web.Application()
    app.router.add_post("/webhooks/{name}", handler.handle)
    app.router.add_post("/webhooks/{name}/{token}", handler.handle)
    return Harness(await aiohttp_client(app), queue), key


# --- payloads ------------------------------------------------------------------------------


def harbor_push(host: str = "harbor.example.com") -> dict[str, Any]:
    return {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1764771200,
        "operator": "alice",
        "event_data": {
            "resources": [
                {"digest": DIGEST, "tag": "v1", "resource_url": f"{host}/library/app:v1"}
            ],
            "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app"},
        },
    }


def github_push() -> dict[str, Any]:
    body = sample("github/package-published-docker.octokit-example.json")
    version = body["package"]["package_version"]
    version["container_metadata"]["tag"]["name"] = "v2"
    version["package_url"] = "ghcr.io/Codertocat/hello-world:v2"
    return body


def gar_push(host: str = "us-west1-docker.pkg.dev") -> dict[str, Any]:
    data = {
        "action": "INSERT",
        "digest": f"{host}/proj/repo/app@{DIGEST}",
        "tag": f"{host}/proj/repo/app:1.1",
    }
    encoded = base64.b64encode(json.dumps(data).encode()).decode()
    return {"message": {"data": encoded, "messageId": "m-1"}, "subscription": "projects/p/s/x"}


def acr_push() -> dict[str, Any]:
    body = sample("acr/push-event.kobold-testdata.json")
    body["target"]["digest"] = DIGEST
    return body


def hmac_hex(body: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(SECRET.encode(), body, algorithm).hexdigest()


def id_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


# --- accepted work, attributed to the webhook's registry ----------------------------------

ACCEPTED = [
    ("harbor-open", harbor_push(), {}, [("harbor", "library/app", "v1", DIGEST)]),
    (
        "quay-open",
        {"repository": "ns/app", "docker_url": "quay.io/ns/app", "updated_tags": ["v1", "latest"]},
        {},
        [("quay", "ns/app", "v1", None), ("quay", "ns/app", "latest", None)],
    ),
    (
        "dockerhub-open",
        sample("dockerhub/push.kobold-testdata.json"),
        {},
        [("hub", "svendowideit/testhook", "stable", None)],
    ),
    ("acr-open", acr_push(), {}, [("acr", "busybox", "v1", DIGEST)]),
    (
        "github-open",
        github_push(),
        {"X-GitHub-Event": "package"},
        [
            (
                "ghcr",
                "codertocat/hello-world",
                "v2",
                "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498",
            )
        ],
    ),
    (
        "zot-open",
        {"name": "team/app", "reference": "v1", "digest": DIGEST},
        FORMAT_HEADERS["zot"],
        [("zot", "team/app", "v1", DIGEST)],
    ),
    (
        "cloudevents-open",
        {
            "specversion": "1.0",
            "id": "e",
            "source": "/ci",
            "type": "com.example.image.pushed",
            "data": {"repository": "team/app", "tag": "v3"},
        },
        FORMAT_HEADERS["cloudevents"],
        [("custom", "team/app", "v3", None)],
    ),
    ("gar-open", gar_push(), {}, [("gar", "proj/repo/app", "1.1", DIGEST)]),
    (
        "ecr-open",
        {
            "detail-type": "ECR Image Action",
            "source": "aws.ecr",
            "account": "123456789012",
            "region": "us-west-2",
            "detail": {
                "result": "SUCCESS",
                "action-type": "PUSH",
                "repository-name": "team/app",
                "image-digest": DIGEST,
                "image-tag": "v4",
            },
        },
        {},
        [("ecr", "team/app", "v4", DIGEST)],
    ),
    (
        "artifactory-open",
        {
            "domain": "docker",
            "event_type": "pushed",
            "jpd_origin": "https://art.example.com",
            "data": {
                "repo_key": "docker-local",
                "image_name": "team/app",
                "name": "manifest.json",
                "tag": "v5",
                "sha256": "a" * 64,
            },
        },
        {},
        [("art", "docker-local/team/app", "v5", DIGEST)],
    ),
    (
        "nexus-open",
        {
            "action": "CREATED",
            "repositoryName": "docker-hosted",
            "component": {"format": "docker", "name": "team/app", "version": "v6"},
        },
        {},
        [("nexus", "team/app", "v6", None)],
    ),
]


@pytest.mark.parametrize(
    ("hook", "body", "headers", "expected"), ACCEPTED, ids=[case[0] for case in ACCEPTED]
)
async def test_pushes_are_queued_for_the_webhooks_registry(
    ingress: tuple[Harness, Any],
    hook: str,
    body: dict[str, Any],
    headers: dict[str, str],
    expected: list[tuple[str, str, str, str | None]],
) -> None:
    harness, _ = ingress
    status, summary = await harness.post(f"/webhooks/{hook}", body, headers)
    assert status == 202, summary
    assert await harness.drain() == expected


@pytest.mark.parametrize(
    ("hook", "body", "headers", "reason"),
    [
        ("acr-open", {"id": "p", "action": "ping"}, {}, "ping"),
        (
            "github-open",
            {"zen": "Design for failure.", "hook_id": 1},
            {"X-GitHub-Event": "ping"},
            "ping",
        ),
        ("harbor-open", {"type": "PULL_ARTIFACT", "event_data": {}}, {}, "pull"),
        ("quay-open", {"repository": "ns/app", "build_id": "b"}, {}, "not-a-push"),
        ("harbor-open", harbor_push("evil.example.com"), {}, "host-mismatch"),
        ("gar-open", gar_push("europe-docker.pkg.dev"), {}, "host-mismatch"),
        (
            "github-open",
            sample("github/package-published-docker.octokit-example.json"),
            {"X-GitHub-Event": "package"},
            "untagged",
        ),
    ],
)
async def test_authentic_notifications_without_work_answer_200(
    ingress: tuple[Harness, Any],
    hook: str,
    body: dict[str, Any],
    headers: dict[str, str],
    reason: str,
) -> None:
    harness, _ = ingress
    status, summary = await harness.post(f"/webhooks/{hook}", body, headers)
    assert status == 200, summary
    assert [i["reason"] for i in summary["ignored"]] == [reason]
    assert harness.queue.depth == 0


# --- sender authentication over HTTP ------------------------------------------------------


async def test_harbor_authorization_header(ingress: tuple[Harness, Any]) -> None:
    harness, _ = ingress
    good = {"Authorization": "Harbor-Secret"}
    assert (await harness.post("/webhooks/harbor", harbor_push(), good))[0] == 202
    assert await harness.post("/webhooks/harbor", harbor_push(), {"Authorization": "x"}) == (
        401,
        {"error": "unauthorized"},
    )


async def test_quay_url_token(ingress: tuple[Harness, Any]) -> None:
    harness, _ = ingress
    body = {"repository": "ns/app", "updated_tags": ["v1"]}
    assert (await harness.post("/webhooks/quay/q-token", body))[0] == 202
    assert (await harness.post("/webhooks/quay/q-tokem", body))[0] == 401
    assert (await harness.post("/webhooks/quay", body))[0] == 401


async def test_github_form_encoded_body_signed_over_the_raw_bytes(
    ingress: tuple[Harness, Any],
) -> None:
    harness, _ = ingress
    form = urlencode({"payload": json.dumps(github_push())}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "package",
        "X-Hub-Signature-256": f"sha256={hmac_hex(form)}",
    }
    assert (await harness.post("/webhooks/github", form, headers))[0] == 202
    tampered = form.replace(b"v2", b"v3")
    assert (await harness.post("/webhooks/github", tampered, headers))[0] == 401
    assert harness.queue.depth == 1


@pytest.mark.parametrize(
    ("hook", "header", "algorithm"),
    [
        ("artifactory", "X-JFrog-Event-Auth", "sha256"),
        ("nexus", "X-Nexus-Webhook-Signature", "sha1"),
    ],
)
async def test_artifactory_and_nexus_signatures(
    ingress: tuple[Harness, Any], hook: str, header: str, algorithm: str
) -> None:
    harness, _ = ingress
    body = json.dumps(ACCEPTED[[c[0] for c in ACCEPTED].index(f"{hook}-open")][1]).encode()
    assert (await harness.post(f"/webhooks/{hook}", body, {header: hmac_hex(body, algorithm)}))[
        0
    ] == 202
    assert (
        await harness.post(f"/webhooks/{hook}", body + b" ", {header: hmac_hex(body, algorithm)})
    )[0] == 401
    assert (await harness.post(f"/webhooks/{hook}", body, {}))[0] == 401


async def test_gar_oidc_token(ingress: tuple[Harness, rsa.RSAPrivateKey]) -> None:
    harness, key = ingress
    good = {"Authorization": f"Bearer {id_token(key)}"}
    assert (await harness.post("/webhooks/gar", gar_push(), good))[0] == 202
    for bad in (
        id_token(key, aud="https://elsewhere"),
        id_token(key, iss="https://evil"),
        id_token(key, exp=int(time.time()) - 300),
    ):
        status = (
            await harness.post("/webhooks/gar", gar_push(), {"Authorization": f"Bearer {bad}"})
        )[0]
        assert status == 401
    assert (await harness.post("/webhooks/gar", b"garbage", {}))[0] == 401
    assert await harness.drain() == [("gar", "proj/repo/app", "1.1", DIGEST)]


# --- hostile input through the handler ----------------------------------------------------


SMALL_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
GARBAGE = st.binary(max_size=1024) | SMALL_JSON.map(lambda value: json.dumps(value).encode())


@pytest.mark.parametrize("webhook_format", WEBHOOK_FORMATS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=GARBAGE)
async def test_garbage_gets_200_or_400_and_queues_nothing(
    ingress: tuple[Harness, Any], webhook_format: str, body: bytes
) -> None:
    harness, _ = ingress
    headers = FORMAT_HEADERS.get(webhook_format, {})
    async with harness.client.post(
        f"/webhooks/{webhook_format}-open",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    ) as resp:
        assert resp.status in (200, 400)
        await resp.read()
    assert harness.queue.depth == 0
