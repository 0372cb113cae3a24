# rag's developer tasks. `make check` is what a change must pass.
GO ?= go

.PHONY: build test check fmt vet lint tidy e2e bench bench-cli bench-serve eval-abstain fuzz demo

build:
	$(GO) build -buildvcs=auto -o bin/rag ./cmd/rag

# rag's main job end to end: index docs/ and ask a question, with the Ollama
# at OLLAMA_HOST or else a pinned one it installs, starts and stops.
demo: build
	$(GO) run ./e2e/demo -rag bin/rag

test:
	$(GO) test ./...

# The tests print each package as it finishes, so pkg/cli's long run (its
# scripts build and run the real command) is the last line for a while; the
# last line says whether everything passed and how long it took.
check:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory fmt vet lint tidy && $(GO) test -race ./...; \
	status=$$?; took=$$(( $$(date +%s) - start )); \
	if [ $$status -eq 0 ]; then echo "make check: OK (gofmt, vet, staticcheck, go mod tidy, go test -race ./...) in $${took}s"; \
	else echo "make check: FAILED (exit $$status) after $${took}s: see the first FAIL above"; fi; \
	exit $$status

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/

lint:
	$$(.ci/install-staticcheck) ./...

tidy:
	$(GO) mod tidy
	@git diff --exit-code go.mod go.sum || (echo "go mod tidy changed go.mod/go.sum"; exit 1)

# The real-Ollama suite: installs and starts a pinned Ollama.
e2e:
	bash .ci/e2e

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# rag end to end beside ../shared/bench's references (issue 11's table; see
# docs/performance.md). BENCH_FILES=1000 for a quick run.
bench-cli:
	bash bench/cli.sh

# rag serve under load at about 100,000 chunks: throughput, latency and RSS
# with 1, 8 and 64 clients a mode, Recall@10, and beyond saturation (issue
# 21; docs/performance.md, "rag serve under load").
bench-serve:
	bash bench/serve.sh

# rag's abstention floor on SQuAD 2.0: off-corpus questions refused before any
# model is asked, answerable ones refused wrongly (README, "When rag abstains").
eval-abstain:
	bash bench/abstain.sh

# rag index beside the real Ollama's own embedding rate on the same chunks
# (issue 11, target 6): the pinned server and the shipped tiny model, so
# 3 files of about 22 chunks each; BENCH_RUNS rounds (3), a few minutes each.
bench-ollama: build
	$(GO) run ./bench/corpus -n 3 -size 38000 -o $${TMPDIR:-/tmp}/rag-embedrate-docs >/dev/null
	$(GO) run ./bench/embedrate -rag bin/rag -docs $${TMPDIR:-/tmp}/rag-embedrate-docs -runs $${BENCH_RUNS:-3}

# Fuzz each target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzSplit -fuzztime $(FUZZTIME) ./pkg/chunk/
	$(GO) test -run '^$$' -fuzz FuzzCut -fuzztime $(FUZZTIME) ./pkg/chunk/
	$(GO) test -run '^$$' -fuzz FuzzReadManifest -fuzztime $(FUZZTIME) ./pkg/store/
	$(GO) test -run '^$$' -fuzz FuzzDecodeCatalog -fuzztime $(FUZZTIME) ./pkg/store/
	$(GO) test -run '^$$' -fuzz FuzzDecodeObject -fuzztime $(FUZZTIME) ./pkg/store/
	$(GO) test -run '^$$' -fuzz FuzzDecodeEmbed -fuzztime $(FUZZTIME) ./pkg/ollama/
	$(GO) test -run '^$$' -fuzz FuzzTerms -fuzztime $(FUZZTIME) ./pkg/lexical/
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime $(FUZZTIME) ./pkg/lexical/
	$(GO) test -run '^$$' -fuzz FuzzQuestions -fuzztime $(FUZZTIME) ./pkg/eval/
	$(GO) test -run '^$$' -fuzz FuzzSQuAD -fuzztime $(FUZZTIME) ./pkg/eval/
	$(GO) test -run '^$$' -fuzz FuzzParseFile -fuzztime $(FUZZTIME) ./pkg/config/
	$(GO) test -run '^$$' -fuzz FuzzEscape -fuzztime $(FUZZTIME) ./internal/render/
	$(GO) test -run '^$$' -fuzz FuzzParseCitation -fuzztime $(FUZZTIME) ./pkg/engine/
	$(GO) test -run '^$$' -fuzz FuzzMCPFraming -fuzztime $(FUZZTIME) ./internal/mcpstdio/
	$(GO) test -run '^$$' -fuzz FuzzParseRules -fuzztime $(FUZZTIME) ./pkg/access/
	$(GO) test -run '^$$' -fuzz FuzzParseMembership -fuzztime $(FUZZTIME) ./pkg/access/
	$(GO) test -run '^$$' -fuzz FuzzParseFlat -fuzztime $(FUZZTIME) ./pkg/access/
	$(GO) test -run '^$$' -fuzz FuzzFromMeta -fuzztime $(FUZZTIME) ./pkg/access/
	$(GO) test -run '^$$' -fuzz FuzzCiteFilter -fuzztime $(FUZZTIME) ./pkg/answer/
	$(GO) test -run '^$$' -fuzz FuzzParseExpansion -fuzztime $(FUZZTIME) ./pkg/rewrite/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/tokens/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./internal/server/
	for f in FuzzMarkdown FuzzHTML FuzzPDF FuzzDOCX FuzzDOCXBody FuzzCSV FuzzJSON FuzzJSONL FuzzRST FuzzOrg FuzzCode FuzzText FuzzGzip; do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./pkg/extract/ || exit 1; \
	done
