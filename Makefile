# `make run` and `make test` each set themselves up on a fresh machine (Python 3.11, Node, make).
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_OK := $(VENV)/.run-installed
TEST_OK := $(VENV)/.test-installed
NODE_OK := node_modules/.installed
ESLINT  := node_modules/.bin/eslint
CHROMIUM := /usr/bin/chromium
NGINX    := /usr/sbin/nginx
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast lint bench chromium nginx java clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_OK): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_OK): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	# pyodata's wheel also installs its own test suite as a top-level package named `tests`,
	# which would hide this project's tests/ from `import tests.…`.
	rm -rf $(VENV)/lib/python*/site-packages/tests
	touch $@ $(RUN_OK)

# npm's packages too: the staff map's Leaflet is served from node_modules/.
run: $(RUN_OK) $(NODE_OK)
	$(VENV)/bin/gocua serve --demo

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium fonts-noto-core; }

# Debian's nginx, the reverse proxy tests/api/test_behind_nginx.py puts in front of `gocua serve`
# (the tests run their own nginx on free ports; the package's service is not needed).
nginx:
	@test -x $(NGINX) || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends nginx; }

# Debian's Java runs ODK Validate (the jar ships with pyxform) over the XForms served to ODK
# Collect, in tests/sync/test_openrosa.py.
java:
	@command -v java >/dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
	  default-jre-headless; }

# The JavaScript linter, axe-core (the browser tests' accessibility checker) and the staff
# map's Leaflet and Leaflet.markercluster, exactly as package-lock.json pins them; reinstalled
# only when the lock (or package.json) changes.
$(NODE_OK): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

lint: $(TEST_OK) $(NODE_OK)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(ESLINT) pwa tests/js server/static

# One pytest worker a core; --dist loadscope keeps a module's tests on one worker, so a module's
# own server and browser logins (the accessibility pages of every role) are set up once.
test: $(TEST_OK) $(NODE_OK) chromium nginx java lint
	$(VENV)/bin/pytest -n 2 --dist loadscope
	node --test tests/js/

# The quick loop, under a minute on two cores (pytest-xdist, one worker a core): no browser, and
# none of the tests marked slow (servers killed and faulted for real, Hypothesis runs of hundreds
# of examples). `make test` runs them too.
test-fast: $(TEST_OK)
	$(VENV)/bin/pytest -n 2 -m "not e2e and not slow"
	node --test tests/js/

# Each measured promise at a size that keeps the whole run reasonable: a script that has
# --quick runs with it (its full sizes: run it alone); bench/commune.py, bench/trees.py and
# bench/phones.py are the scripts' helpers.
BENCH_HELPERS = bench/commune.py bench/trees.py bench/phones.py
bench: $(TEST_OK)
	@for script in $(filter-out $(BENCH_HELPERS),$(wildcard bench/*.py)); do \
		quick=; grep -q -- '"--quick"' $$script && quick=--quick; \
		echo "== $$script $$quick"; $(PY) $$script $$quick || exit 1; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis test-artifacts
