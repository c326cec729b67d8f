"""A real ``streamhook serve --config FILE`` process on loopback, stopped with SIGTERM by PID."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ._process import LOOPBACK, ManagedProcess, free_port, minimal_env, wait_until

SERVICE_SOURCE = Path(__file__).resolve().parents[2] / "service"
STARTUP_TIMEOUT = 20.0
# The service is told to drain within SHUTDOWN_SECONDS; it must be gone by STOP_DEADLINE.
SHUTDOWN_SECONDS = 5.0
STOP_DEADLINE = 15.0
IDLE_TIMEOUT = 20.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=5)

QUEUE_DEPTH = "streamhook_queue_depth"
QUEUE_IN_FLIGHT = "streamhook_queue_in_flight"


def streamhook_config(
    *,
    port: int,
    kubeconfig: Path,
    registry_url: str,
    webhook_token: str,
    namespace: str = "demo",
    repository_glob: str = "demo/*",
) -> dict[str, Any]:
    """The config of the e2e brief: one Distribution webhook, one registry, one rule."""
    return {
        "server": {"listen": f"{LOOPBACK}:{port}", "shutdownTimeoutSeconds": SHUTDOWN_SECONDS},
        "logLevel": "debug",
        "logFormat": "json",
        "openshift": {
            "mode": "cluster",
            "kubeconfig": str(kubeconfig),
            "createImageStreams": True,
            "manifestLists": "preserve",
        },
        "registries": [{"name": "local", "url": registry_url}],
        "webhooks": [
            {
                "name": "local",
                "format": "distribution",
                "registry": "local",
                "auth": {"bearerToken": webhook_token},
            }
        ],
        "rules": [
            {
                "registry": "local",
                "repository": repository_glob,
                "namespace": namespace,
                "imageStream": "{name}",
                "tag": "{tag}",
            }
        ],
    }


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text → {(sample name, sorted labels): value}."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric_total(
    samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """Sum of ``name`` over every sample whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and wanted <= set(sample_labels)
    )


class StreamhookService:
    def __init__(self, workdir: Path, config: Mapping[str, Any]) -> None:
        self.workdir = workdir
        self.config = dict(config)
        self.port = int(str(self.config["server"]["listen"]).rpartition(":")[2])
        self.config_path = workdir / "streamhook.yaml"
        workdir.mkdir(parents=True, exist_ok=True)
        # The caller's PYTHONPATH first (it chooses which streamhook runs), then the checkout.
        inherited = [
            os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
        ]
        python_path = os.pathsep.join([*inherited, str(SERVICE_SOURCE)])
        self.process = ManagedProcess(
            "streamhook",
            [sys.executable, "-m", "streamhook", "serve", "--config", str(self.config_path)],
            log_dir=workdir,
            env=minimal_env(workdir, PYTHONPATH=python_path, PYTHONUNBUFFERED="1"),
            cwd=workdir,
        )
        self.stopped_code: int | None = None

    @staticmethod
    def pick_port() -> int:
        return free_port()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def webhook_url(self, name: str) -> str:
        return f"{self.url}/webhooks/{name}"

    async def __aenter__(self) -> StreamhookService:
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
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False), "utf-8")
        self.process.start()
        try:
            await wait_until(self._ready, within=STARTUP_TIMEOUT, what="streamhook GET /readyz")
        except TimeoutError as exc:
            await self.process.terminate()
            raise AssertionError(f"{exc}\n{self.process.logs()}") from None
        except BaseException:
            await self.process.terminate()
            raise

    async def stop(self) -> None:
        """SIGTERM by PID; the service must exit 0 within STOP_DEADLINE seconds."""
        if self.stopped_code is not None:
            return
        code, in_time = await self.process.terminate(STOP_DEADLINE)
        self.stopped_code = code
        if not in_time:
            raise AssertionError(
                f"streamhook ignored SIGTERM for {STOP_DEADLINE}s (killed)\n{self.process.logs()}"
            )
        if code != 0:
            raise AssertionError(f"streamhook exited {code} after SIGTERM\n{self.process.logs()}")

    async def _ready(self) -> bool:
        self.process.ensure_running()
        try:
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
                session.get(f"{self.url}/readyz") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
            session.get(f"{self.url}/metrics") as response,
        ):
            response.raise_for_status()
            return parse_metrics(await response.text())

    async def wait_idle(self, within: float = IDLE_TIMEOUT) -> None:
        """Wait until no work is queued or being processed (per the service's own gauges)."""

        async def idle() -> bool:
            self.process.ensure_running()
            samples = await self.metrics()
            return (
                metric_total(samples, QUEUE_DEPTH) == 0
                and metric_total(samples, QUEUE_IN_FLIGHT) == 0
            )

        try:
            await wait_until(idle, within=within, what="streamhook queue idle")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.process.logs()}") from None

    def log_text(self) -> str:
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in self.process.log_paths
            if path.exists()
        )
