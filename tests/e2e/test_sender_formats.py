"""Other senders' notifications for images really pushed to the Distribution registry.

GitLab: the registry itself is the sender, configured the way GitLab's registry is (the whole
``Authorization`` header is the secret, no scheme). Harbor and Quay: the registry notifies
nobody; skopeo pushes the images, then the test posts what Harbor or Quay would send for them,
and streamhook reads each image back from the registry (a Quay payload has no digest, so each
tag is resolved with a HEAD). Expectations come from the layout bytes (``_expected``) and the
digests the registry itself reports.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ._expected import DOCKER_LAYER_GZIP, DOCKER_SCHEMA2, comparable_image, expected_image
from ._expected import expected_mapping as expected_envelope
from ._oci import OCI_LAYER_GZIP, OCI_MANIFEST, SingleArchLayout, build_single_arch_layout
from ._process import wait_until
from ._registry import Manifest
from ._service import metric_total
from ._stack import NAMESPACE, WEBHOOK_NAME, Stack, running_stack
from .conftest import PROCESSES
from .test_push_to_mapping import mappings, posted_images, tag_items, warning_events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

GITLAB = "gitlab"
HARBOR = "harbor"
QUAY = "quay"
MAPPING_TIMEOUT = 15.0
REFUSAL_TIMEOUT = 15.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=5)
ACCEPTED = "202 Accepted"
UNAUTHORIZED = "401 Unauthorized"
REQUESTS = "streamhook_webhook_requests_total"
# Quay's SERVER_HOSTNAME (the name in ``docker_url``), listed in the registry's ``hosts``;
# streamhook itself reaches the registry on loopback.
QUAY_SERVER_HOSTNAME = "quay.e2e.test"
FOREIGN_HOST = "elsewhere.e2e.test"
HARBOR_POLICY_SOURCE = "/projects/1/webhook/policies/1"

StackOpener = Callable[..., AbstractAsyncContextManager[Stack]]


@pytest.fixture
def open_stack(
    request: pytest.FixtureRequest, tmp_path: Path, webhook_token: str, api_token: str
) -> StackOpener:
    """``async with open_stack(name, **running_stack options) as stack:`` (logs on failure)."""
    started = request.node.stash.setdefault(PROCESSES, [])

    @asynccontextmanager
    async def opened(name: str, **options: Any) -> AsyncIterator[Stack]:
        async with running_stack(
            tmp_path / name,
            filtered=True,
            webhook_token=webhook_token,
            api_token=api_token,
            on_process=started.append,
            **options,
        ) as stack:
            yield stack

    return opened


def new_secret() -> str:
    return secrets.token_urlsafe(24)


# --- images really pushed -------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """One image skopeo pushed, and what the registry holds for it."""

    repository: str
    tag: str
    layout: SingleArchLayout
    landed: Manifest
    layer_media_type: str

    @property
    def stream(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    @property
    def digest(self) -> str:
        return self.landed.digest

    def expected_image(self, pull_host: str) -> dict[str, Any]:
        return expected_image(
            self.layout.image,
            digest=self.landed.digest,
            manifest_media_type=self.landed.media_type,
            layer_media_type=self.layer_media_type,
            pull_host=pull_host,
            repository=self.repository,
        )


async def push(
    stack: Stack, workdir: Path, repository: str, tag: str, *, docker_v2: bool = False
) -> Pushed:
    """Push a fresh single-arch image as OCI, or converted to Docker schema 2 (new digest)."""
    seed = f"{repository}:{tag}"
    layout = build_single_arch_layout(workdir / f"{repository}-{tag}", ref_name=tag, seed=seed)
    await stack.skopeo.push(
        layout.oci_reference,
        stack.registry.host,
        repository,
        tag,
        manifest_format="v2s2" if docker_v2 else None,
    )
    landed = await stack.registry.get_manifest(repository, tag)
    if docker_v2:
        assert landed.media_type == DOCKER_SCHEMA2
        assert landed.digest != layout.image.manifest.digest
    else:
        assert landed.media_type == OCI_MANIFEST
        assert landed.body == layout.image.manifest.data
    return Pushed(
        repository=repository,
        tag=tag,
        layout=layout,
        landed=landed,
        layer_media_type=DOCKER_LAYER_GZIP if docker_v2 else OCI_LAYER_GZIP,
    )


# --- what reached the API -------------------------------------------------------------------


async def wait_for_mappings(stack: Stack, count: int) -> None:
    """Wait for ``count`` accepted mappings (a Warning Event ends the wait), then for idle."""
    await stack.api.wait_for(
        lambda: len(mappings(stack)) >= count or bool(warning_events(stack)),
        timeout=MAPPING_TIMEOUT,
    )
    assert not warning_events(stack), warning_events(stack)
    await stack.service.wait_idle()


def assert_mapped(stack: Stack, pushed: Pushed) -> None:
    """Exactly one mapping for the pushed tag, carrying the Image ``oc import-image`` stores."""
    found = [
        m
        for m in mappings(stack)
        if (m["metadata"]["name"], m["tag"]) == (pushed.stream, pushed.tag)
    ]
    assert len(found) == 1, [(m["metadata"]["name"], m["tag"]) for m in mappings(stack)]
    (mapping,) = found
    envelope = {k: v for k, v in mapping.items() if k != "image"}
    assert envelope == expected_envelope(NAMESPACE, pushed.stream, pushed.tag)
    sent = comparable_image(
        mapping["image"], manifest=pushed.landed, config=pushed.layout.image.config.data
    )
    expected = pushed.expected_image(stack.registry.host)
    assert sent == expected
    (item,) = tag_items(stack, pushed.stream, pushed.tag)
    assert item["image"] == pushed.digest
    assert item["dockerImageReference"] == expected["dockerImageReference"]


async def assert_clean_logs(stack: Stack, *hidden: str) -> None:
    """No failed mapping, no error logged, no API body with unknown fields, no secret logged."""
    samples = await stack.service.metrics()
    assert metric_total(samples, "streamhook_mappings_total", outcome="failed") == 0
    warned = [(r.method, r.path, r.warnings) for r in stack.api.requests if r.warnings]
    assert not warned, warned
    logs = stack.service.log_text()
    for secret in (stack.webhook_token, stack.api_token, *hidden):
        assert secret not in logs
    errors = [
        line
        for line in logs.splitlines()
        if line.startswith("{") and json.loads(line).get("level") in ("error", "critical")
    ]
    assert not errors, "\n".join(errors)


async def requests_answered(stack: Stack, webhook: str) -> dict[str, float]:
    """``streamhook_webhook_requests_total`` of one webhook, by status."""
    samples = await stack.service.metrics()
    return {
        status: value
        for status in ("200", "202", "400", "401", "404", "413", "503")
        if (value := metric_total(samples, REQUESTS, webhook=webhook, status=status))
    }


# --- posting as a sender --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


async def post_json(
    url: str, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Answer:
    body = json.dumps(document).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
        session.post(url, data=body, headers=sent) as response,
    ):
        return Answer(response.status, await response.json(content_type=None))


def accepted(repository: str, *tags: str) -> list[dict[str, str]]:
    """The ``accepted`` part of a 202 summary for fresh pushes mapped by the e2e rule."""
    stream = repository.rsplit("/", 1)[-1]
    return [
        {
            "repository": repository,
            "tag": tag,
            "target": f"{NAMESPACE}/{stream}:{tag}",
            "outcome": "queued",
        }
        for tag in tags
    ]


# --- GitLab: the registry is the sender -----------------------------------------------------


def gitlab_webhook(secret: str) -> dict[str, Any]:
    return {
        "name": GITLAB,
        "format": "gitlab",
        "registry": "local",
        "auth": {"header": "Authorization", "headerValue": secret},
    }


async def test_gitlab_header_auth_push_becomes_mapping(
    open_stack: StackOpener, tmp_path: Path
) -> None:
    secret = new_secret()
    async with open_stack(
        "gitlab",
        extra_webhooks=[gitlab_webhook(secret)],
        notify_webhook=GITLAB,
        notify_headers={"Authorization": [secret]},  # GitLab's way: the raw secret, no scheme
    ) as stack:
        pushed = await push(stack, tmp_path, "demo/gitlab-app", "v1")

        await wait_for_mappings(stack, 1)
        delivered = await stack.registry.wait_notifications_delivered(at_least=1)
        # The recommended filter leaves exactly the tagged manifest push.
        assert delivered.events == 1 and delivered.successes == 1, delivered
        assert delivered.statuses == {ACCEPTED: 1}, delivered.statuses

        assert_mapped(stack, pushed)
        assert len(mappings(stack)) == 1
        assert posted_images(stack) == []
        assert await requests_answered(stack, GITLAB) == {"202": 1}
        assert await requests_answered(stack, WEBHOOK_NAME) == {}
        await assert_clean_logs(stack, secret)


@pytest.mark.parametrize(
    "sent_header",
    [lambda secret: "not-" + secret, lambda secret: f"Bearer {secret}"],
    ids=["wrong-secret", "bearer-scheme-added"],
)
async def test_gitlab_header_mismatch_is_refused_and_maps_nothing(
    open_stack: StackOpener, tmp_path: Path, sent_header: Callable[[str], str]
) -> None:
    """The registry keeps retrying the refused event (Pending stays 1); the stack is stopped
    by PID regardless, so the retries cannot hold up the teardown."""
    secret = new_secret()
    async with open_stack(
        "gitlab-refused",
        extra_webhooks=[gitlab_webhook(secret)],
        notify_webhook=GITLAB,
        notify_headers={"Authorization": [sent_header(secret)]},
    ) as stack:
        await push(stack, tmp_path, "demo/gitlab-app", "v1")

        async def refused_and_counted() -> bool:
            metrics = await stack.registry.endpoint_metrics()
            answered = await requests_answered(stack, GITLAB)
            return metrics.statuses.get(UNAUTHORIZED, 0) >= 1 and answered.get("401", 0) >= 1

        await wait_until(
            refused_and_counted, within=REFUSAL_TIMEOUT, what="registry refused with 401"
        )
        metrics = await stack.registry.endpoint_metrics()
        assert metrics.successes == 0 and metrics.pending >= 1, metrics
        assert set(metrics.statuses) == {UNAUTHORIZED}, metrics.statuses
        assert set(await requests_answered(stack, GITLAB)) == {"401"}

        await stack.service.wait_idle()
        samples = await stack.service.metrics()
        # Refused before parsing: not one event was counted, queued or mapped.
        assert metric_total(samples, "streamhook_events_total", webhook=GITLAB) == 0
        assert mappings(stack) == [] and posted_images(stack) == []
        await assert_clean_logs(stack, secret, sent_header(secret))


# --- Harbor: the test is the sender ---------------------------------------------------------


def harbor_event_data(stack: Stack, repository: str, *, tag: str, digest: str) -> dict[str, Any]:
    """Harbor's ``event_data``: one resource; ``tag`` is the digest when there was no tag."""
    project, _, name = repository.partition("/")
    reference = f"@{digest}" if tag == digest else f":{tag}"
    return {
        "resources": [
            {
                "digest": digest,
                "tag": tag,
                "resource_url": f"{stack.registry.host}/{repository}{reference}",
            }
        ],
        "repository": {
            "date_created": int(time.time()) - 60,
            "name": name,
            "namespace": project,
            "repo_full_name": repository,
            "repo_type": "private",
        },
    }


