VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HYPOTHESIS_PROFILE ?= ci

.PHONY: setup test verify reports errata bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q -n 2 -p no:cacheprovider --hypothesis-profile=$(HYPOTHESIS_PROFILE)

verify: setup
	$(VENV)/bin/derivcheck verify --out reports/build/results.json
	$(MAKE) reports

reports: setup
	$(VENV)/bin/derivcheck report --results reports/build/results.json --out reports/build

bench: setup
	$(PY) -m derivcheck.bench --out bench/results.json

lint: setup
	$(VENV)/bin/ruff check derive numeric derivcheck tests
	$(VENV)/bin/mypy derive numeric derivcheck

clean:
	rm -rf reports/build bench/results.json
