# opsdeck — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/opsdeck
PKGS := ./...
TEST_TIMEOUT ?= 30m
# staticcheck at a fixed version, built from the module proxy by go run (the
# go command caches the binary, so later runs start at once).
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Fuzzing (scripts/fuzz.sh): each target for TEST_FUZZTIME in `make test`
# (3 minutes in all at most), for FUZZTIME in `make fuzz`.
TEST_FUZZTIME ?= 10s
FUZZTIME ?= 2m

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install PostgreSQL, Redis, lintian, systemd-analyze, the kube test binaries and nfpm (idempotent)
	@scripts/deps.sh

.PHONY: build
build: ## Build bin/opsdeck, stamped with its version (opsdeck version)
	eval "$$(scripts/version.sh)" && $(GO) build -ldflags "$$LDFLAGS" -o $(BIN) ./cmd/opsdeck

.PHONY: release
release: ## Release tarballs, SBOMs and SHA256SUMS in dist/ (linux/amd64, linux/arm64, darwin/arm64)
	GO=$(GO) scripts/release.sh

.PHONY: package
package: release ## .deb and .rpm packages (nfpm) in dist/ for linux/amd64 and linux/arm64
	scripts/package.sh

.PHONY: demo
demo: deps build ## Open the cockpit on a local sandbox (PostgreSQL, Redis, Kubernetes API)
	$(BIN) demo

.PHONY: test
test: deps ## Install what is missing, then run every test with -race against real servers
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	GO=$(GO) FUZZTIME=$(TEST_FUZZTIME) FUZZBUDGET=180 FUZZMINIMIZETIME=200x FUZZCACHE=fresh scripts/fuzz.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (2m) each; FUZZ=regexp picks targets
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

.PHONY: bench
bench: deps build ## Benchmarks: the cockpit on 10,000 pods side by side with k9s, check vs a bash script
	scripts/bench.sh
	scripts/bench-backup.sh
	scripts/bench-restore.sh
	scripts/bench-maintain.sh
	scripts/bench-wal.sh
	scripts/bench-pitr.sh
	scripts/bench-drill.sh
	scripts/bench-logview.sh
	scripts/bench-bundle.sh

.PHONY: lint
lint: ## gofmt, go vet, go mod tidy -diff, staticcheck and one import name per package
	@out=$$(gofmt -l .) && test -z "$$out" || { echo "gofmt: not formatted (gofmt -w them):" >&2; echo "$$out" >&2; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff
	$(STATICCHECK) $(PKGS)
	$(GO) run scripts/importnames.go

.PHONY: docs
docs: ## Regenerate the CLI reference in docs/cli from the commands
	OPSDECK_SKIP_INTEGRATION=1 $(GO) test ./cmd/opsdeck -run '^TestCLIReference$$' -update-docs -count=1

.PHONY: update-golden
update-golden: ## Regenerate golden files under testdata/ (the -o json schemas: new fields only)
	$(GO) test ./tui/... -update
	$(GO) test ./cmd/opsdeck/commands -run '^TestSchemaFields$$' -update -count=1

.PHONY: clean
clean: ## Remove build output
	rm -rf bin dist
