# sc-action-runner — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := $(CURDIR)/.venv
VENV_STAMP := $(VENV)/.installed-v1
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help venv test lint fmt demo

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# One venv for the local loop: moto's server (SQS) and cargo-lambda (which brings zig).
venv: $(VENV_STAMP) ## install moto[server] and cargo-lambda into .venv (once)
$(VENV_STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

demo: venv ## the main job, locally: every events/*.json, completion tracking, a fleet run, an AWS event; all checked
	cargo build -p sc-action-runner -p sc-local-loop --bins
	./target/debug/sc-local demo

test: venv ## every test: unit, handler, SDK adapters, emulator, the built binary through the Runtime API, infra checks
	cargo test --workspace --all-targets -- --include-ignored
	cargo test --workspace --doc
	$(PYTHON) -m py_compile bench/run_bench.py bench/rt_shim.py bench/moto_server.py bench/baseline/handler.py
	$(MAKE) --no-print-directory check-infra

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	cargo fmt --all

-include mk/*.mk
