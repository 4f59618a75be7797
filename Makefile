# Bestow: everything a newcomer types. Only Python 3.11 is needed on the machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 2

.PHONY: setup run test test-sqlite lint bench lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml sdk/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e sdk
	@touch $(STAMP)

run: setup
	$(BIN)/bestow db upgrade
	BESTOW_PUBLIC_URL=$${BESTOW_PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/bestow demo --print-intro
	$(BIN)/bestow serve --host $(HOST) --port $(PORT)

# The suite runs in TEST_WORKERS processes (pytest-xdist), each on databases of its own.
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench examples sdk
	$(BIN)/ruff format --check src tests bench examples sdk
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/api.py
	$(BIN)/python bench/issuance.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/vouchers.py
	$(BIN)/python bench/loyalty.py
	$(BIN)/python bench/operator_api.py

# Re-resolve the pinned, hashed lock file after changing dependencies in pyproject.toml.
lock: setup
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
