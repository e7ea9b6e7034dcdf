# Targets match the README. `make demo` and `make test` work on a fresh machine.
VENV ?= .venv
PY ?= $(VENV)/bin/python
PYTEST ?= $(VENV)/bin/pytest

.PHONY: setup demo test lint bench docs clean

$(VENV)/bin/rota:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'

setup: $(VENV)/bin/rota

demo: setup
	$(VENV)/bin/rota demo

test: setup
	$(PYTEST) -q -n 2 --dist loadfile

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/run_all.py

docs: setup
	$(VENV)/bin/rota docs --out runbook

clean:
	rm -rf $(VENV) runbook .pytest_cache .mypy_cache .ruff_cache
