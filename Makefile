# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
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

test: $(STAMP)
	$(PY) -m pytest -q

ui: $(STAMP)
	$(VENV)/bin/dagster dev -w workspace.yaml

clean:
	rm -rf data inbox $(VENV)
