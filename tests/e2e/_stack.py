"""The whole e2e stack: fake OpenShift API ← streamhook serve ← docker-registry ← skopeo.

Start order: fake API, streamhook (it must answer the registry's first event), registry.
Stop order is the reverse, each process by its PID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

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
) -> AsyncIterator[Stack]:
    service_port, registry_port, debug_port = free_ports(3)
    async with FakeOpenShiftAPI(token=api_token, namespaces=[NAMESPACE]) as api:
        kubeconfig = workdir / "kubeconfig"
        registry_url = f"http://127.0.0.1:{registry_port}"
        service = StreamhookService(
            workdir / "streamhook",
            streamhook_config(
                port=service_port,
                kubeconfig=kubeconfig,
                registry_url=registry_url,
                webhook_token=webhook_token,
                namespace=NAMESPACE,
            ),
        )
        registry = DistributionRegistry(
            workdir / "registry",
            NotificationEndpoint(
                url=service.webhook_url(WEBHOOK_NAME),
                headers={"Authorization": [f"Bearer {webhook_token}"]},
                ignore_blobs_pulls_mounts=filtered,
            ),
            ports=(registry_port, debug_port),
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
