# civicloop: every target creates the environment it needs from the lock file first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false

.PHONY: help venv demo build generate serve test test-fast lint dagster docs screenshots bench lock clean browser-deps

help:
	@echo "make demo         set up, generate the sample city, build, serve http://127.0.0.1:8501"
	@echo "make test         set up and run the whole test suite"
	@echo "make build        like demo, without serving"
	@echo "make dagster      the Dagster UI on http://127.0.0.1:3000 for the same project"
	@echo "make lint         ruff, mypy and sqlfluff"
	@echo "make docs         dbt docs for analysts (dbt_project/target/index.html)"
	@echo "make screenshots  PNG of every dashboard page into screenshots/"
	@echo "make bench        the performance benchmark (bench/results/)"

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

generate: venv
	$(BIN)/civicloop generate

build: venv
	test -f data/truth.json || $(BIN)/civicloop generate
	$(BIN)/civicloop build

demo: venv
	$(BIN)/civicloop demo

serve: venv
	$(BIN)/civicloop serve

test: venv
	$(BIN)/pytest

test-fast: venv
	$(BIN)/pytest -m "not slow and not browser"

lint: venv
	$(BIN)/ruff check pipelines dashboards tests
	$(BIN)/ruff format --check pipelines dashboards tests
	$(BIN)/mypy
	# The dbt templater opens a DuckDB file; lint against a throw-away one.
	mkdir -p $(CURDIR)/data/lint && cd dbt_project && \
		CIVICLOOP_WAREHOUSE_PATH=$(CURDIR)/data/lint/lint.duckdb ../$(BIN)/sqlfluff lint models --processes 1
	cd dbt_national && \
		CIVICLOOP_NATIONAL_DUCKDB_PATH=$(CURDIR)/data/lint/lint_national.duckdb ../$(BIN)/sqlfluff lint models --processes 1

dagster: venv
	CIVICLOOP_DATA_DIR=$${CIVICLOOP_DATA_DIR:-$(CURDIR)/data} $(BIN)/python -c "from pipelines.build import prepare_dbt_manifest; from pipelines.settings import get_settings; prepare_dbt_manifest(get_settings())"
	# dagster-dbt looks for `dbt` on PATH when it prepares the project under `dagster dev`.
	PATH=$(CURDIR)/$(BIN):$$PATH DAGSTER_HOME=$${CIVICLOOP_DATA_DIR:-$(CURDIR)/data}/dagster_home \
		$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

docs: venv
	$(BIN)/civicloop docs

screenshots: build
	$(BIN)/python -m dashboards.screenshots screenshots

bench: venv
	$(BIN)/civicloop bench

browser-deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf data/warehouse data/published data/raw data/rejected data/inbox data/truth.json data/dagster_home dbt_project/target
