# The two commands a newcomer runs: `make demo` and `make test`.
# Both create the virtualenv when it is missing and (re)install the project when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test check bench system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

demo: $(STAMP)
	@$(VENV)/bin/collectorkit demo

# PostgreSQL and Redis come from the machine's packages when missing; the test run starts and stops its own.
system-deps:
	@scripts/install-system-deps

test: $(STAMP) system-deps
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

check: test

bench: $(STAMP) system-deps
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
