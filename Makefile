# Quick start: `make serve` (set up, index the sample article, run the service) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
QA_HOST ?= 127.0.0.1
QA_PORT ?= 8000

.PHONY: install serve test test-fast test-full lint typecheck clean

$(BIN)/qa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned to the CPU build first so nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# milvus: the Milvus backend's client and Milvus Lite, which its tests run on.
	$(BIN)/pip install --quiet -e '.[dev,milvus]'
	touch $(BIN)/qa

# axe-core (npm) audits the chat page in the browser tests.
AXE := .cache/npm/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --no-audit --no-fund --prefix .cache/npm axe-core@4.14.1

install: $(BIN)/qa $(AXE)

serve: install
	$(BIN)/qa ingest sample/
	$(BIN)/qa serve --host $(QA_HOST) --port $(QA_PORT)

PYTEST := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest
# The fast tier: the service, API and storage contracts on small fake models (tests/fast/, on
# tests/fakes.py) and the storage tests that need no model; nothing loads a model, so it runs
# in seconds.
FAST_TESTS := tests/fast tests/test_storage.py tests/test_index.py

# Its tests use none of the third-party pytest plugins, which take seconds to load.
test-fast: $(BIN)/qa
	$(PYTEST) -p no:schemathesis -p no:hypothesispytest -p no:anyio -p no:xdist $(FAST_TESTS)

# The full tier: every other test, on the real models (and the browser tests), one worker
# process per core, at most 4 (each loads the models); a test file runs whole in one worker, so
# its module fixtures are built once.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
test-full: install
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile $(addprefix --ignore=,$(FAST_TESTS))

test: test-fast test-full

lint: install
	$(BIN)/ruff check qa embeddings api eval tests scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .cache
