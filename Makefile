# Everything installs from scratch into a virtualenv, so a fresh clone needs only python3.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean proto dist

$(STAMP): pyproject.toml setup.py dashfix/_native.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# pip compiles installed packages, not an editable source tree; without this, and with
	# PYTHONDONTWRITEBYTECODE set, every run compiles dashfix from source (~0.1 s).
	$(PY) -m compileall -q dashfix
	touch $(STAMP)

# The demo folder holds known faults, so verify exits 1 there; the demo itself succeeds.
demo: $(STAMP)
	$(VENV)/bin/dashfix verify fixtures/demo; status=$$?; \
	  echo "dashfix verify exited $$status (1 = findings at or above --fail-on)"; \
	  test $$status -le 1

# The stream and checkpoint-reading tests run a second time on the Python twins of the C
# helpers, the path an install without a C compiler takes.
TWIN_TESTS := tests/checks/test_stream_sequences.py tests/checks/test_stream_parallel.py \
	tests/test_native.py tests/formats/test_kcat_filelog.py \
	tests/formats/test_stream_frame.py tests/cli/test_stream_validate.py \
	tests/inputs/test_checkpoint_store.py tests/cli/test_verify_checkpoints.py \
	tests/repair/test_index_rebuild.py tests/test_cache.py

test: $(STAMP)
	$(PY) -m pytest -q
	DASHFIX_PURE_PYTHON=1 $(PY) -m pytest -q $(TWIN_TESTS)

lint: $(STAMP)
	$(PY) -m ruff check dashfix tests benchmarks fuzz
	$(PY) -m mypy dashfix
	# The import contract (formats <- inputs <- checks <- verify <- cli), see its docstring.
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

bench: $(STAMP)
	$(PY) -m benchmarks

# An sdist, then a wheel built from that sdist (so a file the sdist misses fails the build),
# in dist/. dashfix is not on a package index: `pip install dist/dashfix-*.whl` anywhere with
# the same Python and platform, or `pip install dist/dashfix-*.tar.gz` with a C compiler.
DIST ?= dist
dist: $(STAMP)
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .

# Coverage-guided fuzzing (atheris) of every decoder, one target after another:
# `make fuzz FUZZ_RUNS=100000 FUZZ_TARGETS="index dlq"`. docs/fuzzing.md has the details.
FUZZ_RUNS ?= 1000000
FUZZ_TARGETS ?=
fuzz: $(STAMP)
	$(PY) -m fuzz --runs $(FUZZ_RUNS) $(FUZZ_TARGETS)

# Regenerate dashfix/formats/proto/dashstream_pb2.py after editing dashstream.proto. protoc
# comes from grpcio-tools in a throwaway venv outside the repo; it is never a dependency.
PROTOC_VENV ?= /tmp/protoc-venv
proto: $(STAMP)
	test -x $(PROTOC_VENV)/bin/python || $(PYTHON) -m venv $(PROTOC_VENV)
	$(PROTOC_VENV)/bin/python -m pip install --quiet grpcio-tools==1.85.1
	PROTOC_PYTHON=$(PROTOC_VENV)/bin/python $(PY) dashfix/formats/proto/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
