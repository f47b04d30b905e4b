# Transom developer commands. Everything installs into .venv beside this file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= data/homeserver.yaml
SERVER_NAME ?= localhost

.PHONY: install install-test run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

$(CONFIG): | install
	$(BIN)/transom generate-config --server-name $(SERVER_NAME) --config-path $(CONFIG) --data-dir $(dir $(CONFIG))

run: install $(CONFIG)
	$(BIN)/transom run --config-path $(CONFIG)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The protocol core must keep >= 90% line coverage from its own tests (tests/core).
test: install-test lint
	$(BIN)/pytest -q -p no:cacheprovider tests/core --cov=transom.core --cov-report=term:skip-covered --cov-fail-under=90
	$(BIN)/pytest -q -p no:cacheprovider --ignore=tests/core

format: install-test
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install-test
	$(BIN)/python -m bench --help

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
