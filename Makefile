# sipas_analysis — the two commands: `make brief` (main job on the sample data) and `make test`.
# Everything installs into a local virtual environment (.venv); Debian packages (R survey for the
# reference tests, poppler for PDF checks, fonts) are installed by `make system-deps` when run as root.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= reports

.PHONY: all setup system-deps brief test lint format sample bench clean

all: brief

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) system-deps

# Debian packages the tests and briefs use. Skipped quietly when not root or when already present.
system-deps:
	@if [ "$$(id -u)" = "0" ] && ! { command -v Rscript >/dev/null && Rscript -e 'library(survey)' >/dev/null 2>&1 && command -v pdftotext >/dev/null; }; then \
		echo "Installing Debian packages: r-cran-survey poppler-utils fonts-noto-core"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-cran-survey poppler-utils fonts-noto-core >/dev/null; \
	fi

# Main job: validate and analyse every bundled sample wave, write tables, figures and briefs to $(OUT)/.
brief: setup
	$(VENV)/bin/sipas run --out $(OUT)

test: setup
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# JupyterLab on the notebooks (jupytext opens notebooks/*.py as notebooks). Root (as in a container)
# needs --allow-root; a normal user does not get it. Extra options: make lab LAB_ARGS="--port=8899".
.PHONY: lab
lab:
	@test -x $(VENV)/bin/jupyter-lab || $(MAKE) setup
	$(VENV)/bin/jupyter-lab --ServerApp.root_dir="$(CURDIR)" $$([ "$$(id -u)" = "0" ] && echo --allow-root) $(LAB_ARGS)

# Regenerate the committed sample waves from the seeded generator (same seed, same files).
sample: $(STAMP)
	$(VENV)/bin/sipas make-sample --out data/sample

bench: $(STAMP)
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_estimate.py

clean:
	rm -rf $(OUT) .pytest_cache
