# sc-action-runner — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := $(CURDIR)/.venv
VENV_STAMP := $(VENV)/.installed-v1
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help venv test lint fmt build demo unit

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# One venv for the local loop: moto's server (SQS) and cargo-lambda (which brings zig).
venv: $(VENV_STAMP) ## install moto[server] and cargo-lambda into .venv (once)
$(VENV_STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

-include mk/*.mk
