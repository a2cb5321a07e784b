# lava-mlsnn: `make demo` trains, exports and runs the embedded DVS demo; `make test` runs the tests.
# Both build the Python 3.10 virtual environment in .venv on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pip warns once per package about index locations a machine may list but not have.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: venv demo test docs mutants clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/find_python310.sh
	@set -e -o pipefail; \
	if [ ! -x $(PY) ]; then \
	  py310=$$(scripts/find_python310.sh) || exit 1; \
	  echo "creating $(VENV) with $$py310"; \
	  "$$py310" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet --upgrade "pip<25" setuptools wheel 2>&1 | $(QUIET_PIP); \
	echo "installing lava-mlsnn and its pinned dependencies (first time: several minutes, ~4 GB)"; \
	$(PY) -m pip install --quiet --progress-bar off -e ".[notebooks,test,peers,neurobench,docs,tensorboard]" 2>&1 | $(QUIET_PIP); \
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lava-mlsnn demo

test: $(STAMP)
	$(PY) -m pytest -q --durations=15 tests

# API documentation (HTML in docs/_build/html; warnings are errors)
docs: $(STAMP)
	$(PY) -m sphinx -W -b html docs docs/_build/html

# Mutation testing of lava_mlsnn/fixed.py against the reference tests (not part of `make test`:
# about an hour on 2 cores). Results: `$(VENV)/bin/mutmut results`; see BENCHMARKS.md.
mutants: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev]" 2>&1 | $(QUIET_PIP)
	rm -rf mutants
	LAVA_MLSNN_EXAMPLES=20 LAVA_MLSNN_TEST_THREADS=1 OMP_NUM_THREADS=1 \
	  $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

clean-venv:
	rm -rf $(VENV)
