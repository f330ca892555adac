# Care Route — the two commands: `make up` (run the whole platform on the embedded stack) and
# `make test` (the whole test suite). Both install what they need into .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PARTS := libs/platform devstack services/intake services/referral services/notify services/audit
FRONTEND := $(wildcard frontend/pyproject.toml)
STAMP := $(VENV)/.installed

.PHONY: install up down status logs seed screenshots test test-unit test-integration test-e2e bench chaos contracts lint browsers clean

$(STAMP): $(foreach p,$(PARTS),$(p)/pyproject.toml) requirements-dev.txt $(FRONTEND)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt $(foreach p,$(PARTS),-e $(p)) $(if $(FRONTEND),-e frontend)
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(PY) -m careroute_devstack up

down:
	$(PY) -m careroute_devstack down

status:
	$(PY) -m careroute_devstack status

logs:
	tail -n 40 -f .run/logs/*.log

seed: $(STAMP)
	$(PY) -m careroute_devstack.seed

# Browser tests need Debian's chromium (the Playwright download does not work offline).
browsers:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installable: browser tests will be reported as errors"

test: $(STAMP) browsers
	$(PY) -m pytest -p no:cacheprovider

test-unit: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -m unit

test-integration: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -m integration

test-e2e: $(STAMP) browsers
	$(PY) -m pytest -p no:cacheprovider -m e2e

bench: $(STAMP)
	$(PY) bench/run_all.py

chaos: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider tests/chaos -m chaos -s

contracts: $(STAMP)
	$(PY) contracts/build_asyncapi.py
	CAREROUTE_WRITE_OPENAPI=1 $(PY) -m pytest -p no:cacheprovider -q tests/contracts/test_openapi_documents.py

# Refresh the committed screenshots in docs/screenshots/ from the browser journey.
screenshots: $(STAMP) browsers
	CAREROUTE_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -p no:cacheprovider -q tests/e2e/test_browser_journey.py

clean:
	rm -rf .run $(VENV)
