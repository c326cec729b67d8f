"""The command line as users run it: a real ``python -m streamhook`` process each time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import sys
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
import yaml

from streamhook import __version__
from streamhook import image as images
from tests.e2e._process import free_port, wait_until
from tests.fakes.registry import FakeRegistry

SERVICE = Path(__file__).resolve().parents[2] / "service"


async def spawn(*args: str, stdout: int, env: dict[str, str] | None = None) -> Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamhook",
        *args,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(SERVICE), **(env or {})},
    )


async def start_serve(config: Path) -> Process:
    """``streamhook serve`` in the background; the caller stops it and reads its stderr."""
    return await spawn("serve", "--config", str(config), stdout=asyncio.subprocess.DEVNULL)


async def streamhook(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await spawn(*args, stdout=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def base_config(registry_url: str = "http://127.0.0.1:5000") -> dict[str, Any]:
    return {
        "openshift": {"mode": "dry-run"},
        "registries": [{"name": "local", "url": registry_url}],
        "webhooks": [
            {
                "name": "local",
                "format": "distribution",
                "registry": "local",
                "auth": {"bearerToken": "very-secret-token"},
            }
        ],
        "rules": [{"registry": "local", "repository": "demo/*", "namespace": "demo"}],
    }


async def test_version() -> None:
    code, out, _ = await streamhook("--version")
    assert (code, out.strip()) == (0, f"streamhook {__version__}")


async def test_check_config_prints_effective_config_without_secrets(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", base_config())
    code, out, err = await streamhook("check-config", "--config", str(path))
    assert code == 0, err
    effective = yaml.safe_load(out)
    assert effective["server"]["listen"] == "0.0.0.0:8080"
    assert effective["registries"][0]["insecureSkipTLSVerify"] is False
    assert "very-secret-token" not in out + err


async def test_check_config_errors_name_the_key_and_exit_1(tmp_path: Path) -> None:
    data = base_config()
    data["rules"][0]["nmespace"] = "typo"
    path = write_config(tmp_path / "c.yaml", data)
    code, _, err = await streamhook("check-config", "--config", str(path))
    assert code == 1
    assert "rules[0].nmespace: unknown key" in err


async def test_config_from_environment_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", base_config())
    code, _, err = await streamhook("check-config", env={"STREAMHOOK_CONFIG": str(path)})
    assert code == 0, err
    code, _, err = await streamhook("check-config")
    assert code == 1 and "STREAMHOOK_CONFIG" in err


async def test_map_dry_run_prints_children_then_mapping(tmp_path: Path, aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)
    amd = registry.put_image("demo/multi", layers=[b"a"], architecture="amd64")
    arm = registry.put_image("demo/multi", layers=[b"b"], architecture="arm64")
    registry.put_index(
        "demo/multi",
        [amd, arm],
        tags=["v1"],
        platforms=[
            {"architecture": "amd64", "os": "linux"},
            {"architecture": "arm64", "os": "linux"},
        ],
    )
    path = write_config(tmp_path / "c.yaml", base_config(registry.url))
    code, out, err = await streamhook(
        "map", "--config", str(path), "--dry-run", f"{registry.host}/demo/multi:v1"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["kind"] for line in lines] == ["Image", "Image", "ImageStreamMapping"]
    assert lines[0] == images.image_object(
        images.build_image(
            pull_repository=f"{registry.host}/demo/multi",
            digest=amd.digest,
            manifest=amd.body,
            content_type=amd.media_type,
            config=amd.config,
        )
    )
    assert lines[2]["metadata"] == {"name": "multi", "namespace": "demo"}
    assert lines[2]["tag"] == "v1"


async def test_map_with_to_and_digest(tmp_path: Path, aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)
    pushed = registry.put_image("other/app")
    path = write_config(tmp_path / "c.yaml", base_config(registry.url))
    ref = f"{registry.host}/other/app@{pushed.digest}"
    code, _, err = await streamhook("map", "--config", str(path), "--dry-run", ref)
    assert code == 2 and "needs --to" in err
    code, out, err = await streamhook(
        "map", "--config", str(path), "--dry-run", "--to", "team/stream:prod", ref
    )
    assert code == 0, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert (line["metadata"]["namespace"], line["metadata"]["name"], line["tag"]) == (
        "team",
        "stream",
        "prod",
    )
    assert line["image"]["metadata"]["name"] == pushed.digest


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("elsewhere.example/demo/app:v1", "not a configured registry"),
        ("no-host-here", "must start with a registry host"),
        ("127.0.0.1:5000/demo/app", "give a tag or a digest"),
    ],
)
async def test_map_refuses_bad_references(tmp_path: Path, ref: str, message: str) -> None:
    path = write_config(tmp_path / "c.yaml", base_config())
    code, _, err = await streamhook("map", "--config", str(path), "--dry-run", ref)
    assert code == 2 and message in err


async def test_serve_over_tls_and_stop_on_sigterm(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(tmp_path / "tls.key")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "tls.crt")
    port = free_port()
    data = base_config()
    data["server"] = {
        "listen": f"127.0.0.1:{port}",
        "tlsCertFile": str(tmp_path / "tls.crt"),
        "tlsKeyFile": str(tmp_path / "tls.key"),
    }
    path = write_config(tmp_path / "c.yaml", data)
    process = await start_serve(path)
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                assert process.returncode is None, "streamhook exited"
                try:
                    async with session.get(f"https://127.0.0.1:{port}/readyz", ssl=context) as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(ready, within=20, what="streamhook /readyz over TLS")
            async with session.get(f"https://127.0.0.1:{port}/healthz", ssl=context) as r:
                assert r.status == 200
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]


async def test_serve_with_an_unusable_kubeconfig_exits_1_naming_the_key(tmp_path: Path) -> None:
    data = base_config()
    data["server"] = {"listen": f"127.0.0.1:{free_port()}"}
    (tmp_path / "kubeconfig").write_text("clusters: []\n")  # exists, but names no cluster
    data["openshift"] = {"mode": "cluster", "kubeconfig": str(tmp_path / "kubeconfig")}
    path = write_config(tmp_path / "c.yaml", data)
    code, _, err = await streamhook("serve", "--config", str(path))
    assert code == 1
    assert "openshift.kubeconfig: cannot use" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("target", ["Team/app:v1", "team/app", "team/a/b:v1", "team/app:bad tag"])
async def test_map_refuses_an_invalid_to(tmp_path: Path, target: str) -> None:
    path = write_config(tmp_path / "c.yaml", base_config())
    code, _, err = await streamhook(
        "map", "--config", str(path), "--dry-run", "--to", target, "127.0.0.1:5000/demo/app:v1"
    )
    assert code == 2
    assert "--to" in err


async def test_sigterm_drains_while_still_answering_503_then_names_abandoned_work(
    tmp_path: Path,
    aiohttp_server,  # type: ignore[no-untyped-def]
) -> None:
    registry = FakeRegistry()
    await registry.serve(aiohttp_server)
    pushed = registry.put_image("demo/app", tags=["v1"])
    registry.stall_next("/v2/demo/app/manifests/v1")  # the mapping hangs until shutdown
    port = free_port()
    data = base_config(registry.url)
    data["server"] = {"listen": f"127.0.0.1:{port}", "shutdownTimeoutSeconds": 2}
    data["logFormat"] = "json"
    path = write_config(tmp_path / "c.yaml", data)
    process = await start_serve(path)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer very-secret-token"}
    push = {
        "events": [
            {
                "action": "push",
                "id": "ev-1",
                "target": {
                    "mediaType": pushed.media_type,
                    "repository": "demo/app",
                    "tag": "v1",
                    "digest": pushed.digest,
                },
            }
        ]
    }
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                assert process.returncode is None, "streamhook exited"
                try:
                    async with session.get(f"{base}/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(ready, within=20, what="streamhook /readyz")
            async with session.post(f"{base}/webhooks/local", json=push, headers=headers) as r:
                assert r.status == 202

            async def stalled() -> bool:
                return registry.count("HEAD", "/v2/demo/app/manifests/v1") == 1

            await wait_until(stalled, within=10, what="the mapping to reach the registry")
            process.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                async with session.get(f"{base}/readyz") as r:
                    return r.status == 503

            await wait_until(draining, within=10, what="/readyz to report shutting down")
            async with session.post(f"{base}/webhooks/local", json=push, headers=headers) as r:
                assert r.status == 503
                assert r.headers["Retry-After"]
    finally:
        _, err = await asyncio.wait_for(process.communicate(), 30)
        registry.release_stalled()
    logs = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert process.returncode == 0
    (abandoned,) = [line for line in logs if line["event"] == "shutdown.abandoned_work"]
    assert (abandoned["event_id"], abandoned["target"]) == ("ev-1", "demo/app:v1")


async def test_serve_on_a_busy_port_is_a_clean_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        data = base_config()
        data["server"] = {"listen": f"127.0.0.1:{busy.getsockname()[1]}"}
        path = write_config(tmp_path / "c.yaml", data)
        code, _, err = await streamhook("serve", "--config", str(path))
    assert code == 1
    assert "cannot listen on 127.0.0.1:" in err and "Traceback" not in err
