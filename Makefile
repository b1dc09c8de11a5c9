# `make run` and `make test` set themselves up from nothing: a local virtual
# environment with torch pinned (constraints.txt) and aelab installed editable.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint setup clean

run: $(STAMP)
	$(BIN)/aelab study fashion-ae-vs-vae

test: lint
	$(BIN)/python -m pytest

# everything but the tests marked slow (real data, browsers, wheels, long runs), one worker a
# core (pytest-xdist): under a minute on 2 cores
test-fast: lint
	$(BIN)/python -m pytest -m "not slow" -n auto

lint: $(STAMP)
	$(BIN)/ruff check .

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs .pytest_cache
