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

# The reports are built even when a check fails (they show the counterexamples); the exit status is verify's.
verify: setup
	mkdir -p reports/build; $(VENV)/bin/derivcheck verify --out reports/build/results.json; echo $$? > reports/build/.verify-status
	$(MAKE) --no-print-directory reports
	@echo "PDF reports in $(CURDIR)/reports/build:" && ls -1 $(CURDIR)/reports/build/*.pdf
	@exit $$(cat reports/build/.verify-status)

reports: setup
	test -f reports/build/results.json || $(VENV)/bin/derivcheck verify --quick --out reports/build/results.json
	$(VENV)/bin/derivcheck report --results reports/build/results.json --out reports/build --which derivation,verification,errata,training

errata: setup
	$(VENV)/bin/derivcheck claims claims/*.toml claims/*.py --errata reports/build; test $$? -le 1

bench: setup
	$(VENV)/bin/derivcheck bench --out bench/results.json

lint: setup
	$(VENV)/bin/ruff check derive numeric derivcheck tests
	$(VENV)/bin/mypy derive numeric derivcheck

clean:
	rm -rf reports/build bench/results.json
