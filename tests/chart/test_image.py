"""The container image: Dockerfile lint and contract, and the wheel installed the way it does.

No container engine runs here, so the image build itself is re-enacted: the wheel is built
from exactly the files the Docker build context admits and installed into a fresh virtualenv,
whose `streamhook` then checks the config the chart renders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from streamhook import __version__
from tests.chart._helm import CI_VALUES_DIR, ROOT, render
from tests.chart._kube import materialise_pod_files

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = Path(sys.executable).parent
HADOLINT = VENV_BIN / "hadolint"
HADOLINT_TIMEOUT_SECONDS = 60
BUILD_TIMEOUT_SECONDS = 600
INSTALL_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 60
CONFIG_DEFAULT = "/etc/streamhook/config.yaml"
# Defaults, and the set with a registry CA, registry basic auth and secrets made by the chart,
# and the one with every secret from outside Secrets.
WHEEL_CHECKED_VALUE_SETS = ("default", "cluster-wide-values", "existing-secret-values")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.is_file():
        pytest.fail(
            f"hadolint not found at {HADOLINT}: run `bash scripts/install-tools.sh` first",
            pytrace=False,
        )
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--format", "tty", str(path)],
        capture_output=True,
        text=True,
        timeout=HADOLINT_TIMEOUT_SECONDS,
        check=False,
    )


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


# -- Dockerfile ------------------------------------------------------------------------------------


def test_hadolint_passes() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get install curl\nUSER root\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3002" in result.stdout  # root user


def test_multi_stage_on_ubi9_installing_only_the_wheel() -> None:
    build, runtime = stages(DOCKERFILE.read_text())
    assert build[0][1].startswith("registry.access.redhat.com/ubi9/python-311:")
    assert build[0][1].endswith(" AS build")
    assert runtime[0][1].startswith("registry.access.redhat.com/ubi9/")
    build_runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "-m build --wheel" in build_runs
    assert re.search(r"pip install --no-cache-dir /tmp/dist/streamhook-\*\.whl", build_runs)
    # The runtime stage takes the installed venv only: no sources, no build tools.
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=build --chown=0:0 /opt/streamhook /opt/streamhook"]
    assert not [rest for keyword, rest in runtime if keyword == "ADD"]


def test_runtime_contract() -> None:
    runtime = stages(DOCKERFILE.read_text())[-1]

    def last(keyword: str) -> str:
        return [rest for k, rest in runtime if k == keyword][-1]

    assert json.loads(last("ENTRYPOINT")) == ["streamhook"]
    assert json.loads(last("CMD")) == ["serve"]
    assert f"STREAMHOOK_CONFIG={CONFIG_DEFAULT}" in last("ENV")
    assert "PATH=/opt/streamhook/bin:" in last("ENV")
    user, _, group = last("USER").partition(":")
    assert user.isdigit() and int(user) != 0, "a numeric non-root UID lets runAsNonRoot verify it"
    assert group == "0", "group 0 makes the image work with OpenShift's arbitrary UIDs"


def test_oci_labels() -> None:
    text = DOCKERFILE.read_text()
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', text))
    assert {"title", "description", "version", "licenses"} <= {k.rsplit(".", 1)[1] for k in labels}
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert re.search(rf"^ARG VERSION={re.escape(__version__)}$", text, re.MULTILINE)


def _context_files() -> list[str]:
    """Top-level paths the .dockerignore admits (it must be an allowlist)."""
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore must start by excluding everything"
    return [line[1:].rstrip("/") for line in lines[1:] if line.startswith("!")]


def test_build_context_is_what_the_dockerfile_copies() -> None:
    admitted = set(_context_files())
    assert admitted == {"pyproject.toml", "README.md", "service"}
    copied = set()
    for keyword, rest in stages(DOCKERFILE.read_text())[0]:
        if keyword == "COPY":
            *sources, _destination = [p for p in rest.split() if not p.startswith("--")]
            copied |= {source.rstrip("/") for source in sources}
    assert copied == admitted


# -- the wheel, installed as the image does --------------------------------------------------------


def _run(args: list[str], timeout: float, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("STREAMHOOK_CONFIG", None)
    return env


@pytest.mark.timeout(BUILD_TIMEOUT_SECONDS + INSTALL_TIMEOUT_SECONDS + 120)
def test_wheel_in_a_fresh_venv_runs_and_accepts_the_chart_config(tmp_path: Path) -> None:
    # The Docker build context: only what .dockerignore admits.
    context = tmp_path / "context"
    context.mkdir()
    for name in _context_files():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)

    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(context)],
        BUILD_TIMEOUT_SECONDS,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"streamhook-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        assert tops == {"streamhook", f"streamhook-{__version__}.dist-info"}
        names = set(archive.namelist())
        assert "streamhook/py.typed" in names
        assert "streamhook/cli.py" in names

    venv = tmp_path / "venv"
    env = _clean_env()
    _run([sys.executable, "-m", "venv", str(venv)], RUN_TIMEOUT_SECONDS, cwd=tmp_path, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "--quiet", str(wheel)], INSTALL_TIMEOUT_SECONDS, cwd=tmp_path, env=env)
    _run([*pip, "uninstall", "--yes", "pip", "setuptools"], RUN_TIMEOUT_SECONDS, tmp_path, env)

    streamhook = str(venv / "bin" / "streamhook")
    version = _run([streamhook, "--version"], RUN_TIMEOUT_SECONDS, cwd=tmp_path, env=env)
    assert version.strip() == f"streamhook {__version__}"
    location = _run(
        [str(venv / "bin" / "python"), "-c", "import streamhook; print(streamhook.__file__)"],
        RUN_TIMEOUT_SECONDS,
        cwd=tmp_path,
        env=env,
    )
    assert Path(location.strip()).is_relative_to(venv), "streamhook must come from the wheel"

    # The chart's rendered config, found through STREAMHOOK_CONFIG as in the pod.
    for name in WHEEL_CHECKED_VALUE_SETS:
        values = () if name == "default" else (CI_VALUES_DIR / f"{name}.yaml",)
        config_file = materialise_pod_files(render(*values), tmp_path / name)
        checked = _run(
            [streamhook, "check-config"],
            RUN_TIMEOUT_SECONDS,
            cwd=tmp_path,
            env=dict(env, STREAMHOOK_CONFIG=str(config_file)),
        )
        assert "listen: 0.0.0.0:8080" in checked
