# Targets match the README. `make demo` and `make test` work on a fresh machine.
VENV ?= .venv
PY ?= $(VENV)/bin/python
PYTEST ?= $(VENV)/bin/pytest
LOGGERS ?= tests/loggers

.PHONY: setup demo test lint bench docs clean

$(VENV)/bin/rota:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ./sandbox -e '.[dev,sandbox]'

setup: $(VENV)/bin/rota

# The real Node loggers behind the log analyzer's corpus (tests/corpus.py). Without npm the
# tests skip that part (not under CI: .ci/run requires it).
$(LOGGERS)/node_modules/.package-lock.json: $(LOGGERS)/package.json $(LOGGERS)/package-lock.json
	@if command -v npm >/dev/null; then cd $(LOGGERS) && npm ci --no-audit --no-fund; \
	else echo "npm not found: the corpus tests skip the Node loggers (tests/loggers)" >&2; fi

demo: setup
	$(VENV)/bin/rota demo

test: setup $(LOGGERS)/node_modules/.package-lock.json
	$(PYTEST) -q -n 2 --dist loadfile

lint: setup
	$(VENV)/bin/ruff check src tests bench sandbox
	$(VENV)/bin/ruff format --check src tests bench sandbox
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/run_all.py

docs: setup
	$(VENV)/bin/rota docs --out-dir runbook

clean:
	rm -rf $(VENV) runbook .pytest_cache .mypy_cache .ruff_cache $(LOGGERS)/node_modules
