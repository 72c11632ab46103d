# The two commands a newcomer runs: `make demo` and `make test`. Each sets up what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check install

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Bytecode for the project's modules, as a wheel install gets: an editable install under
	# PYTHONDONTWRITEBYTECODE=1 compiled ~100 modules from source on every run (~0.3 s of each
	# `functrail` command's start-up).
	$(BIN)/python -m compileall -q service detectors pipelines models
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/functrail demo

# Every test, slow and integration ones included (plain `pytest` runs only the fast ones).
test: $(STAMP)
	$(BIN)/python -m pytest -m "" -n 2 -p no:cacheprovider

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service detectors pipelines models tests bench
