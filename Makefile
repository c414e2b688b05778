# The two commands of the README: `make run` and `make test`. Plus `make lint`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint install migrate demo messages clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed: install it or set PYTHON=/path/to/python3.11"; exit 1; }
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
	$(BIN)/uvicorn --factory collab.app:create_app --host 127.0.0.1 --port $(PORT) \
		--ws-per-message-deflate false

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check collab tests scripts bench
	$(BIN)/ruff format --check collab tests scripts bench
	$(BIN)/mypy

messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o collab/translations/messages.pot --no-location --sort-output --project collab .
	@if [ -f collab/translations/it/LC_MESSAGES/messages.po ]; then \
		$(BIN)/pybabel update -i collab/translations/messages.pot -d collab/translations -l it --no-fuzzy-matching --ignore-obsolete; \
	else \
		$(BIN)/pybabel init -i collab/translations/messages.pot -d collab/translations -l it; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
