# closedloop developer commands. `make demo` and `make test` are the README's quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EDITABLE := --config-settings editable_mode=strict

.PHONY: demo test lint typecheck unit install clean

$(BIN)/.deps-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(EDITABLE)
	touch $@

# Re-link the strict editable tree every time: new modules appear only after a re-install.
install: $(BIN)/.deps-installed
	$(BIN)/python -m pip install --quiet --no-deps -e . $(EDITABLE)

demo: install
	$(BIN)/closedloop demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
