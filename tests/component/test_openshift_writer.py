"""ClusterWriter against the OpenShift API fake: real kubernetes-asyncio, TLS, kubeconfig."""

from __future__ import annotations

import copy
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import trustme
from kubernetes_asyncio import client

from streamhook.config import OpenShiftConfig
from streamhook.errors import APIRejected, APIUnavailable, ConfigError
from streamhook.openshift import (
    ClusterWriter,
    DryRunWriter,
    RateLimiter,
    create_writer,
)
from streamhook.openshift._kubeconfig import load_configuration
from tests.fakes.openshift_api import (
    AMD64_DIGEST,
    ARM64_DIGEST,
    FakeOpenShiftAPI,
    example_child_image_arm64,
    example_image_amd64,
    example_list_image,
    example_mapping,
)

ISM_PATH = r"/namespaces/team-a/imagestreammappings$"
STREAMS_PATH = r"/namespaces/team-a/imagestreams$"
MakeWriter = Callable[..., Awaitable[ClusterWriter]]


@pytest.fixture
async def api() -> AsyncIterator[FakeOpenShiftAPI]:
    async with FakeOpenShiftAPI(namespaces=["team-a"]) as fake:
        yield fake


@pytest.fixture
def observed() -> list[tuple[str, str]]:
    return []


@pytest.fixture
async def make_writer(
    api: FakeOpenShiftAPI, tmp_path: Path, observed: list[tuple[str, str]]
) -> AsyncIterator[MakeWriter]:
    writers: list[ClusterWriter] = []

    async def make(*, token: str | None = None, **settings: Any) -> ClusterWriter:
        kubeconfig = api.write_kubeconfig(
            tmp_path / f"kubeconfig-{len(writers)}", namespace="team-a", token=token
        )
        config = OpenShiftConfig(kubeconfig=str(kubeconfig), **settings)
        writer = await ClusterWriter.from_config(
            config, observer=lambda op, outcome: observed.append((op, outcome))
        )
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        await writer.close()


def _paths(api: FakeOpenShiftAPI) -> list[tuple[str, str, int]]:
    return [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in api.requests]


# ------------------------------------------------------------------ mappings


