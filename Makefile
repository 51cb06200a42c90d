# Two commands do all set-up on a fresh machine:
#   make demo   -> venv, install, migrate ./var/gateway.db, seed demo data, demo keys, serve :8000
#   make test   -> venv, install, run the whole suite (also on PostgreSQL when
#                  GATEWAY_TEST_DATABASE_URL is set, as .ci/run does)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
CUSTOMERS ?= 500
PYTEST_ARGS ?=

.PHONY: demo test bench schema lint venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/consent-gateway demo setup --customers $(CUSTOMERS) --port $(PORT)
	$(BIN)/consent-gateway serve --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/profile_read.py

schema: $(STAMP)
	$(BIN)/consent-gateway schema export -o schema/schema.graphql

lint: $(STAMP)
	$(BIN)/python -m mypy gateway
	$(BIN)/python -m ruff check gateway tests bench

clean:
	rm -rf $(VENV) var
