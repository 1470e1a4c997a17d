# Greybound Lab — two commands: `make demo` and `make test`. Each sets itself up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY      := .venv/bin/python
PIP     := .venv/bin/pip
LAB     := .venv/bin/greybound-lab
PYTEST  := .venv/bin/pytest
CARGO   ?= cargo
EXTRAS  ?= dev,spice,train,nam
JOBS    ?= 2
RUST_SRC := $(shell find rust -name '*.rs' -o -name 'Cargo.toml' 2>/dev/null | grep -v '/target/')
EXT_STAMP := .venv/.greybound-ext-stamp
DEPS_STAMP := .venv/.greybound-deps-stamp

.PHONY: help setup system-deps demo test test-all bench lint rust-test py-test clean \
        lab-train-cells lab-check-neural-cell-rust lab-evaluate-integrated-neural-cell \
        lab-wavenet-golden lab-nam-captures lab-compare-nam

help:
	@echo "make demo      set up, then run the lab's default job and write reports/"
	@echo "make test      set up, then cargo test + pytest (excludes slow, bench)"
	@echo "make test-all  as test, plus the slow cases"
	@echo "make bench     criterion + pytest-benchmark, results into the trend store"
	@echo "make lint      ruff, cargo fmt --check, cargo clippy -D warnings"

# ---- set-up (idempotent; fast when done) -------------------------------------------------
system-deps:
	@bash .ci/system-deps.sh

.venv/bin/python:
	python3 -m venv .venv

$(DEPS_STAMP): pyproject.toml | .venv/bin/python
	$(PIP) install -q --upgrade "pip>=24" "maturin==1.16.0"
	$(PY) .ci/install_deps.py $(EXTRAS)
	@touch $@

$(EXT_STAMP): $(DEPS_STAMP) $(RUST_SRC) rust/Cargo.lock
	cd . && VIRTUAL_ENV=$(CURDIR)/.venv .venv/bin/maturin develop --release -q
	@touch $@

setup: system-deps $(EXT_STAMP)

# ---- jobs --------------------------------------------------------------------------------
demo: setup
	$(LAB) demo --output-dir reports
	$(LAB) compare-nam --rig nox30 --channel top_boost --knob volume=5 \
	  --nam nam_refs/nox30-top_boost-v5.nam --stimulus-set standard --report reports/nam-top_boost-v5
	$(PYTEST) -m acceptance -n $(JOBS)
	$(LAB) report --output-dir reports
	@echo "demo: reports/demo.md (stage renders), reports/nam-top_boost-v5/ (rig vs NAM capture), reports/report.html + report.md (acceptance, trends)"

rust-test:
	cd rust && $(CARGO) test --workspace --quiet

py-test: setup
	$(PYTEST) -n $(JOBS)

test: setup rust-test py-test

test-all: setup rust-test
	$(PYTEST) -n $(JOBS) -m "not bench"

bench: setup
	cd rust && $(CARGO) bench -p greybound-core -- --quick --noplot
	@mkdir -p .greybound
	$(PYTEST) -m bench --benchmark-only --benchmark-json=.greybound/bench.json -p no:xdist
	$(LAB) trend import-bench .greybound/bench.json

lint: setup
	.venv/bin/ruff check harness tests conftest.py
	.venv/bin/ruff format --check harness tests conftest.py
	cd rust && $(CARGO) fmt --all -- --check
	cd rust && $(CARGO) clippy --workspace --all-targets -- -D warnings

# ---- learned cells (issue 6) --------------------------------------------------------------
DATASETS := .greybound/datasets
CELLS    := common-cathode-12ax7-mlp common-cathode-12ax7-gru common-cathode-12ax7-table \
            diode-clipper-mlp

# Regenerates the golden cell artifacts: SPICE datasets → training → vectors → evaluation.
# Deterministic for the seeds in fixtures/cells/; review the diff before committing.
lab-train-cells: setup
	for f in common-cathode-12ax7 diode-clipper; do \
	  $(LAB) spice-dataset --fixture $$f --output-dir $(DATASETS)/$$f || exit 1; done
	for c in $(CELLS); do f=$${c%-*}; \
	  $(LAB) train-neural-cell --cell $$c --quiet --output-dir golden/cells/$$c \
	    --dataset-manifest $(DATASETS)/$$f/$$f.dataset.json || exit 1; \
	  $(LAB) export-neural-cell-vectors --descriptor golden/cells/$$c/model.greybound.json \
	    --output golden/cells/$$c/vectors.json || exit 1; done
	$(LAB) evaluate-neural-cell --dataset-manifest \
	  $(DATASETS)/common-cathode-12ax7/common-cathode-12ax7.dataset.json \
	  $(foreach c,$(filter common-cathode%,$(CELLS)),--descriptor golden/cells/$(c)/model.greybound.json) \
	  --report golden/cells/common-cathode-12ax7.evaluation.md > /dev/null

# The Rust side of neural-cell equivalence, from cargo (no Python) and from pytest.
lab-check-neural-cell-rust: setup
	cd rust && $(CARGO) test -p greybound-core --test neural_artifacts
	$(PYTEST) tests/cells/test_vectors.py -p no:xdist

# Nox30 analytic vs golden common-cathode cells in shadow and replace on the input stage.
lab-evaluate-integrated-neural-cell: setup
	$(LAB) evaluate-integrated-neural-cell --rig nox30 --report reports/integrated-neural-first-stage.md

# The WaveNet golden (issue 8): ≈ 40 min of training on one core, then the golden's files.
WAVENET_RUN := .greybound/runs/nox30-wavenet-medium
lab-wavenet-golden: setup
	$(LAB) train-wavenet --config fixtures/models/nox30-wavenet-medium.json5 --output-dir $(WAVENET_RUN)
	$(LAB) wavenet-golden --run-dir $(WAVENET_RUN)

# The self-made NAM captures in nam_refs/ (issue 9): official trainer, ≈ 14 min each.
lab-nam-captures: setup
	$(LAB) nam-capture --preset nox30-top_boost-v5
	$(LAB) nam-capture --preset nox30-hot-v8

# The Nox30 against both captures at their own settings (reports/nam-*/; exit 1 on a fail).
lab-compare-nam: setup
	$(LAB) compare-nam --rig nox30 --channel top_boost --knob volume=5 \
	  --nam nam_refs/nox30-top_boost-v5.nam --stimulus-set standard --report reports/nam-top_boost-v5
	$(LAB) compare-nam --rig nox30 --channel hot --knob volume=8 \
	  --nam nam_refs/nox30-hot-v8.nam --stimulus-set standard --report reports/nam-hot-v8

clean:
	rm -rf .venv rust/target reports .pytest_cache .benchmarks
