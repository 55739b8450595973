# The two commands of the quick start: `make run` serves the portal, `make test` tests it.
# `make test-app APP=<tier>/<name>` runs one product's own tests.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 5000
BIN := $(VENV)/bin

.PHONY: run test test-app lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[samples]'
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,samples]'
	touch $@

run: $(VENV)/.run-deps
	$(BIN)/portal serve --port $(PORT)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

test: $(VENV)/.test-deps
	scripts/ensure-chromium
	scripts/ensure-nginx
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-app: $(VENV)/.test-deps
	@test -n "$(APP)" || { echo "usage: make test-app APP=<tier>/<name>"; exit 2; }
	$(BIN)/python -m pytest apps/$(APP)
