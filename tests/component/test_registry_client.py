"""RegistryClient against the FakeRegistry (real aiohttp servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
import trustme
from pytest_aiohttp import AiohttpServer

from streamhook import mediatypes
from streamhook.config import RegistryConfig
from streamhook.errors import ContentInvalid, RegistryRejected, RegistryUnavailable
from streamhook.registry import FetchedManifest, ManifestRef, RegistryClient
from streamhook.retry import RetryPolicy, retrying
from tests.fakes.registry import (
    FakeRegistry,
    FakeStorage,
    TokenRequest,
    sha256,
    standalone_servers,
)

OCI = mediatypes.OCI_MANIFEST
MiB = 1024 * 1024


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeClient = Callable[..., RegistryClient]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_client(clock: FakeClock) -> AsyncIterator[MakeClient]:
    clients: list[RegistryClient] = []

    def make(
        url: str, *, client_kwargs: dict[str, Any] | None = None, **config: Any
    ) -> RegistryClient:
        settings = RegistryConfig(name="fake", url=url, **config)
        client = RegistryClient(settings, clock=clock, **(client_kwargs or {}))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def authorizations(registry: FakeRegistry, path: str = "/v2/*") -> list[str | None]:
    return [r.authorization for r in registry.requests_matching(path=path)]


# -- anonymous --------------------------------------------------------------------------


async def test_anonymous_resolve_manifest_and_blob(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    ref = await client.resolve("demo/app", "v1")
    fetched = await client.manifest("demo/app", image.digest)
    config = await client.blob("demo/app", image.config_digest, max_bytes=MiB)

    assert ref == ManifestRef(image.digest, OCI, len(image.body))
    assert fetched == FetchedManifest(image.digest, OCI, image.body)
    assert config == image.config
    assert [(r.method, r.path) for r in registry.requests] == [
        ("HEAD", "/v2/demo/app/manifests/v1"),
        ("GET", f"/v2/demo/app/manifests/{image.digest}"),
        ("GET", f"/v2/demo/app/blobs/{image.config_digest}"),
    ]
    assert authorizations(registry) == [None, None, None]
    for request in registry.requests_matching(path="/v2/*/manifests/*"):
        assert request.headers["Accept"] == mediatypes.ACCEPT_MANIFESTS


async def test_media_type_is_normalized_content_type(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    registry.enforce_accept = False
    digest = registry.put_manifest(
        "demo/app", b'{"schemaVersion":2}', "Application/VND.OCI.image.manifest.v1+json; q=1"
    )
    await registry.serve(aiohttp_server)

    fetched = await make_client(registry.url).manifest("demo/app", digest)

    assert fetched.media_type == OCI


# -- basic auth ---------------------------------------------------------------------------


async def test_basic_credentials_sent_after_a_basic_challenge_then_preemptively(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="basic", username="alice", password="s3cr:et")
    image = registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, auth={"username": "alice", "password": "s3cr:et"})

    await client.resolve("demo/app", "v1")
    await client.manifest("demo/app", image.digest)

    expected = basic("alice", "s3cr:et")
    assert authorizations(registry) == [None, expected, expected]


async def test_basic_challenge_without_configured_credentials_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="basic")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.count() == 1


async def test_wrong_basic_password_is_rejected_after_one_retry(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="basic", username="alice", password="right")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, auth={"username": "alice", "password": "wrong"})

    with pytest.raises(RegistryRejected) as caught:
        await client.resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.count() == 2
    assert "wrong" not in str(caught.value)


# -- bearer tokens --------------------------------------------------------------------------


async def test_bearer_token_requested_for_the_repository_scope_with_basic_credentials(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", username="bob", password="pw", service="reg.test")
    registry.put_image("team/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, auth={"username": "bob", "password": "pw"})

    await client.resolve("team/app", "v1")

    assert registry.token_requests == [
        TokenRequest("reg.test", ("repository:team/app:pull",), "bob", granted=True)
    ]
    (token_request,) = registry.requests_matching(path="/token")
    assert token_request.authorization == basic("bob", "pw")
    first, second = authorizations(registry)
    assert first is None
    assert second is not None and second.startswith("Bearer fake-token-")


async def test_anonymous_bearer_token_request_carries_no_credentials(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)

    await make_client(registry.url).resolve("demo/app", "v1")

    assert [t.username for t in registry.token_requests] == [None]
    assert [r.authorization for r in registry.requests_matching(path="/token")] == [None]


async def test_token_realm_on_another_origin_gets_basic_credentials_registry_gets_token(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", username="bob", password="pw")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    await registry.serve_token_endpoint(aiohttp_server)
    assert registry.realm is not None and not registry.realm.startswith(registry.url)
    client = make_client(registry.url, auth={"username": "bob", "password": "pw"})

    await client.resolve("demo/app", "v1")

    token_calls = registry.requests_matching(server="token")
    assert [r.authorization for r in token_calls] == [basic("bob", "pw")]
    assert token_calls[0].query == {"scope": "repository:demo/app:pull", "service": "fake-registry"}
    registry_auth = authorizations(registry)
    assert registry_auth[-1] is not None and registry_auth[-1].startswith("Bearer ")
    assert basic("bob", "pw") not in registry_auth


@pytest.mark.parametrize("token_field", ["token", "access_token", "both"])
async def test_token_cached_until_expiry_minus_margin(
    aiohttp_server: AiohttpServer,
    make_client: MakeClient,
    clock: FakeClock,
    token_field: Any,
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True, token_expires_in=300)
    registry.token_field = token_field
    image = registry.put_image("demo/app", tags=["v1"])
    other = registry.put_image("demo/app", tags=["v2"], layers=[b"other"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    await client.resolve("demo/app", "v1")
    await client.manifest("demo/app", image.digest)
    await client.blob("demo/app", image.config_digest, max_bytes=MiB)
    clock.advance(289)
    await client.manifest("demo/app", other.digest)
    assert len(registry.token_requests) == 1

    clock.advance(2)  # 291 s: inside the 10 s safety margin of a 300 s token
    await client.blob("demo/app", other.config_digest, max_bytes=MiB)
    assert len(registry.token_requests) == 2
    assert registry.count() == 6  # 1 challenge + 5 authorized; no 401 when refreshing early


async def test_token_without_expires_in_lives_sixty_seconds(
    aiohttp_server: AiohttpServer, make_client: MakeClient, clock: FakeClock
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True, token_expires_in=None)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    await client.resolve("demo/app", "v1")
    clock.advance(49)
    await client.resolve("demo/app", "v1")
    assert len(registry.token_requests) == 1
    clock.advance(2)
    await client.resolve("demo/app", "v1")
    assert len(registry.token_requests) == 2


async def test_each_repository_gets_its_own_scope(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("team/a", tags=["v1"])
    registry.put_image("team/b", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    await client.resolve("team/a", "v1")
    await client.resolve("team/b", "v1")
    await client.resolve("team/a", "v1")

    assert [t.scopes for t in registry.token_requests] == [
        ("repository:team/a:pull",),
        ("repository:team/b:pull",),
    ]
    assert registry.count() == 4  # team/b: token fetched up front, no second 401


async def test_401_with_a_cached_token_reauthenticates_once(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)
    await client.resolve("demo/app", "v1")
    registry.revoke_tokens()

    ref = await client.resolve("demo/app", "v1")

    assert ref.digest.startswith("sha256:")
    assert len(registry.token_requests) == 2
    stale, fresh = authorizations(registry)[-2:]
    assert stale is not None and fresh is not None and stale != fresh


async def test_repeated_401_is_rejected_without_further_retries(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    challenge = f'Bearer realm="{registry.url}/token",service="fake-registry"'
    registry.fail_next("/v2/demo/app/*", 401, times=10, headers={"WWW-Authenticate": challenge})

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.count() == 2
    assert len(registry.token_requests) == 1


async def test_token_endpoint_refusing_credentials_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", username="bob", password="right")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, auth={"username": "bob", "password": "wrong"})

    with pytest.raises(RegistryRejected) as caught:
        await client.resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert [t.granted for t in registry.token_requests] == [False]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"token": ""}', b'{"token": "two words"}', b'{"token": "a\\r\\nX: y"}'],
)
async def test_unusable_token_response_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient, body: bytes
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.fail_next("/token", 200, body=body)

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.count() == 1


async def test_token_endpoint_outage_is_temporary(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.fail_next("/token", 503, headers={"Retry-After": "7"})

    with pytest.raises(RegistryUnavailable) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.retry_after == 7.0


async def test_challenge_with_commas_inside_quotes(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True, service='svc, "quoted"')
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.challenge_override = (
        f'Bearer realm="{registry.url}/token", service="svc, \\"quoted\\"",'
        ' scope="repository:demo/app:pull,push"'
    )

    await make_client(registry.url).resolve("demo/app", "v1")

    assert registry.token_requests == [
        TokenRequest('svc, "quoted"', ("repository:demo/app:pull",), None, granted=True)
    ]


async def test_concurrent_requests_share_one_token_request(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    images = [registry.put_image("demo/app", layers=[bytes([i])]) for i in range(5)]
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    await asyncio.gather(*(client.manifest("demo/app", image.digest) for image in images))

    assert len(registry.token_requests) == 1


async def test_challenge_without_usable_scheme_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.challenge_override = 'Negotiate abc==, Bearer service="no realm"'

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.token_requests == []


@pytest.mark.parametrize("realm", ["file:///etc/passwd", "not a url", "//host-only/token"])
async def test_unusable_realm_is_rejected_without_contacting_it(
    aiohttp_server: AiohttpServer, make_client: MakeClient, realm: str
) -> None:
    registry = FakeRegistry(auth="bearer")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.challenge_override = f'Bearer realm="{realm}",service="x"'

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.count() == 1


# -- content verification and limits ------------------------------------------------------


@pytest.mark.parametrize("digest_header", [True, False])
async def test_manifest_digest_mismatch_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient, digest_header: bool
) -> None:
    registry = FakeRegistry()
    registry.get_digest_header = digest_header
    claimed = sha256(b"what the tag should point at")
    registry.put_manifest("demo/app", b'{"schemaVersion":2}', OCI, digest=claimed)
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    with pytest.raises(ContentInvalid) as caught:
        await client.manifest("demo/app", claimed)

    assert caught.value.reason == "digest-mismatch"
    with pytest.raises(ContentInvalid):  # and nothing was cached
        await client.manifest("demo/app", claimed)
    assert registry.count("GET") == 2


async def test_manifest_by_tag_whose_digest_header_disagrees_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    registry.head_digest_header = False
    registry.put_manifest("demo/app", b"{}", OCI, tags=["v1"], digest=sha256(b"other"))
    await registry.serve(aiohttp_server)

    with pytest.raises(ContentInvalid) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "digest-mismatch"


async def test_blob_digest_mismatch_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    claimed = registry.put_blob("demo/app", b"tampered", digest=sha256(b"original"))
    await registry.serve(aiohttp_server)

    with pytest.raises(ContentInvalid) as caught:
        await make_client(registry.url).blob("demo/app", claimed, max_bytes=MiB)

    assert caught.value.reason == "digest-mismatch"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_manifest_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient, chunked: bool
) -> None:
    registry = FakeRegistry()
    registry.chunked = chunked
    fits = registry.put_manifest("demo/app", b" " * 1024, OCI)
    too_big = registry.put_manifest("demo/app", b" " * 1025, OCI)
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, max_manifest_bytes=1024)

    assert len((await client.manifest("demo/app", fits)).body) == 1024
    with pytest.raises(ContentInvalid) as caught:
        await client.manifest("demo/app", too_big)

    assert caught.value.reason == "too-large"


async def test_announced_content_length_over_the_cap_is_rejected_before_reading(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    digest = registry.put_manifest("demo/app", b" " * 4096, OCI)
    await registry.serve(aiohttp_server)
    # Only 10 bytes ever arrive: reading would fail as truncated, the header alone says too big.
    registry.truncate_next("/v2/demo/app/manifests/*", keep=10)

    with pytest.raises(ContentInvalid) as caught:
        await make_client(registry.url, max_manifest_bytes=1024).manifest("demo/app", digest)

    assert caught.value.reason == "too-large"


async def test_oversized_blob_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    registry.chunked = True
    digest = registry.put_blob("demo/app", b"x" * 5000)
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    with pytest.raises(ContentInvalid) as caught:
        await client.blob("demo/app", digest, max_bytes=4999)
    assert caught.value.reason == "too-large"

    assert len(await client.blob("demo/app", digest, max_bytes=5000)) == 5000
    with pytest.raises(ContentInvalid):  # the cached copy obeys a smaller cap too
        await client.blob("demo/app", digest, max_bytes=100)


async def test_truncated_body_is_temporary_and_a_retry_succeeds(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.truncate_next("/v2/demo/app/manifests/*")
    client = make_client(registry.url)

    with pytest.raises(RegistryUnavailable) as caught:
        await client.manifest("demo/app", image.digest)
    assert caught.value.reason == "registry-unavailable"

    assert (await client.manifest("demo/app", image.digest)).body == image.body


# -- status codes -----------------------------------------------------------------------------


async def test_429_surfaces_retry_after_seconds(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/demo/app/manifests/v1", 429, headers={"Retry-After": "2"})

    with pytest.raises(RegistryUnavailable) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-rate-limited"
    assert caught.value.retry_after == 2.0


async def test_429_retry_after_as_http_date(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next(
        "/v2/demo/app/*", 429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    at = 1445412480.0 - 30  # 30 s before that date
    client = make_client(registry.url, client_kwargs={"wall_clock": lambda: at})

    with pytest.raises(RegistryUnavailable) as caught:
        await client.manifest("demo/app", image.digest)

    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_temporary(
    aiohttp_server: AiohttpServer, make_client: MakeClient, status: int
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next(
        "/v2/*",
        status,
        body=b'{"errors":[{"code":"UNAVAILABLE","message":"db password is hunter2"}]}',
    )

    with pytest.raises(RegistryUnavailable) as caught:
        await make_client(registry.url).manifest("demo/app", image.digest)

    assert caught.value.reason == "registry-unavailable"
    assert caught.value.retry_after is None
    assert "UNAVAILABLE" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(403, "registry-auth"), (404, "registry-not-found"), (400, "registry-rejected")],
)
async def test_client_errors_are_permanent(
    aiohttp_server: AiohttpServer, make_client: MakeClient, status: int, reason: str
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/*", status, body=b'{"errors":[{"code":"' + b"A" * 300 + b'"}]}')

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).manifest("demo/app", image.digest)

    assert caught.value.reason == reason
    assert "A" * 65 not in str(caught.value)


async def test_unknown_tag_is_not_found(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).resolve("demo/app", "missing")

    assert caught.value.reason == "registry-not-found"
    assert "MANIFEST_UNKNOWN" not in str(caught.value)  # HEAD answers carry no body


async def test_temporary_errors_work_with_the_retry_helper(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/*", 503, times=2, headers={"Retry-After": "3"})
    client = make_client(registry.url)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    fetched = await retrying(
        lambda: client.manifest("demo/app", image.digest),
        RetryPolicy(initial_delay=0.01, max_delay=0.01),
        sleep=sleep,
        rng=lambda: 1.0,
    )

    assert fetched.body == image.body
    assert slept == [3.0, 3.0]


# -- resolve and caching ------------------------------------------------------------------------


async def test_resolve_uses_head_only(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    index_children = [registry.put_image("demo/app", layers=[b"a"])]
    digest = registry.put_index("demo/app", index_children, tags=["latest"])
    await registry.serve(aiohttp_server)

    ref = await make_client(registry.url).resolve("demo/app", "latest")

    assert ref.digest == digest
    assert ref.media_type == mediatypes.OCI_INDEX
    assert ref.size is not None and ref.size > 0
    assert [r.method for r in registry.requests] == ["HEAD"]


async def test_resolve_falls_back_to_get_when_head_lacks_the_digest_and_caches_it(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    registry.head_digest_header = False
    image = registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    ref = await client.resolve("demo/app", "v1")
    fetched = await client.manifest("demo/app", ref.digest)

    assert ref == ManifestRef(image.digest, OCI, len(image.body))
    assert fetched.body == image.body
    assert [r.method for r in registry.requests] == ["HEAD", "GET"]


async def test_head_by_digest_answering_another_digest_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/*", 200, headers={"Docker-Content-Digest": sha256(b"x")}, body=b"")

    with pytest.raises(ContentInvalid) as caught:
        await make_client(registry.url).resolve("demo/app", image.digest)

    assert caught.value.reason == "digest-mismatch"


async def test_fetched_digests_cost_no_second_request(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    first = await client.manifest("demo/app", image.digest)
    second = await client.manifest("demo/app", image.digest)
    by_digest = await client.resolve("demo/app", image.digest)
    await client.blob("demo/app", image.config_digest, max_bytes=MiB)
    await client.blob("demo/app", image.config_digest, max_bytes=MiB)

    assert first == second
    assert by_digest == ManifestRef(image.digest, OCI, len(image.body))
    assert registry.count() == 2


async def test_cache_size_zero_disables_caching(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    client = make_client(registry.url, client_kwargs={"cache_size": 0})

    await client.manifest("demo/app", image.digest)
    await client.manifest("demo/app", image.digest)

    assert registry.count() == 2


async def test_a_cached_manifest_counts_only_for_the_repository_it_came_from(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("team-a/app")
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    await client.manifest("team-a/app", image.digest)
    # Another repository naming the same digest must prove it has it.
    with pytest.raises(RegistryRejected) as caught:
        await client.manifest("team-b/app", image.digest)
    assert caught.value.reason == "registry-not-found"
    assert registry.count("GET", f"/v2/team-b/app/manifests/{image.digest}") == 1


# -- blob redirects ---------------------------------------------------------------------------


async def test_blob_redirect_to_another_origin_carries_no_authorization(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    image = registry.put_image("demo/app")
    storage = FakeStorage(registry)
    await registry.serve(aiohttp_server)
    await storage.serve(aiohttp_server)
    registry.redirect_blobs(storage)
    client = make_client(registry.url)

    config = await client.blob("demo/app", image.config_digest, max_bytes=MiB)

    assert config == image.config
    assert storage.authorization_headers == [None]
    assert storage.requests[0].query == {"X-Signature": storage.signature}
    assert authorizations(registry, "/v2/demo/app/blobs/*")[-1] is not None


async def test_credentials_in_a_redirect_location_are_not_sent(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    storage = FakeStorage(registry)
    await registry.serve(aiohttp_server)
    await storage.serve(aiohttp_server)
    location = storage.location(image.config_digest).replace("://", "://user:pw@")
    registry.fail_next("/v2/*", 302, headers={"Location": location})

    config = await make_client(registry.url).blob("demo/app", image.config_digest, max_bytes=MiB)

    assert config == image.config
    assert storage.authorization_headers == [None]


async def test_blob_redirect_within_the_registry_origin_keeps_authorization(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.redirect_blobs("same-origin", status=302)
    client = make_client(registry.url)

    config = await client.blob("demo/app", image.config_digest, max_bytes=MiB)

    assert config == image.config
    (storage_request,) = registry.requests_matching(path="/_storage/*")
    assert storage_request.authorization is not None
    assert storage_request.authorization.startswith("Bearer ")


async def test_blob_redirect_loop_gives_up_after_five_redirects(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.redirect_blobs("loop")

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).blob("demo/app", image.config_digest, max_bytes=MiB)

    assert caught.value.reason == "registry-redirect"
    assert registry.count() == 6


@pytest.mark.parametrize(
    "headers", [{}, {"Location": "file:///etc/passwd"}, {"Location": "ftp://127.0.0.1/x"}]
)
async def test_blob_redirect_without_usable_location_is_rejected(
    aiohttp_server: AiohttpServer, make_client: MakeClient, headers: dict[str, str]
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/*", 302, headers=headers)

    with pytest.raises(RegistryRejected) as caught:
        await make_client(registry.url).blob("demo/app", image.config_digest, max_bytes=MiB)

    assert caught.value.reason == "registry-redirect"


async def test_manifest_redirects_are_not_followed(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.fail_next("/v2/*", 302, headers={"Location": "http://127.0.0.1:1/elsewhere"})

    with pytest.raises(RegistryRejected):
        await make_client(registry.url).manifest("demo/app", image.digest)

    assert registry.count() == 1


# -- input validation ---------------------------------------------------------------------------

BAD_REPOSITORIES = [
    "",
    "Demo/app",
    "demo//app",
    "demo/../etc",
    "/demo/app",
    "demo/app/",
    "demo/app?x=1",
    "demo/app#x",
    "demo%2fapp",
    "demo/app\n",
    "démo/app",
    "a" * 256,
    "demo/-app",
    "demo/app.",
]
BAD_REFERENCES = [
    "",
    ".hidden",
    "-dash",
    "v1/../../x",
    "v1?x",
    "a" * 129,
    "tag with space",
    "tág",
    "v1\n",
    "sha256:abc",
    "sha256:" + "A" * 64,
    "sha512:" + "a" * 128,
    "sha256:" + "a" * 64 + "\n",
]


@pytest.mark.parametrize("repository", BAD_REPOSITORIES)
async def test_invalid_repository_never_reaches_the_network(
    aiohttp_server: AiohttpServer, make_client: MakeClient, repository: str
) -> None:
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)
    digest = sha256(b"x")

    for call in (
        client.resolve(repository, "v1"),
        client.manifest(repository, digest),
        client.blob(repository, digest, max_bytes=10),
    ):
        with pytest.raises(RegistryRejected) as caught:
            await call
        assert caught.value.reason == "invalid-reference"
    assert registry.requests == []


@pytest.mark.parametrize("reference", BAD_REFERENCES)
async def test_invalid_reference_never_reaches_the_network(
    aiohttp_server: AiohttpServer, make_client: MakeClient, reference: str
) -> None:
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)
    client = make_client(registry.url)

    for call in (
        client.resolve("demo/app", reference),
        client.manifest("demo/app", reference),
        client.blob("demo/app", reference, max_bytes=10),
    ):
        with pytest.raises(RegistryRejected) as caught:
            await call
        assert caught.value.reason == "invalid-reference"
    assert registry.requests == []


async def test_longest_valid_names_are_accepted(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry()
    repository = "a" * 127 + "/" + "b" * 127
    tag = "T" + "_.-9" * 31 + "xyz"
    registry.put_image(repository, tags=[tag])
    await registry.serve(aiohttp_server)

    ref = await make_client(registry.url).resolve(repository, tag)

    assert registry.requests[0].path == f"/v2/{repository}/manifests/{tag}"
    assert ref.media_type == OCI


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_tls_with_a_custom_ca(
    aiohttp_server: AiohttpServer,
    make_client: MakeClient,
    server_tls: ssl.SSLContext,
    ca_file: str,
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server, ssl=server_tls)
    assert registry.url.startswith("https://")

    ref = await make_client(registry.url, ca_file=ca_file).resolve("demo/app", "v1")

    assert ref.digest == image.digest


async def test_tls_with_an_unknown_ca_fails(
    aiohttp_server: AiohttpServer, make_client: MakeClient, server_tls: ssl.SSLContext
) -> None:
    registry = FakeRegistry()
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server, ssl=server_tls)

    with pytest.raises(RegistryUnavailable) as caught:
        await make_client(registry.url).resolve("demo/app", "v1")

    assert caught.value.reason == "registry-tls"
    assert registry.requests == []


async def test_tls_skip_verify(
    aiohttp_server: AiohttpServer, make_client: MakeClient, server_tls: ssl.SSLContext
) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server, ssl=server_tls)
    client = make_client(registry.url, insecure_skip_tls_verify=True)

    assert (await client.resolve("demo/app", "v1")).digest == image.digest


async def test_https_registry_never_sends_credentials_to_a_plain_http_realm(
    aiohttp_server: AiohttpServer,
    make_client: MakeClient,
    server_tls: ssl.SSLContext,
    ca_file: str,
) -> None:
    registry = FakeRegistry(auth="bearer", username="bob", password="pw")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server, ssl=server_tls)
    await registry.serve_token_endpoint(aiohttp_server)  # plain http
    client = make_client(registry.url, ca_file=ca_file, auth={"username": "bob", "password": "pw"})

    with pytest.raises(RegistryRejected) as caught:
        await client.resolve("demo/app", "v1")

    assert caught.value.reason == "registry-auth"
    assert registry.requests_matching(server="token") == []


# -- dockerConfigJson ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_format", ["{host}", "https://{host}", "https://{host}/v1/", "http://{host}/v2/"]
)
async def test_docker_config_json_credentials(
    aiohttp_server: AiohttpServer, make_client: MakeClient, tmp_path: Path, key_format: str
) -> None:
    registry = FakeRegistry(auth="bearer", username="carol", password="p:w")
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    encoded = base64.b64encode(b"carol:p:w").decode()
    config_file = tmp_path / "config.json"
    config_file.write_text(
        json.dumps(
            {
                "auths": {
                    "other.example:5000": {"auth": base64.b64encode(b"x:y").decode()},
                    key_format.format(host=registry.host): {"auth": encoded},
                }
            }
        )
    )
    client = make_client(registry.url, auth={"docker_config_json": str(config_file)})

    await client.resolve("demo/app", "v1")

    assert [t.username for t in registry.token_requests] == ["carol"]
    assert all(t.granted for t in registry.token_requests)


async def test_docker_config_json_without_an_entry_is_anonymous(
    aiohttp_server: AiohttpServer, make_client: MakeClient, tmp_path: Path
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"auths": {"elsewhere.example": {"auth": "eDp5"}}}))
    client = make_client(registry.url, auth={"docker_config_json": str(config_file)})

    await client.resolve("demo/app", "v1")

    assert [t.username for t in registry.token_requests] == [None]


# -- transport failures, observer, logs, lifecycle -----------------------------------------------


async def test_connection_refused_is_temporary(
    make_client: MakeClient, unused_tcp_port: int
) -> None:
    calls: list[tuple[str, str, str]] = []
    client = make_client(
        f"http://127.0.0.1:{unused_tcp_port}",
        client_kwargs={"observer": lambda *call: calls.append(call)},
    )

    with pytest.raises(RegistryUnavailable) as caught:
        await client.resolve("demo/app", "v1")

    assert caught.value.reason == "registry-unavailable"
    assert calls == [("fake", "HEAD", "ClientConnectorError")]


async def test_timeout_is_temporary(aiohttp_server: AiohttpServer, make_client: MakeClient) -> None:
    registry = FakeRegistry()
    image = registry.put_image("demo/app")
    await registry.serve(aiohttp_server)
    registry.stall_next("/v2/*")
    client = make_client(registry.url, timeout_seconds=0.3)

    with pytest.raises(RegistryUnavailable) as caught:
        await client.manifest("demo/app", image.digest)

    assert caught.value.reason == "registry-unavailable"
    assert (await client.manifest("demo/app", image.digest)).body == image.body


async def test_observer_sees_every_request(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    calls: list[tuple[str, str, str]] = []
    client = make_client(registry.url, client_kwargs={"observer": lambda *call: calls.append(call)})

    await client.resolve("demo/app", "v1")
    with pytest.raises(RegistryRejected):
        await client.resolve("demo/app", "missing")

    assert calls == [
        ("fake", "HEAD", "401"),
        ("fake", "GET", "200"),
        ("fake", "HEAD", "200"),
        ("fake", "HEAD", "404"),
    ]


async def test_secrets_never_reach_logs_or_errors(
    aiohttp_server: AiohttpServer, make_client: MakeClient
) -> None:
    registry = FakeRegistry(auth="bearer", username="dave", password="pa55-secret")
    image = registry.put_image("demo/app", tags=["v1"])
    storage = FakeStorage(registry)
    await registry.serve(aiohttp_server)
    await storage.serve(aiohttp_server)
    registry.redirect_blobs(storage)
    client = make_client(registry.url, auth={"username": "dave", "password": "pa55-secret"})

    with structlog.testing.capture_logs() as logs:
        await client.resolve("demo/app", "v1")
        await client.blob("demo/app", image.config_digest, max_bytes=MiB)
        registry.revoke_tokens()
        registry.fail_next("/v2/*", 404)
        with pytest.raises(RegistryRejected) as caught:
            await client.manifest("demo/app", image.digest)

    token = (authorizations(registry)[1] or "").removeprefix("Bearer ")
    secrets = ["pa55-secret", basic("dave", "pa55-secret").split()[1], token, storage.signature]
    text = repr(logs) + str(caught.value)
    assert token and not any(secret in text for secret in secrets)
    requests = [e for e in logs if e["event"] == "registry.request"]
    assert {(e["method"], e["status"]) for e in requests} >= {("HEAD", 401), ("GET", 200)}
    assert all(e["log_level"] == "debug" for e in requests)


async def test_close_and_async_with(aiohttp_server: AiohttpServer) -> None:
    registry = FakeRegistry()
    registry.put_image("demo/app", tags=["v1"])
    await registry.serve(aiohttp_server)
    settings = RegistryConfig(name="fake", url=registry.url)

    async with RegistryClient(settings) as client:
        await client.resolve("demo/app", "v1")
    await client.close()  # closing twice is harmless

    with pytest.raises(RuntimeError):
        await client.resolve("demo/app", "v1")
    assert registry.count() == 1


# -- the fake itself (other tests rely on it) ---------------------------------------------------


async def test_fake_bearer_tokens_are_scoped_to_their_repository() -> None:
    registry = FakeRegistry(auth="bearer", anonymous_pull=True)
    registry.put_image("team/a", tags=["v1"])
    registry.put_image("team/b", tags=["v1"])
    async with standalone_servers() as start:
        await registry.serve(start)
        async with aiohttp.ClientSession() as session:
            async with session.get(
                f"{registry.url}/token",
                params={"service": "fake-registry", "scope": "repository:team/a:pull"},
            ) as response:
                token = (await response.json())["token"]
            bearer = {"Authorization": f"Bearer {token}", "Accept": OCI}
            async with session.head(f"{registry.url}/v2/team/a/manifests/v1", headers=bearer) as ok:
                assert ok.status == 200
            async with session.head(
                f"{registry.url}/v2/team/b/manifests/v1", headers=bearer
            ) as denied:
                assert denied.status == 401
                assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
            async with session.get(
                f"{registry.url}/token", params={"service": "other", "scope": "x"}
            ) as wrong_service:
                assert wrong_service.status == 401


async def test_fake_enforces_accept_and_counts_requests() -> None:
    registry = FakeRegistry()
    registry.put_index("demo/app", [registry.put_image("demo/app")], tags=["v1"])
    async with standalone_servers() as start:
        await registry.serve(start)
        async with aiohttp.ClientSession() as session:
            url = f"{registry.url}/v2/demo/app/manifests/v1"
            async with session.get(url, headers={"Accept": OCI}) as refused:
                assert refused.status == 404
            async with session.get(url, headers={"Accept": mediatypes.OCI_INDEX}) as served:
                assert served.status == 200
    assert registry.count("GET", "/v2/*/manifests/*") == 2
