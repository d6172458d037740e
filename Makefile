# Carnet: `make run` starts the app with demo data; `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export PATH := $(CURDIR)/.jstools/node_modules/.bin:$(PATH)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_HTTP_CLIENT_BIND_ADDRESS := 0.0.0.0

.PHONY: run test install install-dev bun graphiql axe pdfjs lint schema bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

bun:
	bash scripts/ensure-bun.sh

# GraphiQL's scripts and stylesheets, served by the API itself (no CDN): `npm ci` checks the
# tarballs against backend/graphiql/package-lock.json, `collect` checks each file against its
# pinned SRI hash and copies it to backend/graphiql/static/. Re-run when the lock file changes.
GRAPHIQL := backend/graphiql
graphiql: $(GRAPHIQL)/static/.installed

$(GRAPHIQL)/static/.installed: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json \
		$(GRAPHIQL)/__init__.py
	@command -v npm >/dev/null || { echo "npm is required (Debian: apt-get install -y npm)" >&2; exit 1; }
	npm ci --prefix $(GRAPHIQL) --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PYTHON) -m backend.graphiql collect --clean
	touch $@

# axe-core, which the browser tests inject into every page they check (tests/browser/a11y.py):
# `npm ci` checks the tarball against tests/browser/axe/package-lock.json, `check` checks
# axe.min.js against the hash pinned in tests/browser/axe/__init__.py.
AXE := tests/browser/axe
axe: $(AXE)/node_modules/.installed

$(AXE)/node_modules/.installed: $(AXE)/package.json $(AXE)/package-lock.json $(AXE)/__init__.py
	@command -v npm >/dev/null || { echo "npm is required (Debian: apt-get install -y npm)" >&2; exit 1; }
	npm ci --prefix $(AXE) --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PYTHON) -m tests.browser.axe check
	touch $@

# pdf.js, with which the web app shows PDF documents inside Carnet (served by the Reflex backend,
# no CDN): `npm ci` checks the tarball against frontend/carnet_web/pdf_viewer/package-lock.json,
# `collect` checks each file against its hash pinned in pdfjs.sha384 and copies it to static/.
PDFJS := frontend/carnet_web/pdf_viewer
pdfjs: $(PDFJS)/static/.installed

$(PDFJS)/static/.installed: $(PDFJS)/package.json $(PDFJS)/package-lock.json \
		$(PDFJS)/pdfjs.sha384 $(PDFJS)/__init__.py
	@command -v npm >/dev/null || { echo "npm is required (Debian: apt-get install -y npm)" >&2; exit 1; }
	npm ci --prefix $(PDFJS) --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error
	cd frontend && $(PYTHON) -m carnet_web.pdf_viewer collect --clean
	touch $@

# Migrate the embedded SQLite database, seed demo data, start API + web app.
run: install bun graphiql pdfjs
	$(BIN)/carnet dev

lint: install-dev
	$(BIN)/ruff check .

# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see README); CI=true makes a
# missing service a failure instead of a skip.
test: install-dev bun graphiql axe pdfjs
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/carnet export-schema --check
	$(BIN)/carnet makemigrations --check
	PYTEST=$(BIN)/pytest scripts/run-tests.sh $(PYTEST_ARGS)

schema: install
	$(BIN)/carnet export-schema

bench: install-dev
	$(BIN)/python bench/graphql_overhead.py

clean:
	rm -rf var .pytest_cache .ruff_cache $(GRAPHIQL)/static $(GRAPHIQL)/node_modules \
		$(PDFJS)/static $(PDFJS)/node_modules \
		$(AXE)/node_modules
