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
	build-CollectFunction build-AlertFunction run-collect \
	lint-template sam-build verify-alert-parts deploy-guided deploy sms-setup test-notification

# The configs packaged into the functions: the examples by default; in
# production, your own files (COLLECT_CONFIG=/path/collect.yaml make deploy).
COLLECT_CONFIG ?= infra/examples/collect.yaml
RULES_CONFIG ?= infra/examples/rules.yaml
# `sam deploy --guided` saves its answers (email, phone number) here, never in
# the tracked samconfig.toml; the file is git-ignored.
SAM_LOCAL_CONFIG := samconfig.local.toml
# Extra `sam deploy` arguments, e.g. SAM_DEPLOY_ARGS='--parameter-overrides AuthMode=sigv4 ...'.
SAM_DEPLOY_ARGS ?=
LINT_REGIONS := us-east-1 eu-west-1 ap-southeast-2

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
# file travels next to bootstrap and SIGMAWATCH_CONFIG points at it. A config
# that fails -verify-config stops the build: better here than at every cold start.
build-CollectFunction:
	$(GO) run ./functions/collect -verify-config -config $(COLLECT_CONFIG)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/collect
	cp $(COLLECT_CONFIG) $(ARTIFACTS_DIR)/collect.yaml

build-AlertFunction:
	$(GO) run ./functions/alert -verify-config -config $(RULES_CONFIG)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/alert
	cp $(RULES_CONFIG) $(ARTIFACTS_DIR)/rules.yaml

## lint-template: cfn-lint both templates in three regions, informational rules included
lint-template:
	cfn-lint --include-checks I --regions $(LINT_REGIONS) -- template.yaml infra/cross-account-role.yaml

## sam-build: check the configs, then sam build (COLLECT_CONFIG / RULES_CONFIG pass through)
sam-build: verify-config verify-alert-parts
	COLLECT_CONFIG=$(abspath $(COLLECT_CONFIG)) RULES_CONFIG=$(abspath $(RULES_CONFIG)) sam build

## verify-alert-parts: the AlertParts samconfig.local.toml deploys, against RULES_CONFIG
# The alert function's own start-up check, before a deploy: a group in two
# parts or in none stops the deploy here instead of every alert run after it.
# A first, guided deploy has no saved answers yet; the function checks those.
verify-alert-parts:
	@parts=$$(python3 infra/scripts/alert-parts.py $(SAM_LOCAL_CONFIG)) && \
	if [ -n "$$parts" ]; then echo "alert parts of $(SAM_LOCAL_CONFIG): $$parts"; fi && \
	SIGMAWATCH_ALERT_PARTS="$$parts" $(GO) run ./functions/alert -verify-config -config $(RULES_CONFIG)

## deploy-guided: the first deploy; the answers go to the git-ignored samconfig.local.toml
deploy-guided: sam-build
	@test -f $(SAM_LOCAL_CONFIG) || cp samconfig.toml $(SAM_LOCAL_CONFIG)
	sam deploy --guided --config-file $(SAM_LOCAL_CONFIG) $(SAM_DEPLOY_ARGS)

## deploy: every later deploy, with the answers deploy-guided saved (shows the change set first)
deploy: sam-build
	@test -f $(SAM_LOCAL_CONFIG) || { echo "no $(SAM_LOCAL_CONFIG) yet: run make deploy-guided first" >&2; exit 1; }
	sam deploy --config-file $(SAM_LOCAL_CONFIG) $(SAM_DEPLOY_ARGS)

# The deployed stack: the name deploy-guided saved, else samconfig.toml's.
STACK_NAME ?= $(shell python3 -c 'import tomllib; c = tomllib.load(open("$(SAM_LOCAL_CONFIG)", "rb"))["default"]; print(c.get("deploy", {}).get("parameters", {}).get("stack_name") or c["global"]["parameters"]["stack_name"])' 2>/dev/null || echo sigmawatch)
# $(call stack_value,Outputs|Parameters,Key): one output or parameter of the stack.
stack_value = $$(aws cloudformation describe-stacks --stack-name $(STACK_NAME) --output text \
	--query "Stacks[0].$(1)[?$(if $(filter Outputs,$(1)),OutputKey,ParameterKey)=='$(2)'].$(if $(filter Outputs,$(1)),OutputValue,ParameterValue)")

## sms-setup: the account's SMS settings for the stack: Transactional, delivery logs, the spending limit it states
sms-setup:
	@role=$(call stack_value,Outputs,SmsDeliveryStatusRoleArn) && limit=$(call stack_value,Parameters,SmsMonthlySpendLimitUSD) && \
	if [ -z "$$role" ] || [ "$$role" = None ]; then echo "stack $(STACK_NAME) has no SmsDeliveryStatusRoleArn output: deploy it with AlertPhoneNumber first" >&2; exit 1; fi && \
	echo "SMS settings: DefaultSMSType=Transactional, delivery logs through $$role, MonthlySpendLimit=$$limit USD" && \
	aws sns set-sms-attributes --attributes "{\"DefaultSMSType\": \"Transactional\", \"DeliveryStatusIAMRole\": \"$$role\", \"DeliveryStatusSuccessSamplingRate\": \"100\", \"MonthlySpendLimit\": \"$$limit\"}" && \
	aws sns get-sms-attributes --output table

## test-notification: publish one test alert through the deployed topic (email, and SMS: it is critical)
# The message names the stack, as the deployed function names its deployment.
test-notification:
	@topic=$(call stack_value,Outputs,AlertTopicArn) && \
	if [ -z "$$topic" ] || [ "$$topic" = None ]; then echo "stack $(STACK_NAME) has no AlertTopicArn output" >&2; exit 1; fi && \
	SIGMAWATCH_SNS_TOPIC_ARN="$$topic" SIGMAWATCH_DEPLOYMENT="$(STACK_NAME)" $(GO) run ./functions/alert -test-notification

## deps: install the local stand-ins a fresh machine lacks (Cortex: built once into .tools/bin, ~5 min)
deps:
	@infra/scripts/install-deps.sh

vet:
	$(GO) vet ./...

## test: THE test command: stand-ins, vet, every test with -race
test: deps vet verify-config
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

## verify-config: the configs to deploy pass -verify-config (the examples unless COLLECT_CONFIG / RULES_CONFIG say otherwise)
verify-config:
	$(GO) run ./functions/collect -verify-config -config $(COLLECT_CONFIG)
	$(GO) run ./functions/alert -verify-config -config $(RULES_CONFIG)

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