def harbor_default(stack: Stack, repository: str, *, tag: str, digest: str) -> dict[str, Any]:
    return {
        "type": "PUSH_ARTIFACT",
        "occur_at": int(time.time()),
        "operator": "robot$e2e",
        "event_data": harbor_event_data(stack, repository, tag=tag, digest=digest),
    }


def harbor_cloudevent(stack: Stack, repository: str, *, tag: str, digest: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "requestid": str(uuid.uuid4()),
        "source": HARBOR_POLICY_SOURCE,
        "type": "harbor.artifact.pushed",
        "datacontenttype": "application/json",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "operator": "robot$e2e",
        "data": harbor_event_data(stack, repository, tag=tag, digest=digest),
    }


async def test_harbor_default_and_cloudevents_pushes_become_mappings(
    open_stack: StackOpener, tmp_path: Path
) -> None:
    secret = new_secret()
    auth_header = f"Bearer {secret}"  # Harbor sends its Auth Header value verbatim
    async with open_stack(
        "harbor",
        notify_webhook=None,
        extra_webhooks=[
            {
                "name": HARBOR,
                "format": "harbor",
                "registry": "local",
                "auth": {"header": "Authorization", "headerValue": auth_header},
            }
        ],
    ) as stack:
        repository = "demo/harbor-app"
        first = await push(stack, tmp_path, repository, "v1")
        second = await push(stack, tmp_path, repository, "v2", docker_v2=True)
        url = stack.service.webhook_url(HARBOR)
        good = {"Authorization": auth_header}
        default_v1 = harbor_default(stack, repository, tag="v1", digest=first.digest)

        for wrong in ({"Authorization": f"Bearer not-{secret}"}, {"Authorization": secret}, {}):
            refused = await post_json(url, default_v1, wrong)
            assert (refused.status, refused.body) == (401, {"error": "unauthorized"})

        # The child of a multi-arch push, or a push by digest: Harbor puts the digest in tag.
        untagged = await post_json(
            url, harbor_default(stack, repository, tag=first.digest, digest=first.digest), good
        )
        assert untagged.status == 200, untagged
        assert untagged.body == {
            "accepted": [],
            "ignored": [{"reason": "untagged", "repository": repository, "tag": None}],
        }

        by_default = await post_json(url, default_v1, good)
        assert (by_default.status, by_default.body["accepted"]) == (
            202,
            accepted(repository, "v1"),
        ), by_default
        by_cloudevent = await post_json(
            url,
            harbor_cloudevent(stack, repository, tag="v2", digest=second.digest),
            {**good, "Content-Type": "application/cloudevents+json"},
        )
        assert (by_cloudevent.status, by_cloudevent.body["accepted"]) == (
            202,
            accepted(repository, "v2"),
        ), by_cloudevent

        await wait_for_mappings(stack, 2)
        assert_mapped(stack, first)
        assert_mapped(stack, second)
        assert len(mappings(stack)) == 2  # nothing for the untagged artifact
        assert posted_images(stack) == []
        assert await requests_answered(stack, HARBOR) == {"401": 3, "200": 1, "202": 2}
        await assert_clean_logs(stack, secret)


