# Webcare developer commands. `make run` and `make test` are the README's contract: they
# must work on a fresh machine that has only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Re-install only when the dependencies change.
INSTALLED := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint fmt clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV_PYTHON):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Webcare needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Set PYTHON=python3.12 or similar.")'
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(VENV_PYTHON) pyproject.toml
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)  ## Create .venv and install the pinned dependencies

run: $(INSTALLED)  ## Start web, worker, beat and the sandbox platform (Ctrl-C stops all)
	$(VENV_PYTHON) -m webcare.devservices run

test: $(INSTALLED)  ## Run the test suite (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)
	DEBUG=1 $(VENV_PYTHON) -m webcare.devservices exec -- $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 DATABASE_URL=$${DATABASE_URL:-postgres://lint@localhost/lint} REDIS_URL=$${REDIS_URL:-redis://localhost/0} $(VENV)/bin/mypy .

fmt: $(INSTALLED)  ## Format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:  ## Remove the embedded databases and run state under var/ (keeps .venv)
	rm -rf var
