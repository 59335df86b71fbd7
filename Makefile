# failover-controller: one entry point. `make test` on a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.11 on PATH (override: make PYTHON=/path/to/python3.12 test).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
EMULATOR_VENV := .venv-ministack
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# sam build needs the functions' runtime, python3.13, on PATH (pyenv's shim alone is not enough).
SAM_PYTHON_DIR ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	$$p -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null && break; done)
REGION ?= us-west-2

.PHONY: help venv emulator sam drill test test-unit test-sam-local lint docs bench mutation format build deploy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(EMULATOR_VENV)/.installed: requirements-emulator.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/python -m pip install --quiet -r requirements-emulator.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $@

venv: $(VENV)/.installed ## create .venv with the project's pinned dependencies

emulator: $(EMULATOR_VENV)/.installed ## create .venv-ministack with the local AWS emulator

sam: $(SAM_VENV)/.installed ## create .venv-sam with the SAM CLI and cfn-lint

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

drill: venv emulator sam ## a whole failover on the local emulators (DRILL_ARGS="--scenario ungraceful --failback")
	MINISTACK_BIN=$(CURDIR)/$(EMULATOR_VENV)/bin/ministack $(VENV)/bin/failoverctl drill $(DRILL_ARGS)

test: venv emulator sam ## run every test: unit (moto) and emulator-backed (ministack + moto_server)
	MINISTACK_BIN=$(CURDIR)/$(EMULATOR_VENV)/bin/ministack $(VENV)/bin/pytest

test-unit: venv ## run the fast unit tests only (no emulator)
	$(VENV)/bin/pytest tests/unit

test-sam-local: venv emulator sam ## sam local invoke of single functions in containers (Docker, qemu; Debian root)
	tests/sam_local/prepare-host
	SAM_LOCAL_TESTS=1 MINISTACK_BIN=$(CURDIR)/$(EMULATOR_VENV)/bin/ministack \
		$(VENV)/bin/pytest tests/sam_local

lint: venv sam $(CHECKOV_VENV)/.installed ## ruff, mypy --strict, cfn-lint, sam validate --lint, checkov, docs current
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(SAM_VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region $(REGION)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --config-file .checkov.yaml
	$(PY) -m failoverctl.permissions --check docs/permissions.md

bench: venv emulator sam ## measure cold start, Detect and the runbook; writes benchmarks/RESULTS.md
	MINISTACK_BIN=$(CURDIR)/$(EMULATOR_VENV)/bin/ministack PYTHONPATH=layers/failover/python:cli:. \
		$(PY) -m benchmarks.run_all

$(VENV)/.mutation-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,mutation]'
	@touch $@

MUTANTS ?=
mutation: $(VENV)/.mutation-installed ## mutation score of the decision modules (long; MUTANTS='failover_controller.detect.*' for some)
	$(PY) -m benchmarks.mutation $(MUTANTS)

docs: venv ## regenerate docs/permissions.md from template.yaml
	$(PY) -m failoverctl.permissions > docs/permissions.md

build: sam ## sam build (the layer and every function, for arm64 / python3.13)
	@test -n "$(SAM_PYTHON_DIR)" || { echo "error: sam build needs python3.13 (the functions' runtime) on PATH"; exit 1; }
	SAM_CLI_TELEMETRY=0 PATH="$(SAM_PYTHON_DIR):$$PATH" $(SAM) build --region $(REGION)

PLAN ?= plans/recsys.json

deploy: build ## store PLAN in REGION, then deploy the stack of REGION (a samconfig.toml profile) with its parameters
	$(VENV)/bin/failoverctl plan push $(PLAN) --region $(REGION)
	$(VENV)/bin/failoverctl plan check-account $(PLAN) --region $(REGION)
	$(VENV)/bin/failoverctl plan params $(PLAN) --region $(REGION) --output .aws-sam/params-$(REGION).yaml
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(REGION) --parameter-overrides file://.aws-sam/params-$(REGION).yaml

format: venv ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## remove the virtual environments and caches
	rm -rf $(VENV) $(EMULATOR_VENV) $(SAM_VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam .sam-local
