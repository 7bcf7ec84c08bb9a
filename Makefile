# The two commands of the README: `make run` and `make test` (`make test-fast` beside it).
# All set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install browser run demo test test-fast test-long lint bench screenshots lock clean

install: $(STAMP)

# WeasyPrint renders with the system's Pango and subsets fonts with HarfBuzz's libharfbuzz-subset
# (without it WeasyPrint falls back to fontTools: 2-3 times slower, and other PDF bytes).
# Debian packages, installed only when missing (needs root, as on the CI machine).
SYSTEM_LIBS := libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz-subset.so.0
SYSTEM_PKGS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

$(STAMP): requirements-dev.lock pyproject.toml
	@for lib in $(SYSTEM_LIBS); do ldconfig -p | grep -q "$$lib" || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for PDF rendering: $(SYSTEM_PKGS)"; \
	  apt-get update -qq && apt-get install -y -qq $(SYSTEM_PKGS) >/dev/null; \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m adapters.documents.fonts install
	$(BIN)/python -m api.assets install

	@rm -f $(VENV)/.installed-* && touch $@

# The engine on its embedded default (SQLite file var/billing.sqlite): the HTTP API with the
# scheduler in-process, a demo catalogue and customers, and tokens printed to try it with.
run: install
	$(BIN)/billing serve --demo --db var/billing.sqlite $(ARGS)

# One subscription's whole life on a simulated clock, printed as a timeline.
demo: install
	$(BIN)/billing demo --db var/demo.sqlite $(ARGS)

# The browser the page tests drive: Debian's Chromium (Playwright's own browser download is not
# used), installed only for the tests and only when missing (needs root, as on the CI machine).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the page tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# A third-party Zarinpal v4 client the gateway contract tests run against the sandbox (tests
# only). It pins old pydantic and requests, so it lives in a virtual environment of its own.
CLIENT := $(VENV)/zarinpal-client/bin/python

$(CLIENT): | $(STAMP)
	$(PYTHON) -m venv $(VENV)/zarinpal-client
	$(CLIENT) -m pip install --quiet --disable-pip-version-check zarinpal==1.0.0

test: install browser $(CLIENT)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(ARGS)

# The fast tier (docs/TESTING.md): no test marked `postgres` or `slow` (no PostgreSQL, browser,
# subprocesses or random lifecycle machines). BILLING_TEST_POSTGRES=off makes a test that
# reaches PostgreSQL without the mark fail at once; the property tests keep the quick profile.
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	BILLING_TEST_POSTGRES=off HYPOTHESIS_PROFILE=quick $(BIN)/pytest -m "not postgres and not slow" $(ARGS)

# The property tests' long profile: thousands of random lifecycle histories (docs/TESTING.md).
test-long: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/property $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/lifecycle.py $(ARGS)

# The page tests, writing their screenshots into docs/ (what people see, for the docs).
screenshots: install browser
	BILLING_SCREENSHOTS_DIR=docs $(BIN)/pytest tests/pages $(ARGS)

# Re-pin the dependencies after editing pyproject.toml (needs the network).
lock:
	$(PYTHON) -m venv /tmp/billing-lock && /tmp/billing-lock/bin/pip install --quiet pip-tools
	/tmp/billing-lock/bin/pip-compile --quiet --strip-extras --output-file requirements.lock pyproject.toml
	/tmp/billing-lock/bin/pip-compile --quiet --strip-extras --extra test --output-file requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .ruff_cache
