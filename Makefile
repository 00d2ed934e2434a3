# Two commands matter: `make demo` and `make test`. Both build their own virtual environment.
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)
# The unit suite also runs on the oldest Airflow we support, in a virtual environment of its own.
AIRFLOW2_VERSION ?= 2.11.2
VENV2 ?= .venv-airflow2
BIN2 := $(VENV2)/bin
STAMP2 := $(VENV2)/.installed-$(AIRFLOW2_VERSION)

# `make test-matrix`: the installed wheel on the latest patch of every Airflow minor we claim (scripts/matrix.py).
AIRFLOW_MATRIX ?= 2.11.2 3.0.6 3.1.8 3.2.2 3.3.2
MATRIX_VENVS ?= $(HOME)/.cache/airflow-provider-tasks/matrix
MATRIX_ARGS ?=
# What `make test` runs of it: every minor at once three at a time; 2.11 and 3.3 with the whole fault matrix,
# the middle minors under its three representative faults (scripts/matrix.py --lite).
TEST_MATRIX_ARGS ?= --jobs 3 --lite 3.0.6,3.1.8,3.2.2

.PHONY: demo test lint typecheck unit e2e test-airflow2 test-wheel test-matrix bench bench-deployment clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev,e2e]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

$(BIN2)/python:
	$(PYTHON) -m venv $(VENV2)
	$(BIN2)/python -m pip install --quiet --upgrade pip uv

$(STAMP2): pyproject.toml | $(BIN2)/python
	$(BIN2)/uv pip install --python $(BIN2)/python --quiet "apache-airflow==$(AIRFLOW2_VERSION)" -e ".[dev]"
	@rm -f $(VENV2)/.installed-* && touch $(STAMP2)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Unit, fault matrix, load and example-DAG suites: everything but the real deployments.
unit: $(STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/e2e

# The real Airflow deployments (tests/e2e: quick and production shapes, fault tests, connection forms in
# Chromium), run on their own exactly as the README tells users to: no test may lean on another suite.
e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -v

# The same suite on Airflow 2.11, less what only a real Airflow 3 deployment can run.
test-airflow2: $(STAMP2)
	$(BIN2)/python -m pytest -q --ignore=tests/e2e -k "not make_demo"

# What users install: sdist and wheel built and checked, the wheel alone in a clean venv with Airflow,
# every module imported, an example DAG run with it, part of the sdist's own tests (scripts/wheel_smoke.py).
test-wheel: $(STAMP)
	$(BIN)/python scripts/wheel_smoke.py --airflow $(AIRFLOW_VERSION)

# What CI runs: lint, types, the real deployments, the wheel as users install it, and the wheel's unit suite
# and example DAGs on every Airflow minor we claim (this replaces `unit` and `test-airflow2`, which run the
# same suite from the source tree on 3.3 and 2.11: quicker while developing).
test: lint typecheck e2e test-wheel
	$(MAKE) test-matrix MATRIX_ARGS="$(TEST_MATRIX_ARGS)"

# Per minor: a fresh venv with the built wheel, the unit suite from a copy of tests/, every example DAG.
# Prints one result line per minor; MATRIX_ARGS="--only unit" (or dags) and AIRFLOW_MATRIX="3.0.6" narrow it.
test-matrix: $(STAMP)
	$(BIN)/python scripts/matrix.py --venvs $(MATRIX_VENVS) $(MATRIX_ARGS) $(AIRFLOW_MATRIX)

# Benchmarks against the peers (not part of the test suite): prints a table, writes bench/results/latest.json.
bench: $(STAMP)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench

# The real deployment (SQLite, LocalExecutor, one triggerer): 300 mapped deferrable waits of ours, then of
# HttpSensor(deferrable=True); writes bench/results/deployment.json. 10-20 minutes on two cores.
bench-deployment: $(STAMP)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[dev,e2e,bench]"
	$(BIN)/python -m bench.deployment

clean:
	rm -rf $(VENV) $(VENV2) .demo .e2e-output .pytest_cache .mypy_cache .ruff_cache
