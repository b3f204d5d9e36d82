# make bench: the Rust function against its Python peer, end to end (issues 5 and 14); see bench/README.md.
# Included by the root Makefile (`-include mk/*.mk`), which defines `venv` ($(VENV): moto_server and
# cargo-lambda). The peer runs from its own venv, .venv-bench (awslambdaric + boto3, pinned in
# bench/requirements.txt), which also runs the driver. The tables go to bench/results.md.
#
# The Rust side is built on its own (`--bin sc-action-runner`): building it in one cargo call with the
# emulator would unify features and measure a different binary from the one that ships. The fleet
# scenario's driver (sc-fleet-bench, in local-loop) is built on its own for the same reason.
# BENCH_ZIP=0 skips the cross build of the Lambda zip (the row then says "not built").
# `make bench-fleet` runs the fleet scenario alone (the first table of results.md stays as committed).

.PHONY: bench bench-fleet bench-tools

BENCH_VENV  := $(CURDIR)/.venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-v1
BENCH_ZIP   ?= 1
BENCH_ARGS  ?=

bench-tools: venv $(BENCH_STAMP) ## install .venv-bench (awslambdaric, boto3) for make bench

$(BENCH_STAMP): bench/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

bench: bench-tools ## Rust vs the Python peer: init, wall time, CPU, RSS, SQS calls, zip size, the rate-limited fleet -> bench/results.md
	cargo build --release --bin sc-action-runner
	cargo build --release -p sc-emulator --bin sc-emulator
	cargo build --release -p sc-local-loop --bin sc-fleet-bench
	@if [ "$(BENCH_ZIP)" = 1 ]; then \
	  bash scripts/build-lambda.sh arm64 || bash scripts/build-lambda.sh x86_64; fi
	$(BENCH_VENV)/bin/python bench/run_bench.py $(BENCH_ARGS)

bench-fleet: bench-tools ## only the fleet scenario of make bench (1,000 products, Execute rate-limited) -> bench/results.md
	cargo build --release --bin sc-action-runner
	cargo build --release -p sc-local-loop --bin sc-fleet-bench
	$(BENCH_VENV)/bin/python bench/run_bench.py --fleet only $(BENCH_ARGS)
