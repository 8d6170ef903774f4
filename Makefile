# Chronos: `make run` serves the app, `make test` runs the whole suite. Both set up .venv
# (idempotently: reinstalls only when pyproject.toml changes) and need no API keys and no
# system PostgreSQL (the embedded one from `pgserver` is used unless DATABASE_URL is set).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers for `make test` (each starts its own embedded PostgreSQL).
TEST_WORKERS ?= 2

# mypy's Django plugin imports the settings: a DATABASE_URL (never connected to) keeps them
# from starting the embedded PostgreSQL, which mypy's hard exit would leave running.
MYPY := DATABASE_URL=postgres://mypy-never-connects@127.0.0.1:9/none SECRET_KEY=mypy-only \
	$(VENV)/bin/mypy

.PHONY: run test install system-deps lint lint-quick typecheck format bench clean

# uv (from PyPI, into the venv) installs the project: ~25 s on a fresh clone against ~2 min
# for pip, same packages.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Debian packages the browser tests need (Chromium for Playwright). Skipped when present.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found (browser tests will be skipped): apt-get install chromium"; fi; }

run: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py seed_demo --host http://$(HOST):$(PORT)
	# chronos.supervise (not honcho): Ctrl-C stops web, workers and the embedded PostgreSQL;
	# a crashing worker is restarted without taking the web down.
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m chronos.supervise web worker whop

# What CI runs: the quick checks first, then mypy (~30 CPU-seconds cold, one core) beside
# the suite instead of before it; either failing fails the target. One ONNX Runtime thread
# per worker (the workers already fill the cores): the QA set embeds its library with ~25%
# less CPU than with a thread per core, measured under load.
test: install system-deps lint-quick
	$(MYPY) & mypy=$$!; \
	CHRONOS_EMBEDDER_THREADS=$${CHRONOS_EMBEDDER_THREADS:-1} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20; tests=$$?; \
	wait $$mypy; types=$$?; \
	test $$tests = 0 && test $$types = 0

# ruff (incl. DTZ), the import-linter layer contracts and mypy + django-stubs on services
# and selectors (config: pyproject.toml).
lint: lint-quick typecheck

lint-quick: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(MYPY)

format: install
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) .chronos staticfiles