async def test_mapping_is_created_and_the_stream_shows_the_tag_event(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    api.add_stream("team-a", "app", generation=3)
    mapping = example_mapping(example_image_amd64())
    writer = await make_writer()

    await writer.create_mapping(mapping)

    [item] = api.tag_history("team-a", "app", "1.2.3")
    assert item["image"] == AMD64_DIGEST
    assert item["dockerImageReference"] == f"registry.example.com/team/app@{AMD64_DIGEST}"
    assert item["generation"] == 3
    stored = api.images[AMD64_DIGEST]
    assert stored["dockerImageMetadata"] == mapping["image"]["dockerImageMetadata"]
    assert stored["dockerImageLayers"] == mapping["image"]["dockerImageLayers"]
    [request] = api.requests
    assert (request.method, request.status) == ("POST", 201)
    assert request.body == mapping  # sent exactly as given
    assert request.query == {}  # never dryRun, nothing else either
    assert request.warnings == []  # no field the server would not know
    assert observed == [("mapping", "created")]


async def test_mapping_body_is_not_mutated(api: FakeOpenShiftAPI, make_writer: MakeWriter) -> None:
    api.add_stream("team-a", "app")
    mapping = example_mapping(example_image_amd64())
    original = copy.deepcopy(mapping)
    await (await make_writer()).create_mapping(mapping)
    assert mapping == original


async def test_missing_stream_is_created_and_the_mapping_retried_once(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    writer = await make_writer()

    await writer.create_mapping(example_mapping(example_image_amd64()))

    assert _paths(api) == [
        ("POST", "imagestreammappings", 404),
        ("POST", "imagestreams", 201),
        ("POST", "imagestreammappings", 201),
    ]
    assert api.requests[1].body == {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": "app"},
    }
    assert [i["image"] for i in api.tag_history("team-a", "app", "1.2.3")] == [AMD64_DIGEST]
    assert observed == [("imagestream", "created"), ("mapping", "created")]


async def test_missing_stream_without_auto_create_is_rejected(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    writer = await make_writer(create_image_streams=False)

    with pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.status == 404
    assert caught.value.reason == "api-not-found"
    assert "createImageStreams" in str(caught.value)
    assert _paths(api) == [("POST", "imagestreammappings", 404)]
    assert api.streams == {}
    assert observed == [("mapping", "api-not-found")]


async def test_missing_namespace_is_rejected_and_no_stream_is_attempted(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    writer = await make_writer()

    with pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64(), namespace="ghost"))

    assert (caught.value.status, caught.value.reason) == (404, "api-not-found")
    assert 'namespaces "ghost" not found' in str(caught.value)
    assert _paths(api) == [("POST", "imagestreammappings", 404)]


async def test_stream_created_by_someone_else_meanwhile_is_fine(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    # The first ISM saw no stream; by the time we create it, another writer already has.
    api.add_stream("team-a", "app")
    api.inject(
        "POST",
        ISM_PATH,
        404,
        body={
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "reason": "NotFound",
            "message": 'imagestreammappings.image.openshift.io "app" not found',
            "details": {
                "name": "app",
                "group": "image.openshift.io",
                "kind": "imagestreammappings",
            },
            "code": 404,
        },
    )
    writer = await make_writer()

    await writer.create_mapping(example_mapping(example_image_amd64()))

    assert _paths(api) == [
        ("POST", "imagestreammappings", 404),
        ("POST", "imagestreams", 409),
        ("POST", "imagestreammappings", 201),
    ]
    assert observed == [("imagestream", "exists"), ("mapping", "created")]


async def test_stream_still_missing_after_creation_is_not_retried_again(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    api.inject(
        "POST",
        ISM_PATH,
        404,
        times=None,
        body={
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "reason": "NotFound",
            "message": "gone again",
            "details": {"name": "app", "kind": "imagestreammappings"},
            "code": 404,
        },
    )
    writer = await make_writer()

    with pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.status == 404
    assert [p[1] for p in _paths(api)] == [
        "imagestreammappings",
        "imagestreams",
        "imagestreammappings",
    ]


async def test_stream_creation_forbidden_is_rejected(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    api.deny("create", "imagestreams", "team-a")
    writer = await make_writer()

    with pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert (caught.value.status, caught.value.reason) == (403, "api-forbidden")
    assert "cannot create resource" in str(caught.value)
    assert _paths(api) == [("POST", "imagestreammappings", 404), ("POST", "imagestreams", 403)]
    assert observed == [("imagestream", "api-forbidden"), ("mapping", "api-forbidden")]


async def test_mapping_forbidden_by_rbac_is_rejected(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    api.deny("create", "imagestreammappings")
    with pytest.raises(APIRejected) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))
    assert (caught.value.status, caught.value.reason) == (403, "api-forbidden")


async def test_conflict_on_the_mapping_is_temporary(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    api.add_stream("team-a", "app")
    api.inject("POST", ISM_PATH, 409)
    writer = await make_writer()

    with pytest.raises(APIUnavailable) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.reason == "api-conflict"
    assert observed == [("mapping", "api-conflict")]
    # Re-evaluating and posting again works: the conflict was transient.
    await writer.create_mapping(example_mapping(example_image_amd64()))
    assert len(api.tag_history("team-a", "app", "1.2.3")) == 1


async def test_invalid_mapping_is_permanent_and_the_fake_really_validates(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    image = example_list_image()
    del image["dockerImageReference"]
    image["dockerImageManifests"][1]["os"] = ""
    image["dockerImageLayers"] = example_image_amd64()["dockerImageLayers"]
    writer = await make_writer()

    with pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(image))

    assert (caught.value.status, caught.value.reason) == (422, "api-invalid")
    message = str(caught.value)
    assert 'ImageStreamMapping.image.openshift.io "app" is invalid' in message
    assert "image.dockerImageReference: Required value" in message
    assert api.images == {}
    assert api.tag_history("team-a", "app", "1.2.3") == []


async def test_throttling_carries_retry_after_from_the_header(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    api.inject("POST", ISM_PATH, 429, headers={"Retry-After": "7"})

    with pytest.raises(APIUnavailable) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.reason == "api-throttled"
    assert caught.value.retry_after == 7.0


async def test_throttling_carries_retry_after_from_status_details(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Too many requests, please try again later.",
        "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 3},
        "code": 429,
    }
    api.inject("POST", ISM_PATH, 429, body=body)

    with pytest.raises(APIUnavailable) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.retry_after == 3.0
    assert "Too many requests" in str(caught.value)


@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_server_errors_are_temporary(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, code: int
) -> None:
    api.add_stream("team-a", "app")
    api.inject("POST", ISM_PATH, code)

    with pytest.raises(APIUnavailable) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.reason == "api-unavailable"
    assert caught.value.retry_after is None
    assert f"HTTP {code}" in str(caught.value)


async def test_non_status_error_body_is_not_echoed(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    api.inject("POST", ISM_PATH, 502, body="<html>proxy secret-page internals</html>")

    with pytest.raises(APIUnavailable) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))

    assert "secret-page" not in str(caught.value)
    assert "HTTP 502" in str(caught.value)


async def test_hostile_status_message_is_cleaned(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    message = f"echo: Authorization: Bearer {api.token}\nforged line\x1b[31m" + "x" * 20_000
    body = {"kind": "Status", "status": "Failure", "message": message, "code": 403}
    api.inject("POST", ISM_PATH, 403, body=body)

    with pytest.raises(APIRejected) as caught:
        await (await make_writer()).create_mapping(example_mapping(example_image_amd64()))

    text = str(caught.value)
    assert api.token not in text
    assert "Bearer <redacted>" in text
    assert "\n" not in text and "\x1b" not in text
    assert len(text) < 600


async def test_wrong_token_is_unauthorized(api: FakeOpenShiftAPI, make_writer: MakeWriter) -> None:
    api.add_stream("team-a", "app")
    bad_token = "not-the-token-0123456789"
    writer = await make_writer(token=bad_token)

    with structlog.testing.capture_logs() as logs, pytest.raises(APIRejected) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert (caught.value.status, caught.value.reason) == (401, "api-unauthorized")
    assert bad_token not in str(caught.value) and api.token not in str(caught.value)
    assert bad_token not in repr(logs) and api.token not in repr(logs)
    assert api.tag_history("team-a", "app", "1.2.3") == []


async def test_request_timeout_is_temporary(api: FakeOpenShiftAPI, make_writer: MakeWriter) -> None:
    api.add_stream("team-a", "app")
    api.inject("POST", ISM_PATH, 200, hang=True)
    writer = await make_writer(request_timeout_seconds=0.3)

    with pytest.raises(APIUnavailable) as caught:
        await writer.create_mapping(example_mapping(example_image_amd64()))

    assert caught.value.reason == "api-timeout"


async def test_unreachable_api_is_temporary(tmp_path: Path, api: FakeOpenShiftAPI) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    kubeconfig.write_text(kubeconfig.read_text().replace(api.url, f"https://127.0.0.1:{port}"))
    writer = await ClusterWriter.from_config(OpenShiftConfig(kubeconfig=str(kubeconfig)))
    try:
        with pytest.raises(APIUnavailable) as caught:
            await writer.create_image(example_child_image_arm64())
    finally:
        await writer.close()
    assert caught.value.reason == "api-unreachable"


async def test_server_certificate_from_another_ca_is_refused(
    tmp_path: Path, api: FakeOpenShiftAPI
) -> None:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    other_ca = tmp_path / "other-ca.crt"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    kubeconfig.write_text(kubeconfig.read_text().replace(api.ca_path, str(other_ca)))
    writer = await ClusterWriter.from_config(OpenShiftConfig(kubeconfig=str(kubeconfig)))
    try:
        with pytest.raises(APIUnavailable) as caught:
            await writer.create_image(example_child_image_arm64())
    finally:
        await writer.close()
    assert caught.value.reason == "api-tls"
    assert api.requests == []  # the handshake failed before anything was sent


async def test_mapping_without_namespace_is_a_programming_error(make_writer: MakeWriter) -> None:
    mapping = example_mapping(example_image_amd64())
    del mapping["metadata"]["namespace"]
    with pytest.raises(ValueError, match=r"metadata\.namespace"):
        await (await make_writer()).create_mapping(mapping)


# ------------------------------------------------------------------ child images


async def test_child_image_is_created_and_existing_one_is_success(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    writer = await make_writer()
    child = example_child_image_arm64()

    await writer.create_image(child)
    await writer.create_image(child)

    assert [r.status for r in api.requests] == [201, 409]
    assert api.requests[0].body == child
    assert api.images[ARM64_DIGEST]["dockerImageMetadata"]["Size"] == 75740668
    assert observed == [("image", "created"), ("image", "exists")]


async def test_injected_conflict_on_child_image_is_success(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.inject("POST", r"/v1/images$", 409)
    await (await make_writer()).create_image(example_child_image_arm64())
    assert [r.status for r in api.requests] == [409]


async def test_invalid_child_image_is_rejected(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    child = example_child_image_arm64()
    child["dockerImageReference"] = "Registry.Example.com/Team/App@sha256:abc"

    with pytest.raises(APIRejected) as caught:
        await (await make_writer()).create_image(child)

    assert (caught.value.status, caught.value.reason) == (422, "api-invalid")
    assert "dockerImageReference" in str(caught.value)
    assert api.images == {}


async def test_child_images_without_cluster_rbac_are_forbidden(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.deny("create", "images")
    with pytest.raises(APIRejected) as caught:
        await (await make_writer()).create_image(example_child_image_arm64())
    assert caught.value.status == 403
    assert "at the cluster scope" in str(caught.value)


async def test_manifest_list_children_then_list_mapping(
    api: FakeOpenShiftAPI, make_writer: MakeWriter
) -> None:
    api.add_stream("team-a", "app")
    writer = await make_writer()
    child = example_child_image_arm64()
    amd64 = {"kind": "Image", "apiVersion": "image.openshift.io/v1", **example_image_amd64()}

    await writer.create_image(amd64)
    await writer.create_image(child)
    await writer.create_mapping(example_mapping(example_list_image()))

    assert set(api.images) == {AMD64_DIGEST, ARM64_DIGEST, example_list_image()["metadata"]["name"]}
    [event] = api.tag_history("team-a", "app", "1.2.3")
    assert event["image"] == example_list_image()["metadata"]["name"]


# ------------------------------------------------------------------ events


async def test_event_is_recorded_on_the_image_stream(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    writer = await make_writer()

    await writer.record_event(
        namespace="team-a",
        image_stream="app",
        reason="MappingFailed",
        message="m" * 5000,
        warning=True,
    )

    [event] = api.events
    assert event["involvedObject"] == {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStream",
        "name": "app",
        "namespace": "team-a",
    }
    assert event["type"] == "Warning"
    assert event["reason"] == "MappingFailed"
    assert len(event["message"]) == 1024
    assert event["metadata"]["name"].startswith("app.")
    assert observed == [("event", "created")]


async def test_event_failure_is_only_logged(
    api: FakeOpenShiftAPI, make_writer: MakeWriter, observed: list[tuple[str, str]]
) -> None:
    api.inject("POST", r"/events$", 500)
    writer = await make_writer()

    with structlog.testing.capture_logs() as logs:
        await writer.record_event(
            namespace="team-a", image_stream="app", reason="Mapped", message="ok"
        )
        await writer.record_event(
            namespace="ghost", image_stream="app", reason="Mapped", message="ok"
        )

    assert api.events == []
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "openshift.event.failed",
        "openshift.event.failed",
    ]
    assert observed == [("event", "failed"), ("event", "failed")]


async def test_events_can_be_switched_off(api: FakeOpenShiftAPI, make_writer: MakeWriter) -> None:
    writer = await make_writer(events=False)
    await writer.record_event(namespace="team-a", image_stream="app", reason="Mapped", message="ok")
    assert api.requests == []


# ------------------------------------------------------------------ limiter, config


async def test_every_call_goes_through_the_limiter(api: FakeOpenShiftAPI, tmp_path: Path) -> None:
    api.add_stream("team-a", "app")
    sleeps: list[float] = []
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(qps=2, burst=1, max_in_flight=1, clock=lambda: now[0], sleep=fake_sleep)
    configuration = await load_configuration(str(api.write_kubeconfig(tmp_path / "kc")))
    writer = ClusterWriter(client.ApiClient(configuration=configuration), limiter=limiter)
    try:
        await writer.create_mapping(example_mapping(example_image_amd64()))
        await writer.create_mapping(example_mapping(example_image_amd64()))
        await writer.record_event(namespace="team-a", image_stream="app", reason="R", message="m")
    finally:
        await writer.close()
    assert sleeps == [0.5, 0.5]
    assert limiter.throttled == 2


async def test_kubeconfig_from_environment_when_not_in_a_cluster(
    api: FakeOpenShiftAPI, tmp_path: Path
) -> None:
    path = api.write_kubeconfig(tmp_path / "kc")
    configuration = await load_configuration(None, environ={"KUBECONFIG": str(path)})
    assert configuration.host == api.url
    assert client.Configuration.get_default_copy().host != api.url  # global default untouched


async def test_in_cluster_service_account(api: FakeOpenShiftAPI, tmp_path: Path) -> None:
    api.add_stream("team-a", "app")
    token_file = tmp_path / "token"
    token_file.write_text(api.token)
    port = api.url.rsplit(":", 1)[1]
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}

    configuration = await load_configuration(
        None, environ=environ, token_file=str(token_file), ca_file=api.ca_path
    )
    writer = ClusterWriter(client.ApiClient(configuration=configuration))
    try:
        await writer.create_mapping(example_mapping(example_image_amd64()))
    finally:
        await writer.close()

    assert api.tag_history("team-a", "app", "1.2.3")[0]["image"] == AMD64_DIGEST
    assert client.Configuration.get_default_copy().host != api.url


async def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"openshift\.kubeconfig"):
        await load_configuration(str(tmp_path / "absent"))


async def test_malformed_kubeconfig_error_does_not_quote_the_token(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text("users:\n- name: x\n  user: {token: s3cr3t-t0ken\n  : [\n")
    with pytest.raises(ConfigError) as caught:
        await load_configuration(str(path))
    assert "s3cr3t" not in str(caught.value)


async def test_create_writer_picks_the_mode(api: FakeOpenShiftAPI, tmp_path: Path) -> None:
    dry = await create_writer(OpenShiftConfig(mode="dry-run", dry_run_output=str(tmp_path / "o")))
    cluster = await create_writer(
        OpenShiftConfig(kubeconfig=str(api.write_kubeconfig(tmp_path / "kc")))
    )
    try:
        assert isinstance(dry, DryRunWriter)
        assert isinstance(cluster, ClusterWriter)
    finally:
        await dry.close()
        await cluster.close()
