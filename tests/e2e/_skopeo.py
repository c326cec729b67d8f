"""skopeo 1.9 pushes, isolated from every global containers/docker setting.

Isolation (checked with ``skopeo --debug``, which logs "Using blob info cache at …"):
- ``--insecure-policy``: no /etc/containers/policy.json.
- ``--registries-conf`` (empty file) and ``--registries.d`` (empty dir): no /etc/containers
  registries configuration or signature lookaside.
- ``--dest-cert-dir`` (empty dir) and ``--dest-authfile`` (``{}``) under the private dir.
- A clean environment with HOME, XDG_*, TMPDIR and CONTAINERS_CONF under the private dir.
- The blob-info cache: as root, containers/image writes
  /var/lib/containers/cache/blob-info-cache-v1.boltdb, which remembers blob locations across
  runs and registries and makes skopeo HEAD/mount blobs from other repositories (extra
  ``pull``/``mount`` events, docs/registry-webhooks.md §9.2). The location is chosen by
  ``rootless.GetRootlessEUID()``, which reads ``_CONTAINERS_ROOTLESS_UID`` before the real
  euid; setting it to a non-zero uid makes skopeo use ``$XDG_DATA_HOME/containers/cache``,
  i.e. a cache private to this directory. It only affects path selection for the docker and
  oci transports used here (no user namespace is entered: that needs
  ``_CONTAINERS_USERNS_CONFIGURED``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ._process import minimal_env

SKOPEO_BINARY = "skopeo"
COPY_TIMEOUT = 60.0
# Any non-zero uid: only used to pick per-user (here: private) cache paths.
PRIVATE_CACHE_UID = "65534"
BLOB_INFO_CACHE = Path("containers/cache/blob-info-cache-v1.boltdb")


@dataclass(frozen=True)
class CopyResult:
    argv: list[str]
    stdout: str
    stderr: str


class SkopeoFailed(AssertionError):
    pass


class Skopeo:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which(SKOPEO_BINARY)
        if binary is None:
            raise RuntimeError("skopeo not found: apt-get install skopeo (Debian 1.9.3)")
        self.binary = binary
        self.workdir = workdir
        self.home = workdir / "home"
        self.xdg_data = workdir / "xdg-data"
        self.tmp = workdir / "tmp"
        self.registries_conf = workdir / "registries.conf"
        self.registries_d = workdir / "registries.d"
        self.cert_dir = workdir / "certs"
        self.auth_file = workdir / "auth.json"
        for directory in (self.home, self.xdg_data, self.tmp, self.registries_d, self.cert_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for sub in ("xdg-config", "xdg-cache", "xdg-runtime"):
            (workdir / sub).mkdir(mode=0o700, exist_ok=True)
        self.registries_conf.write_text("", encoding="utf-8")
        (workdir / "containers.conf").write_text("", encoding="utf-8")
        self.auth_file.write_text("{}", encoding="utf-8")

    @property
    def blob_info_cache(self) -> Path:
        return self.xdg_data / BLOB_INFO_CACHE

    def environment(self) -> dict[str, str]:
        return minimal_env(
            self.home,
            XDG_DATA_HOME=str(self.xdg_data),
            XDG_CONFIG_HOME=str(self.workdir / "xdg-config"),
            XDG_CACHE_HOME=str(self.workdir / "xdg-cache"),
            XDG_RUNTIME_DIR=str(self.workdir / "xdg-runtime"),
            TMPDIR=str(self.tmp),
            CONTAINERS_CONF=str(self.workdir / "containers.conf"),
            REGISTRY_AUTH_FILE=str(self.auth_file),
            _CONTAINERS_ROOTLESS_UID=PRIVATE_CACHE_UID,
        )

    def copy_argv(
        self,
        source: str,
        destination: str,
        *,
        all_images: bool = False,
        manifest_format: str | None = None,
        debug: bool = False,
    ) -> list[str]:
        argv = [self.binary]
        if debug:
            argv.append("--debug")
        argv += [
            "--insecure-policy",
            "--registries-conf",
            str(self.registries_conf),
            "--registries.d",
            str(self.registries_d),
            "--tmpdir",
            str(self.tmp),
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-cert-dir",
            str(self.cert_dir),
            "--dest-authfile",
            str(self.auth_file),
        ]
        if all_images:
            argv.append("--all")
        if manifest_format is not None:
            argv += ["--format", manifest_format]
        return [*argv, source, destination]

    async def copy(
        self,
        source: str,
        destination: str,
        *,
        all_images: bool = False,
        manifest_format: str | None = None,
        debug: bool = False,
        limit_seconds: float = COPY_TIMEOUT,
    ) -> CopyResult:
        argv = self.copy_argv(
            source, destination, all_images=all_images, manifest_format=manifest_format, debug=debug
        )
        try:
            done = await asyncio.to_thread(
                subprocess.run,
                argv,
                capture_output=True,
                env=self.environment(),
                cwd=self.workdir,
                timeout=limit_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SkopeoFailed(f"skopeo timed out after {limit_seconds}s: {argv}") from exc
        stdout = done.stdout.decode(errors="replace")
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            raise SkopeoFailed(
                f"skopeo exited {done.returncode}: {argv}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )
        return CopyResult(argv=argv, stdout=stdout, stderr=stderr)

    async def push(
        self,
        oci_reference: str,
        registry_host: str,
        repository: str,
        tag: str,
        *,
        all_images: bool = False,
        manifest_format: str | None = None,
        debug: bool = False,
    ) -> CopyResult:
        return await self.copy(
            oci_reference,
            f"docker://{registry_host}/{repository}:{tag}",
            all_images=all_images,
            manifest_format=manifest_format,
            debug=debug,
        )
