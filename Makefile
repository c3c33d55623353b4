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

.PHONY: help run user test env messages translations lint bench bench-search bench-verify bench-import migrate seed reindex clean

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

# One pytest worker per core (pytest-xdist); PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
LINTED := catalogue tests bench migrations

user: translations ## Create an official's account: make user EMAIL=… [PROVINCE="Đà Nẵng"] (asks for the password)
	@test -n "$(EMAIL)" || { echo 'usage: make user EMAIL=you@example.vn [PROVINCE="Đà Nẵng"] [ROLE=ministry|province]' >&2; exit 2; }
	$(FLASK) user create --email '$(EMAIL)' --role $(or $(ROLE),$(if $(PROVINCE),province,ministry)) \
		$(if $(PROVINCE),--province '$(PROVINCE)') $(if $(PASSWORD),--password "$$PASSWORD")

test: translations ## Run the whole test suite
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check and mypy (all must be clean)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

bench: bench-search bench-verify bench-import ## Run all benchmarks

bench-search: translations ## Search benchmark (synthetic data, separate data dir)
	$(BIN)/python bench/search.py

bench-verify: translations ## Verification page benchmark under gunicorn
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk not installable here: the benchmark falls back to Python threads"
	$(BIN)/python bench/verify.py

bench-import: translations ## Import benchmark: read and dry-run a 5,000-row spreadsheet
	$(BIN)/python bench/imports.py

clean: ## Remove the environment and local data
	rm -rf $(VENV) data
