# `make run` and `make test` each set themselves up on a fresh machine (Python 3.11, Node, make).
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_OK := $(VENV)/.run-installed
TEST_OK := $(VENV)/.test-installed
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast lint bench chromium clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_OK): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_OK): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(RUN_OK)

run: $(RUN_OK)
	$(VENV)/bin/gocua serve

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium fonts-noto-core; }

lint: $(TEST_OK)
	$(VENV)/bin/ruff check .

test: $(TEST_OK) chromium lint
	$(VENV)/bin/pytest
	node --test tests/js/

# The quick loop, about 50 s of CPU time: no browser, and none of the tests marked slow (servers
# killed and faulted for real, Hypothesis runs of hundreds of examples). `make test` runs them too.
test-fast: $(TEST_OK)
	$(VENV)/bin/pytest -m "not e2e and not slow"
	node --test tests/js/

bench: $(TEST_OK)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
