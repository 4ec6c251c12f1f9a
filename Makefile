VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HYPOTHESIS_PROFILE ?= ci
# the torch version the suite runs on, read from pyproject.toml ([tool.derivcheck] torch): one pin, within
# the range of the package's dependencies (tests/test_pins.py)
TORCH := $(shell sed -n 's/^torch *= *"\([^"]*\)".*/\1/p' pyproject.toml)

.PHONY: setup tex test verify reports errata bench readme lint clean gpu-check

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==$(TORCH)"
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# TeX Live for the PDFs: installed here when we are root on a Debian/Ubuntu machine, else one line saying how.
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-latex-extra latexmk poppler-utils
tex:
	@if command -v latexmk >/dev/null && command -v pdflatex >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing TeX Live for the PDF reports (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES) >/dev/null; \
	else echo "make: TeX Live is missing; install it with: sudo apt-get install -y $(TEX_PACKAGES)" >&2; exit 1; fi

test: setup
	$(PY) -m pytest -q -n 2 -p no:cacheprovider -p no:benchmark --hypothesis-profile=$(HYPOTHESIS_PROFILE)

# The reports are built even when a check fails (they show the counterexamples); the exit status is verify's.
verify: setup tex
	mkdir -p reports/build; $(VENV)/bin/derivcheck verify --out reports/build/results.json; echo $$? > reports/build/.verify-status
	$(MAKE) --no-print-directory reports
	@echo "PDF reports in $(CURDIR)/reports/build:" && ls -1 $(addprefix $(CURDIR)/reports/build/,$(addsuffix .pdf,derivation verification errata training))
	@exit $$(cat reports/build/.verify-status)

reports: setup tex
	test -f reports/build/results.json || $(VENV)/bin/derivcheck verify --quick --out reports/build/results.json
	$(VENV)/bin/derivcheck report --results reports/build/results.json --out reports/build --which derivation,verification,errata,training

errata: setup
	$(VENV)/bin/derivcheck claims claims/*.toml claims/*.py --errata reports/build; test $$? -le 1

bench: setup
	$(VENV)/bin/derivcheck bench --out bench/results.json

# The README's figures (cases, checks, times) from a run: the commands of make verify, check-grad on the examples,
# --help and a usage error, timed here, rewrite the README's generated regions (scripts/readme_figures.py; with
# README_FLAGS=--suite also make test's suite, with --render only the regions from the stored run's JSON).
readme: setup
	$(PY) scripts/readme_figures.py $(README_FLAGS)

# On a machine with CUDA (issue 17): the whole suite, verify with torch-cuda and H v, the CUDA bench
# section, in one go, outputs under $(OUT); no install (PYTHONPATH=.). See scripts/gpu_check.sh.
OUT ?= build/gpu-check
gpu-check:
	OUT=$(OUT) bash scripts/gpu_check.sh

lint: setup
	$(VENV)/bin/ruff check derive numeric derivcheck tests
	$(VENV)/bin/ruff format --check derive numeric derivcheck tests
	$(VENV)/bin/mypy derive numeric derivcheck

clean:
	rm -rf reports/build bench/results.json
