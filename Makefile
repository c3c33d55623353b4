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

.PHONY: help run user test env messages translations lint bench bench-search bench-verify bench-import bench-scans bench-bad-files bench-jobs bench-load bench-limits bench-labels bench-opendata bench-credentials migrate seed reindex opendata clean

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

opendata: reindex ## Write the bulk downloads at /data/ (the job worker then keeps them in step)
	$(FLASK) opendata build

run: opendata ## Set up everything and serve on http://127.0.0.1:$(PORT) (web + job worker, see Procfile)
	# honcho gives each process its own PORT (the worker PORT+100): the links the worker writes into
	# files (label codes, QR zips) must name the web's port, so the base URL is set here for both.
	CATALOGUE_ENV=$${CATALOGUE_ENV:-development} PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} \
		$(BIN)/honcho start -f Procfile -p $(PORT)

# One pytest worker per core (pytest-xdist); PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
LINTED := catalogue tests bench migrations

user: translations ## Create an official's account: make user EMAIL=… [PROVINCE="Đà Nẵng"] (asks for the password)
	@test -n "$(EMAIL)" || { echo 'usage: make user EMAIL=you@example.vn [PROVINCE="Đà Nẵng"] [ROLE=ministry|province]' >&2; exit 2; }
	$(FLASK) user create --email '$(EMAIL)' --role $(or $(ROLE),$(if $(PROVINCE),province,ministry)) \
		$(if $(PROVINCE),--province '$(PROVINCE)') $(if $(PASSWORD),--password "$$PASSWORD")

test: translations ## Run the whole test suite
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy and the import contract (all must be clean)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every benchmark runs even when one misses its budget; the table at the end shows them all.
bench: translations ## Run every benchmark, then print one table of their figures and baselines
	rm -f bench/data/summary.jsonl
	status=0; for target in bench-search bench-verify bench-import bench-scans bench-bad-files bench-load \
		bench-limits bench-jobs bench-labels bench-opendata bench-credentials; do $(MAKE) --no-print-directory $$target || status=1; done; \
		$(BIN)/python bench/report.py; exit $$status

bench-search: translations ## Search benchmark (synthetic data, separate data dir)
	$(BIN)/python bench/search.py

bench-verify: translations ## Verification page benchmark under gunicorn
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk not installable here: the benchmark falls back to Python threads"
	$(BIN)/python bench/verify.py

bench-import: translations ## Import benchmark: read and dry-run a 5,000-row spreadsheet
	$(BIN)/python bench/imports.py

bench-scans: translations ## Scans at 80/s during a 3,000-row CLI publish, against no publish
	$(BIN)/python bench/scans_during_publish.py

bench-bad-files: translations ## Hostile upload files: each refused within 2 s and 256 MB
	$(BIN)/python bench/bad_files.py

bench-load: translations ## 60 s mixed load (scans, searches, product pages) at 1, 4, 16 and 32 clients
	$(BIN)/python bench/load.py

bench-limits: translations ## Rate limits under 2 gunicorn workers (with Redis when REDIS_URL is set)
	$(BIN)/python bench/rate_limits.py

bench-jobs: translations ## Upload and publish 5,000 rows under the Procfile (web + job worker); times every request
	$(BIN)/python bench/jobs.py

bench-labels: translations ## Label run of 1,000,000 codes from the CLI (≤ 30 s), every code verified; one 5,000-label PDF
	$(BIN)/python bench/labels.py

bench-opendata: translations ## Bulk download build and open-data requests at 100,000 synthetic products (N=… for fewer)
	$(BIN)/python bench/opendata.py $(if $(N),--n $(N))

bench-credentials: translations ## Signed credentials, revocation lists and the offline check at 100,000 synthetic products (N=… for fewer)
	$(BIN)/python bench/credentials.py $(if $(N),--n $(N))

clean: ## Remove the environment and local data
	rm -rf $(VENV) data
