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
NODE_CACHE := .cache/node
NODE_STAMP := $(NODE_CACHE)/.installed

.PHONY: demo test bench schema lint venv clean lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/consent-gateway demo setup --customers $(CUSTOMERS) --port $(PORT)
	GATEWAY_INTROSPECTION=true $(BIN)/consent-gateway serve --port $(PORT)

# npm packages of the tests (the GraphQL-over-HTTP audit), pinned by the lock file, cached in
# the git-ignored .cache/node; without npm the tests that need them say so and are skipped.
$(NODE_STAMP): tests/http_audit/package.json tests/http_audit/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p $(NODE_CACHE) && cp tests/http_audit/package.json tests/http_audit/package-lock.json $(NODE_CACHE)/ && \
	  npm ci --prefix $(NODE_CACHE) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the GraphQL-over-HTTP audit test will be skipped"; fi

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/profile_read.py

schema: $(STAMP)
	$(BIN)/consent-gateway schema export -o schema/schema.graphql

lint: $(STAMP)
	$(BIN)/python -m mypy gateway
	$(BIN)/python -m ruff check gateway tests bench

# The container's pinned dependencies, from a clean venv of pyproject.toml's runtime deps.
lock:
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/python -m pip install -q .
	{ sed -n 1,2p requirements.lock; var/lock-venv/bin/python -m pip freeze --exclude consent-gateway; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf var/lock-venv

clean:
	rm -rf $(VENV) var
