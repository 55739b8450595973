# The two commands of the quick start: `make run` serves the portal, `make test` tests it.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint

$(BIN)/portal: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/portal
	$(BIN)/portal serve

lint: $(BIN)/portal
	$(BIN)/ruff check .

test: $(BIN)/portal
	scripts/ensure-chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)
