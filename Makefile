# sla-analysis: `make help` lists the targets. The Makefile only calls the package's CLI.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Parameters (validated by the CLI, passed as single quoted arguments, never evaluated by the shell)
# Never exported to recipes: make would expand them to build the environment.
# (Defaults first: a variable named by `unexport` counts as defined, so a later ?= would not set it.)
PERIOD ?=
PERIODS ?=
DATA ?=
CONFIG ?=
PROFILE ?=
OUT ?=
SCENARIOS ?= 40
LEADS ?= 2000,5000,25000,50000
BOOT ?= 100
SIZES ?= S M L
ENGINE ?=
unexport PERIOD PERIODS DATA CONFIG PROFILE OUT SCENARIOS LEADS BOOT SIZES ENGINE

# make would split a value holding a newline into two shell commands: such a value is refused.
define newline


endef
$(foreach v,PERIOD PERIODS DATA CONFIG PROFILE OUT SIZES ENGINE,$(if $(findstring $(newline),$(value $(v))),$(error $(v) must be on one line)))

# $(value X) is the text as given (make does not expand it), wrapped in single quotes for the shell.
quote = '$(subst ','\'',$(value $(1)))'
PROFILE_ARG = $(if $(value PROFILE),--profile $(call quote,PROFILE))
OPTIONAL_ARGS = $(if $(value DATA),--data $(call quote,DATA)) $(PROFILE_ARG) $(if $(value CONFIG),--config $(call quote,CONFIG)) $(if $(value OUT),--out $(call quote,OUT))
ENGINE_ARG = $(if $(value ENGINE),--engine $(call quote,ENGINE))
SPARK_STAMP := $(VENV)/.spark
BROWSER_STAMP := $(VENV)/.browser
CHROMIUM ?= /usr/bin/chromium
POSTGRES_STAMP := $(VENV)/.postgres
LAB_STAMP := $(VENV)/.lab

.PHONY: help install install-spark install-browser install-postgres load-warehouse test-browser test-postgres screenshots lock report reports validate validate-real validate-methods sample lab test test-fast test-unit test-spark bench clean-reports

help: ## List the targets
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; else on=; off=; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-18s%s %s\n", on, $$1, off, $$2}'
	@echo "  Parameters: PERIOD=2024Q1|2024-03|2024  PERIODS=\"2024-01 2024-02\"  DATA=folder  PROFILE=name|mapping.yml"
	@echo "              CONFIG=file.yml  OUT=folder"
	@echo "  validate-methods: SCENARIOS=40 (per family) LEADS=2000,5000,25000,50000 BOOT=100"

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sla-analysis)" > /dev/null
	$(VENV)/bin/nbstripout --install --attributes .gitattributes 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies
	@echo "installed in $(VENV)"

report: $(STAMP) ## Build and publish reports/PERIOD/ (e.g. make report PERIOD=2024Q1)
	@test -n $(call quote,PERIOD) || { echo "error: set PERIOD, e.g. make report PERIOD=2024Q1"; exit 2; }
	@$(PY) -m sla_analysis report --period $(call quote,PERIOD) $(OPTIONAL_ARGS) $(ENGINE_ARG)

# PERIODS is split on blanks by the shell with globbing off: each word is passed quoted to the CLI,
# which refuses what is not a period; a failing period is reported and the rest still run.
reports: $(STAMP) ## Backfill several periods (PERIODS="2024-01 2024-02"); a failure does not stop the rest
	@periods=$(call quote,PERIODS); set -f; n=0; failed=""; \
	test -n "$$periods" || { echo "error: set PERIODS, e.g. make reports PERIODS=\"2024-01 2024-02\""; exit 2; }; \
	for p in $$periods; do \
	  n=$$((n + 1)); echo "== $$p"; \
	  $(PY) -m sla_analysis report --period "$$p" $(OPTIONAL_ARGS) $(ENGINE_ARG) || { rc=$$?; failed="$$failed $$p(exit $$rc)"; echo "== $$p FAILED (exit $$rc)" >&2; }; \
	done; \
	if [ -n "$$failed" ]; then echo "reports: $$n period(s), failed:$$failed" >&2; exit 1; fi; \
	echo "reports: all $$n period(s) published"

validate: $(STAMP) ## Validate the CRM export in data/raw (or DATA=) against the data contract
	$(PY) -m sla_analysis validate $(if $(value DATA),--data $(call quote,DATA)) $(PROFILE_ARG)

validate-methods: $(STAMP) ## Simulation study of the attempt-cap methods -> reports/method_check.md (SCENARIOS= LEADS= BOOT=)
	$(PY) -m sla_analysis.tools.method_check --scenarios $(call quote,SCENARIOS) --leads $(call quote,LEADS) --boot $(call quote,BOOT) --out reports/method_check.md

sample: $(STAMP) ## Write the sample CRM and its truth.json to OUT= (default data/processed/sample_export)
	$(PY) -m sla_analysis sample --out $(if $(value OUT),$(call quote,OUT),data/processed/sample_export)

# JupyterLab from its own lock (the dev lock plus the lab extra), installed on first use.
$(LAB_STAMP): $(STAMP) requirements-lab.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-lab.lock
	touch $(LAB_STAMP)

