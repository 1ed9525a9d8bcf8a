# Multimodal Prompt Studio. Needs only Python 3.11+ ("make run", "make test").
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
PORT ?= 8000
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k worker -x"
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist); make test XDIST=0 runs in one process.
XDIST ?= auto

.DEFAULT_GOAL := help
.PHONY: help install run migrate test lint format ci clean

help:
	@echo "make run      install, migrate, seed the demo and start web + worker on http://127.0.0.1:$(PORT)/"
	@echo "make test     install and run the test suite (SQLite, filesystem broker)"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make ci       the full CI run (.ci/run): SQLite, then PostgreSQL + Redis, lint, deploy checks"
	@echo "make install  create .venv and install the pinned requirements"
	@echo "make migrate  apply database migrations"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: install
	$(PY) scripts/run.py --port $(PORT)

test: install
	@if [ "$(XDIST)" = "0" ]; then xdist=""; else xdist="-n $(XDIST)"; fi; \
	$(PY) -m pytest $$xdist $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

ci:
	bash .ci/run

clean:
	rm -rf var/test var/broker .pytest_cache .ruff_cache
