"""Benchmark: N notifications through a running ``streamhook serve`` against loopback fakes.

Not a test: it prints figures. A fake registry (in process) holds one image per repository;
the OpenShift API fake (TLS, in process) records when each ImageStreamMapping lands; the
service runs as its own process, exactly as deployed. Notifications use distinct tags, so
nothing coalesces and every notification becomes one mapping.

    make bench                       # defaults below
    .venv/bin/python bench/bench_pipeline.py --notifications 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "service")]

from tests.e2e._service import StreamhookService, streamhook_config  # noqa: E402
from tests.fakes.openshift_api import FakeOpenShiftAPI  # noqa: E402
from tests.fakes.registry import FakeRegistry, standalone_servers  # noqa: E402

TOKEN = "bench-token"
ISM_PATH = "/imagestreammappings"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def notification(host: str, repository: str, tag: str, digest: str, media_type: str) -> dict:
    return {
        "events": [
            {
                "id": f"{repository}:{tag}",
                "action": "push",
                "target": {
                    "mediaType": media_type,
                    "digest": digest,
                    "repository": repository,
                    "tag": tag,
                },
                "request": {"host": host, "method": "PUT"},
            }
        ]
    }


async def run(args: argparse.Namespace) -> None:
    registry = FakeRegistry()
    async with standalone_servers() as start_server, FakeOpenShiftAPI(namespaces=["demo"]) as api:
        await registry.serve(start_server)
        images = [
            registry.put_image(f"demo/app{i}", layers=[f"layer-{i}-{j}".encode() for j in range(3)])
            for i in range(args.repositories)
        ]
        work = []
        for n in range(args.notifications):
            image = images[n % args.repositories]
            tag = f"v{n}"
            registry.tag(image.repository, tag, image.digest)
            work.append((image, tag))
        with tempfile.TemporaryDirectory(prefix="streamhook-bench-") as tmp:
            workdir = Path(tmp)
            kubeconfig = api.write_kubeconfig(workdir / "kubeconfig", namespace="demo")
            port = StreamhookService.pick_port()
            config = streamhook_config(
                port=port,
                kubeconfig=kubeconfig,
                registry_url=registry.url,
                webhook_token=TOKEN,
            )
            config["logLevel"] = "warning"
            config["queue"] = {"capacity": max(1000, args.notifications), "workers": args.workers}
            config["openshift"]["qps"] = args.qps
            config["openshift"]["burst"] = args.qps
            config["openshift"]["events"] = False
            async with StreamhookService(workdir / "service", config) as service:
                sent_at: dict[tuple[str, str], float] = {}
                statuses: dict[int, int] = {}
                semaphore = asyncio.Semaphore(args.concurrency)
                url = service.webhook_url("local")
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with aiohttp.ClientSession() as session:

                    async def send(image, tag: str) -> None:  # type: ignore[no-untyped-def]
                        body = notification(
                            registry.host, image.repository, tag, image.digest, image.media_type
                        )
                        async with semaphore:
                            sent_at[(image.repository.split("/")[-1], tag)] = time.time()
                            async with session.post(url, json=body, headers=headers) as reply:
                                statuses[reply.status] = statuses.get(reply.status, 0) + 1

                    started = time.perf_counter()
                    await asyncio.gather(*(send(image, tag) for image, tag in work))
                    accept_seconds = time.perf_counter() - started

                def mapped() -> int:
                    return sum(
                        1
                        for r in api.requests
                        if r.method == "POST" and r.path.endswith(ISM_PATH) and r.status == 201
                    )

                await api.wait_for(lambda: mapped() >= args.notifications, timeout=args.timeout)
                total_seconds = time.perf_counter() - started
        landed: dict[tuple[str, str], float] = {}
        for request in api.requests:
            if (
                request.method == "POST"
                and request.path.endswith(ISM_PATH)
                and request.status == 201
            ):
                key = (request.body["metadata"]["name"], request.body["tag"])
                landed.setdefault(key, request.received_at)
        latencies = [landed[key] - sent for key, sent in sent_at.items() if key in landed]
        registry_requests = len(registry.requests)

    n = args.notifications
    print(
        f"notifications        {n} ({args.repositories} repositories, {args.concurrency} "
        f"concurrent senders, {args.workers} workers, API qps {args.qps})"
    )
    print(f"answers              {dict(sorted(statuses.items()))}")
    print(f"accepted/s           {n / accept_seconds:,.0f}")
    print(f"mappings/s           {len(latencies) / total_seconds:,.1f}")
    print(f"push→mapping p50     {statistics.median(latencies) * 1000:,.0f} ms")
    print(f"push→mapping p99     {percentile(latencies, 0.99) * 1000:,.0f} ms")
    print(f"registry req/mapping {registry_requests / max(1, len(latencies)):.2f}")
    print(f"wall time            {total_seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=500)
    parser.add_argument("--repositories", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--qps", type=float, default=200.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
