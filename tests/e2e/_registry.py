"""A real CNCF Distribution registry (Debian ``docker-registry`` 2.8.2) on loopback.

Started as ``docker-registry serve <config.yml>`` with filesystem storage in a temporary
directory and one notification endpoint; stopped by its PID. The debug server (``/debug/vars``)
tells when every notification has been delivered and what the endpoint answered.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml

from ._process import LOOPBACK, ManagedProcess, free_ports, minimal_env, wait_until

REGISTRY_BINARY = "docker-registry"
STARTUP_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 20.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)

# The notification settings under test (docs/registry-webhooks.md §1.5, §1.6).
ENDPOINT_TIMEOUT = "1s"
ENDPOINT_THRESHOLD = 3
ENDPOINT_BACKOFF = "1s"
# The filter recommended for streamhook: drops every blob event and every pull and mount.
RECOMMENDED_IGNORE = {"mediatypes": ["application/octet-stream"], "actions": ["pull", "mount"]}

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class NotificationEndpoint:
    url: str
    headers: Mapping[str, list[str]] = field(default_factory=dict)
    ignore_blobs_pulls_mounts: bool = False  # the RECOMMENDED_IGNORE filter
    name: str = "streamhook"


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry serves it."""

    body: bytes
    media_type: str
    digest: str  # the registry's Docker-Content-Digest

    @property
    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass(frozen=True)
class EndpointMetrics:
    """``registry.notifications.endpoints[].Metrics`` from ``/debug/vars``."""

    pending: int
    events: int
    successes: int
    failures: int
    errors: int
    statuses: dict[str, int]

    @classmethod
    def from_vars(cls, metrics: Mapping[str, Any]) -> EndpointMetrics:
        return cls(
            pending=int(metrics["Pending"]),
            events=int(metrics["Events"]),
            successes=int(metrics["Successes"]),
            failures=int(metrics["Failures"]),
            errors=int(metrics["Errors"]),
            statuses={str(k): int(v) for k, v in (metrics.get("Statuses") or {}).items()},
        )


def registry_config(
    storage: Path, port: int, debug_port: int, endpoint: NotificationEndpoint | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"{LOOPBACK}:{port}", "debug": {"addr": f"{LOOPBACK}:{debug_port}"}},
    }
    if endpoint is not None:
        settings: dict[str, Any] = {
            "name": endpoint.name,
            "url": endpoint.url,
            "headers": {k: list(v) for k, v in endpoint.headers.items()},
            "timeout": ENDPOINT_TIMEOUT,
            "threshold": ENDPOINT_THRESHOLD,
            "backoff": ENDPOINT_BACKOFF,
        }
        if endpoint.ignore_blobs_pulls_mounts:
            settings["ignore"] = RECOMMENDED_IGNORE
        config["notifications"] = {
            "events": {"includereferences": True},
            "endpoints": [settings],
        }
    return config


class DistributionRegistry:
    def __init__(
        self,
        workdir: Path,
        endpoint: NotificationEndpoint | None = None,
        *,
        ports: tuple[int, int] | None = None,
    ) -> None:
        binary = shutil.which(REGISTRY_BINARY)
        if binary is None:
            raise RuntimeError(
                f"{REGISTRY_BINARY} not found: apt-get install docker-registry (Debian 2.8.2)"
            )
        self.workdir = workdir
        self.endpoint = endpoint
        self.port, self.debug_port = ports if ports is not None else free_ports(2)
        self.config_path = workdir / "config.yml"
        workdir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "docker-registry",
            [binary, "serve", str(self.config_path)],
            log_dir=workdir,
            env=minimal_env(workdir),  # no REGISTRY_* overrides leak in from the caller
            cwd=workdir,
        )

    @property
    def host(self) -> str:
        """``host:port`` as clients (and dockerImageReference) spell it."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    async def __aenter__(self) -> DistributionRegistry:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        config = registry_config(self.workdir / "data", self.port, self.debug_port, self.endpoint)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.process.start()
        try:
            await wait_until(self._answers_v2, within=STARTUP_TIMEOUT, what="registry GET /v2/")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.process.terminate()

    async def _answers_v2(self) -> bool:
        self.process.ensure_running()
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
                session.get(f"{self.url}/v2/") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        url = f"{self.url}/v2/{repository}/manifests/{reference}"
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
            session.get(url, headers={"Accept": MANIFEST_ACCEPT}) as response,
        ):
            response.raise_for_status()
            body = await response.read()
            media_type = response.headers["Content-Type"].split(";", 1)[0].strip()
            digest = response.headers["Docker-Content-Digest"]
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        if computed != digest:
            raise AssertionError(f"registry says {digest} for bytes hashing to {computed}")
        return Manifest(body=body, media_type=media_type, digest=digest)

    async def endpoint_metrics(self) -> EndpointMetrics:
        if self.endpoint is None:
            raise RuntimeError("registry started without a notification endpoint")
        url = f"http://{LOOPBACK}:{self.debug_port}/debug/vars"
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
            session.get(url) as response,
        ):
            response.raise_for_status()
            variables = await response.json(content_type=None)
        for entry in variables["registry"]["notifications"]["endpoints"]:
            if entry["name"] == self.endpoint.name:
                return EndpointMetrics.from_vars(entry["Metrics"])
        raise AssertionError(f"endpoint {self.endpoint.name!r} missing from /debug/vars")

    async def wait_notifications_delivered(
        self, *, at_least: int = 1, within: float = DELIVERY_TIMEOUT
    ) -> EndpointMetrics:
        """Wait until ``at_least`` events were queued and none is pending (all answered 2xx/3xx).

        The registry sends one event at a time per endpoint and retries a failed one forever,
        so ``pending == 0`` means every event so far got a success answer.
        """
        latest: list[EndpointMetrics] = []

        async def drained() -> bool:
            self.process.ensure_running()
            metrics = await self.endpoint_metrics()
            latest[:] = [metrics]
            return metrics.events >= at_least and metrics.pending == 0

        try:
            await wait_until(drained, within=within, what="registry notifications delivered")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; last metrics {latest}\n{self.process.logs()}") from None
        return latest[0]
