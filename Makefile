# The two commands of the quick start: `make run` serves the portal, `make test` tests it.
# `make test-fast` runs the unit and site tiers only (docs/explanation/testing.md);
# `make test-app APP=<tier>/<name>` runs one product's own tests; `make lock` refreshes the lock;
# `make reference` regenerates the settings reference and .env.example; `make docs` serves the
# documentation site.
#
# Both install from the lock in requirements/ (exact versions, every file's hash), then the
# project itself without dependencies, so a laptop, CI and the Docker image run the same code.
# The project is built with the locked setuptools (no build isolation), so nothing outside the
# lock is fetched.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 5000
BIN := $(VENV)/bin
# The suite runs on several workers (pytest-xdist): most tests wait on a server, not a core.
# `--dist loadscope` keeps a module on one worker, so a module's own servers start once.
# `make test WORKERS=0` runs it in this one process.
WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope
PIP := $(BIN)/python -m pip install --quiet
# pip-tools, from the test lock: the same inputs give the same lock; a refresh keeps every pin
# that still fits and resolves only what changed (`make lock UPGRADE=1` moves every pin).
# The scanner's lock comes from a plain requirements file, which has no build dependencies to list.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	$(if $(UPGRADE),--upgrade)
COMPILE := $(PIP_COMPILE) --all-build-deps

.PHONY: run test test-fast test-app lint lock reference

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements/portal.txt pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes -r requirements/portal.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-deps: requirements/test.txt pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes -r requirements/test.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

run: $(VENV)/.run-deps
	$(BIN)/portal serve --port $(PORT)

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

test: $(VENV)/.test-deps
	scripts/ensure-chromium
	scripts/ensure-nginx
	scripts/ensure-caddy
	scripts/ensure-wapiti
	$(BIN)/ruff check .
	$(PYTEST) $(PYTEST_ARGS)

# No browser, gunicorn or scan: what a change to the portal's code needs first.
test-fast: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(PYTEST) -m "unit or site" $(PYTEST_ARGS)

# The settings reference (docs/reference/settings.md) and .env.example, from the settings model.
reference: $(VENV)/.run-deps
	$(BIN)/portal settings reference --write

test-app: $(VENV)/.test-deps
	@test -n "$(APP)" || { echo "usage: make test-app APP=<tier>/<name>"; exit 2; }
	$(BIN)/python -m pytest apps/$(APP)

# requirements/portal.txt: the portal and the sample products (what `make run` and the image
# install); requirements/test.txt: that plus the test tools, with every shared pin the same;
# requirements/wapiti.txt: the web vulnerability scanner, in a virtualenv of its own.
lock: $(VENV)/.test-deps
	$(COMPILE) --extra samples -o requirements/portal.txt pyproject.toml
	$(COMPILE) --extra samples --extra test --extra docs --constraint requirements/portal.txt \
		-o requirements/test.txt pyproject.toml
	$(PIP_COMPILE) -o requirements/wapiti.txt requirements/wapiti.in

# The documentation site: `make docs` serves it at http://127.0.0.1:$(DOCS_PORT)/ and rebuilds on
# every edit; `make docs-build` builds it as the test command does (--strict: a broken link or
# a page missing from the navigation fails) into build/site. The reference pages' generated
# parts (product.toml, the HTTP API, identity headers) are made from the code by
# docs_hooks/reference.py during the build, so there is nothing to regenerate by hand.
DOCS_PORT ?= 8001
.PHONY: docs docs-build

docs: $(VENV)/.test-deps
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: $(VENV)/.test-deps
	$(BIN)/mkdocs build --strict
