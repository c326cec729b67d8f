"""The whole e2e stack: fake OpenShift API ← streamhook serve ← docker-registry ← skopeo.

Start order: fake API, streamhook (it must answer the registry's first event), registry.
Stop order is the reverse, each process by its PID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.openshift_api import FakeOpenShiftAPI

from ._process import ManagedProcess, free_ports
from ._registry import DistributionRegistry, NotificationEndpoint
from ._service import StreamhookService, streamhook_config
from ._skopeo import Skopeo

NAMESPACE = "demo"
WEBHOOK_NAME = "local"


@dataclass(frozen=True)
class Stack:
    workdir: Path
    api: FakeOpenShiftAPI
    service: StreamhookService
    registry: DistributionRegistry
    skopeo: Skopeo
    filtered: bool
    webhook_token: str
    api_token: str


StackFactory = Callable[..., AbstractAsyncContextManager[Stack]]


@asynccontextmanager
async def running_stack(
    workdir: Path,
    *,
    filtered: bool,
    webhook_token: str,
    api_token: str,
    on_process: Callable[[ManagedProcess], None] = lambda _: None,
    extra_webhooks: Sequence[Mapping[str, Any]] = (),
    registry_hosts: Sequence[str] = (),
    notify_webhook: str | None = WEBHOOK_NAME,
    notify_headers: Mapping[str, list[str]] | None = None,
) -> AsyncIterator[Stack]:
    """The default: the registry notifies the ``local`` Distribution webhook with the bearer
    token. Other senders: ``extra_webhooks`` are added to streamhook's config, ``registry_hosts``
    become the registry's ``hosts``; ``notify_webhook`` names the webhook the registry notifies
    (None: it sends no notifications), with ``notify_headers`` instead of the bearer token."""
    service_port, registry_port, debug_port = free_ports(3)
    async with FakeOpenShiftAPI(token=api_token, namespaces=[NAMESPACE]) as api:
        kubeconfig = workdir / "kubeconfig"
        registry_url = f"http://127.0.0.1:{registry_port}"
        config = streamhook_config(
            port=service_port,
            kubeconfig=kubeconfig,
            registry_url=registry_url,
            webhook_token=webhook_token,
            namespace=NAMESPACE,
        )
        config["webhooks"] += [dict(hook) for hook in extra_webhooks]
        if registry_hosts:
            config["registries"][0]["hosts"] = list(registry_hosts)
        service = StreamhookService(workdir / "streamhook", config)
        endpoint = None
        if notify_webhook is not None:
            endpoint = NotificationEndpoint(
                url=service.webhook_url(notify_webhook),
                headers=(
                    {"Authorization": [f"Bearer {webhook_token}"]}
                    if notify_headers is None
                    else notify_headers
                ),
                ignore_blobs_pulls_mounts=filtered,
            )
        registry = DistributionRegistry(
            workdir / "registry", endpoint, ports=(registry_port, debug_port)
        )
        api.write_kubeconfig(kubeconfig, namespace=NAMESPACE)  # workdir exists now
        on_process(service.process)
        on_process(registry.process)
        async with service, registry:
            yield Stack(
                workdir=workdir,
                api=api,
                service=service,
                registry=registry,
                skopeo=Skopeo(workdir / "skopeo"),
                filtered=filtered,
                webhook_token=webhook_token,
                api_token=api_token,
            )
