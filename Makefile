# 普惠通 API — the two commands everyone uses are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint format typecheck migrate seed openapi worker clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	@mkdir -p var
	$(BIN)/alembic upgrade head

seed: migrate
	$(BIN)/python -m app.cli seed-demo

run: seed
	$(BIN)/python -m uvicorn app.main:app --host 127.0.0.1 --port 8000

worker: $(STAMP)
	$(BIN)/python -m app.cli worker

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

check: $(STAMP)
	@mkdir -p var
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	DATABASE_URL=sqlite:///$(CURDIR)/var/check.db $(BIN)/alembic upgrade head
	DATABASE_URL=sqlite:///$(CURDIR)/var/check.db $(BIN)/alembic check
	$(BIN)/python -m pytest -q tests/test_openapi.py

format: $(STAMP)
	$(BIN)/ruff format app
	$(BIN)/ruff check --fix app tests bench

openapi: $(STAMP)
	$(BIN)/python -m app.cli export-openapi

clean:
	rm -rf $(VENV) var
