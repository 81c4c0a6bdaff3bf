# agentbridge. Every tool is pinned by a Go module under tools/ and built into bin/ on first
# use, so nothing needs installing by hand beyond Go (and Node.js for the SOAP peer tests).
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO      ?= go
BIN     := $(CURDIR)/bin
GENERATORS := $(addprefix $(BIN)/,protoc-gen-go protoc-gen-go-grpc protoc-gen-connect-go protoc-gen-grpc-gateway)
NODESOAP := adapters/soap/testdata/nodesoap
MCPCLIENT := cmd/agentbridge/testdata/mcpclient
OPENAPIPEERS := cmd/agentbridge/testdata/openapi
HOSTS := cmd/agentbridge/testdata/hosts
ROUNDTRIP := cmd/agentbridge/testdata/roundtrip
JSONSERVER := adapters/rest/testdata/jsonserver
# grpcnotrace leaves golang.org/x/net/trace out of the binary: grpc-go's /debug/requests
# tracing, which agentbridge never turns on, and html/template with it, whose reflective
# method calls keep every exported method of every type alive. The binary goes from 59 to
# 43 MB and the idle RSS from 40 to 35 MB (docs/benchmarks.md). Exported for build, run and
# test, so the binaries that tests build get it too.
BUILD_TAGS := grpcnotrace
build run test: export GOFLAGS := $(strip $(GOFLAGS) -tags=$(BUILD_TAGS))

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(GENERATORS) &: tools/go.mod tools/go.sum
	cd tools && GOBIN=$(BIN) $(GO) install tool

$(BIN)/buf: tools/buf/go.mod tools/buf/go.sum
	cd tools/buf && GOBIN=$(BIN) $(GO) install tool

$(BIN)/grpcurl: tools/grpcurl/go.mod tools/grpcurl/go.sum
	cd tools/grpcurl && GOBIN=$(BIN) $(GO) install tool

$(BIN)/golangci-lint: tools/lint/go.mod tools/lint/go.sum
	cd tools/lint && GOBIN=$(BIN) $(GO) install tool

.PHONY: tools
tools: $(GENERATORS) $(BIN)/buf $(BIN)/grpcurl $(BIN)/golangci-lint ## build the pinned tools into bin/

.PHONY: generate
generate: $(GENERATORS) $(BIN)/buf ## regenerate gen/ from proto/ (gen/ is replaced only once all of it is written)
	@set -e; tmp=$$(mktemp -d "$(CURDIR)/.generate.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	PATH="$(BIN):$$PATH" $(BIN)/buf generate -o "$$tmp"; \
	mkdir -p "$$tmp/gen/descriptorset"; \
	$(BIN)/buf build proto --path proto/agentbridge --exclude-imports -o "$$tmp/gen/descriptorset/agentbridge.binpb"; \
	cp tools/embed/descriptorset.go.txt "$$tmp/gen/descriptorset/embed.go"; \
	rm -rf gen; mv "$$tmp/gen" gen; \
	echo "gen/ regenerated"

.PHONY: check-generate
check-generate: generate check-versions ## regenerate and fail on any difference in gen/
	@git add -N gen >/dev/null 2>&1 || true
	@if ! git diff --quiet --exit-code -- gen; then \
		echo "gen/ is out of date with proto/ or the pinned generators; run make generate and commit:"; \
		git status --short -- gen; exit 1; fi
	@echo "gen/ is up to date"

.PHONY: check-versions
check-versions: ## fail when a generator's version differs from the runtime library it pairs with
	@set -e; pair() { \
		main=$$($(GO) list -m -f '{{.Version}}' $$1); tool=$$(cd tools && $(GO) list -m -f '{{.Version}}' $$1); \
		if [ "$$main" != "$$tool" ]; then echo "version skew: $$1 is $$main in go.mod but the generator is $$tool in tools/go.mod"; exit 1; fi; \
		echo "$$1 $$main: runtime and generator agree"; }; \
	pair google.golang.org/protobuf; \
	pair github.com/grpc-ecosystem/grpc-gateway/v2; \
	pair connectrpc.com/connect

.PHONY: lint
lint: $(BIN)/buf $(BIN)/golangci-lint check-third-party ## buf lint, go vet and golangci-lint
	$(BIN)/buf lint
	$(GO) vet ./...
	$(BIN)/golangci-lint run ./...

.PHONY: check-third-party
check-third-party: ## fail when third_party/go-sdk is not the required release plus its patch
	./third_party/check-go-sdk.sh

.PHONY: build
build: ## build bin/agentbridge
	$(GO) build -o $(BIN)/agentbridge ./cmd/agentbridge

$(NODESOAP)/node_modules: $(NODESOAP)/package.json $(NODESOAP)/package-lock.json
	npm ci --prefix $(NODESOAP) --no-audit --no-fund
	touch $@

$(MCPCLIENT)/node_modules: $(MCPCLIENT)/package.json $(MCPCLIENT)/package-lock.json
	npm ci --prefix $(MCPCLIENT) --no-audit --no-fund
	touch $@

$(OPENAPIPEERS)/node_modules: $(OPENAPIPEERS)/package.json $(OPENAPIPEERS)/package-lock.json
	npm ci --prefix $(OPENAPIPEERS) --no-audit --no-fund
	touch $@

$(HOSTS)/node_modules: $(HOSTS)/package.json $(HOSTS)/package-lock.json
	npm ci --prefix $(HOSTS) --no-audit --no-fund
	touch $@

$(ROUNDTRIP)/node_modules: $(ROUNDTRIP)/package.json $(ROUNDTRIP)/package-lock.json
	npm ci --prefix $(ROUNDTRIP) --no-audit --no-fund
	touch $@

$(JSONSERVER)/node_modules: $(JSONSERVER)/package.json $(JSONSERVER)/package-lock.json
	npm ci --prefix $(JSONSERVER) --no-audit --no-fund
	touch $@

.PHONY: test
test: $(NODESOAP)/node_modules $(MCPCLIENT)/node_modules $(OPENAPIPEERS)/node_modules $(HOSTS)/node_modules $(ROUNDTRIP)/node_modules $(JSONSERVER)/node_modules $(BIN)/grpcurl $(BIN)/buf ## run every test, the real-peer ones included
	AGENTBRIDGE_GRPCURL=$(BIN)/grpcurl AGENTBRIDGE_BUF=$(BIN)/buf $(GO) test -race -count=1 ./...
	$(GO) -C third_party/go-sdk test -count=1 ./...

.PHONY: run
run: build $(BIN)/grpcurl ## run the embedded demo (legacy SOAP system + bridge)
	$(BIN)/agentbridge demo

.PHONY: bench
bench: ## run the benchmarks (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...
