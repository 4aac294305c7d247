# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LINT_PATHS := pdf_assets tests benchmarks
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: install demo test ui clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pdf-assets demo
	$(VENV)/bin/pdf-assets show

# Static checks first (lint, formatting, types), then the test suite; the first failure stops it.
test: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# `dg dev` reads the project from pyproject.toml's [tool.dg]; VIRTUAL_ENV names the project's
# venv so dg does not warn that the shell has none activated.
ui: $(STAMP)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg dev --host 127.0.0.1

clean:
	rm -rf data inbox $(VENV)
