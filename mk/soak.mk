# The fault and load test (issue 6, docs/reliability.md) at full size. CI runs the same test at 400
# requests as part of `make test`. A debug build on purpose: the work is I/O-bound, and the release
# profile (LTO, one codegen unit) would rebuild the whole test graph for minutes first.
.PHONY: soak

SOAK_REQUESTS ?= 10000

soak: venv ## the fault and load test at full size (10,000 requests under faults, tracked to their final outcomes; about 20 min; prints counts and requests/s)
	SOAK_REQUESTS=$(SOAK_REQUESTS) cargo test -p sc-action-runner --test soak -- --include-ignored --nocapture
