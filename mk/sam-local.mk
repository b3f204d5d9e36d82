# make sam-local: the function in the Lambda container image through SAM CLI (issue 12).
# Included by the root Makefile (`-include mk/*.mk`) after mk/infra.mk, whose `sam-build` builds the
# function with the template's rust-cargolambda method and whose .venv-sam has SAM CLI and boto3.
# scripts/sam_local.py does the rest (see its docstring and tests/sam-local/README.md): moto and the
# emulator on the Docker bridge, every events/*.json and the generated events through
# `sam local invoke`, two invocations through `sam local start-lambda`, each checked against
# tests/sam-local/expected.json.
#
# Needs a Docker daemon: the target says what to install when none answers (.ci/run starts one
# through scripts/with-docker.sh). SAM_INVOKE_IMAGE=<image> picks the base image; by default it is
# public.ecr.aws/lambda/provided:al2023(-<arch>) when present or pullable, else one built locally.

.PHONY: sam-local

# The host's architecture: the container runs the function natively.
SAM_LOCAL_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
SAM_LOCAL = $(SAM_VENV)/bin/python scripts/sam_local.py

sam-local: venv $(SAM_STAMP) ## every event through sam local invoke and start-lambda (Docker), checked
	@$(SAM_VENV)/bin/python -m unittest discover --start-directory tests/sam-local --quiet
	@$(SAM_LOCAL) preflight
	$(MAKE) --no-print-directory sam-build SAM_ARCH=$(SAM_LOCAL_ARCH)
	cargo build -p sc-emulator --bin sc-emulator
	SAM=$(SAM) $(SAM_LOCAL) run --arch $(SAM_LOCAL_ARCH) --emulator target/debug/sc-emulator --moto $(VENV)/bin/moto_server
