# Kiroku: the commands the README names.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist: one worker per core, each with a test database and a Redis database of
# its own; the browser tests share one worker (and one Chromium). PYTEST_ARGS comes
# after, so PYTEST_ARGS="-n 0" runs everything in one process.
XDIST ?= -n auto --maxprocesses 8 --dist loadgroup
# pytest rewrites every test module's asserts at import; letting Python keep the
# compiled files (some environments set PYTHONDONTWRITEBYTECODE) saves each worker
# ~10 s of compiling on every later run.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run admin-password test test-postgres fuzz lint migrations-check bench clean

$(STAMP): pyproject.toml sdk/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './sdk[ci]'
	@touch $(STAMP)

## run: set up the embedded default (SQLite, in-process tasks) and serve on 127.0.0.1:8000
## (make run PORT=8001 HOST=0.0.0.0 picks another address); the first run prints the
## admin's password last, right before the server starts
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py serve --ensure-admin $(HOST):$(PORT)

## admin-password: print a new random password for the local admin (the old one stops working)
admin-password: $(STAMP)
	@$(BIN)/python manage.py ensure_admin --reset

## test: the whole suite (SQLite unless DATABASE_URL is set; see README)
test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

## test-postgres: the suite against a local PostgreSQL and Redis
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiroku} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

## fuzz: every API operation under generated and hostile input (tests/fuzz, a few
## minutes), against PostgreSQL and Redis like test-postgres; fails on any 5xx.
## --dist loadfile: each file runs whole in one worker, in its own order, so the
## requests and their answers are those of a single process (PYTEST_ARGS="-n 0")
fuzz: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiroku} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/python -m pytest $(XDIST) --dist loadfile -m fuzz tests/fuzz $(PYTEST_ARGS)

## lint: ruff, the apps' layer order (import-linter), the type checks (mypy: the server
## as pyproject.toml says, the SDK strict as sdk/pyproject.toml says) and the OpenAPI schema
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	cd sdk && ../$(BIN)/mypy
	$(BIN)/python manage.py spectacular --validate --fail-on-warn > /dev/null

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(STAMP)
	bash bench/run_all.sh

clean:
	rm -rf $(VENV) var
