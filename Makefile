# driftloop — run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DRIFTLOOP_HOME ?= $(CURDIR)/.driftloop
# Compiled bytecode goes to one cache folder instead of littering the tree (and keeps airflow fast
# on machines that set PYTHONDONTWRITEBYTECODE).
export PYTHONPYCACHEPREFIX ?= $(DRIFTLOOP_HOME)/pycache
unexport PYTHONDONTWRITEBYTECODE

VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(VENV)-uv/bin/uv)
STAMP := $(VENV)/.installed
DAYS ?= 60
SCENARIO ?= covariate_shift
SEED ?= 7
OUT ?= demo-out
PORT ?= 8080
MLFLOW_PORT ?= 5000
# demo-live: a real scheduler takes tens of seconds a day, so fewer days and rows unless told.
LIVE_DAYS := $(if $(filter file,$(origin DAYS)),25,$(DAYS))
ROWS ?= 1000

.PHONY: help install test test-fast compose-tools compose-image compose-test lint format docs docs-serve demo demo-live airflow stop status bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)-uv/bin/uv:
	python3 -m venv $(VENV)-uv && $(VENV)-uv/bin/pip install -q uv

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $(STAMP)

# Data Docs' scripts, styles and fonts from npm (exact versions; not committed), served by the plugin
# so the pages work offline. Without npm the pages load them from CDNs as GX made them.
ASSETS_STAMP := include/driftloop/airflow/web_assets/.installed
$(ASSETS_STAMP): include/driftloop/airflow/offline.py | $(STAMP)
	$(PY) -m driftloop.airflow.offline
	@if [ -d $(@D) ]; then touch $@; fi

install: $(STAMP) $(ASSETS_STAMP) ## Create .venv with uv and install driftloop + dev tools + Data Docs web assets (idempotent)

# Two lanes side by side (a lane runs its tiers one after another, each in its own pytest process):
# the tiers that mostly wait for the servers they start beside the ones that compute. The browser
# tier comes last, once the other lane is done: its approval flow raced with a loaded api-server
# (a resumed task's success report landed after the executor's) when it ran beside the e2e tier.
TEST_LANES ?= service,live,dags,reliability unit,integration,e2e,browser
test: install ## Run every tier, in lanes side by side (TEST_LANES; PYTEST_ARGS go to each pytest)
	$(PY) -m tests.support.lanes $(TEST_LANES) -- $(PYTEST_ARGS)

test-fast: install ## Only the quick tiers (dags + unit)
	$(PY) -m pytest tests -m "dags or unit"

# The compose tier (tests/compose): its own dockerd, images built locally (no registry), cached in
# COMPOSE_CACHE between runs. Needs root and Debian's docker.io, docker-compose and debootstrap.
COMPOSE_CACHE ?= /var/tmp/driftloop-docker
COMPOSE_TOOLS := dockerd docker-compose debootstrap
compose-tools:
	@missing=; for t in $(COMPOSE_TOOLS); do PATH=/usr/sbin:/usr/bin:$$PATH command -v $$t >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null; fi

compose-image: install compose-tools ## Build the base, stand-in and project images in the compose tier's own dockerd (timings, size)
	DRIFTLOOP_COMPOSE_CACHE=$(COMPOSE_CACHE) $(PY) -m tests.compose.engine build

compose-test: install compose-tools ## The compose tier: image checks, `docker-compose up` with 2 workers, the loop, faults, down/up (~20 min)
	DRIFTLOOP_COMPOSE_CACHE=$(COMPOSE_CACHE) $(PY) -m pytest tests/compose -m compose -p no:cacheprovider

lint: install ## ruff (check + format), mypy on the library, the import contracts (lint-imports)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

docs: install ## Build the documentation site into site/ (--strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: install ## Serve the documentation site on http://127.0.0.1:8000 with live reload
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

demo: install ## Simulate DAYS days (default 60) through the real DAGs; results in OUT/
	$(VENV)/bin/driftloop demo --days $(DAYS) --scenario $(SCENARIO) --seed $(SEED) --out $(OUT)

demo-live: install ## The demo through a real local Airflow + MLflow (DAYS, default 25; ~1 min a day); OUT/live/
	$(VENV)/bin/driftloop demo --live --days $(LIVE_DAYS) --rows $(ROWS) --scenario $(SCENARIO) --seed $(SEED) --out $(OUT)/live $(if $(KEEP),--keep-running)

airflow: install ## Start Airflow (PORT=8080) and the MLflow UI (MLFLOW_PORT=5000) in the background; FOREGROUND=1 to stay attached
	$(VENV)/bin/driftloop airflow --port $(PORT) --mlflow-port $(MLFLOW_PORT) $(if $(FOREGROUND),--foreground)

stop: install ## Stop what `make airflow` started (from DRIFTLOOP_HOME)
	$(VENV)/bin/driftloop stop

status: install ## Is the local stack running? URLs, login and logs
	@$(VENV)/bin/driftloop status

bench: install ## Benchmarks of issue 12, one after another (JSON on stdout, copies in bench/results/); BENCH_ARGS=--quick for small sizes
	@set -e; for f in bench/[!_]*.py; do echo "== $$f" >&2; $(PY) $$f $(BENCH_ARGS); done

clean: ## Remove local state (DRIFTLOOP_HOME) and demo output (stops a running stack first)
	@if [ -x $(VENV)/bin/driftloop ]; then $(VENV)/bin/driftloop stop; fi
	rm -rf $(DRIFTLOOP_HOME) $(OUT)
