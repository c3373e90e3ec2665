# Kiroku: the commands the README names.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-postgres fuzz lint migrations-check bench clean

$(STAMP): pyproject.toml sdk/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './sdk[ci]'
	@touch $(STAMP)

## run: set up the embedded default (SQLite, in-process tasks) and serve on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py serve $(HOST):$(PORT)

## test: the whole suite (SQLite unless DATABASE_URL is set; see README)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-postgres: the suite against a local PostgreSQL and Redis
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiroku} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## fuzz: every API operation under generated and hostile input (tests/fuzz, a few
## minutes), against PostgreSQL and Redis like test-postgres; fails on any 5xx
fuzz: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kiroku} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(BIN)/python -m pytest -m fuzz tests/fuzz $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(STAMP)
	bash bench/run_all.sh

clean:
	rm -rf $(VENV) var
