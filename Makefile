# Two commands for a fresh clone:
#   make run   - create .venv if missing, install, run the workflow on this machine (snakemake --cores all)
#   make test  - create .venv if missing, install, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SNAKEMAKE_ARGS ?=
# The suite runs in one worker per core (at most 4), one test file per worker at a time (pytest-xdist);
# PYTEST_ARGS='-p no:xdist' runs it in this process.
PYTEST_ARGS ?= --numprocesses auto --maxprocesses 4 --dist loadfile
# Rules call `python -m ...`: the venv's python must come first on PATH (conda envs take its place on a cluster).
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test report docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores all $(SNAKEMAKE_ARGS)

# The result pages of the docs (docs/results/) and the READMEs' results blocks, from a run (runs what is missing).
docs: $(STAMP)
	$(BIN)/snakemake --cores all docs $(SNAKEMAKE_ARGS)

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf results resources logs .snakemake
