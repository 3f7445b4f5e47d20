# Two commands on a fresh machine: `make demo` and `make test`.
# Everything else (the virtualenv, the package, the dev tools) is set up on demand.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup native demo test lint typecheck unit bench schema fleet goals clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "agentfold needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded,otel]'
	@touch $(STAMP)

setup: $(STAMP)

# The fold compiled with mypyc (streams/native/): rebuilt only when processors/ changed.
# Without a C compiler the pure-Python fold runs instead — same outputs, slower.
native: setup
	@$(PY) -m streams.native --if-stale || echo "native fold: continuing with pure Python"

demo: setup native
	$(VENV)/bin/agentfold demo

test: setup native lint typecheck unit

lint: setup
	$(VENV)/bin/ruff check schemas processors streams tests bench examples
	$(VENV)/bin/ruff format --check schemas processors streams tests bench examples

typecheck: setup
	$(VENV)/bin/mypy --strict schemas processors streams
	MYPYPATH=bench $(VENV)/bin/mypy --strict bench/*.py

unit: setup
	$(PY) -m pytest

# bench/peers.py's peer, Quix Streams, in the same virtualenv (only for `make bench`).
$(VENV)/.bench-stamp: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,embedded,otel,bench]' || echo "Quix Streams not installed: bench/peers.py skips its stage"
	@touch $@

bench: setup native $(VENV)/.bench-stamp
	$(PY) bench/peers.py
	$(PY) bench/fold.py
	$(PY) bench/live.py
	$(PY) bench/replay.py
	$(PY) bench/sdk.py
	$(PY) bench/scale.py
	$(PY) bench/bridge.py

schema: setup
	$(VENV)/bin/agentfold schema --out schema/

# Regenerate the example log (deterministic: fixed seed).
fleet: setup
	$(PY) examples/gen_fleet.py --out examples/fleet.jsonl

goals: setup
	$(PY) examples/gen_goals.py --out examples/goals.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
