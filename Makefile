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
FAST_TESTS := tests/fast

# The fast tier: the service, API and storage contracts on small fake models (tests/fakes.py);
# no model loads, so it runs in seconds.
test-fast: $(BIN)/qa
	$(PYTEST) $(FAST_TESTS)

# The full tier: every other test, on the real models (and the browser tests).
test-full: install
	$(PYTEST) --ignore=$(FAST_TESTS)

test: test-fast test-full

lint: install
	$(BIN)/ruff check qa embeddings api eval tests scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .cache
