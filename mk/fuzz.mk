# make fuzz: the cargo-fuzz target in fuzz/ (event sorting, request validation, ExecuteToken
# derivation) for a bounded time, then its figures.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address and friends). RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them, so a fresh clone needs no nightly download. The seeds are the sample
# events; libFuzzer adds what it finds to fuzz/corpus/ (git-ignored) and a crash to fuzz/artifacts/.

FUZZ_SECONDS ?= 60
FUZZ_TARGET  ?= parse_event
FUZZ_CORPUS  := fuzz/corpus/$(FUZZ_TARGET)
FUZZ_LOG     := fuzz/last-run.log

.PHONY: fuzz fuzz-tools

fuzz-tools: ## install cargo-fuzz if it is missing
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

fuzz: fuzz-tools ## fuzz event parsing, validation and tokens for FUZZ_SECONDS (60); print execs and corpus size
	@mkdir -p $(FUZZ_CORPUS)
	@set -o pipefail; RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz $(FUZZ_TARGET) $(FUZZ_CORPUS) events -- \
	    -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/json.dict -max_len=65536 -print_final_stats=1 \
	    2>&1 | tee $(FUZZ_LOG) | grep -aE '^(INFO: seed|#[0-9]+[[:space:]]+(INITED|DONE)|==[0-9]+==|SUMMARY|thread .* panicked)' ; \
	  status=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_LOG)); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_LOG)); \
	  added=$$(sed -n 's/^stat::new_units_added: *//p' $(FUZZ_LOG)); \
	  rss=$$(sed -n 's/^stat::peak_rss_mb: *//p' $(FUZZ_LOG)); \
	  echo "fuzz $(FUZZ_TARGET): $(FUZZ_SECONDS)s, $${execs:-?} execs ($${rate:-?}/s), $${added:-?} new inputs," \
	       "corpus $$(ls $(FUZZ_CORPUS) | wc -l) files, peak RSS $${rss:-?} MB; full log in $(FUZZ_LOG)"; \
	  if ls fuzz/artifacts/$(FUZZ_TARGET)/crash-* >/dev/null 2>&1; then \
	    echo "crashes kept in fuzz/artifacts/$(FUZZ_TARGET)/ (add each as a case in tests/bad-input/cases.json):"; \
	    ls fuzz/artifacts/$(FUZZ_TARGET)/; fi; \
	  grep -q '^Done [0-9]* runs' $(FUZZ_LOG)
