# Deployment: build the function, build the SAM application, check the template.
# Included by the root Makefile (`-include mk/*.mk`), which defines `venv` ($(VENV) with cargo-lambda
# on PATH). The checkers live in their own venvs, installed here from pinned requirements:
#   .venv-sam      aws-sam-cli + cfn-lint        (requirements-infra.txt)
#   .venv-checkov  checkov, alone because it pins a boto3 that breaks SAM CLI (requirements-checkov.txt)
# Stamp files make re-runs fast: venvs reinstall only when their requirements change, and
# check-infra re-runs only when the template, the checker configs, the template tests (or the
# metric names in src/metrics.rs that they compare with the alarms) or the tools change.

.PHONY: build build-x86 sam-build check-infra cfn-lint sam-validate checkov template-test infra-tools clean-infra

PYTHON ?= python3
SAM_VENV       := $(CURDIR)/.venv-sam
SAM_STAMP      := $(SAM_VENV)/.installed-v1
CHECKOV_VENV   := $(CURDIR)/.venv-checkov
CHECKOV_STAMP  := $(CHECKOV_VENV)/.installed-v1
INFRA_OK_STAMP := $(SAM_VENV)/.check-infra-ok
SAM            := $(SAM_VENV)/bin/sam
CFN_LINT       := $(SAM_VENV)/bin/cfn-lint
CHECKOV        := $(CHECKOV_VENV)/bin/checkov
TEMPLATE       := template.yaml
INFRA_CONFIGS  := $(wildcard .cfnlintrc .checkov.yaml)
INFRA_TESTS    := $(wildcard tests/infra/*.py) src/metrics.rs

# No usage reports from SAM CLI; SAM's rust-cargolambda builder is a beta feature.
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_BETA_RUST_CARGO_LAMBDA := 1

# Architecture for `make sam-build` (the template's Architecture parameter): arm64 or x86_64.
SAM_ARCH ?= arm64

build: venv ## cargo lambda build --release --arm64 --output-format zip (says what to do if arm64 can't be fetched)
	bash scripts/build-lambda.sh arm64

build-x86: venv ## cargo lambda build --release --x86-64 --output-format zip (deploy with Architecture=x86_64)
	bash scripts/build-lambda.sh x86_64

sam-build: venv $(SAM_STAMP) ## sam build (rust-cargolambda) into .aws-sam/build; SAM_ARCH=x86_64 for x86
	@if [ "$(SAM_ARCH)" = arm64 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
	  && ! timeout 300 rustup target add aarch64-unknown-linux-gnu; then \
	  echo "The arm64 Rust target could not be fetched; run 'make sam-build SAM_ARCH=x86_64' and deploy with Architecture=x86_64." >&2; \
	  exit 2; fi
	$(SAM) build --beta-features --template-file $(TEMPLATE) --parameter-overrides Architecture=$(SAM_ARCH)
	@# `sam deploy` reads the built template: make its Architecture default match the binary, so a
	@# deploy without --parameter-overrides cannot pair an x86_64 binary with an arm64 function.
	sed -i '/^  Architecture:$$/,/Default:/ s/Default: .*/Default: $(SAM_ARCH)/' .aws-sam/build/template.yaml
	@grep -A2 '^  Architecture:$$' .aws-sam/build/template.yaml | grep -q 'Default: $(SAM_ARCH)$$'
	@ls -l .aws-sam/build/ActionRunnerFunction/bootstrap

check-infra: $(INFRA_OK_STAMP) ## cfn-lint, sam validate --lint, checkov and the template tests on template.yaml

$(INFRA_OK_STAMP): $(TEMPLATE) $(INFRA_CONFIGS) $(INFRA_TESTS) $(SAM_STAMP) $(CHECKOV_STAMP)
	@rm -f $@
	$(MAKE) --no-print-directory cfn-lint sam-validate checkov template-test
	@touch $@

cfn-lint: $(SAM_STAMP)
	$(CFN_LINT) $(TEMPLATE)

# --region: validation is offline, but SAM CLI wants a region and a CI box has no AWS config.
sam-validate: $(SAM_STAMP)
	$(SAM) validate --lint --template-file $(TEMPLATE) --region us-east-1

# Skips live in the template (Metadata: checkov: skip) with their reasons.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV) --file $(TEMPLATE) --framework cloudformation --skip-download --compact --quiet

# tests/infra: the template's operational contract (an alarm per DLQ, the topic as every alarm's
# action, the metric names of src/metrics.rs), parsed with cfn-lint's decoder; stdlib unittest.
template-test: $(SAM_STAMP)
	$(SAM_VENV)/bin/python -m unittest discover -s tests/infra -t tests/infra

infra-tools: $(SAM_STAMP) $(CHECKOV_STAMP) ## install .venv-sam and .venv-checkov

$(SAM_STAMP): requirements-infra.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

clean-infra: ## remove .aws-sam and the infra venvs
	rm -rf .aws-sam $(SAM_VENV) $(CHECKOV_VENV)
