# Webcare developer commands. `make run` and `make test` are the README's contract: they
# must work on a fresh machine that has only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# The stamp's name carries pyproject.toml's checksum, and the stamp depends on the file's
# date: dependencies are reinstalled when either changes, not on every `make test`.
INSTALLED := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test bench bench-micro load lint fmt clean vendor

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV_PYTHON):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: Webcare needs Python 3.11 or newer (make PYTHON=python3.12 ...)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Webcare needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + ". Use e.g. make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(VENV_PYTHON) pyproject.toml
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)  ## Create .venv and install the pinned dependencies

run: $(INSTALLED)  ## Start web, worker, beat and the sandbox platform (Ctrl-C stops all)
	$(VENV_PYTHON) -m webcare.devservices run

# DEBUG=1 while settings load (then pytest-django turns DEBUG off for each test): the
# development SECRET_KEY and plain static files, so tests need no collectstatic.
test: $(INSTALLED)  ## Run the tests (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)
	DEBUG=1 $(VENV_PYTHON) -m webcare.devservices exec -- $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

# The suite at a million messages (under 20 minutes on 2 cores); writes its figures into
# docs/performance.md. A quick run that leaves the docs alone (CI's):
#   make bench BENCH_DOCS= BENCH_ARGS="--scale 0.002 --burst-messages 300 --burst-seconds 20"
BENCH_DOCS ?= --update-docs
bench: $(INSTALLED)  ## Benchmarks at a million messages against same-run baselines (docs/performance.md)
	DEBUG=1 $(VENV_PYTHON) -m webcare.devservices exec -- $(VENV_PYTHON) -m bench $(BENCH_DOCS) $(BENCH_ARGS)

bench-micro: $(INSTALLED)  ## Smaller speed figures of single paths, as pytest runs (printed, not asserted)
	DEBUG=1 $(VENV_PYTHON) -m webcare.devservices exec -- $(VENV_PYTHON) -m pytest bench/micro -q -s

# mypy's Django plugin loads the settings, which need these set; nothing connects to them.
lint: $(INSTALLED)  ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 DATABASE_URL=$${DATABASE_URL:-postgres://lint@localhost/lint} REDIS_URL=$${REDIS_URL:-redis://localhost/0} $(VENV)/bin/mypy .

fmt: $(INSTALLED)  ## Format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Deleting the data of a running PostgreSQL leaves it running on nothing: refuse instead.
clean:  ## Remove var/ (embedded databases, run state) and the install stamp; keeps .venv
	@if [ -f var/postgres/postmaster.pid ] && kill -0 "$$(head -n 1 var/postgres/postmaster.pid)" 2>/dev/null; then \
		echo "The embedded PostgreSQL in var/postgres is running: stop \`make run\`/\`make test\` first." >&2; exit 1; \
	fi
	rm -rf var
	rm -f $(VENV)/.installed-*

vendor:  ## Refresh the vendored NL Design System CSS and axe-core from npm (needs npm)
	scripts/vendor-frontend.sh

load: $(INSTALLED)  ## Load test: 50 simulated agents on gunicorn while ingest runs; prints p50/p95/p99
	DEBUG=1 $(VENV_PYTHON) -m webcare.devservices exec -- $(VENV_PYTHON) -m bench.load $(LOAD_ARGS)
