# catalogue — see README.md. Every target creates the environment it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export CATALOGUE_DATA_DIR ?= $(CURDIR)/data
export PORT
export CATALOGUE_ENV ?= development
FLASK := $(BIN)/flask --app catalogue
STAMP := $(VENV)/.installed

.PHONY: help run test env messages translations lint bench bench-search bench-verify migrate seed reindex clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

env: $(STAMP) ## Create the virtual environment and install the project

messages: $(STAMP) ## Extract messages and update the vi/en catalogues (then translate vi)
	$(FLASK) translations update

translations: $(STAMP) ## Compile the Vietnamese and English message catalogues
	$(BIN)/pybabel -q compile -d catalogue/translations

migrate: translations ## Bring the database schema up to date
	$(FLASK) db upgrade

seed: migrate ## Load the real demo data (idempotent)
	$(FLASK) seed

reindex: seed ## Rebuild the search index from the database
	$(FLASK) search rebuild

run: reindex ## Set up everything and serve on http://127.0.0.1:$(PORT)
	CATALOGUE_ENV=$${CATALOGUE_ENV:-development} $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:$(PORT) \
		--access-logfile - 'catalogue:create_app()'

test: translations ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## Lint with ruff
	$(BIN)/pip install -q ruff && $(BIN)/ruff check catalogue tests bench migrations

bench: bench-search bench-verify ## Run all benchmarks

bench-search: translations ## Search benchmark (synthetic data, separate data dir)
	$(BIN)/python bench/search.py

bench-verify: translations ## Verification page benchmark under gunicorn
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk not installable here: the benchmark falls back to Python threads"
	$(BIN)/python bench/verify.py

clean: ## Remove the environment and local data
	rm -rf $(VENV) data
