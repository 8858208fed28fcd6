# Message Queues & Event Streaming Lab. `make lab` to study, `make test` to check everything.
# Every target does its own set-up; running one twice does no work the second time.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JUPYTER_PORT ?= 8888
PYTEST_ARGS ?=
# make test runs test files and notebooks on this many workers, each file whole on one worker;
# the few that restart or load a shared broker run alone (tests/sharing.py). 0: one at a time.
TEST_WORKERS ?= 2
# Set-up in two stages: what `brokers-up` imports (the helpers and the broker clients), then
# the rest of the dev extra (JupyterLab, pytest, nbval, ruff), installed while the brokers start.
RUNTIME_STAMP := $(VENV)/.runtime-done
SETUP_STAMP := $(VENV)/.setup-done
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

# uv (pinned, from PyPI) installs the environment in seconds where pip takes a minute. It is
# fetched once per machine into the cache the Kafka jars share; where it cannot be had, or with
# LAB_INSTALLER=pip, pip installs the same pinned packages.
UV_VERSION := 0.13.8
LAB_INSTALLER ?= uv
UV_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mq-lab/uv-$(UV_VERSION)
UV := $(UV_DIR)/bin/uv
USE_UV = [ "$(LAB_INSTALLER)" = uv ] && [ -x "$(UV)" ]
INSTALL = if $(USE_UV); then "$(UV)" pip install --quiet --python $(PY) $(1); \
	else $(PY) -m pip install --quiet --disable-pip-version-check $(1); fi

# Open a browser only where there is a display to show it.
BROWSER_FLAG := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The dev extra installs while the brokers start; each one's output is printed in one piece.
READY = $(MAKE) --no-print-directory -j2 $(if $(filter 3.%,$(MAKE_VERSION)),,--output-sync=target) setup brokers-up
# Running every notebook: the programs and jars of the lessons' services (Graphviz, Prometheus,
# PostgreSQL, ...) install meanwhile too, instead of in the first notebook that needs them.
READY_ALL = $(MAKE) --no-print-directory -j3 $(if $(filter 3.%,$(MAKE_VERSION)),,--output-sync=target) setup brokers-up programs

.PHONY: help setup programs lab test soak bench book quiz lint format brokers-up brokers-down brokers-status cluster-up cluster-down cluster-status secure-up secure-down secure-status clean distclean

help:
	@echo "make lab             set up, start the brokers, serve JupyterLab on notebooks/ (port \$$JUPYTER_PORT, default 8888)"
	@echo "make test            set up, start the brokers, run helper tests, notebook hygiene and every notebook (nbval)"
	@echo "make soak            the crash experiments, larger, killed at random, under CPU load (SOAK_RUNS, SOAK_SCALE)"
	@echo "make bench           Python harness beside each broker's own benchmark tool, into results/latest (BENCH_SCALE)"
	@echo "make book            execute every notebook; pages, one revision book (HTML + PDF) in build/book/"
	@echo "make programs        install what the services beside the brokers need (make test and make book do it meanwhile)"
	@echo "make quiz            the revision quiz in the terminal, missed questions first (QUIZ_ARGS=\"--count 36\")"
	@echo "make brokers-up      start Kafka, RabbitMQ and Redis (external > docker > native)"
	@echo "make brokers-down    stop the brokers that brokers-up started"
	@echo "make brokers-status  broker, endpoint, backend, health, version, pid, log"
	@echo "make cluster-up      three-node Kafka, RabbitMQ and Redis (+ Sentinel) clusters beside the brokers"
	@echo "make cluster-down    stop the cluster nodes; cluster-status: node, address, role, health, pid"
	@echo "make secure-up       Kafka, RabbitMQ and Redis with TLS, authentication and ACLs, beside the brokers"
	@echo "make secure-down     stop the secured brokers; secure-status: broker, ports, health, pid"
	@echo "make lint            ruff over helpers/, lab/, tests/ and the notebooks; mypy (strict) over helpers/ and lab/; import-linter; actionlint"
	@echo "make clean           stop the brokers, delete their state and build/; distclean also deletes .venv"
	@echo "bin/kafka-topics, bin/rabbitmqctl, bin/redis-cli, ...: the brokers' own tools, pointed at the lab (README)"

setup: $(SETUP_STAMP)

# What the lessons and the services beside the brokers need, installed ahead of their first use.
programs: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers install

