# failover-controller: one entry point. `make test` on a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.11 on PATH (override: make PYTHON=/path/to/python3.12 test).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
EMULATOR_VENV := .venv-ministack
PY := $(VENV)/bin/python

.PHONY: help venv emulator test test-unit lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet '.[dev]'
	@touch $@

$(EMULATOR_VENV)/.installed: requirements-emulator.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed on PATH (or pass PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/python -m pip install --quiet -r requirements-emulator.txt
	@touch $@

venv: $(VENV)/.installed ## create .venv with the project's pinned dependencies

emulator: $(EMULATOR_VENV)/.installed ## create .venv-ministack with the local AWS emulator

test: venv emulator ## run every test: unit (moto) and emulator-backed (ministack + moto_server)
	MINISTACK_BIN=$(CURDIR)/$(EMULATOR_VENV)/bin/ministack $(VENV)/bin/pytest

test-unit: venv ## run the fast unit tests only (no emulator)
	$(VENV)/bin/pytest tests/unit

lint: venv ## ruff (lint and format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## remove the virtual environments and caches
	rm -rf $(VENV) $(EMULATOR_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
