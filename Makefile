# The README's two commands: `make devnet` runs the main job, `make test` runs the suite. Both build the venv first.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

.PHONY: install devnet demo test test-all lint artifacts
install: $(VENV)/.installed

# A whole pamchain on this machine until Ctrl-C (see README); `make demo` plays the stories and exits.
devnet: $(VENV)/.installed
	$(VENV)/bin/pamchain devnet

demo: $(VENV)/.installed
	$(VENV)/bin/pamchain demo

# The compiled contracts shipped as package data (contracts/compiled/): rebuild after editing a .vy source
# (tests/contracts/test_artifacts.py fails until then).
artifacts: $(VENV)/.installed
	$(VENV)/bin/python -m pamchain.contracts

# Integration tests need a real Samba AD DC: install it (apt, once) before the suite. The suite runs on one
# pytest-xdist worker per core and one more (at most 4; `make test WORKERS=0` runs one process), each with its
# own Samba DC.
WORKERS ?= auto
test: $(VENV)/.installed
	bash .ci/install-samba.sh
	bash .ci/install-browser.sh
	$(VENV)/bin/pytest -q -n $(WORKERS)

# Opt-in long runs: soak tests and the 10,000-step contract state machine.
test-all: $(VENV)/.installed
	bash .ci/install-samba.sh
	bash .ci/install-browser.sh
	$(VENV)/bin/pytest -q -n $(WORKERS) --run-slow

# ruff (lint, then formatting), then mypy over the whole tree, strict on node/ and sdk/ (pyproject.toml).
# mypy cannot follow the editable install's import hook, so `pamchain` is a link to this folder on its path.
lint: $(VENV)/.installed $(VENV)/mypy-path/pamchain
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=$(VENV)/mypy-path $(VENV)/bin/mypy

$(VENV)/mypy-path/pamchain:
	mkdir -p $(VENV)/mypy-path
	ln -sfn $(CURDIR) $@
