# sipas_analysis — the two commands: `make brief` (main job on the sample data) and `make test`.
# Everything Python installs into a local virtual environment (.venv) from a lock file with hashes
# (requirements/*.lock, exact versions of every package); the package itself is installed editable
# on top, without dependencies. `make brief` needs no Debian package (the briefs' fonts ship in
# sipas_analysis/report/fonts); `make test` adds the test tools and, as root, the Debian packages
# the tests use (R survey for the reference checks, poppler-utils for reading PDFs back).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
OUT    ?= reports
# Debian packages of the tests, installed without their recommended packages.
TEST_DEBS := r-cran-survey poppler-utils

.PHONY: all setup test-setup system-deps brief test lint format sample bench lock clean docs-images

all: brief

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip==25.3

# The package and what analysts use with it (JupyterLab, the notebooks' tools).
$(STAMP): requirements/brief.lock pyproject.toml | $(PY)
	$(PIP) install --require-hashes -r requirements/brief.lock
	$(PIP) install --no-deps -e .
	touch $(STAMP)

# Plus the test and lint tools.
$(TESTSTAMP): requirements/test.lock $(STAMP)
	$(PIP) install --require-hashes -r requirements/test.lock
	touch $(TESTSTAMP)

setup: $(STAMP)

test-setup: $(TESTSTAMP) system-deps

# Debian packages the tests use; installed when run as root and missing (otherwise a note).
system-deps:
	@if command -v Rscript >/dev/null && Rscript -e 'library(survey)' >/dev/null 2>&1 && command -v pdftotext >/dev/null; then \
		: ; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian packages: $(TEST_DEBS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_DEBS) >/dev/null; \
	else \
		echo "Note: the tests need the Debian packages $(TEST_DEBS); run 'make system-deps' as root."; \
	fi

# Main job: validate and analyse every bundled sample wave, write tables, figures and briefs to $(OUT)/.
brief: setup
	$(VENV)/bin/sipas run --out $(OUT)

test: test-setup
	$(PY) -m pytest

# Style, formatting and the import direction of the package (the layers in tests/test_layers.py).
lint: $(TESTSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

format: $(TESTSTAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# JupyterLab on the notebooks (jupytext opens notebooks/*.py as notebooks). Root (as in a container)
# needs --allow-root; a normal user does not get it. Extra options: make lab LAB_ARGS="--port=8899".
.PHONY: lab
lab:
	@test -x $(VENV)/bin/jupyter-lab || $(MAKE) setup
	$(VENV)/bin/jupyter-lab --ServerApp.root_dir="$(CURDIR)" $$([ "$$(id -u)" = "0" ] && echo --allow-root) $(LAB_ARGS)

# Regenerate the committed sample waves from the seeded generator (same seed, same files).
sample: setup
	$(VENV)/bin/sipas make-sample --out data/sample

# Speed and start-up against R survey (needs the test packages).
bench: test-setup
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_estimate.py

# Rebuild the lock files from pyproject.toml's ranges (keeps the locked versions that still fit;
# `make lock UPGRADE=--upgrade` moves to the newest). One resolution for every platform and for
# Python 3.11 and later, hashes from PyPI.
UV_VERSION := 0.13.9
UPGRADE ?=
lock: | $(PY)
	$(PIP) install uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile -q --no-config --index-url https://pypi.org/simple --universal \
		--python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(UPGRADE) \
		--extra notebooks pyproject.toml -o requirements/brief.lock
	$(VENV)/bin/uv pip compile -q --no-config --index-url https://pypi.org/simple --universal \
		--python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(UPGRADE) \
		--extra notebooks --extra dev pyproject.toml -o requirements/test.lock

# The README's pictures of a brief: pages 1-2 of the Thanh Hoa brief of the sample run (needs
# poppler-utils, installed by `make test`). Run after `make brief` when the briefs change.
docs-images:
	pdftoppm -r 70 -f 1 -l 2 -png $(OUT)/briefs/2025/ban_tin_2025_huyen_thanh_hoa.pdf docs/images/brief_thanh_hoa

clean:
	rm -rf $(OUT) .pytest_cache
