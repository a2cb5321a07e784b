# lava-mlsnn: `make demo` trains, exports and runs the embedded DVS demo; `make test` runs the tests.
# Both build the Python 3.10 virtual environment in .venv on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast bench clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/find_python310.sh
	@set -e; \
	if [ ! -x $(PY) ]; then \
	  py310=$$(scripts/find_python310.sh) || exit 1; \
	  echo "creating $(VENV) with $$py310"; \
	  "$$py310" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet --upgrade "pip<25" setuptools wheel; \
	echo "installing lava-mlsnn and its pinned dependencies (first time: several minutes, ~4 GB)"; \
	$(PY) -m pip install --quiet --progress-bar off -e ".[notebooks]"; \
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lava-mlsnn demo

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
