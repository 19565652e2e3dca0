# The two commands a newcomer needs: `make dev` (or `make demo`) and `make test`.
# Both create .venv and install the pinned dependencies first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/layers/storeflows:$(CURDIR)/local

.PHONY: dev demo bench test lint validate check chromium unit e2e reference clean

$(STAMP): requirements-dev.txt layers/storeflows/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the storeflows CLI on $(BIN)
	touch $(STAMP)

dev: $(STAMP)  ## the local stack on http://127.0.0.1:$${PORT:-3000}; kept in .storeflows/local-state.json, FRESH=1 starts empty
	STOREFLOWS_FRESH=$(FRESH) $(BIN)/python -m storeflows_local serve

demo: $(STAMP)  ## local stack + scripted purchases + report; TEMPLATE=<name>|all
	STOREFLOWS_DEMO_TEMPLATE=$(TEMPLATE) $(BIN)/python -m storeflows_local demo --port 0

bench: $(STAMP)  ## calls, cost and cold start per purchase, per page view, per 1,000 alert recipients and per run of each flow (README "Cost and performance"); N=<purchases> SESSIONS=<browsing sessions> ALERTS=<recipients> FLOWS=0 (no flows part)
	$(BIN)/python -m storeflows_bench $(if $(N),--purchases $(N)) $(if $(SESSIONS),--sessions $(SESSIONS)) \
		$(if $(ALERTS),--alert-recipients $(ALERTS)) $(if $(filter 0,$(FLOWS)),--no-flows)

reference: $(STAMP)  ## docs/reference.md from the settings models (tests/unit/test_reference.py checks it)
	$(BIN)/python -m storeflows_cli.reference

lint: $(STAMP)  ## cfn-lint on template.yaml
	$(BIN)/cfn-lint template.yaml

validate: $(STAMP)  ## statelint on every state machine
	$(BIN)/statelint statemachines/*.asl.json

check: $(STAMP)  ## ruff (lint and format) and mypy on the code; `ruff format .` fixes the format
	$(BIN)/ruff check layers functions local tests
	$(BIN)/ruff format --check layers functions local tests
	$(BIN)/mypy

# The browser test drives Debian's chromium; CI runs as root on a clean Debian machine, so
# it installs the package there. Elsewhere, without it, that test says it was skipped.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium is not installed: tests/e2e/test_demo_shop.py will be skipped"

test: lint validate check chromium  ## everything CI runs
	$(BIN)/pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache
