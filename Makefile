# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run demo test lint bench lock clean

install: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

# The engine on its embedded default (SQLite file var/billing.sqlite): the HTTP API with the
# scheduler in-process, a demo catalogue and customers, and tokens printed to try it with.
run: install
	$(BIN)/billing serve --demo --db var/billing.sqlite $(ARGS)

# One subscription's whole life on a simulated clock, printed as a timeline.
demo: install
	$(BIN)/billing demo --db var/billing.sqlite $(ARGS)

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/lifecycle.py $(ARGS)

# Re-pin the dependencies after editing pyproject.toml (needs the network).
lock:
	$(PYTHON) -m venv /tmp/billing-lock && /tmp/billing-lock/bin/pip install --quiet pip-tools
	/tmp/billing-lock/bin/pip-compile --quiet --strip-extras --output-file requirements.lock pyproject.toml
	/tmp/billing-lock/bin/pip-compile --quiet --strip-extras --extra test --output-file requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .ruff_cache
