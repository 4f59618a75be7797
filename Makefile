# Bestow: everything a newcomer types. Only Python 3.11 is needed on the machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# One more test process than cores: about a third of the suite's time is spent waiting on the
# servers, workers and CLI processes it starts, and the third process fills it (281 s against 332 s
# for the whole suite with two, on 2 cores).
TEST_WORKERS ?= 3

.PHONY: setup run test test-fast lint bench chaos chaos-short lock clean fuzz

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

# The suite runs in TEST_WORKERS processes (pytest-xdist), each on databases of its own: SQLite,
# and PostgreSQL and Redis when they are reachable (BESTOW_TEST_DATABASE_URL, ..._REDIS_URL).
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: SQLite only, and none of the tests that start processes (marked slow).
test-fast: setup
	BESTOW_TEST_SQLITE_ONLY=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# Schemathesis over every operation of /openapi.json with many more examples than make test's
# (tests/fuzz), on SQLite and PostgreSQL: no 5xx, and every answer documented. Path ids, query
# and body ids are mostly real seeded objects; the run ends with its requests and 5xx per database.
# make test's boundary tests (tests/boundaries) take BESTOW_BOUNDARY_EXAMPLES for a longer run.
FUZZ_EXAMPLES ?= 200
fuzz: setup
	BESTOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -n $(TEST_WORKERS) -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench examples sdk
	$(BIN)/ruff format --check src tests bench examples sdk
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

bench: setup
	$(BIN)/python bench/api.py
	$(BIN)/python bench/issuance.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/vouchers.py
	$(BIN)/python bench/loyalty.py
	$(BIN)/python bench/operator_api.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/certification.py

# Processes SIGKILLed under SDK load, then the invariants (bench/chaos.py). The full run restarts
# the local PostgreSQL once (pg_ctlcluster): never run it while a test suite uses that server.
# chaos-short (CI) cuts a TCP proxy in front of PostgreSQL instead and leaves the service alone.
chaos: setup
	$(BIN)/python bench/chaos.py

chaos-short: setup
	$(BIN)/python bench/chaos.py --quick

# Re-resolve the pinned, hashed lock file after changing dependencies in pyproject.toml.
lock: setup
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
