# The two commands of the README: `make run` and `make test`. Plus `make lint`
# and `make test-fast` (no browser, no extra processes: the inner loop).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The address `make run` serves and `collab demo` prints its links with.
export BASE_URL ?= http://127.0.0.1:$(PORT)
STAMP := $(VENV)/.installed

.PHONY: run test test-fast fuzz system-deps lint install migrate demo messages clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed: install it or set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing collab and its dependencies into $(VENV) (a minute the first time)..."
	@# -qq: errors only; setuptools' notes on editable installs are not for users.
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/collab migrate

demo: migrate
	$(BIN)/collab demo

run: demo
	@echo ""
	@echo "collab is starting on http://127.0.0.1:$(PORT): log in with one of the demo users above,"
	@echo "or open the public meeting link above to follow a meeting as anyone can."
	@echo ""
	$(BIN)/uvicorn --factory collab.app:create_app --host 127.0.0.1 --port $(PORT) \
		--ws-per-message-deflate false --ws-ping-interval 0

# Parallel test processes (pytest-xdist): one per core; `make test JOBS=0`
# runs in this process (pdb, -x). Each worker has its own databases, ports
# and servers; a module's tests stay on one worker (its fixtures are shared).
JOBS ?= auto
XDIST = $(if $(filter 0,$(JOBS)),-p no:xdist,-n $(JOBS) --dist loadfile)

# Chromium, Pango, fonts: installed with apt-get when missing (as root), or
# one line saying which command to run.
system-deps:
	scripts/system-deps.sh

# Tests marked `alone` put a machine under load on purpose (hundreds of
# sockets, a worker killed) and time what users would see: they run after
# the others, one at a time, so that no other test's browser competes with
# them for the CPU. Both phases run even if the first fails; status 5 means
# the arguments selected none of a phase's tests.
test: install system-deps
	@failed=0; \
	$(BIN)/python -m pytest -m "not alone" $(XDIST) $(PYTEST_ARGS) || [ $$? -eq 5 ] || failed=1; \
	$(BIN)/python -m pytest -m alone -p no:xdist $(PYTEST_ARGS) || [ $$? -eq 5 ] || failed=1; \
	exit $$failed

# The fuzz suite (tests/fuzz) runs in `make test` with a few hundred examples;
# `make fuzz` runs it long: FUZZ_EXAMPLES requests spread over every route.
FUZZ_EXAMPLES ?= 10000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -p no:xdist $(PYTEST_ARGS)

test-fast: install
	scripts/system-deps.sh --no-browser
	$(BIN)/python -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

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
