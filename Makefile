# The two commands of the README: `make run` and `make test`. Plus `make lint`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint install migrate demo messages clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11+ is needed ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/collab migrate

demo: migrate
	$(BIN)/collab demo

run: demo
	@echo ""
	@echo "collab is starting on http://127.0.0.1:$(PORT)  (log in with one of the demo users above)"
	@echo ""
	$(BIN)/uvicorn --factory collab.app:create_app --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check collab tests bench
	$(BIN)/ruff format --check collab tests bench
	$(BIN)/mypy

messages: install
	$(BIN)/pybabel extract -F babel.cfg -o collab/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i collab/translations/messages.pot -d collab/translations -l it --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
