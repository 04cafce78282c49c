# thbdb: everything installs into .venv from the pinned lock (uv.lock); nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := .cache/uv/bin/uv
# The venv's interpreter: Debian's python3 where there is one. pyenv's lives under /root
# (mode 0700), which the hub's and the countries' own accounts could not run.
VENV_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v $(PYTHON))
THBDB := $(VENV)/bin/thbdb

.PHONY: setup cluster-packages demo test test-fast lint typecheck unit kafka chromium schema docs catalogues screenshots bench bench-quick attacks-quick clean down

setup: $(VENV)/.synced kafka chromium cluster-packages ## install Python deps, fetch the Kafka broker, Chromium for the report test, PostgreSQL and Redis for the cluster profile

$(UV):
	$(PYTHON) -m venv .cache/uv
	.cache/uv/bin/pip install --quiet uv==0.13.9

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --python $(VENV_PYTHON)
	touch $@

kafka: ## fetch the Apache Kafka broker jars from Maven Central (cached in .cache/kafka)
	@ls .cache/kafka/lib/kafka_2.13-*.jar >/dev/null 2>&1 || mvn -q -B -f infra/kafka/pom.xml package

# Debian's Chromium renders the analyst report in a test; Playwright only drives it and
# never downloads a browser of its own. Installed only if absent (as root, or with sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium; \
	else echo "warning: no apt-get: install Chromium by hand for tests/unit/test_analysis_report.py" >&2; fi

# The cluster profile (`thbdb up --cluster`) runs Debian's PostgreSQL and Redis servers:
# installed only if absent (as root, or with sudo), as Chromium is.
cluster-packages:
	@missing=""; ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "warning: no apt-get: install$$missing by hand for the cluster profile (tests/cluster)" >&2; fi; \
	fi

demo: setup ## start the stack, push six countries' synthetic exports, run, report
	$(THBDB) demo

test: setup lint typecheck ## every test: unit, integration (real Kafka, Airflow), end to end
	$(VENV)/bin/pytest

unit: setup
	$(VENV)/bin/pytest tests/unit

test-fast: $(VENV)/.synced lint typecheck ## the inner loop: lint, types, unit tests without the attack harness and the estimate's 400 simulations
	$(VENV)/bin/pytest tests/unit --deselect tests/unit/test_linkage_attacks.py \
	  --deselect tests/unit/test_estimate.py::test_the_interval_covers_the_true_size_in_nine_simulations_out_of_ten

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

schema: setup ## republish the event JSON Schema from the code
	$(VENV)/bin/python -m transforms.events

# A fixed width: the help text must not depend on the terminal (tests/unit/test_cli_docs.py).
docs: $(VENV)/.synced ## regenerate docs/cli.md, the command reference, from the CLI
	COLUMNS=100 $(VENV)/bin/typer thbdb.cli utils docs --name thbdb --output docs/cli.md

# The browser's messages: extract them, update each language's catalogue, write Serbian
# Cyrillic from Serbian Latin (release/catalogues.py). Translators then edit the .po files.
catalogues: $(VENV)/.synced ## update release/locale/ from the pages' code and templates
	$(VENV)/bin/python -m release.catalogues

# The README's pictures of the browser's pages, as the last browser test run took them.
screenshots: $(VENV)/.synced ## run the browser tests and copy their screenshots to docs/screenshots
	$(VENV)/bin/pytest -q tests/unit/test_table_builder.py
	mkdir -p docs/screenshots && cp .cache/screenshots/*.png docs/screenshots/

bench: setup ## throughput, latency, queries and memory beside their baselines (<= 30 min); attacks on linkage (35 min); differencing attacks on counts (1 min); a 1 GB export pushed in bounded memory (16 min); the victims estimate on 400 simulated populations per design (4 min); the cluster profile beside the embedded stack (8 min)
	$(VENV)/bin/python -m benchmarks --out bench-results.json
	$(VENV)/bin/python -m benchmarks.linkage_attacks
	$(VENV)/bin/python -m benchmarks.differencing
	$(VENV)/bin/python -m benchmarks.large_export --mb 1024
	$(VENV)/bin/python -m benchmarks.estimate_coverage --sims 400 --sensitivity --out benchmarks/estimate-coverage.json
	$(VENV)/bin/python -m benchmarks.cluster_profile --out benchmarks/cluster-profile.json

bench-quick: setup ## the same figures at N = 20,000 and 500,000 victims, the differencing attacks, a 16 MB export and 100 simulated populations (about 4 min); make attacks-quick for the linkage attacks
	$(VENV)/bin/python -m benchmarks --quick --out bench-results.json
	$(VENV)/bin/python -m benchmarks.differencing --quick --out bench-differencing.json
	$(VENV)/bin/python -m benchmarks.large_export --mb 16
	$(VENV)/bin/python -m benchmarks.estimate_coverage --sims 100

attacks-quick: setup ## the attacks on linkage and on counts, quick form (3 min)
	$(VENV)/bin/python -m benchmarks.linkage_attacks --quick --output bench-linkage-attacks.json
	$(VENV)/bin/python -m benchmarks.differencing --quick --out bench-differencing.json

down:
	$(THBDB) down

clean: down
	rm -rf .thbdb
