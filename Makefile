# `make run` and `make test` set themselves up from nothing: a local virtual
# environment with torch pinned (constraints.txt) and aelab installed editable.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup clean

run: $(STAMP)
	$(BIN)/aelab study fashion-ae-vs-vae

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs .pytest_cache
