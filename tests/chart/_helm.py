"""Running the real helm binary on the chart and reading back what it renders."""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "streamhook"
CI_VALUES_DIR = CHART / "ci"
HELM = ROOT / ".tools" / "bin" / "helm"
HELM_HOME = ROOT / ".tools" / "helm-home"
INSTALL_HINT = "run `bash scripts/install-tools.sh` (or `make tools`) first"

RELEASE = "sh"
NAMESPACE = "streamhook-system"
FULLNAME = "sh-streamhook"
HELM_TIMEOUT_SECONDS = 60

Manifest = dict[str, Any]


def ci_value_files() -> list[Path]:
    return sorted(CI_VALUES_DIR.glob("*.yaml"))


def helm_binary() -> Path:
    if not (HELM.is_file() and os.access(HELM, os.X_OK)):
        pytest.fail(f"helm not found at {HELM}: {INSTALL_HINT}", pytrace=False)
    return HELM


def _helm_env() -> dict[str, str]:
    # Keep helm's cache/config/data out of $HOME so tests leave nothing behind.
    env = dict(os.environ)
    for variable, sub in (
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        env[variable] = str(HELM_HOME / sub)
    env.pop("KUBECONFIG", None)
    return env


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary()), *args],
        capture_output=True,
        text=True,
        env=_helm_env(),
        timeout=HELM_TIMEOUT_SECONDS,
        check=False,
    )


@dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template` run."""

    text: str
    objects: tuple[Manifest, ...]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    def named(self, kind: str) -> dict[str, Manifest]:
        return {o["metadata"]["name"]: o for o in self.of_kind(kind)}

    @property
    def deployment(self) -> Manifest:
        return self.one("Deployment", FULLNAME)

    @property
    def pod_spec(self) -> Manifest:
        spec: Manifest = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Manifest:
        containers = self.pod_spec["containers"]
        assert len(containers) == 1
        container: Manifest = containers[0]
        return container

    @property
    def config_text(self) -> str:
        text: str = self.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
        return text

    @property
    def config(self) -> Manifest:
        loaded: Manifest = yaml.safe_load(self.config_text)
        return loaded


class HelmFailed(AssertionError):
    def __init__(self, args: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        self.stderr = result.stderr


def _template_args(values: tuple[str, ...], sets: tuple[str, ...]) -> tuple[str, ...]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in values:
        args += ["--values", path]
    for assignment in sets:
        args += ["--set", assignment]
    return tuple(args)


@functools.cache
def _render_cached(values: tuple[str, ...], sets: tuple[str, ...], overrides: str) -> Rendered:
    with tempfile.TemporaryDirectory(prefix="streamhook-values-") as tmp:
        if overrides:
            extra = Path(tmp) / "overrides.yaml"
            extra.write_text(overrides)
            values = (*values, str(extra))
        args = _template_args(values, sets)
        result = run_helm(*args)
    if result.returncode != 0:
        raise HelmFailed(args, result)
    objects = tuple(o for o in yaml.safe_load_all(result.stdout) if o)
    return Rendered(result.stdout, objects)


def render(
    *values: Path, sets: tuple[str, ...] = (), overrides: Mapping[str, Any] | None = None
) -> Rendered:
    """`helm template` with values files, `--set` assignments and an inline values mapping."""
    text = yaml.safe_dump(dict(overrides), sort_keys=True) if overrides else ""
    return _render_cached(tuple(str(v) for v in values), sets, text)


def render_error(
    *values: Path, sets: tuple[str, ...] = (), overrides: Mapping[str, Any] | None = None
) -> str:
    """The stderr of a `helm template` that must fail."""
    try:
        render(*values, sets=sets, overrides=overrides)
    except HelmFailed as failure:
        return failure.stderr
    raise AssertionError(f"helm template accepted values {values} {sets} {overrides}")


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested manifest."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)
