# sigmawatch — build, test and deploy helpers. `make test` is the test command.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := collect alert
BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w -buildid="
# Go test's own timeout: well under CI's 90 minutes, so a hang fails loudly.
TEST_TIMEOUT ?= 45m
FUZZTIME ?= 30s
RIE := $(CURDIR)/.tools/bin/aws-lambda-rie

.PHONY: all build build-local test deps vet verify-config demo bench fuzz soak lint fmt tidy-check clean \
	build-CollectFunction build-AlertFunction run-collect

all: build

## build: linux/arm64 bootstraps for Lambda in bin/<fn>/bootstrap
build:
	@for fn in $(FUNCTIONS); do \
		echo "build bin/$$fn/bootstrap (linux/arm64)"; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

## build-local: the same for this machine's architecture, in bin/local/<fn>/bootstrap
build-local:
	@for fn in $(FUNCTIONS); do \
		echo "build bin/local/$$fn/bootstrap"; \
		CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o bin/local/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

# SAM's makefile build method calls these with ARTIFACTS_DIR set; the config
# file travels next to bootstrap and SIGMAWATCH_CONFIG points at it.
build-CollectFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/collect
	cp infra/examples/collect.yaml $(ARTIFACTS_DIR)/collect.yaml

build-AlertFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/alert
	cp infra/examples/rules.yaml $(ARTIFACTS_DIR)/rules.yaml

## deps: install the local stand-ins a fresh machine lacks (Cortex: built once into .tools/bin, ~5 min)
deps:
	@infra/scripts/install-deps.sh

vet:
	$(GO) vet ./...

## test: THE test command: stand-ins, vet, every test with -race
test: deps vet verify-config
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

## verify-config: every example config passes -verify-config
verify-config:
	$(GO) run ./functions/collect -verify-config -config infra/examples/collect.yaml
	$(GO) run ./functions/alert -verify-config -config infra/examples/rules.yaml

run-collect:
	$(GO) run ./functions/collect -dry-run -config infra/examples/collect.yaml

## soak: the collect soak over more scheduled runs than make test's 200
SOAK_RUNS ?= 1000
soak:
	SOAK_RUNS=$(SOAK_RUNS) $(GO) test -race -count=1 -timeout 60m -run 'TestSoak' -v ./functions/...

## bench: the benchmarks quoted in BENCHMARKS.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./shared/...

## fuzz: fuzz every target for FUZZTIME (seeds in testdata run in make test)
fuzz:
	@for pkg in $$($(GO) list ./shared/...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
			echo "fuzz $$pkg $$f for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## demo: the whole pipeline on this machine, no AWS account (DEMO_KEEP=1 keeps Prometheus up)
demo: deps build-local
	$(GO) run ./shared/demo/cmd/demo -root . $(if $(DEMO_KEEP),-keep)

lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy-check:
	$(GO) mod tidy && git diff --exit-code -- go.mod go.sum

clean:
	rm -rf bin out