# --- Quay: the test is the sender -----------------------------------------------------------


def quay_repo_push(repository: str, tags: list[str], *, host: str) -> dict[str, Any]:
    """Quay's ``repo_push`` body: no digest, no media type; ``docker_url`` has no scheme."""
    namespace, _, name = repository.partition("/")
    return {
        "repository": repository,
        "namespace": namespace,
        "name": name,
        "docker_url": f"{host}/{repository}",
        "homepage": f"https://{host}/repository/{repository}",
        "updated_tags": tags,
    }


def manifest_heads_by_streamhook(stack: Stack, repository: str, tag: str) -> list[str]:
    """Lines of the registry's access log for streamhook's HEAD of the tag."""
    access_log = stack.registry.process.stdout_path.read_text(encoding="utf-8")
    request = f'"HEAD /v2/{repository}/manifests/{tag} HTTP/1.1"'
    return [line for line in access_log.splitlines() if request in line and '"streamhook/' in line]


async def test_quay_repo_push_resolves_each_tag_and_becomes_mappings(
    open_stack: StackOpener, tmp_path: Path
) -> None:
    token = new_secret()
    async with open_stack(
        "quay",
        notify_webhook=None,
        registry_hosts=[QUAY_SERVER_HOSTNAME],
        extra_webhooks=[
            {"name": QUAY, "format": "quay", "registry": "local", "auth": {"urlToken": token}}
        ],
    ) as stack:
        repository = "demo/quay-app"
        first = await push(stack, tmp_path, repository, "1.0")
        second = await push(stack, tmp_path, repository, "2.0", docker_v2=True)
        url = stack.service.webhook_url(QUAY)
        payload = quay_repo_push(repository, ["1.0", "2.0"], host=QUAY_SERVER_HOSTNAME)

        for wrong_url in (f"{url}/not-{token}", url, f"{url}/{token[:-1]}"):
            refused = await post_json(wrong_url, payload)
            assert (refused.status, refused.body) == (401, {"error": "unauthorized"})

        # A payload naming a host that is not this registry's is refused, never dialled.
        foreign = await post_json(
            f"{url}/{token}", quay_repo_push(repository, ["1.0"], host=FOREIGN_HOST)
        )
        assert foreign.status == 200, foreign
        assert foreign.body == {
            "accepted": [],
            "ignored": [{"reason": "host-mismatch", "repository": repository, "tag": "1.0"}],
        }

        answer = await post_json(f"{url}/{token}", payload)
        assert answer.status == 202, answer
        assert answer.body == {"accepted": accepted(repository, "1.0", "2.0"), "ignored": []}

        await wait_for_mappings(stack, 2)
        assert_mapped(stack, first)
        assert_mapped(stack, second)
        assert len(mappings(stack)) == 2
        assert posted_images(stack) == []
        # No digest in the payload: the registry saw streamhook ask for each tag.
        for pushed in (first, second):
            assert manifest_heads_by_streamhook(stack, repository, pushed.tag)
        assert await requests_answered(stack, QUAY) == {"401": 3, "200": 1, "202": 1}
        await assert_clean_logs(stack, token)
