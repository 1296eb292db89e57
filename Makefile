# Every target does its own set-up into .venv at the repo root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test unit demo bench lint clean-stack

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[kafka,db,http,dev]"
	@.ci/chromium
	@touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

demo: $(STAMP)
	$(BIN)/python -m finops_tools.cli demo
	$(BIN)/python -m finops_tools.cli demo governance

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

# ruff, then mypy --strict over the tree ([tool.mypy] in pyproject.toml says what).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean-stack: $(STAMP)
	$(BIN)/finops dev down
