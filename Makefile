# Two commands set everything up on a fresh Debian machine:
#   make run    venv + packages, then the main job on the local lab
#   make test   venv + packages, then lint, types and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEB_PACKAGES := faketime openssh-server iproute2 procps chromium iptables conntrack python3-venv shellcheck vagrant fuse3 gcc python3-dev

.PHONY: run test lint typecheck unit integration bench clean deps

$(VENV)/.debs:
	@mkdir -p $(VENV)
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	else echo "not root: skipping Debian packages ($(DEB_PACKAGES)); clock faults need faketime"; fi
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.debs
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# mypyc builds of the hot modules (optional: they are used only while they match the
# sources; without a compiler everything runs as pure Python, see native/__init__.py)
$(VENV)/.compiled: $(VENV)/.installed $(wildcard native/*.py checkers/*.py checkers/*/*.py node/*.py node/*/*.py harness/*.py workloads/*.py)
	$(BIN)/python -m native
	@touch $@

deps: $(VENV)/.installed $(VENV)/.compiled

run: deps
	$(BIN)/sibyl run

lint: deps
	$(BIN)/ruff check native node harness checkers workloads tests benchmarks
	$(BIN)/ruff format --check native node harness checkers workloads tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: deps
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
