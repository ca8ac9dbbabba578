# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint bench clean

$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install -e ".[dev,serving,beam]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/sessionrec demo

# CI has 2 cores: two pytest workers (pytest-xdist), each test on whichever is free.
TEST_WORKERS ?= 2

test: install
	$(PY) -m ruff check sessionrec_tf tests benchmarks
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15 tests

# the tests not marked slow (tests/conftest.py SLOW_DIRS and SLOW_FILES, the benchmark smoke runs)
test-fast: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not slow" tests

lint: install
	$(PY) -m ruff check sessionrec_tf tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
