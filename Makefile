# Message Queues & Event Streaming Lab. `make lab` to study, `make test` to check everything.
# Every target does its own set-up; running one twice does no work the second time.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JUPYTER_PORT ?= 8888
SETUP_STAMP := $(VENV)/.setup-done
PYTEST_ARGS ?=

# Open a browser only where there is a display to show it.
BROWSER_FLAG := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup lab test soak bench book lint format brokers-up brokers-down brokers-status clean distclean

help:
	@echo "make lab             set up, start the brokers, serve JupyterLab on notebooks/ (port \$$JUPYTER_PORT, default 8888)"
	@echo "make test            set up, start the brokers, run helper tests, notebook hygiene and every notebook (nbval)"
	@echo "make soak            the crash experiments, larger, killed at random, under CPU load (SOAK_RUNS, SOAK_SCALE)"
	@echo "make bench           Python harness beside each broker's own benchmark tool, into results/latest (BENCH_SCALE)"
	@echo "make book            execute every notebook and write HTML with plots under build/book/"
	@echo "make brokers-up      start Kafka, RabbitMQ and Redis (external > docker > native)"
	@echo "make brokers-down    stop the brokers that brokers-up started"
	@echo "make brokers-status  broker, endpoint, backend, health, version, pid, log"
	@echo "make lint            ruff over helpers/, tests/ and the notebooks"
	@echo "make clean           stop the brokers, delete their state and build/; distclean also deletes .venv"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11")'
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "Python's venv module is missing. Install it with: sudo apt-get install -y python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

brokers-up: setup
	$(PY) -m helpers.brokers up

brokers-down: setup
	$(PY) -m helpers.brokers down

brokers-status: setup
	$(PY) -m helpers.brokers status

lab: brokers-up
	@echo "JupyterLab: http://localhost:$(JUPYTER_PORT)/lab  (Ctrl-C stops it; the brokers keep running until make brokers-down)"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(JUPYTER_PORT) $(BROWSER_FLAG) $(ROOT_FLAG)

test: brokers-up
	$(PY) -m pytest $(PYTEST_ARGS)

soak: brokers-up
	$(PY) -m pytest -m soak -s tests/test_soak.py $(PYTEST_ARGS)

bench: brokers-up
	$(PY) -m scripts.bench

book: brokers-up
	$(PY) -m scripts.build_book

LINTED := helpers tests scripts notebooks

lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

format: setup
	$(VENV)/bin/ruff check --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

clean:
	@if [ -x $(PY) ]; then $(PY) -m helpers.brokers down; fi
	rm -rf .brokers build notebooks/runs .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