lab: $(LAB_STAMP) ## Open the notebooks in JupyterLab (installed on first use; each notebook runs as-is; set data_dir/profile in its first cell)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

lock: ## Recompile requirements.lock and requirements-lab.lock (with hashes) and environment.yml from pyproject.toml (needs PyPI)
	$(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --extra dev --generate-hashes --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock pyproject.toml
	test -f requirements-lab.lock || cp requirements.lock requirements-lab.lock  # the same pins, plus the lab's
	.venv-lock/bin/pip-compile --quiet --extra dev --extra lab --generate-hashes --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements-lab.lock pyproject.toml
	$(PYTHON) -m sla_analysis.tools.environment requirements-lab.lock > environment.yml
	rm -rf .venv-lock

test: $(STAMP) $(BROWSER_STAMP) ## Run the whole test suite (unit, notebooks, end to end, pages in Chromium)
	$(PY) -m pytest -q -m "not real and not spark and not postgres"

validate-real: $(STAMP) ## The public datasets in ../shared (Bank Marketing, Olist, leadforge) end to end, checked independently
	$(PY) -m pytest -q -m real tests/test_real_data.py

test-fast: $(STAMP) ## The fast loop: unit tests, no report runs
	$(PY) -m pytest -q -m "not slow and not real and not spark and not postgres and not browser"

test-unit: $(STAMP) ## The unit tier: no generated CRM beyond a few hundred leads, no report, simulation or kernel (one pytest per core)
	@logs=$$(mktemp -d); \
	$(PY) -m pytest -q -p no:cacheprovider -m unit --unit-shard 0/2 > $$logs/a 2>&1 & a=$$!; \
	$(PY) -m pytest -q -p no:cacheprovider -m unit --unit-shard 1/2 > $$logs/b 2>&1 & b=$$!; \
	trap 'kill $$a $$b 2>/dev/null; rm -rf $$logs; exit 130' INT TERM; \
	ra=0; rb=0; wait $$a || ra=$$?; wait $$b || rb=$$?; cat $$logs/a $$logs/b; rm -rf $$logs; \
	test $$ra = 0 && test $$rb = 0

# Debian's chromium (installed with apt-get when missing and run as root), driven by Playwright for
# Python with executable_path: no browser is downloaded.
$(BROWSER_STAMP): $(STAMP)
	@test -x $(CHROMIUM) || { if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null); \
	  else echo "error: $(CHROMIUM) is missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM=" >&2; exit 2; fi; }
	$(PY) -m pip install --quiet --disable-pip-version-check "playwright==1.65.2"
	touch $(BROWSER_STAMP)

install-browser: $(BROWSER_STAMP) ## Add what the browser tests and screenshots need (Debian's chromium, Playwright)
	@echo "chromium and playwright ready"

test-browser: $(BROWSER_STAMP) ## Open every page of a published sample report in headless Chromium and check it
	$(PY) -m pytest -q -m browser tests/test_browser.py

screenshots: $(BROWSER_STAMP) ## Screenshots of reports/PERIOD's pages (1280 px, phone, PDF) -> reports/PERIOD/_screens/
	@test -n $(call quote,PERIOD) || { echo "error: set PERIOD, e.g. make screenshots PERIOD=2024Q1"; exit 2; }
	$(PY) -m sla_analysis.tools.browser --report $(if $(value OUT),$(call quote,OUT),reports)/$(call quote,PERIOD)

$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet "pyspark==3.5.5"
	touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP) ## Add the optional Spark engine (pyspark in local mode; needs Java 17)
	@echo "pyspark installed in $(VENV)"

test-spark: $(SPARK_STAMP) ## The Spark engine on a small sample: the same summary.json as DuckDB
	$(PY) -m pytest -q -m spark tests/test_spark.py

# Debian's PostgreSQL server (apt, as root or through sudo) and the Python driver Ibis uses.
$(POSTGRES_STAMP): $(STAMP)
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }
	$(PY) -m pip install --quiet --disable-pip-version-check "psycopg[binary]==3.3.9"
	touch $(POSTGRES_STAMP)

install-postgres: $(POSTGRES_STAMP) ## Add the PostgreSQL warehouse: Debian's postgresql (server, for the tests) and the psycopg driver
	@echo "postgresql and psycopg installed"

load-warehouse: $(POSTGRES_STAMP) ## Validate the export (DATA=, PROFILE=) and load it into ENGINE=postgres://user@host/db[/schema]
	@test -n $(call quote,ENGINE) || { echo "error: set ENGINE=postgres://user@host:port/db[/schema]"; exit 2; }
	@$(PY) -m sla_analysis load-warehouse $(ENGINE_ARG) $(if $(value DATA),--data $(call quote,DATA)) $(PROFILE_ARG)

test-postgres: $(POSTGRES_STAMP) ## PostgreSQL as target and source on a throwaway local server: the same summary.json as DuckDB
	$(PY) -m pytest -q -m postgres tests/test_postgres.py

bench: $(STAMP) ## Time the full report on generated CRMs (SIZES="S M L") beside pandas and bare DuckDB -> reports/bench/
	$(PY) -m sla_analysis bench --sizes $(call quote,SIZES)

clean-reports: ## Remove published reports (data/raw is never touched)
	rm -rf reports/*/ reports/.staging-* reports/.old-*
