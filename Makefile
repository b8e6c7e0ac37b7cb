# Saoma: `make run` serves a demo on 127.0.0.1:8000; `make test` runs every check and test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check lint typecheck security architecture unit bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/saoma demo --host 127.0.0.1 --port 8000

# The house rules (import cycles, module and function lengths) take two seconds: run them first.
check: install lint typecheck security architecture

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

security:
	$(BIN)/bandit -c pyproject.toml -r src -q

architecture: install
	$(BIN)/pytest -q -p no:randomly tests/test_architecture.py

unit: install
	$(BIN)/pytest -q

# The suite on two workers (each test file on one of them, each worker with databases of its own),
# then on one: the chaos runs, whose time budgets assume a machine no other worker shares, and the
# test that may restart PostgreSQL (the restart cuts every open connection).
test: check
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not alone and not restarts_postgres"
	$(BIN)/pytest -q -m "alone or restarts_postgres"

bench: install
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