# With the interpreter's own pip where it has one (a folder of its own, not the system's
# packages), else with the pip of a throw-away venv. Written aside and renamed when complete.
$(UV):
	@echo "fetching uv $(UV_VERSION) from PyPI (once per machine)"
	@rm -rf "$(UV_DIR).tmp" && mkdir -p "$(dir $(UV_DIR))" && \
	if $(PYTHON) -m pip --version >/dev/null 2>&1; \
	then $(PYTHON) -m pip install -q --disable-pip-version-check --target "$(UV_DIR).tmp" uv==$(UV_VERSION); \
	else $(PYTHON) -m venv "$(UV_DIR).tmp" && "$(UV_DIR).tmp/bin/pip" install -q --disable-pip-version-check uv==$(UV_VERSION); \
	fi && mv "$(UV_DIR).tmp" "$(UV_DIR)" || \
	{ rm -rf "$(UV_DIR).tmp"; echo "uv $(UV_VERSION) could not be fetched: installing with pip instead (slower)"; }

$(RUNTIME_STAMP): pyproject.toml constraints.txt | $(if $(filter uv,$(LAB_INSTALLER)),$(UV))
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11")'
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "Python's venv module is missing. Install it with: sudo apt-get install -y python3-venv"; exit 1; }
	@echo "setting up $(VENV) with $$($(USE_UV) && echo uv || echo pip)"
	@if $(USE_UV); then "$(UV)" venv --quiet --allow-existing --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(VENV); \
	else $(PYTHON) -m venv $(VENV); fi
	@$(call INSTALL,-c constraints.txt -e . pip) || \
	{ echo "The install failed (above). To try with pip alone: rm -rf $(VENV) && LAB_INSTALLER=pip make setup"; exit 1; }
	@touch $@

# Adds packages only (the helpers and their clients stay as stage 1 left them), so brokers-up
# may run from the same venv meanwhile.
$(SETUP_STAMP): $(RUNTIME_STAMP)
	@$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"], sep="\n")' > $(VENV)/dev-requirements.txt
	@$(call INSTALL,-c constraints.txt -r $(VENV)/dev-requirements.txt)
	@# JupyterLab opens without asking to fetch news and without checking for updates.
	@mkdir -p $(dir $(LAB_SETTINGS))
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_SETTINGS)
	@touch $@

brokers-up: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers up

brokers-down: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers down

brokers-status: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers status

cluster-up: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers up --cluster

cluster-down: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers down --cluster

cluster-status: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers status --cluster

secure-up: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers up --secure

secure-down: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers down --secure

secure-status: $(RUNTIME_STAMP)
	$(PY) -m lab.brokers status --secure

lab:
	@$(READY)
	@echo "JupyterLab: http://localhost:$(JUPYTER_PORT)/lab  (Ctrl-C stops it; the brokers keep running until make brokers-down)"
	@echo "The brokers' own tools: bin/kafka-topics, bin/kafka-console-consumer, bin/rabbitmqctl, bin/redis-cli, ... (see README)"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(JUPYTER_PORT) $(BROWSER_FLAG) $(ROOT_FLAG)

test:
	@$(READY_ALL)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

soak:
	@$(READY)
	$(PY) -m pytest -m soak -s tests/test_soak.py tests/test_partitions.py $(PYTEST_ARGS)

bench:
	@$(READY)
	$(PY) -m lab.bench

book:
	@$(READY_ALL)
	$(PY) -m lab.book.build

quiz: $(RUNTIME_STAMP)
	@$(PY) -m lab.revision.terminal $(QUIZ_ARGS)

LINTED := helpers lab tests notebooks

# actionlint checks the GitHub Actions workflows; built once per machine with Go (PyPI's wrapper
# downloads its binary from outside the package registries).
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mq-lab/actionlint-$(ACTIONLINT_VERSION)/actionlint

$(ACTIONLINT):
	@command -v go >/dev/null || { echo "make lint builds actionlint with Go 1.24 or newer, which is missing: install it (https://go.dev/doc/install), or run the other checks with: make lint ACTIONLINT=true"; exit 1; }
	@echo "building actionlint $(ACTIONLINT_VERSION) with Go (once per machine)"
	@GOBIN="$(dir $@)" go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

lint: setup $(ACTIONLINT)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(ACTIONLINT) -no-color .github/workflows/*.yml

format: setup
	$(VENV)/bin/ruff check --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

clean:
	@if [ -x $(PY) ]; then $(PY) -m lab.brokers down --cluster; $(PY) -m lab.brokers down --secure; $(PY) -m lab.brokers down --clean; fi
	rm -rf .brokers build notebooks/runs .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
